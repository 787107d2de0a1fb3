use chrono::{TimeZone, Utc};

use super::*;
use crate::catalog::model::{PublicationState, UpdateRecord};
use crate::ids::UpdateId;
use crate::plan::Action;
use crate::store::{LocalCategories, LocalCategory};

fn uid(n: u32) -> UpdateId {
    UpdateId::parse(&format!("{n:08x}-0000-0000-0000-000000000001")).unwrap()
}

fn record(n: u32, vendor: &str, products: &[&str]) -> UpdateRecord {
    UpdateRecord {
        id: uid(n),
        schema_version: "1.2".into(),
        created: Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap(),
        created_raw: "2026-01-01T00:00:00Z".into(),
        vendor: vendor.into(),
        products: products.iter().map(|p| p.to_string()).collect(),
        publication_state: PublicationState::Published,
        update_type: "Software".into(),
        localized: vec![],
        classification: "Updates".into(),
        severity: None,
        kb_article: None,
        bulletin: None,
        cves: vec![],
        superseded: vec![],
        items: vec![],
        raw_xml: String::new(),
        raw_hash: None,
        namespaces: Default::default(),
    }
}

fn action(catalog: &str, n: u32, kind: ActionKind, payload: Option<Payload>) -> Action {
    Action {
        address: Address::update(&CatalogKey::parse(catalog).unwrap(), &uid(n)),
        kind,
        before: None,
        after: None,
        reason: String::new(),
        before_fingerprint: None,
        bytes: 0,
        unsupported: None,
        payload,
    }
}

/// A publish of update `n` in `catalog` and the staging of its content.
fn publish(catalog: &str, n: u32, vendor: &str, products: &[&str]) -> Vec<Action> {
    let record = std::sync::Arc::new(record(n, vendor, products));
    vec![
        action(
            catalog,
            n,
            ActionKind::Publish,
            Some(Payload::Update { record }),
        ),
        action(catalog, n, ActionKind::Stage, None),
    ]
}

/// `vendors` vendors named `V000`… with one product `P` each, one update apiece, from `first`.
fn one_product_each(catalog: &str, first: u32, vendors: u32) -> Vec<Action> {
    (first..first + vendors)
        .flat_map(|i| publish(catalog, i, &format!("V{i:03}"), &["P"]))
        .collect()
}

/// A server with `n` categories: vendors `S000`… each with product `P`, then `A` with
/// product `Tools` when `n` is odd.
fn server_with(n: usize) -> ActualState {
    let mut c: LocalCategories = (0..n / 2)
        .flat_map(|i| {
            let vendor = format!("S{i:03}");
            [
                LocalCategory::Vendor {
                    vendor: vendor.clone(),
                },
                LocalCategory::Product {
                    vendor,
                    product: "P".into(),
                },
            ]
        })
        .collect();
    if n % 2 == 1 {
        c.insert(LocalCategory::Vendor { vendor: "A".into() });
    }
    assert_eq!(c.len(), n);
    ActualState {
        local_categories: c,
        ..ActualState::default()
    }
}

fn planned(actions: Vec<Action>, actual: &ActualState) -> Plan {
    let mut plan = Plan::new("c".into(), actions, vec![]);
    check(&mut plan, actual);
    plan
}

#[test]
fn a_plan_under_the_limit_is_left_alone() {
    let plan = planned(one_product_each("a", 0, 10), &server_with(40));
    assert!(plan.diagnostics.is_empty(), "{:?}", plan.diagnostics);
    assert_eq!(plan.actions.len(), 20);
}

#[test]
fn exactly_the_limit_is_allowed() {
    // 50 vendors × (vendor + product) = 100 on an empty server; then 1 more on top of 99.
    let plan = planned(one_product_each("a", 0, 50), &ActualState::default());
    assert!(!plan.has_errors(), "{:?}", plan.diagnostics);
    assert_eq!(plan.summary.updates.publish, 50);
    let plan = planned(publish("a", 0, "A", &[]), &server_with(99));
    assert!(!plan.has_errors(), "a vendor the server has is free");
    let plan = planned(publish("a", 0, "New", &[]), &server_with(99));
    assert!(!plan.has_errors(), "99 + 1 = 100");
    let plan = planned(publish("a", 0, "New", &["P"]), &server_with(99));
    assert!(plan.has_errors(), "99 + 2 = 101");
}

