//! The store: the update server and supctl's own state, apart, behind the one [`Store`] the
//! planner, the apply engine and the daemon use.
//!
//! - [`server`]: the [`UpdateServer`] trait, what the update point holds (catalog
//!   subscriptions, certificates, categories, updates with their revisions and content, its
//!   settings), with three implementations: [`embedded::EmbeddedServer`] (SQLite +
//!   `WsusContent/`, the default), [`memory::MemoryServer`] (same semantics, in memory, for
//!   tests) and [`wsus::WsusServer`] (a remote WSUS over its admin API);
//! - [`state`]: supctl's bookkeeping (journal, runs, messages, next runs, inventory,
//!   findings, catalog revisions, the writer lock), in SQLite for every server kind;
//! - [`db`]: the state directory's database both use.

pub mod actual;
pub(crate) mod codec;
pub mod content;
pub mod db;
pub mod embedded;
pub mod error;
pub mod identity;
pub mod leftovers;
pub mod local_categories;
pub mod location;
pub mod lock;
pub mod lock_owner;
pub mod memory;
pub mod model;
pub mod names;
pub mod observed;
pub mod op;
pub mod packed;
pub mod query;
pub mod schema;
pub mod server;
pub(crate) mod shared;
pub mod state;
mod update_fingerprint;
pub mod wsus;

use std::path::PathBuf;
use std::sync::Arc;

use crate::ids::UpdateId;

pub use actual::{ActualState, StoredFile, StoredUpdate, StoredUpdates};
pub use error::{Result, StoreError};
pub use identity::ServerIdentity;
pub use local_categories::{LocalCategories, LocalCategory, MAX_LOCAL_CATEGORIES};
pub use location::StoreLocation;
pub use lock::{HeldLock, LockRequest};
pub use lock_owner::LockOwner;
pub use model::*;
pub use names::{Address, CatalogKey, Fingerprint, LockId, PlanId, Target};
pub use observed::{Finding, FindingKind, ShippedCertificates};
pub use op::{
    Applied, Capabilities, Change, Counts, Op, Record, SigningInstallation, StageRequest,
};
pub use packed::{PackedPackages, PackedXml};
pub use server::{ServerError, UpdateServer};
pub use state::State;

/// The update server and supctl's state for it: every read and change the planner, the
/// apply engine and the daemon make goes through here.
pub struct Store {
    server: Box<dyn UpdateServer>,
    state: State,
    /// The temporary directory holding a memory store's state, removed with the store.
    _scratch: Option<Arc<tempfile::TempDir>>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("server", &self.server.describe())
            .field("state", &self.state.location().dir())
            .finish()
    }
}

impl Store {
    pub fn new(server: Box<dyn UpdateServer>, state: State) -> Self {
        Self {
            server,
            state,
            _scratch: None,
        }
    }

    /// The embedded server and the state in one state directory (one database).
    pub fn embedded(loc: &StoreLocation, opts: db::OpenOptions) -> Result<Self> {
        let db = Arc::new(db::Db::open(loc, opts)?);
        Ok(Self::new(
            Box::new(embedded::EmbeddedServer::on(db.clone())),
            State::on(db),
        ))
    }

    /// A remote WSUS, with the state (and the site database, see [`wsus::WsusServer`]) in
    /// the state directory `loc`.
    pub fn wsus(
        endpoint: wsus::transport::Endpoint,
        admin: String,
        loc: &StoreLocation,
        opts: db::OpenOptions,
    ) -> Result<Self> {
        let db = Arc::new(db::Db::open(loc, opts)?);
        let server =
            wsus::WsusServer::connect(endpoint, admin, embedded::EmbeddedServer::on(db.clone()))?;
        Ok(Self::new(Box::new(server), State::on(db)))
    }

    /// An in-memory server, with its state in a temporary directory: for tests.
    pub fn memory() -> Result<Self> {
        let scratch =
            tempfile::tempdir().map_err(|e| StoreError::io("creating a state directory", e))?;
        let state = State::open(
            &StoreLocation::new(scratch.path()),
            db::OpenOptions::write(),
        )?;
        Ok(Self {
            server: Box::new(memory::MemoryServer::new()?),
            state,
            _scratch: Some(Arc::new(scratch)),
        })
    }

    pub fn server(&self) -> &dyn UpdateServer {
        self.server.as_ref()
    }
    pub fn state(&self) -> &State {
        &self.state
    }

