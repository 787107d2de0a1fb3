//! `supctl.lock` through the real binary: a first plan pins the catalog (the CAB's SHA-256 as
//! `sha256sum` prints it); the vendor's next catalog is refused by `plan --locked` and
//! `apply --locked` by name, with the expected and found digests, and nothing changes; a
//! plan without `--locked` shows the lock change and refreshes it; `lock update` refreshes
//! without planning and says when there is nothing to do.

use std::path::{Path, PathBuf};

use crate::support::cli::*;

/// The quickstart catalog read from a copy in the workspace, so a test can swap the CAB the
/// way a vendor replaces the file behind its URL.
fn workspace() -> (Workspace, PathBuf, PathBuf) {
    let ws = Workspace::new();
    let cab = ws.path().join("vendor.cab");
    std::fs::copy(quickstart_cab(), &cab).unwrap();
    let cfg = ws.config(
        "supctl",
        "state",
        &format!(
            "{}\n{}",
            catalog("contoso", &cab, "categories = \"all\""),
            approve_content()
        ),
    );
    (ws, cfg, cab)
}

/// The next catalog the vendor publishes: another signed CAB, same signer.
fn vendor_moves_on(cab: &Path) {
    std::fs::copy(
        repo("tests/fixtures/e2e/unsigned-content/contoso-v3.cab"),
        cab,
    )
    .unwrap();
}

fn sha256_hex(path: &Path) -> String {
    use sha2::Digest as _;
    hex::encode(sha2::Sha256::digest(std::fs::read(path).unwrap()))
}

fn lock_text(ws: &Workspace) -> String {
    std::fs::read_to_string(ws.path().join("supctl.lock")).unwrap()
}

#[test]
fn a_first_plan_pins_the_catalog_and_locked_refuses_the_next_one_by_name() {
    let (ws, cfg, cab) = workspace();
    let first = sha256_hex(&cab);
    let r = run(&cfg, &["plan"]);
    assert_eq!(r.code, 0, "{}", r.all());
    assert!(
        r.stderr.contains("catalog.contoso pinned to"),
        "{}",
        r.all()
    );
    let lock = lock_text(&ws);
    assert!(lock.contains(&format!("sha256 = \"{first}\"")), "{lock}");
    assert!(
        lock.contains("[catalog.contoso]") && lock.contains("updates = 4"),
        "{lock}"
    );

    // Same catalog: --locked plans as usual and the lock is not rewritten.
    let r = run(&cfg, &["plan", "--locked", "--detailed-exitcode"]);
    assert_eq!(r.code, 2, "changes, no error: {}", r.all());
    assert_eq!(lock_text(&ws), lock);

    vendor_moves_on(&cab);
    let second = sha256_hex(&cab);
    for args in [
        &["plan", "--locked"][..],
        &["apply", "--locked", "--auto-approve"][..],
    ] {
        let r = run(&cfg, args);
        assert_eq!(r.code, 1, "{args:?}: {}", r.all());
        let out = r.all();
        assert!(
            out.contains("[lock-mismatch] catalog.contoso")
                && out.contains(&format!("expected CAB sha256 {first}"))
                && out.contains(&format!("found {second}")),
            "{args:?}: {out}"
        );
        assert_eq!(lock_text(&ws), lock, "{args:?} leaves the lock alone");
    }
    // The refused apply changed nothing on the server.
    let r = run(&cfg, &["updates", "list", "--json"]);
    assert_eq!(r.json(), serde_json::json!([]), "{}", r.all());

    // Without --locked the plan says how the lock moves, and moves it.
    let r = run(&cfg, &["plan"]);
    assert_eq!(r.code, 0, "{}", r.all());
    let short = |h: &str| h[..12].to_string();
    assert!(
        r.stderr.contains(&format!(
            "catalog.contoso {} → {}",
            short(&first),
            short(&second)
        )),
        "{}",
        r.all()
    );
    assert!(lock_text(&ws).contains(&second));
    let r = run(&cfg, &["apply", "--locked", "--auto-approve"]);
    assert_eq!(r.code, 0, "{}", r.all());
}

#[test]
fn lock_update_refreshes_without_planning_and_says_when_up_to_date() {
    let (ws, cfg, cab) = workspace();
    let r = run(&cfg, &["plan", "--locked"]);
    assert_eq!(r.code, 1, "{}", r.all());
    assert!(
        r.all().contains("locked, but there is no") && r.all().contains("supctl lock update"),
        "{}",
        r.all()
    );
    let r = run(&cfg, &["lock", "update"]);
    assert_eq!(r.code, 0, "{}", r.all());
    assert!(
        r.stdout.contains("catalog.contoso pinned to"),
        "{}",
        r.all()
    );
    let r = run(&cfg, &["lock", "update", "contoso"]);
    assert_eq!(r.code, 0, "{}", r.all());
    assert!(r.stdout.contains("is up to date"), "{}", r.all());
    vendor_moves_on(&cab);
    let r = run(&cfg, &["lock", "update"]);
    assert_eq!(r.code, 0, "{}", r.all());
    assert!(lock_text(&ws).contains(&sha256_hex(&cab)));
    assert!(
        !ws.state("state").join("store.db").exists() || {
            let r = run(&cfg, &["updates", "list", "--json"]);
            r.json() == serde_json::json!([])
        }
    );
    let r = run(&cfg, &["lock", "update", "nope"]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("no catalog `nope`"), "{}", r.all());
}

#[test]
fn the_quickstart_lock_pins_the_quickstart_catalog() {
    let lock = std::fs::read_to_string(repo("examples/quickstart/supctl.lock")).unwrap();
    assert!(
        lock.contains(&format!("sha256 = \"{}\"", sha256_hex(&quickstart_cab()))),
        "examples/quickstart/supctl.lock is stale: run `supctl lock update -c examples/quickstart`\n{lock}"
    );
    assert!(
        lock.contains("source = \"catalog/contoso-v3.cab\""),
        "{lock}"
    );
}
