//! The embedded backend: SQLite (`store.db`: WAL, synchronous=FULL, foreign keys,
//! `user_version` migrations) for metadata, raw XML, runs, journal and inventory, and
//! `WsusContent/` for content, in one state directory.
//!
//! It never overwrites what it cannot read: a file that is not SQLite, a foreign or newer
//! database, or a corrupt one is reported and left as it is.

mod codec;
mod list;
mod observed;
mod read;
pub mod schema;
mod write;

use std::io::Read as _;
use std::path::PathBuf;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use rusqlite::{Connection, ErrorCode, TransactionBehavior};

use crate::ids::UpdateId;

use super::Backend;
use super::content::ContentStore;
use super::error::{Result, StoreError};
use super::location::StoreLocation;
use super::lock::{FileLock, HeldLock, LockRequest};
use super::model::{Journal, NextRun, RecordedMessage, SyncRun};
use super::names::{Address, Fingerprint, PlanId};
use super::op::{Applied, Capabilities, Op};
use super::state::ActualState;

pub use list::{StoreStats, TableCounts};

/// How much checking `open` does: listing commands skip it to stay fast, writers run the
/// quick check, `store show` the full `integrity_check`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Check {
    None,
    Quick,
    Full,
}

/// How to open a store.
#[derive(Debug, Clone, Copy)]
pub struct OpenOptions {
    /// Create the state directory and database when missing (write commands only).
    pub create: bool,
    pub check: Check,
}

impl OpenOptions {
    pub fn read() -> Self {
        Self {
            create: false,
            check: Check::None,
        }
    }
    pub fn write() -> Self {
        Self {
            create: true,
            check: Check::Quick,
        }
    }
}

/// The local store. `Send + Sync`: the connection is behind a mutex, one operation at a time.
#[derive(Debug)]
pub struct LocalBackend {
    loc: StoreLocation,
    conn: Mutex<Connection>,
    content: ContentStore,
    schema_version: i64,
    /// The lock generation this process took with [`Backend::lock`]; every write checks it
    /// (`None`: this handle took no lock, as in read-only commands and tests).
    fence: Mutex<Option<i64>>,
}

const SQLITE_MAGIC: &[u8; 16] = b"SQLite format 3\0";

