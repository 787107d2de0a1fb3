//! The commands of `supctl-test-kit`: store workloads the crash, lock and store tests run in
//! a process of their own (a `kill -9` or a held lock must belong to another pid).
//!
//! They take the product's own `--state-dir` and `--lock-timeout` options
//! ([`StoreArgs`], [`LockArgs`]) so a workload opens the state exactly as `supctl` does.

use std::ffi::OsString;
use std::io::Write as _;
use std::time::{Duration, Instant};

use clap::{Parser, Subcommand};

use supctl::cli::parse_duration;
use supctl::cli::store::{LockArgs, StoreArgs};
use supctl::store::db::OpenOptions;
use supctl::store::embedded::EmbeddedServer;
use supctl::store::query::UpdateFilter;
use supctl::store::{LockRequest, Store, UpdateServer as _};

use crate::bench::{BenchSpec, write};

/// Store workloads for supctl's tests and benchmarks.
#[derive(Debug, Parser)]
#[command(name = "supctl-test-kit", version)]
pub struct Kit {
    #[command(subcommand)]
    command: Workload,
}

#[derive(Debug, Subcommand)]
enum Workload {
    /// Write a synthetic catalog through the store's write path; print the report as JSON.
    /// Idempotent, so a rerun after a kill completes it.
    BenchWrite {
        #[command(flatten)]
        store: StoreArgs,
        #[command(flatten)]
        lock: LockArgs,
        #[arg(long, default_value_t = 10_000)]
        updates: usize,
        /// Updates per transaction.
        #[arg(long, default_value_t = 100)]
        batch: usize,
        /// Stage the content of every n-th update (0: none).
        #[arg(long, default_value_t = 10)]
        stage_every: usize,
    },
    /// Time opening the store, a full snapshot and a vendor-filtered listing; print JSON.
    BenchRead {
        #[command(flatten)]
        store: StoreArgs,
        #[arg(long, default_value = "Vendor 07")]
        vendor: String,
    },
    /// Take the state lock, print its id on the first line, hold it, then release it.
    HoldLock {
        #[command(flatten)]
        store: StoreArgs,
        #[arg(long, default_value = "30s", value_parser = parse_duration)]
        hold: Duration,
        #[arg(long, default_value = "60s", value_parser = parse_duration)]
        ttl: Duration,
        /// Simulate a hung holder: never refresh the heartbeat.
        #[arg(long)]
        no_heartbeat: bool,
    },
}

/// Parses `args` (the first is the program name) and runs the workload: the exit code, with
/// the error printed to stderr.
pub fn main<I, T>(args: I) -> u8
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let kit = match Kit::try_parse_from(args) {
        Ok(kit) => kit,
        Err(e) => {
            let _ = e.print();
            return u8::from(e.use_stderr()) * 2;
        }
    };
    match run(kit.command) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("supctl-test-kit: {e:#}");
            1
        }
    }
}

fn run(workload: Workload) -> anyhow::Result<()> {
    match workload {
        Workload::BenchWrite {
            store,
            lock,
            updates,
            batch,
            stage_every,
        } => {
            let target = Store::embedded(&store.location()?, OpenOptions::write())?;
            let _lock =
                target.lock(&LockRequest::new("store bench-write").timeout(lock.lock_timeout))?;
            let spec = BenchSpec {
                updates,
                batch,
                stage_every,
            };
            print_json(&write(&target, &spec)?)
        }
        Workload::BenchRead { store, vendor } => {
            let started = Instant::now();
            let server = EmbeddedServer::open(&store.location()?, OpenOptions::read())?;
            let opened = started.elapsed();
            let snap = server.snapshot()?;
            let snapshot = started.elapsed() - opened;
            let filter = UpdateFilter {
                vendor: Some(vendor),
                ..Default::default()
            };
            let rows = server.list_updates(&filter)?;
            let listed = started.elapsed() - opened - snapshot;
            print_json(&serde_json::json!({
                "open_ms": opened.as_millis(),
                "snapshot_ms": snapshot.as_millis(),
                "updates": snap.updates.len(),
                "list_vendor_ms": listed.as_millis(),
                "listed": rows.len(),
            }))
        }
        Workload::HoldLock {
            store,
            hold,
            ttl,
            no_heartbeat,
        } => {
            let target = Store::embedded(&store.location()?, OpenOptions::write())?;
            let mut req = LockRequest::new("store hold-lock").ttl(ttl);
            req.heartbeat = !no_heartbeat;
            let lock = target.lock(&req)?;
            let mut out = std::io::stdout().lock();
            writeln!(out, "{}", lock.owner().id)?;
            out.flush()?;
            drop(out);
            std::thread::sleep(hold);
            Ok(())
        }
    }
}

fn print_json<T: serde::Serialize>(v: &T) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{}", serde_json::to_string_pretty(v)?)?;
    Ok(out.flush()?)
}
