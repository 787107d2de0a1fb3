//! Sync windows (`[[window]]`, issue 17) on the real daemon: a deny window holds a catalog's
//! changes (planned and recorded as drift, not applied, in `status`), an admin's `sync` goes
//! through only when the window sets `manual_sync`, and an allow window applies the held
//! changes when it opens, at its minute.

use std::time::Duration;

use chrono::{Timelike as _, Utc};

use crate::support::watch::{Watch, Workspace};

fn catalog_status(ws: &Workspace) -> serde_json::Value {
    let (_, v) = ws.status();
    v["catalogs"][0].clone()
}

#[test]
fn a_deny_window_holds_changes_and_manual_sync_decides_an_admins_sync() {
    let ws = Workspace::quickstart();
    let text = ws.read_config();
    // Starts every minute, lasts an hour: always active.
    let window = |manual: bool| {
        format!(
            "{text}\n[[window]]\nname = \"freeze\"\nkind = \"deny\"\nschedule = \"* * * * *\"\nduration = \"1 hour\"\ncatalogs = [\"contoso\"]\nmanual_sync = {manual}\n"
        )
    };
    ws.save_config(&window(false));
    let mut w = Watch::start(&ws, &[], None);
    w.wait_for("the held changes", Duration::from_secs(30), |ev| {
        ev.iter().any(|e| {
            e["fields"]["message"]
                == "changes of catalogs outside their sync window planned, not applied"
        })
    });
    let c = catalog_status(&ws);
    assert_eq!(c["updates"]["total"], 0, "nothing applied: {c:#}");
    assert_eq!(c["window"]["open"], false, "{c:#}");
    assert!(
        c["window"]["reason"]
            .as_str()
            .is_some_and(|r| r.contains("deny window freeze is active")),
        "{c:#}"
    );
    let (_, v) = ws.status();
    let drift = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["scope"] == "catalog.contoso" && f["kind"] == "drift")
        .unwrap_or_else(|| panic!("the held changes are drift in status: {v:#}"))
        .clone();
    assert!(
        drift["summary"]
            .as_str()
            .unwrap()
            .contains("held until its sync window opens"),
        "{drift:#}"
    );
    let out = ws.supctl(&["status"]);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("sync window: closed (deny window freeze"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );

    // An admin's sync: held while the window does not allow manual syncs...
    let out = ws.supctl(&["sync", "contoso"]);
    let said = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(said.contains("planned, not applied"), "{said}");
    assert_eq!(catalog_status(&ws)["updates"]["total"], 0);
    // ... and applied once it does.
    ws.save_config(&window(true));
    w.wait_for("the reload", Duration::from_secs(30), |ev| {
        ev.iter()
            .any(|e| e["fields"]["message"] == "config reloaded")
    });
    let out = ws.supctl(&["sync", "contoso"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(catalog_status(&ws)["updates"]["total"], 4);
    assert_eq!(w.stop(Duration::from_secs(30)), 0);
}

#[test]
fn an_allow_window_applies_the_held_changes_when_it_opens() {
    let ws = Workspace::quickstart();
    // Opens at the next minute (UTC), for an hour.
    let opens = Utc::now() + chrono::Duration::minutes(1);
    let text = ws.read_config();
    ws.save_config(&format!(
        "{text}\n[[window]]\nkind = \"allow\"\nschedule = \"{} {} * * *\"\nduration = \"1 hour\"\n",
        opens.minute(),
        opens.hour()
    ));
    let mut w = Watch::start(&ws, &[], None);
    w.wait_for("the first pass", Duration::from_secs(30), |ev| {
        ev.iter().any(|e| {
            e["fields"]["message"]
                == "changes of catalogs outside their sync window planned, not applied"
        })
    });
    let c = catalog_status(&ws);
    assert_eq!(c["updates"]["total"], 0, "{c:#}");
    assert_eq!(c["window"]["open"], false, "{c:#}");
    let next = c["window"]["next_change"].as_str().unwrap().to_string();
    assert!(
        next.starts_with(&opens.format("%Y-%m-%dT%H:%M:00").to_string()),
        "status names the opening: {next}"
    );
    // At the minute, the daemon wakes and applies.
    w.wait_until(
        "the window to open and apply",
        Duration::from_secs(90),
        || catalog_status(&ws)["updates"]["total"] == 4,
    );
    let opened_at = w
        .events()
        .iter()
        .find(|e| e["fields"]["message"] == "sync window opened: reconciling now")
        .and_then(|e| e["timestamp"].as_str().map(str::to_string))
        .unwrap_or_else(|| panic!("the opening is logged:\n{}", w.dump()));
    let opened_at: chrono::DateTime<Utc> = opened_at.parse().unwrap();
    let start = opens.with_second(0).unwrap().with_nanosecond(0).unwrap();
    assert!(
        opened_at >= start && opened_at < start + chrono::Duration::seconds(5),
        "opened on time: {opened_at} for {start}"
    );
    assert_eq!(catalog_status(&ws)["window"]["open"], true);
    assert_eq!(w.stop(Duration::from_secs(30)), 0);
}
