//! Sync windows (`[[window]]`): when the daemon may apply a catalog's changes, as Argo CD's
//! sync windows say when an application may sync. A pure decision over the config and a
//! time, so every rule has a test and `status` can say what the daemon will do.
//!
//! Rules, and why:
//! - **A window applies to the catalogs it names, or to every catalog** when it names none.
//!   The update point's own sync (`[sync]`) is not governed: it only moves metadata WSUS
//!   already trusts.
//! - **A window is active from each start its cron line gives, for its duration**, in its
//!   `timezone` (UTC by default). A start that fell before now still counts while its
//!   duration lasts, so a window that opened while the daemon was down is open.
//! - **Deny beats allow**: an active deny window closes the catalog whatever allows it;
//!   change freezes exist to win.
//! - **Allow windows, once a catalog has one, are the only times it may change**: outside
//!   all of them it is closed. A catalog with no allow window is open unless denied.
//! - **Closed means planned and reported, not applied**: the daemon's scheduled and
//!   config-triggered passes plan a closed catalog as monitor-only does, so drift is still
//!   seen; a window never hides a problem.
//! - **`manual_sync = true` lets an admin's `supctl sync` through** the windows that close
//!   the catalog (every active deny window, or one of its allow windows, must say so); an
//!   admin at the console can always run `apply`, which windows do not govern.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, FixedOffset, Utc};

use crate::config::Config;
use crate::vocab::WindowKind;

/// One `[[window]]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Window {
    pub kind: WindowKind,
    /// A 5-field cron line: when the window starts.
    pub schedule: String,
    pub duration: Duration,
    /// Catalog keys; empty: every catalog.
    pub catalogs: Vec<String>,
    pub manual_sync: bool,
    pub tz: FixedOffset,
    /// Where it is written, for messages (`window 2`, or its `name`).
    pub label: String,
}

/// Whether a catalog may be applied now, and if not, why and until when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Gate {
    Open,
    Closed {
        why: String,
        /// When it opens again, when that can be told (the end of the deny windows, or the
        /// next allow window).
        until: Option<DateTime<Utc>>,
        /// An explicit `supctl sync` may go through.
        manual_sync: bool,
    },
}

impl Gate {
    pub fn is_open(&self) -> bool {
        matches!(self, Gate::Open)
    }
}

impl Window {
    fn applies_to(&self, catalog: &str) -> bool {
        self.catalogs.is_empty() || self.catalogs.iter().any(|c| c == catalog)
    }

    fn cron(&self) -> Option<croner::Cron> {
        self.schedule.parse().ok()
    }

    /// The start of the occurrence active at `t`, if one is.
    fn active_since(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let local = t.with_timezone(&self.tz);
        let start = self.cron()?.find_previous_occurrence(&local, true).ok()?;
        let start = start.with_timezone(&Utc);
        (t < start + self.duration).then_some(start)
    }

    /// The first start strictly after `t`.
    fn next_start(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let local = t.with_timezone(&self.tz);
        let next = self.cron()?.find_next_occurrence(&local, false).ok()?;
        Some(next.with_timezone(&Utc))
    }
}

/// Whether any of `windows` governs `catalog`.
pub fn governs(windows: &[Window], catalog: &str) -> bool {
    windows.iter().any(|w| w.applies_to(catalog))
}

