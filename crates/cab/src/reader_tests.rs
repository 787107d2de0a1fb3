//! [`MemberReader`] with [`Cabinet::extract`] as its oracle: the same bytes for every member
//! of stored, MSZIP and LZX folders whatever the read sizes, the same errors on damaged
//! input, and (module `memory`) heap that stays at one block however big the member is.

use std::io::{self, Read};

use super::tests::{LZX_TWO_FILES, build, sample};
use super::*;

const MSZIP: cab::CompressionType = cab::CompressionType::MsZip;
const STORED: cab::CompressionType = cab::CompressionType::None;

/// Reads `entry` in `chunk`-byte reads, handing back the typed error.
pub(crate) fn read_member(
    cab: &Cabinet,
    entry: &CabEntry,
    limits: &Limits,
    chunk: usize,
) -> Result<Vec<u8>, CabError> {
    let mut r = cab.member_reader(entry, limits)?;
    let mut out = Vec::new();
    let mut buf = vec![0; chunk];
    loop {
        match r.read(&mut buf) {
            Ok(0) => return Ok(out),
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) => return Err(CabError::from_io(&e).expect("reader errors carry a CabError")),
        }
    }
}

/// Wants exactly one member, so `extract` walks the same blocks a reader of it walks.
struct One<'e>(&'e CabEntry, Option<Vec<u8>>);
impl Visitor for One<'_> {
    fn wants(&mut self, e: &CabEntry) -> bool {
        e == self.0
    }
    fn file(&mut self, _: &CabEntry, data: MemberData) {
        self.1.get_or_insert_with(|| data.to_vec());
    }
}

fn extract_one(cab: &Cabinet, entry: &CabEntry, limits: &Limits) -> Result<Vec<u8>, CabError> {
    let mut one = One(entry, None);
    cab.extract(limits, &mut one)?;
    Ok(one.1.expect("the wanted member was delivered"))
}

/// Every member read in 1-, 7-, 4 KiB- and 64 KiB-byte steps, and with `read_to_end`,
/// equals what `extract_all` gives.
fn assert_reads_like_extract(data: &[u8]) {
    let cab = Cabinet::parse(data).unwrap();
    let want = extract_all(data, &Limits::default()).unwrap();
    assert_eq!(want.len(), cab.entries().len());
    for (entry, bytes) in &want {
        for chunk in [1, 7, 4096, 1 << 16] {
            let got = read_member(&cab, entry, &Limits::default(), chunk).unwrap();
            assert!(
                got == *bytes,
                "`{}` in {chunk}-byte reads differs",
                entry.path
            );
        }
        let mut all = Vec::new();
        let mut r = cab.member_reader(entry, &Limits::default()).unwrap();
        r.read_to_end(&mut all).unwrap();
        assert!(all == *bytes, "`{}` by read_to_end differs", entry.path);
        assert_eq!(r.read(&mut [0; 8]).unwrap(), 0, "EOF stays EOF");
    }
}

/// Reads until the reader fails, checks the failure is an `InvalidData` I/O error that
/// every later read repeats, and returns the typed error.
fn read_error(cab: &Cabinet, entry: &CabEntry, limits: &Limits) -> CabError {
    let mut r = cab.member_reader(entry, limits).unwrap();
    let mut buf = [0u8; 4096];
    let err = loop {
        match r.read(&mut buf) {
            Ok(0) => panic!("`{}` read to EOF without an error", entry.path),
            Ok(_) => {}
            Err(e) => break e,
        }
    };
    assert_eq!(err.kind(), io::ErrorKind::InvalidData);
    let first = CabError::from_io(&err).unwrap();
    for len in [4096, 1] {
        let again = r.read(&mut buf[..len]).unwrap_err();
        assert_eq!(CabError::from_io(&again), Some(first.clone()));
    }
    first
}

