//! End-to-end harness: a "vendor site" (HTTPS server with a test CA, reached through a
//! routing proxy) serving signed catalogs and signed content, a state directory, and the
//! real `supctl` binary run against them.
//!
//! Content URLs are fixed inside signed catalogs (`https://content.contoso.example/<name>`,
//! see `crates/test-kit/src/generator/sdp.rs`), so they cannot name a test server's random port. The
//! config therefore sets `[http] proxy` to a [`TestProxy`] that routes
//! `content.contoso.example:443` to the local server, whose certificate (from the test CA in
//! `[http] ca_certificates`) also covers that name. No fixed port, parallel tests do not
//! collide, and nothing can leave 127.0.0.1. See `tests/fixtures/e2e/README.md`.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use supctl::store::Store;
use supctl::store::db::{Check, OpenOptions};
use supctl::store::{ActualState, StoreLocation};

use super::{TestCa, TestProxy, TestServer};

/// The host every generated catalog's `OriginUri` names.
pub(crate) const CONTENT_HOST: &str = "content.contoso.example";
/// SHA-1 of the quickstart signer: catalog signer and content certificate of the approved
/// fixtures (`examples/quickstart/README.md`).
pub(crate) const QS_SIGNER: &str = "6D8B3C448B990E269336BB63A47F23498C95EB7D";
/// SHA-1 of the e2e "other" signer (`tests/fixtures/e2e/pki/other.pem`), approved nowhere.
pub(crate) const OTHER_SIGNER: &str = "C20A05BA7B5811529995E9DE764EA8BB5CC635BD";

/// Update ids of the quickstart catalog (same seed in every quickstart-profile fixture).
pub(crate) const TOOL_10: &str = "0c31a8ec-a368-4383-8149-3d8e2c264f17";
pub(crate) const TOOL_11: &str = "75703a22-ed04-4fc2-b715-75e42bc587c0";
pub(crate) const AGENT_23: &str = "517b3da2-8ccd-46cd-9f1f-b30dc310e890";
pub(crate) const BIOS_107: &str = "f97ca7d5-1fcf-4973-8818-4a277b871f2b";

/// A file of the repository.
pub(crate) fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

/// The approved quickstart catalog and its content folder.
pub(crate) fn quickstart_cab() -> PathBuf {
    repo("examples/quickstart/catalog/contoso-v3.cab")
}
pub(crate) fn quickstart_content() -> PathBuf {
    repo("examples/quickstart/content")
}

/// A vendor site and a state directory for one test.
pub(crate) struct Site {
    pub server: TestServer,
    pub proxy: TestProxy,
    pub dir: tempfile::TempDir,
}

impl Default for Site {
    fn default() -> Self {
        Self::new()
    }
}

impl Site {
    pub(crate) fn new() -> Site {
        let ca = Arc::new(TestCa::with_hosts("supctl-e2e", &[CONTENT_HOST]));
        let server = TestServer::start_with_ca(Vec::<(String, Vec<u8>)>::new(), ca);
        let proxy = TestProxy::with_routes(vec![(format!("{CONTENT_HOST}:443"), server.addr())]);
        Site {
            server,
            proxy,
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    /// Serves `cab` at `path`; returns its URL.
    pub(crate) fn serve_catalog(&self, path: &str, cab: &Path) -> String {
        let bytes = std::fs::read(cab).unwrap_or_else(|e| panic!("{}: {e}", cab.display()));
        self.server.set_file(path, bytes);
        self.server.url(path)
    }

    /// Serves every file of `dir` at `/<file name>`, where the catalogs' `OriginUri` points.
    pub(crate) fn serve_content(&self, dir: &Path) {
        for e in std::fs::read_dir(dir).expect("content dir").flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            self.server
                .set_file(&format!("/{name}"), std::fs::read(e.path()).unwrap());
        }
    }

    /// GET requests the content server answered for `/<name>`.
    pub(crate) fn downloads_of(&self, name: &str) -> usize {
        self.server
            .requests_for(&format!("/{name}"))
            .iter()
            .filter(|r| r.method == "GET" && (r.status == 200 || r.status == 206))
            .count()
    }

    pub(crate) fn state_dir(&self) -> PathBuf {
        self.dir.path().join("state")
    }

    /// `[server]` and `[http]` for this site, then `body` (catalogs, certificates).
    pub(crate) fn config(&self, server_extra: &str, body: &str) -> String {
        format!(
            "version = 1\n\n[server]\npath = {:?}\n{server_extra}\n\n[http]\nca_certificates = [{:?}]\nproxy = {:?}\nretries = 1\ntimeout_seconds = 10\nconcurrency = 2\n\n{body}\n",
            self.state_dir().display().to_string(),
            self.server.ca_pem_path().display().to_string(),
            self.proxy.url(),
        )
    }

    /// Writes `toml` as `<name>.toml` in the test directory; returns its path.
    pub(crate) fn write(&self, name: &str, toml: &str) -> PathBuf {
        let p = self.dir.path().join(format!("{name}.toml"));
        std::fs::write(&p, toml).unwrap();
        p
    }

    /// The state as the planner sees it, read with a full integrity check.
    pub(crate) fn snapshot(&self) -> ActualState {
        self.backend().snapshot().expect("snapshot")
    }

    /// The embedded server alone, for what only it has (`gc`, `stats`, content paths).
    pub(crate) fn server(&self) -> supctl::store::embedded::EmbeddedServer {
        supctl::store::embedded::EmbeddedServer::open(
            &StoreLocation::new(self.state_dir()),
            OpenOptions::read(),
        )
        .expect("the store opens")
    }

    pub(crate) fn backend(&self) -> Store {
        Store::embedded(
            &StoreLocation::new(self.state_dir()),
            OpenOptions {
                create: false,
                check: Check::Full,
            },
        )
        .expect("the store opens and passes its integrity check")
    }
}

/// Environment variables that would change what the binary does (an ambient proxy).
const AMBIENT: &[&str] = &[
    "HTTPS_PROXY",
    "https_proxy",
    "HTTP_PROXY",
    "http_proxy",
    "ALL_PROXY",
    "all_proxy",
    "NO_PROXY",
    "no_proxy",
    "CLICOLOR_FORCE",
];

/// `supctl ARGS` with a clean environment (no ambient proxy, no colours, bounded).
pub(crate) fn supctl(args: &[&str]) -> assert_cmd::Command {
    let mut c = assert_cmd::Command::cargo_bin("supctl").expect("supctl binary");
    c.args(args)
        .timeout(Duration::from_secs(60))
        .env("NO_COLOR", "1");
    for v in AMBIENT {
        c.env_remove(v);
    }
    c
}

/// The same for a `std::process::Command` (tests that must kill the child).
pub(crate) fn supctl_std(args: &[&str]) -> std::process::Command {
    let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_supctl"));
    c.args(args).env("NO_COLOR", "1");
    for v in AMBIENT {
        c.env_remove(v);
    }
    c
}

/// Output of a finished command.
pub(crate) struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub(crate) fn all(&self) -> String {
        format!("{}\n{}", self.stdout, self.stderr)
    }
}

