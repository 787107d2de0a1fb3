//! What `plan`, `apply`, `sync` and `status` share: the config, the backend, the fetcher.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, anyhow};

use super::render;
use crate::catalog::fetch::Fetcher;
use crate::config::{self, BackendKind, Config};
use crate::store::db::OpenOptions;
use crate::store::wsus::ntlm::Credentials;
use crate::store::wsus::transport::{Endpoint, ProxySetting};
use crate::store::{HeldLock, LockRequest, Store, StoreLocation};

/// `-c PATH`, shared by every command that reads the desired state.
#[derive(Debug, Clone, clap::Args)]
pub struct ConfigArg {
    /// Config file or directory of *.toml files (default ./supctl.toml, else ./supctl/).
    #[arg(short = 'c', long = "config", value_name = "PATH")]
    config: Option<PathBuf>,
}

impl ConfigArg {
    pub fn path(&self) -> Option<&Path> {
        self.config.as_deref()
    }
}

/// Loads the config to read the state it names (`status`, `store`, `updates`), printing
/// every diagnostic; an invalid config is one error. An empty config is accepted here: only
/// commands that change the server refuse it ([`load_config_to_change`]).
pub(super) fn load_config(path: Option<&Path>) -> anyhow::Result<(Config, PathBuf)> {
    load_config_with(path, config::LoadOptions { allow_empty: true })
}

/// Loads the config for a command that may change the server (`plan`, `apply`, `sync`): a
/// config with no `[server]` and no catalog is refused unless it says `empty = true` or
/// `allow_empty` (`--allow-empty`).
pub(super) fn load_config_to_change(
    path: Option<&Path>,
    allow_empty: bool,
) -> anyhow::Result<(Config, PathBuf)> {
    load_config_with(path, config::LoadOptions { allow_empty })
}

fn load_config_with(
    path: Option<&Path>,
    opts: config::LoadOptions,
) -> anyhow::Result<(Config, PathBuf)> {
    let path = config::default_path(path);
    match config::load_with(&path, opts) {
        Ok((cfg, warnings)) => {
            warnings.iter().for_each(render::diagnostic);
            Ok((cfg, path))
        }
        Err(diags) => {
            diags.0.iter().for_each(render::diagnostic);
            Err(anyhow!(
                "{} error(s) in {}; nothing was changed",
                diags.error_count(),
                path.display()
            ))
        }
    }
}

/// Opens the configured backend (creating the local store on first use when `create`).
pub(super) fn open_backend(cfg: &Config, create: bool) -> anyhow::Result<Store> {
    let opts = if create {
        OpenOptions::write()
    } else {
        OpenOptions::read()
    };
    open_backend_with(cfg, opts)
}

/// For `apply PLANFILE`: the store the plan was made against must exist; a missing one
/// means the config points elsewhere, and creating an empty store there would help nobody.
pub(super) fn open_existing_backend(cfg: &Config) -> anyhow::Result<Store> {
    open_backend_with(
        cfg,
        OpenOptions {
            create: false,
            ..OpenOptions::write()
        },
    )
}

/// For `plan`, which writes nothing: created on first use like a writer, but without the
/// writers' `quick_check`, which reads the whole database (a gigabyte at 100,000 updates).
pub(super) fn open_backend_to_plan(cfg: &Config) -> anyhow::Result<Store> {
    open_backend_with(
        cfg,
        OpenOptions {
            check: crate::store::db::Check::None,
            ..OpenOptions::write()
        },
    )
}

fn open_backend_with(cfg: &Config, opts: OpenOptions) -> anyhow::Result<Store> {
    match cfg.server.backend {
        BackendKind::Local => {
            let loc = StoreLocation::new(&cfg.server.path);
            Store::embedded(&loc, opts)
                .with_context(|| format!("opening the store in {}", loc.dir().display()))
        }
        BackendKind::Wsus => {
            let loc = StoreLocation::new(&cfg.server.path);
            let (endpoint, admin) = wsus_endpoint(cfg)?;
            let url = endpoint.service_url();
            Store::wsus(endpoint, admin, &loc, opts).with_context(|| {
                format!(
                    "connecting to WSUS at {url} (state in {})",
                    loc.dir().display()
                )
            })
        }
    }
}

