//! `watch` under systemd's notify protocol, with a local datagram socket standing in for
//! systemd: `READY=1` once start-up is done (the quickstart applied), `WATCHDOG=1` at half
//! the interval asked for, `STATUS=` lines, and `STOPPING=1` on SIGTERM.

use std::os::unix::net::UnixDatagram;
use std::time::{Duration, Instant};

use crate::support::watch as watch_common;

use watch_common::{Watch, Workspace};

/// The datagrams received until `want` arrives (bounded), as text.
fn until(sock: &UnixDatagram, want: &str, timeout: Duration, w: &Watch) -> Vec<String> {
    let deadline = Instant::now() + timeout;
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while Instant::now() < deadline {
        if let Ok(n) = sock.recv(&mut buf) {
            let text = String::from_utf8_lossy(&buf[..n]).into_owned();
            let done = text.lines().any(|l| l == want);
            got.push(text);
            if done {
                return got;
            }
        }
    }
    panic!("no {want} within {timeout:?}; got {got:?}\n{}", w.dump());
}

#[test]
fn watch_tells_systemd_it_is_ready_alive_and_stopping() {
    let ws = Workspace::quickstart();
    let path = ws.path().join("notify.sock");
    let sock = UnixDatagram::bind(&path).unwrap();
    sock.set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    ws.set_env("NOTIFY_SOCKET", path.to_str().unwrap());
    ws.set_env("WATCHDOG_USEC", "1000000");

    let mut w = Watch::start(&ws, &[], None);
    let before_ready = until(&sock, "READY=1", Duration::from_secs(60), &w);
    // READY comes once start-up (resuming an interrupted apply, scheduling) is done.
    let ready = before_ready.last().unwrap();
    assert!(ready.contains("STATUS=watching"), "{before_ready:?}");
    let started = Instant::now();
    until(&sock, "WATCHDOG=1", Duration::from_secs(5), &w);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "fed at half of 1 s"
    );

    assert_eq!(w.stop(Duration::from_secs(30)), 0, "{}", w.dump());
    until(&sock, "STOPPING=1", Duration::from_secs(2), &w);
}
