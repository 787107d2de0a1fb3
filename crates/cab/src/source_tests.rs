//! The file source with the slice source as its oracle: for the same bytes,
//! [`Cabinet::open`] gives what [`Cabinet::parse`] gives (entries, members, stats, errors)
//! and its window stays at one block; and (module `filter`) the filtered parses drop
//! entries without dropping a check.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::reader_tests::{lzx_cabinet, mszip_folders, read_member};
use super::tests::{LZX_TWO_FILES, build, sample};
use super::*;

const MSZIP: cab::CompressionType = cab::CompressionType::MsZip;
const STORED: cab::CompressionType = cab::CompressionType::None;

/// A file in the temp directory holding `data`, removed on drop (`tempfile` is not among
/// the workspace's shared dependencies).
pub(crate) struct TempCab(PathBuf);

impl TempCab {
    pub(crate) fn new(data: &[u8]) -> Self {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let path =
            std::env::temp_dir().join(format!("supctl-cab-test-{}-{n}.cab", std::process::id()));
        fs::write(&path, data).unwrap();
        Self(path)
    }

    pub(crate) fn open(&self) -> File {
        File::open(&self.0).unwrap()
    }
}

impl Drop for TempCab {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.0);
    }
}

type Extracted = Result<(Vec<(CabEntry, Vec<u8>)>, ExtractStats), CabError>;

/// Collects the members `want` chooses, with their stats.
struct Choose<'f> {
    want: &'f dyn Fn(&CabEntry) -> bool,
    files: Vec<(CabEntry, Vec<u8>)>,
}

impl Visitor for Choose<'_> {
    fn wants(&mut self, e: &CabEntry) -> bool {
        (self.want)(e)
    }
    fn file(&mut self, e: &CabEntry, data: MemberData) {
        self.files.push((e.clone(), data.to_vec()));
    }
}

fn extract_with(cab: &Cabinet, limits: &Limits, want: &dyn Fn(&CabEntry) -> bool) -> Extracted {
    let mut v = Choose {
        want,
        files: Vec::new(),
    };
    let stats = cab.extract(limits, &mut v)?;
    Ok((v.files, stats))
}

/// Parses `data` from a slice and from a file and checks that everything a caller can get
/// is the same: the parse error, or the directory, every member by `extract` (all, every
/// other, none) and by `member_reader`, and the same again for a filtered parse. Returns
/// the parse error or what extracting every member gave, for the caller to check.
fn assert_same(data: &[u8], limits: &Limits) -> Result<Extracted, CabError> {
    let tmp = TempCab::new(data);
    let file = tmp.open();
    let (slice, from_file) = match (Cabinet::parse(data), Cabinet::open(&file)) {
        (Ok(s), Ok(f)) => (s, f),
        (s, f) => {
            let (s, f) = (s.map(|_| ()), f.map(|_| ()));
            assert_eq!(s, f, "parse");
            return Err(s.unwrap_err());
        }
    };
    assert_eq!(slice.entries(), from_file.entries());
    assert_eq!(slice.folders(), from_file.folders());
    assert_eq!(slice.header_reserve(), from_file.header_reserve());
    assert_eq!(slice.cabinet_len(), from_file.cabinet_len());
    let odd = |e: &CabEntry| e.folder_offset % 2 == 1 || e.size.is_multiple_of(3);
    let choices: [&dyn Fn(&CabEntry) -> bool; 3] = [&|_| true, &odd, &|_| false];
    for want in choices {
        assert_eq!(
            extract_with(&slice, limits, want),
            extract_with(&from_file, limits, want)
        );
    }
    for entry in slice.entries() {
        for chunk in [7, 1 << 16] {
            assert_eq!(
                read_member(&slice, entry, limits, chunk),
                read_member(&from_file, entry, limits, chunk),
                "`{}` in {chunk}-byte reads",
                entry.path
            );
        }
    }
    let filtered = Cabinet::parse_filtered(data, &mut |e| odd(e)).unwrap();
    let filtered_file = Cabinet::open_filtered(&file, &mut |e| odd(e)).unwrap();
    assert_eq!(filtered.entries(), filtered_file.entries());
    assert_eq!(
        extract_with(&filtered, limits, &|_| true),
        extract_with(&filtered_file, limits, &|_| true)
    );
    Ok(extract_with(&slice, limits, &|_| true))
}

