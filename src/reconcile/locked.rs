//! Holding a plan to `supctl.lock` (`plan --locked`, `apply --locked`, `watch --locked`): the
//! catalogs that differ from their pin are read from the archive when it has them, and the
//! rest are held out of the plan with a `lock-mismatch` error each, so a pass applies the
//! catalogs that match and records the others as failed, by name.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::catalog::acquire::Acquired;
use crate::catalog::fetch::{CatalogSource, Fetcher};
use crate::config::Config;
use crate::lockfile::{self, LockFileError, LockedCatalog, archive, check};
use crate::plan::Plan;
use crate::store::Address;

/// The config's directory, against which lock sources are recorded.
pub fn root_dir(cfg: &Config) -> PathBuf {
    if cfg.root.is_dir() {
        cfg.root.clone()
    } else {
        cfg.root.parent().map(Path::to_path_buf).unwrap_or_default()
    }
}

/// The lock entries of the catalogs acquired and trusted now.
pub fn entries(
    cfg: &Config,
    acquired: &BTreeMap<String, Acquired>,
) -> BTreeMap<String, LockedCatalog> {
    let root = root_dir(cfg);
    acquired
        .iter()
        .filter_map(|(k, a)| {
            let c = cfg.catalogs.get(k)?;
            Some((k.clone(), check::entry_of(c, a, &root)?))
        })
        .collect()
}

/// What [`pin_from_archive`] did, for the caller to say.
#[derive(Debug, Default)]
pub struct ArchivePins {
    /// Catalogs now read from the archive, with the file.
    pub pinned: Vec<(String, String)>,
    /// Catalogs the archive directory has no copy of.
    pub missing: Vec<(String, PathBuf)>,
}

/// With an `[archive]`: pins each catalog whose source served another CAB than the lock's
/// (or none) to the archived copy of the locked one. When it pinned any, the plan is made
/// again, reading those catalogs from the archive.
pub fn pin_from_archive(
    cfg: &Config,
    fetcher: &Fetcher,
    acquired: &BTreeMap<String, Acquired>,
) -> Result<ArchivePins, LockFileError> {
    let mut out = ArchivePins::default();
    let Some(store) = &cfg.archive else {
        return Ok(out);
    };
    let Some(lock) = lockfile::read(&lockfile::path_for(&cfg.root))? else {
        return Ok(out);
    };
    for (key, found) in acquired {
        let Some(want) = lock.catalogs.get(key) else {
            continue;
        };
        if found.cab_sha256 == Some(want.sha256) {
            continue;
        }
        match archive::source(store, &want.sha256) {
            Some(CatalogSource::Path(p)) if !p.is_file() => out.missing.push((key.clone(), p)),
            Some(source) => {
                fetcher.pin(key, source);
                out.pinned
                    .push((key.clone(), archive::file_name(&want.sha256)));
            }
            None => {}
        }
    }
    Ok(out)
}

/// Holds the catalogs that differ from the lock (or that it does not name) out of `plan`,
/// with a `lock-mismatch` error each naming the expected and found digests.
pub fn hold(
    plan: &mut Plan,
    cfg: &Config,
    acquired: &BTreeMap<String, Acquired>,
) -> Result<(), LockFileError> {
    let path = lockfile::path_for(&cfg.root);
    let lock = lockfile::read(&path)?.ok_or(LockFileError::Missing { path })?;
    let errors = check::mismatches(Some(&lock), &entries(cfg, acquired));
    let held: Vec<Address> = errors.iter().map(|d| d.address.clone()).collect();
    plan.retain(
        |a| !held.iter().any(|h| a.address.is_within(h)),
        |d| !held.iter().any(|h| d.address.is_within(h)),
    );
    plan.note(errors);
    Ok(())
}
