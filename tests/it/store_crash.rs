//! Crash safety: `supctl-test-kit bench-write` (10,000 updates in transactions of 100, content
//! staged for every twentieth) is SIGKILLed at random points, repeatedly, on the same store.
//! After every kill the store must open, pass `integrity_check`, hold whole transactions
//! only, and show no partial or temp file outside `WsusContent/.tmp/`.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime};
use supctl::store::Change;

use crate::support::kit::kit;

use supctl::store::UpdateServer as _;
use supctl::store::db::{Check, OpenOptions};
use supctl::store::embedded::EmbeddedServer;
use supctl::store::{StoreLocation, UpdateState};
use supctl_test_kit::bench::update_id;

const UPDATES: usize = 10_000;
const BATCH: usize = 100;
const STAGE_EVERY: usize = 20;

fn bench_write(dir: &Path) -> Command {
    let mut c = kit([
        "bench-write",
        "--lock-timeout",
        "5s",
        "--state-dir",
        dir.to_str().unwrap(),
        "--updates",
        &UPDATES.to_string(),
        "--batch",
        &BATCH.to_string(),
        "--stage-every",
        &STAGE_EVERY.to_string(),
    ]);
    c.stdout(Stdio::null()).stderr(Stdio::null());
    c
}

/// A small xorshift seeded from the clock: different kill points each run, printed so a
/// failure can be reproduced by hand.
fn jitter(seed: &mut u64) -> u64 {
    *seed ^= *seed << 13;
    *seed ^= *seed >> 7;
    *seed ^= *seed << 17;
    *seed
}

/// Everything that must hold after any crash. Returns how many updates are stored.
fn check(dir: &Path) -> usize {
    let loc = StoreLocation::new(dir);
    let b = EmbeddedServer::open(
        &loc,
        OpenOptions {
            create: false,
            check: Check::Full,
        },
    )
    .expect("the store opens and passes integrity_check");
    let snap = b.snapshot().unwrap();
    let n = snap.updates.len();
    // Each PublishUpdates is one transaction and batches run in order: whole batches only.
    assert_eq!(
        n % BATCH,
        0,
        "a partial transaction is visible: {n} updates"
    );
    let expected: BTreeSet<_> = (0..n).map(update_id).collect();
    assert!(
        snap.updates.keys().cloned().collect::<BTreeSet<_>>() == expected,
        "updates 0..{n} exactly"
    );
    let stats = b.stats().unwrap();
    assert_eq!(
        stats.counts.revisions as usize, n,
        "one revision per update"
    );
    assert_eq!(stats.counts.files as usize, n, "one file per update");
    for (i, u) in snap.updates.values().enumerate().step_by(997) {
        assert_eq!(u.revision, 1);
        assert!(
            b.raw_xml(&u.id, None).unwrap().is_some(),
            "raw XML of update {i}"
        );
    }
    // Staged content is complete and where WSUS expects it; nothing else is visible.
    for u in snap
        .updates
        .values()
        .filter(|u| u.state() == UpdateState::Deployable)
    {
        let f = &u.files[0];
        let path = b.content().path(&f.sha1, "exe");
        assert!(path.is_file(), "{} staged but missing", path.display());
    }
    let report = b.gc(true).unwrap();
    assert!(
        report.corrupt.is_empty(),
        "corrupt content: {:?}",
        report.corrupt
    );
    assert!(
        report.missing.is_empty(),
        "missing content: {:?}",
        report.missing
    );
    assert!(
        report.unexpected.is_empty(),
        "stray files: {:?}",
        report.unexpected
    );
    assert!(
        report.orphans.len() <= 1,
        "at most the file of the interrupted stage: {:?}",
        report.orphans
    );
    n
}

#[test]
fn sigkill_at_random_points_leaves_a_consistent_store() {
    let d = tempfile::tempdir().unwrap();
    let mut seed = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
        | 1;
    eprintln!("crash test seed {seed}");
    let mut progress = Vec::new();
    for round in 0..6u64 {
        let mut child = bench_write(d.path()).spawn().unwrap();
        let delay = 150 + round * 150 + jitter(&mut seed) % 300;
        std::thread::sleep(Duration::from_millis(delay));
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        if !d.path().join("store.db").exists() {
            continue; // killed before the database was created
        }
        progress.push(check(d.path()));
    }
    eprintln!("updates stored after each kill: {progress:?}");
    assert!(
        progress.iter().any(|&n| n > 0),
        "some kill landed after writing began: {progress:?}"
    );

    // The interrupted work completes on a rerun, and gc cleans what the crashes left.
    let status = bench_write(d.path()).status().unwrap();
    assert!(status.success());
    assert_eq!(check(d.path()), UPDATES);
    let b = EmbeddedServer::open(&StoreLocation::new(d.path()), OpenOptions::write()).unwrap();
    let snap = b.snapshot().unwrap();
    let deployable = snap
        .updates
        .values()
        .filter(|u| u.state() == UpdateState::Deployable)
        .count();
    assert_eq!(deployable, UPDATES / STAGE_EVERY);
    let report = b.gc(false).unwrap();
    assert!(report.removed);
    let after = b.gc(true).unwrap();
    assert!(
        after.orphans.is_empty() && after.temp.is_empty(),
        "{after:?}"
    );
    assert_eq!(after.checked as usize, UPDATES / STAGE_EVERY);
}

#[test]
fn a_failed_content_write_leaves_nothing_under_the_final_name() {
    use supctl::ids::{Sha1, Sha256};
    use supctl::store::{StageRequest, StoreError};

    let d = tempfile::tempdir().unwrap();
    let b = EmbeddedServer::open(&StoreLocation::new(d.path()), OpenOptions::write()).unwrap();
    b.apply(Change::UpsertCatalog(supctl_test_kit::bench::catalog()))
        .unwrap();
    b.apply(Change::PublishUpdates {
        catalog: supctl_test_kit::bench::catalog_key(),
        packed: Default::default(),
        updates: vec![supctl_test_kit::bench::update(0)],
    })
    .unwrap();
    let data = supctl_test_kit::bench::content(0);
    let sha1 = Sha1::of(&data);
    // Make the write fail like a full disk would: the bucket directory cannot be created.
    let final_path = b.content().path(&sha1, "exe");
    std::fs::write(final_path.parent().unwrap(), b"in the way").unwrap();
    let temp = b.staging_dir().unwrap().join("download.part");
    std::fs::write(&temp, &data).unwrap();
    let err = b
        .apply(Change::StageContent(StageRequest {
            update: update_id(0),
            sha1,
            sha256: Sha256::of(&data),
            temp_path: temp.clone(),
            ext: "exe".into(),
        }))
        .unwrap_err();
    assert!(matches!(err, StoreError::Io { .. }), "{err}");
    assert!(!final_path.exists(), "nothing appears under the final name");
    assert!(temp.exists(), "the download stays in the temp area");
    assert_eq!(
        b.snapshot().unwrap().updates[&update_id(0)].state(),
        UpdateState::MetadataOnly
    );
    let report = b.gc(false).unwrap();
    assert_eq!(report.temp, vec![temp.clone()]);
    assert!(!temp.exists(), "gc cleans the temp area");
}
