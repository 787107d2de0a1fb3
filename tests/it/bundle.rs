//! Disconnected bundles through the real binary (issue 17): a lab applies the quickstart and
//! exports its locked catalog and staged content; a disconnected update point (a fresh state
//! directory, its catalog's source unreachable) imports the bundle, applies `--locked` with
//! no network and then plans no change. A bundle with a missing, altered or extra file, a
//! path leaving it, or a catalog whose signature no longer verifies is refused by name, and
//! nothing is installed.

use std::path::{Path, PathBuf};

use crate::support::cli::*;

/// The lab's and the disconnected side's catalog: the quickstart, `Contoso/Utilities`
/// staged, read from `source` (a `path` or a `url` line).
fn body(source: &str, content_source: Option<&Path>) -> String {
    let content = content_source
        .map(|p| format!("content_source = {:?}\n", p.display().to_string()))
        .unwrap_or_default();
    format!(
        "[http]\nretries = 0\ntimeout_seconds = 5\n\n[catalog.contoso]\nname = \"Contoso Sample Catalog\"\npublisher = \"Contoso\"\n{source}\nsigners = [\"{QS_SIGNER}\"]\nstage = [\"Contoso/Utilities\"]\n{content}\n{}",
        approve_content()
    )
}

/// Nothing listens on port 1: the disconnected side's catalog source.
const UNREACHABLE: &str = "url = \"https://127.0.0.1:1/contoso.cab\"";

/// A lab that applied the quickstart (content staged, lock written) and exported it; the
/// bundle directory.
fn exported() -> (Workspace, PathBuf) {
    let lab = Workspace::new();
    let cfg = lab.config(
        "supctl",
        "state",
        &body(
            &format!("path = {:?}", quickstart_cab().display().to_string()),
            Some(&quickstart_content()),
        ),
    );
    let r = run(&cfg, &["apply", "--auto-approve"]);
    assert_eq!(r.code, 0, "{}", r.all());
    let out = lab.path().join("bundle");
    let r = run(&cfg, &["export", "--out", out.to_str().unwrap()]);
    assert_eq!(r.code, 0, "{}", r.all());
    assert!(
        r.stdout
            .contains("Exported 1 catalog(s) and 4 content file(s)"),
        "{}",
        r.all()
    );
    assert!(r.stderr.contains("export: [5/5]"), "progress: {}", r.all());
    (lab, out)
}

/// A disconnected update point: no lock, a fresh state directory, the catalog unreachable.
fn disconnected() -> (Workspace, PathBuf) {
    let ws = Workspace::new();
    let cfg = ws.config("supctl", "state", &body(UNREACHABLE, None));
    (ws, cfg)
}

fn sha256_hex(path: &Path) -> String {
    use sha2::Digest as _;
    hex::encode(sha2::Sha256::digest(std::fs::read(path).unwrap()))
}

fn deployable(cfg: &Path) -> Vec<String> {
    let r = run(cfg, &["updates", "list", "--json", "--state", "deployable"]);
    assert_eq!(r.code, 0, "{}", r.all());
    let mut ids: Vec<String> = r
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["id"].as_str().unwrap().to_string())
        .collect();
    ids.sort();
    ids
}

#[test]
fn a_disconnected_update_point_applies_the_bundle_with_no_network() {
    let (lab, bundle) = exported();
    let lab_cfg = lab.path().join("supctl.toml");
    let locked = sha256_hex(&quickstart_cab());
    assert!(bundle.join(format!("catalogs/{locked}.cab")).is_file());
    assert!(bundle.join("content/contoso-tool-1.0.exe").is_file());
    let manifest = std::fs::read_to_string(bundle.join("manifest.json")).unwrap();
    assert!(manifest.contains(&locked), "{manifest}");

    let (ws, cfg) = disconnected();
    // Without the bundle, the disconnected side cannot plan its catalog.
    let r = run(&cfg, &["import-bundle", bundle.to_str().unwrap()]);
    assert_eq!(r.code, 0, "{}", r.all());
    assert!(r.stdout.contains("wrote the bundle's"), "{}", r.all());
    assert!(r.stderr.contains("verify: [6/6]"), "{}", r.all());
    assert_eq!(
        std::fs::read(ws.path().join("supctl.lock")).unwrap(),
        std::fs::read(lab.path().join("supctl.lock")).unwrap(),
    );
    let state = ws.state("state");
    assert!(state.join(format!("archive/{locked}.cab")).is_file());
    assert!(state.join("bundle-content/contoso-tool-1.0.exe").is_file());

    let r = run(&cfg, &["apply", "--locked", "--auto-approve"]);
    assert_eq!(r.code, 0, "{}", r.all());
    assert!(r.stderr.contains("from the archive"), "{}", r.all());
    let r = run(&cfg, &["plan", "--locked", "--detailed-exitcode"]);
    assert_eq!(r.code, 0, "no changes after the apply: {}", r.all());
    let staged = deployable(&cfg);
    assert_eq!(staged.len(), 3, "{staged:?}");
    assert_eq!(
        staged,
        deployable(&lab_cfg),
        "the same updates as in the lab"
    );

    // Importing the same bundle again installs nothing new and changes nothing.
    let r = run(&cfg, &["import-bundle", bundle.to_str().unwrap()]);
    assert_eq!(r.code, 0, "{}", r.all());
    assert!(r.stdout.contains("5 already there"), "{}", r.all());
}

