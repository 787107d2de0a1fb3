//! Issue #5 end to end, through the real binary: a signed catalog and signed content served
//! over HTTPS (test CA), planned, applied, re-planned to "No changes", narrowed to a category
//! (only the delta), removed (unsubscribe, updates kept) and, with `prune = true`, removed
//! with its updates expired. Also the offline quickstart on a fresh copy.

use crate::support;

use supctl::ids::UpdateId;
use supctl::store::{CatalogKey, UpdateState};
use support::e2e::*;

fn state_of(site: &Site, id: &str) -> Option<UpdateState> {
    let id = UpdateId::parse(id).unwrap();
    site.snapshot().updates.get(&id).map(|u| u.state())
}

/// A site serving the approved Contoso catalog and its content; returns the catalog URL.
fn contoso_site() -> (Site, String) {
    let site = Site::new();
    let url = site.serve_catalog("/contoso-v3.cab", &quickstart_cab());
    site.serve_content(&quickstart_content());
    (site, url)
}

/// `[catalog.contoso]` at `url` with `extra` keys, and its content certificate approved.
fn contoso_config(site: &Site, url: &str, extra: &str) -> String {
    site.config(
        "",
        &format!("{}\n{}", catalog("contoso", url, extra), approve_content()),
    )
}

#[test]
fn plan_apply_replan_narrow_and_unsubscribe() {
    let (site, url) = contoso_site();
    let stage = "stage = [\"Contoso/Utilities\"]";
    let cfg = site.write("supctl", &contoso_config(&site, &url, stage));

    // First plan: 2 certificate approvals + 1 catalog, 4 publishes, 3 stages; exit 2.
    let r = run(&cfg, &["plan", "--detailed-exitcode"]);
    assert_eq!(r.code, 2, "{}", r.all());
    assert!(
        r.stdout.contains("Plan: 3 to add, 0 to change, 0 to replace, 0 to destroy; 4 updates to publish, 0 to revise, 0 to expire, 3 to stage"),
        "{}",
        r.stdout
    );

    let r = run(&cfg, &["apply", "--auto-approve"]);
    assert_eq!(r.code, 0, "{}", r.all());
    assert!(
        r.stdout.contains("Apply complete: 10 actions done."),
        "{}",
        r.all()
    );
    // Content really came over HTTPS through the routed proxy: each staged file once.
    for f in [
        "contoso-tool-1.0.exe",
        "contoso-tool-1.1.exe",
        "contoso-agent-2.3_x64.exe",
        "contoso-agent-2.3_x86.exe",
    ] {
        assert_eq!(site.downloads_of(f), 1, "{f}");
    }
    assert_eq!(site.downloads_of("contoso-bios-1.07.exe"), 0);
    assert_eq!(state_of(&site, TOOL_11), Some(UpdateState::Deployable));
    assert_eq!(state_of(&site, BIOS_107), Some(UpdateState::MetadataOnly));

    let r = run(&cfg, &["plan", "--detailed-exitcode"]);
    assert_eq!(r.code, 0, "{}", r.all());
    assert!(r.stdout.contains("No changes."), "{}", r.stdout);

    // Narrow the selection to Utilities: only the catalog's settings change; the BIOS left
    // outside stays (prune = false), marked deselected (issue 13).
    let narrowed = format!("{stage}\ncategories = [\"Contoso/Utilities\"]");
    site.write("supctl", &contoso_config(&site, &url, &narrowed));
    let (code, plan) = plan_json(&cfg, &[]);
    assert_eq!(code, 2);
    assert_eq!(actions(&plan), vec!["update catalog.contoso".to_string()]);
    let r = run(&cfg, &["apply", "--auto-approve"]);
    assert_eq!(r.code, 0, "{}", r.all());
    assert_eq!(state_of(&site, BIOS_107), Some(UpdateState::MetadataOnly));
    assert_eq!(run(&cfg, &["plan", "--detailed-exitcode"]).code, 0);

    // Remove the catalog (prune not set): unsubscribe, its updates stay as they are.
    site.write("supctl", &site.config("", &approve_content()));
    let (code, plan) = plan_json(&cfg, &[]);
    assert_eq!(code, 2);
    let acts = actions(&plan);
    assert!(
        acts.contains(&"unsubscribe catalog.contoso".to_string()),
        "{acts:?}"
    );
    assert!(!acts.iter().any(|a| a.starts_with("expire")), "{acts:?}");
    let r = run(&cfg, &["apply", "--auto-approve"]);
    assert_eq!(r.code, 0, "{}", r.all());
    let snap = site.snapshot();
    let key = CatalogKey::parse("contoso").unwrap();
    assert!(!snap.catalogs[&key].settings.subscribed);
    assert_eq!(state_of(&site, TOOL_11), Some(UpdateState::Deployable));
    assert_eq!(state_of(&site, AGENT_23), Some(UpdateState::Deployable));
    let r = run(&cfg, &["plan", "--detailed-exitcode"]);
    assert_eq!(r.code, 0, "{}", r.all());
}

