//! Writing a bundle (`supctl export`): the caller finds the locked CABs and the staged
//! content; this copies them into the bundle directory, checking each against its digest on
//! the way, then writes the lock and, last, the manifest.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::manifest::{self, Manifest, ManifestFile};
use super::{Progress, below};
use crate::atomic_file::{self, CopyOutcome};
use crate::ids::{Sha1, Sha256};
use crate::lockfile::{self, LockFile, archive};

/// A locked catalog's CAB, where the caller found it.
#[derive(Debug, Clone)]
pub struct CatalogCab {
    pub key: String,
    pub sha256: Sha256,
    pub bytes: u64,
    pub path: PathBuf,
}

/// A content file the store holds staged, where it holds it.
#[derive(Debug, Clone)]
pub struct StagedFile {
    /// The name the catalog gives it (what the content lookup searches for).
    pub name: String,
    pub sha1: Sha1,
    pub size: u64,
    pub path: PathBuf,
}

/// Why a bundle was not written.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("{} is not a directory: give `--out` a new or empty directory", dir.display())]
    NotADirectory { dir: PathBuf },
    #[error("{} is not empty and holds no bundle ({why}): give `--out` a new or empty directory; export replaces only a previous bundle", dir.display())]
    NotEmpty { dir: PathBuf, why: String },
    #[error("{} holds a previous bundle and files it does not list ({}): move them away or give `--out` another directory", dir.display(), files.join(", "))]
    Foreign { dir: PathBuf, files: Vec<String> },
    #[error(
        "the catalog gives a content file the name {name:?}, which is not a plain file name: it cannot be exported"
    )]
    BadName { name: String },
    #[error("catalog {key}: {} hashes to {found}, not the pinned {expected}: it is not the locked catalog", path.display())]
    NotPinned {
        key: String,
        path: PathBuf,
        expected: String,
        found: String,
    },
    #[error("{}: the store's copy of {name} has SHA-1 {found}, not {expected}; run `supctl store gc` and apply again to stage it anew", path.display())]
    Corrupt {
        name: String,
        path: PathBuf,
        expected: Sha1,
        found: Sha1,
    },
    #[error("{what} {}: {source}", path.display())]
    Io {
        what: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Lock(#[from] lockfile::LockFileError),
}

fn io<'a>(what: &'static str, path: &'a Path) -> impl Fn(std::io::Error) -> ExportError + 'a {
    move |source| ExportError::Io {
        what,
        path: path.to_path_buf(),
        source,
    }
}

/// A name the content lookup can find and that stays inside `content/`.
fn plain_name(name: &str) -> bool {
    !name.is_empty() && name != "." && name != ".." && !name.contains(['/', '\\', '\0', ':'])
}

/// Where each staged file goes in the bundle, one file per SHA-1: `content/<name>`, or
/// `content/<SHA1HEX>/<name>` for every file whose name (ignoring case) another file has.
pub fn content_layout(files: Vec<StagedFile>) -> Result<Vec<(String, StagedFile)>, ExportError> {
    let mut by_sha: BTreeMap<Sha1, StagedFile> = BTreeMap::new();
    for f in files {
        if !plain_name(&f.name) {
            return Err(ExportError::BadName { name: f.name });
        }
        by_sha.entry(f.sha1).or_insert(f);
    }
    let mut names: BTreeMap<String, usize> = BTreeMap::new();
    for f in by_sha.values() {
        *names.entry(f.name.to_lowercase()).or_default() += 1;
    }
    Ok(by_sha
        .into_values()
        .map(|f| {
            let rel = if names[&f.name.to_lowercase()] > 1 {
                format!("content/{}/{}", f.sha1.to_hex(), f.name)
            } else {
                format!("content/{}", f.name)
            };
            (rel, f)
        })
        .collect())
}

/// Makes `dir` ready: created when absent; left as is when empty; emptied of a previous
/// bundle (manifest first, so an interrupted export leaves no bundle that looks whole) when
/// it holds one and nothing else; refused otherwise.
pub fn prepare(dir: &Path) -> Result<(), ExportError> {
    if !dir.exists() {
        return std::fs::create_dir_all(dir).map_err(io("creating", dir));
    }
    if !dir.is_dir() {
        return Err(ExportError::NotADirectory {
            dir: dir.to_path_buf(),
        });
    }
    let found = super::walk(dir).map_err(io("reading", dir))?;
    if found.is_empty() {
        return Ok(());
    }
    let manifest_path = dir.join(manifest::FILE_NAME);
    let previous = std::fs::read_to_string(&manifest_path)
        .map_err(|e| e.to_string())
        .and_then(|t| manifest::parse(&t).map_err(|e| e.to_string()))
        .map_err(|why| ExportError::NotEmpty {
            dir: dir.to_path_buf(),
            why: format!("{}: {why}", manifest::FILE_NAME),
        })?;
    let listed: std::collections::BTreeSet<&str> =
        previous.files.iter().map(|f| f.path.as_str()).collect();
    let foreign: Vec<String> = found
        .keys()
        .filter(|p| p.as_str() != manifest::FILE_NAME && !listed.contains(p.as_str()))
        .cloned()
        .collect();
    if !foreign.is_empty() {
        return Err(ExportError::Foreign {
            dir: dir.to_path_buf(),
            files: foreign,
        });
    }
    std::fs::remove_file(&manifest_path).map_err(io("removing", &manifest_path))?;
    for rel in found.keys().filter(|p| p.as_str() != manifest::FILE_NAME) {
        let p = below(dir, rel);
        std::fs::remove_file(&p).map_err(io("removing", &p))?;
    }
    for sub in ["catalogs", "content"] {
        remove_empty_dirs(&dir.join(sub));
    }
    Ok(())
}

/// Removes `dir` and the directories below it that are empty; keeps any that is not.
fn remove_empty_dirs(dir: &Path) {
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                remove_empty_dirs(&e.path());
            }
        }
    }
    let _ = std::fs::remove_dir(dir);
}

