//! `supctl apply`: perform a saved plan exactly, or plan, show and ask.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::PathBuf;

use anyhow::{Context, anyhow};
use chrono::Utc;
use clap::Args;

use super::apply_report::{self, Ending};
use super::interrupt::Interrupt;
use super::{EXIT_ERROR, EXIT_INTERRUPTED, EXIT_OK, session};
use crate::apply::{self, ApplyOptions, Report};
use crate::plan;
use crate::reconcile::record::{RunRecord, record_runs};

#[derive(Debug, Args)]
pub struct ApplyArgs {
    /// A plan saved with `supctl plan -o`; without it supctl plans, shows the plan and asks.
    pub planfile: Option<PathBuf>,
    #[command(flatten)]
    pub config: super::session::ConfigArg,
    /// Apply without asking (needed when standard input is not a terminal).
    #[arg(long)]
    pub auto_approve: bool,
    /// Continue the last interrupted apply from its journal.
    #[arg(long)]
    pub resume: bool,
    /// How long to wait for another supctl holding the state lock (30s, 2m, 0).
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = session::parse_duration)]
    pub lock_timeout: std::time::Duration,
    /// Limit a fresh plan to these addresses.
    #[arg(long = "target", value_name = "ADDR")]
    pub targets: Vec<crate::store::Address>,
    /// Accept a config with no [server] and no catalog (it empties the update server).
    #[arg(long)]
    pub allow_empty: bool,
    /// Print one JSON object at the end (how it ended, each action's outcome) instead of
    /// the plan and the report; needs --auto-approve, a PLANFILE or --resume.
    #[arg(long)]
    pub json: bool,
    /// Apply only the catalogs pinned in supctl.lock: a catalog whose CAB differs (or that
    /// the lock does not name) stops the apply before any change.
    #[arg(long)]
    pub locked: bool,
}

/// Where the outcome goes: text, or one JSON object at the end.
struct Output {
    json: bool,
}

impl Output {
    fn plan(&self, plan: &plan::Plan) {
        if !self.json {
            crate::out!("{}", plan::render::text(plan));
        }
    }

    /// Prints how the apply ended and returns `code`.
    fn end(
        &self,
        ending: Ending,
        plan: Option<&plan::Plan>,
        report: Option<&Report>,
        code: u8,
    ) -> u8 {
        if self.json {
            let v = apply_report::json(ending, plan, report);
            crate::outln!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
        }
        code
    }
}

use crate::reconcile::plans_dir;

/// Asks for "yes"; `None` when interrupted while asking.
fn confirm(interrupt: &Interrupt) -> anyhow::Result<Option<bool>> {
    crate::out!("\nDo you want to perform these actions? Only 'yes' will be accepted: ");
    Ok(interrupt.read_line()?.map(|line| line.trim() == "yes"))
}

/// Interrupted before the first change: the lock is released on return.
fn interrupted_before_changes(out: &Output) -> u8 {
    crate::errln!("Interrupted before applying anything; nothing was changed.");
    out.end(Ending::Interrupted, None, None, EXIT_INTERRUPTED)
}

