//! Reconciliation: acquire every subscribed catalog, read the server's state, plan.
//! The CLI's `plan`, `apply` and `sync` and the `watch` daemon all go through here.
//!
//! - [`record`]: sync runs and status messages of a finished plan;
//! - [`pass`]: one synchronization (plan, apply or report, record), for `sync` and `watch`;
//! - [`schedule`]: next-run times, jitter, backoff, catch-up (pure functions);
//! - [`handoff`]: `sync` handing its request to a running `watch`;
//! - [`status`]: the per-catalog status report and its warnings;
//! - [`daemon`], [`watcher`]: the `watch` loop and its file watch.

pub mod daemon;
pub mod handoff;
pub mod observe;
pub mod pass;
pub mod record;
pub mod schedule;
pub mod status;
pub mod watcher;

use std::collections::BTreeMap;

use chrono::Utc;
use futures::StreamExt;

use crate::apply::ContentContext;
use crate::catalog::acquire::{Acquired, Reuse, acquire};
use crate::catalog::fetch::{Fetcher, HttpSettings};
use crate::config::Config;
use crate::plan::{self, Plan};
use crate::store::{Address, Store, StoreError, Target};

/// `[http]` as the fetcher wants it.
pub fn http_settings(cfg: &Config) -> HttpSettings {
    let h = &cfg.http;
    HttpSettings {
        proxy: h.proxy.clone(),
        no_proxy: h.no_proxy.clone(),
        ca_certificates: h.ca_certificates.clone(),
        timeout: std::time::Duration::from_secs(h.timeout_seconds),
        retries: h.retries,
        max_bytes: h.max_download_mib.saturating_mul(1 << 20),
        ..HttpSettings::default()
    }
}

/// Acquires the subscribed catalogs (those named in `only`, when given), a few at a time.
pub async fn acquire_all(
    cfg: &Config,
    fetcher: &Fetcher,
    only: &[String],
    reuse: Reuse,
) -> BTreeMap<String, Acquired> {
    let now = Utc::now();
    let wanted = cfg
        .catalogs
        .values()
        .filter(|c| c.subscribed && (only.is_empty() || only.contains(&c.key)));
    let jobs = wanted.map(|c| acquire(cfg, c, fetcher, now, reuse));
    let results: Vec<Acquired> = futures::stream::iter(jobs)
        .buffer_unordered(4)
        .collect()
        .await;
    results.into_iter().map(|a| (a.key.clone(), a)).collect()
}

/// Plans against the backend's current state.
pub async fn make_plan(
    cfg: &Config,
    backend: &Store,
    fetcher: &Fetcher,
    targets: &[Address],
) -> Result<(Plan, BTreeMap<String, Acquired>), StoreError> {
    let only: Vec<String> = targets
        .iter()
        .filter_map(|t| match t.target() {
            Some(Target::Catalog(k) | Target::Update(k, _)) => Some(k.to_string()),
            _ => None,
        })
        .collect();
    let only = if only.len() == targets.len() {
        only
    } else {
        Vec::new()
    };
    let (mut plan, acquired) = plan_catalogs(cfg, backend, fetcher, &only, targets).await?;
    if let Some(w) = interrupted_apply(cfg, backend) {
        plan.diagnostics.push(w);
    }
    Ok((plan, acquired))
}

/// A warning when the last apply was interrupted (Ctrl-C, a crash) with actions not done:
/// its plan can be finished with `apply --resume`, which a new plan does not say by itself.
fn interrupted_apply(cfg: &Config, backend: &Store) -> Option<plan::PlanDiagnostic> {
    let (interrupted, missing) = pass::interrupted(cfg, backend).ok().flatten()?;
    Some(plan::PlanDiagnostic {
        severity: plan::Severity::Warning,
        code: "apply-interrupted".into(),
        address: Address::apply(),
        message: format!(
            "the apply of plan {} was interrupted: {missing} of its {} actions were not done",
            interrupted.id,
            interrupted.actions.len()
        ),
        hint: Some(
            "run `supctl apply --resume` to finish that plan, or apply this one, which plans what is still to change".into(),
        ),
        blocked: false,
    })
}

/// Acquires (unchanged catalogs from their parsed summaries) and plans; when the plan must
/// publish or revise from a summarised catalog, that catalog is parsed in full and the plan
/// made again, so every publish carries the package's XML.
pub async fn plan_catalogs(
    cfg: &Config,
    backend: &Store,
    fetcher: &Fetcher,
    only: &[String],
    targets: &[Address],
) -> Result<(Plan, BTreeMap<String, Acquired>), StoreError> {
    let mut catalogs = acquire_all(cfg, fetcher, only, Reuse::Summary).await;
    let plan = diff_against(cfg, backend, &catalogs, targets)?;
    let needs_xml: Vec<String> = catalogs
        .keys()
        .filter(|k| {
            plan.actions.iter().any(|a| {
                matches!(a.address.target(), Some(Target::Update(c, _)) if c.as_str() == k.as_str())
                    && matches!(&a.payload, Some(plan::Payload::Update { record }) if record.is_summary())
            })
        })
        .cloned()
        .collect();
    if needs_xml.is_empty() {
        return Ok((plan, catalogs));
    }
    // Planned again below: neither this plan nor the summaries it came from are kept
    // alive beside the full parse (each holds every record).
    drop(plan);
    for k in &needs_xml {
        catalogs.remove(k);
    }
    catalogs.extend(acquire_all(cfg, fetcher, &needs_xml, Reuse::Parse).await);
    let plan = diff_against(cfg, backend, &catalogs, targets)?;
    Ok((plan, catalogs))
}

/// Plans the acquired catalogs against the backend's current state, limited to `targets`.
pub fn diff_against(
    cfg: &Config,
    backend: &Store,
    catalogs: &BTreeMap<String, Acquired>,
    targets: &[Address],
) -> Result<Plan, StoreError> {
    let actual = backend.snapshot()?;
    let inputs = plan::diff::Inputs {
        desired: cfg,
        catalogs,
        actual: &actual,
        capabilities: backend.capabilities(),
        backend: backend.name(),
        now: chrono::Utc::now(),
    };
    let mut plan = plan::diff::diff(&inputs);
    let unknown = plan::targets::unknown(targets, cfg, &actual, catalogs);
    plan::targets::select(&mut plan, targets, cfg);
    plan.diagnostics.extend(unknown);
    plan.diagnostics
        .extend(plan::budget::check(&plan, cfg.server.max_deletions));
    plan.server = Some(backend.identity()?);
    Ok(plan)
}

/// Where plans are saved before they are applied, so `apply --resume` (and the daemon's
/// next start) can find an interrupted one.
pub fn plans_dir(cfg: &Config) -> std::path::PathBuf {
    cfg.server.path.join("plans")
}

/// Where apply finds content: the fetcher, and each catalog's `content_source` folder.
pub fn content_context<'a>(cfg: &Config, fetcher: &'a Fetcher) -> ContentContext<'a> {
    ContentContext {
        fetcher: Some(fetcher),
        sources: cfg
            .catalogs
            .iter()
            .filter_map(|(k, c)| c.content_source.clone().map(|s| (k.clone(), s)))
            .collect(),
        now: Utc::now(),
    }
}
