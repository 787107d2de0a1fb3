//! ConfigMgr's status messages as `status --json` shows them, each produced by a scenario
//! through the real binary: 11516 (unsigned content) with the run's counts, 11523 (a v1 or
//! v3 catalog without content certificates that stages content, recorded as a warning) and
//! 11524 (content requested for an update whose metadata is not on the server). 11508 with
//! the old and new signer is `status_report::a_changed_signer_is_reported_with_both_thumbprints`.

use crate::support;

use serde_json::Value;
use supctl_test_kit::generator::Format;
use support::e2e::*;
use support::signed::{self, Spec};

/// `status --json` parsed, and its exit code.
fn status(cfg: &std::path::Path) -> (i32, Value) {
    let r = run(cfg, &["status", "--json"]);
    let v = serde_json::from_str(&r.stdout)
        .unwrap_or_else(|e| panic!("status --json is not JSON ({e}):\n{}", r.all()));
    (r.code, v)
}

/// The catalog's messages with this number.
fn messages(v: &Value, code: u64) -> Vec<Value> {
    v["catalogs"][0]["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["code"] == code)
        .cloned()
        .collect()
}

/// Four publishes and three stages, one of which fails (Tool 1.0's file is unsigned): the
/// run counts each action once, under its own kind, and records 11516.
#[test]
fn a_failed_stage_counts_once_and_is_recorded_as_11516() {
    let dir = repo("tests/fixtures/e2e/unsigned-content");
    let (_site, cfg) = site_serving(
        &dir.join("contoso-v3.cab"),
        Some(&dir.join("content")),
        "stage = [\"Contoso/Utilities\"]",
    );
    let r = run(&cfg, &["apply", "--auto-approve"]);
    assert_eq!(r.code, 1, "{}", r.all());

    let (code, v) = status(&cfg);
    assert_eq!(code, 1, "the last sync failed: {v:#}");
    let last = &v["catalogs"][0]["last_sync"];
    assert_eq!(last["result"], "failed", "{v:#}");
    assert_eq!(
        (
            &last["published"],
            &last["staged"],
            &last["failed"],
            &last["revised"]
        ),
        (&4.into(), &2.into(), &1.into(), &0.into()),
        "{last:#}"
    );
    let m = messages(&v, 11516);
    assert_eq!(m.len(), 1, "{v:#}");
    assert_eq!(m[0]["number"], 11516);
    assert_eq!(m[0]["severity"], "error");
    let text = m[0]["text"].as_str().unwrap();
    assert!(
        text.contains(TOOL_10) && text.contains("unsigned"),
        "{text}"
    );

    let out = run(&cfg, &["status"]);
    assert!(
        out.stdout
            .contains("published 4, revised 0, expired 0, staged 2, failed 1"),
        "{}",
        out.stdout
    );
}

/// A catalog without `ContentCertificates/` that stages content gets 11523, in any format
/// (v1 has no such folder; a v3 catalog may ship none), and the warning is recorded in the
/// state, not only shown by the plan; the sync itself succeeds.
#[test]
fn a_catalog_without_content_certificates_that_stages_is_11523() {
    if !signed::osslsigncode() {
        return;
    }
    let qs = signed::quickstart_signer();
    for (format, stage) in [
        (Format::V1, "stage = \"all\""),
        (Format::V3, "stage = [\"Contoso/Utilities\"]"),
    ] {
        let scratch = tempfile::tempdir().unwrap();
        let (cab, content) = signed::generate(
            scratch.path(),
            &Spec {
                format,
                catalog: &qs,
                content: None,
                ships: &[],
            },
        );
        let (_site, cfg) = site_serving(&cab, Some(&content), stage);

        let (_, plan) = plan_json(&cfg, &[]);
        assert!(
            plan["diagnostics"]
                .as_array()
                .unwrap()
                .iter()
                .any(|d| d["code"] == "11523" && d["severity"] == "warning"),
            "{format:?}: {plan:#}"
        );
        let r = run(&cfg, &["apply", "--auto-approve"]);
        assert_eq!(r.code, 0, "{format:?}: {}", r.all());

        let (code, v) = status(&cfg);
        assert_eq!(code, 0, "{format:?}: {v:#}");
        assert_eq!(
            v["catalogs"][0]["last_sync"]["result"], "succeeded",
            "{v:#}"
        );
        let m = messages(&v, 11523);
        assert_eq!(m.len(), 1, "{format:?}: {v:#}");
        assert_eq!(m[0]["severity"], "warning", "{v:#}");
        assert!(
            m[0]["text"]
                .as_str()
                .unwrap()
                .contains("does not include content signing certificates"),
            "{v:#}"
        );
    }
}

/// A catalog that ships its content certificate and stages nothing gets no 11523.
#[test]
fn a_catalog_that_ships_content_certificates_is_not_11523() {
    let (_site, cfg) = site_serving(
        &quickstart_cab(),
        Some(&quickstart_content()),
        "stage = [\"Contoso/Utilities\"]",
    );
    let r = run(&cfg, &["apply", "--auto-approve"]);
    assert_eq!(r.code, 0, "{}", r.all());
    let (_, v) = status(&cfg);
    assert!(
        v["catalogs"][0]["messages"].as_array().unwrap().is_empty(),
        "{v:#}"
    );
}

/// Content asked for (`[[publish]]`) for an update outside the catalog's `categories` and for
/// an id the catalog does not list: neither is on the server nor published by the plan, so
/// each is 11524 (ConfigMgr's "missing update metadata"), recorded as an error; the rest
/// of the plan applies.
#[test]
fn content_for_an_update_whose_metadata_is_not_on_the_server_is_11524() {
    const UNKNOWN: &str = "11111111-2222-3333-4444-555555555555";
    let extra = format!(
        "categories = [\"Contoso/Utilities\"]\n\n[[publish]]\ncatalog = \"contoso\"\nids = [\"{BIOS_107}\", \"{UNKNOWN}\"]"
    );
    let (_site, cfg) = site_serving(&quickstart_cab(), Some(&quickstart_content()), &extra);

    let (_, plan) = plan_json(&cfg, &[]);
    let mut flagged: Vec<&str> = plan["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["code"] == "11524")
        .map(|d| d["address"].as_str().unwrap())
        .collect();
    flagged.sort();
    let mut want = vec![
        update_addr("contoso", BIOS_107),
        update_addr("contoso", UNKNOWN),
    ];
    want.sort();
    assert_eq!(flagged, want, "{plan:#}");
    assert_eq!(plan["summary"]["updates"]["publish"], 3, "{plan:#}");
    assert_eq!(plan["summary"]["updates"]["stage"], 0, "{plan:#}");

    let r = run(&cfg, &["apply", "--auto-approve"]);
    assert_eq!(r.code, 0, "{}", r.all());
    let (_, v) = status(&cfg);
    let m = messages(&v, 11524);
    assert_eq!(m.len(), 2, "{v:#}");
    for m in &m {
        assert_eq!(m["severity"], "error", "{m}");
        assert!(
            m["text"]
                .as_str()
                .unwrap()
                .contains("due to missing update metadata"),
            "{m}"
        );
    }
    assert!(
        m.iter()
            .any(|m| m["text"].as_str().unwrap().contains(UNKNOWN)),
        "{v:#}"
    );
}

/// `stage = "all"` asks for the content of what the catalog publishes: with a narrow
/// `categories`, the updates left out are not "requested", so no 11524 floods the plan.
#[test]
fn staging_all_with_a_narrow_selection_is_not_11524() {
    let (_site, cfg) = site_serving(
        &quickstart_cab(),
        Some(&quickstart_content()),
        "categories = [\"Contoso/Utilities\"]\nstage = \"all\"",
    );
    let (_, plan) = plan_json(&cfg, &[]);
    let flagged = plan["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["code"] == "11524")
        .count();
    assert_eq!(flagged, 0, "{plan:#}");
    assert!(
        plan["summary"]["updates"]["stage"].as_u64().unwrap() > 0,
        "{plan:#}"
    );
}
