//! `supctl sync [CATALOG...]`: synchronize now (the console's "Sync now"): acquire the
//! catalogs, apply their changes, record the run. When `supctl watch` holds the state lock
//! the request is handed to it (`reconcile::handoff`) and this command waits for its answer.

use std::time::Duration;

use anyhow::anyhow;
use clap::Args;

use super::{EXIT_ERROR, EXIT_OK, session};
use crate::reconcile::daemon::sync_scope;
use crate::reconcile::handoff::{self, SyncResponse};
use crate::reconcile::pass::{self, PassOptions};
use crate::store::{LockRequest, StoreError, StoreLocation, lock::read_owner};

#[derive(Debug, Args)]
pub struct SyncArgs {
    /// Catalog keys (`[catalog.<key>]`); default: every subscribed catalog and `[sync]`.
    pub catalogs: Vec<String>,
    #[command(flatten)]
    pub config: super::session::ConfigArg,
    /// How long to wait for another supctl (not a `watch` daemon) holding the state lock.
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = session::parse_duration)]
    pub lock_timeout: Duration,
    /// How long to wait for a running `watch` daemon to answer.
    #[arg(long, value_name = "DURATION", default_value = "30m", value_parser = session::parse_duration)]
    pub timeout: Duration,
    /// Print the result as one JSON object (per scope: result, counts, first error).
    #[arg(long)]
    pub json: bool,
    /// Hold the sync to supctl.lock (as `apply --locked`) when no `watch` runs; a running
    /// `watch` applies its own `--locked`.
    #[arg(long)]
    pub locked: bool,
}

/// Version of `sync --json`; the major changes only when a field is renamed or removed.
const JSON_FORMAT: &str = "1";

/// Prints the outcome (text lines, or the `--json` object, the same whether this command or
/// a `watch` daemon ran the sync) and returns the exit code.
fn print(resp: &SyncResponse, handled_by: &str, json: bool) -> u8 {
    if json {
        let v = serde_json::json!({
            "format_version": JSON_FORMAT,
            "handled_by": handled_by,
            "succeeded": resp.succeeded,
            "error": resp.error,
            "scopes": resp.scopes,
            "lines": resp.lines,
        });
        crate::outln!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
    } else {
        if let Some(e) = &resp.error {
            crate::errln!("error: {e}");
        }
        for l in &resp.lines {
            crate::outln!("{l}");
        }
    }
    if resp.succeeded { EXIT_OK } else { EXIT_ERROR }
}

pub(super) fn run(args: SyncArgs) -> anyhow::Result<u8> {
    let (cfg, _) = session::load_config_to_change(args.config.path(), false)?;
    for k in &args.catalogs {
        if !cfg.catalogs.get(k).is_some_and(|c| c.subscribed) {
            return Err(anyhow!(
                "`{k}` is not a subscribed catalog in the config (known: {})",
                cfg.catalogs.keys().cloned().collect::<Vec<_>>().join(", ")
            ));
        }
    }
    let backend = session::open_backend(&cfg, true)?;
    let lock = match backend.lock(&LockRequest::new("sync")) {
        Ok(l) => l,
        Err(StoreError::Locked { holder, .. })
            if holder.command == "watch" && !holder.is_stale(chrono::Utc::now()) =>
        {
            crate::errln!(
                "supctl watch (pid {} on {}) holds the state lock: handing the sync request to it.",
                holder.pid,
                holder.host
            );
            let loc = StoreLocation::new(&cfg.server.path);
            let req = handoff::submit(&cfg.server.path, &args.catalogs)?;
            let id = holder.id.clone();
            let resp = handoff::wait(&cfg.server.path, &req.id, args.timeout, || {
                read_owner(&loc)
                    .ok()
                    .flatten()
                    .is_some_and(|o| o.id == id && !o.is_stale(chrono::Utc::now()))
            })?;
            return Ok(print(&resp, "watch", args.json));
        }
        Err(_) => session::lock(&backend, "sync", args.lock_timeout)?,
    };
    for w in lock.warnings() {
        crate::errln!("Warning: {w}");
    }
    let fetcher = session::fetcher(&cfg)?;
    let rt = session::runtime()?;
    let interrupt = super::interrupt::Interrupt::install(&rt, "the sync")?;
    let scope = sync_scope(&cfg, &args.catalogs);
    let opts = PassOptions {
        apply: true,
        // An admin's sync: windows with `manual_sync = true` let it through.
        closed: crate::reconcile::windows::closed(&cfg, chrono::Utc::now(), true),
        locked: args.locked,
        cancel: Some(interrupt.flag()),
        progress: crate::apply::Progress::for_stderr(),
    };
    let outcome = rt.block_on(pass::run(&cfg, &backend, &fetcher, &scope, &opts))?;
    // Interrupted only when the signal left actions undone.
    let interrupted = outcome.cancelled
        && outcome
            .report
            .as_ref()
            .is_some_and(|r| !r.not_attempted.is_empty());
    let (mut lines, mut ok) = (outcome.lines(), outcome.succeeded());
    if let Some((line, started)) = pass::start_upstream_sync(&backend, &scope) {
        lines.push(line);
        ok &= started;
    }
    let resp = SyncResponse {
        id: String::new(),
        succeeded: ok,
        error: None,
        scopes: outcome.scopes,
        lines,
    };
    let code = print(&resp, "sync", args.json);
    if interrupted {
        crate::errln!(
            "Sync interrupted: the running action finished and was journaled; run `supctl apply --resume` to continue."
        );
        return Ok(super::EXIT_INTERRUPTED);
    }
    Ok(code)
}
