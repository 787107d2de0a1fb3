//! WSUS's limit of 100 locally published categories (vendors plus products, Microsoft KB
//! 945536), checked before apply (issue 18): signed catalogs of many vendors made by the
//! generator, planned and applied by the real binary on the embedded server, and the
//! server's own refusal when a publication bypasses the plan.

use crate::support;

use std::path::{Path, PathBuf};

use supctl::store::{Change, LocalCategory, Store, StoreError};
use supctl_test_kit::bench;
use supctl_test_kit::generator;

/// A signed, metadata-only catalog of `vendors` vendors with one product each (two
/// categories per vendor) at `dir/<name>.cab`; `None` without osslsigncode.
fn catalog_of_vendors(dir: &Path, name: &str, vendors: usize) -> Option<PathBuf> {
    if !support::signed::osslsigncode() {
        eprintln!("skipped: osslsigncode is not installed");
        return None;
    }
    let pki = support::e2e::repo("examples/quickstart/pki");
    let out = dir.join(format!("{name}.cab"));
    generator::run(&generator::Options {
        format: generator::Format::V3,
        profile: generator::Profile::Vendors {
            vendors,
            products: 1,
        },
        seed: 18,
        out: out.clone(),
        content_dir: None,
        content_size: 256,
        signer: Some(generator::Signer {
            cert: pki.join("signer.pem"),
            key: pki.join("signer.key"),
            time: sign_time(&pki.join("signer.pem")),
        }),
        content_certs: vec![pki.join("signer.cer")],
        unsigned_content: 0,
        uninstallable: 0,
        v2_copies: true,
        content_signer: None,
    })
    .expect("generate the catalog");
    Some(out)
}

/// The signer's notBefore + 60 s, as scripts/make-quickstart.sh picks it.
fn sign_time(pem: &Path) -> i64 {
    let pem = std::fs::read(pem).unwrap();
    let (_, pem) = x509_parser::pem::parse_x509_pem(&pem).unwrap();
    pem.parse_x509().unwrap().validity().not_before.timestamp() + 60
}

fn run(config: &Path, args: &[&str]) -> support::e2e::Run {
    support::e2e::run(config, args)
}

