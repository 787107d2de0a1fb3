//! Reading a bundle (`supctl import-bundle`): [`check`] compares the directory with its
//! manifest and the catalogs with the bundle's lock, [`check_signatures`] verifies each
//! catalog like any other, [`lock_conflicts`] compares the bundle's lock with the config's,
//! and only when all of them found nothing does [`install`] copy anything.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};

use super::manifest::{self, Kind};
use super::{Progress, below, installed_archive, installed_content};
use crate::atomic_file::{self, CopyOutcome};
use crate::catalog::acquire::signer_policy;
use crate::catalog::inspect::{SignerPolicy, verify};
use crate::config::Config;
use crate::ids::Sha256;
use crate::lockfile::{self, LockFile, archive};
use crate::trust::SignatureStatus;

/// A manifest is a list of paths; one of more than this is not a bundle's.
const MANIFEST_LIMIT: u64 = 64 << 20;

/// Why a bundle was not imported.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("{} is missing: {} is not a bundle, or its export did not finish; export it again with `supctl export --out DIR`", path.display(), path.parent().unwrap_or(Path::new(".")).display())]
    NoManifest { path: PathBuf },
    #[error("cannot read {}: {reason}", path.display())]
    BadManifest { path: PathBuf, reason: String },
    #[error("bundle {} refused, nothing was installed: {} problem(s):\n{}", dir.display(), problems.len(), problems.iter().map(|p| format!("  - {p}")).collect::<Vec<_>>().join("\n"))]
    Refused { dir: PathBuf, problems: Vec<String> },
    #[error("{what} {}: {source}", path.display())]
    Io {
        what: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("installing catalog {key}: {source}")]
    Archive {
        key: String,
        source: archive::ArchiveError,
    },
    #[error("{} changed while it was imported (sha256 {found}, the manifest says {expected}): import again", path.display())]
    Changed {
        path: PathBuf,
        expected: String,
        found: String,
    },
}

fn io<'a>(what: &'static str, path: &'a Path) -> impl Fn(std::io::Error) -> ImportError + 'a {
    move |source| ImportError::Io {
        what,
        path: path.to_path_buf(),
        source,
    }
}

/// A bundle whose files are all there, intact and listed.
#[derive(Debug, Clone)]
pub struct Checked {
    pub dir: PathBuf,
    /// The bundle's `supctl.lock`.
    pub lock: LockFile,
    /// Per catalog key, the CAB's bundle-relative path and pin.
    pub cabs: BTreeMap<String, (String, Sha256)>,
    /// Bundle-relative content paths, with their size and SHA-256.
    pub content: Vec<(String, u64, Sha256)>,
}

fn hex(s: &Sha256) -> String {
    s.to_hex().to_ascii_lowercase()
}

