//! `apply` handles SIGINT/SIGTERM as `watch` does (issue 13): the running action finishes
//! and is journaled, the rest are not attempted, the lock is released, and the command exits
//! 130 naming `supctl apply --resume`. A signal while planning stops at once with nothing
//! changed. `plan` then warns about the interrupted apply; after a finished apply, `watch`
//! finds nothing to resume (issue 12: it used to log an ERROR at every start).

use crate::support;
use crate::support::watch as watch_common;

use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use supctl::store::StoreLocation;
use supctl::store::lock::read_owner;
use support::Fault;
use support::e2e::*;

const CONTENT: &[&str] = &[
    "contoso-tool-1.0.exe",
    "contoso-tool-1.1.exe",
    "contoso-agent-2.3_x64.exe",
    "contoso-agent-2.3_x86.exe",
];

/// A site whose catalog (and content) stage Contoso/Utilities; returns the config.
fn staging_site(site: &Site) -> std::path::PathBuf {
    let url = site.serve_catalog("/contoso-v3.cab", &quickstart_cab());
    site.serve_content(&quickstart_content());
    let body = format!(
        "{}\n{}",
        catalog("contoso", &url, "stage = [\"Contoso/Utilities\"]"),
        approve_content()
    );
    site.write("supctl", &site.config("", &body))
}

/// `supctl apply --auto-approve -c CFG`, output to files in the site's directory.
fn spawn_apply(site: &Site, cfg: &Path) -> Child {
    let out = std::fs::File::create(site.dir.path().join("apply.out")).unwrap();
    let err = std::fs::File::create(site.dir.path().join("apply.err")).unwrap();
    supctl_std(&["apply", "--auto-approve", "-c", cfg.to_str().unwrap()])
        .stdin(Stdio::null())
        .stdout(Stdio::from(out))
        .stderr(Stdio::from(err))
        .spawn()
        .expect("spawn supctl apply")
}

fn output(site: &Site) -> String {
    let read = |n: &str| std::fs::read_to_string(site.dir.path().join(n)).unwrap_or_default();
    format!(
        "--- stdout\n{}--- stderr\n{}",
        read("apply.out"),
        read("apply.err")
    )
}

