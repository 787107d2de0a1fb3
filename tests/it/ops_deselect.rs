//! Issue 13, deselected updates, through the real binary: narrowing `categories` keeps the
//! updates left outside (expiry is permanent on WSUS), marked deselected in `plan` and
//! `status`, unless `expire_deselected = true`; widening it again names the updates that
//! come back, and warns about those that were expired and stay so.

use crate::support::watch as watch_common;

use watch_common::{Workspace, store_facts};

const BIOS: &str = "f97ca7d5-1fcf-4973-8818-4a277b871f2b";

fn plan(ws: &Workspace) -> serde_json::Value {
    let out = ws.supctl(&["plan", "--json"]);
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)))
}

fn actions(plan: &serde_json::Value) -> Vec<String> {
    plan["actions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            format!(
                "{} {}",
                a["kind"].as_str().unwrap(),
                a["address"].as_str().unwrap()
            )
        })
        .collect()
}

fn diagnostic<'a>(plan: &'a serde_json::Value, code: &str) -> Option<&'a serde_json::Value> {
    plan["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["code"] == code)
}

fn sync(ws: &Workspace) {
    ws.sync_ok();
}

fn bios_state(ws: &Workspace) -> String {
    let loc = supctl::store::StoreLocation::new(ws.path().join(".supctl"));
    let b = supctl::store::Store::embedded(&loc, supctl::store::db::OpenOptions::read()).unwrap();
    let id = supctl::ids::UpdateId::parse(BIOS).unwrap();
    b.snapshot().unwrap().updates[&id].state().to_string()
}

const ALL: &str = "categories = \"all\"";
const UTILITIES: &str = "categories = [\"Contoso/Utilities\"]";

#[test]
fn narrowing_keeps_deselected_updates_and_widening_names_them() {
    let ws = Workspace::quickstart();
    sync(&ws);
    assert_eq!(bios_state(&ws), "metadata-only");

    ws.edit_config(ALL, UTILITIES);
    let p = plan(&ws);
    assert_eq!(actions(&p), vec!["update catalog.contoso"], "{p:#}");
    let d = diagnostic(&p, "deselected").unwrap_or_else(|| panic!("{p:#}"));
    assert_eq!(d["severity"], "info");
    let m = d["message"].as_str().unwrap();
    assert!(
        m.starts_with("catalog contoso: 1 update outside the selected categories stays published, marked deselected: Contoso BIOS 1.07"),
        "{m}"
    );
    assert!(
        d["hint"]
            .as_str()
            .unwrap()
            .contains("expire_deselected = true")
    );
    sync(&ws);
    assert_eq!(bios_state(&ws), "metadata-only", "not expired");

    let c = ws.catalog_status("contoso");
    assert_eq!(c["updates"]["deselected"], 1, "{c:#}");
    assert_eq!(c["updates"]["expired"], 0, "{c:#}");
    let out = ws.supctl(&["status"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("expired 0; 1 of them deselected"), "{text}");
    // `updates list` marks the same update, in text and JSON.
    assert_eq!(listed_deselected(&ws), vec![BIOS.to_string()]);
    let out = ws.supctl(&["updates", "list"]);
    let text = String::from_utf8_lossy(&out.stdout);
    let bios = text
        .lines()
        .find(|l| l.starts_with(BIOS))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(bios.contains("metadata-only, deselected"), "{text}");
    // Converged: nothing to do, and the note stays while the update is deselected.
    let p = plan(&ws);
    assert!(actions(&p).is_empty(), "{p:#}");

    ws.edit_config(UTILITIES, ALL);
    let p = plan(&ws);
    assert_eq!(actions(&p), vec!["update catalog.contoso"], "{p:#}");
    assert!(diagnostic(&p, "deselected").is_none(), "{p:#}");
    let d = diagnostic(&p, "reselected").unwrap_or_else(|| panic!("{p:#}"));
    assert!(
        d["message"].as_str().unwrap().contains(
            "1 update back in the selected categories, kept while deselected: Contoso BIOS 1.07"
        ),
        "{d}"
    );
    sync(&ws);
    assert_eq!(ws.catalog_status("contoso")["updates"]["deselected"], 0);
    assert!(listed_deselected(&ws).is_empty());
}

/// The ids `updates list --json` marks deselected.
fn listed_deselected(ws: &Workspace) -> Vec<String> {
    let out = ws.supctl(&["updates", "list", "--json"]);
    let rows: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    rows.as_array()
        .unwrap()
        .iter()
        .filter(|r| r["deselected"] == true)
        .map(|r| r["id"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn expire_deselected_expires_them_and_widening_warns_they_stay_expired() {
    let ws = Workspace::quickstart();
    sync(&ws);
    ws.edit_config(ALL, &format!("{UTILITIES}\nexpire_deselected = true"));
    let p = plan(&ws);
    assert_eq!(
        actions(&p),
        vec![
            "update catalog.contoso".to_string(),
            format!("expire catalog.contoso.update[{BIOS}]"),
        ],
        "{p:#}"
    );
    let reason = p["actions"][1]["reason"].as_str().unwrap();
    assert_eq!(
        reason,
        "outside the selected categories (expire_deselected = true)"
    );
    sync(&ws);
    assert_eq!(bios_state(&ws), "expired");

    ws.edit_config(&format!("{UTILITIES}\nexpire_deselected = true"), ALL);
    let p = plan(&ws);
    assert_eq!(actions(&p), vec!["update catalog.contoso"], "{p:#}");
    let d = diagnostic(&p, "reselected-expired").unwrap_or_else(|| panic!("{p:#}"));
    assert_eq!(d["severity"], "warning");
    assert!(
        d["message"].as_str().unwrap().contains(
            "1 update back in the selected categories was expired earlier and stays expired (expiry is permanent on WSUS): Contoso BIOS 1.07"
        ),
        "{d}"
    );
    let (_, states) = store_facts(&ws);
    assert_eq!(states.iter().filter(|s| *s == "expired").count(), 1);
}

#[test]
fn validate_knows_the_key() {
    let ws = Workspace::quickstart();
    ws.edit_config(ALL, &format!("{ALL}\nexpire_deselected = true"));
    let out = ws.supctl(&["validate"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    ws.edit_config("expire_deselected = true", "expire_deselected = \"yes\"");
    let out = ws.supctl(&["validate"]);
    assert_eq!(out.status.code(), Some(1));
    let err =
        String::from_utf8_lossy(&out.stderr).to_string() + &String::from_utf8_lossy(&out.stdout);
    assert!(
        err.contains("supctl.toml:") && err.contains("expire_deselected"),
        "{err}"
    );
}
