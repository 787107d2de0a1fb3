//! Opening stores: a fresh directory, an upgrade from schema v1, and the files the store must
//! refuse (newer schema, not SQLite, corrupt) without touching them.

use std::path::Path;

use assert_cmd::Command;
use predicates::prelude::*;
use rusqlite::Connection;
use supctl::store::Store;
use supctl::store::db::{Check, OpenOptions};
use supctl::store::schema::{APPLICATION_ID, LATEST, V1, V2, V3, V4, V5, V6, V7};
use supctl::store::{
    Address, Fingerprint, JournalKey, JournalRole, Outcome, PlanId, StoreError, StoreLocation,
};

fn supctl() -> Command {
    Command::cargo_bin("supctl").unwrap()
}

fn pragma(db: &Path, name: &str) -> i64 {
    Connection::open(db)
        .unwrap()
        .query_row(&format!("PRAGMA {name}"), [], |r| r.get(0))
        .unwrap()
}

#[test]
fn a_fresh_directory_gets_the_latest_schema() {
    let d = tempfile::tempdir().unwrap();
    let loc = StoreLocation::new(d.path().join("nested/.supctl"));
    let b = Store::embedded(&loc, OpenOptions::write()).unwrap();
    assert_eq!(b.state().db().schema_version(), LATEST);
    assert!(b.snapshot().unwrap().updates.is_empty());
    drop(b);
    assert_eq!(pragma(&loc.db_path(), "user_version"), LATEST);
    assert_eq!(pragma(&loc.db_path(), "application_id"), APPLICATION_ID);
    assert_eq!(
        Connection::open(loc.db_path())
            .unwrap()
            .query_row("PRAGMA journal_mode", [], |r| r.get::<_, String>(0))
            .unwrap(),
        "wal"
    );
    // Reopening is a no-op.
    assert_eq!(
        Store::embedded(&loc, OpenOptions::write())
            .unwrap()
            .state()
            .db()
            .schema_version(),
        LATEST
    );
}

#[test]
fn read_commands_do_not_create_a_store() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path().join("missing");
    supctl()
        .args(["updates", "list", "--state-dir"])
        .arg(&dir)
        .assert()
        .code(1)
        .stderr(predicate::str::contains("no store at"));
    assert!(!dir.exists());
}

/// The previous schema (v2) gains `catalogs.prune`, false for catalogs configured before it
/// existed, so their removal keeps unsubscribing rather than expiring.
#[test]
fn a_v2_store_is_upgraded_and_old_catalogs_do_not_prune() {
    let d = tempfile::tempdir().unwrap();
    let loc = StoreLocation::new(d.path());
    {
        let c = Connection::open(loc.db_path()).unwrap();
        c.execute_batch(V1).unwrap();
        c.execute_batch(V2).unwrap();
        c.execute_batch(&format!(
            "PRAGMA user_version = 2; PRAGMA application_id = {APPLICATION_ID};"
        ))
        .unwrap();
        c.execute_batch(
            r#"INSERT INTO catalogs (key, kind, name, publisher, source, subscribed, categories, staging, signers, content_certificates)
               VALUES ('old', 'custom', 'Old catalog', 'Contoso', 'old.cab', 1, '{"mode":"all"}', '{"mode":"none"}', '[]', '[]');"#,
        )
        .unwrap();
    }
    let b = Store::embedded(&loc, OpenOptions::write()).unwrap();
    assert_eq!(b.state().db().schema_version(), LATEST);
    let snap = b.snapshot().unwrap();
    let old = snap.catalogs.values().next().unwrap();
    assert_eq!(old.settings.name, "Old catalog");
    assert!(!old.settings.prune);
    drop(b);
    assert_eq!(pragma(&loc.db_path(), "user_version"), LATEST);
}

