//! `supctl watch`: the reconcile daemon (see `reconcile::daemon`). This file only parses
//! options, sets up logging, opens the store and takes the state lock for the daemon's life.

use std::path::PathBuf;

use anyhow::{Context, anyhow};
use clap::{Args, ValueEnum};
use tracing_subscriber::prelude::*;

use super::{EXIT_OK, session};
use crate::reconcile::daemon::{self, Mode};
use crate::reconcile::schedule::Timing;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Human,
    Json,
}

#[derive(Debug, Args)]
pub struct WatchArgs {
    #[command(flatten)]
    pub config: super::session::ConfigArg,
    /// auto-correct applies every change; monitor-only plans and reports drift.
    #[arg(long, value_enum, default_value = "auto-correct")]
    pub mode: Mode,
    /// Serve the status page, /api/*, /metrics, /healthz and /readyz on ADDR (e.g.
    /// 127.0.0.1:8467; port 0 picks one, logged as `listening on http://HOST:PORT`); over
    /// `[web] listen`.
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<std::net::SocketAddr>,
    /// Hold every pass to supctl.lock, as `apply --locked` does: a catalog whose CAB differs
    /// is read from the archive, or fails with lock-mismatch; a new lock is reconciled at once.
    #[arg(long)]
    pub locked: bool,
    /// Log lines as text or one JSON object per line.
    #[arg(long, value_enum, default_value = "human")]
    pub log_format: LogFormat,
    /// Also append the log to this file.
    #[arg(long, value_name = "PATH")]
    pub log_file: Option<PathBuf>,
    /// How long to wait for another supctl holding the state lock at start-up.
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = session::parse_duration)]
    pub lock_timeout: std::time::Duration,
    /// TEST ONLY: divide every schedule delay, jitter and backoff by this factor, so that
    /// `every 1 hour` fires every few seconds in integration tests. The config format's
    /// shortest schedule stays an hour (ConfigMgr's range).
    #[arg(
        long,
        hide = true,
        env = "SUPCTL_SCHEDULE_SCALE",
        default_value_t = 1.0
    )]
    pub schedule_scale: f64,
}

fn init_logging(args: &WatchArgs) -> anyhow::Result<()> {
    let filter = || {
        tracing_subscriber::EnvFilter::try_from_default_env()
            .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"))
    };
    let json = args.log_format == LogFormat::Json;
    let stderr = if json {
        tracing_subscriber::fmt::layer()
            .json()
            .with_writer(std::io::stderr)
            .boxed()
    } else {
        use std::io::IsTerminal as _;
        tracing_subscriber::fmt::layer()
            .with_ansi(std::io::stderr().is_terminal())
            .with_writer(std::io::stderr)
            .boxed()
    };
    let file = match &args.log_file {
        Some(p) => {
            let f = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(p)
                .with_context(|| format!("opening the log file {}", p.display()))?;
            let w = std::sync::Mutex::new(f);
            Some(if json {
                tracing_subscriber::fmt::layer()
                    .json()
                    .with_writer(w)
                    .with_filter(filter())
                    .boxed()
            } else {
                tracing_subscriber::fmt::layer()
                    .with_ansi(false)
                    .with_writer(w)
                    .with_filter(filter())
                    .boxed()
            })
        }
        None => None,
    };
    tracing_subscriber::registry()
        .with(stderr.with_filter(filter()))
        .with(file)
        .try_init()
        .map_err(|e| anyhow!("setting up logging: {e}"))
}

pub(super) fn run(args: WatchArgs) -> anyhow::Result<u8> {
    init_logging(&args)?;
    if !(args.schedule_scale >= 1.0 && args.schedule_scale.is_finite()) {
        return Err(anyhow!("--schedule-scale must be at least 1"));
    }
    let path = crate::config::default_path(args.config.path());
    let cfg = match crate::config::load(&path) {
        Ok((cfg, warnings)) => {
            warnings.iter().for_each(|w| tracing::warn!("{w}"));
            cfg
        }
        Err(diags) => {
            diags.errors().for_each(|d| tracing::error!("{d}"));
            return Err(anyhow!(
                "{} error(s) in {}; the daemon needs a valid config to start",
                diags.error_count(),
                path.display()
            ));
        }
    };
    let backend = session::open_backend(&cfg, true)?;
    let mut http = crate::reconcile::http_settings(&cfg);
    http.progress = false;
    http.notices = false;
    let fetcher = crate::catalog::fetch::Fetcher::new(http, cfg.server.path.join("cache"))
        .context("setting up downloads")?;
    let rt = session::runtime()?;
    let lock = session::lock_quiet(&backend, "watch", args.lock_timeout)?;
    for w in lock.warnings() {
        tracing::warn!("{w}");
    }
    let opts = daemon::Options {
        config_path: std::path::absolute(&path).unwrap_or(path),
        mode: args.mode,
        listen: args.listen,
        locked: args.locked,
        timing: Timing {
            scale: args.schedule_scale,
            ..Timing::default()
        },
    };
    rt.block_on(daemon::run(opts, cfg, backend, fetcher, lock))?;
    Ok(EXIT_OK)
}
