//! Issue 13 #5: categories can be found. `supctl catalog categories <PATH|URL|CATALOG>` prints
//! a catalog's V3 tree (or `--json`) with member counts, marking paths that several
//! categories share with their GUIDs; `updates list` refuses unknown `--catalog` and
//! `--category` filters with suggestions instead of listing nothing; config and plan hints
//! point at the new command.

use crate::support;

use std::io::Write as _;
use std::path::{Path, PathBuf};

use serde_json::Value;
use support::e2e::*;

const PKG: [&str; 3] = [
    "11111111-0000-4000-8000-000000000001",
    "22222222-0000-4000-8000-000000000002",
    "33333333-0000-4000-8000-000000000003",
];

fn cat_id(n: u8) -> String {
    format!("aaaaaaaa-0000-4000-8000-0000000000{n:02}")
}

/// An unsigned v3 CAB holding the three-package quirks catalog and a tree in which two
/// siblings are both called `BIOS` (real vendor trees have such duplicates).
fn duplicate_names_cab(dir: &Path) -> PathBuf {
    let xml = std::fs::read(repo("tests/fixtures/catalog/src/QuirksCatalog.xml")).unwrap();
    let node = |n: u8, name: &str, parent: Option<u8>, members: &[&str]| {
        serde_json::json!({
            "DisplayName": name, "Id": cat_id(n), "Members": members,
            "ParentId": parent.map(cat_id).unwrap_or_default(),
        })
    };
    let nodes = [
        node(1, "Example", None, &PKG),
        node(2, "BIOS", Some(1), &PKG[..1]),
        node(3, "BIOS", Some(1), &PKG[1..2]),
        node(4, "Drivers", Some(1), &[]),
        node(5, "Model X", Some(4), &PKG[2..]),
    ];
    let mut files: Vec<(String, Vec<u8>)> = vec![("QuirksCatalog.xml".into(), xml)];
    for n in &nodes {
        files.push((
            format!("V3\\{}.json", n["Id"].as_str().unwrap()),
            serde_json::to_vec(n).unwrap(),
        ));
    }
    let ids: Vec<String> = (1..=5).map(cat_id).collect();
    files.push((
        "V3\\update_categories.json".into(),
        serde_json::to_vec(&ids).unwrap(),
    ));

    let mut builder = cab::CabinetBuilder::new();
    let folder = builder.add_folder(cab::CompressionType::MsZip);
    for (name, _) in &files {
        folder.add_file(name.as_str());
    }
    let path = dir.join("duplicates.cab");
    let mut w = builder
        .build(std::fs::File::create(&path).unwrap())
        .unwrap();
    for (_, bytes) in &files {
        w.next_file().unwrap().unwrap().write_all(bytes).unwrap();
    }
    w.finish().unwrap();
    path
}

