//! Issue 12, D3: a holder that lost the state lock must not keep writing.
//!
//! Every writer that takes the lock bumps a fencing token stored in `store.db`, and each of
//! its write transactions checks the token it took: a hung holder whose lock was taken over
//! after its TTL, or a `watch` that was `force-unlock`ed, has its next write refused, and
//! `store show` names the holder that really holds the lock.

use crate::support::kit::kit;
use crate::support::watch as watch_common;
use supctl::store::Record;

use std::process::Command;
use std::time::Duration;

use supctl::store::Store;
use supctl::store::db::OpenOptions;
use supctl::store::{LockRequest, NextRun, StoreError, StoreLocation};
use watch_common::{Watch, Workspace, bin, count};

fn open(dir: &std::path::Path) -> Store {
    Store::embedded(&StoreLocation::new(dir), OpenOptions::write()).unwrap()
}

/// A harmless write: when the daemon next runs a scope.
fn write(b: &Store, scope: &str) -> Result<(), StoreError> {
    b.apply(Record::NextRun(NextRun {
        scope: supctl::store::Address::parse(scope).unwrap(),
        due: chrono::Utc::now(),
        schedule: "every 1 hour".into(),
    }))
    .map(|_| ())
}

fn store_show(dir: &std::path::Path) -> String {
    let out = Command::new(bin())
        .args(["store", "show", "--state-dir"])
        .arg(dir)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A hung holder (no heartbeat: the clock passes its TTL as if it were stopped) is taken
/// over; its next write is refused with an error naming the takeover, the new holder's
/// writes go through, and `store show` names the new holder.
#[test]
fn a_stale_holders_write_is_refused_after_a_takeover() {
    let d = tempfile::tempdir().unwrap();
    let hung = open(d.path());
    let mut req = LockRequest::new("hung apply").ttl(Duration::from_secs(1));
    req.heartbeat = false;
    let hung_lock = hung.lock(&req).unwrap();
    write(&hung, "sync").expect("the holder writes while it holds the lock");

    std::thread::sleep(Duration::from_millis(1300));
    let next = open(d.path());
    let next_lock = next
        .lock(&LockRequest::new("next apply").timeout(Duration::from_secs(5)))
        .expect("a stale lock is taken over");
    assert!(
        next_lock.warnings().iter().any(|w| w.contains("stale")),
        "{:?}",
        next_lock.warnings()
    );

    let err = write(&hung, "sync").expect_err("the stale holder's write is refused");
    assert!(matches!(err, StoreError::Fenced { .. }), "{err}");
    assert!(
        err.to_string().contains("took over the state lock"),
        "{err}"
    );
    write(&next, "sync").expect("the new holder writes");

    let shown = store_show(d.path());
    assert!(shown.contains("held by"), "{shown}");
    assert!(shown.contains("next apply"), "{shown}");
    assert!(!shown.contains("hung apply"), "{shown}");
    drop(hung_lock); // must not remove the new holder's owner file
    assert!(store_show(d.path()).contains("next apply"));
    drop(next_lock);
    assert!(store_show(d.path()).contains("lock             free"));
}

/// A holder killed with SIGKILL leaves its owner file behind: `store show` says the lock is
/// free (left behind), not held, and the next writer takes it over with a warning.
#[test]
fn a_holder_killed_by_sigkill_is_shown_as_abandoned_not_holding() {
    let d = tempfile::tempdir().unwrap();
    let mut child = kit([
        "hold-lock",
        "--hold",
        "60s",
        "--state-dir",
        d.path().to_str().unwrap(),
    ])
    .stdout(std::process::Stdio::piped())
    .spawn()
    .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while !store_show(d.path()).contains("held by") {
        assert!(std::time::Instant::now() < deadline, "hold-lock never held");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(store_show(d.path()).contains("store hold-lock"));
    child.kill().unwrap();
    child.wait().unwrap();
    let shown = store_show(d.path());
    assert!(
        shown.contains("lock             free (left behind by"),
        "{shown}"
    );
    // The next writer takes it over and says so.
    let out = Command::new(bin())
        .args(["store", "gc", "--dry-run", "--state-dir"])
        .arg(d.path())
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("took over the state lock left behind"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `force-unlock` of a running `watch`: the daemon stops with an error naming the takeover
/// instead of reconciling on.
#[test]
fn a_force_unlocked_watch_stops_instead_of_writing() {
    let ws = Workspace::quickstart();
    let mut w = Watch::start(&ws, &[], None);
    w.wait_for("the initial reconcile", Duration::from_secs(30), |ev| {
        count(ev, "synchronized", Some(("scope", "catalog.contoso"))) == 1
    });
    let state = ws.path().join(".supctl");
    let show = Command::new(bin())
        .args(["store", "show", "--json", "--state-dir"])
        .arg(&state)
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&show.stdout).unwrap();
    let id = v["lock"]["id"]
        .as_str()
        .expect("watch holds the lock")
        .to_string();
    let out = Command::new(bin())
        .args(["force-unlock", &id, "--state-dir"])
        .arg(&state)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Another writer takes the lock meanwhile and writes.
    let other = open(&state);
    let _lock = other.lock(&LockRequest::new("other")).unwrap();
    write(&other, "sync").unwrap();
    // An edit wakes the daemon: it must stop, not reconcile.
    ws.edit_config("name = \"Contoso", "name = \"Contoso (edited)");
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(s) = w.child.try_wait().unwrap() {
            break s;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "watch kept running after losing its lock:\n{}",
            w.dump()
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(!status.success(), "{}", w.dump());
    let log = w.dump();
    assert!(log.contains("watch stopped"), "{log}");
    assert_eq!(
        count(
            &w.events(),
            "reconciling",
            Some(("reason", "config file changed"))
        ),
        0,
        "{log}"
    );
}
