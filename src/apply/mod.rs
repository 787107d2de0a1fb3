//! Executing a plan against a backend: exactly the planned actions, in dependency order,
//! each checked against the state it was planned on (compare-and-swap per object), each
//! outcome journaled before the next begins, resumable after a crash.

mod content;
mod downloads;
mod execute;
mod packages;
mod signing;
mod staging;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

pub(crate) use content::ext_of;
pub use content::{ContentContext, StageError, hash_stream};
pub use packages::{PackageError, PackageReader, Packages};

use crate::plan::{Action, ActionKind, Plan};
use crate::store::{
    Address, DoneEntry, Fingerprint, Journal, JournalEntry, JournalKey, JournalRole, Op, Outcome,
    PlanId, Record, Store, StoreError,
};

#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    #[error(
        "the plan has {count} destructive actions (expire, delete, replace, unsubscribe); the limit is {max}: review the plan, then raise [server] max_deletions if it is intended"
    )]
    Budget { count: usize, max: u32 },
    #[error(
        "plan {0} was already applied; make a new plan with `supctl plan`: it holds only what is still to change"
    )]
    AlreadyApplied(PlanId),
    #[error("there is no interrupted apply to resume in this state directory")]
    NothingToResume,
    #[error(
        "plan {plan} was made for {planned_for} (config {config}), not for {actual}: apply it with `-c {config}`, or make a new plan for this server"
    )]
    OtherServer {
        plan: PlanId,
        planned_for: Box<crate::store::ServerIdentity>,
        actual: Box<crate::store::ServerIdentity>,
        config: String,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
}

#[derive(Debug, Clone)]
pub struct ApplyOptions {
    pub resume: bool,
    pub max_deletions: u32,
    /// Content files acquired at once (`[http] concurrency`), across all updates.
    pub concurrency: usize,
    /// How progress is shown: a bar on a terminal, one line per action otherwise.
    pub progress: Progress,
    /// Set by the `watch` daemon on SIGTERM/SIGINT: checked before each action (batch)
    /// starts; the running one finishes and is journaled, the rest are reported as not
    /// attempted, so `apply --resume` (or the next daemon start) continues the plan.
    pub cancel: Option<Arc<AtomicBool>>,
}

/// Progress output of an apply. A bar counts actions on a terminal; elsewhere (CI logs,
/// the daemon's log file) one line per action is easier to read and grep.
#[derive(Debug, Clone, Default)]
pub enum Progress {
    #[default]
    Quiet,
    Lines,
    Bar(indicatif::ProgressBar),
}

impl Progress {
    /// A bar when standard error is a terminal, plain lines otherwise.
    pub fn for_stderr() -> Self {
        use std::io::IsTerminal as _;
        if std::io::stderr().is_terminal() {
            let bar = indicatif::ProgressBar::new(0);
            if let Ok(style) = indicatif::ProgressStyle::with_template(
                "{bar:30.cyan/blue} {pos}/{len} actions  {wide_msg}",
            ) {
                bar.set_style(style);
            }
            Progress::Bar(bar)
        } else {
            Progress::Lines
        }
    }

    fn start(&self, total: usize) {
        if let Progress::Bar(b) = self {
            b.set_length(total as u64);
        }
    }

    /// `n` actions finished; `line` describes them.
    pub(crate) fn step(&self, n: usize, line: &str) {
        match self {
            Progress::Quiet => {}
            // Never a panic when standard error is a closed pipe (`cli::output`).
            Progress::Lines => crate::errln!("{line}"),
            Progress::Bar(b) => {
                b.inc(n as u64);
                b.set_message(line.to_string());
            }
        }
    }

    /// A line about one file (or a summary of them) while content is staged: printed off a
    /// terminal, shown as the bar's message on one, logged by the daemon (quiet).
    pub(crate) fn note(&self, line: &str) {
        match self {
            Progress::Quiet => tracing::info!("{line}"),
            Progress::Lines => crate::errln!("{line}"),
            Progress::Bar(b) => b.set_message(line.to_string()),
        }
    }

