//! Apply engine unit tests against the in-memory backend.

use super::*;
use crate::plan::Payload;
use chrono::Utc;

use crate::store::{CertKind, JournalEntry};

const T: &str = "6D8B3C448B990E269336BB63A47F23498C95EB7D";

fn thumbprint() -> crate::ids::Thumbprint {
    crate::ids::Thumbprint::parse(T).unwrap()
}

fn approve(kind: CertKind) -> Action {
    Action {
        address: Address::certificate_role(&thumbprint(), kind),
        kind: ActionKind::Approve,
        before: None,
        after: None,
        reason: String::new(),
        before_fingerprint: None,
        bytes: 0,
        unsupported: None,
        payload: Some(Payload::Certificate {
            thumbprint: thumbprint(),
            kind,
            state: Some(crate::store::CertState::Approved),
            info: None,
        }),
    }
}

fn opts(resume: bool) -> ApplyOptions {
    ApplyOptions {
        resume,
        max_deletions: 0,
        concurrency: 1,
        progress: Progress::Quiet,
        cancel: None,
    }
}

/// A publish and the staging after it are two outcomes of one object: the journal keeps
/// the latest per role, and a done entry keeps the fingerprint it left (none when the
/// object is gone).
#[test]
fn the_journal_keeps_one_outcome_per_role_with_the_fingerprint_left() {
    let plan = PlanId::parse("0123456789abcdef").unwrap();
    let object = Address::certificate_role(&thumbprint(), CertKind::Content);
    let fp = Fingerprint::parse(&"ab".repeat(32)).unwrap();
    let done = |role| DoneEntry {
        plan: plan.clone(),
        key: JournalKey::new(object.clone(), role),
        what: "publish".into(),
    };
    let published = done(JournalRole::Change).entry(Some(fp.clone()), Utc::now());
    assert_eq!(published.left, Some(fp));
    assert_eq!(published.message, "publish");
    let staging_failed = JournalEntry::outcome(
        &plan,
        &done(JournalRole::Stage).key,
        Outcome::Failed,
        "timeout",
    );
    assert_eq!(staging_failed.left, None);
    let j = Journal {
        plan: plan.clone(),
        entries: vec![published, staging_failed],
    };
    assert_eq!(
        j.latest(&done(JournalRole::Change).key),
        Some(Outcome::Done)
    );
    assert_eq!(
        j.latest(&done(JournalRole::Stage).key),
        Some(Outcome::Failed)
    );
    assert!(j.any_latest_failed(), "the staging's latest outcome failed");
    // Retried and done: its latest outcome is no longer a failure.
    let mut retried = j.clone();
    retried
        .entries
        .push(done(JournalRole::Stage).entry(None, Utc::now()));
    assert!(!retried.any_latest_failed());
    assert_eq!(done(JournalRole::Change).entry(None, Utc::now()).left, None);
}

/// One certificate approved in two roles: an apply killed after the first approval must
/// not count the second as done when resumed.
#[test]
fn resume_tells_apart_one_certificate_in_two_roles() {
    let backend = Store::memory().unwrap();
    let plan = Plan::new(
        "c".into(),
        vec![approve(CertKind::Catalog), approve(CertKind::Content)],
        vec![],
    );
    let ctx = ContentContext {
        packages: None,
        fetcher: None,
        sources: Default::default(),
        now: Utc::now(),
    };
    // The interrupted run: the first action done and journaled, then the crash.
    let first = Plan::new("c".into(), vec![approve(CertKind::Catalog)], vec![]);
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let r = rt
        .block_on(run(&first, &backend, &ctx, &opts(false)))
        .unwrap();
    assert_eq!(r.done.len(), 1);
    for e in backend.journal(&first.id).unwrap().unwrap().entries {
        backend
            .apply(Record::Journal(JournalEntry {
                plan: plan.id.clone(),
                ..e
            }))
            .unwrap();
    }

    let r = rt
        .block_on(run(&plan, &backend, &ctx, &opts(true)))
        .unwrap();
    let addresses = |d: &[super::Done]| d.iter().map(|d| d.address.clone()).collect::<Vec<_>>();
    let role = |k| Address::certificate_role(&thumbprint(), k);
    assert_eq!(addresses(&r.resumed), vec![role(CertKind::Catalog)]);
    assert_eq!(addresses(&r.done), vec![role(CertKind::Content)], "{r:?}");
    assert!(r.succeeded(), "{r:?}");
    let kinds: Vec<_> = backend
        .snapshot()
        .unwrap()
        .certificates
        .iter()
        .map(|c| c.kind.to_string())
        .collect();
    assert_eq!(kinds.len(), 2, "{kinds:?}");
}

/// A finished apply ends its journal with `Address::apply()`, so `reconcile::pass::interrupted`
/// need not read its plan; a cancelled one with actions left does not.
#[test]
fn only_an_apply_that_ran_to_its_end_says_so() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let ctx = ContentContext {
        packages: None,
        fetcher: None,
        sources: Default::default(),
        now: Utc::now(),
    };
    let ends = |backend: &Store, plan: &Plan| {
        backend
            .journal(&plan.id)
            .unwrap()
            .unwrap()
            .entries
            .iter()
            .any(|e| e.address == Address::apply())
    };
    let backend = Store::memory().unwrap();
    let plan = Plan::new("c".into(), vec![approve(CertKind::Catalog)], vec![]);
    rt.block_on(run(&plan, &backend, &ctx, &opts(false)))
        .unwrap();
    assert!(ends(&backend, &plan));

    let backend = Store::memory().unwrap();
    let plan = Plan::new(
        "c".into(),
        vec![approve(CertKind::Catalog), approve(CertKind::Content)],
        vec![],
    );
    let cancel = Arc::new(AtomicBool::new(true));
    let cancelled = ApplyOptions {
        cancel: Some(cancel),
        ..opts(false)
    };
    let r = rt.block_on(run(&plan, &backend, &ctx, &cancelled)).unwrap();
    assert_eq!(r.not_attempted.len(), 2);
    assert!(
        backend
            .journal(&plan.id)
            .unwrap()
            .is_none_or(|j| j.entries.iter().all(|e| e.address != Address::apply()))
    );
}
