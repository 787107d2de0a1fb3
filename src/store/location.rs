//! Where a local store lives: one state directory holding `store.db`, `WsusContent/` and
//! the lock files. The CLI resolves it from `--state-dir` or the config's `[server] path`.

use std::path::{Path, PathBuf};

/// The default state directory name, created beside the config.
pub const DEFAULT_DIR: &str = ".supctl";

/// Paths inside one state directory, computed in one place so every command agrees.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreLocation {
    dir: PathBuf,
}

impl StoreLocation {
    /// A state directory given directly (`--state-dir DIR`).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    /// The config's `[server] path`, resolved against the directory of the config file that
    /// set it (relative paths in TOML resolve against their file); `.supctl` when unset.
    pub fn for_config(config_file: &Path, server_path: Option<&Path>) -> Self {
        let base = config_file
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or_else(|| Path::new("."));
        let rel = server_path.unwrap_or_else(|| Path::new(DEFAULT_DIR));
        Self::new(base.join(rel))
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }
    pub fn db_path(&self) -> PathBuf {
        self.dir.join("store.db")
    }
    /// The embedded server's last snapshot, for the next one (`embedded::snapshot_cache`):
    /// derived from the database, never the truth, safe to delete.
    pub fn snapshot_cache_path(&self) -> PathBuf {
        self.dir.join("store.snapshot")
    }
    /// `WsusContent/`, laid out as WSUS does.
    pub fn content_dir(&self) -> PathBuf {
        self.dir.join("WsusContent")
    }
    /// Where downloads wait before they are verified and moved into `WsusContent/`; on the
    /// same file system so the move is an atomic rename.
    pub fn temp_dir(&self) -> PathBuf {
        self.content_dir().join(".tmp")
    }
    /// The file held with an OS lock by the writer.
    pub fn lock_path(&self) -> PathBuf {
        self.dir.join("lock")
    }
    /// Who holds the lock (JSON, replaced atomically).
    pub fn owner_path(&self) -> PathBuf {
        self.dir.join("lock.json")
    }
    /// True when a store database exists here.
    pub fn exists(&self) -> bool {
        self.db_path().is_file()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_relative_paths_resolve_beside_the_config() {
        let l = StoreLocation::for_config(Path::new("/etc/supctl/main.toml"), None);
        assert_eq!(l.dir(), Path::new("/etc/supctl/.supctl"));
        let l = StoreLocation::for_config(Path::new("main.toml"), Some(Path::new("state")));
        assert_eq!(l.dir(), Path::new("./state"));
        let l = StoreLocation::for_config(Path::new("a/b.toml"), Some(Path::new("/var/lib/s")));
        assert_eq!(l.dir(), Path::new("/var/lib/s"));
        assert_eq!(l.content_dir(), Path::new("/var/lib/s/WsusContent"));
    }
}
