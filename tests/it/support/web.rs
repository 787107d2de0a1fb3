//! Talking to `watch --listen`: a plain HTTP GET, the bound address from the log, and the
//! scenario the listener tests share: the quickstart catalog (good, applied, then drifted)
//! with a managed signing certificate, beside a catalog whose CAB is unsigned (every sync
//! fails with 11508), watched in monitor-only mode so the drift stays visible.

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use super::cli::unsigned_cab;
use super::watch::{Watch, Workspace};

pub(crate) struct Answer {
    pub status: u16,
    /// Lower-cased header lines.
    pub headers: String,
    pub body: String,
}

/// A plain HTTP/1.1 GET (the client need not be clever: the server is).
pub(crate) fn get(addr: &str, path: &str, token: Option<&str>) -> Answer {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let auth = token.map_or(String::new(), |t| format!("Authorization: Bearer {t}\r\n"));
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\n{auth}Connection: close\r\n\r\n"
    )
    .unwrap();
    let mut raw = String::new();
    s.read_to_string(&mut raw).unwrap();
    let (head, body) = raw.split_once("\r\n\r\n").unwrap();
    let status = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    Answer {
        status,
        headers: head.to_ascii_lowercase(),
        body: body.to_string(),
    }
}

/// The bound `HOST:PORT` from the `listening on http(s)://HOST:PORT` log line.
pub(crate) fn address(w: &mut Watch) -> String {
    let ev = w.wait_for("listening on", Duration::from_secs(30), |ev| {
        ev.iter().any(|e| {
            e["fields"]["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("listening on http"))
        })
    });
    ev.iter()
        .find_map(|e| {
            let m = e["fields"]["message"].as_str()?;
            m.strip_prefix("listening on http://")
                .or_else(|| m.strip_prefix("listening on https://"))
                .map(str::to_string)
        })
        .unwrap()
}

/// Polls `path` until `done` holds for its answer (60 s at most).
pub(crate) fn poll(w: &Watch, addr: &str, path: &str, done: impl Fn(&Answer) -> bool) -> Answer {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let a = get(addr, path, None);
        if done(&a) {
            return a;
        }
        assert!(
            Instant::now() < deadline,
            "{path} never got there: {} {}\n{}",
            a.status,
            a.body,
            w.dump()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The catalog key whose syncs fail.
pub(crate) const FAILING: &str = "fabrikam";

/// The shared scenario, with the daemon started and its first pass published: returns the
/// workspace, the daemon and its address.
pub(crate) fn scenario() -> (Workspace, Watch, String) {
    let ws = Workspace::quickstart();
    let text = ws.read_config();
    ws.save_config(&format!(
        "{text}\n[signing]\nmode = \"managed\"\n\n[catalog.{FAILING}]\nname = \"Fabrikam Drivers\"\npublisher = \"Fabrikam\"\npath = {:?}\nsigners = [\"{}\"]\n",
        unsigned_cab().display().to_string(),
        super::cli::QS_SIGNER
    ));
    // A first daemon applies Contoso; Fabrikam's sync fails (11508), isolated from it.
    let mut first = Watch::start(&ws, &[], None);
    first.wait_for("both catalogs synced", Duration::from_secs(60), |ev| {
        ev.iter().any(|e| {
            e["fields"]["message"] == "retrying with backoff"
                && e["fields"]["scope"] == format!("catalog.{FAILING}")
        }) && ev.iter().any(|e| {
            e["fields"]["message"] == "synchronized" && e["fields"]["scope"] == "catalog.contoso"
        })
    });
    assert_eq!(first.stop(Duration::from_secs(30)), 0);
    // A change of desired state that a monitor-only pass reports and leaves alone: drift.
    ws.edit_config(
        "description = \"Four sample updates",
        "description = \"Edited: four sample updates",
    );
    let mut w = Watch::start(
        &ws,
        &["--listen", "127.0.0.1:0", "--mode", "monitor-only"],
        None,
    );
    let addr = address(&mut w);
    poll(&w, &addr, "/api/status", |a| {
        a.status == 200 && a.body.contains("\"kind\":\"drift\"")
    });
    (ws, w, addr)
}
