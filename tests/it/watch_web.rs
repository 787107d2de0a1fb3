//! `watch --listen`: the daemon's HTTP listener on the quickstart scenario. `/healthz`,
//! `/readyz`, `/api/status` (the object `status --json` prints), `/metrics` (parsed line by
//! line in the Prometheus text format), the CSP header, and the token rule for an address
//! other than loopback.

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::time::Duration;

use crate::support::watch as watch_common;

use watch_common::{Watch, Workspace};

struct Answer {
    status: u16,
    headers: String,
    body: String,
}

/// A plain HTTP/1.1 GET (the client need not be clever: the server is).
fn get(addr: &str, path: &str, token: Option<&str>) -> Answer {
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

/// The bound address from the `listening on http://HOST:PORT` log line.
fn address(w: &mut Watch) -> String {
    let ev = w.wait_for("listening on", Duration::from_secs(30), |ev| {
        ev.iter().any(|e| {
            e["fields"]["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("listening on http://"))
        })
    });
    ev.iter()
        .find_map(|e| {
            e["fields"]["message"]
                .as_str()?
                .strip_prefix("listening on http://")
                .map(str::to_string)
        })
        .unwrap()
}

/// `name{labels} value` lines of the text format, checked for shape.
fn samples(text: &str) -> Vec<(String, f64)> {
    let mut out = Vec::new();
    for line in text.lines() {
        if line.starts_with('#') || line.is_empty() {
            assert!(
                line.is_empty()
                    || line.starts_with("# HELP ")
                    || line.starts_with("# TYPE ")
                    || line == "# EOF",
                "{line}"
            );
            continue;
        }
        let (series, value) = line.rsplit_once(' ').unwrap();
        let name_end = series.find('{').unwrap_or(series.len());
        assert!(
            series[..name_end]
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_'),
            "{line}"
        );
        out.push((series.to_string(), value.parse().unwrap()));
    }
    out
}

#[test]
fn the_listener_serves_health_status_and_metrics() {
    let ws = Workspace::quickstart();
    let mut w = Watch::start(&ws, &["--listen", "127.0.0.1:0"], None);
    let addr = address(&mut w);

    let health = get(&addr, "/healthz", None);
    assert_eq!(health.status, 200);
    assert!(
        health
            .headers
            .contains("content-security-policy: default-src 'none'"),
        "{}",
        health.headers
    );
    assert!(health.headers.contains("x-content-type-options: nosniff"));

    // Ready once start-up is done and a pass has published a healthy report.
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while get(&addr, "/readyz", None).status != 200 {
        assert!(
            std::time::Instant::now() < deadline,
            "never ready:\n{}",
            w.dump()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let api = get(&addr, "/api/status", None);
    assert_eq!(api.status, 200);
    let api: serde_json::Value = serde_json::from_str(&api.body).unwrap();
    let (_, cli) = ws.status();
    assert_eq!(api["catalogs"][0]["key"], "contoso");
    assert_eq!(api["catalogs"][0]["updates"], cli["catalogs"][0]["updates"]);
    assert_eq!(api["format_version"], cli["format_version"]);

    let m = get(&addr, "/metrics", None);
    assert_eq!(m.status, 200);
    let s = samples(&m.body);
    let value = |series: &str| {
        s.iter()
            .find(|(k, _)| k == series)
            .map(|(_, v)| *v)
            .unwrap_or_else(|| panic!("no {series} in\n{}", m.body))
    };
    assert_eq!(
        value("supctl_info{version=\"0.1.0\",backend=\"local\"}"),
        1.0
    );
    assert_eq!(value("supctl_healthy"), 1.0);
    let total = cli["catalogs"][0]["updates"]["metadata_only"]
        .as_u64()
        .unwrap() as f64;
    assert_eq!(
        value("supctl_updates{catalog=\"contoso\",state=\"metadata_only\"}"),
        total
    );
    assert!(value("supctl_catalog_last_success_timestamp_seconds{catalog=\"contoso\"}") > 1.7e9);
    assert_eq!(w.stop(Duration::from_secs(30)), 0);
}

#[test]
fn a_non_loopback_listener_needs_a_token_and_checks_it() {
    let ws = Workspace::quickstart();
    let text = ws.read_config();
    ws.save_config(&format!("{text}\n[web]\nlisten = \"0.0.0.0:0\"\n"));
    let out = ws.supctl(&["validate"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("needs `web.token_env`"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    ws.save_config(&format!(
        "{text}\n[web]\nlisten = \"0.0.0.0:0\"\ntoken_env = \"SUPCTL_TEST_WEB_TOKEN\"\n"
    ));
    ws.set_env("SUPCTL_TEST_WEB_TOKEN", "s3cret-token-for-tests");
    let mut w = Watch::start(&ws, &[], None);
    let port = address(&mut w).rsplit_once(':').unwrap().1.to_string();
    let addr = format!("127.0.0.1:{port}");
    assert_eq!(get(&addr, "/healthz", None).status, 200, "health is open");
    let denied = get(&addr, "/api/status", None);
    assert_eq!(denied.status, 401);
    assert!(denied.headers.contains("www-authenticate: bearer"));
    assert_eq!(get(&addr, "/metrics", Some("wrong")).status, 401);
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while get(&addr, "/api/status", Some("s3cret-token-for-tests")).status != 200 {
        assert!(std::time::Instant::now() < deadline, "{}", w.dump());
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(
        !w.dump().contains("s3cret-token-for-tests"),
        "the token is never logged"
    );
    assert_eq!(w.stop(Duration::from_secs(30)), 0);
}

/// The example alert rules name only series `/metrics` exposes (a renamed metric must not
/// leave the rules silently matching nothing).
#[test]
fn the_example_alert_rules_use_only_exposed_metrics() {
    let rules = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("examples/monitoring/supctl-alerts.yml"),
    )
    .unwrap();
    let source = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/web/metrics.rs"),
    )
    .unwrap();
    let mut named = 0;
    for word in rules.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')) {
        if let Some(rest) = word.strip_prefix("supctl_") {
            named += 1;
            assert!(
                source.contains(&format!("\"{rest}\"")),
                "the rules use supctl_{rest}, which src/web/metrics.rs does not register"
            );
        }
    }
    assert!(named >= 6, "the rules name the metrics they alert on");
}