    fn finish(&self) {
        if let Progress::Bar(b) = self {
            b.finish_and_clear();
        }
    }

    /// Downloads draw no bars of their own under an apply bar.
    pub fn is_bar(&self) -> bool {
        matches!(self, Progress::Bar(_))
    }
}

impl ApplyOptions {
    pub fn cancelled(&self) -> bool {
        self.cancel
            .as_ref()
            .is_some_and(|c| c.load(Ordering::SeqCst))
    }
}

/// An action that ran: its address and what it did there (an update's publish and its
/// stage share one address, so the address alone would name it twice).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Done {
    pub address: Address,
    pub action: ActionKind,
}

impl Done {
    fn of(a: &Action) -> Self {
        Self {
            address: a.address.clone(),
            action: a.kind,
        }
    }
}

/// An action that failed and why. The action's kind is kept because one address carries
/// two actions (an update's publish, then its stage): counting by address made a failed
/// stage a failed publish too.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Failed {
    pub address: Address,
    pub action: ActionKind,
    pub error: String,
}

impl Failed {
    fn of(a: &Action, error: String) -> Self {
        Self {
            address: a.address.clone(),
            action: a.kind,
            error,
        }
    }
}

/// What happened to every action: the report apply prints on success and failure alike.
#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct Report {
    pub done: Vec<Done>,
    /// Already done by an earlier, interrupted apply of this plan.
    pub resumed: Vec<Done>,
    pub failed: Vec<Failed>,
    /// The object changed since the plan was made; the action was not attempted.
    pub refused: Vec<(Address, String)>,
    /// The backend cannot perform the action.
    pub unsupported: Vec<(Address, String)>,
    pub not_attempted: Vec<Done>,
}

impl Report {
    pub fn succeeded(&self) -> bool {
        self.failed.is_empty() && self.refused.is_empty() && self.not_attempted.is_empty()
    }
}

/// Tracks what each address should look like before its next action: the plan's
/// before-fingerprint at first, then whatever this apply left there.
struct Expected {
    by_address: HashMap<Address, Option<Fingerprint>>,
}

