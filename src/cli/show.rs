//! `supctl show PLANFILE`: review a saved plan (as `plan` printed it) before `apply PLANFILE`.

use std::path::PathBuf;

use clap::Args;

use crate::plan;

#[derive(Debug, Args)]
pub struct ShowArgs {
    /// A plan saved with `supctl plan -o`.
    pub planfile: PathBuf,
    /// Print the plan as one JSON object (without payloads), as `plan --json` does.
    #[arg(long)]
    pub json: bool,
    /// Exit 0 when the saved plan has no changes, 2 when it has, 1 on error.
    #[arg(long)]
    pub detailed_exitcode: bool,
}

pub(super) fn run(args: ShowArgs) -> anyhow::Result<u8> {
    let saved = plan::file::load(&args.planfile)?;
    if args.json {
        crate::outln!(
            "{}",
            serde_json::to_string_pretty(&super::plan::display_json(&saved))?
        );
    } else {
        crate::outln!(
            "Plan {} made {} from {}{}.\n",
            saved.id,
            saved.created.format("%Y-%m-%d %H:%M:%S UTC"),
            saved.config,
            saved
                .server
                .as_ref()
                .map(|s| format!(" for {s}"))
                .unwrap_or_default()
        );
        crate::out!("{}", plan::render::text(&saved));
    }
    Ok(super::plan::exit_code(&saved, args.detailed_exitcode))
}
