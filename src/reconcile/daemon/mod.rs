//! The `watch` daemon: reconcile on config change, on each catalog's and the update point's
//! schedule, and on `supctl sync` requests handed over by file.
//!
//! One pass runs at a time, in this task. That is what guarantees that two runs of one
//! catalog never overlap (a scope due while a pass runs waits for it), and it matches the
//! store, which has one writer. The daemon holds the state lock for its whole life (the
//! caller takes it), so nothing else writes meanwhile; `sync` hands its request over.
//!
//! SIGTERM/SIGINT set the cancel flag that apply checks before each action: the running
//! action finishes and is journaled, the rest stay for `apply --resume` or the next start,
//! which resumes an interrupted plan before anything else. SIGHUP reloads the config.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use chrono::{DateTime, FixedOffset, Utc};
use tokio::sync::mpsc;

use super::handoff;
use super::pass::PassOptions;
use super::schedule::{self as sched, Timing};
use super::status::Warning;
use super::watcher::{self, Change};
use crate::catalog::fetch::Fetcher;
use crate::config::{self, Config, Schedule};
use crate::store::{HeldLock, Store, StoreError};

mod notifications;
mod passes;
mod service;
mod startup;
mod windows;

use passes::log_scopes;
pub use passes::sync_scope;

/// `--mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Mode {
    /// Apply every change (DSC ApplyAndAutoCorrect, Argo CD self-heal).
    AutoCorrect,
    /// Plan and report drift, change nothing (DSC ApplyAndMonitor). `sync` requests are
    /// still applied: they are an admin's explicit "Sync now".
    MonitorOnly,
}

