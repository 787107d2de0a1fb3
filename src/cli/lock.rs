//! `supctl.lock` from the command line: `plan`/`apply` refresh it (or, `--locked`, hold the
//! plan to it), and `supctl lock update [CATALOG...]` refreshes it without planning.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::bail;
use clap::{Args, Subcommand};

use super::{EXIT_ERROR, EXIT_OK, session};
use crate::catalog::acquire::{Acquired, Acquisition, Reuse};
use crate::config::Config;
use crate::lockfile::{self, LockedCatalog, check};
use crate::plan::Plan;

#[derive(Debug, Subcommand)]
pub enum LockCommand {
    /// Acquire the catalogs (all subscribed, or those named), verify them, and pin them in
    /// supctl.lock without planning or applying.
    Update(UpdateArgs),
}

#[derive(Debug, Args)]
pub struct UpdateArgs {
    #[command(flatten)]
    pub config: session::ConfigArg,
    /// Catalog keys to refresh (default: every subscribed catalog).
    #[arg(value_name = "CATALOG")]
    pub catalogs: Vec<String>,
}

/// What a plan did with the lock, to print under it.
pub(super) struct Settled {
    pub path: PathBuf,
    pub changes: Vec<check::LockChange>,
}

impl Settled {
    /// `Lock: supctl.lock updated` and one line per change; nothing when nothing changed.
    pub(super) fn text(&self) -> String {
        let mut out = String::new();
        if !self.changes.is_empty() {
            let _ = writeln!(out, "\nLock: {} updated:", self.path.display());
            for c in &self.changes {
                let _ = writeln!(out, "  {c}");
            }
        }
        out
    }

    /// Says on stderr what changed (stdout stays the plan itself, as `show` prints it).
    pub(super) fn report(&self) {
        let text = self.text();
        if !text.is_empty() {
            crate::errln!("{}", text.trim_end());
        }
    }

    pub(super) fn json(&self) -> serde_json::Value {
        serde_json::json!({
            "path": self.path,
            "changes": self.changes.iter().map(|c| c.to_string()).collect::<Vec<_>>(),
        })
    }
}

/// The config's directory, against which sources are recorded.
fn root_dir(cfg: &Config) -> PathBuf {
    if cfg.root.is_dir() {
        cfg.root.clone()
    } else {
        cfg.root.parent().map(Path::to_path_buf).unwrap_or_default()
    }
}

/// The lock entries of the catalogs acquired and trusted now.
fn entries(cfg: &Config, acquired: &BTreeMap<String, Acquired>) -> BTreeMap<String, LockedCatalog> {
    let root = root_dir(cfg);
    acquired
        .iter()
        .filter_map(|(k, a)| {
            let c = cfg.catalogs.get(k)?;
            Some((k.clone(), check::entry_of(c, a, &root)?))
        })
        .collect()
}

fn configured(cfg: &Config) -> BTreeSet<String> {
    cfg.catalogs
        .values()
        .filter(|c| c.subscribed)
        .map(|c| c.key.clone())
        .collect()
}

/// After a plan: with `locked`, adds an error diagnostic for each catalog that differs from
/// the lock (so nothing applies); otherwise refreshes the lock when a catalog changed.
pub(super) fn settle(
    cfg: &Config,
    acquired: &BTreeMap<String, Acquired>,
    locked: bool,
    plan: &mut Plan,
) -> anyhow::Result<Settled> {
    let path = lockfile::path_for(&cfg.root);
    let lock = lockfile::read(&path)?;
    let found = entries(cfg, acquired);
    if locked {
        if lock.is_none() {
            bail!(
                "--locked, but there is no {}: run `supctl lock update` where the catalogs were tested and commit the lock",
                path.display()
            );
        }
        plan.diagnostics
            .extend(check::mismatches(lock.as_ref(), &found));
        return Ok(Settled {
            path,
            changes: Vec::new(),
        });
    }
    let (next, changes) = check::refresh(lock.as_ref(), &found, &configured(cfg));
    if !changes.is_empty() {
        lockfile::write(&path, &next)?;
    }
    Ok(Settled { path, changes })
}

pub(super) fn run(cmd: LockCommand) -> anyhow::Result<u8> {
    let LockCommand::Update(a) = cmd;
    let (cfg, _) = session::load_config(a.config.path())?;
    for k in &a.catalogs {
        if !cfg.catalogs.contains_key(k) {
            bail!("no catalog `{k}` in the config");
        }
    }
    let fetcher = session::fetcher(&cfg)?;
    let rt = session::runtime()?;
    let acquired = rt.block_on(crate::reconcile::acquire_all(
        &cfg,
        &fetcher,
        &a.catalogs,
        Reuse::Summary,
    ));
    let mut failed = 0;
    for (k, got) in &acquired {
        let why = match &got.acquisition {
            Acquisition::Trusted { .. } => continue,
            Acquisition::Untrusted { .. } => "signed by no approved signer (11508)".to_string(),
            Acquisition::Unsigned => "not signed (11508)".to_string(),
            Acquisition::Invalid { reason } | Acquisition::Failed { reason } => reason.clone(),
            Acquisition::Expired { .. } => "its signer expired (11508)".to_string(),
        };
        failed += 1;
        crate::errln!("error: catalog {k} was not locked: {why}");
    }
    let path = lockfile::path_for(&cfg.root);
    let lock = lockfile::read(&path)?;
    let (next, changes) =
        check::refresh(lock.as_ref(), &entries(&cfg, &acquired), &configured(&cfg));
    if changes.is_empty() {
        crate::outln!("{} is up to date.", path.display());
    } else {
        lockfile::write(&path, &next)?;
        crate::out!(
            "{}",
            Settled {
                path: path.clone(),
                changes
            }
            .text()
            .trim_start()
        );
    }
    Ok(if failed > 0 { EXIT_ERROR } else { EXIT_OK })
}