/// Writes a one-folder cabinet by hand (there is no LZX writer): `blocks` are
/// `(payload, cbUncomp)` and `members` are `(name, folder offset, size)`.
pub(crate) fn raw_cabinet(
    type_compress: u16,
    blocks: &[(Vec<u8>, u16)],
    members: &[(&str, u32, u32)],
) -> Vec<u8> {
    let files_len: usize = members.iter().map(|(n, ..)| 17 + n.len()).sum();
    let data_start = 36 + 8 + files_len;
    let total = data_start + blocks.iter().map(|(b, _)| 8 + b.len()).sum::<usize>();
    let mut out = b"MSCF".to_vec();
    // reserved1, cbCabinet, reserved2, coffFiles, reserved3
    for v in [0, total as u32, 0, 44, 0] {
        out.extend(v.to_le_bytes());
    }
    out.extend([3, 1]); // version 1.3
    // cFolders, cFiles, flags, setID, iCabinet
    for v in [1, members.len() as u16, 0, 0, 0] {
        out.extend(v.to_le_bytes());
    }
    out.extend((data_start as u32).to_le_bytes());
    out.extend((blocks.len() as u16).to_le_bytes());
    out.extend(type_compress.to_le_bytes());
    for (name, offset, size) in members {
        out.extend(size.to_le_bytes());
        out.extend(offset.to_le_bytes());
        out.extend([0u8; 8]); // iFolder 0, date, time, attribs
        out.extend(name.as_bytes());
        out.push(0);
    }
    for (payload, uncomp) in blocks {
        let cb_data = payload.len() as u16;
        out.extend(checksum::data_block(&[], payload, cb_data, *uncomp).to_le_bytes());
        out.extend(cb_data.to_le_bytes());
        out.extend(uncomp.to_le_bytes());
        out.extend(payload);
    }
    assert_eq!(out.len(), total);
    out
}

/// An LZX (2^15 window) cabinet whose stream is one uncompressed LZX block running over
/// as many 32 KiB frames (CFDATA blocks) as `payload` needs: every block after the first
/// decodes only with the state the previous one left, as in real LZX cabinets.
pub(crate) fn lzx_cabinet(payload: &[u8], members: &[(&str, u32, u32)]) -> Vec<u8> {
    // E8 translation off (1 bit), block type 3 (3 bits), 24-bit block size, 4 bits of
    // padding to the 16-bit word; words are little-endian. Then R0..R2 = 1 and raw bytes.
    let header = (3u32 << 28) | ((payload.len() as u32) << 4);
    let mut first = Vec::new();
    first.extend(((header >> 16) as u16).to_le_bytes());
    first.extend((header as u16).to_le_bytes());
    for _ in 0..3 {
        first.extend(1u32.to_le_bytes());
    }
    let blocks: Vec<(Vec<u8>, u16)> = payload
        .chunks(32 * 1024)
        .enumerate()
        .map(|(i, frame)| {
            let mut b = if i == 0 { first.clone() } else { Vec::new() };
            b.extend(frame);
            (b, frame.len() as u16)
        })
        .collect();
    raw_cabinet(3 | (15 << 8), &blocks, members)
}

#[test]
fn stored_members_read_like_extract() {
    let a = sample(100_000, 11);
    // `b.bin` starts 50 bytes into the first block and spans four.
    let data = build(&[(
        STORED,
        &[("a.bin", &a[..50]), ("b.bin", &a), ("c.bin", b"tail")],
    )]);
    assert!(Cabinet::parse(&data).unwrap().folders()[0].block_count >= 4);
    assert_reads_like_extract(&data);
}

/// Three folders: MSZIP with a 300,000-byte member, an empty one and `V3/b.json`, which
/// starts mid-folder, mid-block (300,010) and spans three blocks; then a stored folder and
/// another MSZIP one, each starting its own decoder.
pub(crate) fn mszip_folders() -> Vec<u8> {
    let big = sample(300_000, 1);
    build(&[
        (
            MSZIP,
            &[
                ("Catalog.xml", &big),
                (r"V2\a.sdp", &sample(10, 2)),
                ("empty.txt", b""),
                (r"V3\b.json", &big[..70_000]),
            ],
        ),
        (STORED, &[("stored.bin", &sample(40_000, 12))]),
        (MSZIP, &[("second.xml", &big[..100_000])]),
    ])
}

#[test]
fn mszip_members_read_like_extract() {
    assert_reads_like_extract(&mszip_folders());
}

