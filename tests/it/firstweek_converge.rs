//! Issue 13 #2: plans converge for every catalog format. An applied catalog, planned again,
//! is "No changes" (exit 0 with `--detailed-exitcode`) whether it is v1 (no content
//! certificates, no categories), v2 (content certificates, no categories) or v3 (both).
//! The v1 and v2 catalogs are the quickstart's updates made by the project's generator
//! (`scripts/make-e2e-fixtures.sh`, `tests/fixtures/e2e/formats/`).

use crate::support;

use std::path::Path;

use support::e2e::*;

/// A config directory holding `catalog` as `catalogs/<file name>` and a `[catalog.contoso]`
/// reading it, with its state directory inside.
fn config_dir(dir: &Path, catalog: &Path) -> std::path::PathBuf {
    let name = catalog.file_name().unwrap().to_str().unwrap();
    std::fs::create_dir_all(dir.join("catalogs")).unwrap();
    std::fs::copy(catalog, dir.join("catalogs").join(name)).unwrap();
    std::fs::write(
        dir.join("supctl.toml"),
        format!(
            "version = 1\n\n[server]\npath = \"state\"\n\n[catalog.contoso]\nkind = \"custom\"\nname = \"Contoso\"\npublisher = \"Contoso\"\npath = \"catalogs/{name}\"\nsigners = [\"{QS_SIGNER}\"]\n"
        ),
    )
    .unwrap();
    dir.to_path_buf()
}

fn plan_apply_replan(catalog: &Path, format: &str) {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = config_dir(tmp.path(), catalog);

    let r = run(&cfg, &["plan", "--detailed-exitcode"]);
    assert_eq!(r.code, 2, "{format}: first plan\n{}", r.all());

    let r = run(&cfg, &["apply", "--auto-approve"]);
    assert_eq!(r.code, 0, "{format}: apply\n{}", r.all());

    let r = run(&cfg, &["plan", "--detailed-exitcode"]);
    assert_eq!(r.code, 0, "{format}: plan after apply\n{}", r.all());
    assert!(
        r.stdout.contains("No changes."),
        "{format}: plan after apply\n{}",
        r.all()
    );
    // `plan` reads the parsed-catalog summary once a catalog is unchanged; that path must
    // converge as well (the first re-plan wrote it, this one reads it).
    let r = run(&cfg, &["plan", "--detailed-exitcode"]);
    assert_eq!(r.code, 0, "{format}: second plan after apply\n{}", r.all());
}

#[test]
fn an_applied_v1_catalog_plans_no_changes() {
    plan_apply_replan(&repo("tests/fixtures/e2e/formats/contoso-v1.cab"), "v1");
}

#[test]
fn an_applied_v2_catalog_plans_no_changes() {
    plan_apply_replan(&repo("tests/fixtures/e2e/formats/contoso-v2.cab"), "v2");
}

#[test]
fn an_applied_v3_catalog_plans_no_changes() {
    plan_apply_replan(&quickstart_cab(), "v3");
}
