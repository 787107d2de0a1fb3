//! Exit codes and the words that go with them, through the real binary (issue 13 #6, issue
//! 12 D7): an error diagnostic fails `plan` with or without `--detailed-exitcode`; a signer
//! awaiting approval is a change, not an error; `apply` changes nothing when the plan has
//! errors, finishes "with errors" when an action failed or was refused, and each hint names
//! only what can help. Outputs are pinned by insta snapshots (`tests/snapshots/`).

use crate::support::cli as cli_support;

use cli_support::*;

#[test]
fn an_unsigned_catalog_fails_the_plan_with_or_without_detailed_exitcode() {
    let ws = Workspace::new();
    let cfg = ws.config("supctl", "state", &catalog("vendor", &unsigned_cab(), ""));
    let plain = run(&cfg, &["plan"]);
    assert_eq!(plain.code, 1, "{}", plain.all());
    let detailed = run(&cfg, &["plan", "--detailed-exitcode"]);
    assert_eq!(detailed.code, 1, "{}", detailed.all());
    assert!(
        !detailed
            .stdout
            .contains("No changes. The update server matches"),
        "{}",
        detailed.stdout
    );
    insta_settings(&ws).bind(|| {
        insta::assert_snapshot!("plan_unsigned_catalog", transcript(&detailed));
    });
}

#[test]
fn a_signer_awaiting_approval_is_a_change_not_an_error() {
    let ws = Workspace::new();
    let cfg = ws.config(
        "supctl",
        "state",
        &catalog("contoso", &other_signer_cab(), ""),
    );
    let plain = run(&cfg, &["plan"]);
    assert_eq!(plain.code, 0, "{}", plain.all());
    let detailed = run(&cfg, &["plan", "--detailed-exitcode"]);
    assert_eq!(detailed.code, 2, "{}", detailed.all());
    let json = run(&cfg, &["plan", "--json"]).json();
    let d = &json["diagnostics"][0];
    assert_eq!(d["code"], "11508", "{json:#}");
    assert_eq!(d["severity"], "warning", "{json:#}");
    assert_eq!(d["blocked"], true, "{json:#}");
    assert_eq!(json["summary"]["blocked"], 1, "{json:#}");
    insta_settings(&ws).bind(|| {
        insta::assert_snapshot!("plan_signer_awaiting_approval", transcript(&detailed));
    });

    // Apply does what it can, says what waits, and is not an error.
    let r = run(&cfg, &["apply", "--auto-approve"]);
    assert_eq!(r.code, 0, "{}", r.all());
    insta_settings(&ws).bind(|| {
        insta::assert_snapshot!("apply_signer_awaiting_approval", transcript(&r));
    });
}

#[test]
fn apply_changes_nothing_and_saves_no_plan_when_the_plan_has_errors() {
    let ws = Workspace::new();
    // One good catalog, one unsigned: the errors stop the whole apply, as in Terraform.
    let body = format!(
        "{}\n{}\n{}",
        quickstart("contoso", ""),
        catalog("vendor", &unsigned_cab(), ""),
        approve_content()
    );
    let cfg = ws.config("supctl", "state", &body);
    let r = run(&cfg, &["apply", "--auto-approve"]);
    assert_eq!(r.code, 1, "{}", r.all());
    assert!(!r.stdout.contains("Apply complete"), "{}", r.all());
    assert!(
        ws.saved_plans("state").is_empty(),
        "{:?}",
        ws.saved_plans("state")
    );
    insta_settings(&ws).bind(|| {
        insta::assert_snapshot!(
            "apply_plan_has_errors",
            transcript(&r)
                .lines()
                .filter(|l| !l.starts_with("      "))
                .collect::<Vec<_>>()
                .join("\n")
        );
    });

    // `plan -o` does not save a plan that cannot be applied.
    let planfile = ws.path().join("plan.json");
    let r = run(&cfg, &["plan", "-o", planfile.to_str().unwrap()]);
    assert_eq!(r.code, 1, "{}", r.all());
    assert!(!planfile.exists());
    assert!(r.stderr.contains("not saved"), "{}", r.all());
}

