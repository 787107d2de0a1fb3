//! The embedded update server: its objects (catalog subscriptions, certificates, categories,
//! updates with their revisions and raw XML, its settings) in tables of the state
//! directory's SQLite database ([`Db`]), and content in `WsusContent/`.
//!
//! It shares the database with supctl's bookkeeping ([`super::state`]) so that a change and
//! the journal entry recording it commit in one transaction ([`InStateDatabase`]); its own
//! code never touches the bookkeeping tables.

mod list;
mod read;
mod snapshot_cache;
mod write;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use rusqlite::{Connection, Transaction};

use crate::catalog::model::Category;
use crate::ids::UpdateId;

use super::actual::{ActualState, StoredUpdate};
use super::content::{ContentStore, GcReport};
use super::db::{Db, OpenOptions};
use super::error::Result;
use super::identity::ServerIdentity;
use super::local_categories::LocalCategories;
use super::location::StoreLocation;
use super::names::{Address, CatalogKey, Fingerprint};
use super::op::{Applied, Capabilities, Change, SigningInstallation};
use super::query::{UpdateFilter, UpdateRow};
use super::server::{InStateDatabase, UpdateServer};
use crate::signing::KeyDir;

pub use super::db::Check;
pub use list::{StoreStats, TableCounts};

/// The embedded server over one state directory's database.
#[derive(Debug, Clone)]
pub struct EmbeddedServer {
    db: Arc<Db>,
    content: ContentStore,
    /// Whether a publication past WSUS's category limit is refused: yes when this is the
    /// update server, no when it is a WSUS's site database ([`Self::as_site_database`]).
    category_limit: bool,
    /// The server's local categories as of a snapshot token, for that check. Reading them
    /// scans every update; once per batch of a first apply of 100,000 updates that was 7% of
    /// its CPU, and grew with the store. The token changes with every write of the tables
    /// (schema 13), so the copy stands only while the database is as this server's own last
    /// publication left it: a write by anyone else, or a rolled-back one (whose token is
    /// gone with it), makes the next check read them again.
    categories: Arc<Mutex<Option<(i64, LocalCategories)>>>,
}

impl EmbeddedServer {
    /// Opens the database in `loc` (see [`Db::open`]) and the server over it.
    pub fn open(loc: &StoreLocation, opts: OpenOptions) -> Result<Self> {
        Ok(Self::on(Arc::new(Db::open(loc, opts)?)))
    }

    /// The server over an already open database (shared with the state).
    pub fn on(db: Arc<Db>) -> Self {
        let content = ContentStore::new(db.location());
        Self {
            db,
            content,
            category_limit: true,
            categories: Arc::default(),
        }
    }

    /// This database as a WSUS's site database: it records what WSUS already accepted, so
    /// it must not refuse a publication over the category limit (the plan checked the
    /// limit against the categories WSUS itself lists, which the mirror may not all hold).
    pub fn as_site_database(mut self) -> Self {
        self.category_limit = false;
        self
    }

    /// Refuses a publication past [`crate::store::MAX_LOCAL_CATEGORIES`], so an apply that
    /// bypasses the plan (a stale saved plan) cannot pass it on this server either.
    /// Returns the categories the server will have once the publication is written, for
    /// [`Self::remember_categories`].
    fn check_category_limit(
        &self,
        c: &Connection,
        change: &Change,
    ) -> Result<Option<LocalCategories>> {
        let Change::PublishUpdates {
            catalog, updates, ..
        } = change
        else {
            return Ok(None);
        };
        if !self.category_limit {
            return Ok(None);
        }
        let token = read::snapshot_token(c)?;
        let known = self
            .categories
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        let mut existing = match known {
            Some((at, categories)) if at == token => categories,
            _ => read::local_categories(c)?,
        };
        super::local_categories::check_publication(&existing, catalog, updates)?;
        for newcomer in existing.newcomers(updates.iter()) {
            existing.insert(newcomer);
        }
        Ok(Some(existing))
    }

    /// Keeps `after` for the token the publication just written left (in its transaction).
    fn remember_categories(&self, c: &Connection, after: Option<LocalCategories>) -> Result<()> {
        if let Some(after) = after {
            let token = read::snapshot_token(c)?;
            *self.categories.lock().unwrap_or_else(|e| e.into_inner()) = Some((token, after));
        }
        Ok(())
    }

    pub fn db(&self) -> &Arc<Db> {
        &self.db
    }
    pub fn location(&self) -> &StoreLocation {
        self.db.location()
    }
    pub fn content(&self) -> &ContentStore {
        &self.content
    }
    pub fn schema_version(&self) -> i64 {
        self.db.schema_version()
    }

    /// `PRAGMA integrity_check` (or `quick_check`): the problems found, empty when sound.
    pub fn integrity_check(&self, full: bool) -> Result<Vec<String>> {
        self.db.integrity_check(full)
    }

    /// Catalogs, certificates and settings without updates and categories: what
    /// `certs list` needs, without paying for 100,000 updates.
    pub fn snapshot_settings(&self) -> Result<ActualState> {
        self.db.read(|tx| read::settings(tx))
    }

