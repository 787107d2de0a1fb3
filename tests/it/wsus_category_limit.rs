//! The category limit on WSUS (issue 18): the locally published categories WSUS lists,
//! other publishers' included, are what the plan counts, read through the WSDL-checked
//! double (`ExecuteSPGetCategories`, then `ExecuteSPGetSubcategories` per company).

use crate::support::catalog::{Pkg, catalog_xml, ids};
use crate::support::wsus as wsus_support;

use supctl::catalog::model::UpdateRecord;
use supctl::plan::{Action, ActionKind, Payload, Plan, Severity, limits};
use supctl::store::db::OpenOptions;
use supctl::store::{Address, Change, LocalCategory, Store, StoreLocation};
use supctl_test_kit::bench::{self, catalog_key};
use wsus_support::calls::endpoint;
use wsus_support::{State, WsusServer};

const PASSWORD: &str = "Limits-Pass-1";

/// Update `i`, a parsed package of `vendor`'s `product`.
fn update(i: usize, vendor: &str, product: &str) -> UpdateRecord {
    let xml = Pkg::new(
        &ids(i + 1)[i],
        &format!("Update {i}"),
        "2024-05-01T00:00:00Z",
    )
    .xml()
    .replace(
        "VendorName=\"Contoso\"",
        &format!("VendorName=\"{vendor}\""),
    )
    .replace(">Tool<", &format!(">{product}<"));
    let mut records = supctl::catalog::sdp::parse_catalog(&catalog_xml(&xml)).unwrap();
    assert_eq!(records.len(), 1);
    records.remove(0)
}

fn publish_action(record: UpdateRecord) -> Action {
    Action {
        address: Address::update(&catalog_key(), &record.id),
        kind: ActionKind::Publish,
        before: None,
        after: None,
        reason: String::new(),
        before_fingerprint: None,
        bytes: 0,
        unsupported: None,
        payload: Some(Payload::Update {
            record: std::sync::Arc::new(record),
        }),
    }
}

#[test]
fn other_publishers_categories_count_against_the_limit() {
    // Another tool published 48 vendors with one product each: 96 categories.
    let state = State {
        foreign_categories: (0..48)
            .map(|i| (format!("Other {i:02}"), vec!["App".to_string()]))
            .collect(),
        ..State::default()
    };
    let server = WsusServer::start(state, Some(PASSWORD));
    let dir = tempfile::tempdir().unwrap();
    let store = Store::wsus(
        endpoint(server.url(), PASSWORD),
        "CORP\\svc-supctl".into(),
        &StoreLocation::new(dir.path()),
        OpenOptions::write(),
    )
    .unwrap();
    let before = store.snapshot().unwrap().local_categories;
    assert_eq!(before.len(), 96, "{before:?}");
    assert!(before.contains(&LocalCategory::Product {
        vendor: "Other 47".into(),
        product: "App".into()
    }));

    // supctl publishes two vendors' products: WSUS lists them beside the others' (the
    // site database, which knows supctl's only, does not refuse what WSUS accepted).
    store
        .apply(Change::UpsertCatalog(bench::catalog()))
        .unwrap();
    store
        .apply(Change::PublishUpdates {
            catalog: catalog_key(),
            packed: Default::default(),
            updates: vec![
                update(0, "Vendor 00", "Product 00"),
                update(1, "Vendor 01", "Product 01"),
            ],
        })
        .unwrap();
    let actual = store.snapshot().unwrap();
    assert_eq!(actual.local_categories.len(), 100);
    assert!(actual.local_categories.contains(&LocalCategory::Product {
        vendor: "Vendor 01".into(),
        product: "Product 01".into()
    }));

    // A plan publishing into a category WSUS has passes; one with a new vendor does not.
    let mut same = Plan::new(
        "c".into(),
        vec![publish_action(update(2, "Vendor 00", "Product 00"))],
        vec![],
    );
    limits::check(&mut same, &actual);
    assert!(!same.has_errors(), "{:?}", same.diagnostics);
    let mut new = Plan::new(
        "c".into(),
        vec![publish_action(update(3, "Vendor 02", "Product 02"))],
        vec![],
    );
    limits::check(&mut new, &actual);
    let d = &new.diagnostics[0];
    assert_eq!(
        (d.severity, d.code.as_str()),
        (Severity::Error, limits::CODE)
    );
    assert!(
        d.message.contains("(vendor \"Vendor 02\", product \"Product 02\" of \"Vendor 02\"); the server has 100 and this plan would bring it to 102"),
        "{}",
        d.message
    );
    assert!(new.actions.is_empty(), "held back");
    assert!(server.violations().is_empty(), "{:?}", server.violations());
}