/// The gate of `catalog` at `now` under `windows`.
pub fn gate(windows: &[Window], catalog: &str, now: DateTime<Utc>) -> Gate {
    let mine: Vec<&Window> = windows.iter().filter(|w| w.applies_to(catalog)).collect();
    let denying: Vec<(&Window, DateTime<Utc>)> = mine
        .iter()
        .filter(|w| w.kind == WindowKind::Deny)
        .filter_map(|w| w.active_since(now).map(|s| (*w, s + w.duration)))
        .collect();
    if !denying.is_empty() {
        let labels: Vec<&str> = denying.iter().map(|(w, _)| w.label.as_str()).collect();
        let until = denying.iter().map(|(_, end)| *end).max();
        return Gate::Closed {
            why: format!("deny window {} is active", labels.join(", ")),
            until,
            manual_sync: denying.iter().all(|(w, _)| w.manual_sync),
        };
    }
    let allows: Vec<&&Window> = mine
        .iter()
        .filter(|w| w.kind == WindowKind::Allow)
        .collect();
    if allows.is_empty() || allows.iter().any(|w| w.active_since(now).is_some()) {
        return Gate::Open;
    }
    let labels: Vec<&str> = allows.iter().map(|w| w.label.as_str()).collect();
    Gate::Closed {
        why: format!("outside its allow window {}", labels.join(", ")),
        until: allows.iter().filter_map(|w| w.next_start(now)).min(),
        manual_sync: allows.iter().any(|w| w.manual_sync),
    }
}

/// The next time `catalog`'s gate opens or closes after `now` (looked for among the
/// windows' starts and ends within the next few dozen), for `status`.
pub fn next_change(windows: &[Window], catalog: &str, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let current = gate(windows, catalog, now).is_open();
    let mut candidates: Vec<DateTime<Utc>> = Vec::new();
    for w in windows.iter().filter(|w| w.applies_to(catalog)) {
        let mut t = now;
        for _ in 0..8 {
            let Some(start) = w.next_start(t) else { break };
            candidates.push(start);
            candidates.push(start + w.duration);
            t = start;
        }
        if let Some(s) = w.active_since(now) {
            candidates.push(s + w.duration);
        }
    }
    candidates.sort();
    candidates
        .into_iter()
        .filter(|t| *t > now)
        .find(|t| gate(windows, catalog, *t).is_open() != current)
}

/// The config's `[[window]]` tables.
pub fn of_config(cfg: &Config) -> Vec<Window> {
    cfg.windows
        .iter()
        .enumerate()
        .map(|(i, w)| Window {
            kind: w.kind,
            schedule: w.schedule.clone(),
            duration: w.length,
            catalogs: w.catalogs.clone(),
            manual_sync: w.manual_sync,
            tz: super::schedule::offset(w.timezone.as_deref()),
            label: w
                .name
                .clone()
                .unwrap_or_else(|| format!("window {}", i + 1)),
        })
        .collect()
}

/// The gate's reason in words, with when it opens.
fn reason(why: &str, until: Option<DateTime<Utc>>) -> String {
    match until {
        Some(t) => format!("{why} (until {})", t.format("%Y-%m-%dT%H:%M:%SZ")),
        None => why.to_string(),
    }
}

