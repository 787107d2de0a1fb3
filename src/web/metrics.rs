//! `/metrics`: the status report as Prometheus series, encoded by `prometheus-client` in the
//! text exposition format, named by Prometheus conventions (base units, `_seconds`,
//! `_timestamp_seconds`).
//!
//! A fresh registry is filled from each report: every series is a gauge of the state the
//! report describes, so a catalog that goes away leaves no stale series behind.

use std::sync::atomic::AtomicU64;

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use crate::reconcile::status::Report;
use crate::store::RunResult;

type Labels = Vec<(String, String)>;
type Series = Family<Labels, Gauge<f64, AtomicU64>>;

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

/// The text exposition of `report` for a daemon on `backend`.
pub fn render(report: &Report, backend: &str) -> String {
    let mut r = Registry::with_prefix("supctl");
    let info = series(&mut r, "info", "supctl's version and update server kind");
    info.get_or_create(&labels(&[
        ("version", env!("CARGO_PKG_VERSION")),
        ("backend", backend),
    ]))
    .set(1.0);
    let healthy = series(
        &mut r,
        "healthy",
        "1 when no subscribed catalog's last sync failed",
    );
    healthy
        .get_or_create(&Labels::new())
        .set(if report.healthy { 1.0 } else { 0.0 });
    let last = series(
        &mut r,
        "catalog_last_sync_timestamp_seconds",
        "When the catalog's last sync ended (Unix time)",
    );
    let success = series(
        &mut r,
        "catalog_last_success_timestamp_seconds",
        "When the catalog last synced successfully (Unix time)",
    );
    let failed = series(
        &mut r,
        "catalog_last_sync_failed",
        "1 when the catalog's last sync failed",
    );
    let updates = series(
        &mut r,
        "updates",
        "Updates on the server by catalog and state",
    );
    let expiry = series(
        &mut r,
        "certificate_expiry_timestamp_seconds",
        "When a certificate a catalog relies on expires (Unix time)",
    );
    let warnings = series(&mut r, "warnings", "Warnings of the status report by code");
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
    for w in &report.warnings {
        let g = warnings.get_or_create(&labels(&[("code", w.code)]));
        g.set(g.get() + 1.0);
    }
    let mut out = String::new();
    // Writing to a String cannot fail.
    let _ = encode(&mut out, &r);
    out
}