#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    #[error("watching files: {0}")]
    Watch(#[from] notify_debouncer_full::notify::Error),
    #[error("installing signal handlers: {0}")]
    Signals(std::io::Error),
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Another process took the state lock (`force-unlock`, or a takeover after this
    /// daemon hung past the lock's TTL): two writers must never run, so the daemon stops.
    #[error("{0}; watch stopped: start it again once the other writer is done")]
    LockLost(StoreError),
    #[error(transparent)]
    Web(#[from] crate::web::WebError),
    #[error(transparent)]
    Notify(#[from] crate::notify::NotifyError),
}

pub struct Options {
    pub config_path: PathBuf,
    pub mode: Mode,
    /// `--listen`: the HTTP listener's address, over `[web] listen`.
    pub listen: Option<std::net::SocketAddr>,
    pub timing: Timing,
    /// `--locked`: every pass holds to `supctl.lock` (production after promotion).
    pub locked: bool,
}

/// Longest wait at stop for queued notifications (`daemon-stopped` among them).
const NOTIFY_DRAIN: std::time::Duration = std::time::Duration::from_secs(3);

/// Longest sleep before the wall clock is read again (suspend, clock changes).
const MAX_SLEEP: std::time::Duration = std::time::Duration::from_secs(5);

struct ScopeState {
    schedule: Schedule,
    tz: FixedOffset,
    due: DateTime<Utc>,
    failures: u32,
    /// The first of the failures in a row, for `/readyz`.
    failing_since: Option<DateTime<Utc>>,
}

enum Signal {
    Stop,
    Reload,
}

struct Daemon {
    cfg: Config,
    opts: Options,
    backend: Store,
    fetcher: Fetcher,
    state_dir: PathBuf,
    scopes: BTreeMap<String, ScopeState>,
    cancel: Arc<AtomicBool>,
    /// The state lock, held for the daemon's life and checked before each pass.
    lock: Box<dyn HeldLock>,
    warned: BTreeSet<Warning>,
    /// Digest of the config files last loaded: a save that changes nothing (`touch`, an
    /// editor rewriting the same bytes) does not trigger a reconcile.
    loaded: Option<crate::ids::Sha256>,
    /// The HTTP listener's state, when one listens: published to after each pass.
    web: Option<crate::web::WebState>,
    /// Catalogs a sync window kept closed at the last look (`windows.rs`).
    closed: BTreeSet<String>,
    /// Why the last pass failed as a whole, until one succeeds (a notification problem).
    pass_failed: Option<String>,
    /// `[[notify]]`: events derived after each pass, delivered off the reconcile path.
    notifier: crate::notify::Notifier,
}

/// A digest of the config's files (names and contents), `None` if one cannot be read.
fn config_digest(path: &std::path::Path) -> Option<crate::ids::Sha256> {
    use sha2::Digest as _;
    let files = config::config_files(path).ok()?;
    let mut h = sha2::Sha256::new();
    for f in files {
        h.update(f.to_string_lossy().as_bytes());
        h.update(std::fs::read(&f).ok()?);
    }
    // A new lock (a promotion) is a change of desired state too.
    if let Ok(lock) = std::fs::read(crate::lockfile::path_for(path)) {
        h.update(b"supctl.lock");
        h.update(lock);
    }
    Some(crate::ids::Sha256(h.finalize().into()))
}

/// The schedules a config asks for: every subscribed catalog, and `[sync]` if scheduled.
fn wanted_scopes(cfg: &Config) -> Vec<(String, Schedule, FixedOffset)> {
    let mut v: Vec<_> = cfg
        .catalogs
        .values()
        .filter(|c| c.subscribed && !c.suspend)
        .map(|c| {
            (
                format!("catalog.{}", c.key),
                c.schedule.clone(),
                sched::offset(c.timezone.as_deref()),
            )
        })
        .collect();
    if let Some(s) = cfg.sync.as_ref().filter(|s| !s.suspend)
        && let Some(schedule) = &s.schedule
    {
        v.push((
            "sync".into(),
            schedule.clone(),
            sched::offset(s.timezone.as_deref()),
        ));
    }
    v
}

/// Scopes `suspend = true` keeps from running on their own, logged at start-up and reload.
fn log_suspended(cfg: &Config) {
    for c in cfg.catalogs.values().filter(|c| c.subscribed && c.suspend) {
        tracing::info!(scope = %format!("catalog.{}", c.key), "suspended (suspend = true): not scheduled; `supctl sync {}` runs it once", c.key);
    }
    if cfg.sync.as_ref().is_some_and(|s| s.suspend) {
        tracing::info!(
            scope = "sync",
            "suspended (suspend = true): the update point's own sync is not scheduled"
        );
    }
}

fn schedule_key(s: &Schedule, tz: FixedOffset) -> String {
    format!("{s} @{tz}")
}

/// Runs until SIGTERM/SIGINT, or until another process takes `lock` (the state lock, taken
/// by the caller on `backend`).
pub async fn run(
    opts: Options,
    cfg: Config,
    backend: Store,
    fetcher: Fetcher,
    lock: Box<dyn HeldLock>,
) -> Result<(), DaemonError> {
    let state_dir = cfg.server.path.clone();
    let cancel = Arc::new(AtomicBool::new(false));
    let (sig_tx, mut sig_rx) = mpsc::unbounded_channel();
    spawn_signals(cancel.clone(), sig_tx)?;
    let (tx, mut rx) = mpsc::unbounded_channel();
    let _watch = watcher::start(&opts.config_path, &handoff::requests_dir(&state_dir), tx)?;
    let web = match opts.listen.or(cfg.web.listen) {
        None => None,
        Some(addr) => {
            let token = match &cfg.web.token_env {
                None => None,
                Some(var) => Some(
                    std::env::var(var)
                        .ok()
                        .filter(|t| !t.is_empty())
                        .ok_or_else(|| crate::web::WebError::TokenMissing(var.clone()))?,
                ),
            };
            let updates = match cfg.server.backend {
                crate::config::BackendKind::Wsus => crate::web::UpdateSource::Snapshot(
                    crate::store::StoreLocation::new(&cfg.server.path),
                ),
                _ => crate::web::UpdateSource::Embedded(crate::store::StoreLocation::new(
                    &cfg.server.path,
                )),
            };
            let tls = cfg.web.tls_certificate.clone().zip(cfg.web.tls_key.clone());
            let (state, url) = crate::web::start(crate::web::Listen {
                addr,
                token,
                tls,
                backend: backend.name(),
                updates,
            })
            .await?;
            tracing::info!(address = %url, "listening on {url}");
            Some(state)
        }
    };
    let notifier = crate::notify::Notifier::start(
        &cfg,
        Some(&state_dir),
        crate::notify::Timing {
            scale: opts.timing.scale,
        },
    )?;
    if let Some(w) = &web {
        w.set_deliveries(notifier.stats());
    }
    let mut d = Daemon {
        cfg,
        opts,
        backend,
        fetcher,
        state_dir,
        scopes: BTreeMap::new(),
        cancel,
        lock,
        warned: BTreeSet::new(),
        loaded: None,
        web,
        closed: BTreeSet::new(),
        pass_failed: None,
        notifier,
    };
    d.loaded = config_digest(&d.opts.config_path);
    tracing::info!(
        config = %d.opts.config_path.display(),
        mode = ?d.opts.mode,
        scale = d.opts.timing.scale,
        "watch started"
    );
    service::spawn_watchdog();
    d.notify_lifecycle(crate::notify::EventKind::DaemonStarted);
    d.start_up().await?;
    d.log_warnings();
    if let Some(w) = &d.web {
        w.set_ready(true);
    }
    service::ready(&format!("watching {} scope(s)", d.scopes.len()));
    loop {
        if d.cancel.load(Ordering::SeqCst) {
            break;
        }
        d.ensure_lock()?;
        for req in handoff::take_requests(&d.state_dir) {
            match req {
                Ok(req) => d.serve(req).await,
                Err(e) => tracing::warn!(error = %e, "ignoring an unreadable sync request"),
            }
        }
        if d.cancel.load(Ordering::SeqCst) {
            break;
        }
        let now = Utc::now();
        d.open_windows(now);
        let due: Vec<String> = d
            .scopes
            .iter()
            .filter(|(_, s)| s.due <= now)
            .map(|(k, _)| k.clone())
            .collect();
        if !due.is_empty() {
            d.run_scheduled(due).await;
            service::status(&format!(
                "watching {} scope(s); last pass ended {}",
                d.scopes.len(),
                Utc::now().format("%Y-%m-%dT%H:%M:%SZ")
            ));
            continue;
        }
        let wake = d
            .scopes
            .values()
            .map(|s| s.due)
            .chain(d.next_window_change(now))
            .min()
            .map(|t| (t - now).to_std().unwrap_or_default().min(MAX_SLEEP))
            .unwrap_or(MAX_SLEEP);
        let woken = tokio::select! {
            Some(change) = rx.recv() => Some(Ok(change)),
            Some(sig) = sig_rx.recv() => Some(Err(sig)),
            _ = tokio::time::sleep(wake) => None,
        };
        // Whatever woke the daemon, it acts only while it still holds the lock.
        d.ensure_lock()?;
        match woken {
            Some(Ok(Change::Config)) => {
                // One reload for a burst of events.
                while rx.try_recv().is_ok() {}
                if config_digest(&d.opts.config_path) != d.loaded {
                    d.reload("config file changed").await;
                }
            }
            Some(Err(Signal::Stop)) => break,
            Some(Err(Signal::Reload)) => d.reload("SIGHUP").await,
            Some(Ok(_)) | None => {}
        }
    }
    if let Some(w) = &d.web {
        w.set_ready(false);
    }
    service::stopping();
    d.notify_lifecycle(crate::notify::EventKind::DaemonStopped);
    d.notifier.shutdown(NOTIFY_DRAIN).await;
    tracing::info!("watch stopped");
    Ok(())
}

impl Daemon {
    /// The fencing token refuses a lost holder's writes; stopping as soon as the loss is
    /// seen keeps the daemon from even trying (and from acquiring catalogs for nothing).
    fn ensure_lock(&self) -> Result<(), DaemonError> {
        self.lock.check().map_err(|e| {
            tracing::error!(error = %e, "the state lock was taken over: watch stopped");
            DaemonError::LockLost(e)
        })
    }
}

fn spawn_signals(
    cancel: Arc<AtomicBool>,
    tx: mpsc::UnboundedSender<Signal>,
) -> Result<(), DaemonError> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = signal(SignalKind::terminate()).map_err(DaemonError::Signals)?;
        let mut int = signal(SignalKind::interrupt()).map_err(DaemonError::Signals)?;
        let mut hup = signal(SignalKind::hangup()).map_err(DaemonError::Signals)?;
        tokio::spawn(async move {
            loop {
                let stop = tokio::select! {
                    _ = term.recv() => true,
                    _ = int.recv() => true,
                    _ = hup.recv() => false,
                };
                if stop {
                    tracing::info!("stop requested: finishing the running action");
                    cancel.store(true, Ordering::SeqCst);
                    let _ = tx.send(Signal::Stop);
                } else {
                    let _ = tx.send(Signal::Reload);
                }
            }
        });
    }
    #[cfg(not(unix))]
    {
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                cancel.store(true, Ordering::SeqCst);
                let _ = tx.send(Signal::Stop);
            }
        });
    }
    Ok(())
}

impl Daemon {
    /// Options of a pass: scheduled and config-triggered ones (`manual` false) hold the
    /// catalogs a sync window keeps closed; an admin's `sync` request (`manual`) only those
    /// whose windows do not set `manual_sync`.
    fn pass_options(&self, apply: bool, manual: bool) -> PassOptions {
        PassOptions {
            apply,
            closed: crate::reconcile::windows::closed(&self.cfg, Utc::now(), manual),
            locked: self.opts.locked,
            cancel: Some(self.cancel.clone()),
            progress: crate::apply::Progress::Quiet,
        }
    }
}
