//! The daemon's next-run times in the store (`Record::NextRun`, schema v4): idempotent,
//! replaced per scope, equal in the local and memory backends, and survive reopening.

use chrono::{Duration, TimeZone, Utc};
use supctl::store::Record;

use supctl::store::db::OpenOptions;
use supctl::store::{Address, NextRun, Store, StoreLocation};

fn next(scope: &str, secs: i64, schedule: &str) -> NextRun {
    NextRun {
        scope: Address::parse(scope).unwrap(),
        due: Utc.with_ymd_and_hms(2026, 3, 1, 2, 0, 0).unwrap() + Duration::seconds(secs),
        schedule: schedule.into(),
    }
}

fn exercise(b: &Store) -> Vec<NextRun> {
    assert!(b.next_runs().unwrap().is_empty());
    let a = next("catalog.dell", 0, "every 7 days @+00:00");
    assert!(b.apply(Record::NextRun(a.clone())).unwrap().changed);
    assert!(
        !b.apply(Record::NextRun(a.clone())).unwrap().changed,
        "not idempotent"
    );
    let s = next("sync", 60, "every 1 day at 02:00 @+01:00");
    assert!(b.apply(Record::NextRun(s)).unwrap().changed);
    let later = next("catalog.dell", 3600, "every 7 days @+00:00");
    assert!(b.apply(Record::NextRun(later.clone())).unwrap().changed);
    let all = b.next_runs().unwrap();
    assert_eq!(all.len(), 2);
    assert_eq!(all.iter().find(|n| n.scope == later.scope), Some(&later));
    all
}

#[test]
fn next_runs_are_idempotent_and_equal_across_backends() {
    let dir = tempfile::tempdir().unwrap();
    let loc = StoreLocation::new(dir.path().join("state"));
    let local = Store::embedded(&loc, OpenOptions::write()).unwrap();
    assert_eq!(
        local.state().db().schema_version(),
        supctl::store::schema::LATEST
    );
    let mut from_local = exercise(&local);
    let mut from_memory = exercise(&Store::memory().unwrap());
    from_local.sort_by(|a, b| a.scope.cmp(&b.scope));
    from_memory.sort_by(|a, b| a.scope.cmp(&b.scope));
    assert_eq!(from_local, from_memory);
    drop(local);
    let reopened = Store::embedded(&loc, OpenOptions::read()).unwrap();
    let mut again = reopened.next_runs().unwrap();
    again.sort_by(|a, b| a.scope.cmp(&b.scope));
    assert_eq!(again, from_local);
}