/// A one-folder stored cabinet using every reserve field: `header` as the CFHEADER
/// reserve, 3 bytes of CFFOLDER reserve and `data_reserve` bytes before each block's
/// payload (which its checksum covers). Stored blocks may hold up to 65,535 bytes.
fn reserved_cabinet(
    header: &[u8],
    data_reserve: u8,
    blocks: &[&[u8]],
    members: &[(&str, u32, u32)],
) -> Vec<u8> {
    let coff_files = 36 + 4 + header.len() + 8 + 3;
    let data_start = coff_files + members.iter().map(|(n, ..)| 17 + n.len()).sum::<usize>();
    let reserve = usize::from(data_reserve);
    let total = data_start + blocks.iter().map(|b| 8 + reserve + b.len()).sum::<usize>();
    let mut out = b"MSCF".to_vec();
    for v in [0, total as u32, 0, coff_files as u32, 0] {
        out.extend(v.to_le_bytes());
    }
    out.extend([3, 1]);
    // cFolders, cFiles, flags (reserve present), setID, iCabinet
    for v in [1, members.len() as u16, 0x0004, 0, 0] {
        out.extend(v.to_le_bytes());
    }
    out.extend((header.len() as u16).to_le_bytes());
    out.extend([3, data_reserve]);
    out.extend(header);
    out.extend((data_start as u32).to_le_bytes());
    out.extend((blocks.len() as u16).to_le_bytes());
    out.extend([0, 0, 0xfe, 0xfe, 0xfe]); // stored, then the folder reserve
    for (name, offset, size) in members {
        out.extend(size.to_le_bytes());
        out.extend(offset.to_le_bytes());
        out.extend([0u8; 8]);
        out.extend(name.as_bytes());
        out.push(0);
    }
    for (i, payload) in blocks.iter().enumerate() {
        let reserve = vec![0x5a ^ i as u8; reserve];
        let n = payload.len() as u16;
        out.extend(checksum::data_block(&reserve, payload, n, n).to_le_bytes());
        out.extend(n.to_le_bytes());
        out.extend(n.to_le_bytes());
        out.extend(&reserve);
        out.extend(*payload);
    }
    assert_eq!(out.len(), total);
    out
}

/// Two 65,535-byte blocks and a short one, 255 bytes of reserve each, after a 65,535-byte
/// header reserve: the largest fields the format has, bigger than the file window.
fn biggest_fields() -> Vec<u8> {
    let a = sample(65_535, 41);
    let b = sample(65_535, 42);
    let members = [("a", 0, 100), ("b.xml", 50, 130_000), ("c", 131_000, 70)];
    reserved_cabinet(&sample(65_535, 40), 255, &[&a, &b, &a[..1000]], &members)
}

#[test]
fn a_file_reads_like_the_same_bytes() {
    let a = sample(100_000, 11);
    let mut signed = mszip_folders();
    signed.extend(sample(5_000, 3)); // past cbCabinet, as an Authenticode signature is
    let cabinets = [
        mszip_folders(),
        signed,
        build(&[(
            STORED,
            &[("a.bin", &a[..50]), ("b.bin", &a), ("c.bin", b"tail")],
        )]),
        LZX_TWO_FILES.to_vec(),
        lzx_cabinet(
            &a,
            &[
                ("head", 0, 10),
                ("mid", 20_000, 60_000),
                ("all", 0, 100_000),
            ],
        ),
        biggest_fields(),
    ];
    for data in &cabinets {
        let (files, stats) = assert_same(data, &Limits::default()).unwrap().unwrap();
        assert_eq!(files.len(), Cabinet::parse(data).unwrap().entries().len());
        assert!(stats.blocks > 0);
    }
    // The header reserve is the cabinet's, whichever the source.
    let data = biggest_fields();
    let file = TempCab::new(&data);
    let file = file.open();
    assert!(Cabinet::open(&file).unwrap().header_reserve() == sample(65_535, 40));
    // Limits are the same: refused up front, or block by block in a reader.
    let tight = Limits {
        max_total: 120_000,
        max_file: 1 << 20,
    };
    assert!(matches!(
        assert_same(&data, &tight),
        Ok(Err(CabError::TooLarge { .. }))
    ));
}

/// The error a parse or an extraction gave, for a test to look for.
fn outcome(r: Result<Extracted, CabError>) -> String {
    match r {
        Err(e) | Ok(Err(e)) => format!("{e:?}"),
        Ok(Ok(_)) => "extracted".into(),
    }
}

