//! The filtered parses: they keep what they are asked to, check every entry all the same,
//! and extracting from them is extracting from the whole cabinet without wanting the rest.

use super::{MSZIP, STORED, TempCab, extract_with};
use crate::reader_tests::read_member;
use crate::tests::{build, sample};
use crate::{CabEntry, CabError, Cabinet, Limits, PathError};

#[test]
fn a_filtered_parse_keeps_only_what_it_is_asked_to() {
    let big = sample(200_000, 31);
    let data = build(&[
        (
            MSZIP,
            &[
                ("Catalog.xml", &big),
                (r"V2\a.sdp", b"a"),
                (r"V3\b.json", &big[..50_000]),
            ],
        ),
        (STORED, &[("c", &sample(1_000, 2))]),
    ]);
    let whole = Cabinet::parse(&data).unwrap();
    let kept = |e: &CabEntry| e.path.is_in_folder("V3") || e.path.has_extension("xml");
    let mut seen = Vec::new();
    let filtered = Cabinet::parse_filtered(&data, &mut |e| {
        seen.push(e.path.to_string());
        kept(e)
    })
    .unwrap();
    assert_eq!(seen, ["Catalog.xml", "V2/a.sdp", "V3/b.json", "c"]);
    let want: Vec<CabEntry> = whole
        .entries()
        .iter()
        .filter(|e| kept(e))
        .cloned()
        .collect();
    assert_eq!(filtered.entries(), want);
    assert_eq!(filtered.folders(), whole.folders());
    let tmp = TempCab::new(&data);
    let file = tmp.open();
    let from_file = Cabinet::open_filtered(&file, &mut |e| kept(e)).unwrap();
    assert_eq!(from_file.entries(), want);

    // Extracting a filtered cabinet is extracting the whole one without wanting the rest:
    // the same members, bytes and stats, and the same limits (`V3/b.json` ends at 250,001).
    let v3 = |e: &CabEntry| e.path.is_in_folder("V3");
    for limits in [
        Limits::default(),
        Limits {
            max_total: 250_001,
            max_file: 1 << 20,
        },
        Limits {
            max_total: 250_000,
            max_file: 1 << 20,
        },
        Limits {
            max_total: 1 << 30,
            max_file: 49_999,
        },
    ] {
        let oracle = extract_with(&whole, &limits, &v3);
        for cab in [&filtered, &from_file] {
            assert_eq!(extract_with(cab, &limits, &v3), oracle);
            let entry = &cab.entries()[1];
            assert_eq!(
                read_member(cab, entry, &limits, 4096),
                read_member(&whole, &whole.entries()[2], &limits, 4096)
            );
        }
        let oracle = extract_with(&whole, &limits, &kept);
        assert_eq!(extract_with(&filtered, &limits, &|_| true), oracle);
        assert_eq!(extract_with(&from_file, &limits, &|_| true), oracle);
    }
    let (files, _) = extract_with(&filtered, &Limits::default(), &v3).unwrap();
    assert!(files.len() == 1 && files[0].1 == big[..50_000]);
    let tight = Limits {
        max_total: 250_000,
        max_file: 1 << 20,
    };
    assert_eq!(
        extract_with(&filtered, &tight, &v3).unwrap_err(),
        CabError::TooLarge {
            needed: 250_001,
            limit: 250_000
        }
    );
}

#[test]
fn a_filtered_parse_still_checks_every_entry() {
    let keep_a = |e: &CabEntry| e.raw_name == "a.txt";
    let check = |data: &[u8]| {
        let want = Cabinet::parse(data).unwrap_err();
        assert_eq!(
            Cabinet::parse_filtered(data, &mut |e| keep_a(e)).unwrap_err(),
            want
        );
        let tmp = TempCab::new(data);
        let file = tmp.open();
        assert_eq!(
            Cabinet::open_filtered(&file, &mut |e| keep_a(e)).unwrap_err(),
            want
        );
        want
    };
    let unsafe_name = build(&[(STORED, &[("a.txt", b"a"), (r"..\x", b"boom")])]);
    assert!(matches!(
        check(&unsafe_name),
        CabError::UnsafePath {
            reason: PathError::ParentDir,
            ..
        }
    ));
    let data = build(&[(STORED, &[("a.txt", b"a"), ("b.txt", b"b")])]);
    let coff_files = u32::from_le_bytes(data[16..20].try_into().unwrap()) as usize;
    let second = coff_files + 16 + "a.txt\0".len();
    assert_eq!(&data[second + 16..second + 21], b"b.txt");
    let patched = |at: usize, bytes: &[u8]| {
        let mut m = data.clone();
        m[second + at..second + at + bytes.len()].copy_from_slice(bytes);
        m
    };
    assert_eq!(
        check(&patched(8, &[1, 0])),
        CabError::Malformed("`b.txt` is in folder 1, but there are 1".into())
    );
    assert!(matches!(
        check(&patched(8, &[0xfd, 0xff])),
        CabError::Unsupported(m) if m.contains("another cabinet")
    ));
    let mut bad_utf8 = patched(14, &[0x80, 0]);
    bad_utf8[second + 16] = 0xff;
    assert!(matches!(check(&bad_utf8), CabError::Malformed(m) if m.contains("UTF-8")));
}
