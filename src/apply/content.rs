//! Content staging: find or download each origin file, check its SHA-1 against the catalog,
//! check its Authenticode signature and signer, then move it into the store.
//!
//! Trust rule 2: content is stored only if its SHA-1 equals the SDP digest, it carries a valid
//! signature (11516 otherwise), and its signer is an approved content certificate.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use futures::StreamExt;
use sha1::Digest as _;

use super::downloads::{Downloads, Origin, SUMMARY_EVERY};
use super::{ApplyOptions, journal};
use crate::catalog::fetch::Fetcher;
use crate::catalog::model::OriginFile;
use crate::ids::{Sha1, Sha256, UpdateId};
use crate::plan::{Action, Payload};
use crate::store::{
    Address, Backend, DoneEntry, CertKind, CertState, Fingerprint, Op, Outcome, PlanId, Severity,
    StageRequest, StatusMessage, StoredCertificate, Target,
};
use crate::trust::{self, SignatureStatus};

/// Where content comes from during apply.
pub struct ContentContext<'a> {
    /// Downloads over HTTP(S); `None` means offline (only `content_source` folders).
    pub fetcher: Option<&'a Fetcher>,
    /// Per catalog key, the folder searched by file name and digest before the network.
    pub sources: BTreeMap<String, PathBuf>,
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

/// A verified file ready for `Op::StageContent`.
struct Verified {
    path: tempfile::TempPath,
    sha1: Sha1,
    sha256: Sha256,
    ext: String,
    origin: Origin,
}

fn io(file: &str) -> impl Fn(std::io::Error) -> StageError + '_ {
    move |source| StageError::Io {
        file: file.to_string(),
        source,
    }
}

/// Reads `input` to the end in 1 MiB chunks, computing its SHA-1 and SHA-256 in one pass
/// and handing every chunk to `sink` (the staging copy, or an in-memory buffer for the
/// signature check). Shared by staging and `supctl debug verify-content`.
pub fn hash_stream(
    input: &mut impl Read,
    mut sink: impl FnMut(&[u8]) -> std::io::Result<()>,
) -> std::io::Result<(Sha1, Sha256)> {
    let (mut h1, mut h2) = (sha1::Sha1::new(), sha2::Sha256::new());
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = match input.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        h1.update(&buf[..n]);
        h2.update(&buf[..n]);
        sink(&buf[..n])?;
    }
    Ok((Sha1(h1.finalize().into()), Sha256(h2.finalize().into())))
}

/// Copies `from` into the staging area while hashing it.
fn copy_hashed(
    from: &Path,
    staging: &Path,
    name: &str,
) -> Result<(tempfile::TempPath, Sha1, Sha256), StageError> {
    let mut input = std::fs::File::open(from).map_err(io(name))?;
    let mut out = tempfile::NamedTempFile::new_in(staging).map_err(io(name))?;
    let (sha1, sha256) = hash_stream(&mut input, |chunk| out.write_all(chunk)).map_err(io(name))?;
    out.as_file().sync_all().map_err(io(name))?;
    Ok((out.into_temp_path(), sha1, sha256))
}

