//! The store: what the update point holds (catalog subscriptions, certificates, categories,
//! updates with their revisions and content, settings, runs, journal, inventory), behind the
//! [`Backend`] trait the planner and the apply engine use.
//!
//! Implementations: [`local::LocalBackend`] (embedded SQLite + `WsusContent/`, the default),
//! [`memory::MemoryBackend`] (same semantics, in memory, for planner tests) and
//! [`wsus::WsusBackend`] (a remote WSUS over its admin API, with local bookkeeping).

pub mod bench;
pub mod content;
pub mod error;
pub mod identity;
pub mod leftovers;
pub mod local;
pub mod location;
pub mod lock;
pub mod lock_owner;
pub mod memory;
pub mod model;
pub mod names;
pub mod observed;
pub mod op;
pub mod query;
pub(crate) mod shared;
pub mod state;
pub mod wsus;

use std::path::PathBuf;

use crate::ids::UpdateId;

pub use error::{Result, StoreError};
pub use identity::ServerIdentity;
pub use location::StoreLocation;
pub use lock::{HeldLock, LockRequest};
pub use lock_owner::LockOwner;
pub use model::*;
pub use names::{Address, CatalogKey, Fingerprint, LockId, PlanId, Target};
pub use observed::{Finding, FindingKind, ShippedCertificates};
pub use op::{Applied, Capabilities, Counts, Op, StageRequest};
pub use state::{ActualState, StoredFile, StoredUpdate};

/// An update server's state, read and changed through idempotent primitive operations.
///
/// Synchronous on purpose: the local backend is SQLite (blocking by nature), the apply engine
/// runs operations one at a time per object, and an async caller wraps calls in
/// `spawn_blocking`. A remote backend may block on its own runtime internally. Object safe,
/// so the CLI picks the backend at run time (`Box<dyn Backend>`).
pub trait Backend: Send + Sync {
    /// A short name for messages (`local`, `memory`, `wsus`).
    fn name(&self) -> &'static str;
    fn capabilities(&self) -> Capabilities;
    /// Everything the planner compares, without raw XML.
    fn snapshot(&self) -> Result<ActualState>;
    /// Applies one operation atomically; repeating it reports `changed: false`.
    fn apply(&self, op: Op) -> Result<Applied>;
    /// A hash of the object an address names, `None` when it does not exist; apply compares
    /// it with the plan's before-fingerprint (compare-and-swap per object).
    fn fingerprint(&self, address: &Address) -> Result<Option<Fingerprint>>;
    /// The raw SDP XML of an update revision (the current one when `revision` is `None`).
    fn raw_xml(&self, id: &UpdateId, revision: Option<u32>) -> Result<Option<String>>;
    /// The journal of the most recent plan, for `apply --resume`.
    fn last_journal(&self) -> Result<Option<Journal>>;
    /// The journal of one plan.
    fn journal(&self, plan: &PlanId) -> Result<Option<Journal>>;
    /// The newest status messages first.
    fn status_messages(&self, limit: usize) -> Result<Vec<RecordedMessage>>;
    /// The newest sync runs first.
    fn sync_runs(&self, limit: usize) -> Result<Vec<SyncRun>>;
    /// The daemon's persisted next-run times, by scope.
    fn next_runs(&self) -> Result<Vec<NextRun>>;
    /// What passes found and has not been cleared since (drift left alone, a plan held
    /// back), by scope and kind.
    fn findings(&self) -> Result<Vec<Finding>>;
    /// The content certificates each catalog shipped in its last trusted fetch.
    fn shipped_certificates(&self) -> Result<Vec<ShippedCertificates>>;
    /// Where downloads must be written before `Op::StageContent` moves them into the store.
    fn staging_dir(&self) -> Result<PathBuf>;
    /// Takes the exclusive writer lock; released when the returned guard is dropped.
    fn lock(&self, request: &LockRequest) -> Result<Box<dyn HeldLock>>;
    /// Which server this is, recorded in saved plans: `apply PLANFILE` refuses a plan made
    /// for another server.
    fn identity(&self) -> Result<ServerIdentity>;
    /// One line saying which server this is, for `status`.
    fn describe(&self) -> String {
        format!("{} backend", self.name())
    }
    /// Starts the update point's own synchronization with its upstream (Microsoft Update)
    /// and returns without waiting; only servers with an upstream have one
    /// (`Capabilities::upstream_sync`).
    fn start_synchronization(&self) -> Result<()> {
        Err(StoreError::Unsupported {
            what: "synchronizing with Microsoft Update".into(),
            backend: self.name(),
            why:
                "this update point has no upstream server; `supctl sync` synchronizes its catalogs"
                    .into(),
        })
    }
    /// Imports one update from the Microsoft Update Catalog by its UpdateID; `false` when
    /// the server already has it.
    fn import_catalog_update(&self, _id: &UpdateId) -> Result<bool> {
        Err(StoreError::Unsupported {
            what: "importing updates from the Microsoft Update Catalog".into(),
            backend: self.name(),
            why: "the import is performed by a WSUS server (set `[server] backend = \"wsus\"`)"
                .into(),
        })
    }
}
