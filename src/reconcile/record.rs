//! Recording what a synchronization did, as the ConfigMgr sync agent does: one sync run per
//! catalog (and for the update point, `sync`), and the numbered status messages.
//!
//! Shared by `apply`, `sync` and the `watch` daemon so that `status` reads one history
//! whichever command produced it.

use std::collections::{BTreeMap, HashSet};

use chrono::{DateTime, Utc};

use crate::apply::Report;
use crate::catalog::acquire::{Acquired, Acquisition};
use crate::config::Config;
use crate::ids::Thumbprint;
use crate::plan::{self, ActionKind, Plan};
use crate::status::StatusMessage;
use crate::store::{
    Address, CatalogKey, CatalogRevision, Record, RecordedMessage, RunCounts, RunResult, Store,
    StoreError, SyncRun, Target,
};
use crate::trust::authenticode::SignatureReport;

/// The scope an address belongs to: `catalog.k` for anything inside catalog k, else itself.
pub fn scope_of(address: &str) -> String {
    address
        .split(".update[")
        .next()
        .unwrap_or(address)
        .to_string()
}

/// One scope's outcome in a run.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ScopeOutcome {
    pub scope: String,
    pub result: RunResult,
    pub counts: RunCounts,
    /// Why it failed (the first error), when it did.
    pub message: Option<String>,
}

/// What to record for one plan (and, when it was applied, its report).
pub struct RunRecord<'a> {
    pub cfg: &'a Config,
    pub plan: &'a Plan,
    /// `None` when the plan was not applied (monitor-only): no run is recorded, only the
    /// status messages of its errors.
    pub report: Option<&'a Report>,
    pub started: DateTime<Utc>,
    /// Catalogs acquired for the plan: each gets a run even when nothing changed, so
    /// "last sync" means the last time supctl looked, as in the console.
    pub acquired: &'a BTreeMap<String, Acquired>,
    /// Scopes beyond catalogs to record (`sync` for the update point's own run).
    pub extra_scopes: &'a [String],
    /// The apply was cancelled (SIGTERM): its not-attempted scopes end `cancelled`.
    pub cancelled: bool,
}

/// Records the runs and status messages; returns each scope's outcome.
pub fn record_runs(backend: &Store, r: &RunRecord<'_>) -> Result<Vec<ScopeOutcome>, StoreError> {
    let mut per: BTreeMap<String, ScopeOutcome> = BTreeMap::new();
    let entry = |per: &mut BTreeMap<String, ScopeOutcome>, scope: String| {
        per.entry(scope.clone())
            .or_insert_with(|| ScopeOutcome {
                scope,
                result: RunResult::Succeeded,
                counts: RunCounts::default(),
                message: None,
            })
            .clone()
    };
    for k in r.acquired.keys() {
        entry(&mut per, format!("catalog.{k}"));
    }
    for s in r.extra_scopes {
        entry(&mut per, s.clone());
    }
    let empty = Report::default();
    let report = r.report.unwrap_or(&empty);
    // Keyed by address *and* kind: an update's publish and its stage are two actions at one
    // address, and each counts once, under its own kind.
    let failed: BTreeMap<(&str, ActionKind), &str> = report
        .failed
        .iter()
        .map(|f| ((f.address.as_str(), f.action), f.error.as_str()))
        .collect();
    let skipped: HashSet<(&str, ActionKind)> = report
        .not_attempted
        .iter()
        .map(|d| (d.address.as_str(), d.action))
        .collect();
    let fail = |o: &mut ScopeOutcome, result: RunResult, why: &str| {
        if o.result == RunResult::Succeeded || result == RunResult::Failed {
            o.result = result;
        }
        if o.message.is_none() {
            o.message = Some(why.to_string());
        }
    };
    for a in r.plan.actions.iter().filter(|a| {
        matches!(
            a.address.target(),
            Some(Target::Catalog(_) | Target::Update(..) | Target::Sync)
        )
    }) {
        let scope = scope_of(a.address.as_str());
        entry(&mut per, scope.clone());
        let Some(o) = per.get_mut(&scope) else {
            continue;
        };
        let key = (a.address.as_str(), a.kind);
        if let Some(why) = failed.get(&key) {
            o.counts.failed += 1;
            fail(o, RunResult::Failed, why);
            continue;
        }
        if skipped.contains(&key) {
            let result = if r.cancelled {
                RunResult::Cancelled
            } else {
                RunResult::Failed
            };
            fail(
                o,
                result,
                "not attempted: the apply stopped before this action",
            );
            continue;
        }
        if r.report.is_none() {
            continue;
        }
        match a.kind {
            ActionKind::Publish => o.counts.published += 1,
            ActionKind::Revise => o.counts.revised += 1,
            ActionKind::Expire => o.counts.expired += 1,
            ActionKind::Stage => o.counts.staged += 1,
            _ => {}
        }
    }
    let revisions = backend.state().revisions()?;
    for d in &r.plan.diagnostics {
        if d.severity == plan::Severity::Error || d.blocked {
            let scope = scope_of(d.address.as_str());
            entry(&mut per, scope.clone());
            if let Some(o) = per.get_mut(&scope) {
                fail(o, RunResult::Failed, &format!("{}: {}", d.code, d.message));
            }
        }
        // Every numbered message is recorded, warnings (11523) as well as errors, with the
        // severity ConfigMgr gives its number (a blocked 11508 is a warning in the plan only
        // so that the rest applies).
        if let Ok(number) = d.code.parse::<u32>() {
            backend.apply(Record::StatusMessage(RecordedMessage {
                at: Utc::now(),
                address: Some(d.address.clone()),
                message: StatusMessage {
                    number,
                    severity: crate::status::configmgr_severity(number).unwrap_or(d.severity),
                    text: message_text(r, &revisions, d),
                },
            }))?;
        }
    }
    super::observe::record_shipped(backend, r.acquired)?;
    if r.report.is_some() {
        super::observe::after_apply(backend, r.plan, r.acquired)?;
        let ended = Utc::now();
        for o in per.values() {
            let Ok(scope) = Address::parse(&o.scope) else {
                continue;
            };
            backend.apply(Record::SyncRun(SyncRun {
                scope,
                started: r.started,
                ended: Some(ended),
                result: o.result,
                counts: o.counts,
                message: o.message.clone(),
            }))?;
        }
        record_revisions(backend, r.acquired, &per, ended)?;
    }
    Ok(per.into_values().collect())
}