/// Looks for `file` in the content source folder: by name first, then by name anywhere below.
fn find_local(dir: &Path, file: &OriginFile) -> Option<PathBuf> {
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

fn ext_of(name: &str) -> String {
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
async fn acquire(
    ctx: &ContentContext<'_>,
    source: Option<&PathBuf>,
    staging: &Path,
    file: &OriginFile,
    certs: &[StoredCertificate],
) -> Result<Verified, StageError> {
    let mut local = None;
    if let Some(p) = source.and_then(|d| find_local(d, file)) {
        let (staging, name) = (staging.to_path_buf(), file.name.clone());
        let copied = tokio::task::spawn_blocking(move || copy_hashed(&p, &staging, &name))
            .await
            .map_err(|e| StageError::Io {
                file: file.name.clone(),
                source: std::io::Error::other(e),
            })??;
        // A local file counts only when its digest is the catalog's; a stale copy with the
        // same name falls through to the download (or to HASH_FAIL when offline).
        let usable = copied.1 == file.sha1 || ctx.fetcher.is_none() || file.uri.is_none();
        if usable {
            local = Some(copied);
        }
    }
    let origin = if local.is_some() {
        Origin::Local
    } else {
        Origin::Downloaded
    };
    let (path, sha1, sha256) = match (local, ctx.fetcher, &file.uri) {
        (Some(copied), _, _) => copied,
        (None, Some(fetcher), Some(uri)) => {
            let d = fetcher
                .download(uri, staging, Some(file.size))
                .await
                .map_err(|e| StageError::Unavailable {
                    file: file.name.clone(),
                    source_dir: source
                        .map(|s| s.display().to_string())
                        .unwrap_or_else(|| "(no content_source)".into()),
                    why: format!("the download failed: {e}"),
                })?;
            (d.path, d.sha1, d.sha256)
        }
        (None, _, uri) => {
            return Err(StageError::Unavailable {
                file: file.name.clone(),
                source_dir: source
                    .map(|s| s.display().to_string())
                    .unwrap_or_else(|| "(no content_source)".into()),
                why: if uri.is_none() {
                    "the catalog gives no OriginUri".into()
                } else {
                    "downloads are off (offline)".into()
                },
            });
        }
    };
    if sha1 != file.sha1 {
        return Err(StageError::Digest {
            file: file.name.clone(),
            expected: file.sha1,
            actual: sha1,
        });
    }
    let (name, now, certs, p) = (
        file.name.clone(),
        ctx.now,
        certs.to_vec(),
        path.to_path_buf(),
    );
    tokio::task::spawn_blocking(move || check_signature(&p, &name, now, &certs))
        .await
        .map_err(|e| StageError::Io {
            file: file.name.clone(),
            source: std::io::Error::other(e),
        })??;
    Ok(Verified {
        path,
        sha1,
        sha256,
        ext: ext_of(&file.name),
        origin,
    })
}

fn check_signature(
    path: &Path,
    name: &str,
    now: DateTime<Utc>,
    certs: &[StoredCertificate],
) -> Result<(), StageError> {
    let data = std::fs::read(path).map_err(io(name))?;
    let report = trust::verify_file(&data, now);
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

/// One action's files as they finish.
struct ActionFiles {
    update: Option<UpdateId>,
    verified: Vec<Verified>,
    /// Files not finished yet.
    left: usize,
    /// The first failure; the action's files not yet started are then skipped.
    error: Option<StageError>,
    cancelled: bool,
}

/// Stages every file of every action, `opts.concurrency` files at once whatever updates
/// they belong to (an update with several files, or several catalogs, no longer narrow
/// the parallelism), and journals each action once all its files are in. `None` for an
/// action means not attempted: the apply was cancelled before its files started (files
/// already downloading finish, and a finished action is journaled, so a resume skips it).
pub(super) async fn stage_all(
    backend: &dyn Backend,
    ctx: &ContentContext<'_>,
    actions: &[&Action],
    opts: &ApplyOptions,
    plan: &PlanId,
) -> Vec<Option<Result<Option<Fingerprint>, String>>> {
    let prepared = (|| -> Result<_, crate::store::StoreError> {
        Ok((backend.staging_dir()?, backend.snapshot()?.certificates))
    })();
    let (staging, certs) = match prepared {
        Ok(x) => x,
        Err(e) => return actions.iter().map(|_| Some(Err(e.to_string()))).collect(),
    };
    let mut results: Vec<Option<Result<Option<Fingerprint>, String>>> =
        actions.iter().map(|_| None).collect();
    let mut state: Vec<ActionFiles> = Vec::with_capacity(actions.len());
    let mut files: Vec<&[OriginFile]> = Vec::with_capacity(actions.len());
    for a in actions {
        let (update, f, error) = match &a.payload {
            Some(Payload::Content { update, files }) => (Some(update.clone()), &files[..], None),
            _ => (
                None,
                &[][..],
                Some(StageError::Unsigned(format!(
                    "{} has no content payload",
                    a.address
                ))),
            ),
        };
        files.push(f);
        state.push(ActionFiles {
            update,
            verified: Vec::new(),
            left: f.len(),
            error,
            cancelled: false,
        });
    }
    let skip: Vec<std::sync::atomic::AtomicBool> =
        actions.iter().map(|_| Default::default()).collect();
    let total = files.iter().map(|f| f.len()).sum();
    let mut downloads = Downloads::new(&opts.progress, total);
    for i in 0..actions.len() {
        if state[i].left == 0 {
            results[i] = finish(backend, actions[i], &mut state[i], opts, plan);
        }
    }
    let sources: Vec<Option<&PathBuf>> = actions
        .iter()
        .map(|a| {
            let catalog = match Address::parse(&a.address).ok().and_then(|x| x.target()) {
                Some(Target::Update(k, _)) => k.to_string(),
                _ => String::new(),
            };
            ctx.sources.get(&catalog)
        })
        .collect();
    let jobs = files.iter().enumerate().flat_map(|(i, f)| {
        let (staging, certs, source, skip) = (&staging, &certs, sources[i], &skip[i]);
        f.iter().map(move |f| async move {
            if opts.cancelled() {
                return (i, f, None);
            }
            if skip.load(std::sync::atomic::Ordering::SeqCst) {
                return (i, f, Some(Err(None)));
            }
            let started = std::time::Instant::now();
            let r = acquire(ctx, source, staging, f, certs).await;
            if r.is_err() {
                skip.store(true, std::sync::atomic::Ordering::SeqCst);
            }
            (i, f, Some(r.map(|v| (v, started.elapsed())).map_err(Some)))
        })
    });
    let mut stream = futures::stream::iter(jobs).buffer_unordered(opts.concurrency.max(1));
    let mut summary =
        tokio::time::interval_at(tokio::time::Instant::now() + SUMMARY_EVERY, SUMMARY_EVERY);
    loop {
        let next = tokio::select! {
            next = stream.next() => next,
            _ = summary.tick() => {
                downloads.report();
                continue;
            }
        };
        let Some((i, file, outcome)) = next else {
            break;
        };
        let s = &mut state[i];
        s.left -= 1;
        match outcome {
            None => s.cancelled = true,
            // Not started: an earlier file of the same update failed.
            Some(Err(None)) => {}
            Some(Err(Some(e))) => {
                downloads.failed(&file.name, &e.to_string());
                s.error.get_or_insert(e);
            }
            Some(Ok((v, took))) => {
                downloads.done(&file.name, v.origin, file.size, took);
                s.verified.push(v);
            }
        }
        if s.left == 0 {
            results[i] = finish(backend, actions[i], s, opts, plan);
        }
    }
    downloads.report();
    results
}

/// Stores (or reports the failure of) one action whose files are all finished, and
/// journals it; `None` when it was cancelled before all its files started.
fn finish(
    backend: &dyn Backend,
    a: &Action,
    s: &mut ActionFiles,
    opts: &ApplyOptions,
    plan: &PlanId,
) -> Option<Result<Option<Fingerprint>, String>> {
    let key = format!("{}#stage", a.address);
    let update = s.update.clone();
    let result = match s.error.take() {
        Some(e) => {
            if let (StageError::Unsigned(text), Some(id)) = (&e, &update) {
                let _ = backend.apply(Op::RecordStatusMessage(StatusMessage {
                    at: Utc::now(),
                    number: 11516,
                    severity: Severity::Error,
                    text: crate::status::content_unsigned(id.as_str()).text + " " + text,
                    address: Address::parse(&a.address).ok(),
                }));
            }
            Err(e)
        }
        None if s.cancelled => return None,
        // The files and the journal entry in one transaction; then the fingerprint the
        // staging left, for the next action on this update.
        None => {
            let done = match (Address::parse(&key), Address::parse(&a.address)) {
                (Ok(key), Ok(object)) => DoneEntry {
                    plan: plan.clone(),
                    key,
                    object,
                    what: "staged".into(),
                },
                (Err(e), _) | (_, Err(e)) => return Some(Err(e.to_string())),
            };
            store_files(backend, update, std::mem::take(&mut s.verified), done)
                .and_then(|()| Ok(super::current(backend, &a.address)?))
        }
    };
    let line = match &result {
        Ok(_) => format!("{}: stage done", a.address),
        Err(e) => format!("{}: stage failed: {e}", a.address),
    };
    opts.progress.step(1, &line);
    Some(match result {
        Ok(fp) => Ok(fp),
        Err(e) => {
            let message = e.to_string();
            journal(backend, plan, &key, Outcome::Failed, &message)
                .map_err(|j| j.to_string())
                .and(Err(message))
        }
    })
}

/// Moves an update's verified files into the store and journals the stage as done, in one
/// transaction: a kill leaves the update either untouched or staged and journaled.
fn store_files(
    backend: &dyn Backend,
    update: Option<UpdateId>,
    files: Vec<Verified>,
    done: DoneEntry,
) -> Result<(), StageError> {
    let update = update.ok_or_else(|| StageError::Unsigned("missing update id".into()))?;
    let ops = files
        .iter()
        .map(|v| {
            Op::StageContent(StageRequest {
                update: update.clone(),
                sha1: v.sha1,
                sha256: v.sha256,
                temp_path: v.path.to_path_buf(),
                ext: v.ext.clone(),
            })
        })
        .collect();
    backend.apply(Op::Atomic {
        ops,
        done: vec![done],
    })?;
    // The temporary files were moved into the store; dropping the paths removes nothing.
    drop(files);
    Ok(())
}