fn signal(child: &Child, sig: &str) {
    let ok = std::process::Command::new("kill")
        .args([format!("-{sig}"), child.id().to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok, "kill -{sig}");
}

/// Waits (bounded) until `pred` holds for the server's requests.
fn wait_requests(site: &Site, child: &mut Child, pred: impl Fn(&[support::RequestRecord]) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !pred(&site.server.requests()) {
        assert!(
            child.try_wait().unwrap().is_none(),
            "apply ended early:\n{}",
            output(site)
        );
        assert!(Instant::now() < deadline, "timed out:\n{}", output(site));
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn wait_exit(child: &mut Child, within: Duration) -> i32 {
    let deadline = Instant::now() + within;
    loop {
        if let Some(s) = child.try_wait().unwrap() {
            return s.code().unwrap_or(-1);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("apply did not stop within {within:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn sigint_mid_apply_finishes_the_action_releases_the_lock_and_exits_130() {
    let site = Site::new();
    let cfg = staging_site(&site);
    for f in CONTENT {
        site.server.set_fault(
            &format!("/{f}"),
            Fault::Delay(Duration::from_millis(1500)),
            1,
        );
    }
    let mut child = spawn_apply(&site, &cfg);
    wait_requests(&site, &mut child, |r| {
        r.iter().any(|r| r.path != "/contoso-v3.cab")
    });
    signal(&child, "INT");
    let stopping = Instant::now();
    let code = wait_exit(&mut child, Duration::from_secs(15));
    let out = output(&site);
    assert_eq!(code, 130, "{out}");
    assert!(stopping.elapsed() < Duration::from_secs(6), "{out}");
    assert!(out.contains("Apply interrupted"), "{out}");
    assert!(out.contains("supctl apply --resume"), "{out}");
    let loc = StoreLocation::new(site.state_dir());
    assert_eq!(read_owner(&loc).unwrap(), None, "the lock was released");
    // The downloads in flight finished and were journaled; the others never started.
    let started = site
        .server
        .requests()
        .iter()
        .filter(|r| r.path != "/contoso-v3.cab")
        .count();
    assert!(started < CONTENT.len(), "{:?}", site.server.requests());

    // plan names the interrupted apply.
    let r = run(&cfg, &["plan"]);
    assert_eq!(r.code, 0, "{}", r.all());
    assert!(
        r.stdout.contains("Warning [apply-interrupted]")
            && r.stdout.contains("supctl apply --resume"),
        "{}",
        r.stdout
    );
    // The resume finishes the plan without fetching a finished file again.
    let r = run(&cfg, &["apply", "--resume", "--lock-timeout", "0"]);
    assert_eq!(r.code, 0, "{}", r.all());
    assert!(r.stdout.contains("Apply complete"), "{}", r.all());
    for f in CONTENT {
        assert_eq!(site.downloads_of(f), 1, "{f}");
    }
    let r = run(&cfg, &["plan", "--detailed-exitcode"]);
    assert_eq!(r.code, 0, "{}", r.all());
    assert!(!r.stdout.contains("apply-interrupted"), "{}", r.stdout);
}

#[test]
fn sigterm_while_planning_changes_nothing_and_exits_130() {
    let site = Site::new();
    let cfg = staging_site(&site);
    site.server
        .set_fault("/contoso-v3.cab", Fault::Delay(Duration::from_secs(20)), 1);
    let mut child = spawn_apply(&site, &cfg);
    wait_requests(&site, &mut child, |r| !r.is_empty());
    signal(&child, "TERM");
    let code = wait_exit(&mut child, Duration::from_secs(5));
    let out = output(&site);
    assert_eq!(code, 130, "{out}");
    assert!(out.contains("nothing was changed"), "{out}");
    assert!(!out.contains("--resume"), "nothing to resume: {out}");
    let loc = StoreLocation::new(site.state_dir());
    assert_eq!(read_owner(&loc).unwrap(), None, "the lock was released");
    assert!(site.snapshot().catalogs.is_empty());
}

/// After a finished CLI apply (one certificate approved in two roles), `watch` starts
/// without trying to resume anything.
#[test]
fn watch_finds_nothing_to_resume_after_a_finished_apply() {
    let ws = watch_common::Workspace::quickstart();
    let out = ws.supctl(&["apply", "--auto-approve"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut w = watch_common::Watch::start(&ws, &[], None);
    let ev = w.wait_for("start-up", Duration::from_secs(30), |ev| {
        watch_common::count(ev, "scheduled", None) >= 1
    });
    assert_eq!(w.stop(Duration::from_secs(10)), 0);
    let errors: Vec<_> = ev.iter().filter(|e| e["level"] == "ERROR").collect();
    assert!(errors.is_empty(), "{errors:#?}");
    assert_eq!(
        watch_common::count(&ev, "resuming the interrupted apply", None),
        0,
        "{}",
        w.dump()
    );
}

/// `sync` applies too, and stops the same way.
#[test]
fn sigterm_mid_sync_finishes_the_action_and_exits_130() {
    let site = Site::new();
    let cfg = staging_site(&site);
    for f in CONTENT {
        site.server.set_fault(
            &format!("/{f}"),
            Fault::Delay(Duration::from_millis(1500)),
            1,
        );
    }
    let out = std::fs::File::create(site.dir.path().join("apply.out")).unwrap();
    let err = std::fs::File::create(site.dir.path().join("apply.err")).unwrap();
    let mut child = supctl_std(&["sync", "-c", cfg.to_str().unwrap()])
        .stdin(Stdio::null())
        .stdout(Stdio::from(out))
        .stderr(Stdio::from(err))
        .spawn()
        .unwrap();
    wait_requests(&site, &mut child, |r| {
        r.iter().any(|r| r.path != "/contoso-v3.cab")
    });
    signal(&child, "TERM");
    let code = wait_exit(&mut child, Duration::from_secs(15));
    let out = output(&site);
    assert_eq!(code, 130, "{out}");
    assert!(out.contains("supctl apply --resume"), "{out}");
    assert_eq!(
        read_owner(&StoreLocation::new(site.state_dir())).unwrap(),
        None
    );
    let r = run(&cfg, &["apply", "--resume"]);
    assert_eq!(r.code, 0, "{}", r.all());
}