#[test]
fn lzx_members_read_like_extract() {
    // `bye.txt` starts mid-folder, at 15.
    assert_reads_like_extract(LZX_TWO_FILES);
    let payload = sample(100_000, 13);
    let members = [
        ("head.txt", 0, 10),
        ("middle.xml", 20_000, 60_000),
        ("all.xml", 0, 100_000),
        ("last.txt", 99_990, 10),
    ];
    let data = lzx_cabinet(&payload, &members);
    assert_eq!(Cabinet::parse(&data).unwrap().folders()[0].block_count, 4);
    // The hand-made stream decodes to the payload (so the comparison below means something).
    for (entry, bytes) in extract_all(&data, &Limits::default()).unwrap() {
        let (from, to) = (
            entry.folder_offset as usize,
            (entry.folder_offset + entry.size) as usize,
        );
        assert!(
            bytes == payload[from..to],
            "`{}` extracted wrong",
            entry.path
        );
    }
    assert_eq!(
        extract_all(&data, &Limits::default()).unwrap().len(),
        members.len()
    );
    assert_reads_like_extract(&data);
}

#[test]
fn checksum_mismatch_is_reported_and_repeated() {
    let a = sample(100_000, 14);
    let data = build(&[(STORED, &[("a.bin", &a)])]);
    let cab = Cabinet::parse(&data).unwrap();
    // Damage the second block: the first block's bytes are read, then the error.
    let second = cab.folders()[0].data_offset as usize + 8 + 32 * 1024;
    let mut bad = data.clone();
    assert_ne!(
        &bad[second..second + 4],
        &[0; 4],
        "the writer stores checksums"
    );
    bad[second + 8 + 5] ^= 0x20;
    let cab = Cabinet::parse(&bad).unwrap();
    let entry = &cab.entries()[0];
    let want = CabError::Checksum {
        folder: 0,
        block: 1,
    };
    assert_eq!(read_error(&cab, entry, &Limits::default()), want);
    assert_eq!(extract_one(&cab, entry, &Limits::default()), Err(want));
}

#[test]
fn corrupt_mszip_is_reported_like_extract() {
    let data = build(&[(MSZIP, &[("a", &sample(50_000, 6))])]);
    let at = Cabinet::parse(&data).unwrap().folders()[0].data_offset as usize;
    let mut bad = data.clone();
    bad[at..at + 4].copy_from_slice(&[0; 4]); // no checksum, so the decoder sees the damage
    bad[at + 8] = b'X'; // the `CK` signature
    let cab = Cabinet::parse(&bad).unwrap();
    let entry = &cab.entries()[0];
    let err = read_error(&cab, entry, &Limits::default());
    assert!(
        matches!(&err, CabError::Corrupt { folder: 0, block: 0, reason } if reason.contains("CK")),
        "{err:?}"
    );
    assert_eq!(extract_one(&cab, entry, &Limits::default()), Err(err));
}

#[test]
fn a_folder_shorter_than_its_members_is_truncated() {
    let big = sample(150_000, 15);
    let data = build(&[(MSZIP, &[("a", &big[..100_000]), ("b", &big[100_000..])])]);
    let cab = Cabinet::parse(&data).unwrap();
    // No reserve, no previous/next cabinet: the only CFFOLDER is at 36, its cCFData at 40.
    assert_eq!(data[40..42], cab.folders()[0].block_count.to_le_bytes());
    let mut bad = data.clone();
    bad[40..42].copy_from_slice(&3u16.to_le_bytes()); // 3 blocks: 98,304 bytes
    let cab = Cabinet::parse(&bad).unwrap();
    let limits = Limits::default();
    for (entry, message) in cab.entries().iter().zip([
        "member `a` ends at 100000 but folder 0 holds 98304 bytes",
        "member `b` starts at 100000 but folder 0 holds 98304 bytes",
    ]) {
        let err = read_error(&cab, entry, &limits);
        assert_eq!(err, CabError::Truncated(message.into()));
        assert_eq!(extract_one(&cab, entry, &limits), Err(err));
    }
}

#[test]
fn a_cut_cabinet_is_truncated() {
    let data = build(&[(MSZIP, &[("a", &sample(100_000, 16))])]);
    // Cut into the last block and shorten `cbCabinet` to match, so the directory parses.
    let mut bad = data[..data.len() - 100].to_vec();
    let len = bad.len() as u32;
    bad[8..12].copy_from_slice(&len.to_le_bytes());
    let cab = Cabinet::parse(&bad).unwrap();
    let entry = &cab.entries()[0];
    let err = read_error(&cab, entry, &Limits::default());
    assert!(
        matches!(&err, CabError::Truncated(m) if m.starts_with("CFDATA data at offset")),
        "{err:?}"
    );
    assert_eq!(extract_one(&cab, entry, &Limits::default()), Err(err));
}

