//! The Backend contract for catalogs, updates, content and categories, run against both the
//! SQLite backend and the in-memory one (one test per concept per backend).

use crate::on_both_backends;
use crate::support::store as store_support;
use supctl::store::{Change, Record};

use store_support::*;
use supctl::catalog::model::{Category, FormatVersion, PublicationState};
use supctl::ids::{CategoryId, Sha1, Sha256, UpdateId};
use supctl::store::query::UpdateFilter;
use supctl::store::*;
use supctl_test_kit::bench::{self, catalog_key, update, update_id};

/// Catalog subscriptions: create, idempotent upsert, subscribe, fetch record.
fn catalogs(b: &Store) {
    let key = catalog_key();
    assert_eq!(b.capabilities(), Capabilities::ALL);

    // Publishing needs the catalog.
    let err = b
        .apply(Change::PublishUpdates {
            catalog: key.clone(),
            packed: Default::default(),
            updates: vec![update(0)],
        })
        .unwrap_err();
    assert!(matches!(err, StoreError::UnknownCatalog(_)), "{err}");

    // Catalogs: create, idempotent, update, subscribe, fetch.
    assert!(
        b.apply(Change::UpsertCatalog(bench::catalog()))
            .unwrap()
            .changed
    );
    assert!(
        !b.apply(Change::UpsertCatalog(bench::catalog()))
            .unwrap()
            .changed
    );
    let mut renamed = bench::catalog();
    renamed.name = "Renamed".into();
    assert_eq!(
        b.apply(Change::UpsertCatalog(renamed))
            .unwrap()
            .counts
            .updated,
        1
    );
    assert!(
        b.apply(Change::SetSubscribed {
            key: key.clone(),
            subscribed: false
        })
        .unwrap()
        .changed
    );
    assert!(
        !b.apply(Change::SetSubscribed {
            key: key.clone(),
            subscribed: false
        })
        .unwrap()
        .changed
    );
    let fetch = CatalogRevision {
        cab_sha256: Sha256::of(b"cab"),
        etag: Some("\"e1\"".into()),
        format: FormatVersion::V3,
        signers: vec![
            supctl::ids::Thumbprint::parse("6D8B3C448B990E269336BB63A47F23498C95EB7D").unwrap(),
        ],
        at: at(1),
    };
    assert!(
        b.apply(Record::Revision {
            key: key.clone(),
            revision: Some(fetch.clone())
        })
        .unwrap()
        .changed
    );
    assert!(
        !b.apply(Record::Revision {
            key: key.clone(),
            revision: Some(fetch.clone())
        })
        .unwrap()
        .changed
    );
    let snap = b.snapshot().unwrap();
    let stored = &snap.catalogs[&key];
    assert_eq!(stored.settings.name, "Renamed");
    assert!(!stored.settings.subscribed);
    assert_eq!(stored.revision.as_ref(), Some(&fetch));
}

