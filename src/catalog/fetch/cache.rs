//! The catalog cache directory: `<key>.cab` plus `<key>.json` metadata.
//!
//! Crash safety: every file is written to a unique `<key>.<random>.partial` sibling,
//! fsynced, renamed over its final name, and the directory is fsynced, so a reader only
//! ever sees a complete old or a complete new file. The CAB is committed before its
//! metadata; the only torn state a crash can leave is "new CAB, old metadata", which
//! [`Cache::intact_meta`] detects before trusting the metadata: by the CAB's file status
//! when the metadata recorded it (inode, size, modification and change times, read after
//! the CAB was renamed into place), else by hashing the CAB. A CAB renamed in or written
//! since has another inode or change time, which no user can set back, so a no-op plan
//! reads each cached CAB once (to verify it), not twice.

use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::FetchError;
use super::headers::Validators;
use crate::ids::Sha256;

/// Leftover `.partial` files untouched this long belong to a crashed run (a live transfer
/// writes continuously) and are removed.
const STALE_PARTIAL: Duration = Duration::from_secs(3600);

/// What the cache remembers about the last successful fetch of a catalog.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct CacheMeta {
    /// Format version, bumped if the layout changes.
    pub version: u32,
    /// The URL or local path the CAB came from; validators only apply to the same source.
    pub source: String,
    pub etag: Option<String>,
    pub last_modified: Option<String>,
    pub size: u64,
    pub sha256: Sha256,
    pub fetched_at: DateTime<Utc>,
    /// The cached CAB's file status once it was in place; absent in metadata of earlier
    /// builds and off Unix, where [`Cache::intact_meta`] hashes instead.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cab_stat: Option<CabStat>,
}

/// What identifies one version of a file without reading it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct CabStat {
    pub inode: u64,
    pub size: u64,
    pub modified_ns: i128,
    pub changed_ns: i128,
}

impl CabStat {
    /// The status of the file at `path`, or `None` where it cannot be read or does not
    /// identify a version (not Unix).
    pub(super) fn of(path: &Path) -> Option<Self> {
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt as _;
            let m = std::fs::metadata(path).ok()?;
            let ns = |s: i64, n: i64| i128::from(s) * 1_000_000_000 + i128::from(n);
            Some(Self {
                inode: m.ino(),
                size: m.size(),
                modified_ns: ns(m.mtime(), m.mtime_nsec()),
                changed_ns: ns(m.ctime(), m.ctime_nsec()),
            })
        }
        #[cfg(not(unix))]
        {
            let _ = path;
            None
        }
    }
}

impl CacheMeta {
    pub(super) const VERSION: u32 = 1;

    pub(super) fn validators(&self) -> Validators {
        Validators {
            etag: self.etag.clone(),
            last_modified: self.last_modified.clone(),
        }
    }
}

/// Rejects keys that could escape the cache directory or collide with another key's files.
pub(super) fn validate_key(key: &str) -> Result<(), FetchError> {
    let ok = !key.is_empty()
        && key.len() <= 100
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(FetchError::InvalidKey {
            key: key.to_string(),
        })
    }
}

#[derive(Debug, Clone)]
pub(super) struct Cache {
    dir: PathBuf,
}

impl Cache {
    pub(super) fn new(dir: PathBuf) -> Self {
        Cache { dir }
    }

    pub(super) fn dir(&self) -> &Path {
        &self.dir
    }

    pub(super) fn cab_path(&self, key: &str) -> PathBuf {
        self.dir.join(format!("{key}.cab"))
    }

    pub(super) fn meta_path(&self, key: &str) -> PathBuf {
        self.dir.join(format!("{key}.json"))
    }

    pub(super) fn ensure_dir(&self) -> Result<(), FetchError> {
        std::fs::create_dir_all(&self.dir).map_err(|e| FetchError::io("create", &self.dir, e))
    }

    /// A fresh `<key>.<random>.partial` file in the cache directory (same filesystem as the
    /// final name, so the rename is atomic). Deleted on drop unless persisted.
    pub(super) fn new_partial(&self, key: &str) -> Result<tempfile::NamedTempFile, FetchError> {
        new_partial_in(&self.dir, &format!("{key}."))
    }