#[test]
fn a_plan_past_100_categories_names_the_newcomers_and_apply_refuses_it() {
    let dir = tempfile::tempdir().unwrap();
    // 60 vendors × (vendor + product) = 120 categories on an empty server.
    let Some(cab) = catalog_of_vendors(dir.path(), "many", 60) else {
        return;
    };
    let cfg = support::catalog::config(dir.path(), &cab, "");

    let plan = run(&cfg, &["plan"]);
    assert_eq!(plan.code, 1, "{}", plan.all());
    let out = plan.all();
    assert!(out.contains("category-limit"), "{out}");
    assert!(
        out.contains("would create 120 new locally published categories (vendor \"Vendor 000\", product \"Product 00\" of \"Vendor 000\", vendor \"Vendor 001\""),
        "{out}"
    );
    assert!(out.contains("and 110 more"), "{out}");
    assert!(
        out.contains(
            "the server has 0 and this plan would bring it to 120, past WSUS's limit of 100"
        ),
        "{out}"
    );
    assert!(out.contains("narrow `categories` of [catalog.t]"), "{out}");

    let (code, json) = support::e2e::plan_json(&cfg, &[]);
    assert_eq!(code, 1);
    let diag = json["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["code"] == "category-limit")
        .expect("a category-limit diagnostic");
    assert_eq!(
        (diag["severity"].as_str(), diag["address"].as_str()),
        (Some("error"), Some("catalog.t"))
    );
    assert_eq!(
        json["summary"]["updates"]["publish"], 0,
        "the publishes that create categories are held back"
    );

    let apply = run(&cfg, &["apply", "--auto-approve"]);
    assert_eq!(apply.code, 1, "{}", apply.all());
    assert!(apply.all().contains("category-limit"), "{}", apply.all());
    let loc = supctl::store::StoreLocation::new(dir.path().join("state"));
    if let Ok(store) = Store::embedded(&loc, supctl::store::db::OpenOptions::read()) {
        assert!(
            store.snapshot().unwrap().updates.is_empty(),
            "nothing was published"
        );
    }
}

#[test]
fn a_catalog_under_the_limit_applies_and_the_server_counts_its_categories() {
    let dir = tempfile::tempdir().unwrap();
    // 50 vendors: exactly 100.
    let Some(cab) = catalog_of_vendors(dir.path(), "fifty", 50) else {
        return;
    };
    let cfg = support::catalog::config(dir.path(), &cab, "");
    let apply = run(&cfg, &["apply", "--auto-approve"]);
    assert_eq!(apply.code, 0, "{}", apply.all());
    assert!(!apply.all().contains("category-limit"), "{}", apply.all());
    let loc = supctl::store::StoreLocation::new(dir.path().join("state"));
    let store = Store::embedded(&loc, supctl::store::db::OpenOptions::read()).unwrap();
    let actual = store.snapshot().unwrap();
    assert_eq!(actual.updates.len(), 50);
    assert_eq!(actual.local_categories.len(), 100);
    assert!(actual.local_categories.contains(&LocalCategory::Product {
        vendor: "Vendor 049".into(),
        product: "Product 00".into()
    }));
    let again = run(&cfg, &["plan", "--detailed-exitcode"]);
    assert_eq!(again.code, 0, "converged: {}", again.all());
}

/// `bench::update(i)` moved to vendor `V<i>` with product `P`: two new categories each.
fn of_own_vendor(i: usize) -> supctl::catalog::model::UpdateRecord {
    let mut r = bench::update(i);
    r.vendor = format!("V{i:03}").into();
    r.products = vec!["P".into()].into();
    r
}

#[test]
fn both_servers_refuse_a_publication_past_the_limit_naming_the_newcomers() {
    let (_d, local) = support::store::local();
    let memory = Store::memory().unwrap();
    for store in [&local, &memory] {
        store
            .apply(Change::UpsertCatalog(bench::catalog()))
            .unwrap();
        // 49 vendors = 98 categories, then one more vendor = 100: accepted.
        support::store::publish(store, (0..49).map(of_own_vendor).collect());
        support::store::publish(store, vec![of_own_vendor(49)]);
        // Into categories the server has: accepted at the limit.
        let mut same = bench::update(200);
        same.vendor = "V000".into();
        same.products = vec!["P".into()].into();
        support::store::publish(store, vec![same]);
        let err = store
            .apply(Change::PublishUpdates {
                catalog: bench::catalog_key(),
                packed: Default::default(),
                updates: vec![of_own_vendor(50), of_own_vendor(51)],
            })
            .unwrap_err();
        let StoreError::CategoryLimit(e) = &err else {
            panic!("{} refused with another error: {err}", store.name());
        };
        assert_eq!((e.existing, e.limit, e.newcomers.len()), (100, 100, 4));
        let text = err.to_string();
        assert!(
            text.contains("would create 4 new locally published categories (vendor \"V050\", product \"P\" of \"V050\", vendor \"V051\", product \"P\" of \"V051\") on top of the 100 the server has"),
            "{text}"
        );
        let actual = store.snapshot().unwrap();
        assert_eq!(
            actual.updates.len(),
            51,
            "{}: nothing of the refused batch",
            store.name()
        );
        assert_eq!(actual.local_categories.len(), 100);
    }
}

/// The embedded server remembers its categories between its own publications (reading them
/// scans every update), but only for the database as it left it: categories another writer
/// added since are counted.
#[test]
fn a_publication_counts_the_categories_another_writer_added_since() {
    let (d, a) = support::store::local();
    a.apply(Change::UpsertCatalog(bench::catalog())).unwrap();
    // 40 vendors = 80 categories, remembered by `a`.
    support::store::publish(&a, (0..40).map(of_own_vendor).collect());
    // Another store on the same state directory adds 9 vendors: 98.
    let b = Store::embedded(
        &supctl::store::StoreLocation::new(d.path()),
        supctl::store::db::OpenOptions::write(),
    )
    .unwrap();
    support::store::publish(&b, (40..49).map(of_own_vendor).collect());
    drop(b);
    // One more vendor through `a` makes 100: accepted; the next is refused, counting b's.
    support::store::publish(&a, vec![of_own_vendor(49)]);
    let err = a
        .apply(Change::PublishUpdates {
            catalog: bench::catalog_key(),
            packed: Default::default(),
            updates: vec![of_own_vendor(50)],
        })
        .unwrap_err();
    let StoreError::CategoryLimit(e) = &err else {
        panic!("refused with another error: {err}");
    };
    assert_eq!((e.existing, e.newcomers.len()), (100, 2), "{err}");
}
