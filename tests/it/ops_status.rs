//! Issue 13 #8, through the real binary: `status` tells the truth about content
//! certificates' expiry (also of certificates pending approval), drift a monitor-only
//! daemon left alone, a daemon held back by `max_deletions`, and an interrupted apply;
//! `plan` warns about the deletion budget.

use crate::support::watch as watch_common;
use supctl::store::Record;

use std::time::Duration;

use supctl::store::Store;
use supctl::store::db::OpenOptions;
use supctl::store::{Address, JournalEntry, JournalRole, Outcome, PlanId, StoreLocation};
use watch_common::{Watch, Workspace, count};

fn text(out: &std::process::Output) -> String {
    format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// The quickstart reading the catalog that ships five unapproved content certificates,
/// four of them expired in 2016.
fn many_certs(ws: &Workspace) {
    let cab = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/e2e/many-certs/contoso-v3.cab");
    std::fs::copy(cab, ws.path().join("catalog/contoso-v3.cab")).unwrap();
}

#[test]
fn content_certificates_pending_approval_show_their_real_expiry() {
    let ws = Workspace::quickstart();
    many_certs(&ws);
    ws.edit_config("stage = [\"Contoso/Utilities\"]", "stage = \"none\"");
    let out = ws.supctl(&["sync"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));

    let (code, v) = ws.status();
    assert_eq!(code, 0, "{v:#}");
    let certs = v["catalogs"][0]["content_certificates"].as_array().unwrap();
    assert_eq!(certs.len(), 5, "{v:#}");
    for c in certs {
        assert!(c["not_after"].is_string(), "expiry unknown: {c}");
        assert!(c["subject"].is_string(), "{c}");
        assert!(c["state"].is_null(), "{c}");
    }
    let expired = certs
        .iter()
        .filter(|c| c["not_after"].as_str().unwrap().starts_with("2016-01-01"))
        .count();
    assert_eq!(expired, 4, "{v:#}");
    // Nothing is staged from this catalog: its pending certificates are not needed.
    assert!(v["warnings"].as_array().unwrap().is_empty(), "{v:#}");

    let out = ws.supctl(&["status"]);
    let t = text(&out);
    assert!(!t.contains("expires never"), "{t}");
    assert!(
        t.contains("content certificates: 5 (5 pending approval; 4 expired)"),
        "{t}"
    );

    // Staging content from it: the expired pending certificates matter, in one warning.
    ws.edit_config("stage = \"none\"", "stage = \"all\"");
    let (_, v) = ws.status();
    let w: Vec<&serde_json::Value> = v["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|w| w["code"] == "certificate-expiring")
        .collect();
    assert_eq!(w.len(), 1, "{v:#}");
    let m = w[0]["message"].as_str().unwrap();
    assert!(
        m.contains("4 content certificates expired or expire within 30 days (0 approved, 4 pending approval; all expired)"),
        "{m}"
    );
}

#[test]
fn drift_left_alone_by_a_monitor_only_daemon_is_in_status() {
    let ws = Workspace::quickstart();
    let mut w = Watch::start(&ws, &["--mode", "monitor-only"], None);
    w.wait_for("drift", Duration::from_secs(30), |ev| {
        count(ev, "drift detected (monitor-only: not applied)", None) >= 1
    });
    let (code, v) = ws.status();
    assert_eq!(code, 0, "{v:#}");
    let drift = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["scope"] == "catalog.contoso" && f["kind"] == "drift")
        .unwrap_or_else(|| panic!("{v:#}"))
        .clone();
    let summary = drift["summary"].as_str().unwrap();
    assert!(
        summary.starts_with("8 changes (1 create, 4 publish, 3 stage) left alone (monitor-only)"),
        "{summary}"
    );
    // The first actions, by title where they have one, and how many more.
    assert!(
        summary.contains("create catalog.contoso;") && summary.contains("and 5 more"),
        "{summary}"
    );
    assert!(
        v["warnings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|w| w["code"] == "drift" && w["scope"] == "catalog.contoso"),
        "{v:#}"
    );
    let out = ws.supctl(&["status"]);
    assert!(
        text(&out).contains("  drift         since "),
        "{}",
        text(&out)
    );
    assert_eq!(w.stop(Duration::from_secs(20)), 0);

    // Applied: the drift is gone.
    let out = ws.supctl(&["sync"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let (_, v) = ws.status();
    assert!(v["findings"].as_array().unwrap().is_empty(), "{v:#}");
}

#[test]
fn a_daemon_held_back_by_max_deletions_is_in_status_and_plan_warns() {
    let ws = Workspace::quickstart();
    ws.edit_config(
        "content_source = \"content\"",
        "content_source = \"content\"\nprune = true",
    );
    let out = ws.supctl(&["sync"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));

    // Remove the catalog (prune = true: 4 expiries, the catalog and its signer's approval
    // deleted) with a budget of 1.
    let cfg = ws.read_config();
    let start = cfg.find("[catalog.contoso]").unwrap();
    let end = cfg.find("# The content signing certificate").unwrap();
    let cfg = format!("{}{}", &cfg[..start], &cfg[end..]).replace(
        "path = \".supctl\"",
        "path = \".supctl\"\nmax_deletions = 1",
    );
    ws.save_config(&cfg);

    let out = ws.supctl(&["plan"]);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(0), "{t}");
    assert!(
        t.contains("Warning [deletion-budget] server.max_deletions: the plan has 6 destructive actions (2 delete, 4 expire) and the limit is 1"),
        "{t}"
    );

    let mut w = Watch::start(&ws, &[], None);
    w.wait_for("the refused apply", Duration::from_secs(30), |ev| {
        count(ev, "reconcile failed", None) >= 1
    });
    let (code, v) = ws.status();
    assert_eq!(code, 1, "held back is unhealthy: {v:#}");
    assert_eq!(v["healthy"], false);
    let f = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["kind"] == "held-back" && f["scope"] == "catalog.contoso")
        .unwrap_or_else(|| panic!("{v:#}"))
        .clone();
    assert!(
        f["summary"]
            .as_str()
            .unwrap()
            .contains("the plan has 6 destructive actions and [server] max_deletions is 1"),
        "{f}"
    );
    let out = ws.supctl(&["status"]);
    assert!(
        text(&out).contains("[held-back] catalog.contoso"),
        "{}",
        text(&out)
    );
    assert_eq!(w.stop(Duration::from_secs(20)), 0);

    // Raised and applied: nothing is held back any more.
    ws.save_config(&cfg.replace("max_deletions = 1", "max_deletions = 6"));
    let out = ws.supctl(&["apply", "--auto-approve"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let (code, v) = ws.status();
    assert_eq!(code, 0, "{v:#}");
    assert!(v["findings"].as_array().unwrap().is_empty(), "{v:#}");
}

#[test]
fn an_interrupted_apply_is_in_status_until_resumed() {
    let ws = Workspace::quickstart();
    let state = ws.path().join(".supctl");
    let plan_file = ws.path().join("plan.json");
    let out = ws.supctl(&["plan", "-o", plan_file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    // What an apply killed after its first action leaves: the plan saved in the state
    // directory and one journaled action.
    let plan: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&plan_file).unwrap()).unwrap();
    let id = plan["id"].as_str().unwrap().to_string();
    std::fs::create_dir_all(state.join("plans")).unwrap();
    std::fs::copy(&plan_file, state.join(format!("plans/{id}.json"))).unwrap();
    let first = plan["actions"][0]["address"].as_str().unwrap();
    let b = Store::embedded(&StoreLocation::new(&state), OpenOptions::write()).unwrap();
    b.apply(Record::Journal(JournalEntry {
        plan: PlanId::parse(&id).unwrap(),
        address: Address::parse(first).unwrap(),
        role: JournalRole::Change,
        outcome: Outcome::Done,
        message: "approve".into(),
        left: None,
        at: chrono::Utc::now(),
    }))
    .unwrap();
    drop(b);

    let (code, v) = ws.status();
    assert_eq!(code, 0, "{v:#}");
    let i = &v["interrupted_apply"];
    assert_eq!(i["plan"], id.as_str(), "{v:#}");
    assert_eq!(i["done"], 1, "{v:#}");
    assert_eq!(
        i["actions"],
        plan["actions"].as_array().unwrap().len(),
        "{v:#}"
    );
    assert!(i["lock_holder"].is_null());
    assert!(
        v["warnings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|w| w["code"] == "apply-interrupted"),
        "{v:#}"
    );
    let out = ws.supctl(&["status"]);
    assert!(
        text(&out).contains("`supctl apply --resume` continues it"),
        "{}",
        text(&out)
    );

    let out = ws.supctl(&["apply", "--resume"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let (_, v) = ws.status();
    assert!(v["interrupted_apply"].is_null(), "{v:#}");
}