#[test]
fn a_short_file_fails_as_the_same_bytes_do() {
    let data = build(&[
        (MSZIP, &[("a", &sample(100_000, 16)), ("b", b"tail")]),
        (STORED, &[("c", &sample(5_000, 3))]),
    ]);
    let first = Cabinet::parse(&data).unwrap().folders()[0].data_offset as usize;
    // One folder, so that a cut into its blocks leaves a directory that parses.
    let one = build(&[(MSZIP, &[("a", &sample(100_000, 16)), ("b", b"tail")])]);
    let one_first = Cabinet::parse(&one).unwrap().folders()[0].data_offset as usize;
    let big = biggest_fields();
    let big_first = Cabinet::parse(&big).unwrap().folders()[0].data_offset as usize;
    let cases = [
        (
            &data,
            vec![0, 3, 4, 7, 8, 11, 12, 20, 36, 44, 50, 60, first - 1],
        ),
        (
            &data,
            vec![first + 3, first + 8, first + 100, data.len() - 1],
        ),
        (
            &one,
            vec![one_first + 2, one_first + 7, one_first + 8, one_first + 500],
        ),
        (&one, vec![one_first + 8 + 20_000, one.len() - 1]),
        (&big, vec![30, 40, 41, 40_000, 65_575, big_first + 4]),
        (
            &big,
            vec![
                big_first + 8,
                big_first + 100,
                big_first + 263,
                big.len() - 1,
            ],
        ),
    ];
    let mut messages = Vec::new();
    for (data, cuts) in cases {
        for cut in cuts {
            let short = &data[..cut];
            // The file is shorter than `cbCabinet` says...
            messages.push(outcome(assert_same(short, &Limits::default())));
            // ...or `cbCabinet` agrees, the directory may parse, and the blocks run short.
            if cut >= 12 {
                let mut m = short.to_vec();
                m[8..12].copy_from_slice(&(cut as u32).to_le_bytes());
                messages.push(outcome(assert_same(&m, &Limits::default())));
            }
        }
    }
    // Cuts into the CFFILEs, with the folders' data moved to offset 0 so the directory gets
    // that far (a short name is unterminated, not truncated).
    let coff_files = u32::from_le_bytes(data[16..20].try_into().unwrap()) as usize;
    for cut in [coff_files + 2, coff_files + 6, coff_files + 18, first - 1] {
        let mut m = data[..cut].to_vec();
        m[8..12].copy_from_slice(&(cut as u32).to_le_bytes());
        m[36..40].copy_from_slice(&[0; 4]);
        m[44..48].copy_from_slice(&[0; 4]);
        messages.push(outcome(assert_same(&m, &Limits::default())));
    }
    // The cuts reach every kind of failure the comparison is meant to cover.
    for want in [
        "NotCabinet",
        "Truncated(\"reserved1 at offset 4\")",
        "Truncated(\"cbCabinet at offset 8\")",
        &format!(
            "Truncated(\"cbCabinet says {} bytes, 50 present\")",
            data.len()
        ),
        "Truncated(\"CFFOLDER.coffCabStart at offset",
        "Truncated(\"folder 0 data starts at",
        "Truncated(\"CFFILE.cbFile at offset",
        "Truncated(\"CFFILE.uoffFolderStart at offset",
        "Malformed(\"CFFILE.szName at offset",
        "Truncated(\"abReserve at offset 40\")",
        "Truncated(\"CFDATA.csum at offset",
        "Truncated(\"CFDATA.abReserve at offset",
        "Truncated(\"CFDATA data at offset",
    ] {
        assert!(
            messages.iter().any(|m| m.contains(want)),
            "no cut gave {want}: {messages:#?}"
        );
    }
}

