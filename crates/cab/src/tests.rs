//! Reader tests over cabinets written by the `cab` crate (MSZIP, stored) and hand-edited bytes.

use std::io::{Cursor, Write};

use super::*;

/// A folder to build: its compression and `(name, bytes)` members.
pub(crate) type Spec<'a> = (cab::CompressionType, &'a [(&'a str, &'a [u8])]);

/// Builds a cabinet with one folder per `(compression, files)` group.
pub(crate) fn build(folders: &[Spec]) -> Vec<u8> {
    let mut b = cab::CabinetBuilder::new();
    for (ctype, files) in folders {
        let f = b.add_folder(*ctype);
        for (name, _) in *files {
            f.add_file(*name);
        }
    }
    let mut w = b.build(Cursor::new(Vec::new())).unwrap();
    for (_, files) in folders {
        for (_, data) in *files {
            let mut fw = w.next_file().unwrap().unwrap();
            fw.write_all(data).unwrap();
        }
    }
    w.finish().unwrap().into_inner()
}

/// Deterministic, compressible but not trivially repetitive bytes.
pub(crate) fn sample(len: usize, seed: u32) -> Vec<u8> {
    let mut x = seed.wrapping_mul(2_654_435_761).max(1);
    (0..len)
        .map(|i| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            if i % 7 < 4 {
                b"<sdp:Title>"[i % 11]
            } else {
                (x % 26) as u8 + b'a'
            }
        })
        .collect()
}

#[test]
fn mszip_round_trip_across_many_blocks() {
    let big = sample(300_000, 1);
    let small = sample(10, 2);
    let data = build(&[(
        cab::CompressionType::MsZip,
        &[
            ("Catalog.xml", &big),
            (r"V2\a.sdp", &small),
            ("empty.txt", b""),
            (r"V3\b.json", &big[..70_000]),
        ],
    )]);
    let files = extract_all(&data, &Limits::default()).unwrap();
    let names: Vec<String> = files.iter().map(|(e, _)| e.path.to_string()).collect();
    assert_eq!(names, ["Catalog.xml", "V2/a.sdp", "empty.txt", "V3/b.json"]);
    assert_eq!(files[0].1, big);
    assert_eq!(files[1].1, small);
    assert!(files[2].1.is_empty());
    assert_eq!(files[3].1, &big[..70_000]);
}

#[test]
fn stored_folders_and_several_folders() {
    let a = sample(40_000, 3);
    let data = build(&[
        (cab::CompressionType::None, &[("a.bin", &a)]),
        (
            cab::CompressionType::MsZip,
            &[("b.bin", b"hello"), ("c.bin", &a)],
        ),
    ]);
    let cab = Cabinet::parse(&data).unwrap();
    assert_eq!(cab.folders().len(), 2);
    assert_eq!(cab.folders()[0].compression, Compression::None);
    let files = extract_all(&data, &Limits::default()).unwrap();
    assert_eq!(files[0].1, a);
    assert_eq!(files[1].1, b"hello");
    assert_eq!(files[2].1, a);
}

