//! Running passes: scheduled scopes, full reconciles, handed-over `sync` requests; then
//! rescheduling each scope (next slot with jitter, or backoff after a failure) and logging
//! new warnings.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};

use super::{Daemon, Mode, schedule_key};
use crate::config::Config;
use crate::reconcile::handoff::{self, SyncRequest, SyncResponse};
use crate::reconcile::pass::{self, Scope};
use crate::reconcile::record::ScopeOutcome;
use crate::reconcile::schedule as sched;
use crate::reconcile::status::{self, Warning};
use crate::store::{Address, NextRun, Record, RunResult, StoreError};

/// The reason of a pass an admin asked for (`supctl sync`): windows with `manual_sync`
/// let it through.
const SYNC_REQUEST: &str = "sync request";

impl Daemon {
    pub(super) async fn run_scheduled(&mut self, due: Vec<String>) {
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
    pub(super) async fn run_pass(
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
        let opts = self.pass_options(apply, why == SYNC_REQUEST);
        if let Some(w) = &self.web {
            w.set_running(true);
        }
        let clock = std::time::Instant::now();
        let result = pass::run(&self.cfg, &self.backend, &self.fetcher, &scope, &opts).await;
        if let Some(w) = &self.web {
            w.set_running(false);
            observe(w, &covered, &result, apply, clock.elapsed().as_secs_f64());
        }
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
                self.pass_failed = Some(e.to_string());
                (Vec::new(), None)
            }
        };
        if out.as_ref().is_some_and(|o| o.cancelled) {
            return out;
        }
        if out.is_some() {
            self.pass_failed = None;
        }
        let facts = super::notifications::pass_facts(out.as_ref(), apply, self.pass_failed.clone());
        let now = Utc::now();
        for scope in covered {
            let failed = match outcomes.iter().find(|o| o.scope == scope) {
                Some(o) => o.result != RunResult::Succeeded,
                None => out.is_none(),
            };
            self.reschedule(&scope, failed, now);
        }
        self.after_pass(&facts);
        out
    }

    fn reschedule(&mut self, scope: &str, failed: bool, now: DateTime<Utc>) {
        let timing = self.opts.timing;
        let Some(s) = self.scopes.get_mut(scope) else {
            return;
        };
        if failed {
            s.failures += 1;
            s.failing_since.get_or_insert(now);
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
            s.failing_since = None;
            let (due, jitter) = sched::next_due(&s.schedule, s.tz, now, &timing, sched::uniform());
            s.due = due;
            tracing::info!(scope = %scope, next = %due, jitter_ms = jitter.num_milliseconds(), "next run scheduled");
        }
        let key = schedule_key(&s.schedule, s.tz);
        let due = s.due;
        if let Ok(address) = Address::parse(scope)
            && let Err(e) = self.backend.apply(Record::NextRun(NextRun {
                scope: address,
                due,
                schedule: key,
            }))
        {
            tracing::error!(scope = %scope, error = %e, "could not persist the next run time");
        }
    }

    /// Serves a `supctl sync` request: always applied (an explicit "Sync now").
    pub(super) async fn serve(&mut self, req: SyncRequest) {
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
            match self.run_pass(scope.clone(), SYNC_REQUEST, true).await {
                Some(o) => {
                    let (mut lines, mut succeeded) = (o.lines(), o.succeeded());
                    if let Some((line, started)) =
                        crate::reconcile::pass::start_upstream_sync(&self.backend, &scope)
                    {
                        lines.push(line);
                        succeeded &= started;
                    }
                    SyncResponse {
                        id: req.id.clone(),
                        succeeded,
                        error: None,
                        lines,
                        scopes: o.scopes,
                    }
                }
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

    /// [`Self::after_pass`] outside a pass (at start-up).
    pub(super) fn log_warnings(&mut self) {
        self.after_pass(&crate::notify::PassFacts {
            failed: self.pass_failed.clone(),
            ..crate::notify::PassFacts::default()
        });
    }

    /// Logs the warnings of the status report that are new since the last pass, publishes
    /// the report to the HTTP listener, and hands it to the notifications.
    pub(super) fn after_pass(&mut self, facts: &crate::notify::PassFacts) {
        let read = || -> Result<(status::Report, status::Loaded), StoreError> {
            // The daemon holds the lock itself: an incomplete plan is not being run now.
            let loaded = status::load(&self.cfg, &self.backend, 1000, 200, None)?;
            let report = status::report(&loaded.inputs(&self.cfg, Utc::now()));
            Ok((report, loaded))
        };
        match read() {
            Ok((r, loaded)) => {
                self.notifier.observe(&r, facts);
                let now: BTreeSet<Warning> = r.warnings.iter().cloned().collect();
                for w in now.difference(&self.warned) {
                    tracing::warn!(code = w.code, scope = %w.scope, "{}", w.message);
                }
                self.warned = now;
                if let Some(web) = &self.web {
                    web.set_stale(self.stale_failures(Utc::now()));
                    web.publish(&self.cfg, r, loaded);
                }
            }
            Err(e) => tracing::warn!(error = %e, "could not read the status"),
        }
    }

    /// Scopes whose syncs have failed for longer than their schedule's interval.
    fn stale_failures(&self, now: DateTime<Utc>) -> Vec<crate::web::StaleFailure> {
        self.scopes
            .iter()
            .filter_map(|(scope, s)| {
                crate::web::StaleFailure::of(
                    scope,
                    s.failing_since,
                    s.schedule.nominal_period(),
                    now,
                )
            })
            .collect()
    }
}

/// The scope of `supctl sync [CATALOG...]`: the named catalogs (suspended or not: naming
/// one is the explicit "sync now" a suspension allows), or every subscribed catalog that is
/// not suspended and the update point's own sync when `[sync]` is configured and not
/// suspended.
pub fn sync_scope(cfg: &Config, catalogs: &[String]) -> Scope {
    if catalogs.is_empty() {
        Scope {
            all: false,
            catalogs: cfg
                .catalogs
                .values()
                .filter(|c| c.subscribed && !c.suspend)
                .map(|c| c.key.clone())
                .collect(),
            sup: cfg.sync.as_ref().is_some_and(|s| !s.suspend),
        }
    } else {
        Scope {
            all: false,
            catalogs: catalogs.to_vec(),
            sup: false,
        }
    }
}

pub(super) fn log_scopes(why: &str, scopes: &[ScopeOutcome]) {
    for s in scopes {
        let c = &s.counts;
        if s.result == RunResult::Succeeded {
            tracing::info!(reason = why, scope = %s.scope, result = %s.result, published = c.published, revised = c.revised, expired = c.expired, staged = c.staged, "synchronized");
        } else {
            tracing::error!(reason = why, scope = %s.scope, result = %s.result, failed = c.failed, message = s.message.as_deref().unwrap_or(""), "synchronization failed");
        }
    }
}

/// Hands what a pass did to the listener's counters: its duration and result per catalog,
/// the bytes it staged, and (monitor-only) the drift it left per catalog.
fn observe(
    web: &crate::web::WebState,
    covered: &[String],
    result: &Result<pass::PassOutcome, crate::reconcile::pass::PassError>,
    applied: bool,
    seconds: f64,
) {
    let catalogs: Vec<(String, bool)> = covered
        .iter()
        .filter_map(|s| s.strip_prefix("catalog."))
        .map(|key| {
            let failed = match result {
                Ok(o) => o
                    .scopes
                    .iter()
                    .find(|x| x.scope == format!("catalog.{key}"))
                    .is_some_and(|x| x.result == RunResult::Failed),
                Err(_) => true,
            };
            (key.to_string(), failed)
        })
        .collect();
    let Ok(o) = result else {
        web.observe_pass(&catalogs, seconds, 0);
        return;
    };
    let staged: u64 = o.report.as_ref().map_or(0, |r| {
        let staged: BTreeSet<&Address> = r
            .done
            .iter()
            .filter(|d| d.action == crate::plan::ActionKind::Stage)
            .map(|d| &d.address)
            .collect();
        o.plan
            .actions
            .iter()
            .filter(|a| a.kind == crate::plan::ActionKind::Stage && staged.contains(&a.address))
            .map(|a| a.bytes)
            .sum()
    });
    web.observe_pass(&catalogs, seconds, staged);
    // Drift is what a monitor-only pass left alone; a pass that applied left none.
    let mut drift: std::collections::BTreeMap<String, u64> =
        catalogs.iter().map(|(k, _)| (k.clone(), 0)).collect();
    if !applied {
        for a in &o.plan.actions {
            let scope = crate::reconcile::record::scope_of(a.address.as_str());
            if let Some(n) = scope
                .strip_prefix("catalog.")
                .and_then(|k| drift.get_mut(k))
            {
                *n += 1;
            }
        }
    }
    web.set_drift(drift);
}
