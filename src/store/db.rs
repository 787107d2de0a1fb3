//! [`Db`]: the state directory's SQLite database (`store.db`: WAL checkpointed every
//! 128 MiB, synchronous=FULL, foreign keys, `user_version` migrations), shared by supctl's
//! bookkeeping ([`super::state`]) and, for the embedded server, by the server's own tables.
//!
//! One database for both on purpose: the embedded server commits a change and the journal
//! entry that records it in one transaction, so a crash never leaves one without the other.
//! Every write goes through `Db::write`, which checks the lock's fencing token first.
//!
//! It never overwrites what it cannot read: a file that is not SQLite, a foreign or newer
//! database, or a corrupt one is reported and left as it is.

use std::io::Read as _;
use std::path::Path;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use rusqlite::{Connection, ErrorCode, Transaction, TransactionBehavior};

use super::error::{Result, StoreError};
use super::location::StoreLocation;

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

/// The page cache of every connection, in KiB (as `PRAGMA cache_size` takes it, negative):
/// 32 MiB keeps index pages hot during large publishes; per connection, it changes nothing
/// on disk. Measured on the first apply of 10 x 10,000 updates: 64 MiB saved 2-3 s of 50
/// and cost 40 MiB of peak memory.
const CACHE_KIB: i32 = -32768;

/// Pages the write-ahead log grows to before a commit copies them into the database
/// (SQLite's default is 1,000). A batch of 500 publishes writes about that many pages, so
/// the default copied, and synced, the database after nearly every batch, rewriting the
/// same index pages each time: a fifth of the writing thread in a first apply of 10 x
/// 10,000 updates. At 32,768 (128 MiB of 4 KiB pages) that apply took 23.8-25.3 s instead
/// of 30.8-31.8 s (16,000: 26-27 s; 64,000: no better than the noise). The log is emptied
/// when the last connection closes, as before.
const WAL_CHECKPOINT_PAGES: u32 = 32_768;

/// What the log file is cut back to once a checkpoint has emptied it: no smaller, since
/// cutting it to 4 MiB and growing it again each time cost that apply 5 s (29.7-30.3 s).
/// [`Db::checkpoint`] empties it when an apply ends.
const WAL_KEEP_BYTES: u64 = 128 << 20;

/// The page cache while a whole table is scanned once ([`Db::read_scan`]).
const SCAN_CACHE_KIB: i32 = -2048;

/// The open database. `Send + Sync`: the connection is behind a mutex, one operation at a
/// time.
#[derive(Debug)]
pub struct Db {
    loc: StoreLocation,
    conn: Mutex<Connection>,
    schema_version: i64,
    /// The lock generation this process took ([`Db::take_fence`]); every write checks it
    /// (`None`: this handle took no lock, as in read-only commands and tests).
    fence: Mutex<Option<i64>>,
}

const SQLITE_MAGIC: &[u8; 16] = b"SQLite format 3\0";

impl Db {
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
        conn.execute_batch(&format!(
            "PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;
             PRAGMA cache_size = {CACHE_KIB};
             PRAGMA wal_autocheckpoint = {WAL_CHECKPOINT_PAGES};
             PRAGMA journal_size_limit = {WAL_KEEP_BYTES};"
        ))
        .map_err(corrupt)?;
        let schema_version = super::schema::migrate(&mut conn, &db).map_err(|e| match e {
            StoreError::Sql(e) => classify(e, &db),
            other => other,
        })?;
        let me = Self {
            loc: loc.clone(),
            conn: Mutex::new(conn),
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

    pub fn location(&self) -> &StoreLocation {
        &self.loc
    }

    pub fn schema_version(&self) -> i64 {
        self.schema_version
    }

    /// The connection, for reads (a poisoned mutex still holds a usable connection: every
    /// write is a transaction that rolled back if its holder panicked).
    pub(crate) fn conn(&self) -> MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Runs `f` in one deferred read transaction: what it reads is consistent even while a
    /// writer commits.
    pub(crate) fn read<T>(&self, f: impl FnOnce(&Transaction) -> Result<T>) -> Result<T> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Deferred)?;
        f(&tx)
    }

    /// [`read`](Self::read) for `f` that reads whole tables once (the snapshot): with a
    /// small page cache for its duration. Such a scan reads each page once, so the cache
    /// only fills up: 32 MiB of a no-op plan's peak, about a tenth of it. SQLite lets
    /// go of the pages over the smaller size when it is set.
    pub(crate) fn read_scan<T>(&self, f: impl FnOnce(&Transaction) -> Result<T>) -> Result<T> {
        let mut conn = self.conn();
        conn.execute_batch(&format!("PRAGMA cache_size = {SCAN_CACHE_KIB}"))?;
        let out = conn
            .transaction_with_behavior(TransactionBehavior::Deferred)
            .map_err(Into::into)
            .and_then(|tx| f(&tx));
        conn.execute_batch(&format!("PRAGMA cache_size = {CACHE_KIB}"))?;
        out
    }

    /// Runs `f` in one immediate write transaction, after the fencing check, and commits
    /// when it succeeds.
    /// Copies the write-ahead log into the database and empties the log file. Apply calls
    /// it when it ends: a daemon's connection stays open for days, and would otherwise keep
    /// a log of up to 128 MiB (`WAL_CHECKPOINT_PAGES`) between runs (closing the last
    /// connection does the same for the commands). A reader that holds an older snapshot
    /// is waited for as any writer waits (the busy timeout); if it is still there the rest
    /// is copied at a later checkpoint, which SQLite reports as a result, not an error.
    pub fn checkpoint(&self) -> Result<()> {
        self.conn()
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
        Ok(())
    }

    pub(crate) fn write<T>(&self, f: impl FnOnce(&Transaction) -> Result<T>) -> Result<T> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        self.check_fence(&tx)?;
        let out = f(&tx)?;
        tx.commit()?;
        Ok(out)
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

    /// Bumps the fencing token after the file lock was taken: from now on, writes of a
    /// previous holder that still runs are refused, and this handle's writes carry the new
    /// generation.
    pub(crate) fn take_fence(&self) -> Result<()> {
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
        Ok(())
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
}

fn check_header(db: &Path) -> Result<()> {
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
fn classify(e: rusqlite::Error, db: &Path) -> StoreError {
    match e.sqlite_error_code() {
        Some(ErrorCode::DatabaseCorrupt) | Some(ErrorCode::NotADatabase) => StoreError::Corrupt {
            path: db.to_path_buf(),
            details: e.to_string(),
        },
        _ => StoreError::Sql(e),
    }
}
