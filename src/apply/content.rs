//! Content staging, one file: find or download it, check its SHA-1 against the catalog,
//! check its Authenticode signature and signer (`staging.rs` runs many and stores them).
//!
//! Trust rule 2: content is stored only if its SHA-1 equals the SDP digest, it carries a valid
//! signature (11516 otherwise), and its signer is an approved content certificate.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use sha1::Digest as _;

use super::downloads::Origin;
use crate::catalog::fetch::Fetcher;
use crate::catalog::model::OriginFile;
use crate::ids::{Sha1, Sha256};
use crate::store::{CertKind, CertState, StoredCertificate};
use crate::trust::{self, SignatureStatus};

/// Where what apply writes comes from: content files, and the package XML a plan refers to.
pub struct ContentContext<'a> {
    /// Reads the packages a plan publishes (`apply::packages`); `None` when every payload
    /// holds its XML already.
    pub packages: Option<&'a dyn super::Packages>,
    /// Downloads over HTTP(S); `None` means offline (only `content_source` folders).
    pub fetcher: Option<&'a Fetcher>,
    /// Per catalog key, the folders searched by file name and digest before the network, in
    /// order: the catalog's `content_source`, then what `import-bundle` installed
    /// (`<state>/bundle-content/`). The first copy whose SHA-1 is the catalog's wins.
    pub sources: BTreeMap<String, Vec<PathBuf>>,
    pub now: DateTime<Utc>,
}

#[derive(Debug, thiserror::Error)]
pub enum StageError {
    #[error(
        "HASH_FAIL: {file} has SHA-1 {actual}, the catalog says {expected}; the vendor may have replaced the file at the same URL (refresh the catalog)"
    )]
    Digest {
        file: String,
        expected: Sha1,
        actual: Sha1,
    },
    #[error("11516: {0}")]
    Unsigned(String),
    #[error("TRUST_FAIL: certificate {thumbprint} ({subject}) that signed {file} is BLOCKED")]
    Blocked {
        file: String,
        thumbprint: String,
        subject: String,
    },
    #[error(
        "TRUST_FAIL: certificate {thumbprint} ({subject}) that signed {file} is not yet approved; approve it with a [[certificate]] entry (kind = \"content\") after review"
    )]
    NotApproved {
        file: String,
        thumbprint: String,
        subject: String,
    },
    #[error("{file}: not in {source_dir} and {why}")]
    Unavailable {
        file: String,
        source_dir: String,
        why: String,
    },
    #[error("{file}: {source}")]
    Io {
        file: String,
        source: std::io::Error,
    },
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
}

/// A verified file ready for `Change::StageContent`.
pub(super) struct Verified {
    pub(super) path: tempfile::TempPath,
    pub(super) sha1: Sha1,
    pub(super) sha256: Sha256,
    pub(super) ext: String,
    pub(super) origin: Origin,
}

fn io(file: &str) -> impl Fn(std::io::Error) -> StageError + '_ {
    move |source| StageError::Io {
        file: file.to_string(),
        source,
    }
}

/// Reads `input` to the end in 1 MiB chunks, computing its SHA-1 and SHA-256 in one pass
/// and handing every chunk to `sink`: for files whose signature is not checked (bundles,
/// atomic copies); content staging uses `trust::check_file`, which also verifies it.
pub fn hash_stream(
    input: &mut impl Read,
    mut sink: impl FnMut(&[u8]) -> std::io::Result<()>,
) -> std::io::Result<(Sha1, Sha256)> {
    let (mut h1, mut h2) = (sha1::Sha1::new(), sha2::Sha256::new());
    trust::for_each_chunk(input, |chunk| {
        h1.update(chunk);
        h2.update(chunk);
        sink(chunk)
    })?;
    Ok((Sha1(h1.finalize().into()), Sha256(h2.finalize().into())))
}

/// Copies `from` into the staging area, hashing it and verifying its signature on the way:
/// one read of the file, whatever its size ([`trust::check_file`]).
fn copy_checked(
    from: &Path,
    staging: &Path,
    name: &str,
    now: DateTime<Utc>,
) -> Result<(tempfile::TempPath, trust::ContentCheck), StageError> {
    let mut out = tempfile::NamedTempFile::new_in(staging).map_err(io(name))?;
    let check = trust::check_file(from, now, |chunk| out.write_all(chunk)).map_err(io(name))?;
    out.as_file().sync_all().map_err(io(name))?;
    Ok((out.into_temp_path(), check))
}

/// Looks for `file` in the content source folder: under its digest first
/// (`<SHA1HEX>/<name>`, where a bundle keeps files that share a name with another), then by
/// name, then by name anywhere below. Whatever it finds counts only when its digest matches
/// (see [`acquire`]).
fn find_local(dir: &Path, file: &OriginFile) -> Option<PathBuf> {
    let by_digest = dir.join(file.sha1.to_hex()).join(&file.name);
    if by_digest.is_file() {
        return Some(by_digest);
    }
    let direct = dir.join(&file.name);
    if direct.is_file() {
        return Some(direct);
    }
    let mut stack = vec![dir.to_path_buf()];
    let mut seen = 0;
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).ok()?.flatten() {
            seen += 1;
            if seen > 100_000 {
                return None;
            }
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p
                .file_name()
                .is_some_and(|n| n.to_string_lossy().eq_ignore_ascii_case(&file.name))
                && p.metadata().is_ok_and(|m| m.len() == file.size)
            {
                return Some(p);
            }
        }
    }
    None
}