/// Reads the manifest, walks `dir` and hashes every listed file (saying how far it is on
/// stderr); every missing, altered, extra or unsafe file, and every catalog the bundle's lock
/// does not match, is one problem of [`ImportError::Refused`].
pub fn check(dir: &Path) -> Result<Checked, ImportError> {
    let path = dir.join(manifest::FILE_NAME);
    let meta = match std::fs::metadata(&path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(ImportError::NoManifest { path });
        }
        Err(e) => {
            return Err(ImportError::BadManifest {
                path,
                reason: e.to_string(),
            });
        }
        Ok(m) => m,
    };
    let bad = |reason: String| ImportError::BadManifest {
        path: path.clone(),
        reason,
    };
    if !meta.is_file() || meta.len() > MANIFEST_LIMIT {
        return Err(bad(format!(
            "not a file of at most {}",
            super::size(MANIFEST_LIMIT)
        )));
    }
    let text = std::fs::read_to_string(&path).map_err(|e| bad(e.to_string()))?;
    let m = manifest::parse(&text).map_err(|e| bad(e.to_string()))?;
    let found = super::walk(dir).map_err(io("reading", dir))?;
    let listed_total = m
        .files
        .iter()
        .filter(|f| matches!(found.get(&f.path), Some(manifest::Found::File { size }) if *size == f.size))
        .map(|f| f.size)
        .sum();
    let mut progress = Progress::new("verify:", m.files.len(), listed_total);
    let mut problems: Vec<String> = manifest::compare(&m, &found, |rel| {
        let mut f = std::fs::File::open(below(dir, rel)).map_err(|e| e.to_string())?;
        let (_, sha) = crate::apply::hash_stream(&mut f, |c| {
            progress.chunk(c.len() as u64);
            Ok(())
        })
        .map_err(|e| e.to_string())?;
        progress.file(rel);
        Ok(sha)
    })
    .iter()
    .map(ToString::to_string)
    .collect();
    if !problems.is_empty() {
        return Err(ImportError::Refused {
            dir: dir.to_path_buf(),
            problems,
        });
    }
    let lock_path = dir.join(lockfile::FILE_NAME);
    let lock = match lockfile::read(&lock_path) {
        Ok(Some(l)) => l,
        Ok(None) => {
            return Err(ImportError::Refused {
                dir: dir.to_path_buf(),
                problems: vec![format!(
                    "missing: {} (a bundle carries the lock its catalogs were exported for)",
                    lockfile::FILE_NAME
                )],
            });
        }
        Err(e) => {
            return Err(ImportError::Refused {
                dir: dir.to_path_buf(),
                problems: vec![e.to_string()],
            });
        }
    };
    let mut cab_files: BTreeMap<Sha256, String> = BTreeMap::new();
    let mut content = Vec::new();
    for f in &m.files {
        match manifest::classify(&f.path) {
            Some(Kind::Catalog(named)) if named != f.sha256 => problems.push(format!(
                "altered: {}: named for sha256 {}, the manifest says {}",
                f.path,
                hex(&named),
                hex(&f.sha256)
            )),
            Some(Kind::Catalog(named)) => {
                if !lock.catalogs.values().any(|c| c.sha256 == named) {
                    problems.push(format!(
                        "extra: {} (the bundle's {} pins no catalog to it)",
                        f.path,
                        lockfile::FILE_NAME
                    ));
                }
                cab_files.insert(named, f.path.clone());
            }
            Some(Kind::Content) => content.push((f.path.clone(), f.size, f.sha256)),
            Some(Kind::Lock) | None => {}
        }
    }
    let mut cabs = BTreeMap::new();
    for (key, pin) in &lock.catalogs {
        match cab_files.get(&pin.sha256) {
            Some(rel) => {
                cabs.insert(key.clone(), (rel.clone(), pin.sha256));
            }
            None => problems.push(format!(
                "missing: catalogs/{} (the bundle's {} pins catalog {key} to it)",
                archive::file_name(&pin.sha256),
                lockfile::FILE_NAME
            )),
        }
    }
    if !problems.is_empty() {
        return Err(ImportError::Refused {
            dir: dir.to_path_buf(),
            problems,
        });
    }
    Ok(Checked {
        dir: dir.to_path_buf(),
        lock,
        cabs,
        content,
    })
}

/// Verifies each catalog's Authenticode signature, under the config's approved and blocked
/// signers when the config has the catalog (the plan will apply them anyway; refusing now
/// keeps an untrusted catalog out of the state directory). One problem per refused CAB.
pub fn check_signatures(checked: &Checked, cfg: &Config, now: DateTime<Utc>) -> Vec<String> {
    let max = cfg.http.max_download_mib.saturating_mul(1 << 20);
    let mut problems = Vec::new();
    for (key, (rel, _)) in &checked.cabs {
        let path = below(&checked.dir, rel);
        let refuse = |why: String| format!("refused: {rel} (catalog {key}): {why}");
        match std::fs::metadata(&path) {
            Ok(m) if max > 0 && m.len() > max => {
                problems.push(refuse(format!(
                    "{} is over [http] max_download_mib",
                    super::size(m.len())
                )));
                continue;
            }
            Err(e) => {
                problems.push(refuse(e.to_string()));
                continue;
            }
            Ok(_) => {}
        }
        // The signature is verified over the whole CAB in memory, as acquisition does; the
        // size was bounded above by the same limit a download has.
        let data = match std::fs::read(&path) {
            Ok(d) => d,
            Err(e) => {
                problems.push(refuse(e.to_string()));
                continue;
            }
        };
        let gate = match cfg.catalogs.get(key) {
            Some(c) => {
                let (approved, blocked) = signer_policy(cfg, c);
                let policy = SignerPolicy {
                    approved: &approved,
                    blocked: &blocked,
                    allow_expired: c.allow_expired_signer,
                };
                verify(&data, Some(&policy), now)
            }
            None => verify(&data, None, now),
        };
        if let Some(why) = gate.refused {
            problems.push(refuse(why));
        } else if gate.signature.status != SignatureStatus::Valid {
            problems.push(refuse("the catalog is not signed".into()));
        }
    }
    problems
}

/// The catalogs the config's lock pins to another CAB than the bundle carries: the bundle
/// was made for another lock. Pure.
pub fn lock_conflicts(bundle: &LockFile, config: Option<&LockFile>) -> Vec<String> {
    let Some(config) = config else {
        return Vec::new();
    };
    bundle
        .catalogs
        .iter()
        .filter_map(|(key, b)| {
            let c = config.catalogs.get(key)?;
            (c.sha256 != b.sha256).then(|| {
                format!(
                    "catalog {key}: the config's {} expects CAB sha256 {}, the bundle carries {}: the bundle was made for another lock; commit the lock it was exported with (its {}) and import again",
                    lockfile::FILE_NAME,
                    hex(&c.sha256),
                    hex(&b.sha256),
                    lockfile::FILE_NAME
                )
            })
        })
        .collect()
}