/// Records the catalog revision in force for each catalog whose apply succeeded: the CAB
/// its updates now come from. A failed or cancelled scope keeps the revision it had (part
/// of the new catalog may be on the server, but not all of it), and a catalog the store does
/// not hold (an unsubscribed one) has none to record.
fn record_revisions(
    backend: &Store,
    acquired: &BTreeMap<String, Acquired>,
    per: &BTreeMap<String, ScopeOutcome>,
    at: DateTime<Utc>,
) -> Result<(), StoreError> {
    for (k, a) in acquired {
        let (Some(cab_sha256), Acquisition::Trusted { content, report }) =
            (a.cab_sha256, &a.acquisition)
        else {
            continue;
        };
        let succeeded = per
            .get(&format!("catalog.{k}"))
            .is_some_and(|o| o.result == RunResult::Succeeded);
        let (true, Ok(key)) = (succeeded, CatalogKey::parse(k)) else {
            continue;
        };
        let revision = CatalogRevision {
            cab_sha256,
            signers: signer_thumbprints(report),
            etag: a.etag.clone(),
            format: content.format,
            at,
        };
        backend.apply(Record::Revision {
            key,
            revision: Some(revision),
        })?;
    }
    Ok(())
}

/// The catalog's signers, once each (a dual-signed CAB names one certificate twice).
fn signer_thumbprints(report: &SignatureReport) -> Vec<Thumbprint> {
    let mut out: Vec<Thumbprint> = Vec::new();
    for s in &report.signers {
        let t = Thumbprint::from(&s.certificate.sha1);
        if !out.contains(&t) {
            out.push(t);
        }
    }
    out
}

/// The status message text: 11508 names the old and new signer when the catalog's signer
/// differs from the one recorded at its last successful sync (the case admins most often
/// meet, and the one ConfigMgr's text does not explain); a signer nobody approved, with no
/// earlier sync to compare with or the same signer as then, gets ConfigMgr's text alone.
fn message_text(
    r: &RunRecord<'_>,
    revisions: &BTreeMap<CatalogKey, CatalogRevision>,
    d: &plan::PlanDiagnostic,
) -> String {
    let fallback = d.message.clone();
    if d.code != "11508" {
        return fallback;
    }
    let scope = scope_of(d.address.as_str());
    let key = scope.strip_prefix("catalog.").unwrap_or(&scope);
    let (Some(a), Some(c)) = (r.acquired.get(key), r.cfg.catalogs.get(key)) else {
        return fallback;
    };
    let Acquisition::Untrusted { report } = &a.acquisition else {
        return fallback;
    };
    let now = signer_thumbprints(report);
    let before: Vec<String> = CatalogKey::parse(key)
        .ok()
        .and_then(|k| revisions.get(&k))
        .map(|rev| rev.signers.iter().map(|t| t.to_string()).collect())
        .unwrap_or_default();
    let name = c.name.as_deref().unwrap_or(&c.key);
    let Some(n) = now.first().map(|t| t.to_string()) else {
        return fallback;
    };
    let changed = !before.is_empty() && !before.contains(&n);
    if changed {
        crate::status::catalog_signer_changed(name, &before, &n).text
    } else {
        format!(
            "{} {fallback}",
            crate::status::catalog_signature_failed(name, &n).text
        )
    }
}
