//! Apply reads the packages a plan refers to through `Packages`, one catalog at a time.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::converge_tests::{config, content, plan, run_reading as apply, trusted, update};
use super::*;
use crate::catalog::model::{FormatVersion, UpdateRecord};
use crate::ids::{Sha256, UpdateId};
use crate::plan::Payload;
use crate::store::CatalogKey;

/// The catalog's packages in memory, counting reads; `alter` changes what it gives.
struct Catalog {
    full: Vec<UpdateRecord>,
    reads: AtomicUsize,
    alter: fn(&mut UpdateRecord),
    /// Puts the records in the order the catalog gives them.
    order: fn(&mut Vec<UpdateRecord>),
    fail: bool,
}

impl Packages for Catalog {
    fn reader(
        &self,
        catalog: &CatalogKey,
        wanted: BTreeMap<UpdateId, Sha256>,
    ) -> Result<PackageReader, PackageError> {
        self.reads.fetch_add(1, Ordering::SeqCst);
        assert_eq!(catalog.as_str(), "acme");
        let fail = self.fail;
        let alter = self.alter;
        let mut records: Vec<UpdateRecord> = self
            .full
            .iter()
            .filter(|u| wanted.contains_key(&u.id))
            .cloned()
            .collect();
        (self.order)(&mut records);
        Ok(Box::new(
            move |give: &mut dyn FnMut(UpdateRecord) -> bool| {
                if fail {
                    return Err(PackageError::Read(
                        "the CAB of catalog `acme` vanished".into(),
                    ));
                }
                for mut u in records {
                    alter(&mut u);
                    if !give(u) {
                        break;
                    }
                }
                Ok(())
            },
        ))
    }
}

fn catalog(n: u32) -> Catalog {
    Catalog {
        full: (1..=n).map(|i| update(i, "1.0")).collect(),
        reads: AtomicUsize::new(0),
        alter: |_| {},
        order: |_| {},
        fail: false,
    }
}

/// A plan publishing `n` updates whose payloads are summaries, as planning makes them.
fn summarised_plan(b: &Store, n: u32) -> Plan {
    let updates = (1..=n).map(|i| update(i, "1.0")).collect();
    let mut p = plan(
        b,
        &config(""),
        &trusted(content(updates, FormatVersion::V3)),
    );
    for a in &mut p.actions {
        if let Some(Payload::Update { record }) = &mut a.payload {
            *record = Arc::new(UpdateRecord {
                raw_xml: String::new(),
                raw_hash: Some(record.content_hash()),
                ..(**record).clone()
            });
        }
    }
    p
}

fn publishes(r: &Report, failed: bool) -> usize {
    if failed {
        r.failed
            .iter()
            .filter(|f| f.action == ActionKind::Publish)
            .count()
    } else {
        r.done
            .iter()
            .filter(|d| d.action == ActionKind::Publish)
            .count()
    }
}

#[test]
fn packages_are_read_once_per_catalog_and_published_with_their_xml() {
    let b = Store::memory().unwrap();
    // Three batches of publishes.
    let p = summarised_plan(&b, 1200);
    let source = catalog(1200);
    let r = apply(&b, &p, Some(&source));
    assert!(r.succeeded(), "{:?}", r.failed.first());
    assert_eq!(publishes(&r, false), 1200);
    assert_eq!(
        source.reads.load(Ordering::SeqCst),
        1,
        "one read per catalog"
    );
    let xml = b.raw_xml(&update(7, "1.0").id, None).unwrap();
    assert_eq!(xml, Some(update(7, "1.0").raw_xml));
}

#[test]
fn a_package_that_cannot_be_read_fails_its_batch_and_stops_the_apply() {
    let b = Store::memory().unwrap();
    let p = summarised_plan(&b, 700);
    let source = Catalog {
        fail: true,
        ..catalog(700)
    };
    let r = apply(&b, &p, Some(&source));
    assert_eq!(publishes(&r, true), 500, "the first batch");
    assert!(
        r.failed[0]
            .error
            .contains("the CAB of catalog `acme` vanished"),
        "{:?}",
        r.failed[0]
    );
    assert!(r.not_attempted.len() >= 200, "the rest is not attempted");
    assert_eq!(b.raw_xml(&update(1, "1.0").id, None).unwrap(), None);
}

