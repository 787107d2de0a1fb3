//! Holding a plan to `supctl.lock` (`plan --locked`, `apply --locked`, `watch --locked`): the
//! catalogs that differ from their pin are read from the archive when it has them, and the
//! rest are held out of the plan with a `lock-mismatch` error each, so a pass applies the
//! catalogs that match and records the others as failed, by name.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::catalog::acquire::Acquired;
use crate::catalog::fetch::{CatalogSource, Fetcher};
use crate::config::Config;
use crate::ids::Sha256;
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

/// Pins each catalog whose source served another CAB than the lock's (or none) to an
/// archived copy of the locked one: the configured `[archive]` first, then the archive
/// `import-bundle` fills in the state directory (`<state>/archive/`, see [`crate::bundle`];
/// preferred to an `[archive] url`, which a disconnected network may not reach).
/// When it pinned any, the plan is made again, reading those catalogs from there; either way
/// the CAB is checked by its SHA-256 and its signature like any catalog.
pub fn pin_from_archive(
    cfg: &Config,
    fetcher: &Fetcher,
    acquired: &BTreeMap<String, Acquired>,
) -> Result<ArchivePins, LockFileError> {
    let mut out = ArchivePins::default();
    let imported = crate::bundle::installed_archive(&cfg.server.path);
    if cfg.archive.is_none() && !imported.is_dir() {
        return Ok(out);
    }
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
        let in_state = imported.join(archive::file_name(&want.sha256));
        let source = match cfg
            .archive
            .as_ref()
            .and_then(|a| archive::source(a, &want.sha256))
        {
            Some(CatalogSource::Path(p)) if !p.is_file() && in_state.is_file() => {
                Some(CatalogSource::Path(in_state))
            }
            // A URL archive may be out of reach where a bundle was imported: the copy in
            // the state directory is the same bytes (both are checked by digest).
            Some(CatalogSource::Url(_)) if in_state.is_file() => {
                Some(CatalogSource::Path(in_state))
            }
            Some(CatalogSource::Path(p)) if !p.is_file() => {
                out.missing.push((key.clone(), p));
                None
            }
            None if in_state.is_file() => Some(CatalogSource::Path(in_state)),
            None => {
                if cfg.archive.is_some() {
                    out.missing.push((key.clone(), in_state));
                }
                None
            }
            other => other,
        };
        if let Some(source) = source {
            fetcher.pin(key, source);
            out.pinned
                .push((key.clone(), archive::file_name(&want.sha256)));
        }
    }
    Ok(out)
}

/// Where the CAB the lock pins for `key` is found, as `catalog archive` and `export` look:
/// the fetch cache when it still holds it, the `[archive]`, else the catalog's own source
/// fetched again. Each candidate counts only when its bytes hash to the pin.
pub async fn locked_cab(
    cfg: &Config,
    fetcher: &Fetcher,
    key: &str,
    pin: &Sha256,
) -> Result<PathBuf, String> {
    let hashes_to_pin = |p: &Path| crate::bundle::sha256_of_file(p).is_ok_and(|(_, s)| s == *pin);
    let cached = fetcher.cache_dir().join(format!("{key}.cab"));
    if hashes_to_pin(&cached) {
        return Ok(cached);
    }
    if let Some(CatalogSource::Path(p)) = cfg.archive.as_ref().and_then(|a| archive::source(a, pin))
        && hashes_to_pin(&p)
    {
        return Ok(p);
    }
    let in_state = crate::bundle::installed_archive(&cfg.server.path).join(archive::file_name(pin));
    if hashes_to_pin(&in_state) {
        return Ok(in_state);
    }
    let Some(c) = cfg.catalogs.get(key) else {
        return Err("it is no longer in the config".to_string());
    };
    let refreshed = crate::catalog::partners::load_cached(&cfg.server.path).unwrap_or_default();
    let source = crate::catalog::acquire::source_of(c, &refreshed)?;
    let fetched = fetcher
        .fetch_catalog(key, &source)
        .await
        .map_err(|e| e.to_string())?;
    if hashes_to_pin(&fetched.path) {
        Ok(fetched.path)
    } else {
        Err(format!(
            "its source serves another catalog (sha256 {}) than the locked one, and neither the fetch cache nor an archive holds {}",
            fetched.sha256.to_hex().to_ascii_lowercase(),
            archive::file_name(pin)
        ))
    }
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
