//! `/metrics`: the status report as Prometheus series, encoded by `prometheus-client` in the
//! text exposition format, named by Prometheus conventions (base units, `_seconds`,
//! `_timestamp_seconds`).
//!
//! Two kinds of series, kept apart on purpose:
//! - **Gauges of the state** the last report describes, in a registry filled afresh at each
//!   request from that report, so a catalog that goes away leaves no stale series behind.
//! - **Counters and the duration histogram** of what this process did ([`Counters`], and the
//!   notifier's delivery counts), kept across passes and starting at zero when the daemon
//!   starts, as Prometheus expects of `_total` series (its `rate()` handles the reset).

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::AtomicU64;

use chrono::{DateTime, Utc};
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use crate::reconcile::status::Report;
use crate::store::{RecordedMessage, RunResult, Target};

type Labels = Vec<(String, String)>;
type Series = Family<Labels, Gauge<f64, AtomicU64>>;
type Counts = Family<Labels, Counter>;
type Durations = Family<Labels, Histogram, fn() -> Histogram>;

/// Pass durations from a second to an hour: a catalog of 100,000 updates takes minutes.
fn duration_buckets() -> Histogram {
    Histogram::new([
        0.1, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0,
    ])
}

/// What this process did since it started.
#[derive(Debug)]
pub struct Counters {
    durations: Durations,
    failures: Counts,
    messages: Counts,
    staged: Counter,
    /// Status messages recorded at or before this instant were counted already (or predate
    /// the daemon).
    messages_seen: Mutex<DateTime<Utc>>,
}

impl Default for Counters {
    fn default() -> Self {
        Self {
            durations: Durations::new_with_constructor(duration_buckets),
            failures: Counts::default(),
            messages: Counts::default(),
            staged: Counter::default(),
            messages_seen: Mutex::new(Utc::now()),
        }
    }
}

impl Counters {
    /// A pass over `catalogs` (key, failed) took `seconds` and staged `staged_bytes`.
    pub fn observe_pass(&self, catalogs: &[(String, bool)], seconds: f64, staged_bytes: u64) {
        for (key, failed) in catalogs {
            let result = if *failed { "failed" } else { "succeeded" };
            self.durations
                .get_or_create(&labels(&[("catalog", key), ("result", result)]))
                .observe(seconds);
            let f = self.failures.get_or_create(&labels(&[("catalog", key)]));
            if *failed {
                f.inc();
            }
        }
        self.staged.inc_by(staged_bytes);
    }

    /// Counts the status messages recorded since the last call (`messages` newest first).
    pub fn observe_messages(&self, messages: &[RecordedMessage]) {
        let mut seen = self.messages_seen.lock().unwrap_or_else(|e| e.into_inner());
        let newest = *seen;
        for m in messages.iter().filter(|m| m.at > newest) {
            let catalog = match m.address.as_ref().and_then(|a| a.target()) {
                Some(Target::Catalog(k) | Target::Update(k, _)) => k.to_string(),
                _ => String::new(),
            };
            let code = m.message.number.to_string();
            self.messages
                .get_or_create(&labels(&[("code", &code), ("catalog", &catalog)]))
                .inc();
            *seen = (*seen).max(m.at);
        }
    }

    fn register(&self, r: &mut Registry) {
        r.register(
            "reconcile_duration_seconds",
            "How long a pass over a catalog took, by its result",
            self.durations.clone(),
        );
        r.register(
            "catalog_sync_failures",
            "Failed syncs of a catalog since the daemon started",
            self.failures.clone(),
        );
        r.register(
            "status_messages",
            "Status messages recorded since the daemon started, by number and catalog",
            self.messages.clone(),
        );
        r.register(
            "content_bytes_staged",
            "Bytes of update content staged since the daemon started",
            self.staged.clone(),
        );
    }
}

fn series(registry: &mut Registry, name: &str, help: &str) -> Series {
    let f = Series::default();
    registry.register(name, help, f.clone());
    f
}