/// What was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    pub catalogs: usize,
    pub content: usize,
    pub bytes: u64,
}

/// Writes the bundle into `dir` (made ready by [`prepare`]): the CABs, the content, the lock,
/// then the manifest.
pub fn write(
    dir: &Path,
    lock: &LockFile,
    cabs: &[CatalogCab],
    content: &[(String, StagedFile)],
) -> Result<Written, ExportError> {
    let total = cabs.iter().map(|c| c.bytes).sum::<u64>()
        + content.iter().map(|(_, f)| f.size).sum::<u64>();
    let mut progress = Progress::new("export:", cabs.len() + content.len(), total);
    let mut files = Vec::new();
    for cab in cabs {
        let rel = format!("catalogs/{}", archive::file_name(&cab.sha256));
        let c = copy_into(dir, &rel, &cab.path, &mut progress, |c| {
            c.sha256 == cab.sha256
        })?
        .map_err(|found| ExportError::NotPinned {
            key: cab.key.clone(),
            path: cab.path.clone(),
            expected: cab.sha256.to_hex().to_ascii_lowercase(),
            found: found.to_hex().to_ascii_lowercase(),
        })?;
        files.push(c);
    }
    for (rel, f) in content {
        let mut found_sha1 = None;
        let c = copy_into(dir, rel, &f.path, &mut progress, |c| {
            found_sha1 = Some(c.sha1);
            c.sha1 == f.sha1
        })?
        .map_err(|_| ExportError::Corrupt {
            name: f.name.clone(),
            path: f.path.clone(),
            expected: f.sha1,
            found: found_sha1.unwrap_or(f.sha1),
        })?;
        files.push(c);
    }
    let lock_path = dir.join(lockfile::FILE_NAME);
    lockfile::write(&lock_path, lock)?;
    let (size, sha256) = super::sha256_of_file(&lock_path).map_err(io("reading", &lock_path))?;
    files.push(ManifestFile {
        path: lockfile::FILE_NAME.into(),
        size,
        sha256,
    });
    let bytes = files.iter().map(|f| f.size).sum();
    let m = Manifest {
        format: manifest::FORMAT.into(),
        version: manifest::VERSION,
        supctl_version: env!("CARGO_PKG_VERSION").into(),
        created: chrono::Utc::now(),
        files,
    };
    let path = dir.join(manifest::FILE_NAME);
    atomic_file::write(&path, manifest::to_text(&m).as_bytes(), 0o644)
        .map_err(io("writing", &path))?;
    Ok(Written {
        catalogs: cabs.len(),
        content: content.len(),
        bytes,
    })
}

