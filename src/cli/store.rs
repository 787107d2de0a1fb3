//! `supctl store show|gc` and the options every store command shares (`--state-dir`,
//! `--json`, `--lock-timeout`), which the test kit's workloads (`supctl-test-kit`) share.

use std::path::PathBuf;
use std::time::Duration;

use std::fmt::Write as _;

use clap::{Args, Subcommand};
use serde::Serialize;

use crate::store::db::{Check, OpenOptions};
use crate::store::embedded::EmbeddedServer;
use crate::store::lock::{LockState, inspect};
use crate::store::{HeldLock, LockRequest, State, StoreLocation};

/// Where the store is and how to print.
#[derive(Debug, Clone, Args)]
pub struct StoreArgs {
    /// The state directory; default: the config's `[server] path`, else `.supctl`.
    #[arg(long, value_name = "DIR", env = "SUPCTL_STATE_DIR")]
    pub state_dir: Option<PathBuf>,
    #[command(flatten)]
    pub config: super::session::ConfigArg,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

impl StoreArgs {
    /// `--state-dir`, else the config's state directory (`-c`, or `./supctl.toml` /
    /// `./supctl/` when present), else `.supctl` here.
    pub fn location(&self) -> anyhow::Result<StoreLocation> {
        Ok(self.location_of(self.config()?.as_ref()))
    }

    /// The config these arguments point at; `None` with `--state-dir`, or when no `-c` was
    /// given and there is no default config here.
    pub fn config(&self) -> anyhow::Result<Option<crate::config::Config>> {
        if self.state_dir.is_some() {
            return Ok(None);
        }
        let path = crate::config::default_path(self.config.path());
        if self.config.path().is_none() && !path.exists() {
            return Ok(None);
        }
        Ok(Some(super::session::load_config(Some(&path))?.0))
    }

    /// The state directory for an already loaded [`StoreArgs::config`].
    pub fn location_of(&self, cfg: Option<&crate::config::Config>) -> StoreLocation {
        match (&self.state_dir, cfg) {
            (Some(d), _) => StoreLocation::new(d),
            (None, Some(cfg)) => StoreLocation::new(&cfg.server.path),
            (None, None) => StoreLocation::new(crate::store::location::DEFAULT_DIR),
        }
    }
}

/// How long a writer waits for the state lock.
#[derive(Debug, Clone, Args)]
pub struct LockArgs {
    /// Wait this long for another writer (`30s`, `2m`, `500ms`; a bare number is seconds).
    #[arg(long, value_name = "DURATION", default_value = "0s", value_parser = super::session::parse_duration)]
    pub lock_timeout: Duration,
}

impl LockArgs {
    /// Takes the lock, printing takeover warnings; `clean` removes killed writers'
    /// temporary files (not for a dry run, which removes nothing).
    pub fn acquire(
        &self,
        server: &EmbeddedServer,
        command: &str,
        clean: bool,
    ) -> anyhow::Result<Box<dyn HeldLock>> {
        let mut req = LockRequest::new(command).timeout(self.lock_timeout);
        req.clean_leftovers = clean;
        // The lock is the state's, over the same database as the server.
        let lock = State::on(server.db().clone()).lock(&req)?;
        for w in lock.warnings() {
            crate::errln!("warning: {w}");
        }
        Ok(lock)
    }
}

/// Writes command output at once; a closed pipe (`| head`) ends it quietly, not in a panic.
pub fn emit(text: &str) -> anyhow::Result<()> {
    use std::io::Write as _;
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        r => Ok(r?),
    }
}

pub fn print_json<T: Serialize + ?Sized>(v: &T) -> anyhow::Result<()> {
    emit(&format!("{}\n", serde_json::to_string_pretty(v)?))
}

#[derive(Debug, Subcommand)]
pub enum StoreCommand {
    /// Counts and sizes, schema version, integrity and the lock holder.
    Show(StoreArgs),
    /// Find orphaned content and files whose digest no longer matches; remove orphans and
    /// leftover temp files unless `--dry-run`. Exits 1 when content is corrupt or missing.
    Gc {
        #[command(flatten)]
        store: StoreArgs,
        #[command(flatten)]
        lock: LockArgs,
        #[arg(long)]
        dry_run: bool,
    },
}

#[derive(Serialize)]
struct Show {
    state_dir: PathBuf,
    #[serde(flatten)]
    stats: crate::store::embedded::StoreStats,
    integrity: Vec<String>,
    lock: Option<LockView>,
}

#[derive(Serialize)]
struct LockView {
    #[serde(flatten)]
    owner: crate::store::LockOwner,
    stale: bool,
    /// The holder ended without releasing the lock; nobody holds it now.
    abandoned: bool,
}

pub fn run(cmd: StoreCommand) -> anyhow::Result<u8> {
    match cmd {
        StoreCommand::Show(a) => show(a),
        StoreCommand::Gc {
            store,
            lock,
            dry_run,
        } => gc(&store, &lock, dry_run),
    }
}

/// What `store gc --json` prints: the content check, the saved plans beyond
/// `keep_plans`, and the cache of catalogs no longer configured (without a config: not
/// looked at).
#[derive(Serialize)]
struct GcView {
    #[serde(flatten)]
    content: crate::store::content::GcReport,
    plans: crate::reconcile::prune::Pruned,
    cache: Option<crate::reconcile::prune::Pruned>,
}

