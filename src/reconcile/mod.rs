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
pub mod hydrate;
pub mod locked;
pub mod observe;
pub mod pass;
pub mod prune;
pub mod record;
pub mod schedule;
pub mod signing;
pub mod status;
mod summaries;
pub mod watcher;
pub mod windows;

use std::collections::BTreeMap;

use chrono::Utc;
use futures::StreamExt;

use crate::apply::ContentContext;
use crate::catalog::acquire::{Acquired, Reuse, acquire};
use crate::catalog::fetch::{Fetcher, HttpSettings};
use crate::config::Config;
use crate::plan::{self, Plan};
use crate::store::{ActualState, Address, Store, StoreError, Target};

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

/// How many catalogs are acquired (or parsed again) at once: each holds a whole parsed
/// catalog while it is parsed.
const AT_ONCE: usize = 4;

/// Acquires the subscribed catalogs (those named in `only`, when given), a few at a time.
pub async fn acquire_all(
    cfg: &Config,
    fetcher: &Fetcher,
    only: &[String],
    reuse: Reuse,
) -> BTreeMap<String, Acquired> {
    let now = Utc::now();
    // A suspended catalog is acquired only when named (plan::suspend).
    let wanted = cfg.catalogs.values().filter(|c| {
        c.subscribed
            && if only.is_empty() {
                !c.suspend
            } else {
                only.contains(&c.key)
            }
    });
    let jobs = wanted.map(|c| acquire(cfg, c, fetcher, now, reuse));
    let results: Vec<Acquired> = futures::stream::iter(jobs)
        .buffer_unordered(AT_ONCE)
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

/// Acquires (unchanged catalogs from their parsed summaries), takes one snapshot of the
/// backend and plans once. Publish payloads are summary records: apply reads their XML
/// from the CABs the plan records (`reconcile::hydrate`). When the plan publishes or
/// revises from a catalog read from its summary, the summary is checked against the CAB
/// first (`reconcile::summaries`).
///
/// When that check fails, the plan is made again rather than refused: the catalog's parse
/// stands in for its summary when the two disagree, and a catalog whose cached CAB is
/// gone, was replaced by a later fetch or no longer passes the gate is acquired again and
/// parsed; then one more diff, against the same snapshot. A refusal would fail a plan (or a
/// daemon's pass) over a cache hiccup that planning again resolves, and for a summary that
/// misled the first diff only a new diff gives the right actions. This path is rare: the
/// CAB was verified moments before, under the state directory's cache.
pub async fn plan_catalogs(
    cfg: &Config,
    backend: &Store,
    fetcher: &Fetcher,
    only: &[String],
    targets: &[Address],
) -> Result<(Plan, BTreeMap<String, Acquired>), StoreError> {
    let mut catalogs = acquire_all(cfg, fetcher, only, Reuse::Summary).await;
    // What the parses and summary loads freed on their threads goes back before the
    // snapshot is read on this one (`allocator`).
    crate::allocator::release_freed();
    let actual = backend.snapshot()?;
    let plan = diff_with(cfg, backend, &actual, &catalogs, targets)?;
    let fallbacks = summaries::check(cfg, fetcher, &catalogs, &plan).await;
    if fallbacks.is_empty() {
        // Freeing 100,000 stored updates took a twentieth of a no-op plan, on the path to
        // its output; nothing waits for that memory.
        crate::allocator::drop_aside(actual);
        return Ok((plan, catalogs));
    }
    drop(plan);
    let mut again = Vec::new();
    for (key, fallback) in fallbacks {
        match fallback {
            summaries::Fallback::Disagrees(parsed) => {
                tracing::warn!(catalog = %key, "the catalog's parsed summary disagrees with its CAB; planning it from the CAB");
                if let Some(a) = catalogs.get_mut(&key) {
                    a.acquisition = *parsed;
                    a.from_summary = false;
                }
            }
            summaries::Fallback::Unavailable(e) => {
                tracing::warn!(catalog = %key, error = %e, "cannot parse the catalog again from its cached CAB; acquiring it again");
                catalogs.remove(&key);
                again.push(key);
            }
        }
    }
    // `acquire_all` with no key would acquire every catalog. Parsed, not summarised: the
    // summary was not confirmed.
    if !again.is_empty() {
        catalogs.extend(acquire_all(cfg, fetcher, &again, Reuse::Parse).await);
    }
    let plan = diff_with(cfg, backend, &actual, &catalogs, targets)?;
    Ok((plan, catalogs))
}

/// Plans the acquired catalogs against the backend's current state, limited to `targets`.
pub fn diff_against(
    cfg: &Config,
    backend: &Store,
    catalogs: &BTreeMap<String, Acquired>,
    targets: &[Address],
) -> Result<Plan, StoreError> {
    diff_with(cfg, backend, &backend.snapshot()?, catalogs, targets)
}

/// [`diff_against`] a snapshot the caller took, so one plan reads the backend's state once
/// even when it is made again.
pub fn diff_with(
    cfg: &Config,
    backend: &Store,
    actual: &ActualState,
    catalogs: &BTreeMap<String, Acquired>,
    targets: &[Address],
) -> Result<Plan, StoreError> {
    let now = chrono::Utc::now();
    let inputs = plan::diff::Inputs {
        desired: cfg,
        catalogs,
        actual,
        capabilities: backend.capabilities(),
        backend: backend.name(),
        now,
        signing: signing::prepare(cfg, backend, actual, now),
    };
    let mut plan = plan::diff::diff(&inputs);
    plan::suspend::hold(&mut plan, cfg, catalogs);
    let unknown = plan::targets::unknown(targets, cfg, actual, catalogs);
    plan::targets::select(&mut plan, targets, cfg);
    plan.diagnostics.extend(unknown);
    plan::limits::check(&mut plan, actual);
    plan.diagnostics
        .extend(plan::budget::check(&plan, cfg.server.max_deletions));
    plan.server = Some(backend.identity()?);
    Ok(plan)
}

/// Lets go of what apply no longer needs once `plan` is made: the catalogs' update records
/// and the summary records the payloads shared with them (apply reads the packages from
/// the CABs), and the memory they held.
pub fn shed_before_apply(plan: &mut Plan, acquired: &mut BTreeMap<String, Acquired>) {
    acquired.values_mut().for_each(Acquired::shed_updates);
    plan.refer_to_packages();
    crate::allocator::release_freed();
}

/// Where plans are saved before they are applied, so `apply --resume` (and the daemon's
/// next start) can find an interrupted one.
pub fn plans_dir(cfg: &Config) -> std::path::PathBuf {
    cfg.server.path.join("plans")
}

/// After an apply of `applied`: prunes the saved plans beyond `[server] keep_plans`,
/// keeping `applied` and the plan the last journal names (what `apply --resume` needs).
/// Best effort: a plan left behind costs disk, not correctness, so a failure is logged.
pub fn prune_saved_plans(cfg: &Config, backend: &Store, applied: &crate::store::PlanId) {
    let mut protect: std::collections::BTreeSet<String> = [applied.to_string()].into();
    if let Ok(Some(j)) = backend.last_journal() {
        protect.insert(j.plan.to_string());
    }
    match prune::plans(
        &plans_dir(cfg),
        cfg.server.keep_plans as usize,
        &protect,
        false,
    ) {
        Ok(p) if !p.files.is_empty() => {
            tracing::debug!(
                removed = p.files.len(),
                bytes = p.bytes,
                "pruned saved plans"
            );
        }
        Ok(_) => {}
        Err(e) => tracing::warn!(error = %e, "could not prune the saved plans"),
    }
}

/// Where apply finds content: the fetcher, and for each catalog its `content_source` folder
/// then the content `import-bundle` installed in the state directory
/// (`<state>/bundle-content/`, see [`crate::bundle`]). Each file found counts only when its
/// digest is the catalog's, so a folder that holds another catalog's files does no harm.
///
/// `packages` reads the package XML the plan refers to (`hydrate::prepare`).
pub fn content_context<'a>(
    cfg: &Config,
    fetcher: &'a Fetcher,
    packages: &'a hydrate::CabPackages,
) -> ContentContext<'a> {
    let imported = crate::bundle::installed_content(&cfg.server.path);
    let imported = imported.is_dir().then_some(imported);
    ContentContext {
        packages: Some(packages),
        fetcher: Some(fetcher),
        sources: cfg
            .catalogs
            .iter()
            .map(|(k, c)| {
                let dirs: Vec<_> = c
                    .content_source
                    .iter()
                    .chain(imported.iter())
                    .cloned()
                    .collect();
                (k.clone(), dirs)
            })
            .filter(|(_, dirs)| !dirs.is_empty())
            .collect(),
        now: Utc::now(),
    }
}
