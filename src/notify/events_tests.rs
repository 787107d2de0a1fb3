//! One test per rule of the derivation, on hand-made reports.

use chrono::TimeZone as _;

use super::*;
use crate::reconcile::status::{
    CatalogStatus, FindingStatus, MessageStatus, RunStatus, UpdateCounts, UpdatePointStatus,
    Warning,
};

const DAY: Duration = Duration::from_secs(86_400);

fn t(minute: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 1, 8, minute, 0).unwrap()
}

fn run(result: RunResult, message: Option<&str>) -> RunStatus {
    RunStatus {
        started: t(0),
        ended: Some(t(0)),
        result,
        published: 0,
        revised: 0,
        expired: 0,
        staged: 0,
        failed: 0,
        message: message.map(str::to_string),
    }
}

fn catalog(key: &str, last: Option<RunStatus>, messages: Vec<MessageStatus>) -> CatalogStatus {
    CatalogStatus {
        key: key.into(),
        name: key.into(),
        subscribed: true,
        suspended: false,
        schedule: None,
        signers: Vec::new(),
        content_certificates: Vec::new(),
        last_sync: last,
        last_success: None,
        next_sync: None,
        revision: None,
        updates: UpdateCounts::default(),
        messages,
        window: None,
    }
}

fn report(catalogs: Vec<CatalogStatus>) -> Report {
    Report {
        format_version: "1",
        generated: t(0),
        catalogs,
        update_point: UpdatePointStatus {
            schedule: None,
            suspended: false,
            last_sync: None,
            last_success: None,
            next_sync: None,
            messages: Vec::new(),
        },
        signing: None,
        findings: Vec::new(),
        interrupted_apply: None,
        approvals: Vec::new(),
        warnings: Vec::new(),
        healthy: true,
    }
}

fn failing() -> Report {
    report(vec![catalog(
        "contoso",
        Some(run(RunResult::Failed, Some("HTTP 503"))),
        Vec::new(),
    )])
}

fn good() -> Report {
    report(vec![catalog(
        "contoso",
        Some(run(RunResult::Succeeded, None)),
        Vec::new(),
    )])
}

fn message(code: u32, minute: u32) -> MessageStatus {
    MessageStatus {
        at: t(minute),
        code,
        number: code,
        severity: "error".into(),
        text: format!("text of {code}"),
    }
}

fn none() -> PassFacts {
    PassFacts::default()
}

#[test]
fn a_failing_sync_opens_a_problem_and_sends_one_error() {
    let (events, open) = derive(&Problems::default(), &failing(), &none(), t(1), DAY);
    assert_eq!(events.len(), 1);
    let e = &events[0];
    assert_eq!(e.kind, EventKind::SyncFailed);
    assert_eq!(e.severity, Severity::Error);
    assert_eq!(e.catalog.as_deref(), Some("contoso"));
    assert_eq!(e.scope.as_deref(), Some("catalog.contoso"));
    assert!(e.message.contains("HTTP 503"), "{}", e.message);
    assert!(!e.resolved && !e.reminder);
    assert_eq!(open.open.len(), 1);
}

#[test]
fn a_problem_still_open_sends_nothing_until_the_reminder_is_due() {
    let (_, open) = derive(&Problems::default(), &failing(), &none(), t(1), DAY);
    let (events, again) = derive(&open, &failing(), &none(), t(30), DAY);
    assert!(events.is_empty(), "{events:?}");
    assert_eq!(again, open);
}

#[test]
fn a_problem_open_past_remind_after_is_sent_again_as_a_reminder() {
    let hour = Duration::from_secs(3600);
    let (_, open) = derive(&Problems::default(), &failing(), &none(), t(0), hour);
    let later = t(0) + chrono::Duration::hours(2);
    let (events, after) = derive(&open, &failing(), &none(), later, hour);
    assert_eq!(events.len(), 1);
    assert!(events[0].reminder);
    assert!(
        events[0].message.starts_with("reminder: still open since"),
        "{}",
        events[0].message
    );
    // The next reminder counts from this one.
    let (events, _) = derive(
        &after,
        &failing(),
        &none(),
        later + chrono::Duration::minutes(30),
        hour,
    );
    assert!(events.is_empty());
}

#[test]
fn a_failing_sync_that_succeeds_again_sends_sync_recovered() {
    let (_, open) = derive(&Problems::default(), &failing(), &none(), t(1), DAY);
    let (events, closed) = derive(&open, &good(), &none(), t(2), DAY);
    assert_eq!(events.len(), 1);
    let e = &events[0];
    assert_eq!(e.kind, EventKind::SyncRecovered);
    assert_eq!(e.severity, Severity::Info);
    assert_eq!(e.problem_severity, Some(Severity::Error));
    assert!(e.resolved);
    assert_eq!(e.catalog.as_deref(), Some("contoso"));
    assert!(closed.open.is_empty());
    // Healthy and quiet from then on.
    let (events, _) = derive(&closed, &good(), &none(), t(3), DAY);
    assert!(events.is_empty());
}

#[test]
fn a_pass_that_fails_as_a_whole_is_a_problem_until_one_succeeds() {
    let failed = PassFacts {
        failed: Some("the store is locked by another process".into()),
        ..PassFacts::default()
    };
    let (events, open) = derive(&Problems::default(), &good(), &failed, t(1), DAY);
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].kind, EventKind::SyncFailed);
    assert_eq!(events[0].scope.as_deref(), Some("pass"));
    assert!(events[0].catalog.is_none());
    assert!(events[0].message.contains("locked by another process"));
    let (events, _) = derive(&open, &good(), &failed, t(2), DAY);
    assert!(events.is_empty(), "still the same problem");
    let (events, closed) = derive(&open, &good(), &none(), t(3), DAY);
    assert_eq!(events[0].kind, EventKind::SyncRecovered);
    assert!(closed.open.is_empty());
}