#[test]
fn removing_a_pruned_catalog_expires_its_updates() {
    let (site, url) = contoso_site();
    let cfg = site.write("supctl", &contoso_config(&site, &url, "prune = true"));
    let r = run(&cfg, &["apply", "--auto-approve"]);
    assert_eq!(r.code, 0, "{}", r.all());
    assert_eq!(state_of(&site, TOOL_10), Some(UpdateState::MetadataOnly));

    site.write("supctl", &site.config("", &approve_content()));
    let (code, plan) = plan_json(&cfg, &[]);
    assert_eq!(code, 2);
    assert_eq!(plan["summary"]["updates"]["expire"], 4, "{plan:#}");
    assert!(actions(&plan).contains(&"delete catalog.contoso".to_string()));
    let r = run(&cfg, &["apply", "--auto-approve"]);
    assert_eq!(r.code, 0, "{}", r.all());
    for id in [TOOL_10, TOOL_11, AGENT_23, BIOS_107] {
        assert_eq!(state_of(&site, id), Some(UpdateState::Expired), "{id}");
    }
    let r = run(&cfg, &["plan", "--detailed-exitcode"]);
    assert_eq!(r.code, 0, "{}", r.all());
}

#[test]
fn plan_json_has_the_documented_fields() {
    let (site, url) = contoso_site();
    let cfg = site.write("supctl", &contoso_config(&site, &url, "stage = \"all\""));
    let (code, plan) = plan_json(&cfg, &[]);
    assert_eq!(code, 2);
    assert_eq!(plan["format_version"], "2.0");
    assert_eq!(plan["changes"], true);
    let s = &plan["summary"];
    for k in ["add", "change", "replace", "destroy"] {
        assert!(s[k].is_u64(), "summary.{k}: {s}");
    }
    let u = &s["updates"];
    assert_eq!(
        (&u["publish"], &u["revise"], &u["expire"], &u["stage"]),
        (&4.into(), &0.into(), &0.into(), &4.into())
    );
    let bytes: u64 = std::fs::read_dir(quickstart_content())
        .unwrap()
        .map(|e| e.unwrap().metadata().unwrap().len())
        .sum();
    assert_eq!(u["stage_bytes"], bytes, "every content file is staged");
    for a in plan["actions"].as_array().unwrap() {
        for k in ["address", "kind", "reason"] {
            assert!(a[k].is_string(), "action.{k}: {a}");
        }
        assert!(
            a.get("payload").is_none(),
            "raw payloads stay out of --json"
        );
    }
    assert!(
        plan["diagnostics"].as_array().unwrap().is_empty(),
        "{plan:#}"
    );

    // A diagnostic has severity, code, address and message (a note here: the catalog
    // stages nothing, so its unapproved content certificate is not needed).
    let cfg2 = site.write(
        "unapproved",
        &site.config("", &catalog("contoso", &url, "")),
    );
    let (_, plan) = plan_json(&cfg2, &[]);
    let d = &plan["diagnostics"][0];
    assert_eq!(d["severity"], "info", "{plan:#}");
    assert_eq!(d["code"], "content-certificate-pending");
    assert_eq!(d["address"], "catalog.contoso");
    assert!(d["message"].as_str().unwrap().contains(QS_SIGNER));
}

#[test]
fn target_limits_the_plan_to_one_catalog() {
    let site = Site::new();
    let a = site.serve_catalog("/a.cab", &quickstart_cab());
    let b = site.serve_catalog("/b.cab", &repo("tests/fixtures/e2e/bench/bench-24.cab"));
    let body = format!("{}\n{}", catalog("alpha", &a, ""), catalog("beta", &b, ""));
    let cfg = site.write("supctl", &site.config("", &body));
    let (code, plan) = plan_json(&cfg, &["--target", "catalog.beta"]);
    assert_eq!(code, 2);
    assert_eq!(plan["targets"], serde_json::json!(["catalog.beta"]));
    let acts = actions(&plan);
    assert!(
        acts.contains(&"create catalog.beta".to_string()),
        "{acts:?}"
    );
    // Plus what it depends on: the approval of its signer.
    assert!(
        acts.iter().all(|a| a.ends_with("catalog.beta")
            || a.contains("catalog.beta.update[")
            || *a == format!("approve certificate[{QS_SIGNER}].catalog")),
        "{acts:?}"
    );
    assert!(
        acts.contains(&format!("approve certificate[{QS_SIGNER}].catalog")),
        "{acts:?}"
    );
    assert_eq!(plan["summary"]["updates"]["publish"], 24);
    // Only the targeted catalog was fetched.
    assert!(site.server.requests_for("/a.cab").is_empty());
    let r = run(&cfg, &["plan", "--target", "catalog.beta"]);
    assert!(
        r.stdout.contains("this plan is limited to catalog.beta"),
        "{}",
        r.stdout
    );
}

