//! `verify_cab_file` against `verify_cab`: for every signed fixture, flipped byte, truncation
//! and non-cabinet, the report read from a file equals the report of the same bytes in memory,
//! with the default read buffer and with buffers small enough to cut the fixtures into many
//! chunks. A digest mismatch reason names the computed digest, so equal reports on tampered
//! files mean equal digests.

use std::fs::{File, OpenOptions};
use std::io::{Seek, SeekFrom, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

use chrono::{DateTime, TimeZone, Utc};

use super::cab_source::{FileSource, READ_CHUNK};
use super::digest::DigestAlgorithm;
use super::fuzz_tests::fixture;
use super::stream_tests::fixtures;
use super::{
    SignatureReport, SignatureStatus, cab, verify_cab, verify_cab_file, verify_cab_file_with,
};

/// Read buffers besides [`READ_CHUNK`]: one byte, an odd size, and one smaller than a fixture.
const SMALL_CHUNKS: [usize; 3] = [1, 7, 1000];

fn at(y: i32, m: u32, d: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, m, d, 0, 0, 0).unwrap()
}

/// Inside the test signers' validity (2025-01-01 .. 2027-04-05), and after it.
fn nows() -> [DateTime<Utc>; 2] {
    [at(2026, 1, 1), at(2028, 6, 1)]
}

/// A file in the temp directory holding given bytes, removed when dropped.
struct TempFile {
    path: PathBuf,
    file: File,
}

