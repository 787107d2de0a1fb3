//! The streaming verifier against the in-memory one: for every fixture, tampered, truncated
//! and synthetic image, fed in chunks of any size, the digests are the file's and the report
//! is `verify_file`'s.

use chrono::{DateTime, TimeZone, Utc};
use sha1::Digest;

use super::digest::DigestAlgorithm;
use super::fuzz_tests::{XorShift, fixture};
use super::pe_tests::{Spec, build, layouts};
use super::{SignatureStatus, StreamOptions, StreamOutcome, StreamingVerifier, verify_file};

const CHUNKS: [usize; 4] = [1, 7, 4096, usize::MAX];

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap()
}

fn stream_with(data: &[u8], chunk: usize, options: StreamOptions) -> StreamOutcome {
    let mut v = StreamingVerifier::with_options(options);
    for c in data.chunks(chunk.min(data.len().max(1))) {
        v.update(c);
    }
    v.finish(now())
}

/// The path a whole-file feed of `data` takes.
fn path_of(data: &[u8]) -> &'static str {
    let mut v = StreamingVerifier::new();
    v.update(data);
    v.path()
}

/// Streams `data` with every chunk size, threaded and not, and checks the outcome.
fn check(what: &str, data: &[u8]) -> StreamOutcome {
    let expected = verify_file(data, now());
    let mut last = None;
    for chunk in CHUNKS {
        for hash_thread in [true, false] {
            let options = StreamOptions {
                hash_thread,
                ..StreamOptions::default()
            };
            let out = stream_with(data, chunk, options);
            assert_eq!(out.report, expected, "{what}, chunk {chunk}");
            assert_eq!(out.sha1[..], sha1::Sha1::digest(data)[..], "{what}");
            assert_eq!(out.sha256[..], sha2::Sha256::digest(data)[..], "{what}");
            assert_eq!(out.bytes, data.len() as u64, "{what}");
            assert_eq!(out.missing_image_digest, None, "{what}");
            last = Some(out);
        }
    }
    last.unwrap()
}

/// Every signed, unsigned and damaged fixture (CAB, PE, MSI), sorted by name.
pub(crate) fn fixtures() -> Vec<(String, Vec<u8>)> {
    let dir = format!("{}/../../tests/fixtures/signed", env!("CARGO_MANIFEST_DIR"));
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".cab") || n.ends_with(".exe") || n.ends_with(".msi"))
        .collect();
    names.sort();
    assert!(names.len() >= 18, "{names:?}");
    names
        .into_iter()
        .map(|n| (n.clone(), fixture(&n)))
        .collect()
}

#[test]
fn every_fixture_matches_verify_file() {
    for (name, data) in fixtures() {
        let out = check(&name, &data);
        let expected = match name.as_str() {
            "pe-signed.exe" | "pe-nested.exe" | "msi-signed.msi" | "catalog-dual.cab" => {
                Some(SignatureStatus::Valid)
            }
            "pe-unsigned.exe" | "msi-unsigned.msi" | "catalog-unsigned.cab" => {
                Some(SignatureStatus::Unsigned)
            }
            "catalog-tampered.cab" => Some(SignatureStatus::Invalid),
            _ => None,
        };
        if let Some(status) = expected {
            assert_eq!(out.report.status, status, "{name}");
        }
        let expected_path = match &name[name.len() - 3..] {
            "exe" if name.contains("unsigned") => "nothing to hash",
            "exe" => "image",
            _ => "whole file",
        };
        assert_eq!(path_of(&data), expected_path, "{name}");
    }
}

#[test]
fn tampering_in_a_section_is_invalid_and_in_the_checksum_is_not() {
    let mut tampered = fixture("pe-signed.exe");
    tampered[0x200] ^= 0xFF; // first byte of .text
    let out = check("tampered", &tampered);
    assert_eq!(out.report.status, SignatureStatus::Invalid);
    let reason = out.report.reason.unwrap();
    assert!(reason.contains("file digest mismatch (sha256)"), "{reason}");

    let mut checksum = fixture("pe-signed.exe");
    checksum[0x40 + 24 + 64] ^= 0xFF;
    assert_eq!(
        check("checksum", &checksum).report.status,
        SignatureStatus::Valid
    );
}

