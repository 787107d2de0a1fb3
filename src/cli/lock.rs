//! `supctl.lock` from the command line: `plan`/`apply` refresh it (or, `--locked`, hold the
//! plan to it), and `supctl lock update [CATALOG...]` refreshes it without planning.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::bail;
use clap::{Args, Subcommand};

use super::{EXIT_ERROR, EXIT_OK, session};
use crate::catalog::acquire::{Acquired, Acquisition, Reuse};
use crate::catalog::fetch::Fetcher;
use crate::config::Config;
use crate::lockfile::archive::{self, Kept};
use crate::lockfile::{self, LockFile, check};
use crate::plan::Plan;
use crate::reconcile::locked::{self, entries};

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

fn configured(cfg: &Config) -> BTreeSet<String> {
    cfg.catalogs
        .values()
        .filter(|c| c.subscribed)
        .map(|c| c.key.clone())
        .collect()
}

/// With `--locked` and an `[archive]`: reads each catalog whose source now serves another
/// CAB than the lock's from the archive, saying so. True when it pinned any: the plan is
/// then made again.
pub(super) fn pin_from_archive(
    cfg: &Config,
    fetcher: &Fetcher,
    acquired: &BTreeMap<String, Acquired>,
) -> anyhow::Result<bool> {
    let pins = locked::pin_from_archive(cfg, fetcher, acquired)?;
    for (key, file) in &pins.pinned {
        crate::errln!(
            "catalog {key}: the source serves another catalog than the locked one; reading the locked CAB {file} from the archive"
        );
    }
    for (key, path) in &pins.missing {
        crate::errln!(
            "catalog {key}: the source serves another catalog than the locked one, and the archive has no {}",
            path.display()
        );
    }
    Ok(!pins.pinned.is_empty())
}

/// Copies the CABs `lock` pins for `keys` (all, when empty) into `[archive] path`, found by
/// [`locked::locked_cab`] (the fetch cache, an archive, else fetched again). Returns a line per catalog and
/// whether all were kept.
fn archive_locked(
    cfg: &Config,
    fetcher: &Fetcher,
    lock: &LockFile,
    keys: &[String],
) -> anyhow::Result<(Vec<String>, bool)> {
    let Some(store) = &cfg.archive else {
        bail!(
            "there is no [archive] in the config: add `[archive]` with `path = \"DIR\"` where the pinned CABs are kept"
        );
    };
    let Some(dir) = &store.path else {
        bail!(
            "[archive] url is read-only: archive into a directory (`path`) and serve its files at that URL"
        );
    };
    let rt = session::runtime()?;
    let (mut lines, mut ok) = (Vec::new(), true);
    for (key, pin) in lock
        .catalogs
        .iter()
        .filter(|(k, _)| keys.is_empty() || keys.contains(k))
    {
        let from = rt.block_on(locked::locked_cab(cfg, fetcher, key, &pin.sha256));
        let line = match from
            .map_err(|e| anyhow::anyhow!(e))
            .and_then(|p| Ok(archive::keep(dir, &pin.sha256, &p)?))
        {
            Ok(Kept::Added) => format!(
                "catalog.{key}: archived {}",
                archive::file_name(&pin.sha256)
            ),
            Ok(Kept::AlreadyThere) => format!(
                "catalog.{key}: {} already archived",
                archive::file_name(&pin.sha256)
            ),
            Err(e) => {
                ok = false;
                format!(
                    "catalog.{key}: not archived: {e}; archive right after the lock is written (`lock update` does it when [archive] path is set)"
                )
            }
        };
        lines.push(line);
    }
    Ok((lines, ok))
}

/// After a plan: with `locked`, adds an error diagnostic for each catalog that differs from
/// the lock (so nothing applies); otherwise refreshes the lock when a catalog changed.
pub(super) fn settle(
    cfg: &Config,
    fetcher: &Fetcher,
    acquired: &BTreeMap<String, Acquired>,
    locked: bool,
    plan: &mut Plan,
) -> anyhow::Result<Settled> {
    let path = lockfile::path_for(&cfg.root);
    if locked {
        locked::hold(plan, cfg, acquired)?;
        return Ok(Settled {
            path,
            changes: Vec::new(),
        });
    }
    let lock = lockfile::read(&path)?;
    let found = entries(cfg, acquired);
    let (next, changes) = check::refresh(lock.as_ref(), &found, &configured(cfg));
    if !changes.is_empty() {
        lockfile::write(&path, &next)?;
        archive_new_pins(cfg, fetcher, &next, &changes);
    }
    Ok(Settled { path, changes })
}

/// With `[archive] path`, keeps the CABs just pinned while the fetch cache still holds them
/// (the vendor may move on before anyone runs `catalog archive`). Best effort: said, not
/// fatal; `supctl catalog archive` retries.
fn archive_new_pins(
    cfg: &Config,
    fetcher: &Fetcher,
    lock: &LockFile,
    changes: &[check::LockChange],
) {
    if cfg.archive.as_ref().and_then(|a| a.path.as_ref()).is_none() {
        return;
    }
    let keys: Vec<String> = changes
        .iter()
        .filter_map(|c| match c {
            check::LockChange::Added { key, .. } | check::LockChange::Changed { key, .. } => {
                Some(key.clone())
            }
            check::LockChange::Removed { .. } => None,
        })
        .collect();
    if keys.is_empty() {
        return;
    }
    match archive_locked(cfg, fetcher, lock, &keys) {
        Ok((lines, _)) => lines.iter().for_each(|l| crate::errln!("{l}")),
        Err(e) => crate::errln!("warning: archiving the pinned catalogs: {e:#}"),
    }
}

/// `supctl catalog archive [CATALOG...]`: keeps the locked CABs in `[archive] path`.
pub(super) fn run_archive(config: Option<&Path>, keys: &[String]) -> anyhow::Result<u8> {
    let (cfg, _) = session::load_config(config)?;
    let path = lockfile::path_for(&cfg.root);
    let Some(lock) = lockfile::read(&path)? else {
        bail!(
            "there is no {}: run `supctl lock update` first",
            path.display()
        );
    };
    for k in keys {
        if !lock.catalogs.contains_key(k) {
            bail!("catalog `{k}` is not in {}", path.display());
        }
    }
    let fetcher = session::fetcher(&cfg)?;
    let (lines, ok) = archive_locked(&cfg, &fetcher, &lock, keys)?;
    for l in &lines {
        crate::outln!("{l}");
    }
    Ok(if ok { EXIT_OK } else { EXIT_ERROR })
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
        archive_new_pins(&cfg, &fetcher, &next, &changes);
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
