//! `supctl sync` while `supctl watch` holds the state lock: the request is handed to the
//! daemon through files in the state directory instead of failing on the lock.
//!
//! Files rather than a Unix socket: they work on every platform supctl targets (the update
//! point is a Windows server), need no listener that could be left behind, and the daemon
//! already watches files. Protocol, all under `<state>/requests/`:
//!
//! 1. `sync` writes `<id>.request.json` (temp file, then rename: never seen half-written);
//! 2. the daemon sees it (file watch, plus a rescan before each wait), deletes it, runs the
//!    pass, and writes `<id>.response.json` the same way;
//! 3. `sync` polls for the response, bounded by its timeout, and gives up early when the
//!    daemon no longer holds the lock; it deletes the response after reading it.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::record::ScopeOutcome;

#[derive(Debug, thiserror::Error)]
pub enum HandoffError {
    #[error("{0}: {1}")]
    Io(String, std::io::Error),
    #[error("{0}: {1}")]
    Json(String, serde_json::Error),
    #[error("the watch daemon did not answer within {0:?}")]
    Timeout(Duration),
    #[error("the watch daemon stopped before answering the sync request")]
    DaemonGone,
}

/// A `sync` request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncRequest {
    pub id: String,
    /// Catalog keys; empty means every subscribed catalog.
    pub catalogs: Vec<String>,
    pub pid: u32,
}

/// The daemon's answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncResponse {
    pub id: String,
    pub succeeded: bool,
    /// Set when the request could not be run at all (unknown catalog, store error).
    pub error: Option<String>,
    pub scopes: Vec<ScopeOutcome>,
    /// What `sync` prints.
    pub lines: Vec<String>,
}

pub fn requests_dir(state_dir: &Path) -> PathBuf {
    state_dir.join("requests")
}

fn write_atomic(path: &Path, value: &impl Serialize) -> Result<(), HandoffError> {
    let io = |e| HandoffError::Io(path.display().to_string(), e);
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(io)?;
    let tmp = tempfile::NamedTempFile::with_prefix_in(".tmp-", dir).map_err(io)?;
    serde_json::to_writer_pretty(tmp.as_file(), value)
        .map_err(|e| HandoffError::Json(path.display().to_string(), e))?;
    tmp.as_file().sync_all().map_err(io)?;
    tmp.persist(path).map_err(|e| io(e.error))?;
    Ok(())
}

/// Writes a request; returns its id.
pub fn submit(state_dir: &Path, catalogs: &[String]) -> Result<SyncRequest, HandoffError> {
    let req = SyncRequest {
        id: format!(
            "{}-{}",
            chrono::Utc::now().format("%Y%m%dT%H%M%S%.3f"),
            std::process::id()
        ),
        catalogs: catalogs.to_vec(),
        pid: std::process::id(),
    };
    let path = requests_dir(state_dir).join(format!("{}.request.json", req.id));
    write_atomic(&path, &req)?;
    Ok(req)
}

/// Requests waiting in the directory, oldest first; each is removed as it is taken, so a
/// request runs once even if the daemon is restarted. Unreadable ones are removed too and
/// returned as errors for the log.
pub fn take_requests(state_dir: &Path) -> Vec<Result<SyncRequest, HandoffError>> {
    let dir = requests_dir(state_dir);
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Vec::new();
    };
    let mut paths: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().ends_with(".request.json"))
        })
        .collect();
    paths.sort();
    paths
        .into_iter()
        .map(|p| {
            let read = std::fs::read(&p).map_err(|e| HandoffError::Io(p.display().to_string(), e));
            let _ = std::fs::remove_file(&p);
            serde_json::from_slice(&read?)
                .map_err(|e| HandoffError::Json(p.display().to_string(), e))
        })
        .collect()
}

pub fn respond(state_dir: &Path, resp: &SyncResponse) -> Result<(), HandoffError> {
    let path = requests_dir(state_dir).join(format!("{}.response.json", resp.id));
    write_atomic(&path, resp)
}

/// Waits for the answer to `id`, polling every 100 ms, up to `timeout`; `alive` says
/// whether the daemon still holds the lock (checked each second).
pub fn wait(
    state_dir: &Path,
    id: &str,
    timeout: Duration,
    mut alive: impl FnMut() -> bool,
) -> Result<SyncResponse, HandoffError> {
    let path = requests_dir(state_dir).join(format!("{id}.response.json"));
    let start = Instant::now();
    let mut checked = Instant::now();
    loop {
        match std::fs::read(&path) {
            Ok(bytes) => {
                let resp = serde_json::from_slice(&bytes)
                    .map_err(|e| HandoffError::Json(path.display().to_string(), e))?;
                let _ = std::fs::remove_file(&path);
                return Ok(resp);
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(HandoffError::Io(path.display().to_string(), e)),
        }
        if start.elapsed() >= timeout {
            return Err(HandoffError::Timeout(timeout));
        }
        if checked.elapsed() >= Duration::from_secs(1) {
            checked = Instant::now();
            if !alive() && !path.exists() {
                return Err(HandoffError::DaemonGone);
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_is_taken_once_and_answered() {
        let dir = tempfile::tempdir().unwrap();
        let req = submit(dir.path(), &["a".into()]).unwrap();
        let taken = take_requests(dir.path());
        assert_eq!(taken.len(), 1);
        assert_eq!(taken[0].as_ref().unwrap(), &req);
        assert!(take_requests(dir.path()).is_empty());
        let resp = SyncResponse {
            id: req.id.clone(),
            succeeded: true,
            error: None,
            scopes: vec![],
            lines: vec!["ok".into()],
        };
        respond(dir.path(), &resp).unwrap();
        let got = wait(dir.path(), &req.id, Duration::from_secs(2), || true).unwrap();
        assert_eq!(got, resp);
        // The response is consumed.
        assert!(matches!(
            wait(dir.path(), &req.id, Duration::from_millis(200), || true),
            Err(HandoffError::Timeout(_))
        ));
    }

    #[test]
    fn a_dead_daemon_ends_the_wait_early() {
        let dir = tempfile::tempdir().unwrap();
        let start = Instant::now();
        let r = wait(dir.path(), "x", Duration::from_secs(30), || false);
        assert!(matches!(r, Err(HandoffError::DaemonGone)));
        assert!(start.elapsed() < Duration::from_secs(5));
    }

    #[test]
    fn garbage_requests_are_removed_and_reported() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(requests_dir(dir.path())).unwrap();
        std::fs::write(requests_dir(dir.path()).join("bad.request.json"), b"{").unwrap();
        let taken = take_requests(dir.path());
        assert!(matches!(taken[..], [Err(HandoffError::Json(..))]));
        assert!(take_requests(dir.path()).is_empty());
    }
}
