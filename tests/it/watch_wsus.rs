//! `supctl watch` against a WSUS (the ApiRemoting30 test double): the daemon reconciles the
//! quickstart onto the server (metadata only; staging is not supported there), and a
//! `supctl sync` handed to it also starts the server's own synchronization.

use crate::support::watch as watch_common;
use crate::support::wsus as wsus_support;

use std::time::{Duration, Instant};

use watch_common::{Watch, Workspace};
use wsus_support::{State, WsusServer};

#[test]
fn the_daemon_reconciles_a_wsus_and_serves_sync_requests() {
    let server = WsusServer::start(State::default(), Some("Watch-Pass-7"));
    let ws = Workspace::quickstart();
    // The daemon and `supctl sync` get the variable `password_env` names.
    ws.set_env("SUPCTL_WATCH_WSUS_PASSWORD", "Watch-Pass-7");
    ws.edit_config(
        "backend = \"local\"     # the embedded update store",
        &format!(
            "backend = \"wsus\"\nurl = {:?}\nusername = \"CORP\\\\svc-supctl\"\npassword_env = \"SUPCTL_WATCH_WSUS_PASSWORD\"",
            server.url()
        ),
    );
    let text = ws.read_config();
    ws.save_config(&format!(
        "{text}\n[sync]\nschedule = \"every 1 day at 04:00\"\nproducts = [\"Windows 11\"]\nclassifications = [\"Critical Updates\"]\n"
    ));
    let before = server.published();
    let mut w = Watch::start(&ws, &[], None);
    let deadline = Instant::now() + Duration::from_secs(60);
    while server.published() < before + 4 {
        assert!(
            Instant::now() < deadline,
            "the daemon did not publish:\n{}",
            w.dump()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(
        server.state().time_of_day,
        4 * 3600,
        "[sync] reached the subscription"
    );

    let out = ws.supctl(&["sync"]);
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(stderr.contains("handing the sync request"), "{stderr}");
    assert!(
        stdout.contains("synchronization with its upstream started"),
        "{stdout}\n{stderr}\n{}",
        w.dump()
    );
    assert!(
        server
            .writes()
            .iter()
            .any(|op| op == "StartSubscriptionManually"),
        "{:?}",
        server.writes()
    );
    assert_eq!(w.stop(Duration::from_secs(10)), 0);
    assert!(server.violations().is_empty(), "{:?}", server.violations());
}