/// A v7 journal kept an action's role as a `#stage` suffix on its address and the
/// fingerprint a done action left as text after `; left ` in its message; v8 moves both into
/// columns, so an apply interrupted before the upgrade still resumes where it stopped.
#[test]
fn a_v7_journal_is_typed_on_upgrade() {
    let d = tempfile::tempdir().unwrap();
    let loc = StoreLocation::new(d.path());
    let fp = "ab".repeat(32);
    let update = "catalog.contoso.update[c9c7dfac-d9bc-4404-8a30-38d222bf01a7]";
    {
        let c = Connection::open(loc.db_path()).unwrap();
        for v in [V1, V2, V3, V4, V5, V6, V7] {
            c.execute_batch(v).unwrap();
        }
        c.execute_batch(&format!(
            "PRAGMA user_version = 7; PRAGMA application_id = {APPLICATION_ID};"
        ))
        .unwrap();
        c.execute_batch(&format!(
            r#"INSERT INTO journal (plan_id, address, outcome, message, at) VALUES
               ('0123456789abcdef', '{update}', 'done', 'publish; left {fp}', '2026-12-01T10:00:00Z'),
               ('0123456789abcdef', '{update}#stage', 'failed', 'HTTP 404 from the vendor', '2026-12-01T10:00:01Z'),
               ('0123456789abcdef', 'catalog.old', 'done', 'unsubscribe; left absent', '2026-12-01T10:00:02Z'),
               ('0123456789abcdef', 'catalog.older', 'done', 'publish', '2026-12-01T10:00:03Z');"#
        ))
        .unwrap();
    }
    let b = Store::embedded(&loc, OpenOptions::write()).unwrap();
    let j = b.last_journal().unwrap().unwrap();
    assert_eq!(j.plan, PlanId::parse("0123456789abcdef").unwrap());
    let e: Vec<_> = j
        .entries
        .iter()
        .map(|e| {
            (
                e.address.as_str(),
                e.role,
                e.message.as_str(),
                e.left.clone(),
            )
        })
        .collect();
    assert_eq!(
        e,
        vec![
            (
                update,
                JournalRole::Change,
                "publish",
                Some(Fingerprint::parse(&fp).unwrap())
            ),
            (update, JournalRole::Stage, "HTTP 404 from the vendor", None),
            ("catalog.old", JournalRole::Change, "unsubscribe", None),
            ("catalog.older", JournalRole::Change, "publish", None),
        ]
    );
    let update = Address::parse(update).unwrap();
    assert_eq!(
        j.latest(&JournalKey::new(update.clone(), JournalRole::Stage)),
        Some(Outcome::Failed)
    );
    assert_eq!(
        j.latest(&JournalKey::new(update, JournalRole::Change)),
        Some(Outcome::Done)
    );
}

/// Schema 9 moves the catalog revision in force out of the server's `catalogs` table into
/// the state's own: a catalog keeps the revision an older build recorded.
#[test]
fn a_v8_catalog_revision_moves_to_the_state_on_upgrade() {
    let d = tempfile::tempdir().unwrap();
    let loc = StoreLocation::new(d.path());
    let digest = "AB".repeat(32);
    {
        // Two catalogs as this build stores them, then back to schema 8, where the
        // revision lived in the catalogs table.
        let b = Store::embedded(&loc, OpenOptions::write()).unwrap();
        for key in ["contoso", "fabrikam"] {
            let mut cat = supctl_test_kit::bench::catalog();
            cat.key = supctl::store::CatalogKey::parse(key).unwrap();
            b.apply(supctl::store::Change::UpsertCatalog(cat)).unwrap();
        }
    }
    let c = Connection::open(loc.db_path()).unwrap();
    crate::support::store::undo_schemas_13_and_14(&c);
    c.execute_batch(&format!(
            r#"DROP TABLE catalog_revisions; DROP TABLE approvals; DROP TABLE target_groups; ALTER TABLE revisions DROP COLUMN raw_deflate; PRAGMA user_version = 8;
               UPDATE catalogs SET format_version = 'v3', cab_sha256 = '{digest}', etag = '"e1"',
                   fetched_at = '2026-12-01T10:00:00Z' WHERE key = 'contoso';"#
        ))
        .unwrap();
    let b = Store::embedded(&loc, OpenOptions::write()).unwrap();
    assert_eq!(b.state().db().schema_version(), LATEST);
    let snap = b.snapshot().unwrap();
    let revision = |key: &str| {
        snap.catalogs
            .values()
            .find(|c| c.settings.key.as_str() == key)
            .map(|c| c.revision.clone())
    };
    let contoso = revision("contoso").flatten().expect("the revision moved");
    assert_eq!(contoso.cab_sha256.to_hex(), digest);
    assert_eq!(contoso.etag.as_deref(), Some("\"e1\""));
    assert_eq!(revision("fabrikam"), Some(None));
    assert!(contoso.signers.is_empty(), "{contoso:?}");
}