impl LocalBackend {
    pub fn open(loc: &StoreLocation, opts: OpenOptions) -> Result<Self> {
        let db = loc.db_path();
        if loc.exists() {
            check_header(&db)?;
        } else if !opts.create {
            return Err(StoreError::NotFound(loc.dir().to_path_buf()));
        }
        std::fs::create_dir_all(loc.content_dir())
            .map_err(|e| StoreError::io(format!("creating {}", loc.content_dir().display()), e))?;
        let corrupt = |e: rusqlite::Error| classify(e, &db);
        let mut conn = Connection::open(&db).map_err(corrupt)?;
        conn.busy_timeout(Duration::from_secs(10))
            .map_err(corrupt)?;
        let mode: String = conn
            .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
            .map_err(corrupt)?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(StoreError::Malformed(format!(
                "{} refused WAL mode ({mode})",
                db.display()
            )));
        }
        // A 64 MiB page cache keeps index pages hot during large publishes; per connection,
        // it changes nothing on disk.
        conn.execute_batch(
            "PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;
             PRAGMA cache_size = -65536;",
        )
        .map_err(corrupt)?;
        let schema_version = schema::migrate(&mut conn, &db).map_err(|e| match e {
            StoreError::Sql(e) => classify(e, &db),
            other => other,
        })?;
        let me = Self {
            loc: loc.clone(),
            conn: Mutex::new(conn),
            content: ContentStore::new(loc),
            schema_version,
            fence: Mutex::new(None),
        };
        if opts.check != Check::None {
            let problems = me.integrity_check(opts.check == Check::Full)?;
            if !problems.is_empty() {
                return Err(StoreError::Corrupt {
                    path: db,
                    details: problems.join("; "),
                });
            }
        }
        Ok(me)
    }

    /// Refuses a write when this handle holds the lock under a generation that another
    /// process has since superseded (the fencing check of every write transaction).
    fn check_fence(&self, c: &Connection) -> Result<()> {
        let Some(held) = *self.fence.lock().unwrap_or_else(|e| e.into_inner()) else {
            return Ok(());
        };
        let current: i64 =
            c.query_row("SELECT generation FROM lock_fence WHERE id = 1", [], |r| {
                r.get(0)
            })?;
        if current != held {
            return Err(StoreError::Fenced {
                dir: self.loc.dir().to_path_buf(),
                held,
                current,
            });
        }
        Ok(())
    }

    /// The fencing check alone, for writes that go elsewhere first (a remote WSUS): a holder
    /// that lost the lock stops before it calls the server.
    pub fn ensure_lock_current(&self) -> Result<()> {
        self.check_fence(&self.conn())
    }

    pub fn location(&self) -> &StoreLocation {
        &self.loc
    }
    pub fn content(&self) -> &ContentStore {
        &self.content
    }
    pub fn schema_version(&self) -> i64 {
        self.schema_version
    }

    fn conn(&self) -> MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// `PRAGMA integrity_check` (or `quick_check`): the problems found, empty when sound.
    pub fn integrity_check(&self, full: bool) -> Result<Vec<String>> {
        let db = self.loc.db_path();
        let conn = self.conn();
        let sql = if full {
            "PRAGMA integrity_check"
        } else {
            "PRAGMA quick_check"
        };
        let mut st = conn.prepare(sql).map_err(|e| classify(e, &db))?;
        let rows: Vec<String> = st
            .query_map([], |r| r.get(0))
            .and_then(|rows| rows.collect())
            .map_err(|e| classify(e, &db))?;
        Ok(rows.into_iter().filter(|r| r != "ok").collect())
    }

    /// Catalogs, certificates, settings and inventory without updates and categories: what
    /// `certs list` needs, without paying for 100,000 updates.
    pub fn snapshot_settings(&self) -> Result<ActualState> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Deferred)?;
        read::settings(&tx)
    }

    /// Every catalog's category tree, without the updates: what `updates list` checks a
    /// `--category` against.
    pub fn categories(
        &self,
    ) -> Result<std::collections::BTreeMap<super::CatalogKey, Vec<crate::catalog::model::Category>>>
    {
        read::categories(&self.conn(), None)
    }

    /// One stored update (current revision), without reading the others.
    pub fn update(&self, id: &UpdateId) -> Result<Option<super::StoredUpdate>> {
        Ok(read::updates(&self.conn(), Some(id))?.remove(id))
    }

    /// The filtered "All Software Updates" view, answered with indexed SQL.
    pub fn list_updates(
        &self,
        filter: &super::query::UpdateFilter,
    ) -> Result<Vec<super::query::UpdateRow>> {
        list::list_updates(&self.conn(), filter)
    }

    /// Counts and sizes for `store show`.
    pub fn stats(&self) -> Result<StoreStats> {
        list::stats(&self.conn(), &self.loc, self.schema_version)
    }

    /// Finds (and unless `dry_run`, removes) orphaned and leftover content. The caller holds
    /// the state lock.
    pub fn gc(&self, dry_run: bool) -> Result<super::content::GcReport> {
        let known = list::content_index(&self.conn())?;
        let mut report = self.content.scan(&known)?;
        if !dry_run {
            self.content.remove(&mut report)?;
        }
        Ok(report)
    }
}

fn check_header(db: &std::path::Path) -> Result<()> {
    let mut head = Vec::with_capacity(16);
    std::fs::File::open(db)
        .and_then(|f| f.take(16).read_to_end(&mut head))
        .map_err(|e| StoreError::io(format!("reading {}", db.display()), e))?;
    if !head.is_empty() && head.as_slice() != SQLITE_MAGIC {
        return Err(StoreError::NotAStore {
            path: db.to_path_buf(),
            reason: "the file is not an SQLite database".into(),
        });
    }
    Ok(())
}

