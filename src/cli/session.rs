//! What `plan`, `apply`, `sync` and `status` share: the config, the backend, the fetcher.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, anyhow};

use super::render;
use crate::catalog::fetch::Fetcher;
use crate::config::{self, BackendKind, Config};
use crate::store::local::{LocalBackend, OpenOptions};
use crate::store::{Backend, HeldLock, LockRequest, StoreLocation};

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

/// Loads the config, printing every diagnostic; an invalid config is one error.
pub fn load_config(path: Option<&Path>) -> anyhow::Result<(Config, PathBuf)> {
    let path = config::default_path(path);
    match config::load(&path) {
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
pub fn open_backend(cfg: &Config, create: bool) -> anyhow::Result<Box<dyn Backend>> {
    let opts = if create {
        OpenOptions::write()
    } else {
        OpenOptions::read()
    };
    open_backend_with(cfg, opts)
}

/// For `plan`, which writes nothing: created on first use like a writer, but without the
/// writers' `quick_check`, which reads the whole database (a gigabyte at 100,000 updates).
pub fn open_backend_to_plan(cfg: &Config) -> anyhow::Result<Box<dyn Backend>> {
    open_backend_with(
        cfg,
        OpenOptions {
            check: crate::store::local::Check::None,
            ..OpenOptions::write()
        },
    )
}

fn open_backend_with(cfg: &Config, opts: OpenOptions) -> anyhow::Result<Box<dyn Backend>> {
    match cfg.server.backend {
        BackendKind::Local => {
            let loc = StoreLocation::new(&cfg.server.path);
            let backend = LocalBackend::open(&loc, opts)
                .with_context(|| format!("opening the store in {}", loc.dir().display()))?;
            Ok(Box::new(backend))
        }
        BackendKind::Wsus => Err(anyhow!(
            "backend \"wsus\" is not available in this build yet; use backend = \"local\""
        )),
    }
}

pub fn fetcher(cfg: &Config) -> anyhow::Result<Fetcher> {
    let cache = cfg.server.path.join("cache");
    Fetcher::new(crate::reconcile::http_settings(cfg), cache).context("setting up downloads")
}

/// A fetcher that never draws a download bar (used under another progress bar).
pub fn fetcher_quiet(cfg: &Config) -> anyhow::Result<Fetcher> {
    let settings = crate::catalog::fetch::HttpSettings {
        progress: false,
        ..crate::reconcile::http_settings(cfg)
    };
    Fetcher::new(settings, cfg.server.path.join("cache")).context("setting up downloads")
}

pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the async runtime")
}

/// Takes the writer lock, waiting up to `timeout` for the current holder.
pub fn lock(
    backend: &dyn Backend,
    command: &str,
    timeout: Duration,
) -> anyhow::Result<Box<dyn HeldLock>> {
    let mut req = LockRequest::new(command);
    req.timeout = timeout;
    Ok(backend.lock(&req)?)
}

/// `--lock-timeout 30s` / `2m` / `0`.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (num, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: u64 = num
        .parse()
        .map_err(|_| format!("`{s}` is not a duration like 30s, 2m or 1h"))?;
    let secs = match unit {
        "" | "s" => n,
        "m" => n * 60,
        "h" => n * 3600,
        _ => return Err(format!("`{s}`: use s, m or h")),
    };
    Ok(Duration::from_secs(secs))
}
