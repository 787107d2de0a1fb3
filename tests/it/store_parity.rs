//! The same operations leave the SQLite and the in-memory backends with equal snapshots,
//! fingerprints and filtered update views, so planner tests on memory hold for local.

use crate::support::store as store_support;
use supctl::store::Change;

use store_support::*;
use supctl::ids::Thumbprint;
use supctl::store::query::UpdateFilter;
use supctl::store::*;
use supctl_test_kit::bench::{self, catalog_key, update, update_id};

#[test]
fn both_backends_end_in_the_same_state() {
    let (_d, l) = local();
    let m = Store::memory().unwrap();
    let backends: [&Store; 2] = [&l, &m];
    for b in backends {
        b.apply(Change::UpsertCatalog(bench::catalog())).unwrap();
        publish(b, (0..40).map(update).collect());
        let mut r = update(7);
        r.raw_xml.push('x');
        publish(b, vec![r]);
        b.apply(stage_req(b, 10, &bench::content(10))).unwrap();
        b.apply(Change::ExpireUpdates {
            ids: vec![update_id(3)],
        })
        .unwrap();
        b.apply(Change::UpsertCertificate {
            thumbprint: Thumbprint::from(&cert_info().sha1),
            kind: CertKind::Catalog,
            state: CertState::Approved,
            info: Some(Box::new(cert_info())),
        })
        .unwrap();
        b.apply(Change::SetSigning {
            settings: SigningSettings {
                mode: SigningMode::Manual,
                certificate: None,
            },
            install: None,
        })
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
            superseded: Some(true),
            ..Default::default()
        },
        UpdateFilter {
            superseded: Some(false),
            ..Default::default()
        },
        UpdateFilter {
            title: Some(regex::Regex::new("00001[0-9]$").unwrap()),
            classification: Some("updates".into()),
            ..Default::default()
        },
    ] {
        let rows = supctl::store::embedded::EmbeddedServer::on(l.state().db().clone())
            .list_updates(&f)
            .unwrap();
        assert_eq!(rows, f.apply(&sm), "{f:?}");
        assert!(!rows.is_empty(), "{f:?}");
    }
}

/// An update with several files and several supersedence links, each stored in an order
/// other than the sorted one: the single-update read apply checks fingerprints with (its
/// statements carry no ORDER BY) gives the fingerprint the snapshot's sorted read gives.
#[test]
fn the_fingerprint_of_one_update_is_the_snapshots() {
    let (_d, l) = local();
    l.apply(Change::UpsertCatalog(bench::catalog())).unwrap();
    let mut r = update(5);
    let template = r.items[0].files[0].clone();
    r.items[0].files = (0..4u8)
        .rev()
        .map(|i| supctl::catalog::model::OriginFile {
            name: format!("part{i}.exe"),
            sha1: supctl::ids::Sha1::of(&[i; 3]),
            ..template.clone()
        })
        .collect();
    r.superseded = vec![update_id(3), update_id(1), update_id(2)];
    let mut newer = update(9);
    newer.superseded = vec![update_id(5)];
    let mut newest = update(8);
    newest.superseded = vec![update_id(5)];
    publish(&l, (1..=4).map(update).collect());
    publish(&l, vec![newer, r, newest]);
    let snapshot = l.snapshot().unwrap();
    let address = Address::update(&catalog_key(), &update_id(5));
    let stored = &snapshot.updates[&update_id(5)];
    assert_eq!(stored.files.len(), 4);
    assert_eq!(stored.supersedes.len(), 3);
    assert_eq!(stored.superseded_by.len(), 2);
    assert_eq!(
        l.fingerprint(&address).unwrap(),
        snapshot.fingerprint(&address)
    );
}
