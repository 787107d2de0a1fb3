//! Issue 13 #3: a catalog read from a `path` is identified by what it is, not by how the
//! path was spelled. State and plans keep it relative to the config root and normalised, so
//! a second checkout of the same config (CI next to `watch`), or a moved checkout, plans no
//! changes; a store written by an older supctl, which kept the absolute spelling, does not
//! plan a replace either.

use crate::support;
use supctl::store::Change;

use std::path::{Path, PathBuf};

use supctl::store::Store;
use supctl::store::db::OpenOptions;
use supctl::store::{CatalogKey, StoreLocation};
use support::e2e::*;

/// A checkout at `dir`: the quickstart catalog under `vendor/`, and a config in `cfg/`
/// reaching it as `../cfg/../vendor/contoso-v3.cab` (un-normalised on purpose), with the
/// state in `state` (absolute, shared by every checkout) or beside the config.
fn checkout(dir: &Path, state: Option<&Path>) -> PathBuf {
    std::fs::create_dir_all(dir.join("vendor")).unwrap();
    std::fs::create_dir_all(dir.join("cfg")).unwrap();
    std::fs::copy(quickstart_cab(), dir.join("vendor/contoso-v3.cab")).unwrap();
    let state = match state {
        Some(s) => format!("{:?}", s.display().to_string()),
        None => "\".supctl\"".to_string(),
    };
    std::fs::write(
        dir.join("cfg/supctl.toml"),
        format!(
            "version = 1\n\n[server]\npath = {state}\n\n[catalog.contoso]\nkind = \"custom\"\nname = \"Contoso\"\npublisher = \"Contoso\"\npath = \"../cfg/../vendor/contoso-v3.cab\"\nsigners = [\"{QS_SIGNER}\"]\n"
        ),
    )
    .unwrap();
    dir.join("cfg")
}

fn stored_source(state: &Path) -> String {
    let b = Store::embedded(&StoreLocation::new(state), OpenOptions::read()).unwrap();
    let key = CatalogKey::parse("contoso").unwrap();
    b.snapshot().unwrap().catalogs[&key].settings.source.clone()
}

fn applied(cfg: &Path) {
    let r = run(cfg, &["apply", "--auto-approve"]);
    assert_eq!(r.code, 0, "apply\n{}", r.all());
}

fn assert_no_changes(cfg: &Path, when: &str) {
    let r = run(cfg, &["plan", "--detailed-exitcode"]);
    assert_eq!(r.code, 0, "{when}\n{}", r.all());
    assert!(r.stdout.contains("No changes."), "{when}\n{}", r.all());
}

#[test]
fn the_stored_source_is_relative_to_the_config_root_and_normalised() {
    let tmp = tempfile::tempdir().unwrap();
    let state = tmp.path().join("state");
    let cfg = checkout(&tmp.path().join("ci"), Some(&state));

    let (code, plan) = plan_json(&cfg, &[]);
    assert_eq!(code, 2);
    let create = plan["actions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["address"] == "catalog.contoso")
        .expect("a catalog action");
    assert_eq!(
        create["after"]["source"], "../vendor/contoso-v3.cab",
        "{create}"
    );

    applied(&cfg);
    assert_eq!(stored_source(&state), "../vendor/contoso-v3.cab");
}

#[test]
fn a_second_checkout_of_the_same_config_plans_no_changes() {
    let tmp = tempfile::tempdir().unwrap();
    let state = tmp.path().join("state");
    let ci = checkout(&tmp.path().join("ci"), Some(&state));
    applied(&ci);
    assert_no_changes(&ci, "the checkout that applied");

    // The `watch` checkout: the same files elsewhere, the same (absolute) state directory.
    let watch = checkout(&tmp.path().join("elsewhere/watch"), Some(&state));
    assert_no_changes(&watch, "another checkout of the same config");
}

#[test]
fn a_moved_checkout_plans_no_changes() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = checkout(&tmp.path().join("before"), None);
    applied(&cfg);
    std::fs::rename(tmp.path().join("before"), tmp.path().join("after")).unwrap();
    assert_no_changes(&tmp.path().join("after/cfg"), "the moved checkout");
}

#[test]
fn a_stored_absolute_path_to_the_same_file_is_no_replace() {
    let tmp = tempfile::tempdir().unwrap();
    let state = tmp.path().join("state");
    let cfg = checkout(&tmp.path().join("ci"), Some(&state));
    applied(&cfg);

    // What an older supctl stored: an absolute spelling of the same file (here not even
    // the one this config makes, which an older supctl would have planned as a replace).
    let old = cfg.join("../vendor/./contoso-v3.cab");
    let b = Store::embedded(&StoreLocation::new(&state), OpenOptions::write()).unwrap();
    let key = CatalogKey::parse("contoso").unwrap();
    let mut record = b.snapshot().unwrap().catalogs[&key].settings.clone();
    record.source = old.display().to_string();
    b.apply(Change::UpsertCatalog(record)).unwrap();
    drop(b);

    assert_no_changes(&cfg, "a store holding the absolute spelling");

    // A different file is still a different source: that is a replace.
    std::fs::copy(quickstart_cab(), tmp.path().join("ci/vendor/other.cab")).unwrap();
    let toml = std::fs::read_to_string(cfg.join("supctl.toml"))
        .unwrap()
        .replace("contoso-v3.cab", "other.cab");
    std::fs::write(cfg.join("supctl.toml"), toml).unwrap();
    let (code, plan) = plan_json(&cfg, &[]);
    assert_eq!(code, 2);
    assert_eq!(actions(&plan), ["replace catalog.contoso"], "{plan}");
}

#[test]
fn a_path_written_absolute_stays_absolute() {
    // A file share, not part of the checkout: every checkout names the same place.
    let tmp = tempfile::tempdir().unwrap();
    let state = tmp.path().join("state");
    let share = tmp.path().join("share");
    std::fs::create_dir_all(share.join("sub")).unwrap();
    std::fs::copy(quickstart_cab(), share.join("contoso-v3.cab")).unwrap();
    let spelled = share.join("./sub/../contoso-v3.cab");
    let write = |dir: &Path| {
        std::fs::create_dir_all(dir).unwrap();
        std::fs::write(
            dir.join("supctl.toml"),
            format!(
                "version = 1\n\n[server]\npath = {:?}\n\n[catalog.contoso]\nkind = \"custom\"\nname = \"Contoso\"\npublisher = \"Contoso\"\npath = {:?}\nsigners = [\"{QS_SIGNER}\"]\n",
                state.display().to_string(),
                spelled.display().to_string()
            ),
        )
        .unwrap();
        dir.to_path_buf()
    };
    let ci = write(&tmp.path().join("ci/cfg"));
    applied(&ci);
    assert_eq!(
        stored_source(&state),
        share.join("contoso-v3.cab").display().to_string()
    );
    let watch = write(&tmp.path().join("srv/deep/watch/cfg"));
    assert_no_changes(&watch, "another checkout naming the same absolute path");
}
