//! Staging the content of several actions at once: one job per file, `[http] concurrency`
//! files at a time whatever updates they belong to, each action stored and journaled once
//! all its files are in (acquiring and checking one file is `content.rs`).

use std::path::PathBuf;

use chrono::Utc;
use futures::StreamExt;

use super::content::{ContentContext, StageError, Verified, acquire};
use super::downloads::{Downloads, SUMMARY_EVERY};
use super::{ApplyOptions, journal};
use crate::catalog::model::OriginFile;
use crate::ids::UpdateId;
use crate::plan::{Action, Payload};
use crate::store::{
    Change, DoneEntry, Fingerprint, Op, Outcome, PlanId, Record, RecordedMessage, StageRequest,
    Store, Target,
};

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
    backend: &Store,
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
            Some(Payload::Content { update, files }) => (Some(*update), &files[..], None),
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
    let sources: Vec<&[PathBuf]> = actions
        .iter()
        .map(|a| {
            let catalog = match a.address.target() {
                Some(Target::Update(k, _)) => k.to_string(),
                _ => String::new(),
            };
            ctx.sources.get(&catalog).map_or(&[][..], Vec::as_slice)
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
    backend: &Store,
    a: &Action,
    s: &mut ActionFiles,
    opts: &ApplyOptions,
    plan: &PlanId,
) -> Option<Result<Option<Fingerprint>, String>> {
    let key = super::journal_key(a);
    let update = s.update;
    let result = match s.error.take() {
        Some(e) => {
            if let (StageError::Unsigned(text), Some(id)) = (&e, &update) {
                let mut message = crate::status::content_unsigned(&id.as_str());
                message.text = format!("{} {text}", message.text);
                let _ = backend.apply(Record::StatusMessage(RecordedMessage {
                    at: Utc::now(),
                    address: Some(a.address.clone()),
                    message,
                }));
            }
            Err(e)
        }
        None if s.cancelled => return None,
        // The files and the journal entry in one transaction; then the fingerprint the
        // staging left, for the next action on this update.
        None => {
            let done = DoneEntry {
                plan: plan.clone(),
                key: key.clone(),
                what: "staged".into(),
            };
            store_files(backend, update, std::mem::take(&mut s.verified), done)
                .and_then(|()| Ok(backend.fingerprint(&a.address)?))
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
    backend: &Store,
    update: Option<UpdateId>,
    files: Vec<Verified>,
    done: DoneEntry,
) -> Result<(), StageError> {
    let update = update.ok_or_else(|| StageError::Unsigned("missing update id".into()))?;
    let ops = files
        .iter()
        .map(|v| {
            Change::StageContent(StageRequest {
                update,
                sha1: v.sha1,
                sha256: v.sha256,
                temp_path: v.path.to_path_buf(),
                ext: v.ext.clone(),
            })
            .into()
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
