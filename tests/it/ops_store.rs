//! The store's findings and shipped content certificates (schema v5, `Record::Finding`,
//! `Record::ClearFinding`, `Record::ShippedCertificates`): idempotent, replaced per key,
//! equal in the local and memory backends, kept across reopening, and added to a v4 store.

use chrono::{Duration, TimeZone, Utc};
use supctl::ids::{Sha1, Sha256};
use supctl::store::Record;

use supctl::store::db::OpenOptions;
use supctl::store::{
    Address, CatalogKey, Finding, FindingKind, ShippedCertificates, Store, StoreLocation,
};
use supctl::trust::CertificateFacts;

fn t(h: i64) -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 1, 2, 0, 0).unwrap() + Duration::hours(h)
}

fn finding(scope: &str, kind: FindingKind, seen: i64) -> Finding {
    Finding {
        scope: Address::parse(scope).unwrap(),
        kind,
        since: t(0),
        seen: t(seen),
        summary: format!("{kind} of {scope}"),
    }
}

fn cert(n: u8, expired: bool) -> CertificateFacts {
    CertificateFacts {
        subject: format!("CN=Vendor {n}"),
        issuer: "CN=CA".into(),
        serial: format!("{n:02}"),
        sha1: Sha1::of(&[n]),
        sha256: Sha256::of(&[n]),
        not_before: t(-24 * 400),
        not_after: if expired { t(-24) } else { t(24 * 365) },
    }
}

fn exercise(b: &Store) -> (Vec<Finding>, Vec<ShippedCertificates>) {
    assert!(b.findings().unwrap().is_empty());
    let drift = finding("catalog.dell", FindingKind::Drift, 1);
    assert!(b.apply(Record::Finding(drift.clone())).unwrap().changed);
    assert!(!b.apply(Record::Finding(drift.clone())).unwrap().changed);
    let seen_again = finding("catalog.dell", FindingKind::Drift, 2);
    assert!(b.apply(Record::Finding(seen_again)).unwrap().changed);
    let held = finding("sync", FindingKind::HeldBack, 1);
    assert!(b.apply(Record::Finding(held.clone())).unwrap().changed);
    let gone = finding("catalog.hp", FindingKind::Drift, 1);
    b.apply(Record::Finding(gone.clone())).unwrap();
    let clear = || Record::ClearFinding {
        scope: gone.scope.clone(),
        kind: gone.kind,
    };
    assert!(b.apply(clear()).unwrap().changed);
    assert!(!b.apply(clear()).unwrap().changed);

    let dell = CatalogKey::parse("dell").unwrap();
    let list = |certs| Record::ShippedCertificates(ShippedCertificates::new(dell.clone(), certs));
    assert!(
        b.apply(list(vec![cert(2, false), cert(1, true)]))
            .unwrap()
            .changed
    );
    // Order does not matter: the same set.
    assert!(
        !b.apply(list(vec![cert(1, true), cert(2, false)]))
            .unwrap()
            .changed
    );
    assert!(
        b.apply(list(vec![cert(1, true), cert(3, true)]))
            .unwrap()
            .changed
    );
    (b.findings().unwrap(), b.shipped_certificates().unwrap())
}

#[test]
fn findings_and_shipped_certificates_are_equal_across_backends() {
    let dir = tempfile::tempdir().unwrap();
    let loc = StoreLocation::new(dir.path().join("state"));
    let local = Store::embedded(&loc, OpenOptions::write()).unwrap();
    let (mut f_local, s_local) = exercise(&local);
    let (mut f_memory, s_memory) = exercise(&Store::memory().unwrap());
    f_local.sort_by(|a, b| (&a.scope, a.kind).cmp(&(&b.scope, b.kind)));
    f_memory.sort_by(|a, b| (&a.scope, a.kind).cmp(&(&b.scope, b.kind)));
    assert_eq!(f_local, f_memory);
    assert_eq!(s_local, s_memory);
    assert_eq!(f_local.len(), 2);
    assert_eq!(f_local[0].seen, t(2), "replaced, not duplicated");
    assert_eq!(s_local[0].certificates.len(), 2);
    drop(local);
    let reopened = Store::embedded(&loc, OpenOptions::read()).unwrap();
    assert_eq!(reopened.findings().unwrap().len(), 2);
    assert_eq!(reopened.shipped_certificates().unwrap(), s_local);
}

#[test]
fn a_version_4_store_gains_the_tables() {
    let dir = tempfile::tempdir().unwrap();
    let loc = StoreLocation::new(dir.path().join("state"));
    std::fs::create_dir_all(loc.dir()).unwrap();
    {
        let c = rusqlite::Connection::open(loc.db_path()).unwrap();
        use supctl::store::schema::{APPLICATION_ID, V1, V2, V3, V4};
        c.execute_batch(&format!(
            "{V1}{V2}{V3}{V4} PRAGMA user_version = 4; PRAGMA application_id = {APPLICATION_ID};"
        ))
        .unwrap();
    }
    let b = Store::embedded(&loc, OpenOptions::write()).unwrap();
    assert_eq!(
        b.state().db().schema_version(),
        supctl::store::schema::LATEST
    );
    assert!(b.findings().unwrap().is_empty());
    b.apply(Record::Finding(finding("sync", FindingKind::Drift, 0)))
        .unwrap();
    assert_eq!(b.findings().unwrap().len(), 1);
}
