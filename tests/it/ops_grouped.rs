//! Issue 13 #10, through the real binary: the content certificates a catalog ships without
//! a `[[certificate]]` decision make one diagnostic per catalog, not one each; a note when
//! the catalog stages nothing (it needs none of them), one warning when it stages content.

use crate::support::watch as watch_common;

use watch_common::Workspace;

const EXPIRED: [&str; 4] = [
    "81F0F5530940BF9A288C0CDCAA0B0FAC12658CB3",
    "CA3B9E7C5125006E965441A9458D5BB2B0D9BABA",
    "C4F7247CE2EDDA5297493F9F261FF9DBE74D0120",
    "4FB2B2CDA55D99D69F78E061C9472AA4E6A7D264",
];
const OTHER: &str = "C20A05BA7B5811529995E9DE764EA8BB5CC635BD";

/// The quickstart reading the catalog that ships five unapproved content certificates
/// (four expired in 2016), staging `stage`.
fn workspace(stage: &str) -> Workspace {
    let ws = Workspace::quickstart();
    let cab = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/e2e/many-certs/contoso-v3.cab");
    std::fs::copy(cab, ws.path().join("catalog/contoso-v3.cab")).unwrap();
    ws.edit_config(
        "stage = [\"Contoso/Utilities\"]",
        &format!("stage = {stage}"),
    );
    ws
}

fn plan_json(ws: &Workspace) -> serde_json::Value {
    let out = ws.supctl(&["plan", "--json"]);
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!("{e}: {}", String::from_utf8_lossy(&out.stderr));
    })
}

fn pending(plan: &serde_json::Value) -> Vec<serde_json::Value> {
    plan["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["code"] == "content-certificate-pending")
        .cloned()
        .collect()
}

#[test]
fn a_catalog_that_stages_nothing_gets_one_note() {
    let ws = workspace("\"none\"");
    let plan = plan_json(&ws);
    let p = pending(&plan);
    assert_eq!(p.len(), 1, "{plan:#}");
    assert_eq!(p[0]["severity"], "info");
    assert_eq!(
        p[0]["message"],
        "catalog contoso: 5 content certificates pending approval, 4 expired; not needed: this catalog stages nothing"
    );

    let out = ws.supctl(&["plan"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        text.matches("content-certificate-pending").count(),
        1,
        "{text}"
    );
    assert!(
        text.contains("Note [content-certificate-pending] catalog.contoso"),
        "{text}"
    );
    // No approval blocks are suggested for certificates that are not needed.
    assert!(
        !text.contains(&format!("thumbprint = \"{}\"", EXPIRED[0])),
        "{text}"
    );

    // Apply shows it once, as a note (with the plan it prints before applying).
    let out = ws.supctl(&["apply", "--auto-approve"]);
    assert_eq!(out.status.code(), Some(0));
    let err = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        err.matches("content-certificate-pending").count(),
        1,
        "{err}"
    );
    assert!(err.contains("Note [content-certificate-pending]"), "{err}");
}

#[test]
fn a_catalog_that_stages_content_gets_one_warning_naming_them_all() {
    let ws = workspace("\"all\"");
    let plan = plan_json(&ws);
    let p = pending(&plan);
    assert_eq!(p.len(), 1, "{plan:#}");
    assert_eq!(p[0]["severity"], "warning");
    let m = p[0]["message"].as_str().unwrap();
    assert!(
        m.starts_with("catalog contoso: 5 content certificates pending approval, 4 expired; content they sign is not staged (pending: "),
        "{m}"
    );
    for t in EXPIRED.iter().chain([&OTHER]) {
        assert!(m.contains(t), "{t} in {m}");
    }
    // The hint suggests the valid certificate first, three blocks at most.
    let hint = p[0]["hint"].as_str().unwrap();
    assert_eq!(hint.matches("[[certificate]]").count(), 3, "{hint}");
    assert!(
        hint.find(OTHER).unwrap() < hint.find("2016-01-01").unwrap(),
        "{hint}"
    );
    assert!(hint.contains("... and 2 more"), "{hint}");

    let out = ws.supctl(&["plan"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        text.matches("content-certificate-pending").count(),
        1,
        "{text}"
    );
}
