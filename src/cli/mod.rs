//! The command line: one file per command, output formatting and exit codes.
//!
//! Exit codes follow Terraform: 0 success (or no changes), 1 error (including a plan with an
//! error diagnostic, and an apply with a failed or refused action), 2 changes present or
//! objects awaiting approval (only with `--detailed-exitcode`).

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod apply;
mod apply_report;
mod bundle;
pub mod catalog;
mod categories;
pub mod certs;
pub mod debug;
mod docs;
pub mod doctor;
mod import;
mod import_server;
mod interrupt;
mod lock;
mod notify;
pub mod output;
mod plan;
mod render;
mod schema;
mod session;
mod show;
mod status;
pub mod store;
mod sync;
pub mod trust;
pub mod unlock;
pub mod updates;
mod validate;
mod watch;

pub use session::parse_duration;

/// Success, or no changes.
pub const EXIT_OK: u8 = 0;
/// Any error: invalid config, failed apply, untrusted catalog.
pub const EXIT_ERROR: u8 = 1;
/// Changes present (`plan --detailed-exitcode`).
pub const EXIT_CHANGES: u8 = 2;
/// Stopped by SIGINT/SIGTERM before finishing (128 + SIGINT, as shells report Ctrl-C).
pub const EXIT_INTERRUPTED: u8 = 130;

#[derive(Debug, Parser)]
#[command(
    name = "supctl",
    version,
    about = "Keep a software update point's third-party update catalogs in the state declared in TOML",
    propagate_version = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Inspect catalogs: signature, contents, updates, categories, partner list
    Catalog(catalog::CatalogArgs),
    /// Check the desired state (every error, with file:line:col) without contacting any server.
    Validate(validate::ValidateArgs),
    /// Print the JSON Schema of the config (for editors).
    Schema,
    /// The updates the store holds ("All Software Updates").
    #[command(subcommand)]
    Updates(updates::UpdatesCommand),
    /// Certificates: catalog signers, content signers, WSUS signing.
    #[command(subcommand)]
    Certs(certs::CertsCommand),
    /// Check, read-only, what breaks third-party updating (signing certificate, client trust,
    /// catalog signers, content certificates, network, state directory, server), each problem
    /// with its fix.
    Doctor(doctor::DoctorArgs),
    /// Client trust for the WSUS signing certificate.
    #[command(subcommand)]
    Trust(trust::TrustCommand),
    /// Inspect and maintain the local store.
    #[command(subcommand)]
    Store(store::StoreCommand),
    /// Release a state lock by its ID.
    ForceUnlock(unlock::ForceUnlockArgs),
    /// Show the changes apply would make to the update server (-o saves the plan).
    Plan(plan::PlanArgs),
    /// Make the changes: a saved plan exactly, or plan, show and ask.
    Apply(apply::ApplyArgs),
    /// Pin the catalogs in supctl.lock (see `plan --locked`).
    #[command(subcommand)]
    Lock(lock::LockCommand),
    /// Write the locked catalogs, their staged content, the lock and a manifest into a
    /// directory to carry into a disconnected network.
    Export(bundle::ExportArgs),
    /// Check a bundle written by `export` (every file against its manifest, every catalog
    /// against its signature and the lock) and install it for `apply --locked`.
    ImportBundle(bundle::ImportBundleArgs),
    /// Show a plan saved with `plan -o`, as text or JSON.
    Show(show::ShowArgs),
    /// Run the reconcile daemon: on config change, on schedules, on `sync` requests.
    Watch(watch::WatchArgs),
    /// Notifications: send a test event to the receivers of the config's notify rules.
    #[command(subcommand)]
    Notify(notify::NotifyCommand),
    /// Synchronize catalogs now ("Sync now"); handed to `watch` when it runs.
    Sync(sync::SyncArgs),
    /// Last and next sync, update counts, certificates, status messages, warnings.
    Status(status::StatusArgs),
    /// Import updates from the Microsoft Update Catalog into WSUS by UpdateID.
    ImportUpdate(import::ImportArgs),
    /// Write the config that reproduces what the update server holds (catalogs, certificates,
    /// sync, signing; updates no catalog claims as catalog stubs) and adopt it.
    Import(import_server::ImportArgs),
    /// Print a shell completion script (bash, zsh, fish, powershell, elvish).
    Completions(docs::CompletionsArgs),
    /// Print the manual page, or write one page per command with --out DIR.
    Man(docs::ManArgs),
    /// Run one stage of supctl on its own (benchmarks, troubleshooting).
    #[command(subcommand, hide = true)]
    Debug(debug::DebugCommand),
}

/// Parses arguments, runs the command and maps its outcome to an exit code.
pub fn main() -> ExitCode {
    crate::allocator::limit_arenas();
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            crate::errln!("error: {e:#}");
            ExitCode::from(EXIT_ERROR)
        }
    }
}

pub fn run(cli: Cli) -> anyhow::Result<u8> {
    match cli.command {
        Command::Catalog(args) => catalog::run(args),
        Command::Validate(a) => validate::run(a),
        Command::Schema => schema::run(),
        Command::Updates(c) => updates::run(c),
        Command::Certs(c) => certs::run(c),
        Command::Trust(c) => trust::run(c),
        Command::Doctor(a) => doctor::run(a),
        Command::Store(c) => store::run(c),
        Command::ForceUnlock(a) => unlock::run(a),
        Command::Plan(a) => plan::run(a),
        Command::Apply(a) => apply::run(a),
        Command::Lock(c) => lock::run(c),
        Command::Export(a) => bundle::run_export(a),
        Command::ImportBundle(a) => bundle::run_import(a),
        Command::Show(a) => show::run(a),
        Command::Watch(a) => watch::run(a),
        Command::Notify(c) => notify::run(c),
        Command::Sync(a) => sync::run(a),
        Command::ImportUpdate(a) => import::run(a),
        Command::Import(a) => import_server::run(a),
        Command::Status(a) => status::run(a),
        Command::Completions(a) => docs::completions(a),
        Command::Man(a) => docs::man(a),
        Command::Debug(c) => debug::run(c),
    }
}
