//! Shared by the CLI contract tests (`exit_codes`, `plan_binding`, `empty_config`,
//! `apply_signals`, `json_output`, `targets`): offline workspaces built from the quickstart's
//! signed catalog and content (`path` sources, `content_source` folders, so no network), the
//! real binary run in them, and the insta filters that make its output comparable across
//! runs (temp paths, plan and store ids, times).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// SHA-1 of the quickstart signer (catalog signer and content certificate).
pub(crate) const QS_SIGNER: &str = "6D8B3C448B990E269336BB63A47F23498C95EB7D";
/// Update ids of the quickstart catalog.
pub(crate) const TOOL_10: &str = "0c31a8ec-a368-4383-8149-3d8e2c264f17";
pub(crate) const TOOL_11: &str = "75703a22-ed04-4fc2-b715-75e42bc587c0";

/// A file of the repository.
pub(crate) fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

pub(crate) fn quickstart_cab() -> PathBuf {
    repo("examples/quickstart/catalog/contoso-v3.cab")
}
pub(crate) fn quickstart_content() -> PathBuf {
    repo("examples/quickstart/content")
}
/// The quickstart catalog signed by a signer nobody approves (11508, awaiting approval).
pub(crate) fn other_signer_cab() -> PathBuf {
    repo("tests/fixtures/e2e/other-signer/contoso-v3.cab")
}
/// A well-formed catalog CAB without any signature (11508, an error).
pub(crate) fn unsigned_cab() -> PathBuf {
    repo("tests/fixtures/signed/catalog-unsigned.cab")
}

/// `[catalog.KEY]` reading `cab` from disk, approving the quickstart signer, plus `extra`.
pub(crate) fn catalog(key: &str, cab: &Path, extra: &str) -> String {
    format!(
        "[catalog.{key}]\nname = \"Contoso {key}\"\npublisher = \"Contoso\"\npath = {:?}\nsigners = [\"{QS_SIGNER}\"]\n{extra}\n",
        cab.display().to_string()
    )
}

/// The quickstart catalog with its content staged from the local folder.
pub(crate) fn quickstart(key: &str, extra: &str) -> String {
    catalog(
        key,
        &quickstart_cab(),
        &format!(
            "content_source = {:?}\n{extra}",
            quickstart_content().display().to_string()
        ),
    )
}

/// The `[[certificate]]` rule approving the quickstart signer for content.
pub(crate) fn approve_content() -> String {
    format!(
        "[[certificate]]\nthumbprint = \"{QS_SIGNER}\"\nkind = \"content\"\nstate = \"approved\"\n"
    )
}

/// Output of a finished command.
#[derive(Debug)]
pub(crate) struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub(crate) fn all(&self) -> String {
        format!("--- stdout\n{}--- stderr\n{}", self.stdout, self.stderr)
    }
    pub(crate) fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not one JSON value ({e}):\n{}", self.all()))
    }
}

/// A temp directory holding configs (`<name>.toml`) and, by default, one state directory.
pub(crate) struct Workspace {
    pub dir: tempfile::TempDir,
}

impl Default for Workspace {
    fn default() -> Self {
        Self::new()
    }
}

