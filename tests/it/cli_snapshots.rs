//! Snapshots of what the CLI prints (issue 14): the text and the JSON of `validate`, `plan`,
//! `show`, `status` and `updates list`, each in a realistic scenario on the quickstart
//! workspace (its signed catalog and content, staged from the local folder, no network).
//! The other tests check facts about the output; these pin all of it, so a reshaping of the
//! core that changes what an admin reads, or the fields a script parses, shows up as a
//! snapshot diff to review instead of passing unnoticed. Paths, times, plan and store ids and
//! checksums are filtered by `insta_settings`; everything else is stable by construction.
//!
//! Already pinned elsewhere, so not repeated here: `plan` text with no changes
//! (`plan_no_changes`, in `exit_codes`), `validate --json` with two errors
//! (`validate_json_invalid`, in `json_output`).

use std::path::{Path, PathBuf};

use crate::support::cli as cli_support;

use cli_support::*;

/// The quickstart workspace: the Contoso catalog with `Contoso/Utilities` staged (3 of its 4
/// updates get content, the BIOS stays metadata-only) and its content signer approved; the
/// config is `supctl.toml`, the state directory `state`.
fn quickstart_workspace() -> (Workspace, PathBuf) {
    let ws = Workspace::new();
    let cfg = ws.config(
        "supctl",
        "state",
        &format!(
            "{}\n{}",
            quickstart("contoso", "stage = [\"Contoso/Utilities\"]"),
            approve_content()
        ),
    );
    (ws, cfg)
}

/// The quickstart workspace after `apply --auto-approve`.
fn applied_workspace() -> (Workspace, PathBuf) {
    let (ws, cfg) = quickstart_workspace();
    let r = run(&cfg, &["apply", "--auto-approve"]);
    assert_eq!(r.code, 0, "{}", r.all());
    assert!(
        r.stdout.contains("Apply complete: 10 actions done."),
        "{}",
        r.all()
    );
    (ws, cfg)
}

/// Checks that `r` printed one JSON value and nothing on stderr, then returns its transcript.
fn json_transcript(r: &Run) -> String {
    let _ = r.json();
    assert!(r.stderr.is_empty(), "{}", r.all());
    transcript(r)
}

#[test]
fn validate_of_a_valid_config() {
    let (ws, cfg) = quickstart_workspace();
    let text = run(&cfg, &["validate"]);
    assert_eq!(text.code, 0, "{}", text.all());
    let json = run(&cfg, &["validate", "--json"]);
    assert_eq!(json.code, 0, "{}", json.all());
    assert_eq!(json.json()["valid"], true);
    insta_settings(&ws).bind(|| {
        insta::assert_snapshot!("validate_valid", transcript(&text));
        insta::assert_snapshot!("validate_valid_json", json_transcript(&json));
    });
    assert!(
        !ws.state("state").exists(),
        "validate writes no state: {}",
        ws.state("state").display()
    );
}