    /// Metadata from the last fetch, or `None` when absent or unreadable (a corrupt file
    /// only costs one unconditional download, so it is not an error).
    pub(super) fn load_meta(&self, key: &str) -> Option<CacheMeta> {
        let path = self.meta_path(key);
        let bytes = std::fs::read(&path).ok()?;
        match serde_json::from_slice::<CacheMeta>(&bytes) {
            Ok(m) if m.version == CacheMeta::VERSION => Some(m),
            Ok(m) => {
                tracing::warn!(path = %path.display(), version = m.version, "ignoring cache metadata of another version");
                None
            }
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "ignoring unreadable cache metadata");
                None
            }
        }
    }

    /// The metadata only if the cached CAB is exactly the file it describes: the file the
    /// metadata recorded the status of, or else one with its size and SHA-256.
    pub(super) fn intact_meta(&self, key: &str, meta: CacheMeta) -> Option<CacheMeta> {
        let path = self.cab_path(key);
        if meta.cab_stat.is_some() && CabStat::of(&path) == meta.cab_stat {
            return Some(meta);
        }
        let (size, sha256) = hash_file(&path, u64::MAX).ok()?;
        (size == meta.size && sha256 == meta.sha256).then_some(meta)
    }

    /// Writes the metadata atomically (temp + fsync + rename + directory fsync).
    pub(super) fn store_meta(&self, key: &str, meta: &CacheMeta) -> Result<(), FetchError> {
        let json = serde_json::to_vec_pretty(meta).expect("cache metadata serialises");
        let target = self.meta_path(key);
        let mut tmp = self.new_partial(key)?;
        tmp.write_all(&json)
            .and_then(|()| tmp.as_file().sync_all())
            .map_err(|e| FetchError::io("write", tmp.path(), e))?;
        persist(tmp, &target)
    }

    /// Removes `<key>.*.partial` files left by a crashed run.
    pub(super) fn sweep_stale(&self, key: &str) {
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return;
        };
        let prefix = format!("{key}.");
        for entry in entries.flatten() {
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if !(name.starts_with(&prefix) && name.ends_with(".partial")) {
                continue;
            }
            let stale = entry
                .metadata()
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| SystemTime::now().duration_since(t).ok())
                .is_some_and(|age| age > STALE_PARTIAL);
            if stale {
                let _ = std::fs::remove_file(entry.path());
            }
        }
    }
}

pub(super) fn new_partial_in(
    dir: &Path,
    prefix: &str,
) -> Result<tempfile::NamedTempFile, FetchError> {
    tempfile::Builder::new()
        .prefix(prefix)
        .suffix(".partial")
        .tempfile_in(dir)
        .map_err(|e| FetchError::io("create a temporary file in", dir, e))
}

/// Renames a synced temp file over `target` and fsyncs the directory so the rename itself
/// survives a power cut.
pub(super) fn persist(tmp: tempfile::NamedTempFile, target: &Path) -> Result<(), FetchError> {
    tmp.persist(target)
        .map_err(|e| FetchError::io("rename into", target, e.error))?;
    sync_dir(target.parent().unwrap_or(Path::new(".")))
}

#[cfg(unix)]
pub(super) fn sync_dir(dir: &Path) -> Result<(), FetchError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| FetchError::io("sync directory", dir, e))
}

/// Windows cannot open a directory for fsync; NTFS journals the rename itself.
#[cfg(not(unix))]
pub(super) fn sync_dir(_dir: &Path) -> Result<(), FetchError> {
    Ok(())
}

/// Size and SHA-256 of a file, failing past `limit` bytes.
pub(super) fn hash_file(path: &Path, limit: u64) -> Result<(u64, Sha256), HashError> {
    let mut f = File::open(path).map_err(HashError::Io)?;
    copy_hashing(&mut f, None, limit)
}

#[derive(Debug)]
pub(super) enum HashError {
    Io(std::io::Error),
    TooLarge,
}