fn categories(args: &[&str]) -> Run {
    let out = supctl(&[&["catalog", "categories"], args].concat())
        .output()
        .unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// The quickstart copied into `dir` (its state directory inside the copy).
fn quickstart_copy(dir: &Path) -> PathBuf {
    let q = repo("examples/quickstart");
    for sub in ["catalog", "content"] {
        std::fs::create_dir_all(dir.join(sub)).unwrap();
        for e in std::fs::read_dir(q.join(sub)).unwrap().flatten() {
            std::fs::copy(e.path(), dir.join(sub).join(e.file_name())).unwrap();
        }
    }
    std::fs::copy(q.join("supctl.toml"), dir.join("supctl.toml")).unwrap();
    dir.to_path_buf()
}

#[test]
fn the_tree_of_a_catalog_file_with_member_counts() {
    let r = categories(&[quickstart_cab().to_str().unwrap()]);
    assert_eq!(r.code, 0, "{}", r.all());
    insta::assert_snapshot!("quickstart_tree", r.stdout);
}

#[test]
fn duplicate_paths_are_marked_with_their_guids() {
    let tmp = tempfile::tempdir().unwrap();
    let cab = duplicate_names_cab(tmp.path());
    let r = categories(&[cab.to_str().unwrap()]);
    assert_eq!(r.code, 0, "{}", r.all());
    insta::assert_snapshot!("duplicates_tree", r.stdout);

    let r = categories(&[cab.to_str().unwrap(), "--json"]);
    assert_eq!(r.code, 0, "{}", r.all());
    let v: Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(v["format"], "v3");
    let cats = v["categories"].as_array().unwrap();
    assert_eq!(cats.len(), 5);
    let by_id = |n: u8| {
        cats.iter()
            .find(|c| c["id"] == cat_id(n).as_str())
            .unwrap_or_else(|| panic!("{n} in {v}"))
    };
    assert_eq!(by_id(1)["path"], "Example");
    assert_eq!(by_id(1)["members"], 3);
    assert_eq!(by_id(1)["total"], 3);
    assert_eq!(by_id(1)["duplicate_path"], false);
    for n in [2, 3] {
        assert_eq!(by_id(n)["path"], "Example/BIOS");
        assert_eq!(by_id(n)["duplicate_path"], true);
        assert_eq!(by_id(n)["parent"], cat_id(1).as_str());
        assert_eq!(by_id(n)["members"], 1);
    }
    assert_eq!(by_id(4)["members"], 0);
    assert_eq!(by_id(4)["total"], 1, "Drivers holds Model X's update");
    assert_eq!(by_id(5)["path"], "Example/Drivers/Model X");
    assert_eq!(by_id(5)["depth"], 2);
}

#[test]
fn a_catalog_without_categories_says_so() {
    let r = categories(&[repo("tests/fixtures/e2e/formats/contoso-v1.cab")
        .to_str()
        .unwrap()]);
    assert_eq!(r.code, 0, "{}", r.all());
    assert!(
        r.stdout
            .contains("this catalog is v1: it has no V3 categories"),
        "{}",
        r.all()
    );
    let r = categories(&[
        repo("tests/fixtures/e2e/formats/contoso-v2.cab")
            .to_str()
            .unwrap(),
        "--json",
    ]);
    let v: Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(v["format"], "v2");
    assert_eq!(v["categories"], serde_json::json!([]));
}

#[test]
fn a_configured_catalog_is_acquired_through_the_config() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = quickstart_copy(tmp.path());
    let by_key = categories(&["contoso", "-c", dir.to_str().unwrap()]);
    assert_eq!(by_key.code, 0, "{}", by_key.all());
    let by_file = categories(&[quickstart_cab().to_str().unwrap()]);
    assert_eq!(by_key.stdout, by_file.stdout);

    // A key that is not configured: an error naming the configured ones.
    let r = categories(&["contosoo", "-c", dir.to_str().unwrap()]);
    assert_eq!(r.code, 1, "{}", r.all());
    assert!(r.stderr.contains("did you mean `contoso`?"), "{}", r.all());

    // A configured catalog whose signer is not approved is not read.
    let toml = std::fs::read_to_string(dir.join("supctl.toml"))
        .unwrap()
        .replace(QS_SIGNER, OTHER_SIGNER);
    std::fs::write(dir.join("supctl.toml"), toml).unwrap();
    let r = categories(&["contoso", "-c", dir.to_str().unwrap()]);
    assert_eq!(r.code, 1, "{}", r.all());
    assert!(
        r.stderr.contains("is not an approved signer"),
        "{}",
        r.all()
    );
}

#[test]
fn updates_list_refuses_unknown_filters_with_suggestions() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = quickstart_copy(tmp.path());
    let r = run(&dir, &["apply", "--auto-approve"]);
    assert_eq!(r.code, 0, "{}", r.all());

    let list = |args: &[&str]| run(&dir, &[&["updates", "list"], args].concat());
    let r = list(&["--catalog", "nope"]);
    assert_eq!(r.code, 1, "{}", r.all());
    assert!(r.stderr.contains("no catalog `nope`"), "{}", r.all());
    assert!(
        r.stderr.contains("contoso"),
        "names the known ones: {}",
        r.all()
    );
    let r = list(&["--catalog", "contosso"]);
    assert!(r.stderr.contains("did you mean `contoso`?"), "{}", r.all());

    let r = list(&["--category", "Contoso/Utilites"]);
    assert_eq!(r.code, 1, "{}", r.all());
    assert!(
        r.stderr.contains("did you mean `Contoso/Utilities`?"),
        "{}",
        r.all()
    );
    assert!(
        r.stderr.contains("supctl catalog categories"),
        "{}",
        r.all()
    );

    // Known filters still list, case-insensitively.
    let r = list(&["--catalog", "contoso", "--category", "contoso/utilities"]);
    assert_eq!(r.code, 0, "{}", r.all());
    assert!(r.stdout.contains("3 update(s)"), "{}", r.all());
}

#[test]
fn an_unresolved_category_in_the_config_points_at_the_command() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = quickstart_copy(tmp.path());
    let toml = std::fs::read_to_string(dir.join("supctl.toml"))
        .unwrap()
        .replace(
            "categories = \"all\"",
            "categories = [\"Contoso/Utilities\", \"Contoso/Nope\"]",
        );
    std::fs::write(dir.join("supctl.toml"), toml).unwrap();
    let r = run(&dir, &["plan"]);
    assert!(
        r.all().contains("supctl catalog categories contoso"),
        "{}",
        r.all()
    );
}