/// Rewrites the manifest entry of `rel` (path, size, SHA-256) to describe `new_rel` as it is.
fn relist(bundle: &Path, rel: &str, new_rel: &str) {
    let path = bundle.join("manifest.json");
    let mut m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let file = bundle.join(new_rel);
    for f in m["files"].as_array_mut().unwrap() {
        if f["path"] == rel {
            f["path"] = new_rel.into();
            f["size"] = std::fs::metadata(&file).unwrap().len().into();
            f["sha256"] = sha256_hex(&file).into();
        }
    }
    std::fs::write(path, serde_json::to_string_pretty(&m).unwrap()).unwrap();
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap().flatten() {
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &to.join(e.file_name()));
        } else {
            std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
    }
}

#[test]
fn a_damaged_bundle_is_refused_by_name_and_nothing_is_installed() {
    let (_lab, bundle) = exported();
    let cab = format!("catalogs/{}.cab", sha256_hex(&quickstart_cab()));
    type Damage = fn(&Path, &str);
    let cases: &[(&str, Damage, &[&str])] = &[
        (
            "altered",
            |b, _| {
                let p = b.join("content/contoso-tool-1.0.exe");
                let mut bytes = std::fs::read(&p).unwrap();
                bytes[100] ^= 1;
                std::fs::write(p, bytes).unwrap();
            },
            &["altered: content/contoso-tool-1.0.exe: expected sha256"],
        ),
        (
            "missing",
            |b, cab| std::fs::remove_file(b.join(cab)).unwrap(),
            &["missing: catalogs/"],
        ),
        (
            "extra",
            |b, _| std::fs::write(b.join("content/readme.txt"), b"hi").unwrap(),
            &["extra: content/readme.txt"],
        ),
        (
            "all three at once",
            |b, cab| {
                std::fs::write(b.join("content/contoso-tool-1.1.exe"), b"MZ").unwrap();
                std::fs::remove_file(b.join("supctl.lock")).unwrap();
                std::fs::write(b.join(format!("{cab}.bak")), b"x").unwrap();
            },
            &[
                "3 problem(s)",
                "altered: content/contoso-tool-1.1.exe: expected",
                "missing: supctl.lock",
                "extra: catalogs/",
            ],
        ),
        (
            "a path leaving the bundle",
            |b, _| {
                let path = b.join("manifest.json");
                let text = std::fs::read_to_string(&path).unwrap().replace(
                    "\"content/contoso-tool-1.0.exe\"",
                    "\"../contoso-tool-1.0.exe\"",
                );
                std::fs::write(path, text).unwrap();
            },
            &[
                "unsafe path: \"../contoso-tool-1.0.exe\"",
                "extra: content/contoso-tool-1.0.exe",
            ],
        ),
        (
            "no manifest",
            |b, _| std::fs::remove_file(b.join("manifest.json")).unwrap(),
            &["manifest.json is missing"],
        ),
        (
            "a catalog whose signature no longer verifies",
            |b, cab| {
                // One byte flipped inside the signed range; the file renamed for its new
                // digest, and the lock and the manifest made to agree, so that only the
                // signature check can tell.
                let mut bytes = std::fs::read(b.join(cab)).unwrap();
                let span = supctl::trust::cab_signature_span(&bytes).unwrap().unwrap();
                let at = span.start / 2;
                bytes[at] ^= 0x55;
                std::fs::remove_file(b.join(cab)).unwrap();
                let new_sha = {
                    use sha2::Digest as _;
                    hex::encode(sha2::Sha256::digest(&bytes))
                };
                let new_rel = format!("catalogs/{new_sha}.cab");
                std::fs::write(b.join(&new_rel), &bytes).unwrap();
                relist(b, cab, &new_rel);
                let old_sha = &cab["catalogs/".len()..cab.len() - 4];
                let lock = b.join("supctl.lock");
                let text = std::fs::read_to_string(&lock)
                    .unwrap()
                    .replace(old_sha, &new_sha);
                std::fs::write(&lock, text).unwrap();
                relist(b, "supctl.lock", "supctl.lock");
            },
            &[
                "refused: catalogs/",
                "(catalog contoso): the catalog signature is invalid",
            ],
        ),
    ];
    for (name, damage, expected) in cases {
        let copy = tempfile::tempdir().unwrap();
        let b = copy.path().join("bundle");
        copy_dir(&bundle, &b);
        damage(&b, &cab);
        let (ws, cfg) = disconnected();
        let r = run(&cfg, &["import-bundle", b.to_str().unwrap()]);
        assert_eq!(r.code, 1, "{name}: {}", r.all());
        for e in *expected {
            assert!(r.stderr.contains(e), "{name}: wanted {e:?} in {}", r.all());
        }
        assert!(
            !ws.state("state").join("archive").exists()
                && !ws.state("state").join("bundle-content").exists(),
            "{name}: nothing is installed"
        );
        assert!(
            !ws.path().join("supctl.lock").exists(),
            "{name}: no lock written"
        );
    }
}

