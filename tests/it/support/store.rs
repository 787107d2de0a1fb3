//! Fixtures shared by the store test crates (each uses a subset, hence `dead_code`).

use std::io::Write as _;
use supctl::store::Change;

use chrono::{TimeZone, Utc};
use supctl::ids::{Sha1, Sha256};
use supctl::store::Store;
use supctl::store::db::OpenOptions;
use supctl::store::*;
use supctl::trust::{CertificateFacts, CertificateInfo};
use supctl_test_kit::bench::{self, catalog_key, update, update_id};

pub(crate) fn local() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let b = Store::embedded(&StoreLocation::new(dir.path()), OpenOptions::write()).unwrap();
    (dir, b)
}

pub(crate) fn temp_content(b: &Store, data: &[u8]) -> std::path::PathBuf {
    let mut f = tempfile::Builder::new()
        .tempfile_in(b.staging_dir().unwrap())
        .unwrap();
    f.write_all(data).unwrap();
    f.keep().unwrap().1
}

pub(crate) fn stage_req(b: &Store, i: usize, data: &[u8]) -> Change {
    Change::StageContent(StageRequest {
        update: update_id(i),
        sha1: Sha1::of(data),
        sha256: Sha256::of(data),
        temp_path: temp_content(b, data),
        ext: "exe".into(),
    })
}

pub(crate) fn at(s: i64) -> chrono::DateTime<Utc> {
    Utc.timestamp_opt(1_700_000_000 + s, 123_456_789).unwrap()
}

pub(crate) fn cert_info() -> CertificateInfo {
    let der = b"not really DER, but the store keeps it as bytes".to_vec();
    let facts = CertificateFacts {
        subject: "CN=Contoso Code Signing".into(),
        issuer: "CN=Contoso Root".into(),
        serial: "01".into(),
        sha1: Sha1::of(&der),
        sha256: Sha256::of(&der),
        not_before: at(0),
        not_after: at(86_400),
    };
    CertificateInfo { facts, der }
}

pub(crate) fn publish(b: &Store, updates: Vec<supctl::catalog::model::UpdateRecord>) -> Applied {
    b.apply(Change::PublishUpdates {
        catalog: catalog_key(),
        packed: Default::default(),
        updates,
    })
    .unwrap()
}

/// A catalog with updates 0..5 published.
pub(crate) fn setup(b: &Store) -> CatalogKey {
    b.apply(Change::UpsertCatalog(bench::catalog())).unwrap();
    publish(b, (0..5).map(update).collect());
    catalog_key()
}

/// Instantiates each contract function as one test per backend.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod local_backend {
            $(#[test] fn $name() { let (_d, b) = $crate::support::store::local(); super::$name(&b); })*
        }
        mod memory_backend {
            $(#[test] fn $name() { super::$name(&supctl::store::Store::memory().unwrap()); })*
        }
    };
}

/// Takes a store back below schema 13: no zstd column (schema 14: the packages packed in
/// it are dropped with it), no snapshot token, none of its triggers. For tests that rewind
/// a store to an older release's schema and let it migrate again.
pub(crate) fn undo_schemas_13_and_14(c: &rusqlite::Connection) {
    c.execute_batch("ALTER TABLE revisions DROP COLUMN raw_zstd")
        .unwrap();
    let triggers: Vec<String> = c
        .prepare("SELECT name FROM sqlite_schema WHERE type = 'trigger' AND name LIKE 'snapshot_token_%'")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    for t in triggers {
        c.execute_batch(&format!("DROP TRIGGER {t}")).unwrap();
    }
    c.execute_batch("DROP TABLE snapshot_token").unwrap();
}
