//! `supctl.lock`: the catalogs a config was planned against, pinned by their CAB's SHA-256,
//! meant to be committed beside the config.
//!
//! Why: a vendor URL serves whatever the vendor published today, so without a pin the
//! catalog a lab update point tested is not the catalog production applies. Terraform pins
//! providers in `.terraform.lock.hcl` and Cargo crates in `Cargo.lock`; this does the same for
//! update catalogs. Rules it keeps:
//! - **The CAB's SHA-256 is the pin.** It covers everything in the catalog, signature
//!   included; the source, size, signers, update count and the digest of the selected updates
//!   are recorded so that a review of the lock's diff says what changed, and so that a
//!   mismatch can be explained, but only the SHA-256 decides.
//! - **Written only when a catalog changed**, one entry per catalog, sorted: a lock that did
//!   not change is not rewritten, so it never shows a diff of its own.
//! - **`--locked` refuses, never refreshes**: a catalog whose CAB differs from its pin, or that
//!   the lock does not name, is an error naming the catalog, the expected and the found
//!   digest ([`check::mismatches`]).
//! - **Temp + fsync + rename**: a crash leaves the old lock or the new one.

pub mod archive;
pub mod check;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::ids::{Sha256, Thumbprint};

/// The lock's file name, in the config root.
pub const FILE_NAME: &str = "supctl.lock";
/// The format this build writes and reads.
pub const VERSION: u32 = 1;

const HEADER: &str = "# supctl.lock: the catalogs this config was planned against, pinned by the SHA-256 of\n# their CAB. Commit it. `supctl plan --locked` and `apply --locked` refuse a catalog that\n# differs; `supctl lock update` refreshes it. Written by supctl: do not edit.\n\n";

/// The whole lock: one entry per catalog key.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LockFile {
    pub version: u32,
    #[serde(default, rename = "catalog")]
    pub catalogs: BTreeMap<String, LockedCatalog>,
}

/// One catalog as it was planned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LockedCatalog {
    /// The URL or path it was read from (paths relative to the config root when inside it).
    pub source: String,
    /// The pin: SHA-256 of the CAB, lower-case hex.
    #[serde(with = "lower_hex")]
    pub sha256: Sha256,
    pub bytes: u64,
    /// The approved signers that signed it.
    pub signers: Vec<Thumbprint>,
    /// Updates in the catalog.
    pub updates: usize,
    /// SHA-256 over the selected updates' ids and package hashes, sorted by id: it changes
    /// when the catalog changes what this config takes from it.
    #[serde(with = "lower_hex")]
    pub selected: Sha256,
    /// The catalog's own date: the newest `CreationDate` among its updates. The catalog
    /// format carries no date or version of its own, and vendors date every package, so
    /// this says how recent the pinned catalog is. Absent for a catalog without updates.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub newest_update: Option<DateTime<Utc>>,
    /// When the vendor signed the CAB, by its signature's verified timestamp (absent when
    /// the signature has none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signed: Option<DateTime<Utc>>,
}

/// Why the lock could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum LockFileError {
    #[error("reading {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: {message}\n  hint: the lock is written by supctl; restore it from version control or delete it and run `supctl lock update`", path.display())]
    Parse { path: PathBuf, message: String },
    #[error("{}: lock format {found}, this supctl reads {VERSION}: upgrade supctl, or delete the lock and run `supctl lock update`", path.display())]
    Version { path: PathBuf, found: u32 },
    #[error("locked, but there is no {}: run `supctl lock update` where the catalogs were tested and commit the lock", path.display())]
    Missing { path: PathBuf },
    #[error("writing {}: {source}", path.display())]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Where the lock of a config lives: in the directory given to `-c`, or beside the file.
pub fn path_for(config_root: &Path) -> PathBuf {
    if config_root.is_dir() {
        config_root.join(FILE_NAME)
    } else {
        config_root
            .parent()
            .unwrap_or_else(|| Path::new("."))
            .join(FILE_NAME)
    }
}

/// Reads the lock at `path`; `None` when there is none yet.
pub fn read(path: &Path) -> Result<Option<LockFile>, LockFileError> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(LockFileError::Read {
                path: path.to_path_buf(),
                source,
            });
        }
    };
    let lock: LockFile = toml::from_str(&text).map_err(|e| LockFileError::Parse {
        path: path.to_path_buf(),
        message: e.to_string().trim_end().to_string(),
    })?;
    if lock.version != VERSION {
        return Err(LockFileError::Version {
            path: path.to_path_buf(),
            found: lock.version,
        });
    }
    Ok(Some(lock))
}

/// Writes `lock` to `path` atomically (temp + fsync + rename), readable by all: it is
/// meant to be committed and holds no secret.
pub fn write(path: &Path, lock: &LockFile) -> Result<(), LockFileError> {
    let body = toml::to_string(lock).map_err(|e| LockFileError::Write {
        path: path.to_path_buf(),
        source: std::io::Error::other(e),
    })?;
    crate::atomic_file::write(path, format!("{HEADER}{body}").as_bytes(), 0o644).map_err(|source| {
        LockFileError::Write {
            path: path.to_path_buf(),
            source,
        }
    })
}

/// Digests as lower-case hex (the lock's contract, and what `sha256sum` prints in a bundle's
/// manifest), read in either case.
pub(crate) mod lower_hex {
    use serde::{Deserialize, Deserializer, Serializer};

    use crate::ids::Sha256;

    pub(crate) fn serialize<S: Serializer>(d: &Sha256, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&d.to_hex().to_ascii_lowercase())
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Sha256, D::Error> {
        let s = String::deserialize(d)?;
        Sha256::from_hex(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry() -> LockedCatalog {
        LockedCatalog {
            source: "catalog/contoso-v3.cab".into(),
            sha256: Sha256::of(b"cab"),
            bytes: 3,
            signers: vec![Thumbprint::parse(&"AB".repeat(20)).unwrap()],
            updates: 4,
            selected: Sha256::of(b"ids"),
            newest_update: "2026-10-02T08:00:00Z".parse().ok(),
            signed: None,
        }
    }

    #[test]
    fn the_lock_round_trips_with_lower_case_digests() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE_NAME);
        let lock = LockFile {
            version: VERSION,
            catalogs: [("contoso".to_string(), entry())].into(),
        };
        write(&path, &lock).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let hex = Sha256::of(b"cab").to_hex().to_ascii_lowercase();
        assert!(text.contains(&format!("sha256 = \"{hex}\"")), "{text}");
        assert!(text.starts_with("# supctl.lock"), "{text}");
        assert_eq!(read(&path).unwrap(), Some(lock));
        assert_eq!(read(&dir.path().join("none")).unwrap(), None);
    }

    #[test]
    fn a_damaged_or_future_lock_is_refused_with_what_to_do() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE_NAME);
        std::fs::write(&path, "version = 1\n[catalog.x]\nsha256 = 3\n").unwrap();
        let e = read(&path).unwrap_err().to_string();
        assert!(e.contains("restore it from version control"), "{e}");
        std::fs::write(&path, "version = 2\n").unwrap();
        let e = read(&path).unwrap_err().to_string();
        assert!(e.contains("lock format 2"), "{e}");
    }

    #[test]
    fn the_lock_lives_in_the_config_root() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(path_for(dir.path()), dir.path().join(FILE_NAME));
        let file = dir.path().join("supctl.toml");
        assert_eq!(path_for(&file), dir.path().join(FILE_NAME));
    }
}
