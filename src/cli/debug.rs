//! `supctl debug ...`: hidden commands that run one stage of supctl on its own, for the
//! benchmarks (`scripts/bench.sh`) and for troubleshooting. Not a stable interface.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context as _;
use chrono::Utc;
use clap::{Args, Subcommand};
use serde::Serialize;

use super::{EXIT_ERROR, EXIT_OK};
use crate::trust::{SignatureStatus, check_file};

#[derive(Debug, Subcommand)]
pub enum DebugCommand {
    /// Content staging's checks on local files: SHA-1, SHA-256 and the Authenticode
    /// signature in one read of each file (`trust::check_file`). Exits 1 unless every file
    /// is validly signed. Prints one JSON object per file.
    VerifyContent(VerifyContentArgs),
}

#[derive(Debug, Args)]
pub struct VerifyContentArgs {
    /// Files to check (PE, MSI or CAB).
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// Check this many files at once (apply stages files concurrently; 1 = sequential).
    #[arg(long, default_value_t = 1)]
    pub jobs: usize,
}

/// What one file's checks found.
#[derive(Debug, Serialize)]
struct ContentReport {
    file: String,
    size: u64,
    sha1: String,
    sha256: String,
    signature: SignatureStatus,
    reason: Option<String>,
    signers: Vec<String>,
    elapsed_ms: u128,
}

pub fn run(c: DebugCommand) -> anyhow::Result<u8> {
    match c {
        DebugCommand::VerifyContent(a) => verify_content(a),
    }
}

/// Reads a file once, hashing both digests and verifying its signature on the way: the
/// same checks staging makes before a file enters the store.
fn check(path: &Path) -> anyhow::Result<ContentReport> {
    let start = Instant::now();
    let c = check_file(path, Utc::now(), |_| Ok(()))
        .with_context(|| format!("reading {}", path.display()))?;
    Ok(ContentReport {
        file: path.display().to_string(),
        size: c.bytes,
        sha1: c.sha1.to_hex(),
        sha256: c.sha256.to_hex(),
        signature: c.report.status,
        reason: c.report.reason,
        signers: c
            .report
            .signers
            .iter()
            .map(|s| s.certificate.thumbprint().to_string())
            .collect(),
        elapsed_ms: start.elapsed().as_millis(),
    })
}

fn verify_content(a: VerifyContentArgs) -> anyhow::Result<u8> {
    let jobs = a.jobs.clamp(1, a.files.len().max(1));
    let mut reports: Vec<Option<anyhow::Result<ContentReport>>> =
        a.files.iter().map(|_| None).collect();
    // Files are dealt round-robin to `jobs` threads.
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..jobs)
            .map(|j| {
                let files = &a.files;
                s.spawn(move || {
                    (j..files.len())
                        .step_by(jobs)
                        .map(|i| (i, check(&files[i])))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        for h in handles {
            for (i, r) in h.join().expect("verify-content worker panicked") {
                reports[i] = Some(r);
            }
        }
    });
    let mut ok = true;
    for r in reports.into_iter().flatten() {
        let r = r?;
        ok &= r.signature == SignatureStatus::Valid;
        crate::outln!("{}", serde_json::to_string(&r)?);
    }
    Ok(if ok { EXIT_OK } else { EXIT_ERROR })
}