/// Revisions, raw XML on demand, supersedence both ways, staging content.
fn publishing_and_staging(b: &Store) {
    b.apply(Change::UpsertCatalog(bench::catalog())).unwrap();
    let a = publish(b, (0..5).map(update).collect());
    assert_eq!((a.changed, a.counts.created), (true, 5));
    // Publishing: revision 1, no-op on the same XML, revision 2 on a change.
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
    let Change::StageContent(req) = &again else {
        unreachable!()
    };
    let temp = req.temp_path.clone();
    assert!(!b.apply(again).unwrap().changed, "staging twice is a no-op");
    assert!(!temp.exists(), "the temp file of a duplicate is removed");
    let tampered = Change::StageContent(StageRequest {
        update: update_id(3),
        sha1: Sha1::of(&data),
        sha256: Sha256::of(&data),
        temp_path: temp_content(b, b"tampered copy"),
        ext: "exe".into(),
    });
    assert!(
        matches!(
            b.apply(tampered).unwrap_err(),
            StoreError::DigestMismatch { .. }
        ),
        "a bad copy of staged content is refused too"
    );
    let u3 = b.snapshot().unwrap().updates[&update_id(3)].clone();
    assert_eq!(u3.state(), UpdateState::Deployable);
    assert_eq!(u3.files[0].sha256, Some(Sha256::of(&data)));

    // Staging refuses wrong content, unknown files and unknown updates.
    let wrong = Change::StageContent(StageRequest {
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
    let Change::StageContent(good) = stage_req(b, 4, &bench::content(4)) else {
        unreachable!()
    };
    let bad_ext = Change::StageContent(StageRequest {
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
}

/// Expire, decline, and categories with the category filter.
fn flags_and_categories(b: &Store) {
    let key = setup(b);
    // Expire and decline: idempotent; expiry survives a new revision.
    let a = b
        .apply(Change::ExpireUpdates {
            ids: vec![update_id(0), update_id(99)],
        })
        .unwrap();
    assert_eq!((a.counts.updated, a.counts.unchanged), (1, 1));
    assert!(
        !b.apply(Change::ExpireUpdates {
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
        b.apply(Change::SetDeclined {
            ids: vec![update_id(2)],
            declined: true
        })
        .unwrap()
        .changed
    );
    assert!(
        !b.apply(Change::SetDeclined {
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
            id: root,
            display_name: "Synthetic".into(),
            parent: None,
            members: vec![],
            path: "Synthetic".into(),
        },
        Category {
            id: bios,
            display_name: "BIOS".into(),
            parent: Some(root),
            members: vec![update_id(4), update_id(2), update_id(4)],
            path: "Synthetic/BIOS".into(),
        },
    ];
    assert!(
        b.apply(Change::ReplaceCategories {
            catalog: key.clone(),
            categories: cats.clone()
        })
        .unwrap()
        .changed
    );
    assert!(
        !b.apply(Change::ReplaceCategories {
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
}

/// A batch's journal entries record what each action left, as a fingerprint read of that
/// object alone gives it; an object the batch did not leave behind records none. (The
/// embedded server reads a batch's updates together.)
fn a_batch_journals_what_each_action_left(b: &Store) {
    let key = setup(b);
    let plan = PlanId::new_unique();
    // Updates 10-13: 11 to 13 supersede the one before, and 13's predecessor already
    // exists; 14 is named but not published; 0 is of this catalog and unchanged.
    let updates: Vec<_> = (10..14).map(update).collect();
    let mut addresses: Vec<Address> = (10..15)
        .map(|i| Address::update(&key, &update_id(i)))
        .collect();
    addresses.push(Address::update(&key, &update_id(0)));
    addresses.push(Address::catalog(&key));
    let done = addresses
        .iter()
        .map(|a| DoneEntry {
            plan: plan.clone(),
            key: JournalKey::new(a.clone(), JournalRole::Change),
            what: "publish".into(),
        })
        .collect();
    b.apply(Op::Atomic {
        ops: vec![
            Change::PublishUpdates {
                catalog: key.clone(),
                updates,
                packed: Default::default(),
            }
            .into(),
        ],
        done,
    })
    .unwrap();
    let journal = b.journal(&plan).unwrap().expect("journaled");
    assert_eq!(journal.entries.len(), addresses.len());
    for e in &journal.entries {
        assert_eq!(e.left, b.fingerprint(&e.address).unwrap(), "{}", e.address);
    }
    let left = |i: usize| {
        journal
            .entries
            .iter()
            .find(|e| e.address == addresses[i])
            .and_then(|e| e.left.clone())
    };
    assert!(left(0).is_some() && left(3).is_some());
    assert_eq!(left(4), None, "never published");
    assert_ne!(left(1), left(2));
}

on_both_backends!(
    catalogs,
    publishing_and_staging,
    flags_and_categories,
    a_batch_journals_what_each_action_left
);
