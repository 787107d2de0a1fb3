//! Issue 13: `validate` is honest. A catalog `path` that names no file is an error with
//! `file:line:col` and a hint (and `apply` therefore changes nothing), and `signers` must be
//! an array: a bare string is an error, not silently one signer.

use crate::support;

use std::path::{Path, PathBuf};

use support::e2e::*;

fn config(dir: &Path, catalog: &str) -> PathBuf {
    let p = dir.join("supctl.toml");
    std::fs::write(
        &p,
        format!(
            "version = 1\n\n[server]\npath = \"state\"\n\n[catalog.contoso]\nkind = \"custom\"\nname = \"Contoso\"\npublisher = \"Contoso\"\n{catalog}\n"
        ),
    )
    .unwrap();
    p
}

#[test]
fn a_missing_catalog_file_fails_validate_and_apply_changes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = config(
        tmp.path(),
        &format!("path = \"catalogs/missing.cab\"\nsigners = [\"{QS_SIGNER}\"]"),
    );
    let r = run(&cfg, &["validate"]);
    assert_eq!(r.code, 1, "{}", r.all());
    let at = format!("{}:10:8: error:", cfg.display());
    assert!(r.stderr.contains(&at), "{}", r.all());
    assert!(
        r.stderr.contains(&format!(
            "`catalog.contoso.path`: there is no file {}",
            tmp.path().join("catalogs/missing.cab").display()
        )),
        "{}",
        r.all()
    );
    assert!(
        r.stderr.contains("hint: relative paths resolve against"),
        "{}",
        r.all()
    );

    let r = run(&cfg, &["apply", "--auto-approve"]);
    assert_eq!(r.code, 1, "{}", r.all());
    assert!(
        !tmp.path().join("state").exists(),
        "apply created state for a config that does not validate:\n{}",
        r.all()
    );

    // A directory is not a catalog file either.
    std::fs::create_dir_all(tmp.path().join("catalogs/missing.cab")).unwrap();
    let r = run(&cfg, &["validate"]);
    assert_eq!(r.code, 1, "{}", r.all());
    assert!(
        r.stderr.contains("is a directory, not a catalog file"),
        "{}",
        r.all()
    );

    // The file there: valid.
    std::fs::remove_dir(tmp.path().join("catalogs/missing.cab")).unwrap();
    std::fs::copy(quickstart_cab(), tmp.path().join("catalogs/missing.cab")).unwrap();
    let r = run(&cfg, &["validate"]);
    assert_eq!(r.code, 0, "{}", r.all());
}

#[test]
fn signers_must_be_an_array() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::copy(quickstart_cab(), tmp.path().join("c.cab")).unwrap();
    let cfg = config(
        tmp.path(),
        &format!("path = \"c.cab\"\nsigners = \"{QS_SIGNER}\""),
    );
    let r = run(&cfg, &["validate"]);
    assert_eq!(r.code, 1, "{}", r.all());
    let at = format!("{}:11:11: error:", cfg.display());
    assert!(r.stderr.contains(&at), "{}", r.all());
    assert!(
        r.stderr
            .contains("`catalog.contoso.signers` must be an array of thumbprints, found string"),
        "{}",
        r.all()
    );
    assert!(
        r.stderr
            .contains(&format!("hint: signers = [\"{QS_SIGNER}\"]")),
        "{}",
        r.all()
    );
}
