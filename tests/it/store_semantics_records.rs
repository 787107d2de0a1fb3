//! The Backend contract for certificates, settings, runs, status messages, the journal, the
//! inventory, fingerprints and the lock, run against both backends.

use crate::on_both_backends;
use crate::support::store as store_support;
use supctl::store::Record;

use store_support::*;
use supctl::ids::Thumbprint;
use supctl::store::*;
use supctl_test_kit::bench::{update, update_id};

/// Certificates keyed by role, merged by digest; sync and signing settings.
fn certificates_and_settings(b: &Store) {
    // Certificates: approved by SHA-256 first, merged under SHA-1 when the facts arrive.
    let info = cert_info();
    let by256 = Thumbprint::from(&info.sha256);
    let by1 = Thumbprint::from(&info.sha1);
    assert!(
        b.apply(Change::UpsertCertificate {
            thumbprint: by256.clone(),
            kind: CertKind::Content,
            state: CertState::Approved,
            info: None
        })
        .unwrap()
        .changed
    );
    assert!(
        b.apply(Change::UpsertCertificate {
            thumbprint: by1.clone(),
            kind: CertKind::Content,
            state: CertState::Approved,
            info: Some(Box::new(info.clone()))
        })
        .unwrap()
        .changed
    );
    assert!(
        !b.apply(Change::UpsertCertificate {
            thumbprint: by256.clone(),
            kind: CertKind::Content,
            state: CertState::Approved,
            info: None
        })
        .unwrap()
        .changed
    );
    assert!(
        b.apply(Change::UpsertCertificate {
            thumbprint: by1.clone(),
            kind: CertKind::Catalog,
            state: CertState::Blocked,
            info: None
        })
        .unwrap()
        .changed
    );
    let certs = b.snapshot().unwrap().certificates;
    assert_eq!(certs.len(), 2, "{certs:?}");
    assert_eq!(certs[0].thumbprint, by1);
    assert_eq!(certs[1].kind, CertKind::Content);
    assert_eq!(
        certs[1].facts.as_ref().unwrap().subject,
        "CN=Contoso Code Signing"
    );
    assert!(
        b.apply(Change::DeleteCertificate {
            thumbprint: by256.clone(),
            kind: CertKind::Content
        })
        .unwrap()
        .changed
    );
    assert!(
        !b.apply(Change::DeleteCertificate {
            thumbprint: by256,
            kind: CertKind::Content
        })
        .unwrap()
        .changed
    );

    // Settings.
    let sync = SyncSettings {
        schedule: Some("every 1 day".into()),
        products: vec!["Windows 11".into()],
        classifications: vec![],
        languages: vec!["en".into()],
    };
    assert!(
        b.apply(Change::SetSyncSettings(sync.clone()))
            .unwrap()
            .changed
    );
    assert!(
        !b.apply(Change::SetSyncSettings(sync.clone()))
            .unwrap()
            .changed
    );
    let signing = SigningSettings {
        mode: SigningMode::Managed,
        certificate: Some(by1.clone()),
    };
    assert!(
        b.apply(Change::SetSigning {
            settings: signing.clone(),
            install: None,
        })
        .unwrap()
        .changed
    );
    assert!(
        !b.apply(Change::SetSigning {
            settings: signing,
            install: None,
        })
        .unwrap()
        .changed
    );
}