/// SQLite reports damage as CORRUPT or NOTADB; everything else stays a database error.
fn classify(e: rusqlite::Error, db: &std::path::Path) -> StoreError {
    match e.sqlite_error_code() {
        Some(ErrorCode::DatabaseCorrupt) | Some(ErrorCode::NotADatabase) => StoreError::Corrupt {
            path: db.to_path_buf(),
            details: e.to_string(),
        },
        _ => StoreError::Sql(e),
    }
}

impl Backend for LocalBackend {
    fn name(&self) -> &'static str {
        "local"
    }
    fn describe(&self) -> String {
        format!("embedded store in {}", self.loc.dir().display())
    }
    fn identity(&self) -> Result<super::ServerIdentity> {
        let id: String = self.conn().query_row(
            "SELECT id FROM store_identity WHERE singleton = 1",
            [],
            |r| r.get(0),
        )?;
        Ok(super::ServerIdentity {
            backend: self.name().to_string(),
            id,
            location: self.loc.dir().display().to_string(),
        })
    }
    fn capabilities(&self) -> Capabilities {
        Capabilities::ALL
    }
    fn snapshot(&self) -> Result<ActualState> {
        let mut conn = self.conn();
        // One read transaction: the snapshot is consistent even while a writer commits.
        let tx = conn.transaction_with_behavior(TransactionBehavior::Deferred)?;
        read::snapshot(&tx)
    }
    fn apply(&self, op: Op) -> Result<Applied> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        self.check_fence(&tx)?;
        let applied = write::apply(&tx, &self.content, op)?;
        tx.commit()?;
        Ok(applied)
    }
    fn fingerprint(&self, address: &Address) -> Result<Option<Fingerprint>> {
        read::fingerprint(&self.conn(), address)
    }
    fn raw_xml(&self, id: &UpdateId, revision: Option<u32>) -> Result<Option<String>> {
        read::raw_xml(&self.conn(), id, revision)
    }
    fn last_journal(&self) -> Result<Option<Journal>> {
        read::journal(&self.conn(), None)
    }
    fn journal(&self, plan: &PlanId) -> Result<Option<Journal>> {
        read::journal(&self.conn(), Some(plan))
    }
    fn status_messages(&self, limit: usize) -> Result<Vec<RecordedMessage>> {
        read::status_messages(&self.conn(), limit)
    }
    fn sync_runs(&self, limit: usize) -> Result<Vec<SyncRun>> {
        read::sync_runs(&self.conn(), limit)
    }
    fn next_runs(&self) -> Result<Vec<NextRun>> {
        read::next_runs(&self.conn())
    }
    fn findings(&self) -> Result<Vec<crate::store::Finding>> {
        observed::findings(&self.conn())
    }
    fn shipped_certificates(&self) -> Result<Vec<crate::store::ShippedCertificates>> {
        observed::shipped(&self.conn(), None)
    }
    fn staging_dir(&self) -> Result<PathBuf> {
        self.content.temp_dir()
    }
    fn lock(&self, request: &LockRequest) -> Result<Box<dyn HeldLock>> {
        let lock = FileLock::acquire(&self.loc, request)?;
        // Taking the lock bumps the fencing token: from now on, writes of a previous holder
        // that still runs are refused.
        let generation: i64 = {
            let mut conn = self.conn();
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let g = tx.query_row(
                "UPDATE lock_fence SET generation = generation + 1 WHERE id = 1 RETURNING generation",
                [],
                |r| r.get(0),
            )?;
            tx.commit()?;
            g
        };
        *self.fence.lock().unwrap_or_else(|e| e.into_inner()) = Some(generation);
        let removed = if request.clean_leftovers {
            super::leftovers::remove(&self.loc)
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
