//! `--json` on `validate`, `apply` and `sync` (issue 13): one JSON object on standard output,
//! in the shapes the README documents, with the exit codes of the text output.

use crate::support::cli as cli_support;

use cli_support::*;

fn addresses(v: &serde_json::Value) -> Vec<String> {
    v.as_array()
        .unwrap_or_else(|| panic!("not an array: {v}"))
        .iter()
        .map(|a| a.as_str().unwrap().to_string())
        .collect()
}

#[test]
fn validate_json_reports_counts_or_every_diagnostic_with_its_position() {
    let ws = Workspace::new();
    let cfg = ws.config(
        "supctl",
        "state",
        &format!("{}\n{}", quickstart("contoso", ""), approve_content()),
    );
    let r = run(&cfg, &["validate", "--json"]);
    assert_eq!(r.code, 0, "{}", r.all());
    let v = r.json();
    assert_eq!(v["valid"], true, "{v:#}");
    assert_eq!(v["catalogs"], 1);
    assert_eq!(v["subscribed"], 1);
    assert_eq!(v["certificate_rules"], 1);

    let bad = ws.write(
        "bad",
        &ws.config_in("state", "[catalog.x]\nname = \"X\"\npublisher = \"X\"\nurl = \"http://insecure.example/c.cab\"\nschedule = \"sometimes\"\n"),
    );
    let r = run(&bad, &["validate", "--json"]);
    assert_eq!(r.code, 1, "{}", r.all());
    let v = r.json();
    assert_eq!(v["valid"], false);
    let d = v["diagnostics"].as_array().unwrap();
    assert!(d.len() >= 2, "{v:#}");
    assert!(
        d.iter()
            .all(|d| d["line"].as_u64().is_some() && d["column"].as_u64().is_some()),
        "{v:#}"
    );
    insta_settings(&ws).bind(|| {
        insta::assert_json_snapshot!("validate_json_invalid", v);
    });
}

#[test]
fn apply_json_reports_every_outcome() {
    let ws = Workspace::new();
    let body = format!(
        "{}\n{}",
        quickstart("contoso", "stage = [\"Contoso/Utilities\"]"),
        approve_content()
    );
    let cfg = ws.config("supctl", "state", &body);
    let r = run(&cfg, &["apply", "--json"]);
    assert_eq!(r.code, 1, "JSON output cannot ask: {}", r.all());
    assert!(r.stderr.contains("--auto-approve"), "{}", r.all());

    let r = run(&cfg, &["apply", "--json", "--auto-approve"]);
    assert_eq!(r.code, 0, "{}", r.all());
    let v = r.json();
    assert_eq!(v["result"], "complete", "{v:#}");
    // 10 actions on 7 addresses: each address once in `done`, each action in `done_actions`.
    assert_eq!(addresses(&v["done"]).len(), 7, "{v:#}");
    let actions = v["done_actions"].as_array().unwrap();
    assert_eq!(actions.len(), 10, "{v:#}");
    let stages = actions.iter().filter(|a| a["action"] == "stage").count();
    assert_eq!(stages, 3, "{v:#}");
    assert_eq!(v["plan"]["summary"]["updates"]["stage"], 3, "{v:#}");
    assert!(v["plan"]["id"].as_str().is_some());
    insta_settings(&ws).bind(|| {
        insta::assert_json_snapshot!("apply_json_complete", v, {
            ".plan.id" => "[ID]",
        });
    });

    let r = run(&cfg, &["apply", "--json", "--auto-approve"]);
    assert_eq!(r.code, 0, "{}", r.all());
    assert_eq!(r.json()["result"], "no-changes");

    // A plan with errors: nothing applied, the diagnostics in the object.
    let errors = ws.config(
        "errors",
        "state",
        &format!("{body}\n{}", catalog("vendor", &unsigned_cab(), "")),
    );
    let r = run(&errors, &["apply", "--json", "--auto-approve"]);
    assert_eq!(r.code, 1, "{}", r.all());
    let v = r.json();
    assert_eq!(v["result"], "plan-has-errors", "{v:#}");
    assert_eq!(v["diagnostics"][0]["code"], "11508", "{v:#}");
    assert!(addresses(&v["done"]).is_empty());
}

#[test]
fn apply_json_names_failed_actions() {
    let ws = Workspace::new();
    let dir = repo("tests/fixtures/e2e/unsigned-content");
    let body = format!(
        "{}\n{}",
        catalog(
            "contoso",
            &dir.join("contoso-v3.cab"),
            &format!(
                "stage = [\"Contoso/Utilities\"]\ncontent_source = {:?}",
                dir.join("content").display().to_string()
            )
        ),
        approve_content()
    );
    let cfg = ws.config("supctl", "state", &body);
    let r = run(&cfg, &["apply", "--json", "--auto-approve"]);
    assert_eq!(r.code, 1, "{}", r.all());
    let v = r.json();
    assert_eq!(v["result"], "errors", "{v:#}");
    let failed = v["failed"].as_array().unwrap();
    assert_eq!(failed.len(), 1, "{v:#}");
    assert!(failed[0]["address"].as_str().unwrap().contains(TOOL_10));
    assert!(failed[0]["error"].as_str().unwrap().contains("11516"));
}

#[test]
fn sync_json_reports_each_scope() {
    let ws = Workspace::new();
    let cfg = ws.config(
        "supctl",
        "state",
        &format!("{}\n{}", quickstart("contoso", ""), approve_content()),
    );
    let r = run(&cfg, &["sync", "--json"]);
    assert_eq!(r.code, 0, "{}", r.all());
    let v = r.json();
    assert_eq!(v["succeeded"], true, "{v:#}");
    assert_eq!(v["handled_by"], "sync", "{v:#}");
    let scopes = v["scopes"].as_array().unwrap();
    assert_eq!(scopes.len(), 1, "{v:#}");
    assert_eq!(scopes[0]["scope"], "catalog.contoso");
    assert_eq!(scopes[0]["result"], "succeeded");
    assert_eq!(scopes[0]["counts"]["published"], 4, "{v:#}");
}