/// Runs, status messages, journal, inventory, fingerprints, catalog deletion.
fn records_and_fingerprints(b: &Store) {
    let key = setup(b);
    let by1 = Thumbprint::from(&cert_info().sha1);
    b.apply(Change::UpsertCertificate {
        thumbprint: by1.clone(),
        kind: CertKind::Content,
        state: CertState::Approved,
        info: Some(Box::new(cert_info())),
    })
    .unwrap();
    b.apply(Change::SetSyncSettings(SyncSettings::default()))
        .unwrap();
    // Runs, status messages, journal, inventory.
    let run = SyncRun {
        scope: Address::catalog(&key),
        started: at(10),
        ended: Some(at(20)),
        result: RunResult::Succeeded,
        counts: RunCounts {
            published: 5,
            ..Default::default()
        },
        message: None,
    };
    assert!(b.apply(Record::SyncRun(run.clone())).unwrap().changed);
    assert!(!b.apply(Record::SyncRun(run.clone())).unwrap().changed);
    assert_eq!(b.sync_runs(10).unwrap(), vec![run]);
    let msg = |n: u32, s: i64| RecordedMessage {
        at: at(s),
        address: None,
        message: supctl::status::StatusMessage {
            number: n,
            severity: Severity::Error,
            text: format!("message {n}"),
        },
    };
    assert!(
        b.apply(Record::StatusMessage(msg(11508, 1)))
            .unwrap()
            .changed
    );
    assert!(
        !b.apply(Record::StatusMessage(msg(11508, 1)))
            .unwrap()
            .changed
    );
    assert!(
        b.apply(Record::StatusMessage(msg(11516, 2)))
            .unwrap()
            .changed
    );
    let numbers: Vec<u32> = b
        .status_messages(10)
        .unwrap()
        .iter()
        .map(|m| m.message.number)
        .collect();
    assert_eq!(numbers, vec![11516, 11508]);
    assert_eq!(b.last_journal().unwrap(), None);
    let entry = |plan: &str, addr: &Address, outcome, s| JournalEntry {
        plan: PlanId::parse(plan).unwrap(),
        address: addr.clone(),
        role: JournalRole::Change,
        outcome,
        message: String::new(),
        left: None,
        at: at(s),
    };
    let a1 = Address::catalog(&key);
    let a2 = Address::update(&key, &update_id(1));
    b.apply(Record::Journal(entry("p1", &a1, Outcome::Done, 1)))
        .unwrap();
    b.apply(Record::Journal(entry("p2", &a1, Outcome::Done, 2)))
        .unwrap();
    b.apply(Record::Journal(entry("p2", &a2, Outcome::Failed, 3)))
        .unwrap();
    assert!(
        !b.apply(Record::Journal(entry("p2", &a2, Outcome::Failed, 3)))
            .unwrap()
            .changed
    );
    b.apply(Record::Journal(entry("p2", &a2, Outcome::Done, 4)))
        .unwrap();
    let j = b.last_journal().unwrap().unwrap();
    assert_eq!((j.plan.as_str(), j.entries.len()), ("p2", 3));
    assert_eq!(
        j.latest(&JournalKey::new(a2.clone(), JournalRole::Change)),
        Some(Outcome::Done)
    );
    assert_eq!(
        b.journal(&PlanId::parse("p1").unwrap())
            .unwrap()
            .unwrap()
            .entries
            .len(),
        1
    );
    assert!(
        b.apply(Record::InventoryAdd {
            address: a1.clone(),
            origin: Origin::Created
        })
        .unwrap()
        .changed
    );
    assert!(
        !b.apply(Record::InventoryAdd {
            address: a1.clone(),
            origin: Origin::Created
        })
        .unwrap()
        .changed
    );
    assert_eq!(
        b.snapshot().unwrap().inventory.get(&a1),
        Some(&Origin::Created)
    );

    // Fingerprints change with the object and are absent for missing ones.
    let fp = b.fingerprint(&a2).unwrap().unwrap();
    let mut rev1 = update(1);
    rev1.raw_xml.push_str("<!-- third -->");
    publish(b, vec![rev1]);
    assert_ne!(b.fingerprint(&a2).unwrap().unwrap(), fp);
    assert_eq!(
        b.fingerprint(&Address::update(&key, &update_id(98)))
            .unwrap(),
        None
    );
    assert_eq!(
        b.fingerprint(&Address::update(
            &CatalogKey::parse("other").unwrap(),
            &update_id(1)
        ))
        .unwrap(),
        None
    );
    assert!(b.fingerprint(&Address::sync()).unwrap().is_some());
    assert!(
        b.fingerprint(&Address::certificate(&by1))
            .unwrap()
            .is_some()
    );

    // Deleting a catalog drops its categories, keeps its updates (as WSUS does).
    assert!(
        b.apply(Change::DeleteCatalog { key: key.clone() })
            .unwrap()
            .changed
    );
    assert!(
        !b.apply(Change::DeleteCatalog { key: key.clone() })
            .unwrap()
            .changed
    );
    let snap = b.snapshot().unwrap();
    assert!(snap.catalogs.is_empty() && snap.categories.is_empty());
    assert_eq!(snap.updates.len(), 5);
    assert!(
        b.apply(Record::InventoryRemove { address: a1 })
            .unwrap()
            .changed
    );
}

/// A second writer fails naming the holder; the lock is released on drop.
fn lock(b: &Store) {
    // The lock: a second writer fails naming the holder; released on drop.
    let held = b.lock(&LockRequest::new("test one")).unwrap();
    held.check().unwrap();
    let err = b.lock(&LockRequest::new("test two")).unwrap_err();
    match &err {
        StoreError::Locked { holder, .. } => assert_eq!(holder.id, held.owner().id),
        other => panic!("expected Locked, got {other}"),
    }
    assert!(err.to_string().contains("test one"), "{err}");
    drop(held);
    b.lock(&LockRequest::new("test three")).unwrap();
}

on_both_backends!(certificates_and_settings, records_and_fingerprints, lock);
