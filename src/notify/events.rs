//! From a status report to events, deduplicated: a pure function of what was open before,
//! the report after a pass, what the pass did, and the time.
//!
//! A *problem* (a failing sync, drift left alone, a certificate expiring) is keyed by its
//! kind and scope: it is sent once when it opens, again as a reminder once `remind_after`
//! has passed since it was last sent, and as resolved when the report no longer shows it
//! (a failing sync's resolution is `sync-recovered`). Status messages (11508, 11516) are
//! events, one per message newer than the last one seen. A pass that applied changes is an
//! `apply-completed` event.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{Event, EventKind, Severity};
use crate::reconcile::status::Report;
use crate::store::{FindingKind, RunResult};

/// What is open for one rule, and the newest status message already seen. Saved between
/// daemon runs, so a restart does not send everything again.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Problems {
    /// By `kind scope [detail]`.
    pub open: BTreeMap<String, OpenProblem>,
    /// Status messages at or before this time were seen; `None`: none seen yet.
    pub messages_seen: Option<DateTime<Utc>>,
    /// When each status message (by `code scope text`) was last sent: a failing pass
    /// retried with backoff records the same 11508 again and again, which is news once per
    /// `remind_after`, not once per retry.
    #[serde(default)]
    pub messages_sent: BTreeMap<String, DateTime<Utc>>,
}