#[test]
fn a_package_other_than_the_planned_one_is_not_published() {
    let b = Store::memory().unwrap();
    let p = summarised_plan(&b, 3);
    let source = Catalog {
        alter: |u| u.raw_xml.push_str("<!-- changed -->"),
        ..catalog(3)
    };
    let r = apply(&b, &p, Some(&source));
    assert_eq!(publishes(&r, true), 3);
    assert!(
        r.failed[0].error.contains("is not the one planned"),
        "{:?}",
        r.failed[0]
    );
    assert_eq!(b.raw_xml(&update(1, "1.0").id, None).unwrap(), None);
}

#[test]
fn a_plan_that_refers_to_packages_needs_somewhere_to_read_them() {
    let b = Store::memory().unwrap();
    let p = summarised_plan(&b, 2);
    let r = apply(&b, &p, None);
    assert_eq!(publishes(&r, true), 2);
    assert!(
        r.failed[0].error.contains("no catalog to read it from"),
        "{:?}",
        r.failed[0]
    );
}

#[test]
fn packages_the_catalog_gives_in_another_order_than_the_plan_are_all_published() {
    let b = Store::memory().unwrap();
    let p = summarised_plan(&b, 1200);
    let source = Catalog {
        order: |v| v.reverse(),
        ..catalog(1200)
    };
    let r = apply(&b, &p, Some(&source));
    assert!(r.succeeded(), "{:?}", r.failed.first());
    assert_eq!(publishes(&r, false), 1200);
    assert_eq!(source.reads.load(Ordering::SeqCst), 1);
    let xml = b.raw_xml(&update(1100, "1.0").id, None).unwrap();
    assert_eq!(xml, Some(update(1100, "1.0").raw_xml));
}

#[test]
fn a_refused_publish_leaves_the_rest_of_its_catalog_to_be_published() {
    let b = Store::memory().unwrap();
    let mut p = summarised_plan(&b, 1200);
    // Something else "changed" updates 5 and 700 since the plan: their publishes are
    // refused, and the packages read for them must not stand in for the next ones.
    let refused = [update(5, "1.0").id, update(700, "1.0").id];
    for a in &mut p.actions {
        if let Some(crate::store::Target::Update(_, id)) = a.address.target()
            && refused.contains(&id)
        {
            a.before_fingerprint =
                Some(crate::store::Fingerprint::parse(&"ab".repeat(32)).unwrap());
        }
    }
    let source = catalog(1200);
    let r = apply(&b, &p, Some(&source));
    assert_eq!(r.refused.len(), 2, "{:?}", r.refused);
    assert!(r.failed.is_empty(), "{:?}", r.failed.first());
    assert_eq!(publishes(&r, false), 1198);
    assert_eq!(b.raw_xml(&update(5, "1.0").id, None).unwrap(), None);
    let xml = b.raw_xml(&update(6, "1.0").id, None).unwrap();
    assert_eq!(xml, Some(update(6, "1.0").raw_xml));
}

#[test]
fn a_package_the_catalog_does_not_give_fails_its_batch() {
    let b = Store::memory().unwrap();
    let p = summarised_plan(&b, 700);
    let source = Catalog {
        // The reader gives the first 600 only (a reader breaking its promise).
        order: |v| v.truncate(600),
        ..catalog(700)
    };
    let r = apply(&b, &p, Some(&source));
    assert_eq!(publishes(&r, false), 500, "the first batch");
    assert_eq!(publishes(&r, true), 200, "the second");
    assert!(
        r.failed[0].error.contains("is not the one planned"),
        "{:?}",
        r.failed[0]
    );
}
