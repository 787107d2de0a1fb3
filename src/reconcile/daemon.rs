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

use super::handoff::{self, SyncRequest, SyncResponse};
use super::pass::{self, PassOptions, Scope};
use super::record::{RunRecord, ScopeOutcome, record_runs};
use super::schedule::{self as sched, Startup, Timing};
use super::status::{self, Warning};
use super::watcher::{self, Change};
use crate::catalog::fetch::Fetcher;
use crate::config::{self, Config, Schedule};
use crate::store::{Address, Backend, NextRun, Op, RunResult, StoreError};

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
}

pub struct Options {
    pub config_path: PathBuf,
    pub mode: Mode,
    pub timing: Timing,
}

/// Longest sleep before the wall clock is read again (suspend, clock changes).
const MAX_SLEEP: std::time::Duration = std::time::Duration::from_secs(5);

struct ScopeState {
    schedule: Schedule,
    tz: FixedOffset,
    due: DateTime<Utc>,
    failures: u32,
}

enum Signal {
    Stop,
    Reload,
}

struct Daemon {
    cfg: Config,
    opts: Options,
    backend: Box<dyn Backend>,
    fetcher: Fetcher,
    state_dir: PathBuf,
    scopes: BTreeMap<String, ScopeState>,
    cancel: Arc<AtomicBool>,
    warned: BTreeSet<Warning>,
    /// Digest of the config files last loaded: a save that changes nothing (`touch`, an
    /// editor rewriting the same bytes) does not trigger a reconcile.
    loaded: Option<crate::ids::Sha256>,
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
    Some(crate::ids::Sha256(h.finalize().into()))
}

