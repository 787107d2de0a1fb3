//! Start-up and reload: resume an interrupted apply, restore persisted schedules (catching
//! up missed slots once), reconcile a config that changed while stopped, and reload the
//! config on change or SIGHUP, keeping the last valid one when the new one is invalid.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;

use chrono::Utc;

use super::{
    Daemon, DaemonError, Mode, ScopeState, config_digest, log_scopes, schedule_key, wanted_scopes,
};
use crate::config;
use crate::reconcile::pass::{self, Scope};
use crate::reconcile::record::{RunRecord, record_runs};
use crate::reconcile::schedule::{self as sched, Startup};
use crate::store::StoreError;

impl Daemon {
    /// Resume an interrupted apply, restore the schedules, catch up missed slots, and
    /// reconcile a config that changed while the daemon was stopped.
    /// Resume an interrupted apply, restore the schedules, catch up missed slots, and
    /// reconcile a config that changed while the daemon was stopped.
    pub(super) async fn start_up(&mut self) -> Result<(), DaemonError> {
        if let Ok(Some(plan)) = pass::interrupted_plan(&self.cfg, &self.backend) {
            if self.opts.mode == Mode::AutoCorrect {
                tracing::info!(plan = %plan.id, "resuming the interrupted apply");
                let started = Utc::now();
                let opts = self.pass_options(true, false);
                match pass::apply_plan(&self.cfg, &self.backend, &self.fetcher, &plan, true, &opts)
                    .await
                {
                    Ok(report) => {
                        let scopes = record_runs(
                            &self.backend,
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
        super::log_suspended(&self.cfg);
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
                    failing_since: None,
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
        let now = Utc::now();
        let plan = crate::plan::diff::diff(&crate::plan::diff::Inputs {
            desired: &self.cfg,
            catalogs: &none,
            actual: &actual,
            capabilities: self.backend.capabilities(),
            backend: self.backend.name(),
            now,
            signing: crate::reconcile::signing::prepare(&self.cfg, &self.backend, &actual, now),
        });
        Ok(plan.changes)
    }

    pub(super) async fn reload(&mut self, why: &str) {
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
                super::log_suspended(&self.cfg);
                if let Err(e) = self.notifier.reconfigure(&self.cfg) {
                    tracing::error!(error = %e, "[[notify]]: keeping the last valid rules");
                }
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
                        failing_since: None,
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
}
