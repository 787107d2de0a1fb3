//! `[[approve]]` planned, applied and planned again against the in-memory server (issue 18):
//! groups created, rings and deadlines honoured, console drift shown, uninstall only where
//! the update allows it, metadata-only updates refused with a reason.

use chrono::{Duration, Utc};

use super::converge_tests::{config, content, count, plan, run, trusted, uid, update};
use crate::catalog::model::{FormatVersion, UpdateRecord};
use crate::config::ApprovalAction;
use crate::plan::model::{ActionKind, Plan};
use crate::store::{Change, Store};

/// Updates 1..=3 created 60, 20 and 5 days ago; 1 and 2 get content of their own.
fn updates() -> Vec<UpdateRecord> {
    let mut v: Vec<UpdateRecord> = (1..=3).map(|n| update(n, "1.0")).collect();
    for (u, age) in v.iter_mut().zip([60, 20, 5]) {
        u.created = Utc::now() - Duration::days(age);
        let bytes = format!("content of {}", u.id);
        u.items[0].files[0].sha1 = crate::ids::Sha1::of(bytes.as_bytes());
    }
    v
}

fn stage(b: &Store, n: u32) {
    let bytes = format!("content of {}", uid(n));
    let temp = b.server().staging_dir().unwrap().join(format!("t{n}"));
    std::fs::write(&temp, &bytes).unwrap();
    b.apply(Change::StageContent(crate::store::StageRequest {
        update: uid(n),
        sha1: crate::ids::Sha1::of(bytes.as_bytes()),
        sha256: crate::ids::Sha256::of(bytes.as_bytes()),
        temp_path: temp,
        ext: "exe".into(),
    }))
    .unwrap();
}

/// A server holding the three updates, 1 and 2 staged.
fn server(cats: &std::collections::BTreeMap<String, crate::catalog::acquire::Acquired>) -> Store {
    let b = Store::memory().unwrap();
    run(&b, &plan(&b, &config(""), cats));
    stage(&b, 1);
    stage(&b, 2);
    b
}

fn codes(p: &Plan) -> Vec<&str> {
    p.diagnostics.iter().map(|d| d.code.as_str()).collect()
}

#[test]
fn staged_updates_are_approved_for_created_groups_and_metadata_only_ones_are_named() {
    let cats = trusted(content(updates(), FormatVersion::V3));
    let b = server(&cats);
    let cfg = config(
        "[[approve]]\ngroups = [\"Ring 1 - Pilot\"]\ncreate_groups = true\ndeadline = \"7 days\"\n",
    );
    let p = plan(&b, &cfg, &cats);
    assert_eq!(count(&p, ActionKind::Create), 1, "{:#?}", p.actions);
    assert_eq!(count(&p, ActionKind::Approve), 2, "{:#?}", p.actions);
    let warning = p
        .diagnostics
        .iter()
        .find(|d| d.code == "approval-needs-content")
        .expect("metadata-only update 3 named");
    assert!(
        warning.message.contains("Acme Update 3"),
        "{}",
        warning.message
    );
    run(&b, &p);
    let s = b.snapshot().unwrap();
    assert_eq!(s.groups.len(), 1);
    assert_eq!(s.approvals.len(), 2);
    let deadline = s.approvals[0].deadline.expect("a deadline");
    assert!(
        (deadline - (Utc::now() + Duration::days(7)))
            .num_minutes()
            .abs()
            < 5
    );
    let again = plan(&b, &cfg, &cats);
    assert!(!again.changes, "{:#?}", again.actions);

    // A missing group without create_groups is an error naming it.
    let cfg = config("[[approve]]\ngroups = [\"Ring 9\"]\n");
    let p = plan(&b, &cfg, &cats);
    assert!(codes(&p).contains(&"group-missing"), "{:?}", codes(&p));
    assert!(p.has_errors());
}

