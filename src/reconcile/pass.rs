//! One synchronization pass: acquire the chosen catalogs, plan against the server, apply
//! (auto-correct) or only report (monitor-only), record the runs. `supctl sync` runs one;
//! the `watch` daemon runs one per file change, schedule slot or handed-over request.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use chrono::Utc;

use super::record::{RunRecord, ScopeOutcome, record_runs};
use crate::apply::{self, ApplyError, ApplyOptions, Report};
use crate::catalog::acquire::Acquired;
use crate::catalog::fetch::Fetcher;
use crate::config::Config;
use crate::plan::{self, Plan};
use crate::store::{Address, CatalogKey, JournalKey, RunResult, Store, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum PassError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Apply(#[from] ApplyError),
    #[error("saving the plan: {0}")]
    PlanFile(#[from] plan::file::PlanFileError),
    #[error("{0}: {1}")]
    Io(String, std::io::Error),
    #[error(transparent)]
    Lock(#[from] crate::lockfile::LockFileError),
    #[error(transparent)]
    Packages(#[from] super::hydrate::HydrateError),
}

/// What one pass covers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scope {
    /// Everything in the config (a config change): every catalog, certificates, `[sync]`.
    pub all: bool,
    /// These catalog keys (and the certificates they need).
    pub catalogs: Vec<String>,
    /// The update point's own synchronization (`sync`).
    pub sup: bool,
}

impl Scope {
    pub fn everything() -> Self {
        Scope {
            all: true,
            ..Scope::default()
        }
    }

    /// Plan targets (empty = everything).
    fn targets(&self) -> Vec<Address> {
        if self.all {
            return Vec::new();
        }
        let mut t: Vec<Address> = self
            .catalogs
            .iter()
            .filter_map(|k| CatalogKey::parse(k).ok())
            .map(|k| Address::catalog(&k))
            .collect();
        if !self.catalogs.is_empty() {
            t.push(Address::every_certificate());
        }
        if self.sup {
            t.push(Address::sync());
        }
        t
    }
}

/// How to run a pass.
#[derive(Debug, Clone, Default)]
pub struct PassOptions {
    /// Apply the plan (auto-correct, `sync`); false only reports drift (monitor-only).
    pub apply: bool,
    /// Catalogs (key → why) a sync window keeps closed: their changes are planned, not
    /// applied (`plan::windows`).
    pub closed: std::collections::BTreeMap<String, String>,
    /// Hold the pass to `supctl.lock` (`watch --locked`): catalogs that differ are read from
    /// the archive, or fail with `lock-mismatch` (`reconcile::locked`).
    pub locked: bool,
    pub cancel: Option<Arc<AtomicBool>>,
    pub progress: crate::apply::Progress,
}

/// What a pass did.
#[derive(Debug, Clone)]
pub struct PassOutcome {
    pub plan: Plan,
    pub report: Option<Report>,
    /// Per scope (`catalog.k`, `sync`): result, counts, first error.
    pub scopes: Vec<ScopeOutcome>,
    pub cancelled: bool,
}

impl PassOutcome {
    pub fn succeeded(&self) -> bool {
        self.scopes.iter().all(|s| s.result == RunResult::Succeeded)
            && self.report.as_ref().is_none_or(|r| r.succeeded())
    }

    /// A short human summary: the plan's summary line, then one line per scope.
    pub fn lines(&self) -> Vec<String> {
        let mut out = vec![plan::render::summary_line(&self.plan)];
        for s in &self.scopes {
            let c = &s.counts;
            out.push(format!(
                "{}: {} (published {}, revised {}, expired {}, staged {}, failed {}){}",
                s.scope,
                s.result,
                c.published,
                c.revised,
                c.expired,
                c.staged,
                c.failed,
                s.message
                    .as_ref()
                    .map(|m| format!(": {m}"))
                    .unwrap_or_default()
            ));
        }
        // Why a catalog was left as it is: suspended, or held by a sync window.
        for d in self
            .plan
            .diagnostics
            .iter()
            .filter(|d| d.code == "suspended" || d.code == "window-closed")
        {
            out.push(format!("{}: {}", d.address, d.message));
        }
        out
    }
}

/// After an explicit "Sync now" that covers the update point, a server with an upstream
/// (WSUS) starts its own synchronization too, as the console's "Synchronize Now" does; it
/// runs on the server and `status` reports it. Returns the line to report and whether the
/// start succeeded, or `None` when there is nothing to start.
pub fn start_upstream_sync(backend: &Store, scope: &Scope) -> Option<(String, bool)> {
    if !scope.sup || !backend.capabilities().upstream_sync {
        return None;
    }
    Some(match backend.start_synchronization() {
        Ok(()) => (
            format!(
                "sync: the {} server's synchronization with its upstream started; `supctl status` shows its result",
                backend.name()
            ),
            true,
        ),
        Err(e) => (
            format!("sync: starting the server's synchronization failed: {e}"),
            false,
        ),
    })
}

/// Acquires and plans what `scope` covers.
pub async fn plan_scope(
    cfg: &Config,
    backend: &Store,
    fetcher: &Fetcher,
    scope: &Scope,
) -> Result<(Plan, BTreeMap<String, Acquired>), StoreError> {
    if scope.all {
        return super::make_plan(cfg, backend, fetcher, &[]).await;
    }
    if scope.catalogs.is_empty() {
        let catalogs = BTreeMap::new();
        let plan = super::diff_against(cfg, backend, &catalogs, &scope.targets())?;
        return Ok((plan, catalogs));
    }
    super::plan_catalogs(cfg, backend, fetcher, &scope.catalogs, &scope.targets()).await
}

/// Runs one pass. The caller holds the state lock.
pub async fn run(
    cfg: &Config,
    backend: &Store,
    fetcher: &Fetcher,
    scope: &Scope,
    opts: &PassOptions,
) -> Result<PassOutcome, PassError> {
    let started = Utc::now();
    // A host unreachable in the last pass may be back: try it again (once).
    fetcher.new_run();
    // Pins are per pass: the lock may have moved since the last one.
    fetcher.clear_pins();
    let (mut plan, mut acquired) = plan_scope(cfg, backend, fetcher, scope).await?;
    if opts.locked {
        let pins = super::locked::pin_from_archive(cfg, fetcher, &acquired)?;
        for (key, file) in &pins.missing {
            tracing::warn!(catalog = %key, archive = %file.display(), "the source serves another catalog than the locked one, and the archive has no copy");
        }
        if !pins.pinned.is_empty() {
            for (key, file) in &pins.pinned {
                tracing::info!(catalog = %key, file = %file, "reading the locked catalog from the archive");
            }
            (plan, acquired) = plan_scope(cfg, backend, fetcher, scope).await?;
        }
        super::locked::hold(&mut plan, cfg, &acquired)?;
    }
    // Catalogs a sync window keeps closed: planned and shown, applied later.
    let held = (opts.apply && !opts.closed.is_empty())
        .then(|| crate::plan::windows::hold(&mut plan, &opts.closed));
    if let Some(h) = held.as_ref().filter(|h| !h.actions.is_empty()) {
        tracing::info!(
            held = h.actions.len(),
            "changes of catalogs outside their sync window planned, not applied"
        );
    }
    let report = if opts.apply {
        super::shed_before_apply(&mut plan, &mut acquired);
        match apply_plan(cfg, backend, fetcher, &plan, false, opts).await {
            Err(PassError::Apply(ApplyError::Budget { count, max })) => {
                // Recorded, so `status` says why nothing changes (the error alone only
                // reaches the daemon's log).
                super::observe::held_back(backend, &plan, count, max, Utc::now())?;
                super::observe::record_shipped(backend, &acquired)?;
                return Err(ApplyError::Budget { count, max }.into());
            }
            r => Some(r?),
        }
    } else {
        None
    };
    let cancelled = opts
        .cancel
        .as_ref()
        .is_some_and(|c| c.load(std::sync::atomic::Ordering::SeqCst));
    let extra: Vec<String> =
        if scope.sup || (scope.all && cfg.sync.as_ref().is_some_and(|s| !s.suspend)) {
            vec!["sync".into()]
        } else {
            Vec::new()
        };
    let scopes = record_runs(
        backend,
        &RunRecord {
            cfg,
            plan: &plan,
            report: report.as_ref(),
            started,
            acquired: &acquired,
            extra_scopes: &extra,
            cancelled,
        },
    )?;
    let left = match (&report, &held) {
        (None, _) => super::observe::LeftAlone::MonitorOnly(&plan),
        (Some(_), Some(h)) => super::observe::LeftAlone::Windows(h),
        (Some(_), None) => super::observe::LeftAlone::Nothing,
    };
    super::observe::after_pass(backend, scope, left, Utc::now())?;
    Ok(PassOutcome {
        plan,
        report,
        scopes,
        cancelled,
    })
}

/// Saves `plan` (so a resume finds it) and applies it.
pub async fn apply_plan(
    cfg: &Config,
    backend: &Store,
    fetcher: &Fetcher,
    plan: &Plan,
    resume: bool,
    opts: &PassOptions,
) -> Result<Report, PassError> {
    if !plan.changes && !resume {
        return Ok(Report::default());
    }
    // The plan refers to the packages it publishes: each CAB is checked now, before
    // anything changes; apply reads them.
    let packages = super::hydrate::prepare(cfg, fetcher, plan)?;
    let dir = super::plans_dir(cfg);
    std::fs::create_dir_all(&dir).map_err(|e| PassError::Io(dir.display().to_string(), e))?;
    plan::file::save(plan, &dir.join(format!("{}.json", plan.id)))?;
    let ctx = super::content_context(cfg, fetcher, &packages);
    let aopts = ApplyOptions {
        resume,
        max_deletions: cfg.server.max_deletions,
        concurrency: cfg.http.concurrency as usize,
        progress: opts.progress.clone(),
        cancel: opts.cancel.clone(),
    };
    let report = apply::run(plan, backend, &ctx, &aopts).await?;
    super::prune_saved_plans(cfg, backend, &plan.id);
    Ok(report)
}

/// The plan of an apply that was interrupted (SIGTERM, crash) rather than failed: some of
/// its actions have no journal entry and none failed. The daemon resumes it at start-up.
pub fn interrupted_plan(cfg: &Config, backend: &Store) -> Result<Option<Plan>, PassError> {
    Ok(interrupted(cfg, backend)?.map(|(plan, _)| plan))
}

/// [`interrupted_plan`], with how many of its actions were not done.
pub fn interrupted(cfg: &Config, backend: &Store) -> Result<Option<(Plan, usize)>, PassError> {
    // An apply that ended says so in one entry: found by index, before reading thousands.
    if backend.last_journal_ended()? {
        return Ok(None);
    }
    let Some(journal) = backend.last_journal()? else {
        return Ok(None);
    };
    // Decided from the journal alone when it can be: this runs before every plan.
    if journal.any_latest_failed() {
        return Ok(None);
    }
    let path = super::plans_dir(cfg).join(format!("{}.json", journal.plan));
    let Ok(plan) = plan::file::load_own(&path) else {
        return Ok(None);
    };
    let recorded: std::collections::HashSet<JournalKey> =
        journal.entries.iter().map(|e| e.key()).collect();
    // Keyed exactly as apply journals them (an update's staging, a certificate's role): a
    // finished plan has an entry for every action, so it is never taken for an interrupted one.
    let missing = plan
        .actions
        .iter()
        .filter(|a| a.unsupported.is_none() && !recorded.contains(&apply::journal_key(a)))
        .count();
    Ok((missing > 0).then_some((plan, missing)))
}