pub(super) fn run(args: ApplyArgs) -> anyhow::Result<u8> {
    if args.json && !args.auto_approve && args.planfile.is_none() && !args.resume {
        return Err(anyhow!(
            "--json cannot ask for approval: pass --auto-approve, or apply a saved plan (`supctl apply PLANFILE --json`)"
        ));
    }
    let out = Output { json: args.json };
    crate::plan::targets::check_syntax(&args.targets)?;
    // A saved plan is read first: it names the config it was made from (used when no `-c`
    // is given) and the server it was made for, checked before anything is locked or written.
    let saved = match &args.planfile {
        Some(file) if !args.resume => Some(plan::file::load(file)?),
        _ => None,
    };
    let config_path = match (args.config.path(), &saved) {
        (Some(p), _) => Some(p.to_path_buf()),
        (None, Some(p)) if !p.config.is_empty() => Some(PathBuf::from(&p.config)),
        _ => None,
    };
    // A saved plan was reviewed as it is: the config only supplies the state directory and
    // settings, so an empty config cannot widen what it does.
    let allow_empty = args.allow_empty || saved.is_some();
    let (cfg, _) = session::load_config_to_change(config_path.as_deref(), allow_empty)
        .with_context(|| match &saved {
            Some(p) if args.config.path().is_none() => format!(
                "plan {} was made from the config {}; pass `-c PATH` to name its config",
                p.id, p.config
            ),
            _ => "loading the config".to_string(),
        })?;
    let backend = match &saved {
        // A saved plan was made against an existing store: never create one for it.
        Some(p) => {
            let backend = session::open_existing_backend(&cfg)?;
            apply::check_server(p, &backend)?;
            backend
        }
        None => session::open_backend(&cfg, true)?,
    };
    let fetcher = session::fetcher(&cfg)?;
    let rt = session::runtime()?;
    let _lock = session::lock(&backend, "apply", args.lock_timeout)?;
    let interrupt = Interrupt::install(&rt, "the apply")?;
    let mut acquired = BTreeMap::new();
    let plan = if args.resume {
        let journal = backend
            .last_journal()?
            .ok_or(apply::ApplyError::NothingToResume)?;
        let path = plans_dir(&cfg).join(format!("{}.json", journal.plan));
        let plan = plan::file::load_own(&path).with_context(|| {
            format!(
                "the interrupted plan {} is not in {}",
                journal.plan,
                plans_dir(&cfg).display()
            )
        })?;
        crate::errln!(
            "Resuming plan {} ({} actions).",
            plan.id,
            plan.actions.len()
        );
        plan
    } else if let Some(plan) = saved {
        if plan.has_errors() {
            out.plan(&plan);
            return refuse_errors(&out, &cfg, &backend, &plan, &acquired);
        }
        plan
    } else {
        let planned = rt.block_on(async {
            tokio::select! {
                r = crate::reconcile::make_plan(&cfg, &backend, &fetcher, &args.targets) => Some(r),
                () = interrupt.wait() => None,
            }
        });
        let Some(planned) = planned else {
            return Ok(interrupted_before_changes(&out));
        };
        let (mut plan, catalogs) = planned?;
        acquired = catalogs;
        // Locked, a catalog the vendor replaced is read again from the archive.
        if args.locked && super::lock::pin_from_archive(&cfg, &fetcher, &acquired)? {
            (plan, acquired) = rt.block_on(crate::reconcile::make_plan(
                &cfg,
                &backend,
                &fetcher,
                &args.targets,
            ))?;
        }
        let lock = super::lock::settle(&cfg, &fetcher, &acquired, args.locked, &mut plan)?;
        out.plan(&plan);
        lock.report();
        if plan.has_errors() {
            return refuse_errors(&out, &cfg, &backend, &plan, &acquired);
        }
        if !plan.changes {
            let code = super::plan::exit_code(&plan, false);
            return Ok(out.end(Ending::NoChanges, Some(&plan), None, code));
        }
        if !args.auto_approve {
            if !std::io::stdin().is_terminal() {
                return Err(anyhow!(
                    "standard input is not a terminal: review the plan and pass --auto-approve, or save it with `supctl plan -o FILE` and run `supctl apply FILE`"
                ));
            }
            match confirm(&interrupt)? {
                None => return Ok(interrupted_before_changes(&out)),
                Some(false) => {
                    crate::outln!("Apply cancelled.");
                    return Ok(EXIT_ERROR);
                }
                Some(true) => {}
            }
        }
        plan
    };
    // A plan refers to the packages it publishes: apply reads them from the catalogs'
    // CABs, each checked now, so a CAB gone or changed refuses before anything changes.
    let packages = crate::reconcile::hydrate::prepare(&cfg, &fetcher, &plan)?;
    std::fs::create_dir_all(plans_dir(&cfg))?;
    plan::file::save(&plan, &plans_dir(&cfg).join(format!("{}.json", plan.id)))?;
    let progress = apply::Progress::for_stderr();
    // Under the apply's own bar, parallel downloads draw no bars of their own.
    let content_fetcher = if progress.is_bar() {
        session::fetcher_quiet(&cfg)?
    } else {
        fetcher
    };
    let ctx = crate::reconcile::content_context(&cfg, &content_fetcher, &packages);
    let opts = ApplyOptions {
        resume: args.resume,
        max_deletions: cfg.server.max_deletions,
        concurrency: cfg.http.concurrency as usize,
        progress,
        cancel: Some(interrupt.flag()),
    };
    let started = Utc::now();
    let mut plan = plan;
    crate::reconcile::shed_before_apply(&mut plan, &mut acquired);
    let report = rt.block_on(apply::run(&plan, &backend, &ctx, &opts))?;
    crate::reconcile::prune_saved_plans(&cfg, &backend, &plan.id);
    // Interrupted only when the signal left actions undone; one that came during the last
    // action changed nothing.
    let interrupted = interrupt.requested() && !report.not_attempted.is_empty();
    record_runs(
        &backend,
        &RunRecord {
            cfg: &cfg,
            plan: &plan,
            report: Some(&report),
            started,
            acquired: &acquired,
            extra_scopes: &[],
            cancelled: interrupted,
        },
    )?;
    let (ending, code) = if interrupted {
        (Ending::Interrupted, EXIT_INTERRUPTED)
    } else if report.succeeded() {
        (Ending::Complete, EXIT_OK)
    } else {
        (Ending::Errors, EXIT_ERROR)
    };
    if out.json {
        return Ok(out.end(ending, Some(&plan), Some(&report), code));
    }
    apply_report::print(&report, &plan, interrupted);
    if args.planfile.is_some() || args.resume {
        // A fresh plan was printed with its diagnostics; a saved one was not.
        for d in &plan.diagnostics {
            crate::errln!(
                "{} [{}] {}: {}",
                match d.severity {
                    plan::Severity::Error => "Error",
                    plan::Severity::Warning => "Warning",
                    plan::Severity::Info => "Note",
                },
                d.code,
                d.address,
                d.message
            );
        }
    }
    Ok(code)
}

/// A plan with error diagnostics is not applied at all, as in Terraform: an error means part
/// of the desired state could not be evaluated (an unsigned catalog, a category the catalog
/// lacks), and applying the rest would leave a state nobody reviewed as a whole. The errors'
/// status messages are still recorded, so `status` shows them.
fn refuse_errors(
    out: &Output,
    cfg: &crate::config::Config,
    backend: &crate::store::Store,
    plan: &plan::Plan,
    acquired: &BTreeMap<String, crate::catalog::acquire::Acquired>,
) -> anyhow::Result<u8> {
    record_runs(
        backend,
        &RunRecord {
            cfg,
            plan,
            report: None,
            started: Utc::now(),
            acquired,
            extra_scopes: &[],
            cancelled: false,
        },
    )?;
    let n = plan.error_count();
    crate::errln!(
        "error: the plan has {n} error{} (above); nothing was changed. Fix {}, or leave the objects {} names out with --target, and apply again.",
        if n == 1 { "" } else { "s" },
        if n == 1 { "it" } else { "them" },
        if n == 1 { "it" } else { "they" },
    );
    Ok(out.end(Ending::PlanHasErrors, Some(plan), None, EXIT_ERROR))
}
