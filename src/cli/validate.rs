//! `supctl validate`: check the desired state without talking to any server.

use clap::Args;

use super::{EXIT_ERROR, EXIT_OK, render};
use crate::config::{self, CatalogKind};

#[derive(Debug, Args)]
pub struct ValidateArgs {
    #[command(flatten)]
    pub config: super::session::ConfigArg,
    /// Accept a config with no [server] and no catalog (it empties the update server).
    #[arg(long)]
    pub allow_empty: bool,
}

pub fn run(args: ValidateArgs) -> anyhow::Result<u8> {
    let path = config::default_path(args.config.path());
    let opts = config::LoadOptions {
        allow_empty: args.allow_empty,
    };
    match config::load_with(&path, opts) {
        Ok((cfg, warnings)) => {
            for w in &warnings {
                render::diagnostic(w);
            }
            let subscribed = cfg.catalogs.values().filter(|c| c.subscribed).count();
            let partner = cfg
                .catalogs
                .values()
                .filter(|c| c.kind == CatalogKind::Partner)
                .count();
            crate::outln!(
                "Valid: {} ({} file{}): {} catalog{} ({subscribed} subscribed, {partner} partner), {} certificate rule{}, {} publish rule{}.",
                path.display(),
                cfg.files.len(),
                plural(cfg.files.len()),
                cfg.catalogs.len(),
                plural(cfg.catalogs.len()),
                cfg.certificates.len(),
                plural(cfg.certificates.len()),
                cfg.publish.len(),
                plural(cfg.publish.len()),
            );
            Ok(EXIT_OK)
        }
        Err(diags) => {
            for d in &diags.0 {
                render::diagnostic(d);
            }
            let n = diags.error_count();
            crate::errln!("{} error{} in {}", n, plural(n), path.display());
            Ok(EXIT_ERROR)
        }
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}
