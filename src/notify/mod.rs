//! Notifications: what the `watch` daemon tells people when something breaks, and when it
//! is fixed (`[[notify]]` rules: webhook, Teams, Slack, email).
//!
//! ConfigMgr raises no alert when a catalog stops synchronizing; admins script one. Here
//! the daemon derives events from the status report after each pass (`events.rs`, a pure
//! function that also deduplicates: an open problem is sent once, again as a reminder after
//! `remind_after`, and as resolved when it clears), renders them per provider
//! (`payload.rs`), and hands them to one bounded queue and delivery task per rule
//! (`deliver.rs`), so a receiver that hangs or fails delays nothing but its own deliveries
//! and never a sync. Receivers' URLs and secrets come from environment variables read at
//! start-up (`receiver.rs`) and are never logged: errors are rendered without the URL.
//!
//! Must not: read the store or run passes (the daemon hands over the report); block the
//! reconcile loop on a receiver.

mod deliver;
mod events;
mod payload;
mod receiver;
mod stats;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;

pub use crate::vocab::{EventKind, NotifyProvider, Severity};
pub use deliver::{Notifier, QUEUE_CAPACITY, REQUEST_TIMEOUT, Timing, send_test};
pub use events::{Applied, OpenProblem, PassFacts, Problems, derive};
pub use payload::{signature, slack_body, teams_body, webhook_body};
pub use receiver::{Receiver, resolve};
pub use stats::{DeliveryCount, DeliveryStats, Outcome};

/// The `schema` of every webhook body; a new major version means renamed or removed fields.
pub const SCHEMA: &str = "supctl.event/v1";

/// One thing to tell a receiver.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Event {
    pub kind: EventKind,
    pub severity: Severity,
    /// The catalog the event is about (its key), if any.
    pub catalog: Option<String>,
    /// Where it happened: `catalog.<key>`, `sync`, `signing`, `certificate[...]`.
    pub scope: Option<String>,
    /// ConfigMgr's status message number (11508, 11516) for a status-message event.
    pub code: Option<u32>,
    pub message: String,
    pub time: DateTime<Utc>,
    /// The problem this event was about has cleared.
    pub resolved: bool,
    /// The problem is still open: sent again after `remind_after`.
    pub reminder: bool,
    /// A resolution's own severity is `info`; rules treat it with the severity of the
    /// problem it closes, so whoever was told about a failure is told it is over.
    #[serde(skip)]
    pub problem_severity: Option<Severity>,
}

impl Event {
    /// An event about nothing open (daemon started, apply completed, a test).
    pub fn new(kind: EventKind, severity: Severity, message: impl Into<String>) -> Event {
        Event {
            kind,
            severity,
            catalog: None,
            scope: None,
            code: None,
            message: message.into(),
            time: Utc::now(),
            resolved: false,
            reminder: false,
            problem_severity: None,
        }
    }

    /// The event `supctl notify test` sends.
    pub fn test() -> Event {
        Event::new(
            EventKind::Test,
            Severity::Info,
            "test notification from supctl: this receiver is set up correctly",
        )
    }

    /// RFC 3339 in UTC, to the second: what the body's `time` holds.
    pub fn time_text(&self) -> String {
        self.time.to_rfc3339_opts(SecondsFormat::Secs, true)
    }

    /// A one-line title: what a chat message or a mail subject shows first.
    pub fn title(&self) -> String {
        let state = if self.resolved {
            "resolved"
        } else if self.reminder {
            "reminder"
        } else {
            self.severity.as_str()
        };
        match &self.catalog {
            Some(c) => format!("[supctl] {state}: {} ({c})", self.kind),
            None => format!("[supctl] {state}: {}", self.kind),
        }
    }
}

/// Severity as a rank: a rule's `severity` is the least severe it takes.
fn rank(s: Severity) -> u8 {
    match s {
        Severity::Error => 0,
        Severity::Warning => 1,
        Severity::Info => 2,
    }
}

/// Whether a rule wants an event: the test event always; else severity (a resolution
/// counts as the problem it closes), kind (a rule for `sync-failed` also hears
/// `sync-recovered`) and catalog (a rule naming catalogs hears only events about them).
pub fn wants(rule: &crate::config::NotifyRule, e: &Event) -> bool {
    if e.kind == EventKind::Test {
        return true;
    }
    let severity = e.problem_severity.unwrap_or(e.severity);
    if rank(severity) > rank(rule.severity) {
        return false;
    }
    let kind_ok = rule.events.is_empty()
        || rule.events.contains(&e.kind)
        || (e.kind == EventKind::SyncRecovered && rule.events.contains(&EventKind::SyncFailed));
    let catalog_ok = rule.catalogs.is_empty()
        || e.catalog
            .as_ref()
            .is_some_and(|c| rule.catalogs.contains(c));
    kind_ok && catalog_ok
}

/// The host name the bodies carry, so one receiver can tell several daemons apart.
pub fn host_name() -> String {
    let from_env = std::env::var("COMPUTERNAME").or_else(|_| std::env::var("HOSTNAME"));
    from_env
        .ok()
        .or_else(|| std::fs::read_to_string("/proc/sys/kernel/hostname").ok())
        .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "unknown".into())
}

