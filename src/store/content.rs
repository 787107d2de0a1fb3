//! `WsusContent/`: content files named `<XX>/<SHA1HEX>.<ext>` as WSUS lays them out
//! (XX = last byte of the SHA-1), deduplicated by digest.
//!
//! A file appears under its final name only complete and durable: it is written in
//! `WsusContent/.tmp/`, fsynced, renamed, and the directory fsynced. A crash leaves at worst
//! a temp file (cleaned by gc) or a complete file not yet recorded (an orphan gc finds).

use std::collections::HashMap;
use std::fs::{self, File};
use std::io::{self, Read as _};
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::ids::{Sha1, Sha256};

use super::error::{Result, StoreError};
use super::location::StoreLocation;
use super::op::check_ext;

/// The content directory of one state directory.
#[derive(Debug, Clone)]
pub struct ContentStore {
    root: PathBuf,
    temp: PathBuf,
}

/// Digests and size of a file, computed in one pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileDigest {
    pub sha1: Sha1,
    pub sha256: Sha256,
    pub size: u64,
}

/// What `store gc` found.
#[derive(Debug, Clone, Default, Serialize)]
pub struct GcReport {
    /// Complete content files no update references (e.g. left by a crash before commit).
    pub orphans: Vec<PathBuf>,
    pub orphan_bytes: u64,
    /// Recorded content whose file no longer has its digest.
    pub corrupt: Vec<PathBuf>,
    /// Recorded content whose file is gone.
    pub missing: Vec<Sha1>,
    /// Leftover downloads in the temp area.
    pub temp: Vec<PathBuf>,
    /// Files that do not follow the WSUS layout; never removed.
    pub unexpected: Vec<PathBuf>,
    /// Content files checked against their digest.
    pub checked: u64,
    /// True when orphans and temp files were removed (not a dry run).
    pub removed: bool,
}

impl ContentStore {
    pub fn new(loc: &StoreLocation) -> Self {
        Self {
            root: loc.content_dir(),
            temp: loc.temp_dir(),
        }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `<XX>/<SHA1HEX>.<ext>` relative to `WsusContent/`.
    pub fn relative_path(sha1: &Sha1, ext: &str) -> PathBuf {
        let hex = sha1.to_hex();
        PathBuf::from(&hex[38..]).join(format!("{hex}.{ext}"))
    }

    pub fn path(&self, sha1: &Sha1, ext: &str) -> PathBuf {
        self.root.join(Self::relative_path(sha1, ext))
    }

    /// The temp area, created on demand: downloads go here before `install`.
    pub fn temp_dir(&self) -> Result<PathBuf> {
        fs::create_dir_all(&self.temp)
            .map_err(|e| StoreError::io(format!("creating {}", self.temp.display()), e))?;
        Ok(self.temp.clone())
    }

    /// Moves a downloaded file into place after checking its digests. When the content is
    /// already stored intact the temp file is just removed (deduplication).
    pub fn install(&self, temp: &Path, sha1: &Sha1, sha256: &Sha256, ext: &str) -> Result<bool> {
        check_ext(ext)?;
        let got = digest_file(temp)?;
        if got.sha1 != *sha1 {
            return Err(mismatch(temp, "SHA-1", sha1.to_hex(), got.sha1.to_hex()));
        }
        if got.sha256 != *sha256 {
            return Err(mismatch(
                temp,
                "SHA-256",
                sha256.to_hex(),
                got.sha256.to_hex(),
            ));
        }
        let dest = self.path(sha1, ext);
        if dest.is_file() && digest_file(&dest).is_ok_and(|d| d.sha1 == *sha1) {
            let _ = fs::remove_file(temp);
            return Ok(false);
        }
        let dir = dest.parent().expect("content paths have a parent");
        fs::create_dir_all(dir)
            .map_err(|e| StoreError::io(format!("creating {}", dir.display()), e))?;
        let temp = self.move_to_temp_area(temp)?;
        File::open(&temp)
            .and_then(|f| f.sync_all())
            .map_err(|e| StoreError::io(format!("syncing {}", temp.display()), e))?;
        fs::rename(&temp, &dest)
            .map_err(|e| StoreError::io(format!("moving content to {}", dest.display()), e))?;
        sync_dir(dir)?;
        Ok(true)
    }

    /// Rename only works within one file system; copy a file from elsewhere first.
    fn move_to_temp_area(&self, temp: &Path) -> Result<PathBuf> {
        if temp.parent() == Some(self.temp.as_path()) {
            return Ok(temp.to_path_buf());
        }
        let dir = self.temp_dir()?;
        let copy = dir.join(format!("{}.part", super::names::unique_token()));
        fs::copy(temp, &copy).map_err(|e| {
            StoreError::io(
                format!("copying {} to {}", temp.display(), copy.display()),
                e,
            )
        })?;
        let _ = fs::remove_file(temp);
        Ok(copy)
    }

    /// Compares the directory with the recorded content (`sha1 -> ext`).
    pub fn scan(&self, known: &HashMap<Sha1, String>) -> Result<GcReport> {
        let mut r = GcReport::default();
        let mut seen = std::collections::HashSet::new();
        for entry in read_dir(&self.root)? {
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            if path == self.temp {
                r.temp
                    .extend(read_dir(&path)?.into_iter().map(|e| e.path()));
                continue;
            }
            let is_bucket = path.is_dir()
                && name.len() == 2
                && name
                    .bytes()
                    .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_lowercase());
            if !is_bucket {
                r.unexpected.push(path);
                continue;
            }
            for file in read_dir(&path)? {
                let fpath = file.path();
                let fname = file.file_name().to_string_lossy().into_owned();
                match parse_content_name(&fname).filter(|(d, _)| d.to_hex()[38..] == name) {
                    None => r.unexpected.push(fpath),
                    Some((sha1, ext)) if known.get(&sha1) == Some(&ext) => {
                        seen.insert(sha1);
                        r.checked += 1;
                        if !matches!(digest_file(&fpath), Ok(d) if d.sha1 == sha1) {
                            r.corrupt.push(fpath);
                        }
                    }
                    Some(_) => {
                        r.orphan_bytes += file.metadata().map(|m| m.len()).unwrap_or(0);
                        r.orphans.push(fpath);
                    }
                }
            }
        }
        r.missing = known
            .keys()
            .filter(|k| !seen.contains(*k))
            .copied()
            .collect();
        r.missing.sort();
        for v in [
            &mut r.orphans,
            &mut r.corrupt,
            &mut r.temp,
            &mut r.unexpected,
        ] {
            v.sort();
        }
        Ok(r)
    }