/// What [`install`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Installed {
    pub catalogs: usize,
    pub content: usize,
    /// Files already there, intact.
    pub unchanged: usize,
    pub bytes: u64,
}

/// Copies the checked bundle's CABs into `<state>/archive/` and its content into
/// `<state>/bundle-content/`, each checked again against the manifest's digest while it is
/// copied (the bundle may sit on removable media someone can still write to).
pub fn install(checked: &Checked, state_dir: &Path) -> Result<Installed, ImportError> {
    let archive_dir = installed_archive(state_dir);
    let content_dir = installed_content(state_dir);
    let total = checked
        .content
        .iter()
        .map(|(_, size, _)| *size)
        .sum::<u64>()
        + checked
            .lock
            .catalogs
            .iter()
            .filter(|(k, _)| checked.cabs.contains_key(*k))
            .map(|(_, c)| c.bytes)
            .sum::<u64>();
    let mut progress = Progress::new(
        "install:",
        checked.cabs.len() + checked.content.len(),
        total,
    );
    let mut out = Installed::default();
    for (key, (rel, sha)) in &checked.cabs {
        let kept = archive::keep_with_progress(&archive_dir, sha, &below(&checked.dir, rel), |n| {
            progress.chunk(n)
        })
        .map_err(|source| ImportError::Archive {
            key: key.clone(),
            source,
        })?;
        progress.file(rel);
        match kept {
            archive::Kept::Added => out.catalogs += 1,
            archive::Kept::AlreadyThere => out.unchanged += 1,
        }
    }
    for (rel, size, sha) in &checked.content {
        let from = below(&checked.dir, rel);
        let inner = rel.strip_prefix("content/").unwrap_or(rel);
        let to = below(&content_dir, inner);
        if super::sha256_of_file(&to).is_ok_and(|(_, s)| s == *sha) {
            progress.chunk(*size);
            progress.file(rel);
            out.unchanged += 1;
            continue;
        }
        if let Some(parent) = to.parent() {
            std::fs::create_dir_all(parent).map_err(io("creating", parent))?;
        }
        let copied = atomic_file::copy(
            &from,
            &to,
            0o644,
            |n| progress.chunk(n),
            |c| c.sha256 == *sha,
        )
        .map_err(io("copying", &from))?;
        match copied {
            CopyOutcome::Written(c) => {
                out.content += 1;
                out.bytes += c.bytes;
            }
            CopyOutcome::Refused(c) => {
                return Err(ImportError::Changed {
                    path: from,
                    expected: hex(sha),
                    found: hex(&c.sha256),
                });
            }
        }
        progress.file(rel);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lockfile::LockedCatalog;

    fn lock(pins: &[(&str, &[u8])]) -> LockFile {
        LockFile {
            version: lockfile::VERSION,
            catalogs: pins
                .iter()
                .map(|(k, cab)| {
                    (
                        k.to_string(),
                        LockedCatalog {
                            source: "catalog.cab".into(),
                            sha256: Sha256::of(cab),
                            bytes: cab.len() as u64,
                            signers: Vec::new(),
                            updates: 1,
                            selected: Sha256::of(b"ids"),
                            newest_update: None,
                            signed: None,
                        },
                    )
                })
                .collect(),
        }
    }

    #[test]
    fn a_bundle_for_another_lock_is_refused_by_catalog_with_both_digests() {
        let bundle = lock(&[("contoso", b"tested"), ("fabrikam", b"f")]);
        assert!(lock_conflicts(&bundle, None).is_empty());
        assert!(lock_conflicts(&bundle, Some(&bundle)).is_empty());
        let config = lock(&[("contoso", b"other"), ("adatum", b"a")]);
        let c = lock_conflicts(&bundle, Some(&config));
        assert_eq!(c.len(), 1, "{c:?}");
        assert!(
            c[0].starts_with("catalog contoso:")
                && c[0].contains(&format!(
                    "expects CAB sha256 {}",
                    hex(&Sha256::of(b"other"))
                ))
                && c[0].contains(&format!(
                    "the bundle carries {}",
                    hex(&Sha256::of(b"tested"))
                )),
            "{c:?}"
        );
    }

    #[test]
    fn a_directory_without_a_manifest_is_not_a_bundle() {
        let dir = tempfile::tempdir().unwrap();
        let e = check(dir.path()).unwrap_err().to_string();
        assert!(e.contains("manifest.json is missing"), "{e}");
        std::fs::write(dir.path().join("manifest.json"), "{").unwrap();
        let e = check(dir.path()).unwrap_err().to_string();
        assert!(
            e.contains("cannot read") && e.contains("manifest.json"),
            "{e}"
        );
    }
}
