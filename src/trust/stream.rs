//! One read of a content file: its catalog digests (SHA-1, SHA-256) and its Authenticode
//! verdict together.
//!
//! Staging used to read each file to hash it and again, whole into memory, to verify its
//! signature: two passes, and memory that grew with the largest update binary. The
//! authenticode crate's [`StreamingVerifier`] does both in one sequential pass, holding a
//! PE's headers and certificate table only. Its image digests are SHA-1 and SHA-256, what
//! real signatures use; a signature that needs another (SHA-384) is the one case where the
//! file is read a second time, with that digest, for the real verdict.

use std::io::Read;
use std::path::Path;

use chrono::{DateTime, Utc};

use super::SignatureReport;
use super::authenticode::{StreamOptions, StreamOutcome, StreamingVerifier};
use crate::ids::{Sha1, Sha256};

/// What the one read found.
#[derive(Debug, Clone)]
pub struct ContentCheck {
    pub sha1: Sha1,
    pub sha256: Sha256,
    pub bytes: u64,
    pub report: SignatureReport,
}

/// Bytes read at a time: large enough that a read costs nothing per byte.
const CHUNK: usize = 1 << 20;

/// Reads `input` to the end in 1 MiB chunks, handing each to `f`: the one read loop of
/// content checks, here and in `apply::hash_stream`.
pub(crate) fn for_each_chunk(
    input: &mut impl Read,
    mut f: impl FnMut(&[u8]) -> std::io::Result<()>,
) -> std::io::Result<()> {
    let mut buf = vec![0u8; CHUNK];
    loop {
        let n = match input.read(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        f(&buf[..n])?;
    }
}

/// Streams `input` through `verifier`, handing every chunk to `sink` as well (the staging
/// copy, or nothing).
fn stream(
    input: &mut impl Read,
    mut verifier: StreamingVerifier,
    sink: &mut impl FnMut(&[u8]) -> std::io::Result<()>,
    now: DateTime<Utc>,
) -> std::io::Result<StreamOutcome> {
    for_each_chunk(input, |chunk| {
        verifier.update(chunk);
        sink(chunk)
    })?;
    Ok(verifier.finish(now))
}

/// Reads the file at `path` once, handing each chunk to `sink`, and returns its digests and
/// its signature report as of `now` (what `verify_file` of the whole file says).
pub fn check_file(
    path: &Path,
    now: DateTime<Utc>,
    mut sink: impl FnMut(&[u8]) -> std::io::Result<()>,
) -> std::io::Result<ContentCheck> {
    let mut f = std::fs::File::open(path)?;
    let first = stream(&mut f, StreamingVerifier::new(), &mut sink, now)?;
    let mut report = first.report;
    let mut digests = StreamOptions::default().image_digests;
    let mut missing = first.missing_image_digest;
    // Each pass adds the digest a signature asked for; the algorithms are few, so this ends.
    while let Some(alg) = missing.filter(|a| !digests.contains(a)) {
        digests.push(alg);
        let options = StreamOptions {
            image_digests: digests.clone(),
            ..StreamOptions::default()
        };
        let mut f = std::fs::File::open(path)?;
        let again = stream(
            &mut f,
            StreamingVerifier::with_options(options),
            &mut |_| Ok(()),
            now,
        )?;
        if again.sha256 != first.sha256 {
            return Err(std::io::Error::other(format!(
                "{} changed while it was being verified",
                path.display()
            )));
        }
        (report, missing) = (again.report, again.missing_image_digest);
    }
    Ok(ContentCheck {
        sha1: Sha1(first.sha1),
        sha256: Sha256(first.sha256),
        bytes: first.bytes,
        report,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trust::{SignatureStatus, verify_file};

    fn fixture(name: &str) -> std::path::PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/signed")
            .join(name)
    }

    #[test]
    fn one_read_says_what_hashing_and_verify_file_say() {
        let now = Utc::now();
        let dir = std::fs::read_dir(fixture("")).unwrap();
        let mut seen = 0;
        for entry in dir.flatten() {
            let path = entry.path();
            if !path.is_file() {
                continue;
            }
            let data = std::fs::read(&path).unwrap();
            let mut copy = Vec::new();
            let c = check_file(&path, now, |chunk| {
                copy.extend_from_slice(chunk);
                Ok(())
            })
            .unwrap();
            assert_eq!(copy, data, "the sink sees every byte once");
            assert_eq!((c.sha1, c.sha256), (Sha1::of(&data), Sha256::of(&data)));
            assert_eq!(c.bytes, data.len() as u64);
            assert_eq!(c.report, verify_file(&data, now), "{}", path.display());
            seen += 1;
        }
        assert!(seen >= 5, "the signed fixtures are there ({seen})");
    }

    #[test]
    fn a_sha384_signature_is_verified_with_a_second_read() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("crates/authenticode/testdata/pe64-sha384.exe");
        let data = std::fs::read(&path).unwrap();
        let now = Utc::now();
        let c = check_file(&path, now, |_| Ok(())).unwrap();
        assert_eq!(c.report, verify_file(&data, now));
        assert_ne!(c.report.status, SignatureStatus::Invalid, "{:?}", c.report);
    }
}