#[test]
fn rings_wait_for_after_and_console_drift_is_undone() {
    let cats = trusted(content(updates(), FormatVersion::V3));
    let b = server(&cats);
    let cfg =
        config("[[approve]]\ngroups = [\"Ring 2\"]\ncreate_groups = true\nafter = \"30 days\"\n");
    let p = plan(&b, &cfg, &cats);
    assert_eq!(
        count(&p, ActionKind::Approve),
        1,
        "only update 1 is 30 days old"
    );
    assert!(codes(&p).contains(&"approval-waiting"), "{:?}", codes(&p));
    run(&b, &p);

    // In the console: update 1's approval removed, update 2 approved early.
    b.apply(Change::RemoveApproval {
        update: uid(1),
        group: "Ring 2".into(),
    })
    .unwrap();
    b.apply(Change::Approve {
        update: uid(2),
        group: "ring 2".into(),
        action: ApprovalAction::Install,
        deadline: None,
    })
    .unwrap();
    let p = plan(&b, &cfg, &cats);
    let kinds: Vec<(ActionKind, bool)> = p
        .actions
        .iter()
        .map(|a| (a.kind, a.address.as_str().contains(&*uid(1).as_str())))
        .collect();
    assert_eq!(
        kinds,
        vec![(ActionKind::Approve, true), (ActionKind::Delete, false)],
        "{:#?}",
        p.actions
    );
    run(&b, &p);
    assert!(!plan(&b, &cfg, &cats).changes);
}

#[test]
fn a_changed_deadline_re_approves_and_uninstall_needs_an_uninstallable_update() {
    let mut u = updates();
    u[0].items[0].uninstallable = true;
    let cats = trusted(content(u, FormatVersion::V3));
    let b = server(&cats);
    let cfg =
        config("[[approve]]\ngroups = [\"All\"]\ncreate_groups = true\ndeadline = \"7 days\"\n");
    run(&b, &plan(&b, &cfg, &cats));
    let longer = config("[[approve]]\ngroups = [\"All\"]\ndeadline = \"14 days\"\n");
    let p = plan(&b, &longer, &cats);
    assert_eq!(count(&p, ActionKind::Update), 2, "{:#?}", p.actions);
    run(&b, &p);
    assert!(!plan(&b, &longer, &cats).changes);

    let uninstall = config(
        "[[approve]]\ngroups = [\"Retire\"]\ncreate_groups = true\naction = \"uninstall\"\n",
    );
    let p = plan(&b, &uninstall, &cats);
    let approved: Vec<&str> = p
        .actions
        .iter()
        .filter(|a| a.kind == ActionKind::Approve)
        .map(|a| a.address.as_str())
        .collect();
    assert_eq!(approved.len(), 1, "{approved:?}");
    assert!(approved[0].contains(&*uid(1).as_str()));
    assert!(
        codes(&p).contains(&"approval-not-uninstallable"),
        "{:?}",
        codes(&p)
    );
}

#[test]
fn the_server_refuses_to_approve_a_metadata_only_update_for_install() {
    let cats = trusted(content(updates(), FormatVersion::V3));
    let b = server(&cats);
    b.apply(Change::CreateGroup { name: "G".into() }).unwrap();
    let e = b
        .apply(Change::Approve {
            update: uid(3),
            group: "G".into(),
            action: ApprovalAction::Install,
            deadline: None,
        })
        .unwrap_err()
        .to_string();
    assert!(e.contains("content is not staged"), "{e}");
}

#[test]
fn a_category_matches_its_updates_and_an_unknown_one_is_named() {
    let cats = trusted(content(updates(), FormatVersion::V3));
    let b = server(&cats);
    let rule = |category: &str| {
        config(&format!(
            "[[approve]]\ngroups = [\"Ring 1\"]\ncreate_groups = true\ncategory = \"{category}\"\n"
        ))
    };
    // Acme/BIOS holds update 3 only, which is metadata-only: named, nothing approved.
    let p = plan(&b, &rule("Acme/BIOS"), &cats);
    assert_eq!(count(&p, ActionKind::Approve), 0, "{:#?}", p.actions);
    assert!(codes(&p).contains(&"approval-needs-content"));
    // Acme/Tools holds the two staged updates; a category's path is case-insensitive.
    let cfg = rule("acme/tools");
    let p = plan(&b, &cfg, &cats);
    assert_eq!(count(&p, ActionKind::Approve), 2, "{:#?}", p.actions);
    run(&b, &p);
    assert!(!plan(&b, &cfg, &cats).changes);
    // A path no catalog has approves nothing and says so; the approvals it no longer
    // asks for in its group are drift, removed.
    let p = plan(&b, &rule("Acme/Nope"), &cats);
    let d = p
        .diagnostics
        .iter()
        .find(|d| d.code == "approval-category-unknown")
        .expect("named");
    assert!(d.message.contains("`Acme/Nope`"), "{}", d.message);
    assert_eq!(count(&p, ActionKind::Approve), 0);
    assert_eq!(count(&p, ActionKind::Delete), 2, "{:#?}", p.actions);
}
