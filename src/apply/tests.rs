//! Apply engine unit tests against the in-memory backend.

use super::*;
use crate::plan::Payload;
use crate::store::memory::MemoryBackend;
use crate::store::{CertKind, done_message};

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

#[test]
fn done_messages_carry_the_fingerprint_left() {
    let fp = Fingerprint::parse(&"ab".repeat(32)).unwrap();
    assert_eq!(
        fingerprint_in(&done_message("publish", Some(&fp))),
        Some(Some(fp))
    );
    assert_eq!(fingerprint_in(&done_message("delete", None)), Some(None));
    assert_eq!(
        fingerprint_in("publish"),
        None,
        "journals of older versions"
    );
}

/// One certificate approved in two roles: an apply killed after the first approval must
/// not count the second as done when resumed.
#[test]
fn resume_tells_apart_one_certificate_in_two_roles() {
    let backend = MemoryBackend::new().unwrap();
    let plan = Plan::new(
        "c".into(),
        vec![approve(CertKind::Catalog), approve(CertKind::Content)],
        vec![],
    );
    let ctx = ContentContext {
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
        journal(&backend, &plan.id, &e.address, e.outcome, &e.message).unwrap();
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
        fetcher: None,
        sources: Default::default(),
        now: Utc::now(),
    };
    let ends = |backend: &MemoryBackend, plan: &Plan| {
        backend
            .journal(&plan.id)
            .unwrap()
            .unwrap()
            .entries
            .iter()
            .any(|e| e.address == Address::apply())
    };
    let backend = MemoryBackend::new().unwrap();
    let plan = Plan::new("c".into(), vec![approve(CertKind::Catalog)], vec![]);
    rt.block_on(run(&plan, &backend, &ctx, &opts(false)))
        .unwrap();
    assert!(ends(&backend, &plan));

    let backend = MemoryBackend::new().unwrap();
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