#[test]
fn validate_of_a_config_with_an_error_and_a_warning() {
    let ws = Workspace::new();
    // A misspelt schedule unit (an error) and a misspelt partner catalog name (a warning, with
    // the name it probably meant).
    let body = format!(
        "{}\n[catalog.dell]\nkind = \"partner\"\nname = \"Dell Business Client Update Catalog\"\n\n{}",
        quickstart("contoso", "schedule = \"every 7 dayz\""),
        approve_content()
    );
    let cfg = ws.config("supctl", "state", &body);
    let text = run(&cfg, &["validate"]);
    assert_eq!(text.code, 1, "{}", text.all());
    let prefix = format!("{}:", cfg.display());
    assert!(
        text.stderr.contains(&format!("{prefix}12:12: error:"))
            && text.stderr.contains(&format!("{prefix}16:8: warning:")),
        "{}",
        text.all()
    );
    let json = run(&cfg, &["validate", "--json"]);
    assert_eq!(json.code, 1, "{}", json.all());
    let v = json.json();
    let severities: Vec<&str> = v["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["severity"].as_str().unwrap())
        .collect();
    assert_eq!(severities, ["error", "warning"], "{v:#}");
    insta_settings(&ws).bind(|| {
        insta::assert_snapshot!("validate_error_and_warning", transcript(&text));
        insta::assert_snapshot!("validate_error_and_warning_json", json_transcript(&json));
    });
}

#[test]
fn plan_before_the_first_apply_creates_everything() {
    let (ws, cfg) = quickstart_workspace();
    let text = run(&cfg, &["plan"]);
    assert_eq!(text.code, 0, "{}", text.all());
    let json = run(&cfg, &["plan", "--json"]);
    assert_eq!(json.code, 0, "{}", json.all());
    let v = json.json();
    assert_eq!(v["changes"], true, "{v:#}");
    assert_eq!(v["summary"]["add"], 3, "{v:#}");
    assert_eq!(v["summary"]["updates"]["publish"], 4, "{v:#}");
    assert_eq!(v["summary"]["updates"]["stage"], 3, "{v:#}");
    insta_settings(&ws).bind(|| {
        insta::assert_snapshot!("plan_creates", transcript(&text));
        insta::assert_snapshot!("plan_creates_json", json_transcript(&json));
    });
}

#[test]
fn plan_json_after_apply_has_no_changes() {
    let (ws, cfg) = applied_workspace();
    let r = run(&cfg, &["plan", "--json"]);
    assert_eq!(r.code, 0, "{}", r.all());
    let v = r.json();
    assert_eq!(v["changes"], false, "{v:#}");
    assert!(v["actions"].as_array().unwrap().is_empty(), "{v:#}");
    insta_settings(&ws).bind(|| {
        insta::assert_snapshot!("plan_no_changes_json", json_transcript(&r));
    });
}

/// `show PLANFILE` and `show --json PLANFILE` run in `dir`.
fn show(dir: &Path, planfile: &Path, json: bool) -> Run {
    let p = planfile.to_str().unwrap();
    let args: Vec<&str> = if json {
        vec!["show", "--json", p]
    } else {
        vec!["show", p]
    };
    supctl_in(dir, &args)
}

#[test]
fn show_of_a_saved_plan() {
    let (ws, cfg) = quickstart_workspace();
    let planfile = ws.path().join("contoso.plan");
    let saved = run(&cfg, &["plan", "-o", planfile.to_str().unwrap()]);
    assert_eq!(saved.code, 0, "{}", saved.all());
    assert!(planfile.exists(), "{}", saved.all());

    let text = show(ws.path(), &planfile, false);
    assert_eq!(text.code, 0, "{}", text.all());
    // `show` prints what `plan -o` printed: a header naming the plan instead of the trailer
    // naming the file.
    let body = saved
        .stdout
        .split("\nSaved the plan to ")
        .next()
        .unwrap()
        .to_string();
    let shown = text.stdout.split_once("\n\n").unwrap().1;
    assert_eq!(shown, body, "{}\n{}", saved.all(), text.all());

    let json = show(ws.path(), &planfile, true);
    assert_eq!(json.code, 0, "{}", json.all());
    let v = json.json();
    assert!(
        v["checksum"].as_str().unwrap().starts_with("sha256:"),
        "{v:#}"
    );
    assert!(
        v["actions"]
            .as_array()
            .unwrap()
            .iter()
            .all(|a| a.get("payload").is_none()),
        "show --json leaves the payloads out: {v:#}"
    );
    insta_settings(&ws).bind(|| {
        insta::assert_snapshot!("show_saved_plan", transcript(&text));
        insta::assert_snapshot!("show_saved_plan_json", json_transcript(&json));
    });
}

#[test]
fn status_after_an_apply() {
    let (ws, cfg) = applied_workspace();
    let text = run(&cfg, &["status"]);
    assert_eq!(text.code, 0, "{}", text.all());
    let json = run(&cfg, &["status", "--json"]);
    assert_eq!(json.code, 0, "{}", json.all());
    let v = json.json();
    assert_eq!(v["healthy"], true, "{v:#}");
    assert_eq!(v["catalogs"][0]["updates"]["deployable"], 3, "{v:#}");
    insta_settings(&ws).bind(|| {
        insta::assert_snapshot!("status_after_apply", transcript(&text));
        insta::assert_snapshot!("status_after_apply_json", json_transcript(&json));
    });
}

#[test]
fn updates_list_after_an_apply() {
    let (ws, cfg) = applied_workspace();
    let text = run(&cfg, &["updates", "list"]);
    assert_eq!(text.code, 0, "{}", text.all());
    let json = run(&cfg, &["updates", "list", "--json"]);
    assert_eq!(json.code, 0, "{}", json.all());
    assert_eq!(json.json().as_array().unwrap().len(), 4);
    // Conditions combine with AND: the Agent is deployable but a security update, the BIOS
    // an update but metadata-only; the two tools remain.
    let filtered = run(
        &cfg,
        &[
            "updates",
            "list",
            "--state",
            "deployable",
            "--classification",
            "Updates",
        ],
    );
    assert_eq!(filtered.code, 0, "{}", filtered.all());
    assert!(
        filtered.stdout.contains(TOOL_10) && filtered.stdout.contains(TOOL_11),
        "{}",
        filtered.all()
    );
    insta_settings(&ws).bind(|| {
        insta::assert_snapshot!("updates_list", transcript(&text));
        insta::assert_snapshot!("updates_list_json", json_transcript(&json));
        insta::assert_snapshot!("updates_list_deployable_updates", transcript(&filtered));
    });
}
