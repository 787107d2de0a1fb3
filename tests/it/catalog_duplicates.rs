//! Issue 12 D1: a catalog that lists one PackageID twice (also as an upper-case or
//! `{braced}` variant) must converge. supctl keeps one package per id by a stated rule (the
//! latest CreationDate; on a tie, the later in the document) and warns, naming both, in
//! `catalog inspect` and in the plan. The real binary applies such a catalog and the next
//! plan is empty, the update at revision 1.

use crate::support::catalog as catalog_support;

use catalog_support::*;
use serde_json::Value;

const X: &str = "0c31a8ec-a368-4383-8149-3d8e2c264f17";

const Y: &str = "75703a22-ed04-4fc2-b715-75e42bc587c0";

/// X three times (lower case, `{UPPER}`, upper case), then Y: the second X is the newest.
fn duplicated_catalog() -> String {
    catalog_of(&[
        Pkg::new(X, "Tool 1.0 (old)", "2024-01-01T00:00:00Z"),
        Pkg::new(
            &format!("{{{}}}", X.to_uppercase()),
            "Tool 1.1 (newest)",
            "2024-06-01T00:00:00Z",
        ),
        Pkg::new(
            &X.to_uppercase(),
            "Tool 1.0 (repeat)",
            "2024-01-01T00:00:00Z",
        ),
        Pkg::new(Y, "Agent 2.0", "2024-02-01T00:00:00Z"),
    ])
}

fn updates(config: &std::path::Path) -> Vec<Value> {
    let r = run_with(config, &["updates", "list", "--json"]);
    assert_eq!(r.code, 0, "{}", r.all());
    serde_json::from_str::<Vec<Value>>(&r.stdout).unwrap()
}

#[test]
fn a_duplicated_package_id_converges_on_the_newest_package() {
    let dir = tempfile::tempdir().unwrap();
    let xml = duplicated_catalog();
    let cab_path = dir.path().join("dup.cab");
    sign(&cab(&v3_members(&xml, &[X, Y])), &cab_path);
    let cfg = config(dir.path(), &cab_path, "");

    let plan = run_with(&cfg, &["plan", "--json"]);
    assert_eq!(plan.code, 0, "{}", plan.all());
    let v: Value = serde_json::from_str(&plan.stdout).unwrap();
    let publishes: Vec<&Value> = v["actions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["address"].as_str().unwrap().contains(".update["))
        .collect();
    assert_eq!(publishes.len(), 2, "one publish per id: {v:#}");
    let warnings: Vec<&Value> = v["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["code"] == "duplicate-package")
        .collect();
    assert_eq!(warnings.len(), 2, "one warning per dropped package");
    for w in &warnings {
        assert_eq!(w["severity"], "warning");
        assert_eq!(w["address"], format!("catalog.t.update[{X}]"));
        let m = w["message"].as_str().unwrap();
        assert!(
            m.contains("Tool 1.1 (newest)") && m.contains("package 2"),
            "names the kept package: {m}"
        );
    }
    let dropped: Vec<&str> = warnings
        .iter()
        .map(|w| w["message"].as_str().unwrap())
        .collect();
    assert!(dropped[0].contains("Tool 1.0 (old)") && dropped[0].contains("package 1"));
    assert!(dropped[1].contains("Tool 1.0 (repeat)") && dropped[1].contains("package 3"));

    let apply = run_with(&cfg, &["apply", "--auto-approve"]);
    assert_eq!(apply.code, 0, "{}", apply.all());

    // Converged: the next plan has nothing to do, and says why the catalog looks odd.
    let again = run_with(&cfg, &["plan", "--json", "--detailed-exitcode"]);
    assert_eq!(again.code, 0, "{}", again.all());
    let v: Value = serde_json::from_str(&again.stdout).unwrap();
    assert_eq!(v["actions"].as_array().unwrap().len(), 0, "{v:#}");
    assert!(
        v["diagnostics"]
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d["code"] == "duplicate-package")
    );
    let apply = run_with(&cfg, &["apply", "--auto-approve"]);
    assert_eq!(apply.code, 0, "{}", apply.all());

    let rows = updates(&cfg);
    assert_eq!(rows.len(), 2);
    let x = rows.iter().find(|r| r["id"] == X).expect("X is published");
    assert_eq!(x["revision"], 1, "{x:#}");
    assert_eq!(x["title"], "Tool 1.1 (newest)");
}

#[test]
fn inspect_names_both_packages_of_a_duplicated_id() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("dup.xml");
    std::fs::write(&path, duplicated_catalog()).unwrap();
    let r = run(&["catalog", "inspect", path.to_str().unwrap()]);
    assert_eq!(r.code, 0, "{}", r.all());
    assert!(r.stdout.contains("updates: 2 "), "{}", r.stdout);
    let warning = format!(
        "warning: package {X} is listed more than once: kept package 2 (line 4, \"Tool 1.1 (newest)\", created 2024-06-01T00:00:00Z), dropped package 1 (line 3, \"Tool 1.0 (old)\", created 2024-01-01T00:00:00Z): the latest CreationDate wins"
    );
    assert!(r.stdout.contains(&warning), "{}", r.stdout);

    let r = run(&["catalog", "inspect", path.to_str().unwrap(), "--json"]);
    assert_eq!(r.code, 0, "{}", r.all());
    let v: Value = serde_json::from_str(&r.stdout).unwrap();
    let dups = v["duplicates"].as_array().unwrap();
    assert_eq!(dups.len(), 2);
    assert_eq!(dups[0]["id"], X);
    assert_eq!(dups[0]["kept"]["position"], 2);
    assert_eq!(dups[0]["kept"]["line"], 4);
    assert_eq!(dups[0]["dropped"]["position"], 1);
    assert_eq!(dups[1]["dropped"]["position"], 3);
    assert_eq!(dups[1]["dropped"]["title"], "Tool 1.0 (repeat)");
}

#[test]
fn on_equal_dates_the_later_package_wins() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tie.xml");
    let xml = catalog_of(&[
        Pkg::new(X, "first", "2024-01-01T00:00:00Z"),
        Pkg::new(X, "second", "2024-01-01T00:00:00+00:00"),
    ]);
    std::fs::write(&path, xml).unwrap();
    let r = run(&["catalog", "updates", path.to_str().unwrap()]);
    assert_eq!(r.code, 0, "{}", r.all());
    assert!(
        r.stdout.contains("second") && !r.stdout.contains("first"),
        "{}",
        r.stdout
    );
    assert!(
        r.stderr.contains("the later in the document wins"),
        "{}",
        r.stderr
    );
}