fn labels(pairs: &[(&str, &str)]) -> Labels {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// The text exposition: `report`'s gauges (when a pass has published one), the drift the
/// last monitor-only passes found, and the process's counters, for a daemon on `backend`.
pub fn render(
    report: Option<&Report>,
    drift: &BTreeMap<String, u64>,
    counters: &Counters,
    deliveries: &[crate::notify::DeliveryCount],
    backend: &str,
) -> String {
    let mut r = Registry::with_prefix("supctl");
    counters.register(&mut r);
    // Kept by the notifier since the daemon started; shown as the counter it is.
    let sent = Counts::default();
    r.register(
        "notifications",
        "Notification deliveries by rule, provider and outcome since the daemon started",
        sent.clone(),
    );
    for d in deliveries {
        sent.get_or_create(&labels(&[
            ("name", &d.name),
            ("provider", d.provider.as_str()),
            ("outcome", d.outcome.as_str()),
        ]))
        .inc_by(d.count);
    }
    let drifting = series(
        &mut r,
        "drift_actions",
        "Changes the last monitor-only pass left alone, per catalog",
    );
    for (catalog, n) in drift {
        drifting
            .get_or_create(&labels(&[("catalog", catalog)]))
            .set(*n as f64);
    }
    let info = series(&mut r, "info", "supctl's version and update server kind");
    info.get_or_create(&labels(&[
        ("version", env!("CARGO_PKG_VERSION")),
        ("backend", backend),
    ]))
    .set(1.0);
    if let Some(report) = report {
        state_series(&mut r, report);
    }
    let mut out = String::new();
    // Writing to a String cannot fail.
    let _ = encode(&mut out, &r);
    out
}

/// The gauges of the state `report` describes.
fn state_series(r: &mut Registry, report: &Report) {
    let healthy = series(
        r,
        "healthy",
        "1 when no subscribed catalog's last sync failed",
    );
    healthy
        .get_or_create(&Labels::new())
        .set(if report.healthy { 1.0 } else { 0.0 });
    let last = series(
        r,
        "catalog_last_sync_timestamp_seconds",
        "When the catalog's last sync ended (Unix time)",
    );
    let success = series(
        r,
        "catalog_last_success_timestamp_seconds",
        "When the catalog last synced successfully (Unix time)",
    );
    let failed = series(
        r,
        "catalog_last_sync_failed",
        "1 when the catalog's last sync failed",
    );
    let updates = series(r, "updates", "Updates on the server by catalog and state");
    let expiry = series(
        r,
        "certificate_expiry_timestamp_seconds",
        "When a certificate a catalog relies on expires (Unix time)",
    );
    let warnings = series(r, "warnings", "Warnings of the status report by code");
    for c in &report.catalogs {
        let cat = labels(&[("catalog", &c.key)]);
        if let Some(run) = &c.last_sync {
            let t = run.ended.unwrap_or(run.started);
            last.get_or_create(&cat).set(t.timestamp() as f64);
            failed
                .get_or_create(&cat)
                .set(if run.result == RunResult::Failed {
                    1.0
                } else {
                    0.0
                });
        }
        if let Some(t) = c.last_success {
            success.get_or_create(&cat).set(t.timestamp() as f64);
        }
        for (state, n) in [
            ("metadata_only", c.updates.metadata_only),
            ("deployable", c.updates.deployable),
            ("expired", c.updates.expired),
            ("deselected", c.updates.deselected),
        ] {
            updates
                .get_or_create(&labels(&[("catalog", &c.key), ("state", state)]))
                .set(n as f64);
        }
        for (role, certs) in [("signer", &c.signers), ("content", &c.content_certificates)] {
            for cert in certs {
                if let Some(t) = cert.not_after {
                    expiry
                        .get_or_create(&labels(&[
                            ("thumbprint", &cert.thumbprint),
                            ("role", role),
                            ("catalog", &c.key),
                        ]))
                        .set(t.timestamp() as f64);
                }
            }
        }
    }
    if let Some(cert) = &report.signing
        && let Some(t) = cert.not_after
    {
        expiry
            .get_or_create(&labels(&[
                ("thumbprint", &cert.thumbprint),
                ("role", "signing"),
                ("catalog", ""),
            ]))
            .set(t.timestamp() as f64);
    }
    for w in &report.warnings {
        let g = warnings.get_or_create(&labels(&[("code", w.code)]));
        g.set(g.get() + 1.0);
    }
}
