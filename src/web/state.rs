//! What the daemon publishes for the listener, and what the listener keeps counting.
//!
//! The daemon writes after each pass ([`WebState::publish`], [`WebState::observe_pass`]);
//! handlers only read. A request never waits for a pass: the lock is held for a clone of
//! a few `Arc`s, never across I/O.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

use chrono::{DateTime, Utc};

use super::metrics::Counters;
use super::updates::UpdateSource;
use crate::config::Config;
use crate::reconcile::status::{Loaded, Report};
use crate::store::{ActualState, SyncRun};

/// Recent runs kept for `/api/runs` and the page.
pub const RECENT_RUNS: usize = 200;

/// One scope whose syncs have failed for longer than its schedule's interval (`/readyz`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaleFailure {
    pub scope: String,
    pub since: DateTime<Utc>,
    pub interval: chrono::Duration,
}

impl StaleFailure {
    /// A scope failing since `since` (if it is) is stale once that lasts longer than its
    /// `interval`: one failed sync is retried with backoff and is not yet a reason to page
    /// anyone; a scope that has not synced for a whole interval is.
    pub fn of(
        scope: &str,
        since: Option<DateTime<Utc>>,
        interval: chrono::Duration,
        now: DateTime<Utc>,
    ) -> Option<Self> {
        let since = since?;
        (now - since > interval).then(|| Self {
            scope: scope.to_string(),
            since,
            interval,
        })
    }
}

/// A snapshot of what the daemon last published: cheap to clone, read by each request.
#[derive(Debug, Clone, Default)]
pub struct Published {
    pub report: Option<Arc<Report>>,
    pub runs: Arc<Vec<SyncRun>>,
    /// The config the report was made with (the page marks deselected updates with it).
    pub config: Option<Arc<Config>>,
    /// The server's last snapshot, kept only for a backend the listener cannot query
    /// itself (WSUS): see [`UpdateSource`].
    pub snapshot: Option<Arc<ActualState>>,
    /// A pass is running now: the page refreshes itself until it ends.
    pub running: bool,
    /// Start-up done, config loaded, state lock held.
    pub ready: bool,
    pub stale: Vec<StaleFailure>,
    /// Actions a monitor-only pass left alone, per catalog key (its last pass).
    pub drift: BTreeMap<String, u64>,
}

/// The listener's shared state: the daemon writes, handlers read.
#[derive(Debug, Clone)]
pub struct WebState {
    inner: Arc<RwLock<Published>>,
    pub(super) counters: Arc<Counters>,
    pub(super) token: Option<Arc<str>>,
    pub(super) backend: &'static str,
    pub(super) updates: UpdateSource,
    /// The notifier's delivery counts, for `/metrics`.
    pub(super) deliveries: Arc<RwLock<Option<crate::notify::DeliveryStats>>>,
}

impl WebState {
    pub(super) fn new(token: Option<String>, backend: &'static str, updates: UpdateSource) -> Self {
        Self {
            inner: Arc::default(),
            counters: Arc::default(),
            token: token.map(Arc::from),
            backend,
            updates,
            deliveries: Arc::default(),
        }
    }

    /// The notifier's delivery counts, exposed as `supctl_notifications_total`.
    pub fn set_deliveries(&self, stats: crate::notify::DeliveryStats) {
        *self.deliveries.write().unwrap_or_else(|e| e.into_inner()) = Some(stats);
    }

    /// Publishes what a pass left (after each pass): the report, the recent runs, the config
    /// it was made with, and the server snapshot when the listener needs one.
    pub fn publish(&self, cfg: &Config, report: Report, loaded: Loaded) {
        self.counters.observe_messages(&loaded.messages);
        let snapshot = self
            .updates
            .keeps_snapshot()
            .then(|| Arc::new(loaded.actual));
        let mut runs = loaded.runs;
        runs.truncate(RECENT_RUNS);
        let runs = Arc::new(runs);
        let mut p = self.write();
        p.report = Some(Arc::new(report));
        p.runs = runs;
        p.config = Some(Arc::new(cfg.clone()));
        if snapshot.is_some() {
            p.snapshot = snapshot;
        }
    }

    /// A pass starts (`true`) or ends (`false`).
    pub fn set_running(&self, running: bool) {
        self.write().running = running;
    }

    /// Start-up is done (`true`), or the daemon is stopping or lost its lock (`false`).
    pub fn set_ready(&self, ready: bool) {
        self.write().ready = ready;
    }

    /// Scopes failing for longer than their interval (empty when none).
    pub fn set_stale(&self, stale: Vec<StaleFailure>) {
        self.write().stale = stale;
    }

    /// The drift a monitor-only pass found per catalog (0 for a catalog it found clean);
    /// catalogs the pass did not cover keep their last count.
    pub fn set_drift(&self, found: BTreeMap<String, u64>) {
        self.write().drift.extend(found);
    }

    /// What a pass did, for the counters of `/metrics`: its duration per catalog and result,
    /// and the bytes it staged.
    pub fn observe_pass(&self, catalogs: &[(String, bool)], seconds: f64, staged_bytes: u64) {
        self.counters.observe_pass(catalogs, seconds, staged_bytes);
    }

    pub(super) fn read(&self) -> Published {
        self.inner.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Published> {
        self.inner.write().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_scope_is_stale_only_after_failing_for_longer_than_its_interval() {
        let now = Utc::now();
        let hour = chrono::Duration::hours(1);
        assert_eq!(
            StaleFailure::of("catalog.a", None, hour, now),
            None,
            "not failing"
        );
        let recent = now - chrono::Duration::minutes(59);
        assert_eq!(StaleFailure::of("catalog.a", Some(recent), hour, now), None);
        let old = now - chrono::Duration::minutes(61);
        let stale = StaleFailure::of("catalog.a", Some(old), hour, now).unwrap();
        assert_eq!((stale.scope.as_str(), stale.since), ("catalog.a", old));
    }
}