impl TempFile {
    fn new(data: &[u8]) -> Self {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let path = std::env::temp_dir().join(format!(
            "supctl-authenticode-{}-{}.cab",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&path)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        file.write_all(data).unwrap();
        // Leave the cursor at the end: positional reads must not depend on it.
        file.seek(SeekFrom::End(0)).unwrap();
        Self { path, file }
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Asserts that the file reports equal the slice report for every `now` and read buffer, and
/// returns the slice report as of the first `now`.
fn check(what: &str, data: &[u8]) -> SignatureReport {
    let tmp = TempFile::new(data);
    for now in nows() {
        let expected = verify_cab(data, now);
        assert_eq!(verify_cab_file(&tmp.file, now), expected, "{what} at {now}");
        for chunk in SMALL_CHUNKS {
            let got = verify_cab_file_with(&tmp.file, chunk, now);
            assert_eq!(got, expected, "{what} at {now}, chunk {chunk}");
        }
    }
    verify_cab(data, nows()[0])
}

fn cab_fixtures() -> Vec<(String, Vec<u8>)> {
    let cabs: Vec<_> = fixtures()
        .into_iter()
        .filter(|(name, _)| name.ends_with(".cab"))
        .collect();
    assert!(cabs.len() >= 12, "{} cabinets", cabs.len());
    cabs
}

fn u32_at(d: &[u8], off: usize) -> usize {
    u32::from_le_bytes(d[off..off + 4].try_into().unwrap()) as usize
}

fn reason(r: &SignatureReport) -> &str {
    r.reason.as_deref().unwrap_or_default()
}

#[test]
fn every_signed_fixture_matches_verify_cab() {
    for (name, data) in cab_fixtures() {
        let r = check(&name, &data);
        assert!(!reason(&r).contains("cannot read"), "{name}: {r:?}");
        let expected = match name.as_str() {
            "catalog-dual.cab" | "catalog-triple.cab" | "catalog-ts.cab" => {
                Some(SignatureStatus::Valid)
            }
            "catalog-unsigned.cab" => Some(SignatureStatus::Unsigned),
            "catalog-tampered.cab" | "catalog-truncated.cab" | "catalog-wrong-eku.cab" => {
                Some(SignatureStatus::Invalid)
            }
            _ => None,
        };
        if let Some(status) = expected {
            assert_eq!(r.status, status, "{name}: {r:?}");
        }
    }
}

#[test]
fn single_byte_flips_match_verify_cab() {
    let d = fixture("catalog-dual.cab");
    let (coff_files, sigpos) = (u32_at(&d, 16), u32_at(&d, 44));
    assert!(60 < coff_files && coff_files < sigpos && sigpos < d.len());
    let offsets = [
        0,              // magic
        5,              // reserved1: not hashed, stays Valid
        10,             // cbCabinet: hashed
        16,             // coffFiles
        26,             // cFolders
        30,             // flags
        36,             // reserve sizes
        41,             // reserve magic
        44,             // sigpos
        49,             // siglen
        57,             // hashed reserve tail
        60,             // first CFFOLDER entry
        coff_files - 1, // last CFFOLDER byte
        coff_files,     // first CFFILE byte
        200,            // compressed body
        sigpos - 1,     // last hashed byte
        sigpos,         // PKCS#7 tag
        sigpos + 700,   // inside the signature
        d.len() - 1,    // last byte
    ];
    let mut mismatches = 0;
    for off in offsets {
        let mut m = d.clone();
        m[off] ^= 0x5A;
        let r = check(&format!("flip at {off}"), &m);
        mismatches += usize::from(reason(&r).contains("file digest mismatch"));
    }
    // The body flips reach the digest through the chunked reader.
    assert!(mismatches >= 5, "{mismatches}");
}

#[test]
fn truncations_match_verify_cab() {
    let d = fixture("catalog-dual.cab");
    let sigpos = u32_at(&d, 44);
    let lengths = [
        1,
        3,
        4,
        31,
        32,
        59,
        60,
        61,
        200,
        sigpos - 1,
        sigpos,
        sigpos + 1,
        d.len() - 1,
    ];
    for len in lengths {
        let r = check(&format!("len {len}"), &d[..len]);
        assert_eq!(r.status, SignatureStatus::Invalid, "len {len}");
    }
}

#[test]
fn empty_and_non_cabinet_files_match_verify_cab() {
    let pe = fixture("pe-signed.exe");
    let msi = fixture("msi-signed.msi");
    for (what, data) in [
        ("empty", &b""[..]),
        ("magic only", b"MSCF"),
        ("PE", &pe),
        ("MSI", &msi),
        ("text", b"#!/bin/sh\necho hi\n"),
        ("zeros", &[0u8; 100_000]),
    ] {
        let r = check(what, data);
        assert_eq!(r.status, SignatureStatus::Invalid, "{what}");
    }
}

/// A body far longer than the read buffer, with an odd length: the reported digest is the one
/// computed independently over the documented ranges.
#[test]
fn a_body_longer_than_the_read_buffer_is_hashed_in_order() {
    let d = fixture("catalog-dual.cab");
    let sigpos = u32_at(&d, 44);
    let filler: Vec<u8> = (0..2 * READ_CHUNK + 12_345)
        .map(|i| (i % 251) as u8)
        .collect();
    let mut big = d[..sigpos].to_vec();
    big.extend_from_slice(&filler);
    let new_sigpos = big.len() as u32;
    big.extend_from_slice(&d[sigpos..]);
    let cb_cabinet = big.len() as u32;
    big[8..12].copy_from_slice(&cb_cabinet.to_le_bytes());
    big[44..48].copy_from_slice(&new_sigpos.to_le_bytes());

    let mut covered = big[0..4].to_vec();
    covered.extend_from_slice(&big[8..34]);
    covered.extend_from_slice(&big[56..new_sigpos as usize]);
    let sha1 = hex::encode_upper(DigestAlgorithm::Sha1.hash(&covered));

    let tmp = TempFile::new(&big);
    for now in nows() {
        let r = verify_cab_file(&tmp.file, now);
        assert_eq!(r, verify_cab(&big, now));
        assert!(
            reason(&r).contains(&format!("file hashes to {sha1}")),
            "{r:?}"
        );
    }
}

/// A signature over the in-memory bound is refused from the header, before it is read: the
/// file is sparse, and the report is `verify_cab`'s.
#[test]
fn an_oversized_signature_is_refused_like_verify_cab() {
    let siglen: u32 = 2 << 20;
    let mut d = fixture("catalog-dual.cab")[..60].to_vec();
    d[44..48].copy_from_slice(&60u32.to_le_bytes());
    d[48..52].copy_from_slice(&siglen.to_le_bytes());
    let tmp = TempFile::new(&d);
    tmp.file.set_len(60 + u64::from(siglen)).unwrap();
    d.resize(60 + siglen as usize, 0);
    let now = nows()[0];
    let r = verify_cab_file(&tmp.file, now);
    assert_eq!(r, verify_cab(&d, now));
    assert!(reason(&r).contains("over the 1048576 byte limit"), "{r:?}");
}

#[test]
fn a_read_error_names_the_offset_and_the_os_error() {
    let tmp = TempFile::new(&fixture("catalog-dual.cab"));
    // Write-only: the length is known but every read fails.
    let write_only = OpenOptions::new().write(true).open(&tmp.path).unwrap();
    let r = verify_cab_file(&write_only, nows()[0]);
    assert_eq!(r.status, SignatureStatus::Invalid);
    assert!(r.signers.is_empty());
    let reason = reason(&r);
    assert!(
        reason.starts_with("cannot read the file at offset 0: "),
        "{reason}"
    );
    assert!(reason.contains("os error"), "{reason}");
}

#[test]
fn a_file_that_shrinks_while_read_is_invalid_at_the_offset() {
    let d = fixture("catalog-dual.cab");
    let sigpos = u32_at(&d, 44);
    let tmp = TempFile::new(&d);
    let source = FileSource::new(&tmp.file, 7).unwrap();
    tmp.file.set_len(100).unwrap();
    let err = cab::verify_source(&source, nows()[0])
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with(&format!("cannot read the file at offset {sigpos}: ")),
        "{err}"
    );
    assert!(err.contains("the file ends early"), "{err}");
}
