//! Executing a plan against a backend: exactly the planned actions, in dependency order,
//! each checked against the state it was planned on (compare-and-swap per object), each
//! outcome journaled before the next begins, resumable after a crash.

mod content;
mod execute;

use std::collections::HashMap;

use chrono::Utc;

pub use content::{ContentContext, StageError, hash_stream};

use crate::plan::{Action, ActionKind, Plan};
use crate::store::{Address, Backend, Fingerprint, JournalEntry, Op, Outcome, PlanId, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    #[error(
        "the plan has {count} destructive actions (expire, delete, replace, unsubscribe); the limit is {max}: review the plan, then raise [server] max_deletions if it is intended"
    )]
    Budget { count: usize, max: u32 },
    #[error(
        "plan {0} was already applied (in part); run `supctl apply --resume` to continue it, or make a new plan"
    )]
    AlreadyApplied(String),
    #[error("there is no interrupted apply to resume in this state directory")]
    NothingToResume,
    #[error("plan {0}: {1}")]
    Invalid(String, String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

#[derive(Debug, Clone)]
pub struct ApplyOptions {
    pub resume: bool,
    pub max_deletions: u32,
    /// Parallel content downloads.
    pub concurrency: usize,
    /// Print one line per action (when no progress bar is shown).
    pub progress_lines: bool,
}

/// What happened to every action: the report apply prints on success and failure alike.
#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct Report {
    pub done: Vec<String>,
    /// Already done by an earlier, interrupted apply of this plan.
    pub resumed: Vec<String>,
    pub failed: Vec<(String, String)>,
    /// The object changed since the plan was made; the action was not attempted.
    pub refused: Vec<(String, String)>,
    /// The backend cannot perform the action.
    pub unsupported: Vec<(String, String)>,
    pub not_attempted: Vec<String>,
}

impl Report {
    pub fn succeeded(&self) -> bool {
        self.failed.is_empty() && self.refused.is_empty() && self.not_attempted.is_empty()
    }
}

/// Tracks what each address should look like before its next action: the plan's
/// before-fingerprint at first, then whatever this apply left there.
struct Expected {
    by_address: HashMap<String, Option<Fingerprint>>,
}

impl Expected {
    fn check(&self, backend: &dyn Backend, a: &Action) -> Result<Option<String>, StoreError> {
        let address = Address::parse(&a.address).map_err(|e| StoreError::Invalid {
            what: "address",
            value: e.to_string(),
        })?;
        let current = backend.fingerprint(&address)?;
        let expected = match self.by_address.get(&a.address) {
            Some(fp) => fp.clone(),
            None => a
                .before_fingerprint
                .as_deref()
                .map(Fingerprint::parse)
                .transpose()
                .map_err(|e| StoreError::Invalid {
                    what: "fingerprint",
                    value: e.to_string(),
                })?,
        };
        Ok((current != expected).then(|| {
            format!(
                "{} changed since the plan was made (expected {}, found {}); make a new plan",
                a.address,
                expected
                    .as_ref()
                    .map_or("absent".to_string(), |f| short(f.as_str())),
                current
                    .as_ref()
                    .map_or("absent".to_string(), |f| short(f.as_str()))
            )
        }))
    }

    fn record(&mut self, backend: &dyn Backend, address: &str) -> Result<(), StoreError> {
        let parsed = Address::parse(address).map_err(|e| StoreError::Invalid {
            what: "address",
            value: e.to_string(),
        })?;
        self.by_address
            .insert(address.to_string(), backend.fingerprint(&parsed)?);
        Ok(())
    }
}

fn short(s: &str) -> String {
    s.chars().take(12).collect()
}

pub(crate) fn journal(
    backend: &dyn Backend,
    plan: &PlanId,
    address: &str,
    outcome: Outcome,
    message: &str,
) -> Result<(), StoreError> {
    let address = Address::parse(address).map_err(|e| StoreError::Invalid {
        what: "address",
        value: e.to_string(),
    })?;
    backend.apply(Op::JournalAppend(JournalEntry {
        plan: plan.clone(),
        address,
        outcome,
        message: message.to_string(),
        at: Utc::now(),
    }))?;
    Ok(())
}