#[test]
fn apply_without_a_terminal_or_auto_approve_refuses() {
    let (site, url) = contoso_site();
    let cfg = site.write("supctl", &contoso_config(&site, &url, ""));
    let out = supctl(&["apply", "-c"])
        .arg(&cfg)
        .write_stdin("yes\n")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("standard input is not a terminal"), "{err}");
    assert!(err.contains("--auto-approve"), "{err}");
    let nothing =
        !site.state_dir().join("store.db").exists() || site.snapshot().catalogs.is_empty();
    assert!(nothing, "nothing was applied");
}

/// The README's quickstart on a fresh copy (no network, no state): apply, then no changes.
#[test]
fn quickstart_works_on_a_fresh_copy() {
    let dir = tempfile::tempdir().unwrap();
    let src = repo("examples/quickstart");
    for sub in ["", "catalog", "content"] {
        std::fs::create_dir_all(dir.path().join(sub)).unwrap();
        for e in std::fs::read_dir(src.join(sub)).unwrap().flatten() {
            if e.path().is_file() {
                std::fs::copy(e.path(), dir.path().join(sub).join(e.file_name())).unwrap();
            }
        }
    }
    let cfg = dir.path().join("supctl.toml");
    let r = run(&cfg, &["apply", "--auto-approve"]);
    assert_eq!(r.code, 0, "{}", r.all());
    assert!(r.stdout.contains("Apply complete"), "{}", r.stdout);
    let r = run(&cfg, &["plan", "--detailed-exitcode"]);
    assert_eq!(r.code, 0, "{}", r.all());
    assert!(dir.path().join(".supctl/store.db").is_file());
    // The store commands find the state directory through the config, as plan and apply do.
    let r = run(
        &cfg,
        &["updates", "list", "--json", "--state", "deployable"],
    );
    assert_eq!(r.code, 0, "{}", r.all());
    let rows: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(rows.as_array().map(Vec::len), Some(3), "{}", r.stdout);
}

/// An unchanged catalog is planned from its parsed summary (no package XML), but whatever is
/// published always carries the package's XML: widening the selection after a first apply
/// makes the planner parse the catalog in full before it publishes.
#[test]
fn a_cached_summary_is_never_published() {
    let (site, url) = contoso_site();
    let cfg = site.write(
        "supctl",
        &contoso_config(&site, &url, "categories = [\"Contoso/Utilities\"]"),
    );
    let r = run(&cfg, &["apply", "--auto-approve"]);
    assert_eq!(r.code, 0, "{}", r.all());
    let summaries: Vec<_> = std::fs::read_dir(site.state_dir().join("cache"))
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with(".summary"))
        .collect();
    assert_eq!(summaries.len(), 1, "the trusted catalog's summary is kept");
    assert_eq!(state_of(&site, BIOS_107), None);

    let cfg = site.write("supctl", &contoso_config(&site, &url, ""));
    let (code, plan) = plan_json(&cfg, &[]);
    assert_eq!(code, 2);
    assert!(actions(&plan).contains(&format!("publish {}", update_addr("contoso", BIOS_107))));
    let r = run(&cfg, &["apply", "--auto-approve"]);
    assert_eq!(r.code, 0, "{}", r.all());
    let xml = site
        .backend()
        .raw_xml(&UpdateId::parse(BIOS_107).unwrap(), None)
        .unwrap()
        .unwrap_or_default();
    assert!(
        xml.contains("SoftwareDistributionPackage"),
        "published XML: {xml:?}"
    );
    assert!(xml.contains(BIOS_107), "{xml}");
    let (code, _) = plan_json(&cfg, &[]);
    assert_eq!(code, 0);
}

/// A saved plan can be reviewed with `show` (text and JSON, the same summary and actions as
/// `plan` printed) before `apply PLANFILE` performs it.
#[test]
fn show_prints_a_saved_plan() {
    let (site, url) = contoso_site();
    let cfg = site.write("supctl", &contoso_config(&site, &url, ""));
    let planfile = site.dir.path().join("reviewed.plan");
    let p = planfile.to_str().unwrap();
    let (code, planned) = plan_json(&cfg, &["-o", p]);
    assert_eq!(code, 2);

    let out = supctl(&["show", p, "--json", "--detailed-exitcode"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let shown: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(shown["id"], planned["id"]);
    assert_eq!(shown["summary"], planned["summary"]);
    assert_eq!(actions(&shown), actions(&planned));
    assert!(
        shown["actions"][0].get("payload").is_none(),
        "payloads stay in the file"
    );

    let out = supctl(&["show", p]).output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("4 updates to publish"), "{text}");

    let r = run(&cfg, &["apply", p]);
    assert_eq!(r.code, 0, "{}", r.all());
    let bad = site.dir.path().join("not-a-plan");
    std::fs::write(&bad, "{}").unwrap();
    supctl(&["show", bad.to_str().unwrap()]).assert().code(1);
}