#[test]
fn max_file_is_checked_before_reading() {
    let data = build(&[(MSZIP, &[("a", &sample(100_000, 5))])]);
    let cab = Cabinet::parse(&data).unwrap();
    let limits = Limits {
        max_total: 1 << 30,
        max_file: 99_999,
    };
    assert_eq!(
        cab.member_reader(&cab.entries()[0], &limits).unwrap_err(),
        CabError::FileTooLarge {
            name: "a".into(),
            size: 100_000,
            limit: 99_999
        }
    );
    let exact = Limits {
        max_file: 100_000,
        ..limits
    };
    assert_eq!(
        read_member(&cab, &cab.entries()[0], &exact, 4096)
            .unwrap()
            .len(),
        100_000
    );
}

#[test]
fn max_total_is_checked_against_the_members_end_before_decoding() {
    let big = sample(100_000, 5);
    let data = build(&[(MSZIP, &[("a", &big), ("b", &big)])]);
    let cab = Cabinet::parse(&data).unwrap();
    let b = &cab.entries()[1];
    // `b` ends at 200,000: enough budget for exactly that reads it, though the last
    // block decodes past it (only bytes up to the member's end count).
    let exact = Limits {
        max_total: 200_000,
        max_file: 1 << 20,
    };
    assert!(read_member(&cab, b, &exact, 4096).unwrap() == big);
    // One byte less, and the reader is refused before a block is inflated, as `extract` is.
    let short = Limits {
        max_total: 199_999,
        ..exact
    };
    assert_eq!(
        cab.member_reader(b, &short).unwrap_err(),
        CabError::TooLarge {
            needed: 200_000,
            limit: 199_999
        }
    );
    assert_eq!(
        extract_one(&cab, b, &short).unwrap_err(),
        cab.member_reader(b, &short).unwrap_err()
    );
}

#[test]
fn other_io_errors_carry_no_cab_error() {
    assert_eq!(CabError::from_io(&io::Error::other("disk")), None);
    assert_eq!(CabError::from_io(&io::ErrorKind::InvalidData.into()), None);
    let e: io::Error = CabError::NotCabinet.into();
    assert_eq!(e.kind(), io::ErrorKind::InvalidData);
    assert_eq!(CabError::from_io(&e), Some(CabError::NotCabinet));
}

/// On damaged cabinets the reader never panics and agrees with `extract` wanting the same
/// member, bytes or error. Only where `extract` refuses up front for `max_total` may the
/// reader fail differently: it finds out block by block, so another defect may come first.
#[test]
fn mutated_cabinets_read_like_extract() {
    let seeds = [
        build(&[
            (
                MSZIP,
                &[("Catalog.xml", &sample(70_000, 7)), (r"V3\x.json", b"{}")],
            ),
            (STORED, &[("b", &sample(3_000, 8))]),
        ]),
        LZX_TWO_FILES.to_vec(),
        lzx_cabinet(&sample(40_000, 9), &[("x", 30_000, 10_000)]),
    ];
    let limits = Limits {
        max_total: 1 << 22,
        max_file: 1 << 21,
    };
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    let mut rnd = || {
        x ^= x << 7;
        x ^= x >> 9;
        x
    };
    for round in 0..1200 {
        let seed = &seeds[round % seeds.len()];
        let mut m = seed.clone();
        for _ in 0..1 + rnd() % 4 {
            let i = if round % 2 == 0 {
                (rnd() as usize) % 120.min(m.len()) // the directory
            } else {
                (rnd() as usize) % m.len()
            };
            m[i] = rnd() as u8;
        }
        let Ok(cab) = Cabinet::parse(&m) else {
            continue;
        };
        for entry in cab.entries().iter().take(4) {
            let oracle = extract_one(&cab, entry, &limits);
            let got = read_member(&cab, entry, &limits, 4096);
            match oracle {
                Err(CabError::TooLarge { .. }) => assert!(got.is_err(), "round {round}"),
                oracle => assert!(got == oracle, "round {round}: {got:?} != {oracle:?}"),
            }
        }
    }
}

/// Heap use, with a counting global allocator.
mod memory;
