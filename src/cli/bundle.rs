//! `supctl export --out DIR [CATALOG...]` and `supctl import-bundle DIR`: moving locked
//! catalogs and their staged content into a disconnected network (see [`crate::bundle`]).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use clap::Args;

use super::{EXIT_OK, session};
use crate::bundle::{self, export, import};
use crate::config::{BackendKind, Config};
use crate::lockfile::{self, LockFile};
use crate::reconcile::locked;
use crate::store::StoreLocation;
use crate::store::content::ContentStore;

#[derive(Debug, Args)]
pub struct ExportArgs {
    #[command(flatten)]
    pub config: session::ConfigArg,
    /// The directory to write the bundle into: new, empty, or a previous bundle (replaced).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Catalog keys to export (default: every catalog in supctl.lock the config subscribes).
    #[arg(value_name = "CATALOG")]
    pub catalogs: Vec<String>,
}

#[derive(Debug, Args)]
pub struct ImportBundleArgs {
    #[command(flatten)]
    pub config: session::ConfigArg,
    /// The bundle directory `supctl export --out` wrote.
    #[arg(value_name = "DIR")]
    pub dir: PathBuf,
}

/// The catalogs to export: those named (each must be locked), else every locked catalog
/// the config subscribes.
fn exported_keys(
    cfg: &Config,
    lock: &LockFile,
    lock_path: &Path,
    named: &[String],
) -> anyhow::Result<Vec<String>> {
    for k in named {
        if !lock.catalogs.contains_key(k) {
            bail!(
                "catalog `{k}` is not in {}: run `supctl lock update {k}` where it was tested, then export",
                lock_path.display()
            );
        }
    }
    let keys: Vec<String> = if named.is_empty() {
        lock.catalogs
            .keys()
            .filter(|k| cfg.catalogs.get(*k).is_some_and(|c| c.subscribed))
            .cloned()
            .collect()
    } else {
        named
            .iter()
            .cloned()
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect()
    };
    if keys.is_empty() {
        bail!(
            "{} pins no catalog the config subscribes: nothing to export",
            lock_path.display()
        );
    }
    Ok(keys)
}

/// The content the store holds staged for the updates of `keys`, where it holds it.
fn staged_content(cfg: &Config, keys: &[String]) -> anyhow::Result<Vec<export::StagedFile>> {
    if cfg.server.backend == BackendKind::Wsus {
        bail!(
            "export reads staged content from the embedded store's WsusContent/; with backend \"wsus\" the content is on the WSUS server: export from an update point with backend \"local\""
        );
    }
    let backend = session::open_backend(cfg, false)?;
    let actual = backend.snapshot().context("reading the store")?;
    let content = ContentStore::new(&StoreLocation::new(&cfg.server.path));
    let mut out = Vec::new();
    for u in actual
        .updates
        .values()
        .filter(|u| keys.iter().any(|k| k == u.catalog.as_str()))
    {
        for f in u.files.iter().filter(|f| f.staged) {
            let path = stored_path(&content, &f.sha1, &f.name).with_context(|| {
                format!(
                    "the store records {} (update {}) as staged, but {} has no file for SHA-1 {}: run `supctl store gc`, then apply again to stage it anew",
                    f.name,
                    u.id,
                    content.root().display(),
                    f.sha1
                )
            })?;
            out.push(export::StagedFile {
                name: f.name.clone(),
                sha1: f.sha1,
                size: f.size,
                path,
            });
        }
    }
    Ok(out)
}

/// `WsusContent/<XX>/<SHA1HEX>.<ext>`, with the extension staging gave the name, or any
/// extension when the same content was staged first under another name.
fn stored_path(content: &ContentStore, sha1: &crate::ids::Sha1, name: &str) -> Option<PathBuf> {
    let p = content.path(sha1, &crate::apply::ext_of(name));
    if p.is_file() {
        return Some(p);
    }
    let dir = p.parent()?;
    let stem = format!("{}.", sha1.to_hex());
    std::fs::read_dir(dir)
        .ok()?
        .flatten()
        .map(|e| e.path())
        .find(|p| {
            p.is_file()
                && p.file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with(&stem))
        })
}

