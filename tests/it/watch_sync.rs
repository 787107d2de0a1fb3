//! `supctl sync` while `supctl watch` holds the state lock is served by the daemon (request
//! and response files in the state directory), even in monitor-only mode, where the daemon
//! itself only reports drift. Without a daemon, `sync` runs itself.

use crate::support::watch as watch_common;

use std::time::Duration;

use watch_common::{Watch, Workspace, count};

#[test]
fn sync_is_handed_to_a_running_daemon() {
    let ws = Workspace::quickstart();
    let mut w = Watch::start(&ws, &["--mode", "monitor-only"], None);
    w.wait_for("drift to be reported", Duration::from_secs(20), |ev| {
        count(ev, "drift detected (monitor-only: not applied)", None) == 1
    });
    // Monitor-only applied nothing and recorded no run.
    let (_, status) = ws.status();
    assert_eq!(status["catalogs"][0]["updates"]["total"], 0, "{status:#}");
    assert!(status["catalogs"][0]["last_sync"].is_null());

    let out = ws.supctl(&["sync", "nosuch"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a subscribed catalog"));

    let out = ws.supctl(&["sync", "contoso"]);
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}\n{stderr}\n{}",
        w.dump()
    );
    assert!(stderr.contains("handing the sync request"), "{stderr}");
    assert!(
        stdout.contains("catalog.contoso: succeeded (published 4, revised 0, expired 0, staged 3"),
        "{stdout}"
    );
    let ev = w.events();
    assert_eq!(count(&ev, "sync requested", None), 1);
    assert_eq!(
        count(&ev, "synchronized", Some(("reason", "sync request"))),
        1
    );
    // The request and response files are gone.
    let left: Vec<_> = std::fs::read_dir(ws.path().join(".supctl/requests"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert!(left.is_empty(), "{left:?}");

    let (code, status) = ws.status();
    assert_eq!(code, 0);
    let c = &status["catalogs"][0];
    assert_eq!(c["updates"]["total"], 4, "{c:#}");
    assert_eq!(c["last_sync"]["result"], "succeeded");
    assert_eq!(c["last_sync"]["published"], 4);
    assert!(c["next_sync"].is_string(), "{c:#}");
    assert_eq!(w.stop(Duration::from_secs(10)), 0);

    // No daemon: sync runs itself (nothing left to change).
    let out = ws.supctl(&["sync"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(!String::from_utf8_lossy(&out.stderr).contains("handing"));
    assert!(
        stdout.contains("catalog.contoso: succeeded (published 0"),
        "{stdout}"
    );
}