/// Copies `src` into `dst` (if any) while hashing; stops with `TooLarge` past `limit`. SHA-256
/// only: a catalog is known by it, and this runs over every cached CAB on every plan.
pub(super) fn copy_hashing(
    src: &mut impl Read,
    mut dst: Option<&mut File>,
    limit: u64,
) -> Result<(u64, Sha256), HashError> {
    use sha2::Digest as _;
    let mut h256 = sha2::Sha256::new();
    let mut buf = vec![0u8; 256 * 1024];
    let mut total = 0u64;
    loop {
        let n = match src.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(HashError::Io(e)),
        };
        total += n as u64;
        if total > limit {
            return Err(HashError::TooLarge);
        }
        h256.update(&buf[..n]);
        if let Some(d) = dst.as_deref_mut() {
            d.write_all(&buf[..n]).map_err(HashError::Io)?;
        }
    }
    Ok((total, Sha256(h256.finalize().into())))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(sha: Sha256, size: u64) -> CacheMeta {
        CacheMeta {
            version: CacheMeta::VERSION,
            source: "https://example.test/c.cab".into(),
            etag: Some("\"v1\"".into()),
            last_modified: Some("Sun, 01 Nov 2026 12:00:00 GMT".into()),
            size,
            sha256: sha,
            fetched_at: "2026-11-01T12:00:00Z".parse().unwrap(),
            cab_stat: None,
        }
    }

    #[test]
    fn keys_cannot_escape_or_collide() {
        for ok in ["dell", "hp-v3", "Lenovo_2"] {
            assert!(validate_key(ok).is_ok(), "{ok}");
        }
        for bad in ["", "../x", "a/b", "a.b", "c:", &"k".repeat(101)] {
            assert!(validate_key(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn metadata_roundtrips_and_leaves_no_temp_files() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::new(dir.path().to_path_buf());
        let m = meta(Sha256::of(b"x"), 1);
        cache.store_meta("dell", &m).unwrap();
        assert_eq!(cache.load_meta("dell"), Some(m.clone()));
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert_eq!(names, vec!["dell.json".to_string()]);
        assert_eq!(m.validators().etag.as_deref(), Some("\"v1\""));
    }

    #[test]
    fn corrupt_or_foreign_metadata_is_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::new(dir.path().to_path_buf());
        std::fs::write(cache.meta_path("dell"), b"{ torn").unwrap();
        assert_eq!(cache.load_meta("dell"), None);
        let mut m = meta(Sha256::of(b"x"), 1);
        m.version = 99;
        std::fs::write(cache.meta_path("dell"), serde_json::to_vec(&m).unwrap()).unwrap();
        assert_eq!(cache.load_meta("dell"), None);
    }

    #[cfg(unix)]
    #[test]
    fn a_recorded_status_vouches_only_for_the_file_it_was_read_from() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::new(dir.path().to_path_buf());
        let cab = cache.cab_path("dell");
        std::fs::write(&cab, b"catalog").unwrap();
        // Metadata whose digest is wrong on purpose: only the status can vouch for it.
        let mut m = meta(Sha256::of(b"something else"), 7);
        m.cab_stat = CabStat::of(&cab);
        assert!(m.cab_stat.is_some());
        assert_eq!(
            cache.intact_meta("dell", m.clone()),
            Some(m.clone()),
            "the same file, not read"
        );
        // The same size and modification time, renamed in (the torn state): hashed, and
        // the digest tells.
        let before = std::fs::metadata(&cab).unwrap().modified().unwrap();
        let other = dir.path().join("other");
        std::fs::write(&other, b"CATALOG").unwrap();
        std::fs::File::options()
            .write(true)
            .open(&other)
            .unwrap()
            .set_modified(before)
            .unwrap();
        std::fs::rename(&other, &cab).unwrap();
        assert_eq!(cache.intact_meta("dell", m.clone()), None, "renamed in");
        // Written in place with the time set back: the change time moved.
        let mut m = meta(Sha256::of(b"something else"), 7);
        m.cab_stat = CabStat::of(&cab);
        std::thread::sleep(std::time::Duration::from_millis(20));
        let f = std::fs::File::options().write(true).open(&cab).unwrap();
        std::io::Write::write_all(&mut &f, b"catalog").unwrap();
        f.set_modified(before).unwrap();
        assert_eq!(cache.intact_meta("dell", m), None, "written in place");
    }

    #[test]
    fn intact_meta_requires_matching_cab() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::new(dir.path().to_path_buf());
        let m = meta(Sha256::of(b"catalog"), 7);
        assert_eq!(cache.intact_meta("dell", m.clone()), None, "no CAB yet");
        std::fs::write(cache.cab_path("dell"), b"catalog").unwrap();
        assert_eq!(cache.intact_meta("dell", m.clone()), Some(m.clone()));
        std::fs::write(cache.cab_path("dell"), b"catalog, newer").unwrap();
        assert_eq!(
            cache.intact_meta("dell", m),
            None,
            "torn: new CAB, old metadata"
        );
    }

    #[test]
    fn sweep_keeps_fresh_partials_and_other_keys() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::new(dir.path().to_path_buf());
        let fresh = cache.new_partial("dell").unwrap();
        let old = dir.path().join("dell.abc.partial");
        let other = dir.path().join("hp.abc.partial");
        for p in [&old, &other] {
            let f = File::create(p).unwrap();
            f.set_modified(SystemTime::now() - 2 * STALE_PARTIAL)
                .unwrap();
        }
        cache.sweep_stale("dell");
        assert!(fresh.path().exists());
        assert!(!old.exists());
        assert!(other.exists());
    }

    #[test]
    fn copy_hashing_enforces_the_limit() {
        let data = vec![7u8; 1000];
        let (n, s256) = copy_hashing(&mut &data[..], None, 1000).unwrap();
        assert_eq!((n, s256), (1000, Sha256::of(&data)));
        assert!(matches!(
            copy_hashing(&mut &data[..], None, 999),
            Err(HashError::TooLarge)
        ));
    }
}
