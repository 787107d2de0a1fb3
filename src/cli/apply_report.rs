//! What `apply` says when it ends: the text report with hints that name only what can help,
//! and the one JSON object of `apply --json`.

use serde_json::{Value, json};

use crate::apply::{Done, Report};
use crate::plan;
use crate::store::Address;

/// Version of `apply --json`; the major changes only when a field is renamed or removed.
const JSON_FORMAT: &str = "1";

/// How an apply ended, as `apply --json` names it in `result`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Ending {
    /// Nothing to change.
    NoChanges,
    /// The plan has error diagnostics: nothing was applied.
    PlanHasErrors,
    /// Every action was done.
    Complete,
    /// Some action failed or was refused.
    Errors,
    /// Stopped by a signal, before changing anything or with actions not attempted.
    Interrupted,
}

impl Ending {
    pub(super) fn as_str(self) -> &'static str {
        match self {
            Ending::NoChanges => "no-changes",
            Ending::PlanHasErrors => "plan-has-errors",
            Ending::Complete => "complete",
            Ending::Errors => "errors",
            Ending::Interrupted => "interrupted",
        }
    }
}

/// The `apply --json` object: how it ended, the plan in brief, each action's outcome and the
/// plan's diagnostics.
pub(super) fn json(ending: Ending, plan: Option<&plan::Plan>, report: Option<&Report>) -> Value {
    let empty = Report::default();
    let r = report.unwrap_or(&empty);
    let pairs = |v: &[(Address, String)], what: &str| -> Vec<Value> {
        v.iter()
            .map(|(a, m)| json!({ "address": a, what: m }))
            .collect()
    };
    json!({
        "format_version": JSON_FORMAT,
        "result": ending.as_str(),
        "plan": plan.map(|p| json!({
            "id": p.id,
            "config": p.config,
            "server": p.server,
            "targets": p.targets,
            "changes": p.changes,
            "summary": p.summary,
        })),
        "done": addresses(&r.done),
        "resumed": addresses(&r.resumed),
        "done_actions": r.done,
        "resumed_actions": r.resumed,
        "failed": r.failed.iter().map(|f| json!({ "address": f.address, "error": f.error })).collect::<Vec<_>>(),
        "refused": pairs(&r.refused, "reason"),
        "unsupported": pairs(&r.unsupported, "reason"),
        "not_attempted": r.not_attempted.iter().map(|d| &d.address).collect::<Vec<_>>(),
        "diagnostics": plan.map(|p| p.diagnostics.clone()).unwrap_or_default(),
    })
}

/// Each address once, in the order its first action ran.
fn addresses(done: &[Done]) -> Vec<&str> {
    let mut seen = std::collections::HashSet::new();
    done.iter()
        .map(|d| d.address.as_str())
        .filter(|a| seen.insert(*a))
        .collect()
}

pub(super) fn print(r: &Report, plan: &plan::Plan, interrupted: bool) {
    let n = r.done.len() + r.resumed.len();
    if interrupted {
        crate::outln!(
            "\nApply interrupted: {} done, {} failed, {} refused (changed since planned), {} not attempted.",
            n,
            r.failed.len(),
            r.refused.len(),
            r.not_attempted.len()
        );
    } else if r.succeeded() {
        crate::outln!(
            "\nApply complete: {n} action{} done{}.",
            if n == 1 { "" } else { "s" },
            if r.resumed.is_empty() {
                String::new()
            } else {
                format!(" ({} by the interrupted run)", r.resumed.len())
            }
        );
    } else {
        crate::outln!(
            "\nApply finished with errors: {} done, {} failed, {} refused (changed since planned), {} not attempted.",
            n,
            r.failed.len(),
            r.refused.len(),
            r.not_attempted.len()
        );
    }
    if !r.succeeded() {
        for f in &r.failed {
            crate::outln!("  failed        {}: {}", f.address, f.error);
        }
        for (a, why) in &r.refused {
            crate::outln!("  refused       {a}: {why}");
        }
        for d in &r.not_attempted {
            crate::outln!("  not attempted {}", d.address);
        }
    }
    for (a, why) in &r.unsupported {
        crate::outln!("  skipped       {a}: {why}");
    }
    // Each hint names only what can help: a resume retries failed and unattempted actions
    // from the journal; a refused action's object changed, so only a new plan can help it.
    if interrupted {
        crate::outln!(
            "Run `supctl apply --resume` to continue with the actions not attempted (or make a new plan)."
        );
    } else if !r.failed.is_empty() || !r.not_attempted.is_empty() {
        crate::outln!(
            "Run `supctl apply --resume` to retry the failed and remaining actions once the cause is fixed."
        );
    }
    if !r.refused.is_empty() {
        crate::outln!(
            "The refused objects changed since the plan was made: run `supctl plan` for a new plan (a resume would be refused again)."
        );
    }
    let blocked: Vec<&str> = plan
        .diagnostics
        .iter()
        .filter(|d| d.blocked)
        .map(|d| d.address.as_str())
        .collect();
    if !blocked.is_empty() {
        crate::outln!(
            "Waiting for approval: {} (the hint above has the line to add).",
            blocked.join(", ")
        );
    }
}