/// `supctl export --out DIR [CATALOG...]`.
pub(super) fn run_export(a: ExportArgs) -> anyhow::Result<u8> {
    let (cfg, _) = session::load_config(a.config.path())?;
    let lock_path = lockfile::path_for(&cfg.root);
    let Some(lock) = lockfile::read(&lock_path)? else {
        bail!(
            "there is no {}: export carries the catalogs the lock pins; run `supctl lock update` (and test them) first",
            lock_path.display()
        );
    };
    let keys = exported_keys(&cfg, &lock, &lock_path, &a.catalogs)?;
    let staged = staged_content(&cfg, &keys)?;
    let fetcher = session::fetcher_quiet(&cfg)?;
    let rt = session::runtime()?;
    let mut cabs = Vec::new();
    for key in &keys {
        let pin = &lock.catalogs[key];
        let path = rt
            .block_on(locked::locked_cab(&cfg, &fetcher, key, &pin.sha256))
            .map_err(|e| {
                anyhow::anyhow!(
                    "catalog {key}: cannot find the locked CAB: {e}; keep the pinned CABs with `[archive] path` and `supctl catalog archive` right after `lock update`"
                )
            })?;
        cabs.push(export::CatalogCab {
            key: key.clone(),
            sha256: pin.sha256,
            bytes: pin.bytes,
            path,
        });
    }
    let restricted = LockFile {
        version: lock.version,
        catalogs: lock
            .catalogs
            .iter()
            .filter(|(k, _)| keys.contains(k))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
    };
    let content = export::content_layout(staged)?;
    export::prepare(&a.out)?;
    let w = export::write(&a.out, &restricted, &cabs, &content)?;
    crate::outln!(
        "Exported {} catalog(s) and {} content file(s), {}, to {}.",
        w.catalogs,
        w.content,
        bundle::size(w.bytes),
        a.out.display()
    );
    crate::outln!(
        "Carry the whole directory across, then run `supctl import-bundle {}` and `supctl apply --locked` there.",
        a.out.display()
    );
    Ok(EXIT_OK)
}

/// `supctl import-bundle DIR`.
pub(super) fn run_import(a: ImportBundleArgs) -> anyhow::Result<u8> {
    let (cfg, _) = session::load_config(a.config.path())?;
    let checked = import::check(&a.dir)?;
    let lock_path = lockfile::path_for(&cfg.root);
    let config_lock = lockfile::read(&lock_path)?;
    let mut problems = import::check_signatures(&checked, &cfg, chrono::Utc::now());
    problems.extend(import::lock_conflicts(&checked.lock, config_lock.as_ref()));
    if !problems.is_empty() {
        return Err(import::ImportError::Refused {
            dir: a.dir.clone(),
            problems,
        }
        .into());
    }
    std::fs::create_dir_all(&cfg.server.path)
        .with_context(|| format!("creating the state directory {}", cfg.server.path.display()))?;
    let done = import::install(&checked, &cfg.server.path)?;
    match &config_lock {
        None => {
            lockfile::write(&lock_path, &checked.lock)?;
            crate::outln!(
                "There was no {}: wrote the bundle's (commit it).",
                lock_path.display()
            );
        }
        Some(l) => {
            for key in checked
                .lock
                .catalogs
                .keys()
                .filter(|k| !l.catalogs.contains_key(*k))
            {
                crate::errln!(
                    "warning: catalog {key} is in the bundle but not in {}: `--locked` refuses it until the lock pins it (commit the lab's lock)",
                    lock_path.display()
                );
            }
        }
    }
    crate::outln!(
        "Imported {} catalog(s) into {} and {} content file(s) ({}) into {}; {} already there.",
        done.catalogs,
        bundle::installed_archive(&cfg.server.path).display(),
        done.content,
        bundle::size(done.bytes),
        bundle::installed_content(&cfg.server.path).display(),
        done.unchanged
    );
    crate::outln!("Next: `supctl plan --locked`, then `supctl apply --locked`.");
    Ok(EXIT_OK)
}