/// Schema 10 records the catalog's signers with its revision (what 11508 compares a new
/// signer with): a revision an older build recorded stays, with no signers; a new one keeps
/// them.
#[test]
fn a_v9_catalog_revision_gains_an_empty_signer_list_on_upgrade() {
    use supctl::catalog::model::FormatVersion;
    use supctl::ids::{Sha256, Thumbprint};
    use supctl::store::{CatalogKey, CatalogRevision, Record};
    let d = tempfile::tempdir().unwrap();
    let loc = StoreLocation::new(d.path());
    let key = CatalogKey::parse("contoso").unwrap();
    let signer = Thumbprint::parse("6D8B3C448B990E269336BB63A47F23498C95EB7D").unwrap();
    let revision = CatalogRevision {
        cab_sha256: Sha256::of(b"cab"),
        etag: None,
        format: FormatVersion::V3,
        signers: vec![signer.clone()],
        at: chrono::Utc::now(),
    };
    {
        let b = Store::embedded(&loc, OpenOptions::write()).unwrap();
        b.apply(Record::Revision {
            key: key.clone(),
            revision: Some(revision.clone()),
        })
        .unwrap();
        assert_eq!(b.state().revisions().unwrap()[&key].signers, [signer]);
    }
    let c = Connection::open(loc.db_path()).unwrap();
    crate::support::store::undo_schemas_13_and_14(&c);
    c.execute_batch(
            "ALTER TABLE catalog_revisions DROP COLUMN signers; DROP TABLE approvals; DROP TABLE target_groups; ALTER TABLE revisions DROP COLUMN raw_deflate; PRAGMA user_version = 9;",
        )
        .unwrap();
    let b = Store::embedded(&loc, OpenOptions::write()).unwrap();
    assert_eq!(b.state().db().schema_version(), LATEST);
    let kept = b.state().revisions().unwrap()[&key].clone();
    assert_eq!(kept.cab_sha256, revision.cab_sha256);
    assert!(kept.signers.is_empty(), "{kept:?}");
}

#[test]
fn a_v1_store_is_upgraded_in_place() {
    let d = tempfile::tempdir().unwrap();
    let loc = StoreLocation::new(d.path());
    {
        let c = Connection::open(loc.db_path()).unwrap();
        c.execute_batch(V1).unwrap();
        c.execute_batch(&format!(
            "PRAGMA user_version = 1; PRAGMA application_id = {APPLICATION_ID};"
        ))
        .unwrap();
        c.execute_batch(
            r#"INSERT INTO catalogs (key, kind, name, publisher, source, subscribed, categories, staging, signers, content_certificates)
               VALUES ('old', 'custom', 'Old catalog', 'Contoso', 'old.cab', 1, '{"mode":"all"}', '{"mode":"none"}', '[]', '[]');
               INSERT INTO updates (id, catalog, revision, content_hash, title, description, vendor, products, classification, update_type, created)
               VALUES ('c9c7dfac-d9bc-4404-8a30-38d222bf01a7', 'old', 1, '00000000000000000000000000000000000000000000000000000000000000AA',
                       'Old update', '', 'Contoso', '["Widget"]', 'Updates', 'Software', '2020-01-01T00:00:00.000000000Z');
               INSERT INTO revisions VALUES ('c9c7dfac-d9bc-4404-8a30-38d222bf01a7', 1, '00', '<old/>');
               INSERT INTO content (sha1, sha256, size, ext) VALUES ('AA', 'BB', 1, 'exe');"#,
        )
        .unwrap();
    }
    // A listing command opens (and upgrades) it and sees the old rows.
    let out = supctl()
        .args([
            "updates",
            "list",
            "--json",
            "--vendor",
            "contoso",
            "--state-dir",
        ])
        .arg(d.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rows: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(rows[0]["title"], "Old update");
    assert_eq!(rows[0]["catalog"], "old");
    assert_eq!(pragma(&loc.db_path(), "user_version"), LATEST);
    let c = Connection::open(loc.db_path()).unwrap();
    let idx: i64 = c
        .query_row(
            "SELECT count(*) FROM sqlite_schema WHERE type = 'index' AND name = 'updates_vendor'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(idx, 1);
    let staged_at: Option<String> = c
        .query_row("SELECT staged_at FROM content", [], |r| r.get(0))
        .unwrap();
    assert_eq!(
        staged_at, None,
        "the v2 column exists and old rows keep NULL"
    );
    let b = Store::embedded(
        &loc,
        OpenOptions {
            create: false,
            check: Check::Full,
        },
    )
    .unwrap();
    assert_eq!(b.snapshot().unwrap().catalogs.len(), 1);
    assert_eq!(
        b.raw_xml(
            &"c9c7dfac-d9bc-4404-8a30-38d222bf01a7".parse().unwrap(),
            None
        )
        .unwrap()
        .as_deref(),
        Some("<old/>")
    );
}

fn digest(p: &Path) -> Vec<u8> {
    std::fs::read(p).unwrap()
}

#[test]
fn a_store_from_a_newer_supctl_is_refused_untouched() {
    let d = tempfile::tempdir().unwrap();
    let loc = StoreLocation::new(d.path());
    drop(Store::embedded(&loc, OpenOptions::write()).unwrap());
    Connection::open(loc.db_path())
        .unwrap()
        .execute_batch("PRAGMA user_version = 99;")
        .unwrap();
    let before = digest(&loc.db_path());
    let err = Store::embedded(&loc, OpenOptions::write()).unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::TooNew {
                found: 99,
                supported: LATEST,
                ..
            }
        ),
        "{err}"
    );
    supctl()
        .args(["store", "show", "--state-dir"])
        .arg(d.path())
        .assert()
        .code(1)
        .stderr(
            predicate::str::contains("newer supctl")
                .and(predicate::str::contains("schema version 99")),
        );
    assert!(digest(&loc.db_path()) == before);
}

