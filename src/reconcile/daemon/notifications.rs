//! What the daemon tells `crate::notify` beside the status report: that it started or
//! stopped, and what a pass applied (the report shows runs, not what changed).

use super::Daemon;
use crate::notify::{Applied, Event, EventKind, PassFacts, Severity};
use crate::reconcile::pass::PassOutcome;
use crate::store::RunResult;

impl Daemon {
    /// Queues `daemon-started` or `daemon-stopped`.
    pub(super) fn notify_lifecycle(&self, kind: EventKind) {
        let what = if kind == EventKind::DaemonStarted {
            "started"
        } else {
            "stopped"
        };
        let message = format!(
            "supctl watch {what} on {} ({} mode, config {})",
            crate::notify::host_name(),
            match self.opts.mode {
                super::Mode::AutoCorrect => "auto-correct",
                super::Mode::MonitorOnly => "monitor-only",
            },
            self.opts.config_path.display()
        );
        self.notifier
            .emit(&Event::new(kind, Severity::Info, message));
    }
}

/// The changes a pass applied, per catalog: `apply-completed` events. A pass that changed
/// only settings outside any catalog's runs (certificates, signing) is one fact without a
/// catalog.
pub(super) fn pass_facts(
    out: Option<&PassOutcome>,
    applied: bool,
    failed: Option<String>,
) -> PassFacts {
    let Some(o) = out.filter(|o| applied && o.plan.changes && !o.cancelled) else {
        return PassFacts {
            failed,
            ..PassFacts::default()
        };
    };
    let mut facts = PassFacts {
        failed,
        ..PassFacts::default()
    };
    for s in o.scopes.iter().filter(|s| s.result == RunResult::Succeeded) {
        let c = &s.counts;
        if c.published + c.revised + c.expired + c.staged == 0 {
            continue;
        }
        facts.applied.push(Applied {
            catalog: s.scope.strip_prefix("catalog.").map(str::to_string),
            summary: format!(
                "{}: {} published, {} revised, {} expired, {} staged",
                s.scope, c.published, c.revised, c.expired, c.staged
            ),
        });
    }
    if facts.applied.is_empty() && o.succeeded() {
        facts.applied.push(Applied {
            catalog: None,
            summary: crate::plan::render::summary_line(&o.plan),
        });
    }
    facts
}