/// Copies `from` to `dir/rel` when `accept` takes its digests; `Err(found SHA-256)` when not.
fn copy_into(
    dir: &Path,
    rel: &str,
    from: &Path,
    progress: &mut Progress,
    accept: impl FnOnce(&atomic_file::Copied) -> bool,
) -> Result<Result<ManifestFile, Sha256>, ExportError> {
    let to = below(dir, rel);
    if let Some(parent) = to.parent() {
        std::fs::create_dir_all(parent).map_err(io("creating", parent))?;
    }
    let out = atomic_file::copy(from, &to, 0o644, |n| progress.chunk(n), accept)
        .map_err(io("copying", from))?;
    Ok(match out {
        CopyOutcome::Written(c) => {
            progress.file(rel);
            Ok(ManifestFile {
                path: rel.to_string(),
                size: c.bytes,
                sha256: c.sha256,
            })
        }
        CopyOutcome::Refused(c) => Err(c.sha256),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn staged(name: &str, body: &[u8]) -> StagedFile {
        StagedFile {
            name: name.into(),
            sha1: Sha1::of(body),
            size: body.len() as u64,
            path: PathBuf::from(name),
        }
    }

    #[test]
    fn files_sharing_a_name_are_kept_apart_under_their_digest() {
        let files = vec![
            staged("setup.exe", b"one"),
            staged("SETUP.EXE", b"two"),
            staged("tool.exe", b"tool"),
            staged("tool.exe", b"tool"),
        ];
        let layout = content_layout(files).unwrap();
        let paths: Vec<&str> = layout.iter().map(|(p, _)| p.as_str()).collect();
        assert_eq!(paths.len(), 3, "{paths:?}");
        assert!(paths.contains(&"content/tool.exe"), "{paths:?}");
        let one = format!("content/{}/setup.exe", Sha1::of(b"one").to_hex());
        let two = format!("content/{}/SETUP.EXE", Sha1::of(b"two").to_hex());
        assert!(
            paths.contains(&one.as_str()) && paths.contains(&two.as_str()),
            "{paths:?}"
        );
        for (p, _) in &layout {
            assert_eq!(manifest::classify(p), Some(manifest::Kind::Content), "{p}");
        }
    }

    #[test]
    fn a_name_that_is_not_a_plain_file_name_is_refused() {
        for name in ["../x.exe", "a/b.exe", "..", "c:x"] {
            let e = content_layout(vec![staged(name, b"x")]).unwrap_err();
            assert!(e.to_string().contains(&format!("{name:?}")), "{e}");
        }
    }

    #[test]
    fn only_an_empty_directory_or_a_previous_bundle_is_written_into() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        prepare(&out).unwrap();
        std::fs::write(out.join("notes.txt"), b"mine").unwrap();
        let e = prepare(&out).unwrap_err();
        assert!(e.to_string().contains("is not empty"), "{e}");
        assert_eq!(std::fs::read(out.join("notes.txt")).unwrap(), b"mine");
        std::fs::remove_file(out.join("notes.txt")).unwrap();

        let cab = dir.path().join("c.cab");
        std::fs::write(&cab, b"cab").unwrap();
        let lock = LockFile {
            version: lockfile::VERSION,
            catalogs: BTreeMap::new(),
        };
        let cabs = [CatalogCab {
            key: "contoso".into(),
            sha256: Sha256::of(b"cab"),
            bytes: 3,
            path: cab.clone(),
        }];
        write(&out, &lock, &cabs, &[]).unwrap();
        // A previous bundle is replaced; a file it does not list stops that.
        prepare(&out).unwrap();
        assert!(super::super::walk(&out).unwrap().is_empty());
        write(&out, &lock, &cabs, &[]).unwrap();
        std::fs::write(out.join("catalogs/mine.txt"), b"mine").unwrap();
        let e = prepare(&out).unwrap_err();
        assert!(e.to_string().contains("catalogs/mine.txt"), "{e}");
        assert!(out.join(manifest::FILE_NAME).is_file());
    }

    #[test]
    fn a_cab_that_is_not_the_pin_is_not_exported() {
        let dir = tempfile::tempdir().unwrap();
        let cab = dir.path().join("c.cab");
        std::fs::write(&cab, b"next").unwrap();
        let lock = LockFile {
            version: lockfile::VERSION,
            catalogs: BTreeMap::new(),
        };
        let cabs = [CatalogCab {
            key: "contoso".into(),
            sha256: Sha256::of(b"cab"),
            bytes: 3,
            path: cab,
        }];
        let out = dir.path().join("out");
        prepare(&out).unwrap();
        let e = write(&out, &lock, &cabs, &[]).unwrap_err();
        assert!(e.to_string().contains("catalog contoso"), "{e}");
        assert!(!out.join(manifest::FILE_NAME).exists());
    }
}