#[test]
fn a_file_that_is_not_sqlite_is_refused_untouched() {
    let d = tempfile::tempdir().unwrap();
    let loc = StoreLocation::new(d.path());
    let junk = b"this is a text file someone saved as store.db, it must survive".repeat(100);
    std::fs::write(loc.db_path(), &junk).unwrap();
    let err = Store::embedded(&loc, OpenOptions::write()).unwrap_err();
    assert!(matches!(err, StoreError::NotAStore { .. }), "{err}");
    supctl()
        .args(["store", "gc", "--state-dir"])
        .arg(d.path())
        .assert()
        .code(1)
        .stderr(predicate::str::contains("not an SQLite database"));
    assert!(std::fs::read(loc.db_path()).unwrap() == junk);

    // Another application's SQLite database is refused too.
    std::fs::remove_file(loc.db_path()).unwrap();
    Connection::open(loc.db_path())
        .unwrap()
        .execute_batch("CREATE TABLE t (x); PRAGMA user_version = 1;")
        .unwrap();
    let err = Store::embedded(&loc, OpenOptions::write()).unwrap_err();
    assert!(matches!(err, StoreError::NotAStore { .. }), "{err}");
}

#[test]
fn a_corrupt_database_is_reported_and_left_alone() {
    let d = tempfile::tempdir().unwrap();
    let loc = StoreLocation::new(d.path());
    {
        let store = Store::embedded(&loc, OpenOptions::write()).unwrap();
        let spec = supctl_test_kit::bench::BenchSpec {
            updates: 300,
            batch: 100,
            stage_every: 0,
        };
        supctl_test_kit::bench::write(&store, &spec).unwrap();
    }
    // Checkpoint the WAL so the damage lands in pages SQLite will read.
    Connection::open(loc.db_path())
        .unwrap()
        .execute_batch("PRAGMA wal_checkpoint(TRUNCATE);")
        .unwrap();
    let mut bytes = std::fs::read(loc.db_path()).unwrap();
    assert!(bytes.len() > 40_000);
    for b in &mut bytes[8192..40_000] {
        *b = 0x5a;
    }
    std::fs::write(loc.db_path(), &bytes).unwrap();

    let err = Store::embedded(&loc, OpenOptions::write()).unwrap_err();
    assert!(matches!(err, StoreError::Corrupt { .. }), "{err}");
    let out = supctl()
        .args(["store", "show", "--state-dir"])
        .arg(d.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.to_lowercase().contains("corrupt"), "{text}");
    assert!(
        std::fs::read(loc.db_path()).unwrap() == bytes,
        "never overwritten"
    );
}

/// A new embedded store at `loc` with the benchmark catalog's updates `numbers` published.
fn published(
    loc: &StoreLocation,
    numbers: std::ops::RangeInclusive<usize>,
) -> Vec<supctl::catalog::model::UpdateRecord> {
    use supctl_test_kit::bench;
    let updates: Vec<_> = numbers.map(bench::update).collect();
    let b = Store::embedded(loc, OpenOptions::write()).unwrap();
    b.apply(supctl::store::Change::UpsertCatalog(bench::catalog()))
        .unwrap();
    b.apply(supctl::store::Change::PublishUpdates {
        catalog: bench::catalog_key(),
        packed: Default::default(),
        updates: updates.clone(),
    })
    .unwrap();
    updates
}

