//! Hygiene rules planned, applied and planned again against the in-memory server: each
//! converges in one apply (issue 18).

use chrono::{Duration, Utc};

use super::converge_tests::{config, content, count, plan, run, trusted, uid, update};
use crate::catalog::model::{FormatVersion, PublicationState, UpdateRecord};
use crate::plan::model::ActionKind;
use crate::store::{Change, Store, UpdateState};

/// A chain 1 ← 2 ← 3: 2 supersedes 1 and 3 supersedes 2, created `ages` days ago.
fn chain(ages: [i64; 3]) -> Vec<UpdateRecord> {
    let mut v: Vec<UpdateRecord> = (1..=3).map(|n| update(n, "1.0")).collect();
    for (u, age) in v.iter_mut().zip(ages) {
        u.created = Utc::now() - Duration::days(age);
    }
    v[1].superseded = vec![uid(1)];
    v[2].superseded = vec![uid(2)];
    v
}

fn states(b: &Store) -> Vec<UpdateState> {
    let s = b.snapshot().unwrap();
    (1..=3).map(|n| s.updates[&uid(n)].state()).collect()
}

#[test]
fn superseded_updates_are_declined_with_the_publish_and_the_newest_is_kept() {
    let b = Store::memory().unwrap();
    let cfg = config("[catalog.acme.hygiene]\ndecline_superseded = \"0 days\"\n");
    let cats = trusted(content(chain([60, 40, 20]), FormatVersion::V3));
    let p = plan(&b, &cfg, &cats);
    assert_eq!(count(&p, ActionKind::Publish), 3);
    assert_eq!(count(&p, ActionKind::Decline), 2, "{:#?}", p.actions);
    let reason = &p
        .actions
        .iter()
        .find(|a| a.kind == ActionKind::Decline && a.address.as_str().contains(&*uid(1).as_str()))
        .unwrap()
        .reason;
    assert!(
        reason.contains(&format!("superseded by {}", uid(2))),
        "{reason}"
    );
    assert!(reason.contains("40 days ago"), "{reason}");
    assert_eq!(p.summary.updates.decline, 2);
    run(&b, &p);
    assert_eq!(
        states(&b),
        vec![
            UpdateState::Declined,
            UpdateState::Declined,
            UpdateState::MetadataOnly
        ]
    );
    let again = plan(&b, &cfg, &cats);
    assert!(!again.changes, "{:?}", again.actions);
}

#[test]
fn the_delay_holds_a_recent_supersession_until_it_passes() {
    let b = Store::memory().unwrap();
    // 2 superseded 1 forty days ago; 3 superseded 2 ten days ago.
    let cfg = config("[hygiene]\ndecline_superseded = \"30 days\"\n");
    let cats = trusted(content(chain([60, 40, 10]), FormatVersion::V3));
    let p = plan(&b, &cfg, &cats);
    assert_eq!(
        count(&p, ActionKind::Decline),
        1,
        "only 1 is past the delay"
    );
    run(&b, &p);
    assert_eq!(
        states(&b)[..2],
        [UpdateState::Declined, UpdateState::MetadataOnly]
    );
    assert!(!plan(&b, &cfg, &cats).changes);
}

#[test]
fn a_decline_made_by_a_rule_is_undone_when_the_rule_goes_and_an_admins_is_kept() {
    let b = Store::memory().unwrap();
    let cfg = config("[catalog.acme.hygiene]\ndecline_superseded = \"0 days\"\n");
    let cats = trusted(content(chain([60, 40, 20]), FormatVersion::V3));
    run(&b, &plan(&b, &cfg, &cats));
    // An admin declines the newest in the console.
    b.apply(Change::SetDeclined {
        ids: vec![uid(3)],
        declined: true,
    })
    .unwrap();
    let without = config("");
    let p = plan(&b, &without, &cats);
    assert_eq!(count(&p, ActionKind::Undecline), 2, "{:#?}", p.actions);
    assert!(
        p.actions
            .iter()
            .all(|a| !a.address.as_str().contains(&*uid(3).as_str())),
        "the admin's decline is not supctl's to undo"
    );
    run(&b, &p);
    assert_eq!(
        states(&b),
        vec![
            UpdateState::MetadataOnly,
            UpdateState::MetadataOnly,
            UpdateState::Declined
        ]
    );
    assert!(!plan(&b, &without, &cats).changes);
}

#[test]
fn expired_and_long_superseded_updates_are_expired_and_declined_in_one_apply() {
    let b = Store::memory().unwrap();
    let mut updates = chain([200, 150, 10]);
    updates[2].publication_state = PublicationState::Published;
    let cats = trusted(content(updates.clone(), FormatVersion::V3));
    run(&b, &plan(&b, &config(""), &cats));
    let cfg =
        config("[catalog.acme.hygiene]\nexpire_superseded = \"90 days\"\ndecline_expired = true\n");
    let p = plan(&b, &cfg, &cats);
    assert_eq!(count(&p, ActionKind::Expire), 1, "{:#?}", p.actions);
    assert_eq!(count(&p, ActionKind::Decline), 1, "{:#?}", p.actions);
    run(&b, &p);
    let s = b.snapshot().unwrap();
    let first = &s.updates[&uid(1)];
    assert!(first.publication == PublicationState::Expired && first.declined);
    assert!(!plan(&b, &cfg, &cats).changes);

    // The catalog expiring an update: declined in the same plan.
    updates[2].publication_state = PublicationState::Expired;
    let cats = trusted(content(updates, FormatVersion::V3));
    let p = plan(&b, &cfg, &cats);
    assert_eq!(
        (
            count(&p, ActionKind::Expire),
            count(&p, ActionKind::Decline)
        ),
        (1, 1),
        "{:#?}",
        p.actions
    );
    run(&b, &p);
    assert!(!plan(&b, &cfg, &cats).changes);
}