/// Issue 12: an unknown `stage` category fails `validate` when the catalog is a local file,
/// and the plan otherwise; the apply that meets it changes nothing and leaves no plan behind.
#[test]
fn an_unknown_stage_category_changes_nothing() {
    let ws = Workspace::new();
    let body = format!(
        "{}\n{}",
        quickstart("contoso", "stage = [\"Contoso/Bogus\"]"),
        approve_content()
    );
    let cfg = ws.config("supctl", "state", &body);
    // The catalog is at hand (a path): `validate` resolves the entry and names where it is.
    let r = run(&cfg, &["validate"]);
    assert_eq!(r.code, 1, "{}", r.all());
    assert!(
        r.stderr.contains("supctl.toml:")
            && r.stderr.contains("stage entry `Contoso/Bogus`")
            && r.stderr.contains("supctl catalog categories contoso"),
        "{}",
        r.all()
    );
    assert!(
        !ws.state("state").join("store.db").exists(),
        "validate writes no state"
    );
    let r = run(&cfg, &["apply", "--auto-approve"]);
    assert_eq!(r.code, 1, "{}", r.all());
    assert!(r.stdout.contains("category-unresolved"), "{}", r.all());
    assert!(ws.saved_plans("state").is_empty());
    let r = run(&cfg, &["plan", "--json"]);
    assert_eq!(r.code, 1);
    assert_eq!(
        r.json()["summary"]["updates"]["publish"],
        4,
        "the plan still shows the rest"
    );
}

#[test]
fn a_failed_action_finishes_with_errors_and_names_resume() {
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
    let r = run(&cfg, &["apply", "--auto-approve"]);
    assert_eq!(r.code, 1, "{}", r.all());
    let tail: String = r
        .stdout
        .lines()
        .skip_while(|l| !l.starts_with("Apply"))
        .collect::<Vec<_>>()
        .join("\n");
    insta_settings(&ws).bind(|| {
        insta::assert_snapshot!("apply_failed_action", tail);
    });
}

#[test]
fn a_refused_action_names_a_new_plan_not_resume() {
    let ws = Workspace::new();
    let cfg = ws.config(
        "supctl",
        "state",
        &format!("{}\n{}", quickstart("contoso", ""), approve_content()),
    );
    assert_eq!(run(&cfg, &["apply", "--auto-approve"]).code, 0);
    let daily = format!(
        "{}\n{}",
        quickstart("contoso", "schedule = \"every 1 day\""),
        approve_content()
    );
    ws.config("supctl", "state", &daily);
    let planfile = ws.path().join("plan.json");
    let r = run(&cfg, &["plan", "-o", planfile.to_str().unwrap()]);
    assert_eq!(r.code, 0, "{}", r.all());
    // Someone else changes the catalog meanwhile.
    let other = ws.config(
        "other",
        "state",
        &format!(
            "{}\n{}",
            quickstart("contoso", "description = \"elsewhere\""),
            approve_content()
        ),
    );
    assert_eq!(run(&other, &["apply", "--auto-approve"]).code, 0);

    let r = run(&cfg, &["apply", planfile.to_str().unwrap()]);
    assert_eq!(r.code, 1, "{}", r.all());
    assert!(!r.all().contains("--resume"), "{}", r.all());
    insta_settings(&ws).bind(|| {
        insta::assert_snapshot!("apply_refused_action", transcript(&r));
    });

    // Applying the same plan again says so, and does not advise a resume that cannot help.
    let r = run(&cfg, &["apply", planfile.to_str().unwrap()]);
    assert_eq!(r.code, 1, "{}", r.all());
    assert!(!r.all().contains("--resume"), "{}", r.all());
}

#[test]
fn a_clean_apply_is_complete_and_a_second_plan_has_no_changes() {
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
    let r = run(&cfg, &["apply", "--auto-approve"]);
    assert_eq!(r.code, 0, "{}", r.all());
    assert!(
        r.stdout.contains("Apply complete: 10 actions done."),
        "{}",
        r.all()
    );
    let r = run(&cfg, &["plan", "--detailed-exitcode"]);
    assert_eq!(r.code, 0, "{}", r.all());
    insta_settings(&ws).bind(|| {
        insta::assert_snapshot!("plan_no_changes", transcript(&r));
    });
}