fn gc(store: &StoreArgs, lock: &LockArgs, dry_run: bool) -> anyhow::Result<u8> {
    use crate::reconcile::prune;
    let cfg = store.config()?;
    let loc = store.location_of(cfg.as_ref());
    let backend = EmbeddedServer::open(
        &loc,
        OpenOptions {
            create: false,
            check: Check::Quick,
        },
    )?;
    let _lock = lock.acquire(
        &backend,
        if dry_run {
            "store gc --dry-run"
        } else {
            "store gc"
        },
        !dry_run,
    )?;
    let report = backend.gc(dry_run)?;
    let keep = cfg
        .as_ref()
        .map_or(crate::config::default_keep_plans(), |c| c.server.keep_plans);
    let protect: std::collections::BTreeSet<String> =
        crate::store::state::State::on(backend.db().clone())
            .last_journal()?
            .map(|j| j.plan.to_string())
            .into_iter()
            .collect();
    let plans = prune::plans(&loc.dir().join("plans"), keep as usize, &protect, dry_run)?;
    let cache = match &cfg {
        Some(c) => {
            let configured = c.catalogs.keys().cloned().collect();
            Some(prune::cache(
                &loc.dir().join("cache"),
                &configured,
                dry_run,
            )?)
        }
        None => None,
    };
    let view = GcView {
        content: report,
        plans,
        cache,
    };
    if store.json {
        print_json(&view)?;
    } else {
        let report = &view.content;
        let verb = if dry_run { "would remove" } else { "removed" };
        let mut out = String::new();
        let _ = writeln!(out, "checked {} content file(s)", report.checked);
        let _ = writeln!(
            out,
            "{verb} {} orphan(s) ({} bytes)",
            report.orphans.len(),
            report.orphan_bytes
        );
        for p in &report.orphans {
            let _ = writeln!(out, "  orphan  {}", p.display());
        }
        let _ = writeln!(out, "{verb} {} leftover temp file(s)", report.temp.len());
        for p in &report.corrupt {
            let _ = writeln!(
                out,
                "  corrupt {} (digest does not match its name)",
                p.display()
            );
        }
        for d in &report.missing {
            let _ = writeln!(out, "  missing content {d}");
        }
        for p in &report.unexpected {
            let _ = writeln!(
                out,
                "  unexpected {} (not in the WSUS layout; left alone)",
                p.display()
            );
        }
        let _ = writeln!(
            out,
            "{verb} {} saved plan(s) beyond keep_plans = {keep} ({} bytes)",
            view.plans.files.len(),
            view.plans.bytes
        );
        match &view.cache {
            Some(c) => {
                let _ = writeln!(
                    out,
                    "{verb} {} cached file(s) of catalogs no longer configured ({} bytes)",
                    c.files.len(),
                    c.bytes
                );
                for p in &c.files {
                    let _ = writeln!(out, "  cached  {}", p.display());
                }
            }
            None => {
                let _ = writeln!(
                    out,
                    "cache not pruned: give the config (-c) to say which catalogs are configured"
                );
            }
        }
        emit(&out)?;
    }
    let bad = !view.content.corrupt.is_empty() || !view.content.missing.is_empty();
    Ok(if bad {
        super::EXIT_ERROR
    } else {
        super::EXIT_OK
    })
}

fn show(a: StoreArgs) -> anyhow::Result<u8> {
    let loc = a.location()?;
    let backend = EmbeddedServer::open(&loc, OpenOptions::read())?;
    let integrity = backend.integrity_check(true)?;
    let view = |owner: crate::store::LockOwner, abandoned| LockView {
        stale: owner.is_stale(chrono::Utc::now()),
        owner,
        abandoned,
    };
    let lock = match inspect(&loc)? {
        LockState::Free | LockState::Held(None) => None,
        LockState::Held(Some(owner)) => Some(view(owner, false)),
        LockState::Abandoned(owner) => Some(view(owner, true)),
    };
    let view = Show {
        state_dir: loc.dir().to_path_buf(),
        stats: backend.stats()?,
        integrity,
        lock,
    };
    if a.json {
        print_json(&view)?;
    } else {
        let c = &view.stats.counts;
        let mut out = String::new();
        let _ = writeln!(out, "state directory  {}", view.state_dir.display());
        let _ = writeln!(out, "schema version   {}", view.stats.schema_version);
        let _ = writeln!(out, "database         {} bytes", view.stats.database_bytes);
        let _ = writeln!(
            out,
            "integrity        {}",
            if view.integrity.is_empty() {
                "ok".to_string()
            } else {
                view.integrity.join("; ")
            }
        );
        let _ = writeln!(out, "catalogs         {}", c.catalogs);
        let _ = writeln!(out, "certificates     {}", c.certificates);
        let _ = writeln!(out, "categories       {}", c.categories);
        let _ = writeln!(
            out,
            "updates          {} ({} revisions, {} deployable, {} expired)",
            c.updates, c.revisions, c.deployable, c.expired
        );
        let _ = writeln!(out, "update files     {}", c.files);
        let _ = writeln!(
            out,
            "content          {} file(s), {} bytes",
            c.content_files, c.content_bytes
        );
        let _ = writeln!(out, "status messages  {}", c.status_messages);
        let _ = writeln!(out, "sync runs        {}", c.sync_runs);
        let _ = writeln!(out, "journal entries  {}", c.journal_entries);
        let _ = writeln!(out, "inventory        {}", c.inventory);
        match &view.lock {
            None => out.push_str("lock             free\n"),
            Some(l) if l.abandoned => out.push_str(&format!(
                "lock             free (left behind by {}, which ended without releasing it; the next writer takes it over)\n",
                l.owner
            )),
            Some(l) => out.push_str(&format!(
                "lock             held by {}{}\n",
                l.owner,
                if l.stale { " (stale)" } else { "" }
            )),
        }
        emit(&out)?;
    }
    Ok(if view.integrity.is_empty() {
        super::EXIT_OK
    } else {
        super::EXIT_ERROR
    })
}
