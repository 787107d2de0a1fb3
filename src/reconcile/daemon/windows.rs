//! The daemon and sync windows: a catalog whose window opens is reconciled then, not at its
//! next scheduled slot days later, so changes held while it was closed apply on time.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};

use super::Daemon;
use crate::reconcile::windows::{self, gate, next_change};

impl Daemon {
    /// The catalogs closed now.
    fn closed_now(&self, now: DateTime<Utc>) -> BTreeSet<String> {
        let list = windows::of_config(&self.cfg);
        self.scopes
            .keys()
            .filter_map(|s| s.strip_prefix("catalog."))
            .filter(|k| !gate(&list, k, now).is_open())
            .map(str::to_string)
            .collect()
    }

    /// Makes the catalogs whose window opened since the last look due now, and remembers
    /// which are closed.
    pub(super) fn open_windows(&mut self, now: DateTime<Utc>) {
        let closed = self.closed_now(now);
        for key in self.closed.difference(&closed) {
            if let Some(s) = self.scopes.get_mut(&format!("catalog.{key}")) {
                tracing::info!(scope = %format!("catalog.{key}"), "sync window opened: reconciling now");
                s.due = now;
            }
        }
        for key in closed.difference(&self.closed) {
            tracing::info!(scope = %format!("catalog.{key}"), "sync window closed: changes are planned, not applied, until it opens");
        }
        self.closed = closed;
    }

    /// When the next window opens or closes for a scheduled catalog.
    pub(super) fn next_window_change(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let list = windows::of_config(&self.cfg);
        if list.is_empty() {
            return None;
        }
        self.scopes
            .keys()
            .filter_map(|s| s.strip_prefix("catalog."))
            .filter_map(|k| next_change(&list, k, now))
            .min()
    }
}
