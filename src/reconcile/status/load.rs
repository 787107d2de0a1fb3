//! Reading what the report needs from a backend, once: `supctl status` and the daemon's
//! warning log share it.

use chrono::{DateTime, Utc};

use super::{Inputs, InterruptedApply};
use crate::config::Config;
use crate::reconcile::pass::{PassError, interrupted_plan};
use crate::store::{
    ActualState, Finding, NextRun, Outcome, RecordedMessage, ShippedCertificates, Store,
    StoreError, SyncRun,
};

/// The store's contents the report reads.
pub struct Loaded {
    pub actual: ActualState,
    pub runs: Vec<SyncRun>,
    pub messages: Vec<RecordedMessage>,
    pub next_runs: Vec<NextRun>,
    pub findings: Vec<Finding>,
    pub shipped: Vec<ShippedCertificates>,
    pub interrupted: Option<InterruptedApply>,
    pub exported: Option<crate::signing::keys::ExportRecord>,
    /// WSUS's counts per update, read only when the server holds approvals.
    pub compliance:
        Option<std::collections::BTreeMap<crate::ids::UpdateId, crate::store::Compliance>>,
}

impl Loaded {
    pub fn inputs<'a>(&'a self, cfg: &'a Config, now: DateTime<Utc>) -> Inputs<'a> {
        Inputs {
            cfg,
            actual: &self.actual,
            runs: &self.runs,
            messages: &self.messages,
            next_runs: &self.next_runs,
            findings: &self.findings,
            shipped: &self.shipped,
            interrupted: self.interrupted.as_ref(),
            exported: self.exported.as_ref(),
            compliance: self.compliance.as_ref(),
            now,
        }
    }
}

/// Reads the newest `runs` sync runs and `messages` status messages with everything else.
/// `lock_holder` names the process holding the state lock, if any (it may be running the
/// last plan rather than have left it).
pub fn load(
    cfg: &Config,
    backend: &Store,
    runs: usize,
    messages: usize,
    lock_holder: Option<String>,
) -> Result<Loaded, StoreError> {
    let actual = backend.snapshot()?;
    let compliance = if actual.approvals.is_empty() {
        None
    } else {
        match backend.server().compliance() {
            Ok(c) => Some(c),
            // A server without computers (the embedded one) lists approvals without counts.
            Err(StoreError::Unsupported { .. }) => None,
            Err(e) => return Err(e),
        }
    };
    Ok(Loaded {
        actual,
        compliance,
        runs: backend.sync_runs(runs)?,
        messages: backend.status_messages(messages)?,
        next_runs: backend.next_runs()?,
        findings: backend.findings()?,
        shipped: backend.shipped_certificates()?,
        interrupted: interrupted(cfg, backend, lock_holder)?,
        exported: crate::signing::KeyDir::new(&cfg.server.path).last_export(),
    })
}

fn interrupted(
    cfg: &Config,
    backend: &Store,
    lock_holder: Option<String>,
) -> Result<Option<InterruptedApply>, StoreError> {
    let plan = match interrupted_plan(cfg, backend) {
        Ok(Some(plan)) => plan,
        Ok(None) => return Ok(None),
        Err(PassError::Store(e)) => return Err(e),
        // The plan file is unreadable: nothing to say about it here.
        Err(_) => return Ok(None),
    };
    let Some(journal) = backend.last_journal()? else {
        return Ok(None);
    };
    let done = journal
        .entries
        .iter()
        .filter(|e| e.outcome == Outcome::Done)
        .map(|e| e.key())
        .collect::<std::collections::HashSet<_>>()
        .len();
    Ok(Some(InterruptedApply {
        plan: plan.id.clone(),
        last_action: journal
            .entries
            .iter()
            .map(|e| e.at)
            .max()
            .unwrap_or_default(),
        done,
        actions: plan
            .actions
            .iter()
            .filter(|a| a.unsupported.is_none())
            .count(),
        lock_holder,
    }))
}