/// The WSUS endpoint and the account as `DOMAIN\user`, from `[server]` and the environment
/// variable `password_env` names.
fn wsus_endpoint(cfg: &Config) -> anyhow::Result<(Endpoint, String)> {
    let s = &cfg.server;
    let url = s
        .url
        .clone()
        .ok_or_else(|| anyhow!("backend \"wsus\" needs `server.url`"))?;
    let (user, domain) = match (s.username.as_deref(), s.domain.as_deref()) {
        (None, _) => (None, String::new()),
        (Some(u), Some(d)) => (Some(u.to_string()), d.to_string()),
        (Some(u), None) => match u.split_once('\\') {
            Some((d, u)) => (Some(u.to_string()), d.to_string()),
            None => match u.split_once('@') {
                Some((u, d)) => (Some(u.to_string()), d.to_string()),
                None => (Some(u.to_string()), String::new()),
            },
        },
    };
    let credentials = match user {
        None => None,
        Some(user) => {
            let var = s.password_env.as_deref().ok_or_else(|| {
                anyhow!("`server.username` is set but `server.password_env` is not: name the environment variable that holds the password")
            })?;
            let password = std::env::var(var).ok().filter(|p| !p.is_empty()).ok_or_else(|| {
                anyhow!("the environment variable {var} (server.password_env) is not set or empty; export the WSUS account's password in it")
            })?;
            Some(Credentials {
                user,
                domain,
                password,
            })
        }
    };
    let admin = credentials
        .as_ref()
        .map(|c| {
            if c.domain.is_empty() {
                c.user.clone()
            } else {
                format!("{}\\{}", c.domain, c.user)
            }
        })
        .unwrap_or_else(|| "supctl".into());
    let endpoint = Endpoint {
        url,
        credentials,
        timeout: Duration::from_secs(cfg.http.timeout_seconds.max(30)),
        connect_timeout: Duration::from_secs(15),
        ca_certificates: cfg.http.ca_certificates.clone(),
        // Only an https:// endpoint uses it (a CONNECT tunnel keeps NTLM's one connection);
        // `no_proxy` is read by reqwest's `NoProxy`, exactly as for catalog downloads.
        proxy: cfg.http.proxy.clone().map(|url| ProxySetting {
            url,
            no_proxy: cfg.http.no_proxy.clone(),
        }),
    };
    Ok((endpoint, admin))
}

pub(super) fn fetcher(cfg: &Config) -> anyhow::Result<Fetcher> {
    let cache = cfg.server.path.join("cache");
    Fetcher::new(crate::reconcile::http_settings(cfg), cache).context("setting up downloads")
}

/// A fetcher that never draws a download bar (used under another progress bar).
pub(super) fn fetcher_quiet(cfg: &Config) -> anyhow::Result<Fetcher> {
    let settings = crate::catalog::fetch::HttpSettings {
        progress: false,
        ..crate::reconcile::http_settings(cfg)
    };
    Fetcher::new(settings, cfg.server.path.join("cache")).context("setting up downloads")
}

pub(super) fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the async runtime")
}

/// Takes the writer lock, waiting up to `timeout` for the current holder, and says so on
/// standard error when it took over a lock left behind (an admin must know that another
/// process ended, or hung, while holding it).
pub(super) fn lock(
    backend: &Store,
    command: &str,
    timeout: Duration,
) -> anyhow::Result<Box<dyn HeldLock>> {
    let held = lock_quiet(backend, command, timeout)?;
    for w in held.warnings() {
        crate::errln!("Warning: {w}");
    }
    Ok(held)
}

/// [`lock`] without printing its warnings, for the daemon, which logs them.
pub(super) fn lock_quiet(
    backend: &Store,
    command: &str,
    timeout: Duration,
) -> anyhow::Result<Box<dyn HeldLock>> {
    let mut req = LockRequest::new(command);
    req.timeout = timeout;
    Ok(backend.lock(&req)?)
}

/// The one parser of command-line durations (`--lock-timeout`, `--timeout`, `--ttl`):
/// `500ms`, `30s`, `2m`, `1h`, or a bare number of seconds. Whole numbers in checked
/// arithmetic, so a huge value is an error, never a panic or a wrap.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (num, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: u64 = num
        .parse()
        .map_err(|_| format!("`{s}` is not a duration like 500ms, 30s, 2m or 1h"))?;
    let millis = match unit {
        "ms" => Some(n),
        "" | "s" => n.checked_mul(1_000),
        "m" => n.checked_mul(60_000),
        "h" => n.checked_mul(3_600_000),
        _ => return Err(format!("`{s}`: use ms, s, m or h")),
    }
    .ok_or_else(|| format!("`{s}` is too long"))?;
    Ok(Duration::from_millis(millis))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_with_units() {
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("5"), Ok(Duration::from_secs(5)));
        assert!(parse_duration("5 parsecs").is_err());
        assert!(parse_duration("abc").is_err());
        assert!(parse_duration("1.5s").is_err());
    }

    /// A huge value used to reach `Duration::from_secs_f64`, which panics on overflow.
    #[test]
    fn huge_durations_are_errors_not_panics() {
        for s in [
            "99999999999999999999h",
            "18446744073709551615h",
            "18446744073709551615",
        ] {
            let e = parse_duration(s).unwrap_err();
            assert!(e.contains(s), "{e}");
        }
    }
}
