//! `watch --locked` (issue 17, production after promotion): every pass holds to
//! `supctl.lock`. A catalog whose source serves another CAB fails with `lock-mismatch` and
//! nothing of it applies; with the locked CAB in the archive it applies from there; a new
//! lock (a promotion, or `lock update`) is reconciled at once.

use std::time::Duration;

use crate::support::watch::{Watch, Workspace};

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest as _;
    hex::encode(sha2::Sha256::digest(bytes))
}

/// The catalog's status, or null before the daemon's first pass made the store.
fn contoso(ws: &Workspace) -> serde_json::Value {
    let out = ws.supctl(&["status", "--json"]);
    serde_json::from_slice::<serde_json::Value>(&out.stdout)
        .map(|v| v["catalogs"][0].clone())
        .unwrap_or_default()
}

#[test]
fn a_locked_daemon_applies_only_the_locked_catalog() {
    let ws = Workspace::quickstart();
    // Metadata only: the newer catalog's content is not in the quickstart's folder.
    ws.edit_config("stage = [\"Contoso/Utilities\"]\n", "");
    let out = ws.supctl(&["lock", "update"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let cab = ws.path().join("catalog/contoso-v3.cab");
    let tested = std::fs::read(&cab).unwrap();
    let pinned = sha256_hex(&tested);
    // The vendor moves on before production applies.
    std::fs::copy(
        crate::support::cli::repo("tests/fixtures/e2e/unsigned-content/contoso-v3.cab"),
        &cab,
    )
    .unwrap();
    let newer = sha256_hex(&std::fs::read(&cab).unwrap());

    let mut w = Watch::start(&ws, &["--locked"], Some(1800));
    w.wait_until("the lock mismatch", Duration::from_secs(60), || {
        contoso(&ws)["last_sync"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("lock-mismatch"))
    });
    let c = contoso(&ws);
    assert_eq!(c["last_sync"]["result"], "failed", "{c:#}");
    assert!(
        c["last_sync"]["message"]
            .as_str()
            .unwrap()
            .contains(&format!("expected CAB sha256 {pinned}")),
        "{c:#}"
    );
    assert_eq!(c["updates"]["total"], 0, "nothing of it applied: {c:#}");

    // The archive has the locked CAB: the next pass (the config changed) applies it.
    let archive = ws.path().join("archive");
    std::fs::create_dir_all(&archive).unwrap();
    std::fs::write(archive.join(format!("{pinned}.cab")), &tested).unwrap();
    let text = ws.read_config();
    ws.save_config(&format!("{text}\n[archive]\npath = \"archive\"\n"));
    w.wait_until(
        "the archived catalog applied",
        Duration::from_secs(60),
        || contoso(&ws)["updates"]["total"] == 4,
    );
    let c = contoso(&ws);
    assert_eq!(
        c["revision"]["cab_sha256"]
            .as_str()
            .unwrap()
            .to_ascii_lowercase(),
        pinned,
        "{c:#}"
    );

    // A new lock is reconciled at once: the newer catalog becomes the one in force.
    let out = ws.supctl(&["lock", "update"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    w.wait_until("the new lock applied", Duration::from_secs(60), || {
        contoso(&ws)["revision"]["cab_sha256"]
            .as_str()
            .is_some_and(|s| s.eq_ignore_ascii_case(&newer))
    });
    assert_eq!(w.stop(Duration::from_secs(30)), 0);
}