impl Expected {
    fn check(&self, backend: &Store, a: &Action) -> Result<Option<String>, StoreError> {
        let expected = match self.by_address.get(&a.address) {
            Some(fp) => fp.clone(),
            None => a.before_fingerprint.clone(),
        };
        // A create expects nothing there: asking whether anything is costs one lookup, not
        // a read of the whole object (the object is read only to name what is in the way).
        if expected.is_none() && !backend.present(&a.address)? {
            return Ok(None);
        }
        let current = backend.fingerprint(&a.address)?;
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

    /// Remembers what this apply left at `address` when a later action of the plan acts
    /// on it again (`revisited`): nothing else compares with it, and reading it back after
    /// every publish was a tenth of a first apply.
    fn record(
        &mut self,
        backend: &Store,
        address: &Address,
        revisited: &HashSet<&Address>,
    ) -> Result<(), StoreError> {
        if revisited.contains(address) {
            let fp = backend.fingerprint(address)?;
            self.by_address.insert(address.clone(), fp);
        }
        Ok(())
    }

    /// Seeds the expectations of a resumed apply from its journal: every address an earlier
    /// run of this plan changed is expected as that run left it (the fingerprint in its last
    /// `done` entry), so the plan's later actions on the same object (staging after
    /// publishing) are not refused for the interrupted run's own change, while a change made
    /// by someone else since then still is.
    fn resume_from(&mut self, j: &Journal) {
        for e in j.entries.iter().filter(|e| e.outcome == Outcome::Done) {
            self.by_address.insert(e.address.clone(), e.left.clone());
        }
    }
}

fn short(s: &str) -> String {
    s.chars().take(12).collect()
}

pub(crate) fn journal(
    backend: &Store,
    plan: &PlanId,
    key: &JournalKey,
    outcome: Outcome,
    message: &str,
) -> Result<(), StoreError> {
    backend.apply(Record::Journal(JournalEntry::outcome(
        plan, key, outcome, message,
    )))?;
    Ok(())
}

/// Applies `plan` to `backend`. Errors before the first action (budget, resume) are returned;
/// failures of individual actions are in the report.
pub async fn run(
    plan: &Plan,
    backend: &Store,
    content: &ContentContext<'_>,
    opts: &ApplyOptions,
) -> Result<Report, ApplyError> {
    check_server(plan, backend)?;
    let count = plan.destructive_count();
    if count > opts.max_deletions as usize {
        return Err(ApplyError::Budget {
            count,
            max: opts.max_deletions,
        });
    }
    let plan_id = &plan.id;
    let previous = backend.journal(plan_id)?;
    let done: std::collections::HashSet<JournalKey> = match (&previous, opts.resume) {
        (Some(j), true) => j
            .latest_outcomes()
            .into_iter()
            .filter(|(_, o)| *o == Outcome::Done)
            .map(|(k, _)| k)
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
    if let (Some(j), true) = (&previous, opts.resume) {
        expected.resume_from(j);
    }
    let mut pending: Vec<&Action> = Vec::new();
    for a in &plan.actions {
        if let Some(why) = &a.unsupported {
            report.unsupported.push((a.address.clone(), why.clone()));
        } else if done.contains(&journal_key(a)) {
            report.resumed.push(Done::of(a));
        } else {
            pending.push(a);
        }
    }
    // A finished plan is not "interrupted": resuming it again would report every action as
    // done by an interrupted run.
    if opts.resume && pending.is_empty() {
        return Err(ApplyError::NothingToResume);
    }
    // Addresses more than one pending action acts on (an update published, then staged):
    // the later action expects what the earlier one left there.
    let revisited: HashSet<&Address> = {
        let mut seen = HashSet::with_capacity(pending.len());
        pending
            .iter()
            .filter(|a| !seen.insert(&a.address))
            .map(|a| &a.address)
            .collect()
    };
    opts.progress.start(pending.len());
    let mut reading = packages::Reading::default();
    let mut stop = false;
    let mut i = 0;
    while i < pending.len() {
        if stop || opts.cancelled() {
            report
                .not_attempted
                .extend(pending[i..].iter().map(|a| Done::of(a)));
            break;
        }
        // Metadata publishing is batched per catalog: one transaction per batch.
        let start = i;
        let batch_end = execute::batch_end(&pending, i);
        let batch = &pending[i..batch_end];
        i = batch_end;
        let mut ready = Vec::new();
        for a in batch {
            match expected.check(backend, a)? {
                Some(why) => {
                    opts.progress.step(1, &format!("{}: refused", a.address));
                    report.refused.push((a.address.clone(), why));
                }
                None => ready.push(*a),
            }
        }
        if ready.is_empty() {
            continue;
        }
        if ready[0].kind == ActionKind::Stage {
            let outcomes = staging::stage_all(backend, content, &ready, opts, plan_id).await;
            for (a, result) in ready.iter().zip(outcomes) {
                match result {
                    Some(Ok(fp)) => {
                        expected.by_address.insert(a.address.clone(), fp);
                        report.done.push(Done::of(a));
                    }
                    Some(Err(e)) => report.failed.push(Failed::of(a, e)),
                    None => report.not_attempted.push(Done::of(a)),
                }
            }
            continue;
        }
        // The packages a batch of publishes writes, read from their catalog when the plan
        // refers to them; a package that cannot be read fails the batch like a write would.
        let updates = if matches!(ready[0].kind, ActionKind::Publish | ActionKind::Revise) {
            reading
                .records_for(content.packages, &ready, &pending[start..])
                .map_err(|e| e.to_string())
        } else {
            Ok(Default::default())
        };
        // The batch's operations and its `done` journal entries in one transaction: a kill
        // leaves either all of it (journaled) or none of it.
        let atomic = updates.and_then(|(updates, packed)| {
            execute::batch_ops(backend, &ready, updates, packed)
                .and_then(|ops| {
                    let done = ready
                        .iter()
                        .map(|a| DoneEntry {
                            plan: plan_id.clone(),
                            key: journal_key(a),
                            what: a.kind.as_str().to_string(),
                        })
                        .collect();
                    backend.apply(Op::Atomic { ops, done })
                })
                .map_err(|e| e.to_string())
        });
        match atomic {
            Ok(_) => {
                for a in &ready {
                    expected.record(backend, &a.address, &revisited)?;
                }
                for a in &ready {
                    if ready.len() == 1 {
                        opts.progress
                            .step(1, &format!("{}: {} done", a.address, a.kind));
                    }
                    report.done.push(Done::of(a));
                }
                if ready.len() > 1 {
                    opts.progress.step(
                        ready.len(),
                        &format!(
                            "{} {} actions done ({} ...)",
                            ready.len(),
                            ready[0].kind,
                            ready[0].address
                        ),
                    );
                }
            }
            Err(msg) => {
                for a in &ready {
                    journal(backend, plan_id, &journal_key(a), Outcome::Failed, &msg)?;
                    report.failed.push(Failed::of(a, msg.clone()));
                }
                stop = true;
            }
        }
    }
    opts.progress.finish();
    // Content whose records a hygiene rule removed leaves its files behind until now, so
    // that a crash never leaves a record without its file; an error here leaves orphans
    // that `store gc` removes, and fails nothing that was applied.
    if plan.actions.iter().any(|a| a.kind == ActionKind::Unstage)
        && let Err(e) = backend.server().collect_garbage()
    {
        tracing::warn!(error = %e, "could not remove the content files no update uses; `supctl store gc` removes them");
    }
    // The apply ran to its end (every action done, failed, refused or unsupported, or the
    // rest given up after a failure): say so, so that finding an interrupted apply does not
    // have to read this plan again (a plan file can hold a hundred thousand packages).
    if !opts.cancelled() || report.not_attempted.is_empty() {
        journal(
            backend,
            plan_id,
            &JournalKey::apply_ended(),
            Outcome::Done,
            "ran to its end",
        )?;
    }
    // A long apply leaves a large write-ahead log; a daemon would keep it until its next
    // write. Nothing applied depends on it.
    if let Err(e) = backend.state().db().checkpoint() {
        tracing::warn!(error = %e, "could not empty the state database's write-ahead log; the next write does");
    }
    Ok(report)
}

/// Refuses a plan made for another server (plans saved before plans recorded their server
/// carry none and are not checked).
pub fn check_server(plan: &Plan, backend: &Store) -> Result<(), ApplyError> {
    let Some(planned_for) = &plan.server else {
        return Ok(());
    };
    let actual = backend.identity()?;
    if planned_for.same_server(&actual) {
        return Ok(());
    }
    Err(ApplyError::OtherServer {
        plan: plan.id.clone(),
        planned_for: Box::new(planned_for.clone()),
        actual: Box::new(actual),
        config: plan.config.clone(),
    })
}

/// Journal key of an action: its address, plus what tells apart several actions on one
/// address: an update published and then staged. Certificate addresses carry their role
/// (`certificate[T].content`), so each role is its own object already.
pub fn journal_key(a: &Action) -> JournalKey {
    let role = match a.kind {
        // Never both on one update in one plan: content is not staged for an update whose
        // content a hygiene rule removes.
        ActionKind::Stage | ActionKind::Unstage => JournalRole::Stage,
        ActionKind::Decline | ActionKind::Undecline => JournalRole::Hygiene,
        _ => JournalRole::Change,
    };
    JournalKey::new(a.address.clone(), role)
}

// Plan, apply, plan again: convergence. Here rather than in `plan/` so that the planner's
// modules never import apply (the dependency runs one way).
#[cfg(test)]
mod converge_approval_tests;
#[cfg(test)]
mod converge_hygiene_tests;
#[cfg(test)]
mod converge_tests;
#[cfg(test)]
mod packages_tests;
#[cfg(test)]
mod tests;
