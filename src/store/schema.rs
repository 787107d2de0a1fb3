//! The database schema and its migrations, keyed on `PRAGMA user_version`.
//!
//! Each migration runs in the same immediate transaction as the `user_version` bump, so a
//! crash leaves the database at the old or the new version, never between. A database with
//! a higher version than this build knows is refused rather than misread.

use rusqlite::{Connection, TransactionBehavior};

use crate::store::error::{Result, StoreError};

/// `PRAGMA application_id`: "SUPC". Tells a supctl store from any other SQLite file.
pub const APPLICATION_ID: i64 = 0x5355_5043;

/// Schema version 1: the first released layout. Kept verbatim so upgrade tests can build a
/// version-1 database exactly as an older supctl did.
pub const V1: &str = r#"
CREATE TABLE catalogs (
    key TEXT PRIMARY KEY NOT NULL,
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    publisher TEXT NOT NULL,
    source TEXT NOT NULL,
    description TEXT,
    support_url TEXT,
    support_contact TEXT,
    subscribed INTEGER NOT NULL,
    schedule TEXT,
    categories TEXT NOT NULL,
    staging TEXT NOT NULL,
    signers TEXT NOT NULL,
    content_certificates TEXT NOT NULL,
    format_version TEXT,
    cab_sha256 TEXT,
    etag TEXT,
    fetched_at TEXT
);
CREATE TABLE certificates (
    thumbprint TEXT NOT NULL,
    kind TEXT NOT NULL,
    state TEXT NOT NULL,
    subject TEXT,
    issuer TEXT,
    serial TEXT,
    sha1 TEXT,
    sha256 TEXT,
    not_before TEXT,
    not_after TEXT,
    der BLOB,
    PRIMARY KEY (thumbprint, kind)
);
CREATE TABLE categories (
    catalog TEXT NOT NULL REFERENCES catalogs(key) ON DELETE CASCADE,
    id TEXT NOT NULL,
    position INTEGER NOT NULL,
    display_name TEXT NOT NULL,
    parent TEXT,
    path TEXT NOT NULL,
    PRIMARY KEY (catalog, id)
);
CREATE TABLE category_members (
    catalog TEXT NOT NULL,
    category TEXT NOT NULL,
    update_id TEXT NOT NULL,
    PRIMARY KEY (catalog, category, update_id),
    FOREIGN KEY (catalog, category) REFERENCES categories(catalog, id) ON DELETE CASCADE
) WITHOUT ROWID;
CREATE TABLE updates (
    id TEXT PRIMARY KEY NOT NULL,
    catalog TEXT NOT NULL,
    revision INTEGER NOT NULL,
    content_hash TEXT NOT NULL,
    title TEXT NOT NULL,
    description TEXT NOT NULL,
    vendor TEXT NOT NULL,
    products TEXT NOT NULL,
    classification TEXT NOT NULL,
    severity TEXT,
    kb_article TEXT,
    update_type TEXT NOT NULL,
    created TEXT NOT NULL,
    expired INTEGER NOT NULL DEFAULT 0,
    declined INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX updates_catalog ON updates(catalog);
CREATE TABLE revisions (
    update_id TEXT NOT NULL REFERENCES updates(id) ON DELETE CASCADE,
    revision INTEGER NOT NULL,
    content_hash TEXT NOT NULL,
    raw_xml TEXT NOT NULL,
    PRIMARY KEY (update_id, revision)
);
CREATE TABLE update_files (
    update_id TEXT NOT NULL REFERENCES updates(id) ON DELETE CASCADE,
    sha1 TEXT NOT NULL,
    name TEXT NOT NULL,
    size INTEGER NOT NULL,
    sha256 TEXT,
    uri TEXT,
    PRIMARY KEY (update_id, sha1)
) WITHOUT ROWID;
CREATE INDEX update_files_sha1 ON update_files(sha1);
CREATE TABLE supersedence (
    update_id TEXT NOT NULL REFERENCES updates(id) ON DELETE CASCADE,
    supersedes TEXT NOT NULL,
    PRIMARY KEY (update_id, supersedes)
) WITHOUT ROWID;
CREATE INDEX supersedence_reverse ON supersedence(supersedes);
CREATE TABLE content (
    sha1 TEXT PRIMARY KEY NOT NULL,
    sha256 TEXT NOT NULL,
    size INTEGER NOT NULL,
    ext TEXT NOT NULL
);
CREATE TABLE sync_settings (
    singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
    schedule TEXT,
    products TEXT NOT NULL,
    classifications TEXT NOT NULL,
    languages TEXT NOT NULL
);
CREATE TABLE signing (
    singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
    mode TEXT NOT NULL,
    certificate TEXT
);
CREATE TABLE sync_runs (
    scope TEXT NOT NULL,
    started TEXT NOT NULL,
    ended TEXT,
    result TEXT NOT NULL,
    counts TEXT NOT NULL,
    message TEXT,
    PRIMARY KEY (scope, started)
);
CREATE TABLE status_messages (
    seq INTEGER PRIMARY KEY,
    at TEXT NOT NULL,
    number INTEGER NOT NULL,
    severity TEXT NOT NULL,
    text TEXT NOT NULL,
    address TEXT NOT NULL DEFAULT '',
    UNIQUE (at, number, address, text)
);
CREATE TABLE inventory (
    address TEXT PRIMARY KEY NOT NULL,
    origin TEXT NOT NULL
);
CREATE TABLE journal (
    seq INTEGER PRIMARY KEY,
    plan_id TEXT NOT NULL,
    address TEXT NOT NULL,
    outcome TEXT NOT NULL,
    message TEXT NOT NULL,
    at TEXT NOT NULL,
    UNIQUE (plan_id, address, outcome, at)
);
CREATE INDEX journal_plan ON journal(plan_id);
"#;

/// Version 2: indexes behind the `updates list` filters (vendor and classification are
/// compared case-insensitively) and a staging timestamp on content.
pub const V2: &str = r#"
CREATE INDEX updates_vendor ON updates(vendor COLLATE NOCASE);
CREATE INDEX updates_classification ON updates(classification COLLATE NOCASE);
ALTER TABLE content ADD COLUMN staged_at TEXT;
"#;

/// Version 3: a catalog remembers `prune`, because the decision to expire its updates is
/// taken when the catalog has already left the config.
pub const V3: &str = r#"
ALTER TABLE catalogs ADD COLUMN prune INTEGER NOT NULL DEFAULT 0;
"#;

/// Version 4: when the `watch` daemon next runs each schedule (a catalog's, the update
/// point's `sync`), so a restart runs a slot missed while it was down once, not every slot
/// and not none. `schedule` is the text the time was computed from: a changed schedule is
/// recomputed instead of honouring a stale time.
pub const V4: &str = r#"
CREATE TABLE next_runs (
    scope TEXT PRIMARY KEY NOT NULL,
    due TEXT NOT NULL,
    schedule TEXT NOT NULL
);
"#;

/// Version 5: the lock's fencing token. Each writer that takes the state lock increments
/// `generation` and every one of its write transactions checks it is still the one it took,
/// inside the transaction, so a holder that lost the lock (hung past its TTL and taken over,
/// or `force-unlock`ed) has its next write refused instead of racing the new holder.
pub const V5: &str = r#"
CREATE TABLE lock_fence (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    generation INTEGER NOT NULL
);
INSERT INTO lock_fence (id, generation) VALUES (1, 0);
"#;

/// Version 6: what passes observe beyond their runs, for `status`: findings per scope
/// (drift a monitor-only daemon left alone, a plan held back by `max_deletions`), and the
/// content certificates each catalog ships with their validity (a pending certificate is
/// in no other table, so its expiry was unknown).
pub const V6: &str = r#"
CREATE TABLE findings (
    scope TEXT NOT NULL,
    kind TEXT NOT NULL,
    since TEXT NOT NULL,
    seen TEXT NOT NULL,
    summary TEXT NOT NULL,
    PRIMARY KEY (scope, kind)
);
CREATE TABLE shipped_certificates (
    catalog TEXT NOT NULL,
    sha1 TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    subject TEXT NOT NULL,
    issuer TEXT NOT NULL,
    serial TEXT NOT NULL,
    not_before TEXT NOT NULL,
    not_after TEXT NOT NULL,
    PRIMARY KEY (catalog, sha1)
);
"#;

/// Version 7: the store's identity, made once with the store (or on the first open of an
/// older one), so a saved plan can name the server it was made for and `apply` can refuse
/// it anywhere else (two state directories look alike; their ids do not).
pub const V7: &str = r#"
CREATE TABLE store_identity (
    singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
    id TEXT NOT NULL,
    created TEXT NOT NULL
);
INSERT INTO store_identity (singleton, id, created)
VALUES (1, lower(hex(randomblob(16))), strftime('%Y-%m-%dT%H:%M:%SZ', 'now'));
"#;

/// Version 8: a typed journal. The role of an action (`stage` after `publish` on one
/// update) was a `#stage` suffix on the address, and the fingerprint a done action left was
/// text after `; left ` in its message; both are columns now, so nothing reads them back out
/// of strings. The table is rebuilt because its uniqueness now includes the role. An entry
/// written before the fingerprint was recorded keeps none (a resumed apply of such a plan
/// refuses a later action on that object rather than guess).
pub const V8: &str = r#"
CREATE TABLE journal_v8 (
    seq INTEGER PRIMARY KEY,
    plan_id TEXT NOT NULL,
    address TEXT NOT NULL,
    role TEXT NOT NULL,
    outcome TEXT NOT NULL,
    message TEXT NOT NULL,
    left_fingerprint TEXT,
    at TEXT NOT NULL,
    UNIQUE (plan_id, address, role, outcome, at)
);
INSERT INTO journal_v8 (seq, plan_id, address, role, outcome, message, left_fingerprint, at)
SELECT seq, plan_id,
       CASE WHEN instr(address, '#') > 0 THEN substr(address, 1, instr(address, '#') - 1)
            ELSE address END,
       CASE WHEN instr(address, '#') > 0 THEN substr(address, instr(address, '#') + 1)
            ELSE 'change' END,
       outcome,
       CASE WHEN instr(message, '; left ') > 0 THEN substr(message, 1, instr(message, '; left ') - 1)
            ELSE message END,
       CASE WHEN instr(message, '; left ') > 0
            THEN NULLIF(substr(message, instr(message, '; left ') + 7), 'absent') END,
       at
FROM journal;
DROP TABLE journal;
ALTER TABLE journal_v8 RENAME TO journal;
CREATE INDEX journal_plan ON journal(plan_id);
"#;

/// Version 9: the catalog revision in force is supctl's bookkeeping (what it fetched and
/// put in force), not the update server's: it moves out of the server's `catalogs` table
/// into its own, which every server kind shares. The old columns stay, unused, so a
/// database opened by an older build after a downgrade is still readable by it.
pub const V9: &str = r#"
CREATE TABLE catalog_revisions (
    catalog TEXT PRIMARY KEY NOT NULL,
    format_version TEXT NOT NULL,
    cab_sha256 TEXT NOT NULL,
    etag TEXT,
    at TEXT NOT NULL
);
INSERT INTO catalog_revisions (catalog, format_version, cab_sha256, etag, at)
SELECT key, format_version, cab_sha256, etag, fetched_at FROM catalogs
WHERE format_version IS NOT NULL AND cab_sha256 IS NOT NULL AND fetched_at IS NOT NULL;
"#;

/// Version 10: a catalog revision records the thumbprints of the certificates that signed
/// its CAB (a JSON array, as `catalogs.signers`), so a new signer is compared with the one of the last
/// successful sync. Revisions recorded before stay without (an empty list).
pub const V10: &str = r#"
ALTER TABLE catalog_revisions ADD COLUMN signers TEXT NOT NULL DEFAULT '[]';
"#;

/// Version 11: computer target groups and approvals (`[[approve]]`), recorded by the
/// embedded server as WSUS keeps them, so that plans and tests work offline. Group names
/// compare case-insensitively, as WSUS's do.
pub const V11: &str = r#"
CREATE TABLE target_groups (
    name TEXT PRIMARY KEY NOT NULL COLLATE NOCASE,
    id TEXT NOT NULL UNIQUE
);
CREATE TABLE approvals (
    update_id TEXT NOT NULL REFERENCES updates(id),
    group_name TEXT NOT NULL COLLATE NOCASE REFERENCES target_groups(name),
    action TEXT NOT NULL,
    deadline TEXT,
    approved_at TEXT NOT NULL,
    PRIMARY KEY (update_id, group_name)
);
"#;

/// Version 12: package XML is stored deflated (`raw_deflate`, level 6) instead of as text in
/// `raw_xml`. Builds of schema 14 on read it and write `raw_zstd` instead (V14).
pub const V12: &str = r#"
ALTER TABLE revisions ADD COLUMN raw_deflate BLOB;
"#;

/// Version 13: a token that changes with every write to what a snapshot of the updates
/// reads (`embedded::snapshot_cache` is valid for one token only). Triggers, not the code
/// that writes, so no writer can forget it: another supctl version, a repair made with the
/// `sqlite3` shell. Random, not a counter, so two copies of a store that went their own
/// ways since a backup cannot arrive at the same token by the same number of writes.
pub const V13: &str = r#"
CREATE TABLE snapshot_token (token INTEGER NOT NULL);
INSERT INTO snapshot_token (token) VALUES (random());
CREATE TRIGGER snapshot_token_updates_i AFTER INSERT ON updates BEGIN UPDATE snapshot_token SET token = random(); END;
CREATE TRIGGER snapshot_token_updates_u AFTER UPDATE ON updates BEGIN UPDATE snapshot_token SET token = random(); END;
CREATE TRIGGER snapshot_token_updates_d AFTER DELETE ON updates BEGIN UPDATE snapshot_token SET token = random(); END;
CREATE TRIGGER snapshot_token_update_files_i AFTER INSERT ON update_files BEGIN UPDATE snapshot_token SET token = random(); END;
CREATE TRIGGER snapshot_token_update_files_u AFTER UPDATE ON update_files BEGIN UPDATE snapshot_token SET token = random(); END;
CREATE TRIGGER snapshot_token_update_files_d AFTER DELETE ON update_files BEGIN UPDATE snapshot_token SET token = random(); END;
CREATE TRIGGER snapshot_token_supersedence_i AFTER INSERT ON supersedence BEGIN UPDATE snapshot_token SET token = random(); END;
CREATE TRIGGER snapshot_token_supersedence_u AFTER UPDATE ON supersedence BEGIN UPDATE snapshot_token SET token = random(); END;
CREATE TRIGGER snapshot_token_supersedence_d AFTER DELETE ON supersedence BEGIN UPDATE snapshot_token SET token = random(); END;
CREATE TRIGGER snapshot_token_content_i AFTER INSERT ON content BEGIN UPDATE snapshot_token SET token = random(); END;
CREATE TRIGGER snapshot_token_content_u AFTER UPDATE ON content BEGIN UPDATE snapshot_token SET token = random(); END;
CREATE TRIGGER snapshot_token_content_d AFTER DELETE ON content BEGIN UPDATE snapshot_token SET token = random(); END;
CREATE TRIGGER snapshot_token_categories_i AFTER INSERT ON categories BEGIN UPDATE snapshot_token SET token = random(); END;
CREATE TRIGGER snapshot_token_categories_u AFTER UPDATE ON categories BEGIN UPDATE snapshot_token SET token = random(); END;
CREATE TRIGGER snapshot_token_categories_d AFTER DELETE ON categories BEGIN UPDATE snapshot_token SET token = random(); END;
CREATE TRIGGER snapshot_token_category_members_i AFTER INSERT ON category_members BEGIN UPDATE snapshot_token SET token = random(); END;
CREATE TRIGGER snapshot_token_category_members_u AFTER UPDATE ON category_members BEGIN UPDATE snapshot_token SET token = random(); END;
CREATE TRIGGER snapshot_token_category_members_d AFTER DELETE ON category_members BEGIN UPDATE snapshot_token SET token = random(); END;
"#;

/// Version 14: package XML is packed with zstd (`raw_zstd`, see `codec::pack_xml`), three
/// times faster to pack than deflate at nearly its size. Revisions a store of schema 12 or
/// 13 deflated keep their `raw_deflate` (still read); those still stored as text (a store
/// older than 12) are packed by the upgrade (`pack_revisions`), leaving `raw_xml` empty.
pub const V14: &str = r#"
ALTER TABLE revisions ADD COLUMN raw_zstd BLOB;
"#;

/// Migration `i` takes the database from version `i` to `i + 1`.
const MIGRATIONS: &[&str] = &[V1, V2, V3, V4, V5, V6, V7, V8, V9, V10, V11, V12, V13, V14];

/// What a migration does beyond its SQL, by the version it brings the database to. (Until
/// schema 14, the upgrade to 12 deflated the text; packing waits for 14 now, so that no
/// build writes deflate any more.)
fn after(version: i64, tx: &Connection) -> Result<()> {
    match version {
        14 => pack_revisions(tx),
        _ => Ok(()),
    }
}

/// Packs every revision's package XML that is still stored as text (in the migration's
/// transaction: a crash leaves the old schema, whole).
fn pack_revisions(tx: &Connection) -> Result<()> {
    let rows: Vec<(i64, String)> = tx
        .prepare(
            "SELECT rowid, raw_xml FROM revisions WHERE raw_deflate IS NULL AND raw_zstd IS NULL",
        )?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    let mut update =
        tx.prepare("UPDATE revisions SET raw_zstd = ?1, raw_xml = '' WHERE rowid = ?2")?;
    for (rowid, xml) in rows {
        update.execute(rusqlite::params![super::codec::pack_xml(&xml), rowid])?;
    }
    Ok(())
}

/// The schema version this build writes.
pub const LATEST: i64 = MIGRATIONS.len() as i64;

/// Brings the database to [`LATEST`], refusing a newer or foreign one. Writes nothing when
/// the database is current, so opening a damaged store never modifies it.
pub fn migrate(conn: &mut Connection, path: &std::path::Path) -> Result<i64> {
    let current = |c: &Connection| -> Result<(i64, i64)> {
        let app: i64 = c.query_row("PRAGMA application_id", [], |r| r.get(0))?;
        let version: i64 = c.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        validate(path, app, version)?;
        Ok((app, version))
    };
    if current(conn)? == (APPLICATION_ID, LATEST) {
        return Ok(LATEST);
    }
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let (_, version) = current(&tx)?; // another process may have migrated meanwhile
    if version == 0 {
        let tables: i64 = tx.query_row("SELECT count(*) FROM sqlite_schema", [], |r| r.get(0))?;
        if tables > 0 {
            return Err(StoreError::NotAStore {
                path: path.to_path_buf(),
                reason: "it holds tables but no supctl schema version".into(),
            });
        }
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
        tx.execute_batch(sql)?;
        after(i as i64 + 1, &tx)?;
        tx.pragma_update(None, "user_version", i as i64 + 1)?;
    }
    tx.pragma_update(None, "application_id", APPLICATION_ID)?;
    tx.commit()?;
    Ok(LATEST)
}

fn validate(path: &std::path::Path, app: i64, version: i64) -> Result<()> {
    if app != APPLICATION_ID && !(app == 0 && version == 0) {
        return Err(StoreError::NotAStore {
            path: path.to_path_buf(),
            reason: format!("its application_id is {app:#x}, not supctl's"),
        });
    }
    if version > LATEST {
        return Err(StoreError::TooNew {
            path: path.to_path_buf(),
            found: version,
            supported: LATEST,
        });
    }
    Ok(())
}