/// Why a notification could not be set up or delivered. Each names the rule; none holds
/// a URL or a secret (transport errors are rendered without the URL).
#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    #[error("[[notify]] `{rule}`: the environment variable {var} named by `{key}` is not set")]
    MissingEnv {
        rule: String,
        key: &'static str,
        var: String,
    },
    #[error("[[notify]] `{rule}`: the URL in {var} is not usable: {reason}")]
    BadUrl {
        rule: String,
        var: String,
        reason: String,
    },
    #[error("[[notify]] `{rule}`: setting up the HTTP client: {detail}")]
    Client { rule: String, detail: String },
    #[error(
        "notify `{rule}` ({provider}): sending the {kind} event: the receiver answered HTTP {status}"
    )]
    Status {
        rule: String,
        provider: NotifyProvider,
        kind: EventKind,
        status: u16,
    },
    #[error("notify `{rule}` ({provider}): sending the {kind} event: {detail}")]
    Send {
        rule: String,
        provider: NotifyProvider,
        kind: EventKind,
        detail: String,
    },
    #[error("notify `{rule}` ({provider}): sending the {kind} event: no answer within {secs} s")]
    Timeout {
        rule: String,
        provider: NotifyProvider,
        kind: EventKind,
        secs: u64,
    },
    #[error("notify `{rule}` (email): building the {kind} mail: {detail}")]
    Mail {
        rule: String,
        kind: EventKind,
        detail: String,
    },
    #[error("saving the notification state {path}: {detail}")]
    State { path: String, detail: String },
}

/// An error and its causes on one line, for errors whose own text may hold a URL only at
/// the top (reqwest's): the caller strips that first.
pub(crate) fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut next = e.source();
    while let Some(s) = next {
        let part = s.to_string();
        if !text.contains(&part) {
            text.push_str(": ");
            text.push_str(&part);
        }
        next = s.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::NotifyRule;

    fn rule(severity: Severity, events: &[EventKind], catalogs: &[&str]) -> NotifyRule {
        NotifyRule {
            name: "ops".into(),
            provider: NotifyProvider::Webhook,
            url_env: "U".into(),
            secret_env: None,
            password_env: None,
            severity,
            events: events.to_vec(),
            catalogs: catalogs.iter().map(|s| s.to_string()).collect(),
            remind_after: crate::config::DEFAULT_REMIND_AFTER,
            from: None,
            to: Vec::new(),
            loc: None,
        }
    }

    fn ev(kind: EventKind, severity: Severity, catalog: Option<&str>) -> Event {
        let mut e = Event::new(kind, severity, "m");
        e.catalog = catalog.map(str::to_string);
        e
    }

    #[test]
    fn severity_is_a_minimum() {
        let r = rule(Severity::Warning, &[], &[]);
        assert!(wants(&r, &ev(EventKind::SyncFailed, Severity::Error, None)));
        assert!(wants(
            &r,
            &ev(EventKind::DriftDetected, Severity::Warning, None)
        ));
        assert!(!wants(
            &r,
            &ev(EventKind::ApplyCompleted, Severity::Info, None)
        ));
        let info = rule(Severity::Info, &[], &[]);
        assert!(wants(
            &info,
            &ev(EventKind::ApplyCompleted, Severity::Info, None)
        ));
    }

    #[test]
    fn a_resolution_reaches_whoever_heard_the_problem() {
        let r = rule(Severity::Error, &[EventKind::SyncFailed], &[]);
        let mut e = ev(EventKind::SyncRecovered, Severity::Info, Some("contoso"));
        e.resolved = true;
        e.problem_severity = Some(Severity::Error);
        assert!(wants(&r, &e));
    }

    #[test]
    fn kinds_and_catalogs_filter_and_the_test_event_passes_everything() {
        let r = rule(Severity::Info, &[EventKind::SignerChanged], &["contoso"]);
        assert!(wants(
            &r,
            &ev(EventKind::SignerChanged, Severity::Error, Some("contoso"))
        ));
        assert!(!wants(
            &r,
            &ev(EventKind::SignerChanged, Severity::Error, Some("fabrikam"))
        ));
        assert!(!wants(
            &r,
            &ev(EventKind::SyncFailed, Severity::Error, Some("contoso"))
        ));
        assert!(!wants(
            &r,
            &ev(EventKind::DaemonStarted, Severity::Info, None)
        ));
        assert!(wants(
            &rule(Severity::Error, &[EventKind::SyncFailed], &["x"]),
            &Event::test()
        ));
    }

    #[test]
    fn titles_say_what_state_the_problem_is_in() {
        let mut e = ev(EventKind::SyncFailed, Severity::Error, Some("contoso"));
        assert_eq!(e.title(), "[supctl] error: sync-failed (contoso)");
        e.reminder = true;
        assert_eq!(e.title(), "[supctl] reminder: sync-failed (contoso)");
        let mut r = ev(EventKind::SyncRecovered, Severity::Info, None);
        r.resolved = true;
        assert_eq!(r.title(), "[supctl] resolved: sync-recovered");
    }
}
