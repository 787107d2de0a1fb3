//! [`UpdateServer`]: what an update server holds and how supctl changes it, apart from
//! supctl's own bookkeeping ([`super::state`]).
//!
//! Implementations: [`super::embedded::EmbeddedServer`] (SQLite + `WsusContent/` in the state
//! directory, the default), [`super::memory::MemoryServer`] (the same semantics in memory,
//! for planner and apply tests) and [`super::wsus::WsusServer`] (a remote WSUS over its admin
//! API). The planner and the apply engine reach them through [`super::Store`], which adds the
//! bookkeeping.
//!
//! Synchronous on purpose: the embedded server is SQLite (blocking by nature), the apply
//! engine changes one object at a time, and an async caller wraps calls in `spawn_blocking`.
//! A remote server may block on its own runtime internally. Object safe, so the CLI picks the
//! server at run time.

use std::path::PathBuf;

use rusqlite::Connection;

use crate::ids::UpdateId;

use super::actual::ActualState;
use super::error::{Result, StoreError};
use super::identity::ServerIdentity;
use super::model::SyncRun;
use super::names::{Address, Fingerprint};
use super::op::{Applied, Capabilities, Change};

/// An update server's state, read and changed through idempotent [`Change`]s.
pub trait UpdateServer: Send + Sync {
    /// A short name for messages (`local`, `memory`, `wsus`).
    fn name(&self) -> &'static str;
    /// One line saying which server this is, for `status`.
    fn describe(&self) -> String;
    /// Which server this is, recorded in saved plans: `apply PLANFILE` refuses a plan made
    /// for another server.
    fn identity(&self) -> Result<ServerIdentity>;
    fn capabilities(&self) -> Capabilities;
    /// Everything the planner compares, without raw XML. The bookkeeping parts of
    /// [`ActualState`] (inventory, catalog revisions) are left empty: the store adds them.
    fn snapshot(&self) -> Result<ActualState>;
    /// Applies one change atomically; repeating it reports `changed: false`.
    fn apply(&self, change: Change) -> Result<Applied>;
    /// A hash of the object an address names, `None` when it does not exist; apply compares
    /// it with the plan's before-fingerprint (compare-and-swap per object).
    fn fingerprint(&self, address: &Address) -> Result<Option<Fingerprint>>;
    /// Whether the object an address names exists: what apply checks before creating one
    /// (a plan's create expects nothing there). The same answer as
    /// `fingerprint(address)?.is_some()`, which is the default; a server that can say it
    /// without reading the whole object overrides it (a first apply of 100,000 updates
    /// asks 100,000 times).
    fn present(&self, address: &Address) -> Result<bool> {
        Ok(self.fingerprint(address)?.is_some())
    }
    /// The raw SDP XML of an update revision (the current one when `revision` is `None`).
    fn raw_xml(&self, id: &UpdateId, revision: Option<u32>) -> Result<Option<String>>;
    /// Where downloads must be written before [`Change::StageContent`] moves them in.
    fn staging_dir(&self) -> Result<PathBuf>;
    /// The server's own synchronizations with its upstream, newest first (none without an
    /// upstream); `status` shows them beside supctl's runs.
    fn sync_history(&self, _limit: usize) -> Result<Vec<SyncRun>> {
        Ok(Vec::new())
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
    /// Per update, how the computers reporting to the server stand with it (WSUS's
    /// summaries); servers without computers have none to give.
    fn compliance(&self) -> Result<std::collections::BTreeMap<UpdateId, super::model::Compliance>> {
        Err(StoreError::Unsupported {
            what: "compliance counts".into(),
            backend: self.name(),
            why:
                "computers report to WSUS; this server has none (use `[server] backend = \"wsus\"`)"
                    .into(),
        })
    }
    /// Deletes what changes left behind outside the database (content files whose records
    /// [`Change::RemoveContent`] dropped); the apply engine calls it after such changes
    /// commit. Servers without such leftovers have nothing to do.
    fn collect_garbage(&self) -> Result<()> {
        Ok(())
    }
    /// A server whose objects live in the state database itself (the embedded server) can
    /// make a change inside the transaction that journals it; every other server returns
    /// `None` and is journaled right after each change.
    fn in_state_database(&self) -> Option<&dyn InStateDatabase> {
        None
    }
}

/// A server that keeps its objects in the state's SQLite database.
pub trait InStateDatabase {
    /// The database it lives in: the store shares a transaction with it only when that is
    /// the state's own.
    fn database(&self) -> &std::sync::Arc<super::db::Db>;
    /// Applies `change` inside the caller's write transaction.
    fn apply_in(&self, tx: &rusqlite::Transaction, change: Change) -> Result<Applied>;
    /// The fingerprint of `address` as `c` sees it (inside a write transaction: with that
    /// transaction's changes).
    fn fingerprint_in(&self, c: &Connection, address: &Address) -> Result<Option<Fingerprint>>;
    /// [`InStateDatabase::fingerprint_in`] of each of `addresses`, in order: what a batch of
    /// actions left, for its journal entries. A server that reads many objects at once
    /// faster than one by one overrides it.
    fn fingerprints_in(
        &self,
        c: &Connection,
        addresses: &[&Address],
    ) -> Result<Vec<Option<Fingerprint>>> {
        addresses
            .iter()
            .map(|a| self.fingerprint_in(c, a))
            .collect()
    }
}

/// A failure of one server implementation (a SOAP fault, an HTTP or NTLM error of a remote
/// WSUS), kept whole behind the trait so that the store's error type names no
/// implementation; the inner error names the operation and carries the server's answer.
#[derive(Debug, thiserror::Error)]
#[error("{source}")]
pub struct ServerError {
    /// The server kind ([`UpdateServer::name`]).
    pub server: &'static str,
    #[source]
    pub source: Box<dyn std::error::Error + Send + Sync + 'static>,
}

impl ServerError {
    pub fn new(
        server: &'static str,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        Self {
            server,
            source: Box::new(source),
        }
    }
}
