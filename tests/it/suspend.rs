//! `suspend = true` (issue 17): a suspended catalog is neither acquired nor planned unless it
//! is named, the plan and `status` say it is suspended, and the `watch` daemon neither
//! schedules it nor touches it in a full pass, while `supctl sync KEY` still synchronizes it.

use std::time::Duration;

use crate::support::cli::*;
use crate::support::watch as watch_support;

/// The quickstart applied, then suspended with a config change waiting (a new description)
/// and its source moved to a URL nobody answers: acquiring it would fail the plan.
fn suspended_after_apply() -> (Workspace, std::path::PathBuf) {
    let ws = Workspace::new();
    let cfg = ws.config(
        "supctl",
        "state",
        &format!("{}\n{}", quickstart("contoso", ""), approve_content()),
    );
    let r = run(&cfg, &["apply", "--auto-approve"]);
    assert_eq!(r.code, 0, "{}", r.all());
    let mut in_catalog = false;
    let text: String = std::fs::read_to_string(&cfg)
        .unwrap()
        .lines()
        .map(|l| {
            if l.starts_with('[') {
                in_catalog = l == "[catalog.contoso]";
            }
            if in_catalog && l.starts_with("path = ") {
                "url = \"https://127.0.0.1:9/contoso.cab\"\nsuspend = true\ndescription = \"Edited while suspended\"\n".to_string()
            } else {
                format!("{l}\n")
            }
        })
        .collect();
    std::fs::write(&cfg, text).unwrap();
    (ws, cfg)
}

#[test]
fn a_suspended_catalog_is_not_planned_unless_named_and_status_says_so() {
    let (_ws, cfg) = suspended_after_apply();
    let r = run(&cfg, &["plan", "--detailed-exitcode"]);
    assert_eq!(r.code, 0, "nothing planned, nothing fetched: {}", r.all());
    assert!(
        r.stdout.contains("Note [suspended] catalog.contoso")
            && r.stdout.contains("supctl sync contoso"),
        "{}",
        r.all()
    );

    let r = run(&cfg, &["status", "--json"]);
    let v = r.json();
    let c = &v["catalogs"][0];
    assert_eq!(c["suspended"], true, "{v:#}");
    assert!(c["next_sync"].is_null(), "{v:#}");
    assert!(
        v["warnings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|w| w["code"] == "suspended" && w["scope"] == "catalog.contoso"),
        "{v:#}"
    );
    let r = run(&cfg, &["status"]);
    assert!(r.stdout.contains("subscribed, suspended"), "{}", r.all());

    // Named, it is planned like any other catalog (here: its source fails, by name).
    let r = run(&cfg, &["plan", "--target", "catalog.contoso"]);
    assert_eq!(r.code, 1, "{}", r.all());
    assert!(r.all().contains("127.0.0.1:9"), "{}", r.all());
}

#[test]
fn watch_leaves_a_suspended_catalog_alone_and_sync_naming_it_still_works() {
    let ws = watch_support::Workspace::quickstart();
    ws.edit_config(
        "name = \"Contoso Sample Catalog\"",
        "name = \"Contoso Sample Catalog\"\nsuspend = true",
    );
    let mut w = watch_support::Watch::start(&ws, &[], None);
    w.wait_for("the suspension logged", Duration::from_secs(30), |ev| {
        ev.iter().any(|e| {
            e["fields"]["scope"] == "catalog.contoso"
                && e["fields"]["message"]
                    .as_str()
                    .is_some_and(|m| m.starts_with("suspended (suspend = true)"))
        })
    });
    // Start-up reconciles what changed while the daemon was down: not the suspended catalog.
    std::thread::sleep(Duration::from_secs(2));
    let ev = w.events();
    assert!(
        !ev.iter()
            .any(|e| e["fields"]["message"] == "scheduled"
                && e["fields"]["scope"] == "catalog.contoso"),
        "a suspended catalog gets no schedule:\n{}",
        w.dump()
    );
    let (_, v) = ws.status();
    assert_eq!(v["catalogs"][0]["suspended"], true, "{v:#}");
    assert_eq!(v["catalogs"][0]["updates"]["total"], 0, "{v:#}");

    // An explicit sync of the catalog is handed to the daemon and applied.
    let out = ws.supctl(&["sync", "contoso"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let (_, v) = ws.status();
    assert_eq!(v["catalogs"][0]["updates"]["total"], 4, "{v:#}");
    assert_eq!(w.stop(Duration::from_secs(30)), 0);
}