#[cfg(unix)]
#[test]
fn a_link_out_of_the_bundle_is_refused_by_name() {
    let (_lab, bundle) = exported();
    std::os::unix::fs::symlink("/etc/passwd", bundle.join("content/passwd")).unwrap();
    let (ws, cfg) = disconnected();
    let r = run(&cfg, &["import-bundle", bundle.to_str().unwrap()]);
    assert_eq!(r.code, 1, "{}", r.all());
    assert!(
        r.stderr
            .contains("symbolic link: content/passwd points outside the bundle"),
        "{}",
        r.all()
    );
    assert!(!ws.state("state").join("archive").exists());
}

/// A bundle made for another lock is refused by catalog, expected and found; `export`
/// needs a lock and refuses to write over someone's files.
#[test]
fn export_and_import_say_what_to_do_when_the_locks_disagree() {
    let (lab, bundle) = exported();
    let lab_cfg = lab.path().join("supctl.toml");
    let (ws, cfg) = disconnected();
    let other = "0".repeat(64);
    let lock = std::fs::read_to_string(lab.path().join("supctl.lock"))
        .unwrap()
        .replace(&sha256_hex(&quickstart_cab()), &other);
    std::fs::write(ws.path().join("supctl.lock"), lock).unwrap();
    let r = run(&cfg, &["import-bundle", bundle.to_str().unwrap()]);
    assert_eq!(r.code, 1, "{}", r.all());
    assert!(
        r.stderr.contains(&format!(
            "catalog contoso: the config's supctl.lock expects CAB sha256 {other}, the bundle carries {}",
            sha256_hex(&quickstart_cab())
        )),
        "{}",
        r.all()
    );
    assert!(!ws.state("state").join("archive").exists());

    let mine = lab.path().join("mine");
    std::fs::create_dir_all(&mine).unwrap();
    std::fs::write(mine.join("notes.txt"), b"mine").unwrap();
    let r = run(&lab_cfg, &["export", "--out", mine.to_str().unwrap()]);
    assert_eq!(r.code, 1, "{}", r.all());
    assert!(r.stderr.contains("is not empty"), "{}", r.all());
    assert_eq!(std::fs::read(mine.join("notes.txt")).unwrap(), b"mine");
    // A previous bundle is replaced.
    let r = run(&lab_cfg, &["export", "--out", bundle.to_str().unwrap()]);
    assert_eq!(r.code, 0, "{}", r.all());

    std::fs::remove_file(lab.path().join("supctl.lock")).unwrap();
    let r = run(&lab_cfg, &["export", "--out", mine.to_str().unwrap()]);
    assert_eq!(r.code, 1, "{}", r.all());
    assert!(
        r.stderr.contains("supctl.lock") && r.stderr.contains("supctl lock update"),
        "{}",
        r.all()
    );
}

/// Without `import-bundle`: `[archive] path` at the bundle's `catalogs/` and
/// `content_source` at its `content/` work too, the lock copied by hand.
#[test]
fn a_copied_bundle_can_be_read_in_place() {
    let (lab, bundle) = exported();
    let ws = Workspace::new();
    let cfg = ws.config(
        "supctl",
        "state",
        &format!(
            "[archive]\npath = {:?}\n\n{}",
            bundle.join("catalogs").display().to_string(),
            body(UNREACHABLE, Some(&bundle.join("content")))
        ),
    );
    std::fs::copy(
        lab.path().join("supctl.lock"),
        ws.path().join("supctl.lock"),
    )
    .unwrap();
    let r = run(&cfg, &["apply", "--locked", "--auto-approve"]);
    assert_eq!(r.code, 0, "{}", r.all());
    assert!(r.stderr.contains("from the archive"), "{}", r.all());
    assert!(!ws.state("state").join("archive").exists());
    assert_eq!(deployable(&cfg).len(), 3);
}