impl Workspace {
    pub(crate) fn new() -> Workspace {
        Workspace {
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    pub(crate) fn path(&self) -> &Path {
        self.dir.path()
    }

    /// The state directory named `name` in this workspace.
    pub(crate) fn state(&self, name: &str) -> PathBuf {
        self.path().join(name)
    }

    /// A config with `[server] path` = the state directory `state` and `body`.
    pub(crate) fn config_in(&self, state: &str, body: &str) -> String {
        format!(
            "version = 1\n\n[server]\npath = {:?}\n\n{body}\n",
            self.state(state).display().to_string()
        )
    }

    /// Writes `text` as `<name>.toml`; returns its path.
    pub(crate) fn write(&self, name: &str, text: &str) -> PathBuf {
        let p = self.path().join(format!("{name}.toml"));
        std::fs::write(&p, text).unwrap();
        p
    }

    /// Writes a config named `name` over the state directory `state`.
    pub(crate) fn config(&self, name: &str, state: &str, body: &str) -> PathBuf {
        self.write(name, &self.config_in(state, body))
    }

    /// Files in the state directory's `plans/`.
    pub(crate) fn saved_plans(&self, state: &str) -> Vec<PathBuf> {
        match std::fs::read_dir(self.state(state).join("plans")) {
            Ok(d) => d.flatten().map(|e| e.path()).collect(),
            Err(_) => Vec::new(),
        }
    }
}

/// `supctl ARGS` with a clean environment (no ambient proxy, no colours), in `cwd`.
pub(crate) fn command(cwd: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_supctl"));
    c.args(args)
        .current_dir(cwd)
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for v in [
        "HTTPS_PROXY",
        "https_proxy",
        "HTTP_PROXY",
        "http_proxy",
        "ALL_PROXY",
        "all_proxy",
        "NO_PROXY",
        "no_proxy",
        "CLICOLOR_FORCE",
        "SUPCTL_STATE_DIR",
    ] {
        c.env_remove(v);
    }
    c
}

/// Runs `supctl ARGS` in `cwd` to completion (at most 60 s).
pub(crate) fn supctl_in(cwd: &Path, args: &[&str]) -> Run {
    let mut child = command(cwd, args).spawn().expect("run supctl");
    let deadline = Instant::now() + Duration::from_secs(60);
    while child.try_wait().expect("wait").is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("supctl {args:?} did not finish within 60 s");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let out = child.wait_with_output().expect("output");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Runs `supctl ARGS -c CONFIG` in the config's directory.
pub(crate) fn run(config: &Path, args: &[&str]) -> Run {
    let mut all: Vec<&str> = args.to_vec();
    let c = config.to_str().unwrap();
    all.extend(["-c", c]);
    supctl_in(config.parent().unwrap(), &all)
}

/// insta settings for CLI output: the workspace path, plan ids, store ids, times and
/// fingerprints replaced by stable tokens.
pub(crate) fn insta_settings(ws: &Workspace) -> insta::Settings {
    let mut s = insta::Settings::clone_current();
    let root = ws.path().display().to_string();
    // macOS reports /private/var for /var temp dirs.
    let canonical = std::fs::canonicalize(ws.path())
        .map(|p| p.display().to_string())
        .unwrap_or_else(|_| root.clone());
    s.add_filter(&regex_escape(&canonical), "[WS]");
    s.add_filter(&regex_escape(&root), "[WS]");
    s.add_filter(&regex_escape(env!("CARGO_MANIFEST_DIR")), "[REPO]");
    s.add_filter(
        r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2}| UTC)?",
        "[TIME]",
    );
    s.add_filter(r"\b[0-9a-f]{64}\b", "[FINGERPRINT]");
    s.add_filter(r"(expected|found) [0-9a-f]{12}\b", "$1 [SHORT-FP]");
    s.add_filter(r"\b[0-9a-f]{16}\b", "[ID]");
    s.add_filter(r"\b[0-9a-f]{32}\b", "[STORE-ID]");
    s.add_filter(r"pid \d+", "pid [PID]");
    s.set_prepend_module_to_snapshot(false);
    s
}

fn regex_escape(s: &str) -> String {
    let mut out = String::new();
    for ch in s.chars() {
        if "\\.+*?()|[]{}^$#&-~".contains(ch) {
            out.push('\\');
        }
        out.push(ch);
    }
    out
}

/// stdout and stderr of a run with its exit code, as one snapshot.
pub(crate) fn transcript(r: &Run) -> String {
    format!(
        "exit code: {}\n--- stdout\n{}--- stderr\n{}",
        r.code, r.stdout, r.stderr
    )
}