    /// A short name for messages (`local`, `memory`, `wsus`).
    pub fn name(&self) -> &'static str {
        self.server.name()
    }
    pub fn capabilities(&self) -> Capabilities {
        self.server.capabilities()
    }
    /// One line saying which server this is, for `status`.
    pub fn describe(&self) -> String {
        self.server.describe()
    }
    pub fn identity(&self) -> Result<ServerIdentity> {
        self.server.identity()
    }

    /// What the planner compares: the server's objects, with the inventory and the catalog
    /// revisions in force from the state.
    pub fn snapshot(&self) -> Result<ActualState> {
        let mut actual = self.server.snapshot()?;
        actual.inventory = self.state.inventory()?;
        let mut revisions = self.state.revisions()?;
        for (key, catalog) in &mut actual.catalogs {
            catalog.revision = revisions.remove(key);
        }
        Ok(actual)
    }

    /// Applies a change, a record, or several with their journal entries
    /// ([`Op::Atomic`]); repeating one reports `changed: false`.
    pub fn apply(&self, op: impl Into<Op>) -> Result<Applied> {
        match op.into() {
            Op::Change(change) => {
                if self.shared_database().is_none() {
                    // A holder that lost the state lock must not call the server either: the
                    // bookkeeping write after the call would be refused, leaving the server
                    // ahead of the books.
                    self.state.ensure_lock_current()?;
                }
                self.server.apply(change)
            }
            Op::Record(record) => self.state.apply(record),
            Op::Atomic { ops, done } => self.apply_atomic(ops, done),
        }
    }

    /// The server, when its objects live in this store's state database.
    fn shared_database(&self) -> Option<&dyn server::InStateDatabase> {
        self.server
            .in_state_database()
            .filter(|s| Arc::ptr_eq(s.database(), self.state.db()))
    }

    fn apply_atomic(&self, ops: Vec<Op>, done: Vec<DoneEntry>) -> Result<Applied> {
        if let Some(shared) = self.shared_database() {
            return self
                .state
                .db()
                .write(|tx| apply_in(shared, tx, vec![Op::Atomic { ops, done }]));
        }
        let at = chrono::Utc::now();
        // The server cannot share a transaction with the state: each operation is made in
        // turn, then the outcomes are journaled with what the server now holds.
        let mut applied = Vec::with_capacity(ops.len());
        for op in ops {
            applied.push(self.apply(op)?);
        }
        let mut entries = Vec::with_capacity(done.len());
        for d in &done {
            entries.push(d.entry(self.server.fingerprint(d.object())?, at));
        }
        self.state.apply(Record::JournalBatch(entries))?;
        Ok(Applied::sum(applied))
    }

    /// A hash of the object an address names, `None` when it does not exist.
    pub fn fingerprint(&self, address: &Address) -> Result<Option<Fingerprint>> {
        self.server.fingerprint(address)
    }
    /// Whether the object an address names exists ([`UpdateServer::present`]).
    pub fn present(&self, address: &Address) -> Result<bool> {
        self.server.present(address)
    }
    /// The raw SDP XML of an update revision (the current one when `revision` is `None`).
    pub fn raw_xml(&self, id: &UpdateId, revision: Option<u32>) -> Result<Option<String>> {
        self.server.raw_xml(id, revision)
    }
    /// Where downloads must be written before [`Change::StageContent`] moves them in.
    pub fn staging_dir(&self) -> Result<PathBuf> {
        self.server.staging_dir()
    }
    /// See [`UpdateServer::start_synchronization`].
    pub fn start_synchronization(&self) -> Result<()> {
        self.server.start_synchronization()
    }
    /// See [`UpdateServer::import_catalog_update`].
    pub fn import_catalog_update(&self, id: &UpdateId) -> Result<bool> {
        self.server.import_catalog_update(id)
    }

    /// The journal of the most recent plan, for `apply --resume`.
    pub fn last_journal(&self) -> Result<Option<Journal>> {
        self.state.last_journal()
    }
    /// Whether the most recent plan's journal records that its apply ended (no journal:
    /// false), without reading its entries.
    pub fn last_journal_ended(&self) -> Result<bool> {
        self.state.last_journal_ended()
    }
    /// The journal of one plan.
    pub fn journal(&self, plan: &PlanId) -> Result<Option<Journal>> {
        self.state.journal(plan)
    }
    /// The newest status messages first.
    pub fn status_messages(&self, limit: usize) -> Result<Vec<RecordedMessage>> {
        self.state.status_messages(limit)
    }
    /// The newest sync runs first: supctl's own, merged with the server's synchronizations
    /// with its upstream.
    pub fn sync_runs(&self, limit: usize) -> Result<Vec<SyncRun>> {
        let mut runs = self.state.sync_runs(limit)?;
        runs.extend(self.server.sync_history(limit)?);
        runs.sort_by(|a, b| {
            b.started
                .cmp(&a.started)
                .then_with(|| a.scope.cmp(&b.scope))
        });
        runs.truncate(limit);
        Ok(runs)
    }
    /// The daemon's persisted next-run times, by scope.
    pub fn next_runs(&self) -> Result<Vec<NextRun>> {
        self.state.next_runs()
    }
    /// What passes found and has not been cleared since (drift left alone, a plan held
    /// back), by scope and kind.
    pub fn findings(&self) -> Result<Vec<Finding>> {
        self.state.findings()
    }
    /// The content certificates each catalog shipped in its last trusted fetch.
    pub fn shipped_certificates(&self) -> Result<Vec<ShippedCertificates>> {
        self.state.shipped_certificates()
    }
    /// Takes the exclusive writer lock; released when the returned guard is dropped.
    pub fn lock(&self, request: &LockRequest) -> Result<Box<dyn HeldLock>> {
        self.state.lock(request)
    }
}

/// Applies `ops` inside one write transaction of the shared database.
fn apply_in(
    shared: &dyn server::InStateDatabase,
    tx: &rusqlite::Transaction,
    ops: Vec<Op>,
) -> Result<Applied> {
    let mut applied = Vec::with_capacity(ops.len());
    for op in ops {
        applied.push(match op {
            Op::Change(change) => shared.apply_in(tx, change)?,
            Op::Record(record) => state::write::apply(tx, record)?,
            Op::Atomic { ops, done } => {
                let a = apply_in(shared, tx, ops)?;
                let at = chrono::Utc::now();
                // Read together: a batch of 500 publishes read one by one was 2,000
                // statements.
                let objects: Vec<&Address> = done.iter().map(|d| d.object()).collect();
                let left = shared.fingerprints_in(tx, &objects)?;
                for (d, after) in done.iter().zip(left) {
                    state::write::insert_journal(tx, &d.entry(after, at))?;
                }
                a
            }
        });
    }
    Ok(Applied::sum(applied))
}