#[test]
fn truncated_images_match_verify_file() {
    let d = fixture("pe-nested.exe");
    // Every length inside the headers, then a stride through sections and signature.
    let lengths = (0..0x240).chain((0x240..d.len()).step_by(37));
    for len in lengths {
        let part = &d[..len];
        let expected = verify_file(part, now());
        assert_ne!(expected.status, SignatureStatus::Valid, "len {len}");
        for chunk in [7, usize::MAX] {
            let out = stream_with(part, chunk, StreamOptions::default());
            assert_eq!(out.report, expected, "len {len}, chunk {chunk}");
        }
    }
}

/// The certificate-table entry is excluded from the digest, so only the table checks see it.
#[test]
fn certificate_table_past_the_end_is_invalid() {
    let d = fixture("pe-signed.exe");
    let entry = 0x40 + 24 + 128;
    let at = |d: &[u8], off: usize| u32::from_le_bytes(d[off..off + 4].try_into().unwrap());
    let (start, size) = (at(&d, entry), at(&d, entry + 4));
    for (new_start, new_size) in [
        (start, size + 8),
        (start + 16, size),
        (u32::MAX - 4, size),
        (start, u32::MAX),
        (start, 4),
    ] {
        let mut m = d.clone();
        m[entry..entry + 4].copy_from_slice(&new_start.to_le_bytes());
        m[entry + 4..entry + 8].copy_from_slice(&new_size.to_le_bytes());
        let out = check("moved table", &m);
        assert_eq!(
            out.report.status,
            SignatureStatus::Invalid,
            "{new_start:#x}+{new_size}"
        );
    }
}

#[test]
fn headers_split_at_every_boundary() {
    for name in ["pe-nested.exe", "pe-unsigned.exe"] {
        let d = fixture(name);
        let expected = verify_file(&d, now());
        for split in 1..0x240 {
            for second in [split + 1, split + 13, 0x300] {
                let second = second.min(d.len());
                let mut v = StreamingVerifier::new();
                v.update(&d[..split]);
                v.update(&d[split..second]);
                v.update(&d[second..]);
                assert_eq!(v.finish(now()).report, expected, "{name} split {split}");
            }
        }
    }
}

/// A signature whose image digest was not computed fails closed and says which to add.
#[test]
fn a_digest_not_configured_is_reported_missing() {
    let only = |algs: &[DigestAlgorithm]| StreamOptions {
        image_digests: algs.to_vec(),
        ..StreamOptions::default()
    };
    let d = fixture("pe-nested.exe"); // SHA-256, nested SHA-1
    for (algs, missing) in [
        (&[DigestAlgorithm::Sha1][..], DigestAlgorithm::Sha256),
        (&[DigestAlgorithm::Sha256][..], DigestAlgorithm::Sha1),
        (&[][..], DigestAlgorithm::Sha256),
    ] {
        let out = stream_with(&d, 4096, only(algs));
        assert_eq!(out.report.status, SignatureStatus::Invalid);
        assert_eq!(out.missing_image_digest, Some(missing));
        assert!(
            out.report
                .reason
                .unwrap()
                .contains("not computed while streaming")
        );
    }
    let all = only(&[
        DigestAlgorithm::Sha384,
        DigestAlgorithm::Sha1,
        DigestAlgorithm::Sha256,
    ]);
    let out = stream_with(&d, 4096, all);
    assert_eq!(out.report, verify_file(&d, now()));
    assert_eq!(out.missing_image_digest, None);
}

/// The crate's PE32+ fixture (sections listed out of file order, trailing data) is signed
/// with SHA-384, which is not streamed by default: Invalid with the algorithm named, then
/// the real verdict once it is configured.
#[test]
fn sha384_pe32_plus_needs_the_digest_configured() {
    let path = format!("{}/testdata/pe64-sha384.exe", env!("CARGO_MANIFEST_DIR"));
    let d = std::fs::read(path).unwrap();
    let expected = verify_file(&d, now());
    assert_eq!(expected.status, SignatureStatus::Valid);
    let algs: Vec<&str> = expected
        .signers
        .iter()
        .map(|s| s.digest_algorithm.as_str())
        .collect();
    assert_eq!(algs, ["sha384", "sha256"]);

    let out = stream_with(&d, 4096, StreamOptions::default());
    assert_eq!(out.missing_image_digest, Some(DigestAlgorithm::Sha384));
    assert_eq!(out.report.status, SignatureStatus::Invalid);
    assert_eq!(out.sha256[..], sha2::Sha256::digest(&d)[..]);

    for chunk in CHUNKS {
        let options = StreamOptions {
            image_digests: vec![DigestAlgorithm::Sha384, DigestAlgorithm::Sha256],
            ..StreamOptions::default()
        };
        let out = stream_with(&d, chunk, options);
        assert_eq!(
            (out.report, out.missing_image_digest),
            (expected.clone(), None)
        );
    }
    assert_eq!(path_of(&d), "image");
}