#[test]
fn content_is_not_staged_for_an_update_declined_now() {
    let b = Store::memory().unwrap();
    let cfg = config("stage = \"all\"\n[catalog.acme.hygiene]\ndecline_superseded = \"0 days\"\n");
    let cats = trusted(content(chain([60, 40, 20]), FormatVersion::V3));
    let p = plan(&b, &cfg, &cats);
    let staged: Vec<&str> = p
        .actions
        .iter()
        .filter(|a| a.kind == ActionKind::Stage)
        .map(|a| a.address.as_str())
        .collect();
    assert_eq!(staged.len(), 1, "{staged:?}");
    assert!(staged[0].contains(&*uid(3).as_str()), "{staged:?}");
}

#[test]
fn declines_count_against_the_deletion_budget() {
    let b = Store::memory().unwrap();
    let cfg = config("[catalog.acme.hygiene]\ndecline_superseded = \"0 days\"\n");
    let cats = trusted(content(chain([60, 40, 20]), FormatVersion::V3));
    let p = plan(&b, &cfg, &cats);
    assert_eq!(p.destructive_count(), 2);
}

#[test]
fn an_undecline_revives_the_chain_it_heads_so_plans_do_not_flap() {
    let b = Store::memory().unwrap();
    let cfg = config("[catalog.acme.hygiene]\ndecline_superseded = \"0 days\"\n");
    let cats = trusted(content(chain([60, 40, 20]), FormatVersion::V3));
    run(&b, &plan(&b, &cfg, &cats));
    // An admin declines the newest: 2 heads the chain again and is undeclined; 1 stays
    // declined, superseded by 2.
    b.apply(Change::SetDeclined {
        ids: vec![uid(3)],
        declined: true,
    })
    .unwrap();
    let p = plan(&b, &cfg, &cats);
    assert_eq!(count(&p, ActionKind::Undecline), 1, "{:#?}", p.actions);
    assert_eq!(p.actions.len(), 1, "{:#?}", p.actions);
    run(&b, &p);
    assert_eq!(
        states(&b),
        vec![
            UpdateState::Declined,
            UpdateState::MetadataOnly,
            UpdateState::Declined
        ]
    );
    assert!(!plan(&b, &cfg, &cats).changes);
}

/// Stages `bytes` as the one file of update `n` (whose file the test made to match them).
fn stage(b: &Store, n: u32, bytes: &[u8]) {
    let dir = b.server().staging_dir().unwrap();
    let temp = dir.join(format!("t{n}"));
    std::fs::write(&temp, bytes).unwrap();
    b.apply(Change::StageContent(crate::store::StageRequest {
        update: uid(n),
        sha1: crate::ids::Sha1::of(bytes),
        sha256: crate::ids::Sha256::of(bytes),
        temp_path: temp,
        ext: "exe".into(),
    }))
    .unwrap();
}

#[test]
fn content_goes_only_when_no_kept_update_uses_it_and_counts_as_a_deletion() {
    let b = Store::memory().unwrap();
    // 1 and 3 ship the same file; 2 its own.
    let mut updates = chain([60, 40, 20]);
    let shared = b"shared setup".as_slice();
    let own = b"update 2 setup".as_slice();
    for (u, bytes) in updates.iter_mut().zip([shared, own, shared]) {
        let f = &mut u.items[0].files[0];
        f.sha1 = crate::ids::Sha1::of(bytes);
        f.size = bytes.len() as u64;
    }
    let cats = trusted(content(updates, FormatVersion::V3));
    run(&b, &plan(&b, &config(""), &cats));
    stage(&b, 1, shared);
    stage(&b, 2, own);
    let cfg = config(
        "[catalog.acme.hygiene]\ndecline_superseded = \"0 days\"\nremove_content_of = [\"declined\"]\n",
    );
    let p = plan(&b, &cfg, &cats);
    let unstaged: Vec<&str> = p
        .actions
        .iter()
        .filter(|a| a.kind == ActionKind::Unstage)
        .map(|a| a.address.as_str())
        .collect();
    assert_eq!(unstaged.len(), 1, "{:#?}", p.actions);
    assert!(
        unstaged[0].contains(&*uid(2).as_str()),
        "1's file is also 3's, which keeps it: {unstaged:?}"
    );
    assert_eq!(p.destructive_count(), 3, "two declines and one removal");
    assert_eq!(p.summary.updates.unstage_bytes, own.len() as u64);
    run(&b, &p);
    let s = b.snapshot().unwrap();
    assert!(s.updates[&uid(1)].files[0].staged, "shared with the newest");
    assert!(!s.updates[&uid(2)].files[0].staged, "removed");
    assert!(!plan(&b, &cfg, &cats).changes);
}
