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
