//! The promotion flow of `examples/promotion/` end to end (issue 17): the lab pins and
//! archives the vendor's catalog and applies it; the vendor publishes another; production,
//! with the lab's lock, applies `--locked` the catalog the lab tested, read from the archive;
//! without the archived copy the locked apply is refused by name.

use std::path::{Path, PathBuf};

use crate::support::cli::{repo, run};

/// A copy of the example (links made again, pointing where they did), without what running
/// it in place leaves (state directories, the archive).
fn copy_example(to: &Path) {
    fn copy(from: &Path, to: &Path) {
        std::fs::create_dir_all(to).unwrap();
        for e in std::fs::read_dir(from).unwrap().flatten() {
            let name = e.file_name().to_string_lossy().to_string();
            if name.starts_with(".supctl") || name == "archive" {
                continue;
            }
            let (src, dst) = (e.path(), to.join(e.file_name()));
            let meta = std::fs::symlink_metadata(&src).unwrap();
            if meta.file_type().is_symlink() {
                #[cfg(unix)]
                std::os::unix::fs::symlink(std::fs::read_link(&src).unwrap(), &dst).unwrap();
                #[cfg(not(unix))]
                std::fs::copy(&src, &dst).unwrap();
            } else if meta.is_dir() {
                copy(&src, &dst);
            } else {
                std::fs::copy(&src, &dst).unwrap();
            }
        }
    }
    copy(&repo("examples/promotion"), to);
}

fn sha256_hex(path: &Path) -> String {
    use sha2::Digest as _;
    hex::encode(sha2::Sha256::digest(std::fs::read(path).unwrap()))
}

#[test]
fn production_applies_the_catalog_the_lab_tested_after_the_vendor_moved_on() {
    let dir = tempfile::tempdir().unwrap();
    copy_example(dir.path());
    let (lab, prod) = (dir.path().join("lab"), dir.path().join("prod"));
    let vendor_cab: PathBuf = dir.path().join("vendor/contoso-v3.cab");
    // Start from no lock, as a new repository would.
    let _ = std::fs::remove_file(lab.join("supctl.lock"));
    let _ = std::fs::remove_file(prod.join("supctl.lock"));
    let tested = sha256_hex(&vendor_cab);

    // 1. The lab pins (and archives) today's catalog and applies it.
    let r = run(&lab, &["lock", "update"]);
    assert_eq!(r.code, 0, "{}", r.all());
    assert!(
        r.all().contains(&format!("archived {tested}.cab")),
        "{}",
        r.all()
    );
    let archived = dir.path().join("archive").join(format!("{tested}.cab"));
    assert_eq!(sha256_hex(&archived), tested);
    let r = run(&lab, &["apply", "--auto-approve"]);
    assert_eq!(r.code, 0, "{}", r.all());

    // 2. The vendor publishes another catalog at the same place.
    std::fs::copy(
        repo("tests/fixtures/e2e/unsigned-content/contoso-v3.cab"),
        &vendor_cab,
    )
    .unwrap();
    assert_ne!(sha256_hex(&vendor_cab), tested);

    // 3. The lab's lock is promoted; production applies exactly the tested catalog.
    std::fs::copy(lab.join("supctl.lock"), prod.join("supctl.lock")).unwrap();
    let r = run(&prod, &["apply", "--locked", "--auto-approve"]);
    assert_eq!(r.code, 0, "{}", r.all());
    assert!(
        r.stderr.contains("reading the locked CAB") && r.stderr.contains("from the archive"),
        "{}",
        r.all()
    );
    let v = run(&prod, &["status", "--json"]).json();
    let revision = v["catalogs"][0]["revision"]["cab_sha256"]
        .as_str()
        .unwrap_or_else(|| panic!("{v:#}"))
        .to_ascii_lowercase();
    assert_eq!(
        revision, tested,
        "production runs the catalog the lab tested"
    );
    assert_eq!(
        std::fs::read(prod.join("supctl.lock")).unwrap(),
        std::fs::read(lab.join("supctl.lock")).unwrap(),
        "a locked apply leaves the promoted lock as it is"
    );

    // Without the archived copy, the locked plan names the catalog and both digests.
    std::fs::remove_file(&archived).unwrap();
    let r = run(&prod, &["plan", "--locked"]);
    assert_eq!(r.code, 1, "{}", r.all());
    assert!(
        r.all().contains("[lock-mismatch] catalog.contoso")
            && r.all().contains(&format!("expected CAB sha256 {tested}")),
        "{}",
        r.all()
    );
}

/// `catalog archive` keeps the locked CABs (from the fetch cache) and says what it did; an
/// archive `url` is read-only.
#[test]
fn catalog_archive_keeps_the_locked_cabs() {
    let dir = tempfile::tempdir().unwrap();
    copy_example(dir.path());
    let lab = dir.path().join("lab");
    let _ = std::fs::remove_file(lab.join("supctl.lock"));
    let r = run(&lab, &["catalog", "archive"]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("run `supctl lock update` first"),
        "{}",
        r.all()
    );
    let r = run(&lab, &["lock", "update"]);
    assert_eq!(r.code, 0, "{}", r.all());
    let r = run(&lab, &["catalog", "archive"]);
    assert_eq!(r.code, 0, "{}", r.all());
    assert!(r.stdout.contains("already archived"), "{}", r.all());
    std::fs::remove_dir_all(dir.path().join("archive")).unwrap();
    let r = run(&lab, &["catalog", "archive", "contoso"]);
    assert_eq!(r.code, 0, "{}", r.all());
    assert!(
        r.stdout.contains("catalog.contoso: archived"),
        "{}",
        r.all()
    );

    let server = lab.join("00-server.toml");
    let text = std::fs::read_to_string(&server).unwrap().replace(
        "path = \"../archive\"",
        "url = \"https://files.corp.example/supctl\"",
    );
    std::fs::write(&server, text).unwrap();
    let r = run(&lab, &["catalog", "archive"]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("read-only"), "{}", r.all());
}
