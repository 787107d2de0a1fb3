//! Shared by the `watch_*` and `status_*` tests: a copy of the offline quickstart in a
//! temp directory, the `supctl watch` binary as a child process (killed on drop) logging
//! JSON to a file, and bounded polling.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

pub(crate) fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_supctl"))
}

/// A writable copy of `examples/quickstart` (config, catalog, content).
pub(crate) struct Workspace {
    pub dir: tempfile::TempDir,
    /// Variables every `supctl` this workspace starts gets (secrets that `password_env`
    /// names): set per child, never on the test process, which runs other tests beside.
    env: std::sync::Mutex<Vec<(String, String)>>,
}

impl Workspace {
    pub(crate) fn quickstart() -> Workspace {
        let dir = tempfile::tempdir().expect("temp dir");
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/quickstart");
        for sub in ["catalog", "content"] {
            std::fs::create_dir_all(dir.path().join(sub)).unwrap();
            for e in std::fs::read_dir(src.join(sub)).unwrap().flatten() {
                std::fs::copy(e.path(), dir.path().join(sub).join(e.file_name())).unwrap();
            }
        }
        std::fs::copy(src.join("supctl.toml"), dir.path().join("supctl.toml")).unwrap();
        Workspace {
            dir,
            env: Default::default(),
        }
    }

    pub(crate) fn path(&self) -> &Path {
        self.dir.path()
    }
    /// Sets a variable for every `supctl` started from now on.
    pub(crate) fn set_env(&self, name: &str, value: &str) {
        self.env.lock().unwrap().push((name.into(), value.into()));
    }
    fn apply_env(&self, cmd: &mut Command) {
        for (k, v) in self.env.lock().unwrap().iter() {
            cmd.env(k, v);
        }
    }
    pub(crate) fn config(&self) -> PathBuf {
        self.path().join("supctl.toml")
    }
    pub(crate) fn read_config(&self) -> String {
        std::fs::read_to_string(self.config()).unwrap()
    }
    /// Saves the config the way editors do: a temp file renamed over the original.
    pub(crate) fn save_config(&self, text: &str) {
        let tmp = self.path().join(".supctl.toml.swp");
        std::fs::write(&tmp, text).unwrap();
        std::fs::rename(&tmp, self.config()).unwrap();
    }
    pub(crate) fn edit_config(&self, from: &str, to: &str) {
        let text = self.read_config();
        assert!(text.contains(from), "config has no `{from}`");
        self.save_config(&text.replacen(from, to, 1));
    }

    /// Runs `supctl ARGS -c <workspace>` to completion (bounded).
    pub(crate) fn supctl(&self, args: &[&str]) -> std::process::Output {
        let mut cmd = Command::new(bin());
        self.apply_env(&mut cmd);
        let mut child = cmd
            .args(args)
            .arg("-c")
            .arg(self.path())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if child.try_wait().unwrap().is_some() {
                return child.wait_with_output().unwrap();
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!("supctl {args:?} did not finish within 60 s");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// `supctl status --json`: (exit code, report).
    /// `supctl sync`, which must succeed.
    pub(crate) fn sync_ok(&self) {
        let out = self.supctl(&["sync"]);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    pub(crate) fn status(&self) -> (i32, Value) {
        let out = self.supctl(&["status", "--json"]);
        let v: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "status --json: {e}\nstdout: {}\nstderr: {}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            )
        });
        (out.status.code().unwrap_or(-1), v)
    }

    pub(crate) fn catalog_status(&self, key: &str) -> Value {
        let (_, v) = self.status();
        v["catalogs"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["key"] == key)
            .cloned()
            .unwrap_or_else(|| panic!("no catalog {key} in {v:#}"))
    }
}

/// The store's sync runs (newest first) and update states, read directly (works while the
/// config is invalid, when `status` cannot load it).
pub(crate) fn store_facts(ws: &Workspace) -> (Vec<supctl::store::SyncRun>, Vec<String>) {
    let loc = supctl::store::StoreLocation::new(ws.path().join(".supctl"));
    let b = supctl::store::Store::embedded(&loc, supctl::store::db::OpenOptions::read()).unwrap();
    let states = b
        .snapshot()
        .unwrap()
        .updates
        .values()
        .map(|u| u.state().to_string())
        .collect();
    (b.sync_runs(1000).unwrap(), states)
}

/// A running `supctl watch`, killed (SIGKILL) on drop if still running.
pub(crate) struct Watch {
    pub child: Child,
    pub log: PathBuf,
}

impl Watch {
    pub(crate) fn start(ws: &Workspace, extra: &[&str], scale: Option<u32>) -> Watch {
        static STARTS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = STARTS.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let log = ws.path().join(format!("watch-{n}.log"));
        let mut cmd = Command::new(bin());
        cmd.arg("watch")
            .arg("-c")
            .arg(ws.path())
            .args(["--log-format", "json", "--log-file"])
            .arg(&log)
            .args(extra)
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        ws.apply_env(&mut cmd);
        if let Some(s) = scale {
            cmd.env("SUPCTL_SCHEDULE_SCALE", s.to_string());
        }
        let child = cmd.spawn().expect("spawn supctl watch");
        Watch { child, log }
    }

    /// Every JSON log line so far.
    pub(crate) fn events(&self) -> Vec<Value> {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }

    /// Waits until `pred` holds for the events (bounded), returning them.
    pub(crate) fn wait_for(
        &mut self,
        what: &str,
        timeout: Duration,
        pred: impl Fn(&[Value]) -> bool,
    ) -> Vec<Value> {
        let deadline = Instant::now() + timeout;
        loop {
            let ev = self.events();
            if pred(&ev) {
                return ev;
            }
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!(
                    "watch exited ({status}) while waiting for {what}:\n{}",
                    self.dump()
                );
            }
            if Instant::now() > deadline {
                panic!(
                    "timed out after {timeout:?} waiting for {what}:\n{}",
                    self.dump()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Polls `done` (not the log) until it holds; on timeout, fails with the daemon's log.
    pub(crate) fn wait_until(&self, what: &str, timeout: Duration, done: impl Fn() -> bool) {
        let deadline = Instant::now() + timeout;
        while !done() {
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}:\n{}",
                self.dump()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    pub(crate) fn dump(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub(crate) fn signal(&self, sig: &str) {
        let ok = Command::new("kill")
            .args([format!("-{sig}"), self.child.id().to_string()])
            .status()
            .unwrap()
            .success();
        assert!(ok, "kill -{sig}");
    }

    /// SIGTERM, then the exit code (bounded).
    pub(crate) fn stop(&mut self, timeout: Duration) -> i32 {
        self.signal("TERM");
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                return s.code().unwrap_or(-1);
            }
            if Instant::now() > deadline {
                panic!("watch did not stop within {timeout:?}:\n{}", self.dump());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Count of events with message `msg` and, if given, field `key` = `value`.
pub(crate) fn count(ev: &[Value], msg: &str, field: Option<(&str, &str)>) -> usize {
    ev.iter()
        .filter(|e| e["fields"]["message"] == msg)
        .filter(|e| field.is_none_or(|(k, v)| e["fields"][k] == v))
        .count()
}
