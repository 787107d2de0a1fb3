//! Supersedence, visible (issue 18): `updates list` gives each update `supersedes` and
//! `superseded_by`, filters on them (`--superseded`, `--not-superseded`), prints who
//! supersedes an update, and `status` counts superseded updates per catalog. In the
//! quickstart catalog, Contoso Tool 1.1 supersedes Tool 1.0.

use crate::support::cli::*;

const TOOL_10: &str = "0c31a8ec-a368-4383-8149-3d8e2c264f17";
const TOOL_11: &str = "75703a22-ed04-4fc2-b715-75e42bc587c0";

fn applied() -> (Workspace, std::path::PathBuf) {
    let ws = Workspace::new();
    let cfg = ws.config(
        "supctl",
        "state",
        &format!("{}\n{}", quickstart("contoso", ""), approve_content()),
    );
    let r = run(&cfg, &["apply", "--auto-approve"]);
    assert_eq!(r.code, 0, "{}", r.all());
    (ws, cfg)
}

fn ids(v: &serde_json::Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|u| u["id"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn updates_list_shows_and_filters_supersedence() {
    let (_ws, cfg) = applied();
    let all = run(&cfg, &["updates", "list", "--json"]).json();
    let by_id = |id: &str| {
        all.as_array()
            .unwrap()
            .iter()
            .find(|u| u["id"] == id)
            .unwrap()
            .clone()
    };
    assert_eq!(
        by_id(TOOL_10)["superseded_by"],
        serde_json::json!([TOOL_11])
    );
    assert_eq!(by_id(TOOL_10)["supersedes"], serde_json::json!([]));
    assert_eq!(by_id(TOOL_11)["supersedes"], serde_json::json!([TOOL_10]));
    assert_eq!(by_id(TOOL_11)["superseded_by"], serde_json::json!([]));

    let superseded = run(&cfg, &["updates", "list", "--superseded", "--json"]).json();
    assert_eq!(ids(&superseded), [TOOL_10]);
    let newest = run(&cfg, &["updates", "list", "--not-superseded", "--json"]).json();
    assert_eq!(newest.as_array().unwrap().len(), 3);
    assert!(!ids(&newest).contains(&TOOL_10.to_string()));

    let text = run(&cfg, &["updates", "list", "--superseded"]);
    assert!(text.stdout.contains("SUPERSEDED BY"), "{}", text.stdout);
    let row = text
        .stdout
        .lines()
        .find(|l| l.starts_with(TOOL_10))
        .unwrap();
    assert!(row.contains(&TOOL_11[..8]), "{row}");

    let r = run(
        &cfg,
        &["updates", "list", "--superseded", "--not-superseded"],
    );
    assert_eq!(r.code, 2, "clap refuses both: {}", r.all());
}

#[test]
fn status_counts_superseded_updates_per_catalog() {
    let (_ws, cfg) = applied();
    let v = run(&cfg, &["status", "--json"]).json();
    assert_eq!(v["catalogs"][0]["updates"]["superseded"], 1, "{v:#}");
    let r = run(&cfg, &["status"]);
    assert!(r.stdout.contains("; 1 superseded)"), "{}", r.stdout);
}