    /// Removes what `scan` found to be orphans or leftover temp files. The caller holds the
    /// state lock, so no download is in flight.
    pub fn remove(&self, report: &mut GcReport) -> Result<()> {
        for p in report.orphans.iter().chain(report.temp.iter()) {
            match fs::remove_file(p) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(StoreError::io(format!("removing {}", p.display()), e)),
            }
        }
        report.removed = true;
        Ok(())
    }
}

fn mismatch(path: &Path, algorithm: &'static str, expected: String, actual: String) -> StoreError {
    StoreError::DigestMismatch {
        path: path.to_path_buf(),
        algorithm,
        expected,
        actual,
    }
}

/// `<40 hex>.<ext>` → (digest, ext).
fn parse_content_name(name: &str) -> Option<(Sha1, String)> {
    let (hex, ext) = name.split_once('.')?;
    if hex.len() != 40 || hex.bytes().any(|b| b.is_ascii_lowercase()) || check_ext(ext).is_err() {
        return None;
    }
    Some((Sha1::from_hex(hex).ok()?, ext.to_string()))
}

fn read_dir(dir: &Path) -> Result<Vec<fs::DirEntry>> {
    match fs::read_dir(dir) {
        Ok(rd) => rd
            .collect::<io::Result<Vec<_>>>()
            .map_err(|e| StoreError::io(format!("listing {}", dir.display()), e)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(StoreError::io(format!("listing {}", dir.display()), e)),
    }
}

/// SHA-1, SHA-256 and size of a file in one streaming pass.
pub fn digest_file(path: &Path) -> Result<FileDigest> {
    use sha1::Digest as _;
    let ctx = |e| StoreError::io(format!("reading {}", path.display()), e);
    let mut f = File::open(path).map_err(ctx)?;
    let (mut h1, mut h2) = (sha1::Sha1::new(), sha2::Sha256::new());
    let mut buf = vec![0u8; 64 * 1024];
    let mut size = 0u64;
    loop {
        let n = f.read(&mut buf).map_err(ctx)?;
        if n == 0 {
            break;
        }
        h1.update(&buf[..n]);
        h2.update(&buf[..n]);
        size += n as u64;
    }
    Ok(FileDigest {
        sha1: Sha1(h1.finalize().into()),
        sha256: Sha256(h2.finalize().into()),
        size,
    })
}

/// Makes a rename durable: the directory entry is flushed, not only the file data.
#[cfg(unix)]
pub(crate) fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| StoreError::io(format!("syncing {}", dir.display()), e))
}

#[cfg(not(unix))]
pub(crate) fn sync_dir(_dir: &Path) -> Result<()> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_names_follow_the_wsus_layout() {
        let d = Sha1::of(b"x");
        let rel = ContentStore::relative_path(&d, "exe");
        let hex = d.to_hex();
        assert_eq!(rel, PathBuf::from(&hex[38..]).join(format!("{hex}.exe")));
        assert_eq!(
            parse_content_name(&format!("{hex}.exe")),
            Some((d, "exe".into()))
        );
        assert_eq!(
            parse_content_name(&format!("{}.exe", hex.to_lowercase())),
            None
        );
        assert_eq!(parse_content_name("foo.exe"), None);
    }
}