/// The subscribed catalogs closed at `now` (key → why). `manual`: for an admin's explicit
/// `supctl sync`, which windows with `manual_sync = true` let through.
pub fn closed(cfg: &Config, now: DateTime<Utc>, manual: bool) -> BTreeMap<String, String> {
    let windows = of_config(cfg);
    if windows.is_empty() {
        return BTreeMap::new();
    }
    cfg.catalogs
        .values()
        .filter(|c| c.subscribed)
        .filter_map(|c| match gate(&windows, &c.key, now) {
            Gate::Closed {
                manual_sync: true, ..
            } if manual => None,
            Gate::Closed { why, until, .. } => Some((c.key.clone(), reason(&why, until))),
            Gate::Open => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone as _;

    fn at(h: u32, m: u32) -> DateTime<Utc> {
        // A Monday.
        Utc.with_ymd_and_hms(2026, 12, 7, h, m, 0).unwrap()
    }

    fn window(kind: WindowKind, schedule: &str, hours: i64, catalogs: &[&str]) -> Window {
        Window {
            kind,
            schedule: schedule.into(),
            duration: Duration::hours(hours),
            catalogs: catalogs.iter().map(|c| c.to_string()).collect(),
            manual_sync: false,
            tz: FixedOffset::east_opt(0).unwrap(),
            label: format!("{kind} {schedule}"),
        }
    }

    #[test]
    fn no_window_is_open() {
        assert_eq!(gate(&[], "hp", at(12, 0)), Gate::Open);
    }

    #[test]
    fn a_deny_window_closes_while_active_and_says_until_when() {
        let w = [window(WindowKind::Deny, "0 8 * * MON-FRI", 10, &[])];
        assert!(gate(&w, "hp", at(7, 59)).is_open());
        let Gate::Closed {
            until, manual_sync, ..
        } = gate(&w, "hp", at(12, 0))
        else {
            panic!("closed at noon");
        };
        assert_eq!(until, Some(at(18, 0)));
        assert!(!manual_sync);
        assert!(gate(&w, "hp", at(18, 0)).is_open(), "the end is exclusive");
    }

    #[test]
    fn a_window_applies_only_to_the_catalogs_it_names() {
        let w = [window(WindowKind::Deny, "0 8 * * *", 10, &["dell"])];
        assert!(!gate(&w, "dell", at(9, 0)).is_open());
        assert!(gate(&w, "hp", at(9, 0)).is_open());
    }

    #[test]
    fn allow_windows_are_the_only_times_a_catalog_may_change() {
        let w = [window(WindowKind::Allow, "0 22 * * *", 4, &[])];
        assert!(gate(&w, "hp", at(23, 0)).is_open());
        let Gate::Closed { until, why, .. } = gate(&w, "hp", at(12, 0)) else {
            panic!("closed outside the allow window");
        };
        assert_eq!(until, Some(at(22, 0)));
        assert!(why.starts_with("outside its allow window"), "{why}");
        // Opened yesterday at 22:00, still open after midnight.
        assert!(gate(&w, "hp", at(1, 30)).is_open());
    }

    #[test]
    fn deny_beats_allow() {
        let w = [
            window(WindowKind::Allow, "0 0 * * *", 24, &[]),
            window(WindowKind::Deny, "0 12 * * *", 1, &["hp"]),
        ];
        assert!(!gate(&w, "hp", at(12, 30)).is_open());
        assert!(gate(&w, "dell", at(12, 30)).is_open());
    }

    #[test]
    fn manual_sync_passes_only_when_the_closing_windows_allow_it() {
        let mut deny = window(WindowKind::Deny, "0 8 * * *", 10, &[]);
        deny.manual_sync = true;
        let strict = window(WindowKind::Deny, "0 9 * * *", 1, &[]);
        let manual = |w: &[Window]| match gate(w, "hp", at(9, 30)) {
            Gate::Closed { manual_sync, .. } => manual_sync,
            Gate::Open => panic!("open"),
        };
        assert!(manual(std::slice::from_ref(&deny)));
        assert!(
            !manual(&[deny, strict]),
            "every active deny window must allow it"
        );
    }

    #[test]
    fn a_window_keeps_its_own_time_zone() {
        let mut w = window(WindowKind::Deny, "0 8 * * *", 1, &[]);
        w.tz = FixedOffset::east_opt(3600).unwrap();
        // 08:00 at +01:00 is 07:00 UTC.
        assert!(!gate(std::slice::from_ref(&w), "hp", at(7, 30)).is_open());
        assert!(gate(&[w], "hp", at(8, 30)).is_open());
    }

    #[test]
    fn the_next_change_is_when_the_gate_flips() {
        let w = [window(WindowKind::Allow, "0 22 * * *", 4, &[])];
        assert_eq!(next_change(&w, "hp", at(12, 0)), Some(at(22, 0)));
        let d = [window(WindowKind::Deny, "0 8 * * *", 10, &[])];
        assert_eq!(next_change(&d, "hp", at(9, 0)), Some(at(18, 0)));
        assert_eq!(next_change(&[], "hp", at(9, 0)), None);
    }
}