/// A file cut after it was opened fails as the same bytes with `cbCabinet` saying the cut
/// length do: `Truncated`, naming the field the file ends in.
#[test]
fn a_file_that_shrinks_while_read_is_truncated_not_an_io_error() {
    let stored = build(&[(STORED, &[("a.bin", &sample(100_000, 17))])]);
    let first = Cabinet::parse(&stored).unwrap().folders()[0].data_offset as usize;
    let big = biggest_fields();
    let big_first = Cabinet::parse(&big).unwrap().folders()[0].data_offset as usize;
    let second = big_first + 8 + 255 + 65_535;
    let cases = [
        // Into the second block's payload.
        (
            &stored,
            first + 8 + 32 * 1024 + 8 + 100,
            "CFDATA data",
            first + 8 + 32 * 1024 + 8,
        ),
        // Into a block's header, then into its reserve, which is read with its payload.
        (&big, second + 7, "CFDATA.cbUncomp", second + 6),
        (&big, second + 8 + 200, "CFDATA.abReserve", second + 8),
        (
            &big,
            second + 8 + 255 + 1000,
            "CFDATA data",
            second + 8 + 255,
        ),
    ];
    let limits = Limits::default();
    for (data, cut, field, at) in cases {
        let mut same_bytes = data[..cut].to_vec();
        same_bytes[8..12].copy_from_slice(&(cut as u32).to_le_bytes());
        let oracle = Cabinet::parse(&same_bytes).unwrap();
        let want = extract_with(&oracle, &limits, &|_| true).unwrap_err();
        assert_eq!(want, CabError::Truncated(format!("{field} at offset {at}")));

        let tmp = TempCab::new(data);
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(&tmp.0)
            .unwrap();
        let cab = Cabinet::open(&file).unwrap();
        file.set_len(cut as u64).unwrap();
        assert_eq!(extract_with(&cab, &limits, &|_| true), Err(want.clone()));
        for entry in cab.entries() {
            assert_eq!(
                read_member(&cab, entry, &limits, 4096),
                read_member(&oracle, entry, &limits, 4096),
                "`{}` cut at {cut}",
                entry.path
            );
        }
    }
}

#[test]
fn a_bad_checksum_fails_the_same_through_a_file() {
    let data = build(&[(STORED, &[("a.bin", &sample(100_000, 14))])]);
    let first = Cabinet::parse(&data).unwrap().folders()[0].data_offset as usize;
    let second = first + 8 + 32 * 1024;
    let mut bad = data.clone();
    bad[second + 8 + 5] ^= 0x20;
    let want = CabError::Checksum {
        folder: 0,
        block: 1,
    };
    assert_eq!(assert_same(&bad, &Limits::default()), Ok(Err(want.clone())));
    // A damaged reserve byte is caught the same way: the checksum covers it.
    let mut bad = biggest_fields();
    let first = Cabinet::parse(&bad).unwrap().folders()[0].data_offset as usize;
    bad[first + 8 + 3] ^= 1;
    let want = CabError::Checksum {
        folder: 0,
        block: 0,
    };
    assert_eq!(assert_same(&bad, &Limits::default()), Ok(Err(want)));
}

#[test]
fn an_unreadable_file_is_an_io_error_naming_the_offset() {
    let tmp = TempCab::new(&build(&[(STORED, &[("a.txt", b"a")])]));
    let write_only = OpenOptions::new().write(true).open(&tmp.0).unwrap();
    match Cabinet::open(&write_only) {
        Err(CabError::Io(m)) => assert!(m.starts_with("reading the cabinet at offset 0: "), "{m}"),
        other => panic!("expected an I/O error, got {other:?}"),
    }
    // Through a reader's `io::Error`: not `InvalidData` (the bytes are not at fault), and
    // the typed error comes back.
    let e: io::Error = CabError::Io("reading the cabinet at offset 9: boom".into()).into();
    assert_eq!(e.kind(), io::ErrorKind::Other);
    assert!(matches!(CabError::from_io(&e), Some(CabError::Io(_))));
    assert_eq!(e.to_string(), "reading the cabinet at offset 9: boom");
}

/// The window holds 64 KiB, or the largest field read through it (a 65,535-byte block and
/// its 255 bytes of reserve), never more, however much of the file is read.
#[test]
fn the_file_window_stays_at_one_block() {
    let most_held = |data: &[u8]| {
        let mut most = 0;
        let tmp = TempCab::new(data);
        let file = tmp.open();
        let cab = Cabinet::open(&file).unwrap();
        let slice = Cabinet::parse(data).unwrap();
        for (entry, want) in slice
            .entries()
            .iter()
            .zip(extract_all(data, &Limits::default()).unwrap())
        {
            let mut r = cab.member_reader(entry, &Limits::default()).unwrap();
            let (mut got, mut buf) = (Vec::new(), [0u8; 4096]);
            loop {
                let n = r.read(&mut buf).unwrap();
                most = most.max(r.window_len());
                if n == 0 {
                    break;
                }
                got.extend_from_slice(&buf[..n]);
            }
            assert!(got == want.1, "`{}` differs", entry.path);
        }
        most
    };
    assert_eq!(most_held(&biggest_fields()), 255 + 65_535);
    assert_eq!(most_held(&mszip_folders()), 64 * 1024);
}

/// `parse_filtered` and `open_filtered`.
mod filter;