/// Package XML is stored packed (deflated in schemas 12 and 13, zstd since 14): an upgrade
/// packs the revisions an older build kept as text, each reads back byte for byte, and the
/// file stops growing with the XML.
#[test]
fn a_v11_store_packs_its_package_xml_on_upgrade() {
    let d = tempfile::tempdir().unwrap();
    let loc = StoreLocation::new(d.path());
    let updates = published(&loc, 1..=40);
    let c = Connection::open(loc.db_path()).unwrap();
    let (text, packed): (i64, i64) = c
        .query_row(
            "SELECT sum(length(raw_xml)), sum(length(raw_zstd)) FROM revisions",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    let xml: usize = updates.iter().map(|u| u.raw_xml.len()).sum();
    assert_eq!(text, 0, "a new store keeps no text");
    assert!((packed as usize) * 3 < xml, "{packed} packed of {xml}");
    // Back to schema 11, as an older build stored it: the XML as text.
    crate::support::store::undo_schemas_13_and_14(&c);
    c.execute_batch("ALTER TABLE revisions DROP COLUMN raw_deflate; PRAGMA user_version = 11;")
        .unwrap();
    for u in &updates {
        c.execute(
            "UPDATE revisions SET raw_xml = ?1 WHERE update_id = ?2",
            rusqlite::params![u.raw_xml, u.id.as_str()],
        )
        .unwrap();
    }
    drop(c);
    let b = Store::embedded(&loc, OpenOptions::write()).unwrap();
    assert_eq!(b.state().db().schema_version(), LATEST);
    for u in &updates {
        assert_eq!(
            b.raw_xml(&u.id, None).unwrap().as_deref(),
            Some(u.raw_xml.as_str())
        );
    }
    let c = Connection::open(loc.db_path()).unwrap();
    let unpacked: i64 = c
        .query_row(
            "SELECT count(*) FROM revisions WHERE raw_zstd IS NULL OR raw_xml != ''",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(unpacked, 0, "every revision packed");
}

/// A store of schema 12 or 13 keeps its packages deflated: the upgrade to 14 leaves them as
/// they are and each still reads back byte for byte, while what is published after it is
/// packed with zstd.
#[test]
fn a_v13_store_keeps_its_deflated_packages_readable() {
    use std::io::Write as _;
    use supctl::store::Change;
    use supctl_test_kit::bench;
    let d = tempfile::tempdir().unwrap();
    let loc = StoreLocation::new(d.path());
    let updates = published(&loc, 1..=20);
    // Back to schema 13, as its build stored packages: deflated, in `raw_deflate`.
    let c = Connection::open(loc.db_path()).unwrap();
    c.execute_batch("ALTER TABLE revisions DROP COLUMN raw_zstd; PRAGMA user_version = 13;")
        .unwrap();
    for u in &updates {
        let mut e = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(u.raw_xml.as_bytes()).unwrap();
        c.execute(
            "UPDATE revisions SET raw_deflate = ?1 WHERE update_id = ?2",
            rusqlite::params![e.finish().unwrap(), u.id.as_str()],
        )
        .unwrap();
    }
    drop(c);
    let b = Store::embedded(&loc, OpenOptions::write()).unwrap();
    assert_eq!(b.state().db().schema_version(), LATEST);
    for u in &updates {
        assert_eq!(
            b.raw_xml(&u.id, None).unwrap().as_deref(),
            Some(u.raw_xml.as_str()),
            "{} reads back from its deflated row",
            u.id
        );
    }
    let more: Vec<_> = (21..=25).map(bench::update).collect();
    b.apply(Change::PublishUpdates {
        catalog: bench::catalog_key(),
        packed: Default::default(),
        updates: more.clone(),
    })
    .unwrap();
    for u in &more {
        assert_eq!(
            b.raw_xml(&u.id, None).unwrap().as_deref(),
            Some(u.raw_xml.as_str())
        );
    }
    drop(b);
    let c = Connection::open(loc.db_path()).unwrap();
    let (deflated, zstd): (i64, i64) = c
        .query_row(
            "SELECT count(raw_deflate), count(raw_zstd) FROM revisions",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(
        (deflated, zstd),
        (20, 5),
        "old rows left deflated, new ones zstd"
    );
}