/// Synthetic layouts (unsorted, gaps, overlaps, PE32+, odd lengths) carrying a real
/// signature: the digest mismatch message names the computed digest, so equal reports mean
/// equal digests, on the streamed layouts and on those that fall back to buffering.
#[test]
fn synthetic_layouts_match_verify_file() {
    let signed = fixture("pe-signed.exe");
    let p7 = super::pe::signatures(&signed[0x400..]).unwrap()[0].to_vec();
    let (mut hashed, mut streamed, mut buffered) = (0, 0, 0);
    for spec in layouts() {
        let d = build(&Spec {
            signatures: vec![p7.clone()],
            ..spec.clone()
        });
        let reason = check(&format!("{spec:?}"), &d).report.reason.unwrap();
        if reason.contains("file digest mismatch (sha256)") {
            hashed += 1;
            match path_of(&d) {
                "image" => streamed += 1,
                "whole file" => buffered += 1,
                other => panic!("{spec:?}: {other}"),
            }
        } else {
            assert!(reason.contains("outside the headers"), "{spec:?}: {reason}");
        }
    }
    assert_eq!((hashed, streamed, buffered), (20, 12, 8));
}

/// Random bit flips, byte stores and truncations, fed in random chunk sizes.
#[test]
fn mutated_images_match_verify_file() {
    let mut rng = XorShift(0x5851_F42D_4C95_7F2D);
    for name in ["pe-nested.exe", "pe-signed.exe", "catalog-dual.cab"] {
        let base = fixture(name);
        for round in 0..400 {
            let mut d = base.clone();
            let span = if round % 2 == 0 { 0x200 } else { d.len() };
            for _ in 0..1 + round % 3 {
                let i = rng.below(span);
                d[i] = rng.next() as u8;
            }
            if round % 5 == 0 {
                d.truncate(rng.below(d.len()));
            }
            let chunk = 1 + rng.below(600);
            let out = stream_with(&d, chunk, StreamOptions::default());
            assert_eq!(out.report, verify_file(&d, now()), "{name} round {round}");
        }
    }
}

#[test]
fn hostile_headers_are_invalid_without_buffering_the_file() {
    let d = fixture("pe-signed.exe");
    let mut far = d.clone();
    far[0x3C..0x40].copy_from_slice(&0x7FFF_FFF0u32.to_le_bytes());
    let out = check("far e_lfanew", &far);
    assert!(out.report.reason.unwrap().contains("extend past"));
    assert_eq!(path_of(&far), "prefix");

    let mut many = d.clone();
    many[0x46..0x48].copy_from_slice(&0xFFFFu16.to_le_bytes());
    assert_eq!(
        check("65535 sections", &many).report.status,
        SignatureStatus::Invalid
    );
    assert_eq!(path_of(&many), "prefix");

    // A 4 GiB certificate table is refused from the headers: nothing is kept or hashed.
    let mut huge = d.clone();
    huge[0x40 + 24 + 132..0x40 + 24 + 136].copy_from_slice(&u32::MAX.to_le_bytes());
    let out = check("huge table", &huge);
    assert!(out.report.reason.unwrap().contains("over the"));
    assert_eq!(path_of(&huge), "nothing to hash");

    let mut magic = d.clone();
    magic[0x58] = 0x0C;
    let out = check("bad magic", &magic);
    assert!(out.report.reason.unwrap().contains("magic"));
    assert_eq!(path_of(&magic), "prefix");
}

/// Staging may move a verifier between threads (e.g. a blocking task per download).
#[test]
fn verifier_is_send() {
    fn send<T: Send>() {}
    send::<StreamingVerifier>();
    send::<StreamOutcome>();
}

#[test]
fn other_formats_and_tiny_files() {
    for data in [
        &b""[..],
        b"M",
        b"MZ",
        b"MSCF",
        b"\xD0\xCF\x11\xE0",
        b"#!/bin/sh\necho hi\n",
        &[0u8; 100_000],
    ] {
        check("other", data);
    }
}
