//! The state lock across real processes: a second writer waits then fails naming the holder,
//! a dead holder's lock is taken over, a hung holder's lock goes stale after its TTL, a live
//! heartbeat keeps it, and `force-unlock` releases it by ID.

use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use assert_cmd::Command;
use predicates::prelude::*;
use supctl::store::lock::{FileLock, force_unlock, read_owner};
use supctl::store::{HeldLock as _, LockId, LockRequest, StoreError, StoreLocation};

use crate::support::kit::{first_line, kit};

fn supctl() -> Command {
    Command::cargo_bin("supctl").unwrap()
}

/// A holder process; killed when dropped so a failing test leaves nothing behind.
struct Holder {
    child: Child,
    id: String,
}

impl Drop for Holder {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn hold(dir: &Path, extra: &[&str]) -> Holder {
    let mut args = vec![
        "hold-lock",
        "--hold",
        "60s",
        "--state-dir",
        dir.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let mut child = kit(args).stdout(Stdio::piped()).spawn().unwrap();
    let line = first_line(child.stdout.take().unwrap());
    let id = line.trim().to_string();
    assert!(LockId::parse(&id).is_ok(), "holder printed {line:?}");
    Holder { child, id }
}

fn gc(dir: &Path, timeout: &str) -> assert_cmd::assert::Assert {
    supctl()
        .args([
            "store",
            "gc",
            "--dry-run",
            "--lock-timeout",
            timeout,
            "--state-dir",
        ])
        .arg(dir)
        .assert()
}

#[test]
fn a_second_writer_waits_then_fails_naming_the_holder() {
    let d = tempfile::tempdir().unwrap();
    let h = hold(d.path(), &[]);
    let started = Instant::now();
    gc(d.path(), "1s").code(1).stderr(
        predicate::str::contains(format!("locked by lock {}", h.id))
            .and(predicate::str::contains(format!("pid {}", h.child.id())))
            .and(predicate::str::contains("store hold-lock")),
    );
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "it waited for the lock timeout"
    );

    // Read-only commands never take the lock.
    supctl()
        .args(["updates", "list", "--state-dir"])
        .arg(d.path())
        .assert()
        .success();
    supctl()
        .args(["store", "show", "--json", "--state-dir"])
        .arg(d.path())
        .assert()
        .success()
        .stdout(predicate::str::contains(&h.id));

    // Once the holder dies, the next writer takes the lock it left behind, with a warning.
    drop(h);
    gc(d.path(), "0s")
        .success()
        .stderr(predicate::str::contains(
            "warning: took over the state lock left behind",
        ));
    // A clean release leaves nothing to warn about.
    gc(d.path(), "0s")
        .success()
        .stderr(predicate::str::is_empty());
}

#[test]
fn a_writer_waiting_long_enough_gets_the_lock() {
    let d = tempfile::tempdir().unwrap();
    let mut child = kit([
        "hold-lock",
        "--hold",
        "1s",
        "--state-dir",
        d.path().to_str().unwrap(),
    ])
    .stdout(Stdio::piped())
    .spawn()
    .unwrap();
    first_line(child.stdout.take().unwrap());
    gc(d.path(), "20s").success();
    child.wait().unwrap();
}

#[test]
fn a_hung_holder_goes_stale_after_its_ttl_but_a_heartbeat_keeps_the_lock() {
    let d = tempfile::tempdir().unwrap();
    let live = hold(d.path(), &["--ttl", "1s"]);
    std::thread::sleep(Duration::from_millis(2500));
    gc(d.path(), "0s")
        .code(1)
        .stderr(predicate::str::contains(&live.id));
    drop(live);

    let e = tempfile::tempdir().unwrap();
    let hung = hold(e.path(), &["--ttl", "1s", "--no-heartbeat"]);
    std::thread::sleep(Duration::from_millis(1500));
    gc(e.path(), "0s").success().stderr(
        predicate::str::contains("took over a stale state lock")
            .and(predicate::str::contains(&hung.id)),
    );
}

#[test]
fn force_unlock_needs_the_right_id() {
    let d = tempfile::tempdir().unwrap();
    let h = hold(d.path(), &[]);
    supctl()
        .args(["force-unlock", "0123456789abcdef", "--state-dir"])
        .arg(d.path())
        .assert()
        .code(1)
        .stderr(predicate::str::contains("does not match").and(predicate::str::contains(&h.id)));
    gc(d.path(), "0s").code(1);
    supctl()
        .args(["force-unlock", &h.id, "--state-dir"])
        .arg(d.path())
        .assert()
        .success()
        .stdout(predicate::str::contains(format!("released lock {}", h.id)));
    // The holder is still running, yet the lock is free.
    gc(d.path(), "0s").success();
    supctl()
        .args(["force-unlock", &h.id, "--state-dir"])
        .arg(d.path())
        .assert()
        .code(1)
        .stderr(predicate::str::contains("is not locked"));
}

#[test]
fn a_holder_notices_it_was_force_unlocked() {
    let d = tempfile::tempdir().unwrap();
    let loc = StoreLocation::new(d.path());
    let lock = FileLock::acquire(&loc, &LockRequest::new("in-process")).unwrap();
    lock.check().unwrap();
    let owner = read_owner(&loc).unwrap().unwrap();
    assert_eq!(&owner, lock.owner());
    assert_eq!(owner.pid, std::process::id());
    assert_eq!(owner.command, "in-process");
    // A second handle in the same process is refused too (the OS lock is per open file).
    let err = FileLock::acquire(&loc, &LockRequest::new("second")).unwrap_err();
    assert!(matches!(err, StoreError::Locked { .. }), "{err}");
    force_unlock(&loc, &owner.id).unwrap();
    assert!(matches!(lock.check().unwrap_err(), StoreError::LockLost(_)));
    let next = FileLock::acquire(&loc, &LockRequest::new("next")).unwrap();
    drop(lock); // the old holder must not remove the new holder's owner file
    assert_eq!(read_owner(&loc).unwrap().unwrap().id, next.owner().id);
    drop(next);
    assert_eq!(read_owner(&loc).unwrap(), None);
}