    /// Every catalog's category tree, without the updates: what `updates list` checks a
    /// `--category` against.
    pub fn categories(&self) -> Result<BTreeMap<CatalogKey, Vec<Category>>> {
        read::categories(&self.db.conn(), None)
    }

    /// One stored update (current revision), without reading the others.
    pub fn update(&self, id: &UpdateId) -> Result<Option<StoredUpdate>> {
        Ok(read::updates(&self.db.conn(), Some(id))?
            .remove(id)
            .map(|u| *u))
    }

    /// The description of update `id`, for its page (snapshots leave it out).
    pub fn description(&self, id: &UpdateId) -> Result<Option<String>> {
        read::description(&self.db.conn(), id)
    }

    /// The filtered "All Software Updates" view, answered with indexed SQL.
    pub fn list_updates(&self, filter: &UpdateFilter) -> Result<Vec<UpdateRow>> {
        list::list_updates(&self.db.conn(), filter)
    }

    /// Counts and sizes for `store show`.
    pub fn stats(&self) -> Result<StoreStats> {
        list::stats(&self.db.conn(), self.location(), self.schema_version())
    }

    /// Finds (and unless `dry_run`, removes) orphaned and leftover content. The caller holds
    /// the state lock.
    pub fn gc(&self, dry_run: bool) -> Result<GcReport> {
        let known = list::content_index(&self.db.conn())?;
        let mut report = self.content.scan(&known)?;
        if !dry_run {
            self.content.remove(&mut report)?;
        }
        Ok(report)
    }
}

impl UpdateServer for EmbeddedServer {
    fn name(&self) -> &'static str {
        "local"
    }
    fn describe(&self) -> String {
        format!("embedded store in {}", self.location().dir().display())
    }
    fn identity(&self) -> Result<ServerIdentity> {
        let id: String = self.db.conn().query_row(
            "SELECT id FROM store_identity WHERE singleton = 1",
            [],
            |r| r.get(0),
        )?;
        Ok(ServerIdentity {
            backend: self.name().to_string(),
            id,
            location: self.location().dir().display().to_string(),
        })
    }
    fn capabilities(&self) -> Capabilities {
        Capabilities::ALL
    }
    fn snapshot(&self) -> Result<ActualState> {
        // One read transaction: the snapshot is consistent even while a writer commits.
        let cache = self.db.location().snapshot_cache_path();
        self.db.read_scan(|tx| read::snapshot(tx, &cache))
    }
    fn apply(&self, change: Change) -> Result<Applied> {
        self.keep_signing_key(&change)?;
        self.db.write(|tx| {
            let after = self.check_category_limit(tx, &change)?;
            let applied = write::apply(tx, &self.content, change)?;
            self.remember_categories(tx, after)?;
            Ok(applied)
        })
    }
    fn fingerprint(&self, address: &Address) -> Result<Option<Fingerprint>> {
        read::fingerprint(&self.db.conn(), address)
    }
    fn present(&self, address: &Address) -> Result<bool> {
        read::present(&self.db.conn(), address)
    }
    fn raw_xml(&self, id: &UpdateId, revision: Option<u32>) -> Result<Option<String>> {
        read::raw_xml(&self.db.conn(), id, revision)
    }
    fn staging_dir(&self) -> Result<PathBuf> {
        self.content.temp_dir()
    }
    fn in_state_database(&self) -> Option<&dyn InStateDatabase> {
        Some(self)
    }
    fn collect_garbage(&self) -> Result<()> {
        let report = self.gc(false)?;
        if !report.orphans.is_empty() {
            tracing::info!(
                files = report.orphans.len(),
                "removed content files no update uses"
            );
        }
        Ok(())
    }
}

impl EmbeddedServer {
    /// A signing certificate's key goes to `<state>/signing/` before the database names the
    /// certificate, so the database never names one whose key is missing; a key written for a
    /// transaction that then fails is a harmless leftover (the next apply writes it again).
    /// A replaced certificate's key is kept, owner-only, beside the new one.
    fn keep_signing_key(&self, change: &Change) -> Result<()> {
        if let Change::SetSigning {
            install: Some(SigningInstallation::Material(m)),
            ..
        } = change
        {
            KeyDir::new(self.location().dir()).install(m)?;
        }
        Ok(())
    }
}

impl InStateDatabase for EmbeddedServer {
    fn database(&self) -> &Arc<Db> {
        &self.db
    }
    fn apply_in(&self, tx: &Transaction, change: Change) -> Result<Applied> {
        self.keep_signing_key(&change)?;
        let after = self.check_category_limit(tx, &change)?;
        let applied = write::apply(tx, &self.content, change)?;
        self.remember_categories(tx, after)?;
        Ok(applied)
    }
    fn fingerprint_in(&self, c: &Connection, address: &Address) -> Result<Option<Fingerprint>> {
        read::fingerprint(c, address)
    }
    fn fingerprints_in(
        &self,
        c: &Connection,
        addresses: &[&Address],
    ) -> Result<Vec<Option<Fingerprint>>> {
        read::fingerprints(c, addresses)
    }
}
