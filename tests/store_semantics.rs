//! The Backend contract, run against both the SQLite backend and the in-memory one, plus a
//! check that the same operations leave both with equal snapshots and fingerprints.

use std::io::Write as _;

use chrono::{TimeZone, Utc};
use supctl::catalog::model::{Category, FormatVersion, PublicationState};
use supctl::ids::{CategoryId, Sha1, Sha256, Thumbprint, UpdateId};
use supctl::store::bench::{self, catalog_key, update, update_id};
use supctl::store::local::{LocalBackend, OpenOptions};
use supctl::store::memory::MemoryBackend;
use supctl::store::query::UpdateFilter;
use supctl::store::*;
use supctl::trust::CertificateInfo;

fn local() -> (tempfile::TempDir, LocalBackend) {
    let dir = tempfile::tempdir().unwrap();
    let b = LocalBackend::open(&StoreLocation::new(dir.path()), OpenOptions::write()).unwrap();
    (dir, b)
}

fn temp_content(b: &dyn Backend, data: &[u8]) -> std::path::PathBuf {
    let mut f = tempfile::Builder::new()
        .tempfile_in(b.staging_dir().unwrap())
        .unwrap();
    f.write_all(data).unwrap();
    f.keep().unwrap().1
}

fn stage_req(b: &dyn Backend, i: usize, data: &[u8]) -> Op {
    Op::StageContent(StageRequest {
        update: update_id(i),
        sha1: Sha1::of(data),
        sha256: Sha256::of(data),
        temp_path: temp_content(b, data),
        ext: "exe".into(),
    })
}

fn at(s: i64) -> chrono::DateTime<Utc> {
    Utc.timestamp_opt(1_700_000_000 + s, 123_456_789).unwrap()
}

fn cert_info() -> CertificateInfo {
    let der = b"not really DER, but the store keeps it as bytes".to_vec();
    CertificateInfo {
        subject: "CN=Contoso Code Signing".into(),
        issuer: "CN=Contoso Root".into(),
        serial: "01".into(),
        sha1: Sha1::of(&der),
        sha256: Sha256::of(&der),
        not_before: at(0),
        not_after: at(86_400),
        der,
    }
}

fn publish(b: &dyn Backend, updates: Vec<supctl::catalog::model::UpdateRecord>) -> Applied {
    b.apply(Op::PublishUpdates {
        catalog: catalog_key(),
        updates,
    })
    .unwrap()
}

