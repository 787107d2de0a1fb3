//! Small plans (issue 19): a saved plan refers to each package it publishes by id and
//! content hash instead of holding its XML, and apply reads the XML again from the
//! catalog's cached CAB, the very one the plan recorded. A CAB that changed or vanished
//! since the plan refuses the apply by the update's name, before anything changes.

use crate::support::cli::*;

const TOOL_10: &str = "0c31a8ec-a368-4383-8149-3d8e2c264f17";

struct Setup {
    ws: Workspace,
    cfg: std::path::PathBuf,
    plan: std::path::PathBuf,
    cab: std::path::PathBuf,
}

fn planned() -> Setup {
    let ws = Workspace::new();
    let cfg = ws.config("supctl", "state", &quickstart("contoso", ""));
    let plan = ws.path().join("reviewed.plan");
    let r = run(&cfg, &["plan", "-o", plan.to_str().unwrap()]);
    assert_eq!(r.code, 0, "{}", r.all());
    let cab = ws.state("state").join("cache/contoso.cab");
    assert!(cab.is_file(), "the fetch cache holds the CAB");
    Setup { ws, cfg, plan, cab }
}

fn nothing_published(s: &Setup) {
    let v = run(&s.cfg, &["updates", "list", "--json"]).json();
    assert_eq!(v.as_array().map(Vec::len), Some(0), "{v}");
}

#[test]
fn a_saved_plan_refers_to_its_packages_and_applies_them() {
    let s = planned();
    let text = std::fs::read_to_string(&s.plan).unwrap();
    assert!(!text.contains("raw_xml"), "no package XML in the plan");
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert!(v["sources"]["contoso"].is_string(), "{}", v["sources"]);
    let publishes: Vec<&serde_json::Value> = v["actions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["kind"] == "publish")
        .collect();
    assert_eq!(publishes.len(), 4);
    for a in publishes {
        let record = &a["payload"]["record"];
        assert_eq!(
            record.as_object().unwrap().len(),
            2,
            "id and content hash only: {record}"
        );
        let size = serde_json::to_string(a).unwrap().len();
        assert!(size < 1024, "{size} bytes: {a}");
    }
    let r = run(&s.cfg, &["apply", s.plan.to_str().unwrap()]);
    assert_eq!(r.code, 0, "{}", r.all());
    let v = run(&s.cfg, &["updates", "list", "--json"]).json();
    assert_eq!(v.as_array().unwrap().len(), 4, "{v}");
    let r = run(&s.cfg, &["plan", "--detailed-exitcode"]);
    assert_eq!(
        r.code,
        0,
        "what was applied is what the catalog holds:\n{}",
        r.all()
    );
    drop(s.ws);
}

#[test]
fn a_plan_whose_cached_cab_changed_is_refused_by_the_update_name() {
    let s = planned();
    let original = std::fs::read(&s.cab).unwrap();
    // Another CAB in its place (the vendor's next catalog, fetched by a later run).
    std::fs::copy(other_signer_cab(), &s.cab).unwrap();
    let r = run(&s.cfg, &["apply", s.plan.to_str().unwrap()]);
    assert_eq!(r.code, 1, "{}", r.all());
    let want = format!("cannot apply catalog.contoso.update[{TOOL_10}]");
    assert!(r.stderr.contains(&want), "{}", r.all());
    assert!(
        r.stderr.contains("is no longer the CAB verified"),
        "{}",
        r.all()
    );
    assert!(r.stderr.contains("make the plan again"), "{}", r.all());
    nothing_published(&s);

    // Gone altogether.
    std::fs::remove_file(&s.cab).unwrap();
    let r = run(&s.cfg, &["apply", s.plan.to_str().unwrap()]);
    assert_eq!(r.code, 1, "{}", r.all());
    assert!(r.stderr.contains(&want), "{}", r.all());
    assert!(r.stderr.contains("cannot read"), "{}", r.all());
    nothing_published(&s);

    // The very CAB back: the reviewed plan applies.
    std::fs::write(&s.cab, original).unwrap();
    let r = run(&s.cfg, &["apply", s.plan.to_str().unwrap()]);
    assert_eq!(r.code, 0, "{}", r.all());
}