#[test]
fn past_the_limit_each_catalog_responsible_gets_an_error_naming_its_newcomers() {
    let mut actions = one_product_each("a", 0, 20);
    actions.extend(one_product_each("b", 100, 12));
    // Publishing into a category the server has creates nothing: it goes ahead.
    actions.extend(publish("c", 500, "S000", &["P"]));
    let plan = planned(actions, &server_with(40));
    assert_eq!(plan.error_count(), 2, "{:?}", plan.diagnostics);
    let a = &plan.diagnostics[0];
    assert_eq!((a.code.as_str(), a.address.as_str()), (CODE, "catalog.a"));
    assert!(
        a.message
            .contains("would create 40 new locally published categories"),
        "{}",
        a.message
    );
    assert!(
        a.message
            .contains("(vendor \"V000\", product \"P\" of \"V000\", vendor \"V001\""),
        "{}",
        a.message
    );
    assert!(a.message.contains("and 30 more)"), "{}", a.message);
    assert!(
        a.message.contains(
            "the server has 40 and this plan would bring it to 104, past WSUS's limit of 100"
        ),
        "{}",
        a.message
    );
    assert!(a.message.contains("Its 20 updates"), "{}", a.message);
    assert!(
        a.hint.as_deref().unwrap().contains("[catalog.a]"),
        "{:?}",
        a.hint
    );
    let b = &plan.diagnostics[1];
    assert_eq!(b.address.as_str(), "catalog.b");
    assert!(b.message.contains("would create 24 new"), "{}", b.message);
    assert!(
        b.message.contains("product \"P\" of \"V100\""),
        "{}",
        b.message
    );
    // Held back: every publish and staging that creates a category; catalog c's stay.
    let left: Vec<String> = plan
        .actions
        .iter()
        .map(|a| format!("{} {}", a.kind, a.address))
        .collect();
    assert_eq!(
        left,
        [
            format!("publish catalog.c.update[{}]", uid(500)),
            format!("stage catalog.c.update[{}]", uid(500)),
        ]
    );
    assert_eq!(plan.summary.updates.publish, 1);
}

#[test]
fn categories_the_server_has_are_not_counted_twice() {
    // 98 on the server; the plan publishes 30 updates into two of them and adds two.
    let mut actions: Vec<Action> = (0..30)
        .flat_map(|i| publish("a", i, "S001", &["P"]))
        .collect();
    actions.extend(publish("a", 40, "S002", &["P", "Q"]));
    actions.extend(publish("b", 41, "S002", &["Q"]));
    actions.extend(publish("b", 42, "N", &[]));
    let plan = planned(actions, &server_with(98));
    assert!(!plan.has_errors(), "98 + 2 = 100: {:?}", plan.diagnostics);
}

#[test]
fn two_vendors_products_of_one_name_are_two_categories() {
    let mut actual = server_with(98);
    actual
        .local_categories
        .insert(LocalCategory::Vendor { vendor: "A".into() });
    actual.local_categories.insert(LocalCategory::Product {
        vendor: "A".into(),
        product: "Tools".into(),
    });
    let plan = planned(publish("a", 1, "A", &["Tools"]), &actual);
    assert!(!plan.has_errors(), "A's Tools exists");
    let plan = planned(publish("a", 1, "B", &["Tools"]), &actual);
    assert_eq!(plan.error_count(), 1);
    let m = &plan.diagnostics[0].message;
    assert!(
        m.contains("would create 2 new locally published categories (vendor \"B\", product \"Tools\" of \"B\")"),
        "{m}"
    );
    assert!(
        m.contains("the server has 100 and this plan would bring it to 102"),
        "{m}"
    );
}

#[test]
fn a_revision_that_moves_an_update_to_a_new_product_counts() {
    let record = std::sync::Arc::new(record(7, "S000", &["New"]));
    let actions = vec![action(
        "a",
        7,
        ActionKind::Revise,
        Some(Payload::Update { record }),
    )];
    let plan = planned(actions, &server_with(100));
    assert_eq!(plan.error_count(), 1, "{:?}", plan.diagnostics);
    assert!(plan.actions.is_empty());
    assert!(
        plan.diagnostics[0]
            .message
            .contains("product \"New\" of \"S000\""),
        "{}",
        plan.diagnostics[0].message
    );
}
