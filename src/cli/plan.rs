//! `supctl plan`: show what apply would change, optionally save it.

use std::path::PathBuf;

use clap::Args;

use super::{EXIT_CHANGES, EXIT_ERROR, EXIT_OK, session};
use crate::plan::{self, Plan};

#[derive(Debug, Args)]
pub struct PlanArgs {
    #[command(flatten)]
    pub config: super::session::ConfigArg,
    /// Save the plan for `supctl apply PLANFILE`.
    #[arg(short = 'o', long = "out", value_name = "PLANFILE")]
    pub out: Option<PathBuf>,
    /// Print the plan as one JSON object.
    #[arg(long)]
    pub json: bool,
    /// Exit 0 when there are no changes, 2 when there are, 1 on error.
    #[arg(long)]
    pub detailed_exitcode: bool,
    /// Limit the plan to these addresses and what they depend on (catalog.KEY,
    /// catalog.KEY.update[ID], certificate[T], certificate[T].ROLE, sync, signing).
    #[arg(long = "target", value_name = "ADDR")]
    pub targets: Vec<crate::store::Address>,
    /// Accept a config with no [server] and no catalog (it empties the update server).
    #[arg(long)]
    pub allow_empty: bool,
    /// Plan only against the catalogs pinned in supctl.lock: a catalog whose CAB differs (or
    /// that the lock does not name) is an error, and the lock is not refreshed.
    #[arg(long)]
    pub locked: bool,
}

/// The plan without its payloads (raw XML): what `--json` prints.
pub(super) fn display_json(plan: &Plan) -> serde_json::Value {
    let mut v = serde_json::to_value(plan).unwrap_or_default();
    if let Some(actions) = v.get_mut("actions").and_then(|a| a.as_array_mut()) {
        for a in actions {
            if let Some(o) = a.as_object_mut() {
                o.remove("payload");
            }
        }
    }
    v
}

/// Exit status for a finished plan, as Terraform's: any error diagnostic is 1 (with or
/// without `--detailed-exitcode`); with it, 2 when there are changes or objects waiting for
/// an approval (blocked items count as changes), else 0.
pub(super) fn exit_code(plan: &Plan, detailed: bool) -> u8 {
    if plan.has_errors() {
        EXIT_ERROR
    } else if detailed && (plan.changes || plan.summary.blocked > 0) {
        EXIT_CHANGES
    } else {
        EXIT_OK
    }
}

pub(super) fn run(args: PlanArgs) -> anyhow::Result<u8> {
    crate::plan::targets::check_syntax(&args.targets)?;
    let (cfg, _) = session::load_config_to_change(args.config.path(), args.allow_empty)?;
    let backend = session::open_backend_to_plan(&cfg)?;
    let fetcher = session::fetcher(&cfg)?;
    let rt = session::runtime()?;
    let plan_now = || {
        rt.block_on(crate::reconcile::make_plan(
            &cfg,
            &backend,
            &fetcher,
            &args.targets,
        ))
    };
    let (mut plan, mut acquired) = plan_now()?;
    // Locked, a catalog the vendor replaced is read again from the archive.
    if args.locked && super::lock::pin_from_archive(&cfg, &fetcher, &acquired)? {
        (plan, acquired) = plan_now()?;
    }
    let lock = super::lock::settle(&cfg, &fetcher, &acquired, args.locked, &mut plan)?;
    crate::allocator::drop_aside(acquired);
    if args.json {
        let mut v = display_json(&plan);
        v["lock"] = lock.json();
        crate::outln!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        crate::out!("{}", plan::render::text(&plan));
        lock.report();
    }
    if let Some(out) = &args.out {
        if plan.has_errors() {
            // Terraform does not save a plan with errors either: it could not be applied.
            crate::errln!(
                "The plan has errors; it was not saved to {}. Fix them (or leave their objects out with --target) and plan again.",
                out.display()
            );
            return Ok(EXIT_ERROR);
        }
        plan::file::save(&plan, out)?;
        if !args.json {
            crate::outln!(
                "\nSaved the plan to {}. To perform exactly these actions, run:\n    supctl apply {}",
                out.display(),
                out.display()
            );
        }
    }
    Ok(exit_code(&plan, args.detailed_exitcode))
}
