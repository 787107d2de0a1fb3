//! [`State`]: supctl's own bookkeeping, kept in the state directory's SQLite database for
//! every kind of update server: the apply journal, sync runs, status messages, the daemon's
//! next runs, the inventory of what supctl created, findings, the content certificates each
//! catalog ships, the catalog revision in force, and the writer lock.
//!
//! None of it is the update server's: WSUS has no place for it (ConfigMgr keeps it in its
//! site database), and the embedded server only shares the database file so that a change
//! and its journal entry commit together (see [`super::db`]). A server implementation never
//! writes here; the [`super::Store`] does, around the server's changes.

mod observed;
mod read;
pub(crate) mod write;

use std::collections::BTreeMap;
use std::sync::Arc;

use super::db::{Db, OpenOptions};
use super::error::Result;
use super::location::StoreLocation;
use super::lock::{FileLock, HeldLock, LockRequest};
use super::model::{CatalogRevision, Journal, NextRun, Origin, RecordedMessage, SyncRun};
use super::names::{Address, CatalogKey, PlanId};
use super::observed::{Finding, ShippedCertificates};
use super::op::{Applied, Record};

/// The bookkeeping of one state directory.
#[derive(Debug, Clone)]
pub struct State {
    db: Arc<Db>,
}

impl State {
    /// Opens (or, with `opts.create`, creates) the state database in `loc`.
    pub fn open(loc: &StoreLocation, opts: OpenOptions) -> Result<Self> {
        Ok(Self::on(Arc::new(Db::open(loc, opts)?)))
    }

    /// The bookkeeping of an already open database (shared with the embedded server).
    pub fn on(db: Arc<Db>) -> Self {
        Self { db }
    }

    pub fn db(&self) -> &Arc<Db> {
        &self.db
    }

    pub fn location(&self) -> &StoreLocation {
        self.db.location()
    }

    /// Writes one record in its own transaction; repeating it reports `changed: false`.
    pub fn apply(&self, record: Record) -> Result<Applied> {
        self.db.write(|tx| write::apply(tx, record))
    }

    /// The journal of the most recent plan, for `apply --resume`.
    pub fn last_journal(&self) -> Result<Option<Journal>> {
        read::journal(&self.db.conn(), None)
    }

    /// Whether the most recent plan's journal records that its apply ended.
    pub fn last_journal_ended(&self) -> Result<bool> {
        read::last_journal_ended(&self.db.conn())
    }

    /// The journal of one plan.
    pub fn journal(&self, plan: &PlanId) -> Result<Option<Journal>> {
        read::journal(&self.db.conn(), Some(plan))
    }

    /// The newest status messages first.
    pub fn status_messages(&self, limit: usize) -> Result<Vec<RecordedMessage>> {
        read::status_messages(&self.db.conn(), limit)
    }

    /// supctl's own sync runs, newest first.
    pub fn sync_runs(&self, limit: usize) -> Result<Vec<SyncRun>> {
        read::sync_runs(&self.db.conn(), limit)
    }

    /// The daemon's persisted next-run times, by scope.
    pub fn next_runs(&self) -> Result<Vec<NextRun>> {
        read::next_runs(&self.db.conn())
    }

    /// What passes found and has not been cleared since, by scope and kind.
    pub fn findings(&self) -> Result<Vec<Finding>> {
        observed::findings(&self.db.conn())
    }

    /// The content certificates each catalog shipped in its last trusted fetch.
    pub fn shipped_certificates(&self) -> Result<Vec<ShippedCertificates>> {
        observed::shipped(&self.db.conn(), None)
    }

    /// What supctl created (and so may delete), by address.
    pub fn inventory(&self) -> Result<BTreeMap<Address, Origin>> {
        read::inventory(&self.db.conn())
    }

    /// The catalog revision in force, per catalog.
    pub fn revisions(&self) -> Result<BTreeMap<CatalogKey, CatalogRevision>> {
        read::revisions(&self.db.conn(), None)
    }

    /// The fencing check alone, for changes made elsewhere first (a remote server).
    pub fn ensure_lock_current(&self) -> Result<()> {
        self.db.ensure_lock_current()
    }

    /// Takes the exclusive writer lock; released when the returned guard is dropped.
    pub fn lock(&self, request: &LockRequest) -> Result<Box<dyn HeldLock>> {
        let lock = FileLock::acquire(self.location(), request)?;
        // Taking the lock bumps the fencing token: from now on, writes of a previous holder
        // that still runs are refused.
        self.db.take_fence()?;
        let removed = if request.clean_leftovers {
            super::leftovers::remove(self.location())
        } else {
            Vec::new()
        };
        if !removed.is_empty() {
            tracing::info!(
                files = removed.len(),
                "removed temporary files left behind by a writer that was killed"
            );
        }
        Ok(Box::new(lock))
    }
}