struct Only(&'static str, Vec<String>);
impl Visitor for Only {
    fn wants(&mut self, e: &CabEntry) -> bool {
        !e.path.is_in_folder(self.0)
    }
    fn file(&mut self, e: &CabEntry, _: MemberData) {
        self.1.push(e.path.to_string());
    }
}

#[test]
fn skipping_a_trailing_folder_stops_decompression_early() {
    let big = sample(200_000, 4);
    let data = build(&[(
        cab::CompressionType::MsZip,
        &[
            ("Catalog.xml", b"<x/>"),
            (r"v2\1.sdp", &big),
            (r"V2\2.sdp", &big),
        ],
    )]);
    let cab = Cabinet::parse(&data).unwrap();
    let mut v = Only("V2", Vec::new());
    let stats = cab.extract(&Limits::default(), &mut v).unwrap();
    assert_eq!(v.1, ["Catalog.xml"]);
    assert_eq!(stats.blocks, 1, "only the first block is needed");
}

#[test]
fn limits_are_enforced() {
    let big = sample(100_000, 5);
    let data = build(&[(cab::CompressionType::MsZip, &[("a", &big), ("b", &big)])]);
    let total = Limits {
        max_total: 150_000,
        max_file: 1 << 20,
    };
    assert!(matches!(
        extract_all(&data, &total),
        Err(CabError::TooLarge { .. })
    ));
    let file = Limits {
        max_total: 1 << 30,
        max_file: 99_999,
    };
    assert!(matches!(
        extract_all(&data, &file),
        Err(CabError::FileTooLarge { .. })
    ));
}

#[test]
fn checksum_mismatch_is_detected() {
    let data = build(&[(cab::CompressionType::None, &[("a.txt", b"hello world")])]);
    let cab = Cabinet::parse(&data).unwrap();
    let block = cab.folders()[0].data_offset as usize;
    let mut bad = data.clone();
    // Make sure the writer stored a checksum, then corrupt one payload byte.
    assert_ne!(&bad[block..block + 4], &[0, 0, 0, 0]);
    bad[block + 8] ^= 0x20;
    assert!(matches!(
        extract_all(&bad, &Limits::default()),
        Err(CabError::Checksum { .. })
    ));
}

#[test]
fn unsafe_names_are_rejected() {
    let data = build(&[(cab::CompressionType::None, &[(r"..\..\x", b"boom")])]);
    match Cabinet::parse(&data) {
        Err(CabError::UnsafePath { name, reason }) => {
            assert_eq!(name, r"..\..\x");
            assert_eq!(reason, PathError::ParentDir);
        }
        other => panic!("expected UnsafePath, got {other:?}"),
    }
}

#[test]
fn truncation_and_garbage_are_errors() {
    let data = build(&[(cab::CompressionType::MsZip, &[("a", &sample(50_000, 6))])]);
    assert_eq!(
        Cabinet::parse(b"PK\x03\x04").unwrap_err(),
        CabError::NotCabinet
    );
    assert!(matches!(
        Cabinet::parse(&data[..data.len() - 10]),
        Err(CabError::Truncated(_))
    ));
    // A data block whose payload is damaged must not decode silently.
    let cab = Cabinet::parse(&data).unwrap();
    let mut bad = data.clone();
    let at = cab.folders()[0].data_offset as usize;
    bad[at..at + 4].copy_from_slice(&[0; 4]); // drop the checksum so decoding sees the damage
    bad[at + 10] ^= 0xff;
    assert!(extract_all(&bad, &Limits::default()).is_err());
}

#[test]
fn mutated_cabinets_never_panic() {
    let seed = build(&[
        (
            cab::CompressionType::MsZip,
            &[("Catalog.xml", &sample(70_000, 7)), (r"V3\x.json", b"{}")],
        ),
        (cab::CompressionType::None, &[("b", &sample(3_000, 8))]),
    ]);
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut rnd = || {
        x ^= x << 7;
        x ^= x >> 9;
        x
    };
    let limits = Limits {
        max_total: 1 << 22,
        max_file: 1 << 21,
    };
    for round in 0..3000 {
        let mut m = seed.clone();
        match round % 4 {
            0 => m.truncate((rnd() as usize) % seed.len()),
            1 => {
                // Flip bytes in the directory, where offsets and counts live.
                for _ in 0..1 + rnd() % 4 {
                    let i = (rnd() as usize) % 120.min(m.len());
                    m[i] = rnd() as u8;
                }
            }
            _ => {
                for _ in 0..1 + rnd() % 8 {
                    let i = (rnd() as usize) % m.len();
                    m[i] = rnd() as u8;
                }
            }
        }
        // Any outcome is fine except a panic (which fails the test).
        let _ = extract_all(&m, &limits);
    }
}

/// LZX (window 2^19) cabinet with two files, from the `cab` crate's test suite (MIT): no
/// LZX writer exists to make a bigger one, so `cabextract` stays the oracle for real files.
pub(crate) const LZX_TWO_FILES: &[u8] =
    b"\x4d\x53\x43\x46\x00\x00\x00\x00\x97\x00\x00\x00\x00\x00\x00\
    \x00\x2c\x00\x00\x00\x00\x00\x00\x00\x03\x01\x01\x00\x02\x00\
    \x00\x00\x2d\x05\x00\x00\x5b\x00\x00\x00\x01\x00\x03\x13\x0f\
    \x00\x00\x00\x00\x00\x00\x00\x00\x00\x21\x53\x0d\xb2\x20\x00\
    \x68\x69\x2e\x74\x78\x74\x00\x10\x00\x00\x00\x0f\x00\x00\x00\
    \x00\x00\x21\x53\x0b\xb2\x20\x00\x62\x79\x65\x2e\x74\x78\x74\
    \x00\x5c\xef\x2a\xc7\x34\x00\x1f\x00\x5b\x80\x80\x8d\x00\x30\
    \xf0\x01\x10\x00\x00\x00\x01\x00\x00\x00\x01\x00\x00\x00\x48\
    \x65\x6c\x6c\x6f\x2c\x20\x77\x6f\x72\x6c\x64\x21\x0d\x0a\x53\
    \x65\x65\x20\x79\x6f\x75\x20\x6c\x61\x74\x65\x72\x21\x0d\x0a\
    \x00";

#[test]
fn lzx_folder() {
    let cab = Cabinet::parse(LZX_TWO_FILES).unwrap();
    assert_eq!(
        cab.folders()[0].compression,
        Compression::Lzx { window_bits: 19 }
    );
    let files = extract_all(LZX_TWO_FILES, &Limits::default()).unwrap();
    assert_eq!(files[0].1, b"Hello, world!\r\n");
    assert_eq!(files[1].1, b"See you later!\r\n");
    // Damage the LZX stream (checksum field is zero in this cabinet): an error, not a panic.
    for i in 0x58..LZX_TWO_FILES.len() {
        let mut bad = LZX_TWO_FILES.to_vec();
        bad[i] ^= 0x5a;
        let _ = extract_all(&bad, &Limits::default());
    }
}

#[test]
fn utf8_flagged_names() {
    // One stored file named "☃.txt" with the _A_NAME_IS_UTF attribute (from the `cab` crate).
    let bin: &[u8] = b"MSCF\0\0\0\0\x55\0\0\0\0\0\0\0\
        \x2c\0\0\0\0\0\0\0\x03\x01\x01\0\x01\0\0\0\0\0\0\0\
        \x44\0\0\0\x01\0\0\0\
        \x09\0\0\0\0\0\0\0\0\0\x6c\x22\xba\x59\xa0\0\xe2\x98\x83.txt\0\
        \x3d\x0f\x08\x56\x09\0\x09\0Snowman!\n";
    let files = extract_all(bin, &Limits::default()).unwrap();
    assert_eq!(files[0].0.path.to_string(), "\u{2603}.txt");
    assert_eq!(files[0].1, b"Snowman!\n");
    let mut bad = bin.to_vec();
    bad[0x3e] = 0xff; // invalid UTF-8 in a name flagged UTF-8
    assert!(matches!(Cabinet::parse(&bad), Err(CabError::Malformed(_))));
}
