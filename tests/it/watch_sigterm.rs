//! SIGTERM in the middle of an apply: the running action finishes and is journaled, the
//! rest are not attempted, the daemon exits 0 and records the run as cancelled; the next
//! start resumes the interrupted plan and finishes it.
//!
//! To have an apply that takes a while, content is downloaded (no `content_source`) from a
//! local HTTPS server that answers slowly. The catalog's content URLs name
//! `content.contoso.example`; a local proxy routes every CONNECT to the test server, whose
//! certificate also carries that name. Nothing leaves 127.0.0.1.

use crate::support;
use crate::support::watch as watch_common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use support::{Fault, TestCa, TestProxy, TestServer};
use watch_common::{Watch, Workspace, count};

#[test]
fn sigterm_mid_apply_exits_cleanly_and_the_next_start_resumes() {
    let ws = Workspace::quickstart();
    let content: Vec<(String, Vec<u8>)> = std::fs::read_dir(ws.path().join("content"))
        .unwrap()
        .flatten()
        .map(|e| {
            (
                format!("/{}", e.file_name().to_string_lossy()),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect();
    let paths: Vec<String> = content.iter().map(|(p, _)| p.clone()).collect();
    let ca = Arc::new(TestCa::with_hosts("content", &["content.contoso.example"]));
    let server = TestServer::start_with_ca(content, ca);
    for p in &paths {
        server.set_fault(p, Fault::Delay(Duration::from_millis(1500)), 1);
    }
    let proxy = TestProxy::with_routes(vec![(
        "content.contoso.example:443".to_string(),
        server.addr(),
    )]);
    let text = ws
        .read_config()
        .replace("content_source = \"content\"\n", "");
    ws.save_config(&format!(
        "{text}\n[http]\nproxy = \"{}\"\nca_certificates = [\"{}\"]\nconcurrency = 1\nretries = 0\n",
        proxy.url(),
        server.ca_pem_path().display()
    ));

    let mut w = Watch::start(&ws, &[], None);
    let deadline = Instant::now() + Duration::from_secs(20);
    while server.requests().is_empty() {
        assert!(
            Instant::now() < deadline,
            "no download started:\n{}",
            w.dump()
        );
        assert!(w.child.try_wait().unwrap().is_none(), "{}", w.dump());
        std::thread::sleep(Duration::from_millis(20));
    }
    let stopping = Instant::now();
    assert_eq!(w.stop(Duration::from_secs(10)), 0, "{}", w.dump());
    // The running download finished (1.5 s), the rest were not started.
    assert!(stopping.elapsed() < Duration::from_secs(5));
    assert_eq!(server.requests().len(), 1, "{:?}", server.requests());
    let ev = w.events();
    assert_eq!(
        count(&ev, "stop requested: finishing the running action", None),
        1
    );
    let (_, status) = ws.status();
    let c = &status["catalogs"][0];
    assert_eq!(c["last_sync"]["result"], "cancelled", "{c:#}");
    let deployable_after_stop = c["updates"]["deployable"].as_u64().unwrap();
    assert_eq!(deployable_after_stop, 1, "{c:#}");

    // The next start resumes the plan before anything else.
    let mut w2 = Watch::start(&ws, &[], None);
    let ev = w2.wait_for("the resumed apply", Duration::from_secs(30), |ev| {
        count(ev, "resuming the interrupted apply", None) == 1
            && count(ev, "synchronized", Some(("reason", "resume"))) >= 1
            && count(ev, "scheduled", None) >= 1
    });
    assert!(
        ev.iter()
            .position(|e| e["fields"]["message"] == "resuming the interrupted apply")
            < ev.iter()
                .position(|e| e["fields"]["message"] == "reconciling")
    );
    assert_eq!(w2.stop(Duration::from_secs(10)), 0);
    let (code, status) = ws.status();
    let c = &status["catalogs"][0];
    assert_eq!(code, 0, "{status:#}");
    assert!(
        c["updates"]["deployable"].as_u64().unwrap() > deployable_after_stop,
        "{c:#}"
    );
    // Every file was downloaded once: the finished one was not fetched again.
    let mut fetched: Vec<String> = server.requests().iter().map(|r| r.path.clone()).collect();
    let n = fetched.len();
    fetched.sort();
    fetched.dedup();
    assert_eq!(
        fetched.len(),
        n,
        "a file was downloaded twice: {:?}",
        server.requests()
    );
}
