//! The daemon's file watch: the config (a file or a directory of `*.toml`) and the sync
//! request directory, debounced.
//!
//! The *parent directory* of a config file is watched, not the file: editors save by writing
//! a temporary file and renaming it over the target, which replaces the inode a file watch
//! would follow. Bursts (write, rename, chmod) are debounced into one event.

use std::path::{Path, PathBuf};
use std::time::Duration;

use notify_debouncer_full::notify::event::{EventKind, ModifyKind};
use notify_debouncer_full::notify::{RecommendedWatcher, RecursiveMode};
use notify_debouncer_full::{DebounceEventResult, Debouncer, RecommendedCache, new_debouncer};
use tokio::sync::mpsc::UnboundedSender;

/// How long events must settle before they are reported.
pub const DEBOUNCE: Duration = Duration::from_millis(300);

/// What changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// The config file, or a `*.toml` in the config directory.
    Config,
    /// A sync request arrived.
    Request,
    /// The watcher itself reported an error (logged; the daemon keeps its schedules).
    Error,
}

/// Holds the watch; dropping it stops watching.
pub struct FileWatch {
    _debouncer: Debouncer<RecommendedWatcher, RecommendedCache>,
}

fn canonical(p: &Path) -> PathBuf {
    std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf())
}

/// What an event path is, given the watched config and request directory.
#[derive(Debug, Clone)]
struct Filter {
    /// (directory, `Some(file name)` for a single config file, `None` for `*.toml`).
    config_dir: PathBuf,
    config_file: Option<std::ffi::OsString>,
    requests_dir: PathBuf,
}

impl Filter {
    fn classify(&self, p: &Path) -> Option<Change> {
        let parent = canonical(p.parent()?);
        let name = p.file_name()?;
        if parent == self.requests_dir {
            return name
                .to_string_lossy()
                .ends_with(".request.json")
                .then_some(Change::Request);
        }
        if parent != self.config_dir {
            return None;
        }
        // The lock beside the config is desired state too (a promotion changes only it).
        if name == crate::lockfile::FILE_NAME {
            return Some(Change::Config);
        }
        match &self.config_file {
            Some(f) => (name == f.as_os_str()).then_some(Change::Config),
            None => p
                .extension()
                .is_some_and(|e| e == "toml")
                .then_some(Change::Config),
        }
    }
}

/// Starts watching `config` (file or directory) and `requests_dir` (created if missing).
pub fn start(
    config: &Path,
    requests_dir: &Path,
    tx: UnboundedSender<Change>,
) -> Result<FileWatch, notify_debouncer_full::notify::Error> {
    std::fs::create_dir_all(requests_dir).map_err(notify_debouncer_full::notify::Error::io)?;
    let config = canonical(config);
    let (config_dir, config_file) = if config.is_dir() {
        (config.clone(), None)
    } else {
        (
            canonical(config.parent().unwrap_or(Path::new("."))),
            config.file_name().map(|n| n.to_os_string()),
        )
    };
    let filter = Filter {
        config_dir: config_dir.clone(),
        config_file,
        requests_dir: canonical(requests_dir),
    };
    let mut debouncer = new_debouncer(DEBOUNCE, None, move |res: DebounceEventResult| match res {
        Ok(events) => {
            let mut seen = Vec::new();
            // Opening and reading a file (the daemon's own reload, `supctl status`) and
            // chmod are not changes; reacting to them would loop.
            for c in events
                .iter()
                .filter(|e| {
                    !matches!(
                        e.kind,
                        EventKind::Access(_) | EventKind::Modify(ModifyKind::Metadata(_))
                    )
                })
                .flat_map(|e| e.paths.iter())
                .filter_map(|p| filter.classify(p))
            {
                if !seen.contains(&c) {
                    seen.push(c);
                    let _ = tx.send(c);
                }
            }
        }
        Err(errors) => {
            for e in errors {
                tracing::warn!(error = %e, "file watch error");
            }
            let _ = tx.send(Change::Error);
        }
    })?;
    debouncer.watch(&config_dir, RecursiveMode::NonRecursive)?;
    debouncer.watch(requests_dir, RecursiveMode::NonRecursive)?;
    Ok(FileWatch {
        _debouncer: debouncer,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_config_files_and_requests() {
        let dir = tempfile::tempdir().unwrap();
        let root = canonical(dir.path());
        std::fs::create_dir_all(root.join("state/requests")).unwrap();
        let file = Filter {
            config_dir: root.clone(),
            config_file: Some("supctl.toml".into()),
            requests_dir: root.join("state/requests"),
        };
        assert_eq!(
            file.classify(&root.join("supctl.toml")),
            Some(Change::Config)
        );
        assert_eq!(file.classify(&root.join("other.toml")), None);
        assert_eq!(file.classify(&root.join(".supctl.toml.swp")), None);
        assert_eq!(
            file.classify(&root.join("state/requests/1.request.json")),
            Some(Change::Request)
        );
        assert_eq!(
            file.classify(&root.join("state/requests/1.response.json")),
            None
        );
        let dir_cfg = Filter {
            config_file: None,
            ..file
        };
        assert_eq!(
            dir_cfg.classify(&root.join("dell.toml")),
            Some(Change::Config)
        );
        assert_eq!(dir_cfg.classify(&root.join("README.md")), None);
    }

    #[test]
    fn an_atomic_rename_save_is_seen() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = dir.path().join("supctl.toml");
        std::fs::write(&cfg, "version = 1\n").unwrap();
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let _w = start(&cfg, &dir.path().join("requests"), tx).unwrap();
        std::thread::sleep(Duration::from_millis(100));
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        // Reading the file is not a change.
        let _ = std::fs::read(&cfg).unwrap();
        std::thread::sleep(DEBOUNCE * 2);
        let got = rx.try_recv();
        assert!(got.is_err(), "a read was reported as a change: {got:?}");
        let tmp = dir.path().join(".supctl.toml.tmp");
        std::fs::write(&tmp, "version = 1\n# edited\n").unwrap();
        std::fs::rename(&tmp, &cfg).unwrap();
        loop {
            match rx.try_recv() {
                Ok(Change::Config) => break,
                Ok(_) | Err(_) => {
                    assert!(std::time::Instant::now() < deadline, "no config event");
                    std::thread::sleep(Duration::from_millis(50));
                }
            }
        }
    }
}
