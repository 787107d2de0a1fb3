//! `supctl watch` reconciles on config change: an edit saved the way editors save (temp
//! file + rename) is applied within 5 s; an invalid edit is logged with file:line:col and
//! the daemon keeps running on the last valid config; restoring it reconciles again;
//! SIGTERM exits 0.

use crate::support::watch as watch_common;

use std::time::{Duration, Instant};

use watch_common::{Watch, Workspace, count, store_facts};

#[test]
fn config_edits_reconcile_and_invalid_edits_keep_the_last_valid_config() {
    let ws = Workspace::quickstart();
    let mut w = Watch::start(&ws, &[], None);
    // First start: nothing persisted, the config differs from the empty server.
    w.wait_for("the initial reconcile", Duration::from_secs(20), |ev| {
        count(ev, "synchronized", Some(("scope", "catalog.contoso"))) == 1
    });
    let before = ws.catalog_status("contoso");
    assert_eq!(before["updates"]["total"], 4, "{before:#}");
    let deployable = before["updates"]["deployable"].as_u64().unwrap();
    assert!(deployable < 4);

    // A valid edit: stage every category.
    let original = ws.read_config();
    let edited_at = Instant::now();
    ws.edit_config(r#"stage = ["Contoso/Utilities"]"#, r#"stage = "all""#);
    w.wait_for(
        "the reconcile after the edit",
        Duration::from_secs(5),
        |ev| {
            count(ev, "config reloaded", None) == 1
                && count(ev, "synchronized", Some(("reason", "config file changed"))) == 1
        },
    );
    assert!(edited_at.elapsed() < Duration::from_secs(5));
    let after = ws.catalog_status("contoso");
    assert_eq!(after["updates"]["deployable"], 4, "{after:#}");
    let facts = store_facts(&ws);

    // An invalid edit: logged with its position, nothing applied, the daemon lives on.
    let valid = ws.read_config();
    ws.save_config(&valid.replace(r#"stage = "all""#, "stage = 42"));
    let ev = w.wait_for(
        "the invalid config to be reported",
        Duration::from_secs(5),
        |ev| {
            count(
                ev,
                "the config is invalid; the last valid config stays in force",
                None,
            ) == 1
        },
    );
    let line = valid
        .lines()
        .position(|l| l.starts_with("stage = "))
        .unwrap()
        + 1;
    let located = format!("supctl.toml:{line}:");
    assert!(
        ev.iter().any(|e| e["level"] == "ERROR"
            && e["fields"]["message"]
                .as_str()
                .is_some_and(|m| m.contains(&located))),
        "no error at {located}:\n{}",
        w.dump()
    );
    std::thread::sleep(Duration::from_millis(500));
    assert!(w.child.try_wait().unwrap().is_none(), "watch exited");
    assert_eq!(
        count(
            &w.events(),
            "reconciling",
            Some(("reason", "config file changed"))
        ),
        1
    );
    assert_eq!(
        store_facts(&ws),
        facts,
        "the invalid config changed the store"
    );

    // Restoring a valid config reconciles again.
    ws.save_config(&original);
    w.wait_for(
        "the reconcile after the restore",
        Duration::from_secs(5),
        |ev| {
            count(ev, "config reloaded", None) == 2
                && count(ev, "synchronized", Some(("reason", "config file changed"))) == 2
        },
    );

    // SIGHUP reloads too.
    w.signal("HUP");
    w.wait_for("the reload on SIGHUP", Duration::from_secs(5), |ev| {
        count(ev, "synchronized", Some(("reason", "SIGHUP"))) == 1
    });

    assert_eq!(w.stop(Duration::from_secs(10)), 0, "{}", w.dump());
    assert_eq!(count(&w.events(), "watch stopped", None), 1);
}