/// Applies `plan` to `backend`. Errors before the first action (budget, resume) are returned;
/// failures of individual actions are in the report.
pub async fn run(
    plan: &Plan,
    backend: &dyn Backend,
    content: &ContentContext<'_>,
    opts: &ApplyOptions,
) -> Result<Report, ApplyError> {
    let count = plan.destructive_count();
    if count > opts.max_deletions as usize {
        return Err(ApplyError::Budget {
            count,
            max: opts.max_deletions,
        });
    }
    let plan_id =
        PlanId::parse(&plan.id).map_err(|e| ApplyError::Invalid(plan.id.clone(), e.to_string()))?;
    let previous = backend.journal(&plan_id)?;
    let done: std::collections::HashSet<String> = match (&previous, opts.resume) {
        (Some(j), true) => j
            .entries
            .iter()
            .filter(|e| j.latest(&e.address) == Some(Outcome::Done))
            .map(|e| e.address.to_string())
            .collect(),
        (None, true) => return Err(ApplyError::NothingToResume),
        (Some(j), false) if !j.entries.is_empty() => {
            return Err(ApplyError::AlreadyApplied(plan.id.clone()));
        }
        _ => Default::default(),
    };
    let mut report = Report::default();
    let mut expected = Expected {
        by_address: HashMap::new(),
    };
    let mut pending: Vec<&Action> = Vec::new();
    for a in &plan.actions {
        if let Some(why) = &a.unsupported {
            report.unsupported.push((a.address.clone(), why.clone()));
        } else if done.contains(&key(a)) {
            report.resumed.push(a.address.clone());
        } else {
            pending.push(a);
        }
    }
    let mut stop = false;
    let mut i = 0;
    while i < pending.len() {
        if stop {
            report
                .not_attempted
                .extend(pending[i..].iter().map(|a| a.address.clone()));
            break;
        }
        // Metadata publishing is batched per catalog: one transaction per batch.
        let batch_end = execute::batch_end(&pending, i);
        let batch = &pending[i..batch_end];
        i = batch_end;
        let mut ready = Vec::new();
        for a in batch {
            match expected.check(backend, a)? {
                Some(why) => report.refused.push((a.address.clone(), why)),
                None => ready.push(*a),
            }
        }
        if ready.is_empty() {
            continue;
        }
        if ready[0].kind == ActionKind::Stage {
            let outcomes = content::stage_all(backend, content, &ready, opts, &plan_id).await;
            for (a, result) in ready.iter().zip(outcomes) {
                match result {
                    Ok(()) => {
                        expected.record(backend, &a.address)?;
                        report.done.push(a.address.clone());
                    }
                    Err(e) => report.failed.push((a.address.clone(), e)),
                }
            }
            continue;
        }
        match execute::apply_batch(backend, &ready) {
            Ok(()) => {
                let entries: Vec<&Action> = ready.clone();
                for a in entries {
                    journal(backend, &plan_id, &key(a), Outcome::Done, a.kind.as_str())?;
                    expected.record(backend, &a.address)?;
                    if opts.progress_lines && ready.len() == 1 {
                        eprintln!("{}: {} done", a.address, a.kind);
                    }
                    report.done.push(a.address.clone());
                }
                if opts.progress_lines && ready.len() > 1 {
                    eprintln!(
                        "{} {} actions done ({} ...)",
                        ready.len(),
                        ready[0].kind,
                        ready[0].address
                    );
                }
            }
            Err(e) => {
                let msg = e.to_string();
                for a in &ready {
                    journal(backend, &plan_id, &key(a), Outcome::Failed, &msg)?;
                    report.failed.push((a.address.clone(), msg.clone()));
                }
                stop = true;
            }
        }
    }
    Ok(report)
}

/// Journal key of an action: its address, plus the kind when one address has several actions
/// (an update published and then staged).
fn key(a: &Action) -> String {
    if a.kind == ActionKind::Stage {
        format!("{}#stage", a.address)
    } else {
        a.address.clone()
    }
}