/// The extension a content file is stored under in `WsusContent/` (`bin` when the name has
/// none that is safe).
pub(crate) fn ext_of(name: &str) -> String {
    let e = Path::new(name)
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    if !e.is_empty() && e.len() <= 16 && e.bytes().all(|b| b.is_ascii_alphanumeric()) {
        e
    } else {
        "bin".into()
    }
}

/// Finds or downloads one file and checks digest and signature.
pub(super) async fn acquire(
    ctx: &ContentContext<'_>,
    sources: &[PathBuf],
    staging: &Path,
    file: &OriginFile,
    certs: &[StoredCertificate],
) -> Result<Verified, StageError> {
    let mut local = None;
    for p in sources.iter().filter_map(|d| find_local(d, file)) {
        let (staging, name, now) = (staging.to_path_buf(), file.name.clone(), ctx.now);
        let copied = tokio::task::spawn_blocking(move || copy_checked(&p, &staging, &name, now))
            .await
            .map_err(|e| StageError::Io {
                file: file.name.clone(),
                source: std::io::Error::other(e),
            })??;
        // A local file counts only when its digest is the catalog's; a stale copy with the
        // same name falls through to the next folder, then to the download (or to
        // HASH_FAIL when offline).
        if copied.1.sha1 == file.sha1 {
            local = Some(copied);
            break;
        }
        if ctx.fetcher.is_none() || file.uri.is_none() {
            local = Some(copied);
        }
    }
    let origin = if local.is_some() {
        Origin::Local
    } else {
        Origin::Downloaded
    };
    let (path, check) = match (local, ctx.fetcher, &file.uri) {
        (Some(copied), _, _) => copied,
        (None, Some(fetcher), Some(uri)) => {
            let d = fetcher
                .download(uri, staging, Some(file.size))
                .await
                .map_err(|e| StageError::Unavailable {
                    file: file.name.clone(),
                    source_dir: source_dirs(sources),
                    why: format!("the download failed: {e}"),
                })?;
            // The download hashed what it wrote; the signature is read from the file (one
            // pass, bounded memory), and its digest must still be the download's.
            let (p, name, now) = (d.path.to_path_buf(), file.name.clone(), ctx.now);
            let check = tokio::task::spawn_blocking(move || {
                trust::check_file(&p, now, |_| Ok(())).map_err(io(&name))
            })
            .await
            .map_err(|e| StageError::Io {
                file: file.name.clone(),
                source: std::io::Error::other(e),
            })??;
            if check.sha1 != d.sha1 {
                return Err(StageError::Io {
                    file: file.name.clone(),
                    source: std::io::Error::other(
                        "the download changed on disk before it was verified",
                    ),
                });
            }
            (d.path, check)
        }
        (None, _, uri) => {
            return Err(StageError::Unavailable {
                file: file.name.clone(),
                source_dir: source_dirs(sources),
                why: if uri.is_none() {
                    "the catalog gives no OriginUri".into()
                } else {
                    "downloads are off (offline)".into()
                },
            });
        }
    };
    if check.sha1 != file.sha1 {
        return Err(StageError::Digest {
            file: file.name.clone(),
            expected: file.sha1,
            actual: check.sha1,
        });
    }
    judge_signature(check.report, &file.name, certs)?;
    Ok(Verified {
        path,
        sha1: check.sha1,
        sha256: check.sha256,
        ext: ext_of(&file.name),
        origin,
    })
}

/// The folders searched, for a message.
fn source_dirs(sources: &[PathBuf]) -> String {
    if sources.is_empty() {
        return "(no content_source)".into();
    }
    sources
        .iter()
        .map(|s| s.display().to_string())
        .collect::<Vec<_>>()
        .join(" or ")
}

/// Whether a file's signature report lets it be staged: valid, no blocked signer, and an
/// approved content signer.
fn judge_signature(
    report: trust::SignatureReport,
    name: &str,
    certs: &[StoredCertificate],
) -> Result<(), StageError> {
    match report.status {
        SignatureStatus::Valid => {}
        SignatureStatus::Unsigned => {
            return Err(StageError::Unsigned(format!(
                "{name} is unsigned. Only content with valid signatures can be published."
            )));
        }
        SignatureStatus::Invalid => {
            return Err(StageError::Unsigned(format!(
                "{name} has an invalid signature ({}). Only content with valid signatures can be published.",
                report.reason.unwrap_or_default()
            )));
        }
    }
    let content = |state: CertState| {
        certs
            .iter()
            .filter(move |c| c.kind == CertKind::Content && c.state == state)
    };
    for s in &report.signers {
        let t = s.certificate.thumbprint();
        if content(CertState::Blocked)
            .any(|c| c.matches(&t) || c.matches(&(&s.certificate.sha256).into()))
        {
            return Err(StageError::Blocked {
                file: name.to_string(),
                thumbprint: t.to_string(),
                subject: s.certificate.subject.clone(),
            });
        }
    }
    let approved = report.signers.iter().any(|s| {
        content(CertState::Approved).any(|c| {
            c.matches(&s.certificate.thumbprint()) || c.matches(&(&s.certificate.sha256).into())
        })
    });
    if approved {
        return Ok(());
    }
    let s = &report.signers[0].certificate;
    Err(StageError::NotApproved {
        file: name.to_string(),
        thumbprint: s.thumbprint().to_string(),
        subject: s.subject.clone(),
    })
}