/// Runs `supctl ARGS -c CONFIG` and returns exit code and output.
pub(crate) fn run(config: &Path, args: &[&str]) -> Run {
    run_with(config, args, &[])
}

/// [`run`] with environment variables set (a WSUS password the config's `password_env` names).
pub(crate) fn run_with(config: &Path, args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut c = supctl(args);
    c.arg("-c").arg(config);
    for (k, v) in env {
        c.env(k, v);
    }
    let out = c.output().expect("run supctl");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// `[server]` lines for the WSUS double at `url`, its password in the variable `var`.
pub(crate) fn wsus_server_lines(url: &str, var: &str) -> String {
    format!(
        "backend = \"wsus\"\nurl = {url:?}\nusername = \"CORP\\\\svc-supctl\"\npassword_env = \"{var}\""
    )
}

/// `plan --json --detailed-exitcode` with `env`: the exit code and the actions, sorted.
pub(crate) fn planned_actions(config: &Path, env: &[(&str, &str)]) -> (i32, Vec<String>) {
    let r = run_with(config, &["plan", "--json", "--detailed-exitcode"], env);
    let v: serde_json::Value = serde_json::from_str(&r.stdout)
        .unwrap_or_else(|e| panic!("plan --json is not JSON ({e}):\n{}", r.all()));
    let mut a = actions(&v);
    a.sort();
    (r.code, a)
}

/// `plan --json` parsed.
pub(crate) fn plan_json(config: &Path, extra: &[&str]) -> (i32, serde_json::Value) {
    let mut args = vec!["plan", "--json", "--detailed-exitcode"];
    args.extend_from_slice(extra);
    let r = run(config, &args);
    let v = serde_json::from_str(&r.stdout)
        .unwrap_or_else(|e| panic!("plan --json is not JSON ({e}):\n{}", r.all()));
    (r.code, v)
}

/// Addresses and kinds of a JSON plan's actions, `kind address` each.
pub(crate) fn actions(plan: &serde_json::Value) -> Vec<String> {
    plan["actions"]
        .as_array()
        .expect("actions")
        .iter()
        .map(|a| {
            format!(
                "{} {}",
                a["kind"].as_str().unwrap(),
                a["address"].as_str().unwrap()
            )
        })
        .collect()
}

/// The `[catalog.KEY]` block of a Contoso catalog at `url`, plus `extra` lines.
pub(crate) fn catalog(key: &str, url: &str, extra: &str) -> String {
    format!(
        "[catalog.{key}]\nname = \"Contoso {key}\"\npublisher = \"Contoso\"\nurl = {url:?}\nsigners = [\"{QS_SIGNER}\"]\n{extra}\n"
    )
}

/// The `[[certificate]]` rule approving the quickstart signer as content certificate.
pub(crate) fn approve_content() -> String {
    format!(
        "[[certificate]]\nthumbprint = \"{QS_SIGNER}\"\nkind = \"content\"\nstate = \"approved\"\n"
    )
}

/// A site serving `cab` at `/contoso-v3.cab` (and `content`, if any) with a config of
/// catalog `contoso` (plus `extra` lines) and the quickstart signer approved for content.
pub(crate) fn site_serving(cab: &Path, content: Option<&Path>, extra: &str) -> (Site, PathBuf) {
    let site = Site::new();
    let url = site.serve_catalog("/contoso-v3.cab", cab);
    if let Some(c) = content {
        site.serve_content(c);
    }
    let body = format!("{}\n{}", catalog("contoso", &url, extra), approve_content());
    let cfg = site.write("supctl", &site.config("", &body));
    (site, cfg)
}

/// `catalog.KEY.update[ID]`.
pub(crate) fn update_addr(key: &str, id: &str) -> String {
    format!("catalog.{key}.update[{id}]")
}
