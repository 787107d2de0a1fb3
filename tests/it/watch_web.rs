//! `watch --listen`: the daemon's HTTP listener on a real scenario (the quickstart catalog
//! applied then drifted, beside a catalog whose syncs fail with 11508, watched monitor-only):
//! the pages, `/api/*`, `/metrics` (parsed by a Prometheus text-format parser, series and
//! values checked), `/healthz`, `/readyz`, the CSP header, the token rule for an address
//! other than loopback, and HTTPS.

use std::time::Duration;

use crate::support::watch::{Watch, Workspace};
use crate::support::web::{FAILING, address, get, poll, scenario};

/// The samples of a text exposition, by series name and labels.
struct Metrics(prometheus_parse::Scrape);

impl Metrics {
    fn parse(text: &str) -> Metrics {
        let lines = text.lines().map(|l| Ok(l.to_string()));
        Metrics(prometheus_parse::Scrape::parse(lines).expect("a valid text exposition"))
    }

    /// The value of `name` with exactly these labels (a histogram's count for `_count`).
    fn value(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        self.0
            .samples
            .iter()
            .filter(|s| s.metric == name)
            .filter(|s| labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
            .find_map(|s| match &s.value {
                prometheus_parse::Value::Gauge(v)
                | prometheus_parse::Value::Counter(v)
                | prometheus_parse::Value::Untyped(v) => Some(*v),
                prometheus_parse::Value::Histogram(h) => h.last().map(|b| b.count),
                prometheus_parse::Value::Summary(_) => None,
            })
    }

    fn must(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.value(name, labels)
            .unwrap_or_else(|| panic!("no {name}{labels:?} in {:#?}", self.0.samples))
    }
}

#[test]
fn pages_api_and_metrics_show_a_good_and_a_failing_catalog() {
    let (ws, mut w, addr) = scenario();

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
    // One failed sync is retried with backoff: not a reason to be unready. The first pass
    // is published a moment before start-up ends, so readiness is polled for.
    let ready = poll(&w, &addr, "/readyz", |a| {
        a.status != 503 || a.body != "starting or stopping\n"
    });
    assert_eq!(ready.status, 200, "{}", ready.body);

    // /api/status is the object `status --json` prints.
    let api: serde_json::Value =
        serde_json::from_str(&get(&addr, "/api/status", None).body).unwrap();
    let (_, cli) = ws.status();
    assert_eq!(api["format_version"], cli["format_version"]);
    let keys = |v: &serde_json::Value| -> Vec<String> {
        v["catalogs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["key"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(keys(&api), keys(&cli));
    assert_eq!(api["catalogs"][0]["updates"], cli["catalogs"][0]["updates"]);
    assert_eq!(api["healthy"], false, "a catalog's last sync failed");

    // /api/runs: the runs of both catalogs, newest first.
    let runs: serde_json::Value =
        serde_json::from_str(&get(&addr, "/api/runs", None).body).unwrap();
    let runs = runs["runs"].as_array().unwrap();
    let result_of = |scope: &str| {
        runs.iter()
            .find(|r| r["scope"] == scope)
            .map(|r| r["result"].clone())
            .unwrap_or_else(|| panic!("no run of {scope}: {runs:#?}"))
    };
    assert_eq!(result_of("catalog.contoso"), "succeeded");
    assert_eq!(result_of(&format!("catalog.{FAILING}")), "failed");

    // /api/updates: filtered and paged.
    let page: serde_json::Value = serde_json::from_str(
        &get(
            &addr,
            "/api/updates?catalog=contoso&state=deployable&per_page=2&page=2",
            None,
        )
        .body,
    )
    .unwrap();
    assert_eq!(
        (page["total"].as_u64(), page["page"].as_u64()),
        (Some(3), Some(2)),
        "{page:#}"
    );
    assert_eq!(page["updates"].as_array().unwrap().len(), 1, "{page:#}");
    assert_eq!(page["updates"][0]["state"], "deployable");
    let bad = get(&addr, "/api/updates?state=installed", None);
    assert_eq!(bad.status, 400);
    assert!(bad.body.contains("state: `installed`"), "{}", bad.body);

    // The status page: both catalogs, the failure, the drift warning, the 11508 message.
    let page = get(&addr, "/", None);
    assert_eq!(page.status, 200);
    assert!(
        page.headers.contains("content-type: text/html"),
        "{}",
        page.headers
    );
    for needle in [
        "data-catalog=\"contoso\"",
        &format!("data-catalog=\"{FAILING}\""),
        "✗ failed",
        "data-code=\"drift\"",
        "11508",
        "Needs attention",
    ] {
        assert!(page.body.contains(needle), "no {needle} in\n{}", page.body);
    }
    // The catalog page lists its updates, filtered; an update's page shows its digests.
    let cat = get(&addr, "/catalogs/contoso?state=deployable", None);
    assert_eq!(cat.status, 200);
    assert_eq!(cat.body.matches("data-update=").count(), 3, "{}", cat.body);
    let id = cat
        .body
        .split("data-update=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_string();
    let upd = get(&addr, &format!("/catalogs/contoso/updates/{id}"), None);
    assert_eq!(upd.status, 200);
    assert!(
        upd.body.contains("SHA-256") && upd.body.contains("✓ staged"),
        "{}",
        upd.body
    );
    // The description is not in any snapshot: the page reads it from the database.
    assert!(
        upd.body.contains("<dt>Description</dt><dd>")
            && upd
                .body
                .contains("A sample update from the supctl quickstart catalog"),
        "{}",
        upd.body
    );
    assert_eq!(get(&addr, "/catalogs/nope", None).status, 404);
    assert_eq!(
        get(&addr, &format!("/catalogs/{FAILING}/updates/{id}"), None).status,
        404
    );

    // /metrics through a real text-format parser.
    let m = get(&addr, "/metrics", None);
    assert_eq!(m.status, 200);
    let m = Metrics::parse(&m.body);
    assert_eq!(
        m.must(
            "supctl_info",
            &[("version", env!("CARGO_PKG_VERSION")), ("backend", "local")]
        ),
        1.0
    );
    assert_eq!(m.must("supctl_healthy", &[]), 0.0);
    let deployable = cli["catalogs"][0]["updates"]["deployable"]
        .as_u64()
        .unwrap() as f64;
    assert_eq!(
        m.must(
            "supctl_updates",
            &[("catalog", "contoso"), ("state", "deployable")]
        ),
        deployable
    );
    assert_eq!(
        m.must("supctl_catalog_last_sync_failed", &[("catalog", FAILING)]),
        1.0
    );
    assert_eq!(
        m.must("supctl_catalog_last_sync_failed", &[("catalog", "contoso")]),
        0.0
    );
    assert!(
        m.must(
            "supctl_catalog_last_success_timestamp_seconds",
            &[("catalog", "contoso")]
        ) > 1.7e9
    );
    assert!(
        m.value(
            "supctl_catalog_last_success_timestamp_seconds",
            &[("catalog", FAILING)]
        )
        .is_none()
    );
    assert!(
        m.must(
            "supctl_catalog_sync_failures_total",
            &[("catalog", FAILING)]
        ) >= 1.0
    );
    assert!(m.must("supctl_drift_actions", &[("catalog", "contoso")]) >= 1.0);
    assert!(
        m.must(
            "supctl_status_messages_total",
            &[("code", "11508"), ("catalog", FAILING)]
        ) >= 1.0
    );
    assert!(
        m.must(
            "supctl_reconcile_duration_seconds",
            &[("catalog", FAILING), ("result", "failed")]
        ) >= 1.0
    );
    assert!(m.value("supctl_content_bytes_staged_total", &[]).is_some());
    assert!(
        m.must(
            "supctl_certificate_expiry_timestamp_seconds",
            &[("role", "signer"), ("catalog", "contoso")]
        ) > 1.7e9
    );
    let signing = api["signing"]["thumbprint"]
        .as_str()
        .expect("the signing certificate");
    assert!(
        m.must(
            "supctl_certificate_expiry_timestamp_seconds",
            &[("role", "signing"), ("thumbprint", signing)]
        ) > 1.7e9
    );
    assert!(
        page.body.contains(signing.get(..8).unwrap()),
        "the page shows the signing certificate"
    );
    assert_eq!(w.stop(Duration::from_secs(30)), 0);
}

/// `[web] tls_certificate` + `tls_key`: the listener speaks HTTPS (and only HTTPS).
#[test]
fn the_listener_serves_https_with_the_configured_certificate() {
    let ws = Workspace::quickstart();
    let ca = crate::support::TestCa::new("web");
    let (cert, key) = ca.server_pem_files();
    let text = ws.read_config();
    ws.save_config(&format!(
        "{text}\n[web]\nlisten = \"127.0.0.1:0\"\ntls_certificate = {:?}\ntls_key = {:?}\n",
        cert.display().to_string(),
        key.display().to_string()
    ));
    let mut w = Watch::start(&ws, &[], None);
    let addr = address(&mut w);
    assert!(w.dump().contains("listening on https://"), "{}", w.dump());
    let rt = tokio::runtime::Runtime::new().unwrap();
    let client = reqwest::Client::builder()
        .tls_certs_only([reqwest::Certificate::from_pem(ca.pem().as_bytes()).unwrap()])
        .build()
        .unwrap();
    let url = format!("https://{addr}/healthz");
    let (status, body) = rt.block_on(async {
        let r = client.get(&url).send().await.unwrap();
        (r.status().as_u16(), r.text().await.unwrap())
    });
    assert_eq!((status, body.as_str()), (200, "ok\n"));
    // Plain HTTP on the TLS port gets no HTTP answer.
    let plain = std::panic::catch_unwind(|| get(&addr, "/healthz", None));
    assert!(plain.is_err() || plain.unwrap().status != 200);
    assert_eq!(w.stop(Duration::from_secs(30)), 0);
}

/// `[web] tls_certificate` without its key is a config error naming the key to add.
#[test]
fn a_tls_certificate_without_its_key_is_refused_by_validate() {
    let ws = Workspace::quickstart();
    let text = ws.read_config();
    ws.save_config(&format!("{text}\n[web]\ntls_certificate = \"web.pem\"\n"));
    let out = ws.supctl(&["validate"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("needs `web.tls_key`") && err.contains("tls_key = "),
        "{err}"
    );
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
            // Counters are registered without the `_total` the exposition adds.
            let rest = rest.strip_suffix("_total").unwrap_or(rest);
            assert!(
                source.contains(&format!("\"{rest}\"")),
                "the rules use supctl_{rest}, which src/web/metrics.rs does not register"
            );
        }
    }
    assert!(named >= 6, "the rules name the metrics they alert on");
}