impl Problems {
    /// A start with nothing open, where status messages older than `since` (recorded before
    /// the daemon ran) are not news.
    pub fn starting(since: DateTime<Utc>) -> Problems {
        Problems {
            open: BTreeMap::new(),
            messages_seen: Some(since),
            messages_sent: BTreeMap::new(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OpenProblem {
    pub kind: EventKind,
    pub scope: String,
    pub catalog: Option<String>,
    pub severity: Severity,
    pub message: String,
    pub since: DateTime<Utc>,
    pub last_sent: DateTime<Utc>,
}

/// What the pass did that the report does not show.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PassFacts {
    /// Changes applied, per catalog (or none, for settings outside a catalog).
    pub applied: Vec<Applied>,
    /// The last pass failed as a whole (the store or the server could not be read), so no
    /// catalog's run says so: why. A problem until a pass succeeds again.
    pub failed: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Applied {
    pub catalog: Option<String>,
    pub summary: String,
}

/// A problem the report shows now.
struct Current {
    key: String,
    kind: EventKind,
    scope: String,
    catalog: Option<String>,
    severity: Severity,
    message: String,
}

fn catalog_of(scope: &str) -> Option<String> {
    let rest = scope.strip_prefix("catalog.")?;
    let end = rest.find(['.', '[']).unwrap_or(rest.len());
    Some(rest[..end].to_string())
}

/// The problems a report shows, each with a stable key.
fn current(report: &Report, facts: &PassFacts) -> Vec<Current> {
    let mut out = Vec::new();
    let mut push = |kind: EventKind, scope: &str, detail: &str, severity, message: String| {
        out.push(Current {
            key: format!("{kind} {scope} {detail}").trim_end().to_string(),
            kind,
            scope: scope.to_string(),
            catalog: catalog_of(scope),
            severity,
            message,
        })
    };
    for c in report.catalogs.iter().filter(|c| c.subscribed) {
        if let Some(run) = c
            .last_sync
            .as_ref()
            .filter(|r| r.result == RunResult::Failed)
        {
            let why = run.message.as_deref().unwrap_or("see the daemon's log");
            push(
                EventKind::SyncFailed,
                &format!("catalog.{}", c.key),
                "",
                Severity::Error,
                format!("catalog {} failed to synchronize: {why}", c.key),
            );
        }
    }
    if let Some(run) = report
        .update_point
        .last_sync
        .as_ref()
        .filter(|r| r.result == RunResult::Failed)
    {
        let why = run.message.as_deref().unwrap_or("see the daemon's log");
        push(
            EventKind::SyncFailed,
            "sync",
            "",
            Severity::Error,
            format!("the update point failed to synchronize: {why}"),
        );
    }
    for f in report
        .findings
        .iter()
        .filter(|f| f.kind == FindingKind::Drift)
    {
        push(
            EventKind::DriftDetected,
            &f.scope,
            "",
            Severity::Warning,
            format!("{} drifts from the config: {}", f.scope, f.summary),
        );
    }
    for w in report
        .warnings
        .iter()
        .filter(|w| w.code == EventKind::CertificateExpiring.as_str())
    {
        // Which certificate: the message up to its date, which changes every day.
        let detail = w.message.split(" expire").next().unwrap_or(&w.message);
        push(
            EventKind::CertificateExpiring,
            &w.scope,
            detail,
            Severity::Warning,
            w.message.clone(),
        );
    }
    if let Some(why) = &facts.failed {
        push(
            EventKind::SyncFailed,
            "pass",
            "",
            Severity::Error,
            format!("a reconcile pass failed as a whole: {why}"),
        );
    }
    out
}

fn event(kind: EventKind, severity: Severity, scope: &str, catalog: Option<String>) -> Event {
    let mut e = Event::new(kind, severity, String::new());
    e.scope = Some(scope.to_string());
    e.catalog = catalog;
    e
}

/// The events of one pass for one rule, and what is open afterwards.
pub fn derive(
    prev: &Problems,
    report: &Report,
    facts: &PassFacts,
    now: DateTime<Utc>,
    remind_after: Duration,
) -> (Vec<Event>, Problems) {
    let remind = chrono::Duration::from_std(remind_after).unwrap_or(chrono::Duration::MAX);
    let mut events = Vec::new();
    let mut next = Problems {
        open: BTreeMap::new(),
        messages_seen: prev.messages_seen,
        messages_sent: prev
            .messages_sent
            .iter()
            .filter(|(_, sent)| now - **sent < remind)
            .map(|(k, t)| (k.clone(), *t))
            .collect(),
    };
    for c in current(report, facts) {
        let mut e = event(c.kind, c.severity, &c.scope, c.catalog.clone());
        let open = match prev.open.get(&c.key) {
            None => {
                e.message = c.message.clone();
                events.push(e);
                OpenProblem {
                    kind: c.kind,
                    scope: c.scope,
                    catalog: c.catalog,
                    severity: c.severity,
                    message: c.message,
                    since: now,
                    last_sent: now,
                }
            }
            Some(p) if now - p.last_sent >= remind => {
                e.message = format!(
                    "reminder: still open since {}: {}",
                    p.since.format("%Y-%m-%dT%H:%M:%SZ"),
                    c.message
                );
                e.reminder = true;
                events.push(e);
                OpenProblem {
                    last_sent: now,
                    message: c.message,
                    ..p.clone()
                }
            }
            Some(p) => OpenProblem {
                message: c.message,
                ..p.clone()
            },
        };
        next.open.insert(c.key, open);
    }
    for (key, p) in &prev.open {
        if next.open.contains_key(key) {
            continue;
        }
        let (kind, message) = match p.kind {
            EventKind::SyncFailed => (
                EventKind::SyncRecovered,
                match &p.catalog {
                    Some(c) => format!("catalog {c} synchronizes again"),
                    None => "the update point synchronizes again".to_string(),
                },
            ),
            EventKind::DriftDetected => (p.kind, format!("{} no longer drifts", p.scope)),
            _ => (p.kind, format!("resolved: {}", p.message)),
        };
        let mut e = event(kind, Severity::Info, &p.scope, p.catalog.clone());
        e.message = message;
        e.resolved = true;
        e.problem_severity = Some(p.severity);
        events.push(e);
    }
    let scoped = report
        .catalogs
        .iter()
        .map(|c| {
            (
                format!("catalog.{}", c.key),
                Some(c.key.clone()),
                &c.messages,
            )
        })
        .chain(std::iter::once((
            "sync".to_string(),
            None,
            &report.update_point.messages,
        )));
    let mut fresh = Vec::new();
    for (scope, catalog, messages) in scoped {
        for m in messages {
            let kind = match m.code {
                11508 => EventKind::SignerChanged,
                11516 => EventKind::ContentRefused,
                _ => continue,
            };
            if prev.messages_seen.is_some_and(|seen| m.at <= seen) {
                continue;
            }
            next.messages_seen = next.messages_seen.max(Some(m.at));
            let key = format!("{} {scope} {}", m.code, m.text);
            if next.messages_sent.contains_key(&key) {
                continue;
            }
            let again = prev.messages_sent.contains_key(&key);
            next.messages_sent.insert(key, now);
            let severity = Severity::parse(&m.severity).unwrap_or(Severity::Error);
            let mut e = event(kind, severity, &scope, catalog.clone());
            e.code = Some(m.code);
            e.message = format!("{}: {}", m.code, m.text);
            e.time = m.at;
            e.reminder = again;
            fresh.push(e);
        }
    }
    fresh.sort_by_key(|e| e.time);
    events.extend(fresh);
    for a in &facts.applied {
        let mut e = Event::new(EventKind::ApplyCompleted, Severity::Info, a.summary.clone());
        e.time = now;
        e.scope = a.catalog.as_ref().map(|c| format!("catalog.{c}"));
        e.catalog = a.catalog.clone();
        events.push(e);
    }
    for e in &mut events {
        if e.kind != EventKind::SignerChanged && e.kind != EventKind::ContentRefused {
            e.time = now;
        }
    }
    (events, next)
}

#[cfg(test)]
#[path = "events_tests.rs"]
mod tests;
