//! The archive of pinned CABs (`[archive]`): `<sha256>.cab` files in a directory or under
//! an HTTPS base URL, so an update point that applies `--locked` finds the catalog another
//! one tested after the vendor's URL has moved on to the next.
//!
//! Rules, and why:
//! - **Named by the SHA-256 of their bytes** (lower-case hex): a file is the catalog it
//!   names or it is refused, so an archive needs no index and no trust of its own; the
//!   catalog's signature is verified again when it is read, like any other.
//! - **Written only when the bytes hash to the pin**, atomically (temp + fsync + rename):
//!   a half-copied or wrong file never sits under a pinned name.
//! - **A URL archive is read-only**: supctl reads `<url>/<sha256>.cab`; whatever serves it
//!   is filled by copying a directory archive.

use std::path::{Path, PathBuf};

use crate::atomic_file::CopyOutcome;
use crate::catalog::fetch::CatalogSource;
use crate::config::Archive;
use crate::ids::Sha256;

/// `<sha256>.cab`, lower-case.
pub fn file_name(sha: &Sha256) -> String {
    format!("{}.cab", sha.to_hex().to_ascii_lowercase())
}

/// Where the archive keeps the CAB pinned to `sha`.
pub fn source(archive: &Archive, sha: &Sha256) -> Option<CatalogSource> {
    if let Some(dir) = &archive.path {
        return Some(CatalogSource::Path(dir.join(file_name(sha))));
    }
    archive
        .url
        .as_ref()
        .map(|u| CatalogSource::Url(format!("{}/{}", u.trim_end_matches('/'), file_name(sha))))
}

/// Why a CAB could not be archived.
#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    #[error("reading {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{} hashes to {found}, not the pinned {expected}: it is not the locked catalog", path.display())]
    NotPinned {
        path: PathBuf,
        expected: String,
        found: String,
    },
    #[error("writing {}: {source}", path.display())]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// What [`keep`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kept {
    Added,
    AlreadyThere,
}

/// Copies `cab` into the archive directory `dir` as the CAB pinned to `sha`, after checking
/// that it is; an intact copy already there is left alone. Streams (catalogs of hundreds of
/// MiB exist), checking the digest of the bytes copied.
pub fn keep(dir: &Path, sha: &Sha256, cab: &Path) -> Result<Kept, ArchiveError> {
    keep_with_progress(dir, sha, cab, |_| {})
}

/// [`keep`], telling `progress` how many bytes each chunk copied.
pub fn keep_with_progress(
    dir: &Path,
    sha: &Sha256,
    cab: &Path,
    progress: impl FnMut(u64),
) -> Result<Kept, ArchiveError> {
    let dest = dir.join(file_name(sha));
    if crate::bundle::sha256_of_file(&dest).is_ok_and(|(_, found)| found == *sha) {
        return Ok(Kept::AlreadyThere);
    }
    let write = |source| ArchiveError::Write {
        path: dest.clone(),
        source,
    };
    std::fs::create_dir_all(dir).map_err(write)?;
    let copied = crate::atomic_file::copy(cab, &dest, 0o644, progress, |c| c.sha256 == *sha)
        .map_err(|source| {
            // Tell a source that cannot be read from a destination that cannot be written.
            if std::fs::File::open(cab).is_err() {
                ArchiveError::Read {
                    path: cab.to_path_buf(),
                    source,
                }
            } else {
                write(source)
            }
        })?;
    match copied {
        CopyOutcome::Written(_) => Ok(Kept::Added),
        CopyOutcome::Refused(c) => Err(ArchiveError::NotPinned {
            path: cab.to_path_buf(),
            expected: sha.to_hex().to_ascii_lowercase(),
            found: c.sha256.to_hex().to_ascii_lowercase(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_pinned_bytes_are_kept_and_only_once() {
        let dir = tempfile::tempdir().unwrap();
        let cab = dir.path().join("c.cab");
        std::fs::write(&cab, b"catalog").unwrap();
        let sha = Sha256::of(b"catalog");
        let archive = dir.path().join("archive");
        assert_eq!(keep(&archive, &sha, &cab).unwrap(), Kept::Added);
        assert_eq!(keep(&archive, &sha, &cab).unwrap(), Kept::AlreadyThere);
        let stored = archive.join(file_name(&sha));
        assert_eq!(std::fs::read(stored).unwrap(), b"catalog");
        let e = keep(&archive, &Sha256::of(b"other"), &cab).unwrap_err();
        assert!(e.to_string().contains("not the locked catalog"), "{e}");
    }

    #[test]
    fn an_archive_is_a_directory_or_a_base_url() {
        let sha = Sha256::of(b"x");
        let name = file_name(&sha);
        let dir = Archive {
            path: Some(PathBuf::from("/srv/a")),
            url: None,
        };
        assert_eq!(
            source(&dir, &sha),
            Some(CatalogSource::Path(PathBuf::from("/srv/a").join(&name)))
        );
        let url = Archive {
            path: None,
            url: Some("https://files.corp.example/supctl/".into()),
        };
        assert_eq!(
            source(&url, &sha),
            Some(CatalogSource::Url(format!(
                "https://files.corp.example/supctl/{name}"
            )))
        );
    }
}