#[test]
fn the_update_points_failing_sync_is_a_problem_without_a_catalog() {
    let mut r = good();
    r.update_point.last_sync = Some(run(RunResult::Failed, Some("upstream unreachable")));
    let (events, _) = derive(&Problems::default(), &r, &none(), t(1), DAY);
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].kind, EventKind::SyncFailed);
    assert_eq!(events[0].catalog, None);
    assert_eq!(events[0].scope.as_deref(), Some("sync"));
}

#[test]
fn an_unsubscribed_catalog_is_no_problem() {
    let mut r = failing();
    r.catalogs[0].subscribed = false;
    let (events, open) = derive(&Problems::default(), &r, &none(), t(1), DAY);
    assert!(events.is_empty());
    assert!(open.open.is_empty());
}

#[test]
fn drift_left_alone_is_a_warning_until_it_clears() {
    let mut r = good();
    r.findings.push(FindingStatus {
        scope: "catalog.contoso".into(),
        kind: FindingKind::Drift,
        since: t(0),
        seen: t(0),
        summary: "2 to publish left alone (monitor-only)".into(),
    });
    let (events, open) = derive(&Problems::default(), &r, &none(), t(1), DAY);
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].kind, EventKind::DriftDetected);
    assert_eq!(events[0].severity, Severity::Warning);
    assert_eq!(events[0].catalog.as_deref(), Some("contoso"));
    let (events, _) = derive(&open, &good(), &none(), t(2), DAY);
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].kind, EventKind::DriftDetected);
    assert!(events[0].resolved);
}

#[test]
fn an_expiring_certificate_is_one_problem_while_its_day_count_changes() {
    let warn = |days: u32| Warning {
        code: "certificate-expiring",
        scope: "catalog.contoso".into(),
        message: format!(
            "catalog contoso signer AB12 (CN=Contoso) expires on 2026-03-20 (in {days} days)"
        ),
    };
    let mut r = good();
    r.warnings.push(warn(20));
    let (events, open) = derive(&Problems::default(), &r, &none(), t(1), DAY);
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].kind, EventKind::CertificateExpiring);
    r.warnings[0] = warn(19);
    let (events, _) = derive(&open, &r, &none(), t(2), DAY);
    assert!(events.is_empty(), "{events:?}");
}

#[test]
fn each_new_status_message_is_one_event_with_its_code() {
    let r = report(vec![catalog(
        "contoso",
        Some(run(RunResult::Succeeded, None)),
        vec![message(11516, 5), message(11508, 4), message(11523, 3)],
    )]);
    let (events, seen) = derive(&Problems::starting(t(0)), &r, &none(), t(6), DAY);
    let kinds: Vec<_> = events.iter().map(|e| (e.kind, e.code)).collect();
    assert_eq!(
        kinds,
        [
            (EventKind::SignerChanged, Some(11508)),
            (EventKind::ContentRefused, Some(11516)),
        ],
        "11523 is no event kind; oldest first"
    );
    assert_eq!(events[0].time, t(4), "a message's event carries its time");
    assert_eq!(seen.messages_seen, Some(t(5)));
    // The same messages again: nothing new.
    let (events, _) = derive(&seen, &r, &none(), t(7), DAY);
    assert!(events.is_empty());
}

#[test]
fn status_messages_recorded_before_the_daemon_started_are_not_news() {
    let r = report(vec![catalog("contoso", None, vec![message(11508, 4)])]);
    let (events, _) = derive(&Problems::starting(t(10)), &r, &none(), t(11), DAY);
    assert!(events.is_empty());
}

#[test]
fn a_pass_that_applied_changes_is_apply_completed() {
    let facts = PassFacts {
        applied: vec![Applied {
            catalog: Some("contoso".into()),
            summary: "contoso: 4 published".into(),
        }],
        failed: None,
    };
    let (events, _) = derive(&Problems::default(), &good(), &facts, t(1), DAY);
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].kind, EventKind::ApplyCompleted);
    assert_eq!(events[0].severity, Severity::Info);
    assert_eq!(events[0].catalog.as_deref(), Some("contoso"));
}

#[test]
fn the_same_status_message_recorded_by_every_retry_is_sent_once_per_remind_after() {
    let hour = Duration::from_secs(3600);
    let at = |minute| {
        report(vec![catalog(
            "contoso",
            Some(run(RunResult::Failed, Some("11508"))),
            vec![message(11508, minute)],
        )])
    };
    let (events, p) = derive(&Problems::starting(t(0)), &at(1), &none(), t(1), hour);
    assert_eq!(events.len(), 2, "sync-failed and the 11508");
    let (events, p) = derive(&p, &at(2), &none(), t(2), hour);
    assert!(events.is_empty(), "the same 11508 again: {events:?}");
    let later = t(3) + chrono::Duration::hours(1);
    let (events, _) = derive(&p, &at(3), &none(), later, hour);
    let again: Vec<_> = events.iter().filter(|e| e.code == Some(11508)).collect();
    assert_eq!(again.len(), 1);
    assert!(again[0].reminder);
}
