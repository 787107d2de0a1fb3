//! The status report (`supctl status`, and the daemon's warnings): per catalog what the
//! console's "Third-Party Software Update Catalogs" node and the sync log show, plus the
//! warnings no anchor product gives. A pure function of the store's contents and the config.

mod approvals;
mod load;
mod warnings;

pub(crate) use warnings::{signing_horizon, when as expiry_phrase};

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::config::{Config, Schedule};
use crate::ids::Thumbprint;
use crate::store::{
    ActualState, CertKind, Finding, FindingKind, NextRun, RecordedMessage, RunResult,
    ShippedCertificates, SyncRun, UpdateState,
};
use crate::trust::CertificateFacts;

pub use approvals::ApprovedUpdate;
pub use load::{Loaded, load};

/// Warn about certificates that expire within this many days.
pub const EXPIRY_WARNING_DAYS: i64 = 30;
/// Status messages shown per scope.
const MESSAGES_PER_SCOPE: usize = 5;

/// Everything the store knows, read once.
pub struct Inputs<'a> {
    pub cfg: &'a Config,
    pub actual: &'a ActualState,
    /// Newest first.
    pub runs: &'a [SyncRun],
    /// Newest first.
    pub messages: &'a [RecordedMessage],
    pub next_runs: &'a [NextRun],
    /// What passes found and has not been cleared (drift, held back).
    pub findings: &'a [Finding],
    /// The content certificates each catalog ships, with their validity.
    pub shipped: &'a [ShippedCertificates],
    /// The last apply, when it stopped before all its actions were attempted.
    pub interrupted: Option<&'a InterruptedApply>,
    /// What `supctl trust export` last gave clients.
    pub exported: Option<&'a crate::signing::keys::ExportRecord>,
    /// Per update, how the server's computers stand with it (WSUS only).
    pub compliance:
        Option<&'a std::collections::BTreeMap<crate::ids::UpdateId, crate::store::Compliance>>,
    pub now: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Report {
    /// "1"; a new major version means renamed or removed fields.
    pub format_version: &'static str,
    pub generated: DateTime<Utc>,
    pub catalogs: Vec<CatalogStatus>,
    pub update_point: UpdatePointStatus,
    /// The WSUS signing certificate in force (content published with files is signed by it),
    /// when the server has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signing: Option<CertStatus>,
    /// Drift left alone by a monitor-only daemon, plans held back by `max_deletions`.
    pub findings: Vec<FindingStatus>,
    /// The last apply, when it was interrupted (or is running now).
    pub interrupted_apply: Option<InterruptedApply>,
    /// The updates approved for computer groups, with their computers' counts on WSUS.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub approvals: Vec<ApprovedUpdate>,
    pub warnings: Vec<Warning>,
    /// False when a subscribed catalog's last sync failed or a plan is held back by
    /// `max_deletions` (`status` exits 1).
    pub healthy: bool,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct FindingStatus {
    /// `catalog.<key>`, `certificate[...]`, `sync` or `signing`.
    pub scope: String,
    /// `drift` or `held-back`.
    pub kind: FindingKind,
    pub since: DateTime<Utc>,
    pub seen: DateTime<Utc>,
    pub summary: String,
}

/// An apply that stopped with actions not attempted (SIGTERM, a crash, a lost lock).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct InterruptedApply {
    pub plan: crate::store::PlanId,
    /// When its last action was journaled.
    pub last_action: DateTime<Utc>,
    /// Actions done, of all it plans (unsupported ones excluded).
    pub done: usize,
    pub actions: usize,
    /// The process holding the state lock now, which may be running the plan.
    pub lock_holder: Option<String>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct CatalogStatus {
    pub key: String,
    pub name: String,
    pub subscribed: bool,
    /// `suspend = true`: not scheduled, not planned unless named.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub suspended: bool,
    pub schedule: Option<String>,
    pub signers: Vec<CertStatus>,
    pub content_certificates: Vec<CertStatus>,
    pub last_sync: Option<RunStatus>,
    pub last_success: Option<DateTime<Utc>>,
    pub next_sync: Option<DateTime<Utc>>,
    /// The catalog revision in force: the CAB the last successful apply took its updates
    /// from (none before the first one).
    pub revision: Option<crate::store::CatalogRevision>,
    pub updates: UpdateCounts,
    pub messages: Vec<MessageStatus>,
    /// The sync windows governing it (`[[window]]`), when any does.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub window: Option<WindowStatus>,
}

/// Whether the daemon may apply a catalog now, and when that changes.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct WindowStatus {
    pub open: bool,
    /// Why it is closed.
    pub reason: Option<String>,
    /// When it next opens (closed) or closes (open).
    pub next_change: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct UpdatePointStatus {
    pub schedule: Option<String>,
    /// `[sync] suspend = true`.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub suspended: bool,
    pub last_sync: Option<RunStatus>,
    pub last_success: Option<DateTime<Utc>>,
    pub next_sync: Option<DateTime<Utc>>,
    pub messages: Vec<MessageStatus>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct CertStatus {
    pub thumbprint: String,
    pub subject: Option<String>,
    pub not_after: Option<DateTime<Utc>>,
    /// `approved` / `blocked` on the server, or absent when it holds no decision.
    pub state: Option<String>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct RunStatus {
    pub started: DateTime<Utc>,
    pub ended: Option<DateTime<Utc>>,
    pub result: RunResult,
    pub published: u64,
    pub revised: u64,
    pub expired: u64,
    pub staged: u64,
    pub failed: u64,
    pub message: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct UpdateCounts {
    pub total: usize,
    pub metadata_only: usize,
    pub deployable: usize,
    pub expired: usize,
    /// Declined (not expired): clients do not see them.
    pub declined: usize,
    /// Not expired, but outside the catalog's selected `categories` (kept: `prune` and
    /// `expire_deselected` are off).
    pub deselected: usize,
    /// Not expired, but superseded by a newer stored update: what hygiene declines.
    pub superseded: usize,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct MessageStatus {
    pub at: DateTime<Utc>,
    /// ConfigMgr's MessageID (11508, …), under the name scripts look for.
    pub code: u32,
    /// The same number, under the name the first report format used.
    pub number: u32,
    pub severity: String,
    pub text: String,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq, PartialOrd, Ord)]
pub struct Warning {
    /// `certificate-expiring`, `sync-overdue`, `signer-changed`, `drift`, `held-back`,
    /// `apply-interrupted`, `trust-outdated` or `suspended`.
    pub code: &'static str,
    /// `catalog.<key>`, `certificate[...]`, `sync`, `signing`, or `apply`.
    pub scope: String,
    pub message: String,
}

fn run_status(r: &SyncRun) -> RunStatus {
    RunStatus {
        started: r.started,
        ended: r.ended,
        result: r.result,
        published: r.counts.published,
        revised: r.counts.revised,
        expired: r.counts.expired,
        staged: r.counts.staged,
        failed: r.counts.failed,
        message: r.message.clone(),
    }
}

fn messages(inp: &Inputs<'_>, scope: &str) -> Vec<MessageStatus> {
    inp.messages
        .iter()
        .filter(|m| {
            m.address.as_ref().is_some_and(|a| {
                a.as_str() == scope
                    || a.as_str().starts_with(&format!("{scope}."))
                    || a.as_str().starts_with(&format!("{scope}["))
            })
        })
        .take(MESSAGES_PER_SCOPE)
        .map(|m| MessageStatus {
            at: m.at,
            code: m.message.number,
            number: m.message.number,
            severity: m.message.severity.to_string(),
            text: m.message.text.clone(),
        })
        .collect()
}

/// A certificate's state on the server and its facts: from the server's copy when it has
/// one, else from the catalog that ships it (a certificate pending approval is known only
/// there; without it `status` used to print "expires never" for expired certificates).
fn cert_status(
    inp: &Inputs<'_>,
    t: &Thumbprint,
    kind: CertKind,
    shipped: &[CertificateFacts],
) -> CertStatus {
    let stored = inp.actual.certificates_matching(t);
    let facts = stored
        .iter()
        .find_map(|c| c.facts.as_deref())
        .or_else(|| shipped.iter().find(|f| f.matches(t)));
    CertStatus {
        thumbprint: t.to_string(),
        subject: facts.map(|f| f.subject.clone()),
        not_after: facts.map(|f| f.not_after),
        state: stored
            .iter()
            .find(|c| c.kind == kind)
            .map(|c| c.state.to_string()),
    }
}

fn window_status(
    windows: &[crate::reconcile::windows::Window],
    key: &str,
    now: DateTime<Utc>,
) -> Option<WindowStatus> {
    use crate::reconcile::windows::{Gate, gate, governs, next_change};
    if !governs(windows, key) {
        return None;
    }
    let (open, reason) = match gate(windows, key, now) {
        Gate::Open => (true, None),
        Gate::Closed { why, .. } => (false, Some(why)),
    };
    Some(WindowStatus {
        open,
        reason,
        next_change: next_change(windows, key, now),
    })
}

/// Builds the report.
pub fn report(inp: &Inputs<'_>) -> Report {
    let windows = crate::reconcile::windows::of_config(inp.cfg);
    let mut warnings = Vec::new();
    let last = |scope: &str, ok_only: bool| {
        inp.runs
            .iter()
            .find(|r| r.scope.as_str() == scope && (!ok_only || r.result == RunResult::Succeeded))
    };
    let next = |scope: &str| {
        inp.next_runs
            .iter()
            .find(|n| n.scope.as_str() == scope)
            .map(|n| n.due)
    };
    let mut keys: Vec<String> = inp.cfg.catalogs.keys().cloned().collect();
    for k in inp.actual.catalogs.keys() {
        if !keys.contains(&k.to_string()) {
            keys.push(k.to_string());
        }
    }
    let mut catalogs = Vec::new();
    for key in keys {
        let scope = format!("catalog.{key}");
        let cfg = inp.cfg.catalogs.get(&key);
        let stored = inp
            .actual
            .catalogs
            .iter()
            .find(|(k, _)| k.to_string() == key)
            .map(|(_, c)| c);
        let revision = stored.and_then(|c| c.revision.clone());
        let stored = stored.map(|c| &c.settings);
        let schedule: Option<Schedule> = cfg
            .map(|c| c.schedule.clone())
            .or_else(|| stored.and_then(|s| s.schedule.as_deref()?.parse().ok()));
        let signers: Vec<Thumbprint> = cfg
            .map(|c| c.signers.clone())
            .or_else(|| stored.map(|s| s.signers.clone()))
            .unwrap_or_default();
        let shipped: &[CertificateFacts] = inp
            .shipped
            .iter()
            .find(|s| s.catalog.as_str() == key)
            .map_or(&[], |s| &s.certificates);
        let content: Vec<Thumbprint> = match stored {
            Some(s) => s.content_certificates.clone(),
            None => shipped.iter().map(|f| (&f.sha1).into()).collect(),
        };
        let mut updates = UpdateCounts::default();
        let selection = cfg.and_then(|c| {
            let tree = inp
                .actual
                .categories
                .iter()
                .find(|(k, _)| k.as_str() == key)?
                .1;
            crate::plan::deselected::selected_by(c, tree)
        });
        for u in inp
            .actual
            .updates
            .values()
            .filter(|u| u.catalog.to_string() == key)
        {
            updates.total += 1;
            match u.state() {
                UpdateState::MetadataOnly => updates.metadata_only += 1,
                UpdateState::Deployable => updates.deployable += 1,
                UpdateState::Expired => updates.expired += 1,
                UpdateState::Declined => updates.declined += 1,
            }
            if u.state() != UpdateState::Expired && !u.superseded_by.is_empty() {
                updates.superseded += 1;
            }
            if crate::plan::deselected::is_deselected(&u.id, u.state(), selection.as_ref()) {
                updates.deselected += 1;
            }
        }
        let st = CatalogStatus {
            name: cfg
                .and_then(|c| c.name.clone())
                .or_else(|| stored.map(|s| s.name.clone()))
                .unwrap_or_else(|| key.clone()),
            subscribed: cfg.map(|c| c.subscribed).unwrap_or(false),
            suspended: cfg.is_some_and(|c| c.suspend),
            schedule: schedule.as_ref().map(|s| s.to_string()),
            signers: signers
                .iter()
                .map(|t| cert_status(inp, t, CertKind::Catalog, &[]))
                .collect(),
            content_certificates: content
                .iter()
                .map(|t| cert_status(inp, t, CertKind::Content, shipped))
                .collect(),
            last_sync: last(&scope, false).map(run_status),
            last_success: last(&scope, true).map(|r| r.started),
            next_sync: next(&scope).filter(|_| !cfg.is_some_and(|c| c.suspend)),
            revision,
            updates,
            messages: messages(inp, &scope),
            window: window_status(&windows, &key, inp.now),
            key,
        };
        if st.subscribed && st.suspended {
            warnings.push(Warning {
                code: "suspended",
                scope: scope.clone(),
                message: format!(
                    "catalog {} is suspended (`suspend = true`): not synchronized until the config resumes it",
                    st.key
                ),
            });
        } else if st.subscribed {
            warnings::catalog(inp, &st, schedule.as_ref(), &mut warnings);
        }
        catalogs.push(st);
    }
    let update_point = UpdatePointStatus {
        schedule: inp
            .cfg
            .sync
            .as_ref()
            .and_then(|s| s.schedule.as_ref())
            .map(|s| s.to_string()),
        suspended: inp.cfg.sync.as_ref().is_some_and(|s| s.suspend),
        last_sync: last("sync", false).map(run_status),
        last_success: last("sync", true).map(|r| r.started),
        next_sync: next("sync").filter(|_| !inp.cfg.sync.as_ref().is_some_and(|s| s.suspend)),
        messages: messages(inp, "sync"),
    };
    let findings: Vec<FindingStatus> = inp
        .findings
        .iter()
        .map(|f| FindingStatus {
            scope: f.scope.to_string(),
            kind: f.kind,
            since: f.since,
            seen: f.seen,
            summary: f.summary.clone(),
        })
        .collect();
    warnings::findings(&findings, &mut warnings);
    warnings::interrupted(inp.interrupted, &mut warnings);
    warnings::signing(inp, &mut warnings);
    let signing = inp
        .actual
        .signing
        .as_ref()
        .and_then(|s| s.certificate.as_ref())
        .map(|t| cert_status(inp, t, CertKind::WsusSigning, &[]));
    let held_back = findings.iter().any(|f| f.kind == FindingKind::HeldBack);
    let healthy = !held_back
        && !catalogs.iter().any(|c| {
            c.subscribed
                && c.last_sync
                    .as_ref()
                    .is_some_and(|r| r.result == RunResult::Failed)
        });
    warnings.sort();
    warnings.dedup();
    Report {
        format_version: "1",
        generated: inp.now,
        catalogs,
        update_point,
        signing,
        findings,
        interrupted_apply: inp.interrupted.cloned(),
        approvals: approvals::approved(inp.actual, inp.compliance),
        warnings,
        healthy,
    }
}