/// The schedules a config asks for: every subscribed catalog, and `[sync]` if scheduled.
fn wanted_scopes(cfg: &Config) -> Vec<(String, Schedule, FixedOffset)> {
    let mut v: Vec<_> = cfg
        .catalogs
        .values()
        .filter(|c| c.subscribed)
        .map(|c| {
            (
                format!("catalog.{}", c.key),
                c.schedule.clone(),
                sched::offset(c.timezone.as_deref()),
            )
        })
        .collect();
    if let Some(s) = &cfg.sync
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

fn schedule_key(s: &Schedule, tz: FixedOffset) -> String {
    format!("{s} @{tz}")
}

/// Runs until SIGTERM/SIGINT. The caller holds the state lock.
pub async fn run(
    opts: Options,
    cfg: Config,
    backend: Box<dyn Backend>,
    fetcher: Fetcher,
) -> Result<(), DaemonError> {
    let state_dir = cfg.server.path.clone();
    let cancel = Arc::new(AtomicBool::new(false));
    let (sig_tx, mut sig_rx) = mpsc::unbounded_channel();
    spawn_signals(cancel.clone(), sig_tx)?;
    let (tx, mut rx) = mpsc::unbounded_channel();
    let _watch = watcher::start(&opts.config_path, &handoff::requests_dir(&state_dir), tx)?;
    let mut d = Daemon {
        cfg,
        opts,
        backend,
        fetcher,
        state_dir,
        scopes: BTreeMap::new(),
        cancel,
        warned: BTreeSet::new(),
        loaded: None,
    };
    d.loaded = config_digest(&d.opts.config_path);
    tracing::info!(
        config = %d.opts.config_path.display(),
        mode = ?d.opts.mode,
        scale = d.opts.timing.scale,
        "watch started"
    );
    d.start_up().await?;
    loop {
        if d.cancel.load(Ordering::SeqCst) {
            break;
        }
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
        let due: Vec<String> = d
            .scopes
            .iter()
            .filter(|(_, s)| s.due <= now)
            .map(|(k, _)| k.clone())
            .collect();
        if !due.is_empty() {
            d.run_scheduled(due).await;
            continue;
        }
        let wake = d
            .scopes
            .values()
            .map(|s| s.due)
            .min()
            .map(|t| (t - now).to_std().unwrap_or_default().min(MAX_SLEEP))
            .unwrap_or(MAX_SLEEP);
        tokio::select! {
            Some(change) = rx.recv() => {
                if change == Change::Config {
                    // One reload for a burst of events.
                    while rx.try_recv().is_ok() {}
                    if config_digest(&d.opts.config_path) != d.loaded {
                        d.reload("config file changed").await;
                    }
                }
            }
            Some(sig) = sig_rx.recv() => match sig {
                Signal::Stop => break,
                Signal::Reload => d.reload("SIGHUP").await,
            },
            _ = tokio::time::sleep(wake) => {}
        }
    }
    tracing::info!("watch stopped");
    Ok(())
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
    fn pass_options(&self, apply: bool) -> PassOptions {
        PassOptions {
            apply,
            cancel: Some(self.cancel.clone()),
            progress_lines: false,
        }
    }

    /// Resume an interrupted apply, restore the schedules, catch up missed slots, and
    /// reconcile a config that changed while the daemon was stopped.
    async fn start_up(&mut self) -> Result<(), DaemonError> {
        if let Ok(Some(plan)) = pass::interrupted_plan(&self.cfg, self.backend.as_ref()) {
            if self.opts.mode == Mode::AutoCorrect {
                tracing::info!(plan = %plan.id, "resuming the interrupted apply");
                let started = Utc::now();
                let opts = self.pass_options(true);
                match pass::apply_plan(
                    &self.cfg,
                    self.backend.as_ref(),
                    &self.fetcher,
                    &plan,
                    true,
                    &opts,
                )
                .await
                {
                    Ok(report) => {
                        let scopes = record_runs(
                            self.backend.as_ref(),
                            &RunRecord {
                                cfg: &self.cfg,
                                plan: &plan,
                                report: Some(&report),
                                started,
                                acquired: &BTreeMap::new(),
                                extra_scopes: &[],
                                cancelled: self.cancel.load(Ordering::SeqCst),
                            },
                        )?;
                        log_scopes("resume", &scopes);
                    }
                    Err(e) => tracing::error!(plan = %plan.id, error = %e, "resuming failed"),
                }
            } else {
                tracing::warn!(plan = %plan.id, "an apply was interrupted; monitor-only mode leaves it: run `supctl apply --resume`");
            }
        }
        let persisted = self.backend.next_runs()?;
        let now = Utc::now();
        let mut catch_up = Vec::new();
        for (scope, schedule, tz) in wanted_scopes(&self.cfg) {
            let key = schedule_key(&schedule, tz);
            let p = persisted.iter().find(|p| p.scope.as_str() == scope);
            let due = match sched::on_startup(p, &key, now) {
                Startup::At(t) => t,
                Startup::RunNow { missed } => {
                    if let Some(m) = missed {
                        tracing::info!(scope = %scope, missed = %m, "catching up a missed run");
                    }
                    catch_up.push(scope.clone());
                    now
                }
                Startup::Reschedule => {
                    sched::next_due(&schedule, tz, now, &self.opts.timing, sched::uniform()).0
                }
            };
            self.scopes.insert(
                scope,
                ScopeState {
                    schedule,
                    tz,
                    due,
                    failures: 0,
                },
            );
        }
        if self.config_drifted()? {
            tracing::info!("the config differs from the server: reconciling everything");
            self.run_pass(
                Scope::everything(),
                "start-up",
                self.opts.mode == Mode::AutoCorrect,
            )
            .await;
        } else if !catch_up.is_empty() {
            self.run_scheduled(catch_up).await;
        }
        for (scope, s) in &self.scopes {
            tracing::info!(scope = %scope, next = %s.due, "scheduled");
        }
        Ok(())
    }

    /// Whether the config's settings-level objects (catalog settings, certificates, `[sync]`,
    /// signing) differ from the server: a plan without acquiring any catalog, so it costs
    /// no download.
    fn config_drifted(&self) -> Result<bool, StoreError> {
        let actual = self.backend.snapshot()?;
        let none = BTreeMap::new();
        let plan = crate::plan::diff::diff(&crate::plan::diff::Inputs {
            desired: &self.cfg,
            catalogs: &none,
            actual: &actual,
            capabilities: self.backend.capabilities(),
            backend: self.backend.name(),
        });
        Ok(plan.changes)
    }

    async fn reload(&mut self, why: &str) {
        self.loaded = config_digest(&self.opts.config_path);
        match config::load(&self.opts.config_path) {
            Ok((cfg, warnings)) => {
                for w in &warnings {
                    tracing::warn!("{w}");
                }
                if cfg.server.path != self.cfg.server.path {
                    tracing::error!(
                        old = %self.cfg.server.path.display(),
                        new = %cfg.server.path.display(),
                        "[server] path changed: restart the daemon to use another state directory; keeping the last valid config"
                    );
                    return;
                }
                tracing::info!(reason = why, "config reloaded");
                self.cfg = cfg;
                let now = Utc::now();
                let mut next = BTreeMap::new();
                for (scope, schedule, tz) in wanted_scopes(&self.cfg) {
                    let kept = self
                        .scopes
                        .remove(&scope)
                        .filter(|s| schedule_key(&s.schedule, s.tz) == schedule_key(&schedule, tz));
                    let state = kept.unwrap_or_else(|| ScopeState {
                        due: sched::next_due(
                            &schedule,
                            tz,
                            now,
                            &self.opts.timing,
                            sched::uniform(),
                        )
                        .0,
                        schedule,
                        tz,
                        failures: 0,
                    });
                    next.insert(scope, state);
                }
                self.scopes = next;
                self.run_pass(
                    Scope::everything(),
                    why,
                    self.opts.mode == Mode::AutoCorrect,
                )
                .await;
            }
            Err(diags) => {
                for d in diags.errors() {
                    tracing::error!("{d}");
                }
                tracing::error!(
                    errors = diags.error_count(),
                    "the config is invalid; the last valid config stays in force"
                );
            }
        }
    }

    async fn run_scheduled(&mut self, due: Vec<String>) {
        let scope = Scope {
            all: false,
            catalogs: due
                .iter()
                .filter_map(|s| s.strip_prefix("catalog."))
                .map(str::to_string)
                .collect(),
            sup: due.iter().any(|s| s == "sync"),
        };
        self.run_pass(scope, "schedule", self.opts.mode == Mode::AutoCorrect)
            .await;
    }

    /// Runs one pass and reschedules its scopes (success: next slot; failure: backoff).
    async fn run_pass(
        &mut self,
        scope: Scope,
        why: &str,
        apply: bool,
    ) -> Option<pass::PassOutcome> {
        let covered: Vec<String> = if scope.all {
            self.scopes.keys().cloned().collect()
        } else {
            let mut v: Vec<String> = scope
                .catalogs
                .iter()
                .map(|k| format!("catalog.{k}"))
                .collect();
            if scope.sup {
                v.push("sync".into());
            }
            v
        };
        tracing::info!(reason = why, scopes = ?covered, apply, "reconciling");
        let opts = self.pass_options(apply);
        let result = pass::run(
            &self.cfg,
            self.backend.as_ref(),
            &self.fetcher,
            &scope,
            &opts,
        )
        .await;
        let (outcomes, out) = match result {
            Ok(o) => {
                if !apply && o.plan.changes {
                    tracing::warn!(summary = %crate::plan::render::summary_line(&o.plan), "drift detected (monitor-only: not applied)");
                    for a in &o.plan.actions {
                        tracing::info!(address = %a.address, action = %a.kind, reason = %a.reason, "drift");
                    }
                }
                log_scopes(why, &o.scopes);
                (o.scopes.clone(), Some(o))
            }
            Err(e) => {
                tracing::error!(reason = why, error = %e, "reconcile failed");
                (Vec::new(), None)
            }
        };
        if out.as_ref().is_some_and(|o| o.cancelled) {
            return out;
        }
        let now = Utc::now();
        for scope in covered {
            let failed = match outcomes.iter().find(|o| o.scope == scope) {
                Some(o) => o.result != RunResult::Succeeded,
                None => out.is_none(),
            };
            self.reschedule(&scope, failed, now);
        }
        self.log_warnings();
        out
    }

    fn reschedule(&mut self, scope: &str, failed: bool, now: DateTime<Utc>) {
        let timing = self.opts.timing;
        let Some(s) = self.scopes.get_mut(scope) else {
            return;
        };
        if failed {
            s.failures += 1;
            let delay = sched::backoff(
                s.failures,
                s.schedule.nominal_period(),
                &timing,
                sched::uniform(),
            );
            s.due = now + delay;
            tracing::warn!(scope = %scope, failures = s.failures, retry_ms = delay.num_milliseconds(), next = %s.due, "retrying with backoff");
        } else {
            s.failures = 0;
            let (due, jitter) = sched::next_due(&s.schedule, s.tz, now, &timing, sched::uniform());
            s.due = due;
            tracing::info!(scope = %scope, next = %due, jitter_ms = jitter.num_milliseconds(), "next run scheduled");
        }
        let key = schedule_key(&s.schedule, s.tz);
        let due = s.due;
        if let Ok(address) = Address::parse(scope)
            && let Err(e) = self.backend.apply(Op::SetNextRun(NextRun {
                scope: address,
                due,
                schedule: key,
            }))
        {
            tracing::error!(scope = %scope, error = %e, "could not persist the next run time");
        }
    }

    /// Serves a `supctl sync` request: always applied (an explicit "Sync now").
    async fn serve(&mut self, req: SyncRequest) {
        tracing::info!(id = %req.id, catalogs = ?req.catalogs, pid = req.pid, "sync requested");
        let unknown: Vec<&String> = req
            .catalogs
            .iter()
            .filter(|k| !self.cfg.catalogs.get(*k).is_some_and(|c| c.subscribed))
            .collect();
        let resp = if !unknown.is_empty() {
            let error = format!(
                "not subscribed catalogs in the config: {}",
                unknown
                    .iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            SyncResponse {
                id: req.id.clone(),
                succeeded: false,
                error: Some(error),
                scopes: Vec::new(),
                lines: Vec::new(),
            }
        } else {
            let scope = sync_scope(&self.cfg, &req.catalogs);
            match self.run_pass(scope, "sync request", true).await {
                Some(o) => SyncResponse {
                    id: req.id.clone(),
                    succeeded: o.succeeded(),
                    error: None,
                    lines: o.lines(),
                    scopes: o.scopes,
                },
                None => SyncResponse {
                    id: req.id.clone(),
                    succeeded: false,
                    error: Some("the synchronization failed; see the daemon's log".into()),
                    scopes: Vec::new(),
                    lines: Vec::new(),
                },
            }
        };
        if let Err(e) = handoff::respond(&self.state_dir, &resp) {
            tracing::error!(id = %req.id, error = %e, "could not answer the sync request");
        }
    }

    /// Logs the warnings of the status report that are new since the last pass.
    fn log_warnings(&mut self) {
        let read = || -> Result<status::Report, StoreError> {
            let actual = self.backend.snapshot()?;
            let runs = self.backend.sync_runs(1000)?;
            let messages = self.backend.status_messages(200)?;
            let next_runs = self.backend.next_runs()?;
            Ok(status::report(&status::Inputs {
                cfg: &self.cfg,
                actual: &actual,
                runs: &runs,
                messages: &messages,
                next_runs: &next_runs,
                now: Utc::now(),
            }))
        };
        match read() {
            Ok(r) => {
                let now: BTreeSet<Warning> = r.warnings.into_iter().collect();
                for w in now.difference(&self.warned) {
                    tracing::warn!(code = w.code, scope = %w.scope, "{}", w.message);
                }
                self.warned = now;
            }
            Err(e) => tracing::warn!(error = %e, "could not read the status"),
        }
    }
}

/// The scope of `supctl sync [CATALOG...]`: the named catalogs, or every subscribed one
/// and the update point's own sync when `[sync]` is configured.
pub fn sync_scope(cfg: &Config, catalogs: &[String]) -> Scope {
    if catalogs.is_empty() {
        Scope {
            all: false,
            catalogs: cfg
                .catalogs
                .values()
                .filter(|c| c.subscribed)
                .map(|c| c.key.clone())
                .collect(),
            sup: cfg.sync.is_some(),
        }
    } else {
        Scope {
            all: false,
            catalogs: catalogs.to_vec(),
            sup: false,
        }
    }
}

fn log_scopes(why: &str, scopes: &[ScopeOutcome]) {
    for s in scopes {
        let c = &s.counts;
        if s.result == RunResult::Succeeded {
            tracing::info!(reason = why, scope = %s.scope, result = %s.result, published = c.published, revised = c.revised, expired = c.expired, staged = c.staged, "synchronized");
        } else {
            tracing::error!(reason = why, scope = %s.scope, result = %s.result, failed = c.failed, message = s.message.as_deref().unwrap_or(""), "synchronization failed");
        }
    }
}
