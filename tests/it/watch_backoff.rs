//! A catalog server that fails (503) makes the daemon retry with exponential backoff
//! (30 s doubling, scaled 1800x here: ~17 ms, 33 ms, 67 ms, ... capped at the 2 s interval),
//! `status` reports the failure (exit 1, the 503 in the message), and the first success
//! resets the schedule.

use crate::support;
use crate::support::watch as watch_common;

use std::time::Duration;

use support::{Fault, TestServer};
use watch_common::{Watch, Workspace, count};

#[test]
fn failures_back_off_and_status_shows_them() {
    let ws = Workspace::quickstart();
    let cab = std::fs::read(ws.path().join("catalog/contoso-v3.cab")).unwrap();
    let server = TestServer::start([("/contoso-v3.cab", cab)]);
    server.set_fault(
        "/contoso-v3.cab",
        Fault::Status {
            status: 503,
            retry_after: None,
        },
        9,
    );
    let text = ws
        .read_config()
        .replace(
            r#"path = "catalog/contoso-v3.cab""#,
            &format!(r#"url = "{}""#, server.url("/contoso-v3.cab")),
        )
        .replace(
            r#"schedule = "every 7 days""#,
            r#"schedule = "every 1 hour""#,
        );
    ws.save_config(&format!(
        "{text}\n[http]\nca_certificates = [\"{}\"]\nretries = 0\n",
        server.ca_pem_path().display()
    ));
    let mut w = Watch::start(&ws, &[], Some(1800));

    let ev = w.wait_for("six failed attempts", Duration::from_secs(20), |ev| {
        count(
            ev,
            "retrying with backoff",
            Some(("scope", "catalog.contoso")),
        ) >= 6
    });
    // status while failing: exit 1, the failure and its cause.
    let (code, status) = ws.status();
    assert_eq!(code, 1, "{status:#}");
    let c = &status["catalogs"][0];
    assert_eq!(c["key"], "contoso");
    assert_eq!(c["last_sync"]["result"], "failed", "{c:#}");
    let why = c["last_sync"]["message"].as_str().unwrap();
    assert!(why.contains("503"), "{why}");
    assert!(!status["healthy"].as_bool().unwrap());

    let retries: Vec<i64> = ev
        .iter()
        .filter(|e| e["fields"]["message"] == "retrying with backoff")
        .map(|e| e["fields"]["retry_ms"].as_i64().unwrap())
        .collect();
    // 30 s / 1800 = 16.7 ms, ±10 %.
    assert!((14..=19).contains(&retries[0]), "{retries:?}");
    for pair in retries.windows(2) {
        assert!(
            pair[1] as f64 >= pair[0] as f64 * 1.6 || pair[1] >= 1800,
            "no exponential backoff: {retries:?}"
        );
        assert!(pair[1] <= 2200, "backoff beyond the interval: {retries:?}");
    }
    // Each attempt really went to the server (no retries inside the fetcher).
    let attempts = count(
        &ev,
        "synchronization failed",
        Some(("scope", "catalog.contoso")),
    );
    assert!(server.requests_for("/contoso-v3.cab").len() >= attempts);

    // The faults run out: the next retry succeeds and the schedule is back to normal.
    let ev = w.wait_for("the recovery", Duration::from_secs(20), |ev| {
        count(ev, "synchronized", Some(("scope", "catalog.contoso"))) >= 1
    });
    assert_eq!(
        count(
            &ev,
            "retrying with backoff",
            Some(("scope", "catalog.contoso"))
        ),
        9,
        "{}",
        w.dump()
    );
    let (code, status) = ws.status();
    assert_eq!(code, 0, "{status:#}");
    assert_eq!(status["catalogs"][0]["last_sync"]["result"], "succeeded");
    assert_eq!(status["catalogs"][0]["updates"]["total"], 4);
    assert_eq!(w.stop(Duration::from_secs(10)), 0);
}