/// The whole contract; every assertion holds for every backend.
fn contract(b: &dyn Backend) {
    let key = catalog_key();
    assert_eq!(b.capabilities(), Capabilities::ALL);

    // Publishing needs the catalog.
    let err = b
        .apply(Op::PublishUpdates {
            catalog: key.clone(),
            updates: vec![update(0)],
        })
        .unwrap_err();
    assert!(matches!(err, StoreError::UnknownCatalog(_)), "{err}");

    // Catalogs: create, idempotent, update, subscribe, fetch.
    assert!(
        b.apply(Op::UpsertCatalog(bench::catalog()))
            .unwrap()
            .changed
    );
    assert!(
        !b.apply(Op::UpsertCatalog(bench::catalog()))
            .unwrap()
            .changed
    );
    let mut renamed = bench::catalog();
    renamed.name = "Renamed".into();
    assert_eq!(
        b.apply(Op::UpsertCatalog(renamed)).unwrap().counts.updated,
        1
    );
    assert!(
        b.apply(Op::SetSubscribed {
            key: key.clone(),
            subscribed: false
        })
        .unwrap()
        .changed
    );
    assert!(
        !b.apply(Op::SetSubscribed {
            key: key.clone(),
            subscribed: false
        })
        .unwrap()
        .changed
    );
    let fetch = CatalogFetch {
        cab_sha256: Sha256::of(b"cab"),
        etag: Some("\"e1\"".into()),
        format: FormatVersion::V3,
        at: at(1),
    };
    assert!(
        b.apply(Op::RecordFetch {
            key: key.clone(),
            fetch: fetch.clone()
        })
        .unwrap()
        .changed
    );
    assert!(
        !b.apply(Op::RecordFetch {
            key: key.clone(),
            fetch: fetch.clone()
        })
        .unwrap()
        .changed
    );
    let snap = b.snapshot().unwrap();
    let stored = &snap.catalogs[&key];
    assert_eq!(stored.settings.name, "Renamed");
    assert!(!stored.settings.subscribed);
    assert_eq!(stored.fetch.as_ref(), Some(&fetch));

    // Publishing: revision 1, no-op on the same XML, revision 2 on a change.
    let a = publish(b, (0..5).map(update).collect());
    assert_eq!((a.changed, a.counts.created), (true, 5));
    let a = publish(b, (0..5).map(update).collect());
    assert_eq!((a.changed, a.counts.unchanged), (false, 5));
    let mut changed = update(1);
    changed.raw_xml.push_str("<!-- revised -->");
    changed.localized[0].title = "Revised title".into();
    let a = publish(b, vec![changed.clone()]);
    assert_eq!(a.counts.updated, 1);
    let snap = b.snapshot().unwrap();
    let u1 = &snap.updates[&update_id(1)];
    assert_eq!((u1.revision, u1.title.as_str()), (2, "Revised title"));
    assert_eq!(u1.content_hash, changed.content_hash());
    assert_eq!(
        b.raw_xml(&update_id(1), None).unwrap().as_deref(),
        Some(changed.raw_xml.as_str())
    );
    assert_eq!(
        b.raw_xml(&update_id(1), Some(1)).unwrap(),
        Some(update(1).raw_xml)
    );
    assert_eq!(b.raw_xml(&update_id(1), Some(3)).unwrap(), None);
    assert_eq!(b.raw_xml(&update_id(99), None).unwrap(), None);

    // Supersedence both ways (update i supersedes i - 1 except at multiples of ten).
    assert_eq!(snap.updates[&update_id(2)].supersedes, vec![update_id(1)]);
    assert_eq!(
        snap.updates[&update_id(1)].superseded_by,
        vec![update_id(2)]
    );
    assert!(snap.updates[&update_id(0)].supersedes.is_empty());
    assert_eq!(
        snap.updates[&update_id(4)].superseded_by,
        Vec::<UpdateId>::new()
    );

    // Metadata-only until every file is staged.
    assert_eq!(
        snap.updates[&update_id(3)].state(),
        UpdateState::MetadataOnly
    );
    let data = bench::content(3);
    assert!(b.apply(stage_req(b, 3, &data)).unwrap().changed);
    let again = stage_req(b, 3, &data);
    let Op::StageContent(req) = &again else {
        unreachable!()
    };
    let temp = req.temp_path.clone();
    assert!(!b.apply(again).unwrap().changed, "staging twice is a no-op");
    assert!(!temp.exists(), "the temp file of a duplicate is removed");
    let u3 = b.snapshot().unwrap().updates[&update_id(3)].clone();
    assert_eq!(u3.state(), UpdateState::Deployable);
    assert_eq!(u3.files[0].sha256, Some(Sha256::of(&data)));

    // Staging refuses wrong content, unknown files and unknown updates.
    let wrong = Op::StageContent(StageRequest {
        update: update_id(4),
        sha1: Sha1::of(&bench::content(4)),
        sha256: Sha256::of(&bench::content(4)),
        temp_path: temp_content(b, b"tampered"),
        ext: "exe".into(),
    });
    assert!(matches!(
        b.apply(wrong).unwrap_err(),
        StoreError::DigestMismatch { .. }
    ));
    assert!(matches!(
        b.apply(stage_req(b, 4, b"other file")).unwrap_err(),
        StoreError::UnknownFile { .. }
    ));
    assert!(matches!(
        b.apply(stage_req(b, 77, &data)).unwrap_err(),
        StoreError::UnknownUpdate(_)
    ));
    let Op::StageContent(good) = stage_req(b, 4, &bench::content(4)) else {
        unreachable!()
    };
    let bad_ext = Op::StageContent(StageRequest {
        ext: "../x".into(),
        ..good
    });
    assert!(matches!(
        b.apply(bad_ext).unwrap_err(),
        StoreError::Invalid { .. }
    ));
    assert_eq!(
        b.snapshot().unwrap().updates[&update_id(4)].state(),
        UpdateState::MetadataOnly
    );

    // A new revision keeps staged content that still matches.
    let mut rev = update(3);
    rev.raw_xml.push(' ');
    publish(b, vec![rev]);
    let u3 = b.snapshot().unwrap().updates[&update_id(3)].clone();
    assert_eq!((u3.revision, u3.state()), (2, UpdateState::Deployable));

    // Expire and decline: idempotent; expiry survives a new revision.
    let a = b
        .apply(Op::ExpireUpdates {
            ids: vec![update_id(0), update_id(99)],
        })
        .unwrap();
    assert_eq!((a.counts.updated, a.counts.unchanged), (1, 1));
    assert!(
        !b.apply(Op::ExpireUpdates {
            ids: vec![update_id(0)]
        })
        .unwrap()
        .changed
    );
    let mut rev0 = update(0);
    rev0.raw_xml.push(' ');
    publish(b, vec![rev0]);
    assert_eq!(
        b.snapshot().unwrap().updates[&update_id(0)].state(),
        UpdateState::Expired
    );
    assert!(
        b.apply(Op::SetDeclined {
            ids: vec![update_id(2)],
            declined: true
        })
        .unwrap()
        .changed
    );
    assert!(
        !b.apply(Op::SetDeclined {
            ids: vec![update_id(2)],
            declined: true
        })
        .unwrap()
        .changed
    );
    let mut expired_rec = update(5);
    expired_rec.publication_state = PublicationState::Expired;
    publish(b, vec![expired_rec]);
    assert_eq!(
        b.snapshot().unwrap().updates[&update_id(5)].state(),
        UpdateState::Expired
    );

    // Categories: replace, idempotent, drive the category filter.
    let root = CategoryId::parse("00000000-0000-4000-8000-000000000001").unwrap();
    let bios = CategoryId::parse("00000000-0000-4000-8000-000000000002").unwrap();
    let cats = vec![
        Category {
            id: root.clone(),
            display_name: "Synthetic".into(),
            parent: None,
            members: vec![],
            path: "Synthetic".into(),
        },
        Category {
            id: bios.clone(),
            display_name: "BIOS".into(),
            parent: Some(root),
            members: vec![update_id(4), update_id(2), update_id(4)],
            path: "Synthetic/BIOS".into(),
        },
    ];
    assert!(
        b.apply(Op::ReplaceCategories {
            catalog: key.clone(),
            categories: cats.clone()
        })
        .unwrap()
        .changed
    );
    assert!(
        !b.apply(Op::ReplaceCategories {
            catalog: key.clone(),
            categories: cats
        })
        .unwrap()
        .changed
    );
    let snap = b.snapshot().unwrap();
    assert_eq!(
        snap.categories[&key][1].members,
        vec![update_id(2), update_id(4)]
    );
    let f = UpdateFilter {
        category: Some("synthetic".into()),
        ..Default::default()
    };
    let ids: Vec<UpdateId> = f.apply(&snap).into_iter().map(|r| r.id).collect();
    assert_eq!(ids, vec![update_id(2), update_id(4)]);
    let f = UpdateFilter {
        category: Some("Synth".into()),
        ..Default::default()
    };
    assert!(
        f.apply(&snap).is_empty(),
        "a path prefix must end at a separator"
    );

    // Certificates: approved by SHA-256 first, merged under SHA-1 when the facts arrive.
    let info = cert_info();
    let by256 = Thumbprint::from(&info.sha256);
    let by1 = Thumbprint::from(&info.sha1);
    assert!(
        b.apply(Op::UpsertCertificate {
            thumbprint: by256.clone(),
            kind: CertKind::Content,
            state: CertState::Approved,
            info: None
        })
        .unwrap()
        .changed
    );
    assert!(
        b.apply(Op::UpsertCertificate {
            thumbprint: by1.clone(),
            kind: CertKind::Content,
            state: CertState::Approved,
            info: Some(Box::new(info.clone()))
        })
        .unwrap()
        .changed
    );
    assert!(
        !b.apply(Op::UpsertCertificate {
            thumbprint: by256.clone(),
            kind: CertKind::Content,
            state: CertState::Approved,
            info: None
        })
        .unwrap()
        .changed
    );
    assert!(
        b.apply(Op::UpsertCertificate {
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
        b.apply(Op::DeleteCertificate {
            thumbprint: by256.clone(),
            kind: CertKind::Content
        })
        .unwrap()
        .changed
    );
    assert!(
        !b.apply(Op::DeleteCertificate {
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
    assert!(b.apply(Op::SetSyncSettings(sync.clone())).unwrap().changed);
    assert!(!b.apply(Op::SetSyncSettings(sync.clone())).unwrap().changed);
    let signing = SigningSettings {
        mode: SigningMode::Managed,
        certificate: Some(by1.clone()),
    };
    assert!(b.apply(Op::SetSigning(signing.clone())).unwrap().changed);
    assert!(!b.apply(Op::SetSigning(signing)).unwrap().changed);

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
    assert!(b.apply(Op::RecordSyncRun(run.clone())).unwrap().changed);
    assert!(!b.apply(Op::RecordSyncRun(run.clone())).unwrap().changed);
    assert_eq!(b.sync_runs(10).unwrap(), vec![run]);
    let msg = |n: u32, s: i64| StatusMessage {
        at: at(s),
        number: n,
        severity: Severity::Error,
        text: format!("message {n}"),
        address: None,
    };
    assert!(
        b.apply(Op::RecordStatusMessage(msg(11508, 1)))
            .unwrap()
            .changed
    );
    assert!(
        !b.apply(Op::RecordStatusMessage(msg(11508, 1)))
            .unwrap()
            .changed
    );
    assert!(
        b.apply(Op::RecordStatusMessage(msg(11516, 2)))
            .unwrap()
            .changed
    );
    let numbers: Vec<u32> = b
        .status_messages(10)
        .unwrap()
        .iter()
        .map(|m| m.number)
        .collect();
    assert_eq!(numbers, vec![11516, 11508]);
    assert_eq!(b.last_journal().unwrap(), None);
    let entry = |plan: &str, addr: &Address, outcome, s| JournalEntry {
        plan: PlanId::parse(plan).unwrap(),
        address: addr.clone(),
        outcome,
        message: String::new(),
        at: at(s),
    };
    let a1 = Address::catalog(&key);
    let a2 = Address::update(&key, &update_id(1));
    b.apply(Op::JournalAppend(entry("p1", &a1, Outcome::Done, 1)))
        .unwrap();
    b.apply(Op::JournalAppend(entry("p2", &a1, Outcome::Done, 2)))
        .unwrap();
    b.apply(Op::JournalAppend(entry("p2", &a2, Outcome::Failed, 3)))
        .unwrap();
    assert!(
        !b.apply(Op::JournalAppend(entry("p2", &a2, Outcome::Failed, 3)))
            .unwrap()
            .changed
    );
    b.apply(Op::JournalAppend(entry("p2", &a2, Outcome::Done, 4)))
        .unwrap();
    let j = b.last_journal().unwrap().unwrap();
    assert_eq!((j.plan.as_str(), j.entries.len()), ("p2", 3));
    assert_eq!(j.latest(&a2), Some(Outcome::Done));
    assert_eq!(
        b.journal(&PlanId::parse("p1").unwrap())
            .unwrap()
            .unwrap()
            .entries
            .len(),
        1
    );
    assert!(
        b.apply(Op::InventoryAdd {
            address: a1.clone(),
            origin: Origin::Created
        })
        .unwrap()
        .changed
    );
    assert!(
        !b.apply(Op::InventoryAdd {
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
        b.apply(Op::DeleteCatalog { key: key.clone() })
            .unwrap()
            .changed
    );
    assert!(
        !b.apply(Op::DeleteCatalog { key: key.clone() })
            .unwrap()
            .changed
    );
    let snap = b.snapshot().unwrap();
    assert!(snap.catalogs.is_empty() && snap.categories.is_empty());
    assert_eq!(snap.updates.len(), 6);
    assert!(
        b.apply(Op::InventoryRemove { address: a1 })
            .unwrap()
            .changed
    );

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

#[test]
fn local_backend_meets_the_contract() {
    let (_d, b) = local();
    contract(&b);
}

#[test]
fn memory_backend_meets_the_contract() {
    contract(&MemoryBackend::new().unwrap());
}

#[test]
fn both_backends_end_in_the_same_state() {
    let (_d, l) = local();
    let m = MemoryBackend::new().unwrap();
    let backends: [&dyn Backend; 2] = [&l, &m];
    for b in backends {
        b.apply(Op::UpsertCatalog(bench::catalog())).unwrap();
        publish(b, (0..40).map(update).collect());
        let mut r = update(7);
        r.raw_xml.push('x');
        publish(b, vec![r]);
        b.apply(stage_req(b, 10, &bench::content(10))).unwrap();
        b.apply(Op::ExpireUpdates {
            ids: vec![update_id(3)],
        })
        .unwrap();
        b.apply(Op::UpsertCertificate {
            thumbprint: Thumbprint::from(&cert_info().sha1),
            kind: CertKind::Catalog,
            state: CertState::Approved,
            info: Some(Box::new(cert_info())),
        })
        .unwrap();
        b.apply(Op::SetSigning(SigningSettings {
            mode: SigningMode::Manual,
            certificate: None,
        }))
        .unwrap();
    }
    let (sl, sm) = (l.snapshot().unwrap(), m.snapshot().unwrap());
    assert_eq!(sl, sm);
    let key = catalog_key();
    for addr in [
        Address::catalog(&key),
        Address::update(&key, &update_id(7)),
        Address::update(&key, &update_id(10)),
        Address::certificate(&Thumbprint::from(&cert_info().sha256)),
        Address::signing(),
        Address::sync(),
    ] {
        assert_eq!(
            l.fingerprint(&addr).unwrap(),
            m.fingerprint(&addr).unwrap(),
            "{addr}"
        );
    }
    for f in [
        UpdateFilter {
            vendor: Some("vendor 01".into()),
            ..Default::default()
        },
        UpdateFilter {
            state: Some(UpdateState::Deployable),
            ..Default::default()
        },
        UpdateFilter {
            state: Some(UpdateState::MetadataOnly),
            product: Some("Product 07".into()),
            ..Default::default()
        },
        UpdateFilter {
            state: Some(UpdateState::Expired),
            ..Default::default()
        },
        UpdateFilter {
            title: Some(regex::Regex::new("00001[0-9]$").unwrap()),
            classification: Some("updates".into()),
            ..Default::default()
        },
    ] {
        let rows = l.list_updates(&f).unwrap();
        assert_eq!(rows, f.apply(&sm), "{f:?}");
        assert!(!rows.is_empty(), "{f:?}");
    }
}
