//! The embedded server's snapshot cache is never the truth: whatever changes the tables a
//! snapshot reads (through supctl or around it), the next snapshot shows the change, and a
//! damaged cache file is read past.

use supctl::catalog::model::Category;
use supctl::ids::{CategoryId, UpdateId};
use supctl::store::*;
use supctl_test_kit::bench::{update, update_id};

use crate::support::store::{local, publish, setup, stage_req};

/// The snapshot as the database has it: with no cache file, the snapshot reads the tables
/// (and writes the file again).
fn truth(dir: &std::path::Path, b: &Store) -> ActualState {
    let _ = std::fs::remove_file(cache_path(dir));
    b.snapshot().unwrap()
}

fn cache_path(dir: &std::path::Path) -> std::path::PathBuf {
    StoreLocation::new(dir).snapshot_cache_path()
}

fn category(i: u128, members: &[usize]) -> Category {
    Category {
        id: CategoryId::from_bits(0xC0DE_0000 + i),
        display_name: format!("Category {i}"),
        parent: (i > 1).then(|| CategoryId::from_bits(0xC0DE_0001)),
        members: members.iter().map(|&m| update_id(m)).collect(),
        path: format!("Root/Category {i}"),
    }
}

#[test]
fn the_cache_holds_what_the_database_holds() {
    let (d, b) = local();
    let key = setup(&b);
    b.apply(Change::ReplaceCategories {
        catalog: key.clone(),
        categories: vec![category(1, &[0, 1]), category(2, &[2, 3, 4])],
    })
    .unwrap();
    b.apply(stage_req(&b, 1, &supctl_test_kit::bench::content(1)))
        .unwrap();
    let first = b.snapshot().unwrap();
    assert!(cache_path(d.path()).is_file(), "the snapshot keeps a cache");
    assert_eq!(first.updates.len(), 5);
    assert!(first.updates[&update_id(1)].deployable());
    assert_eq!(first.updates[&update_id(2)].supersedes, [update_id(1)]);
    assert_eq!(first.updates[&update_id(1)].superseded_by, [update_id(2)]);
    assert_eq!(first.categories[&key].len(), 2);
    let cached = b.snapshot().unwrap();
    assert_eq!(cached, first, "read from the cache");
    assert_eq!(truth(d.path(), &b), first, "read from the database");
}

#[test]
fn every_change_a_snapshot_reads_makes_the_cache_stale() {
    let (d, b) = local();
    let key = setup(&b);
    type Edit = Box<dyn Fn(&Store)>;
    let changes: Vec<Edit> = vec![
        Box::new(|b| {
            publish(b, (5..8).map(update).collect());
        }),
        Box::new(|b| {
            let mut revised = update(3);
            revised.raw_xml.push_str("<!-- revised -->");
            revised.localized[0].title = "Revised title".into();
            publish(b, vec![revised]);
        }),
        Box::new(|b| {
            b.apply(stage_req(b, 4, &supctl_test_kit::bench::content(4)))
                .unwrap();
        }),
        Box::new(|b| {
            b.apply(Change::SetDeclined {
                ids: vec![update_id(4)],
                declined: true,
            })
            .unwrap();
        }),
        Box::new(|b| {
            b.apply(Change::ExpireUpdates {
                ids: vec![update_id(0)],
            })
            .unwrap();
        }),
        Box::new(move |b| {
            b.apply(Change::ReplaceCategories {
                catalog: key.clone(),
                categories: vec![category(1, &[1]), category(3, &[5, 6])],
            })
            .unwrap();
        }),
        Box::new(|b| {
            // Update 4 is declined by now: its content may go.
            let sha1 = b.snapshot().unwrap().updates[&update_id(4)].files[0].sha1;
            b.apply(Change::RemoveContent { sha1s: vec![sha1] })
                .unwrap();
        }),
    ];
    for (i, change) in changes.iter().enumerate() {
        let before = b.snapshot().unwrap();
        change(&b);
        let after = b.snapshot().unwrap();
        assert_ne!(after, before, "change {i} changed nothing the test can see");
        assert_eq!(
            after,
            truth(d.path(), &b),
            "change {i}: a stale cache was read"
        );
    }
}

#[test]
fn a_change_made_around_supctl_makes_the_cache_stale() {
    let (d, b) = local();
    setup(&b);
    let before = b.snapshot().unwrap();
    let db = rusqlite::Connection::open(StoreLocation::new(d.path()).db_path()).unwrap();
    let id = update_id(3).to_string();
    let edits = [
        (
            "UPDATE updates SET title = 'Edited by hand' WHERE id = ?1",
            1,
        ),
        ("DELETE FROM supersedence WHERE update_id = ?1", 1),
        (
            "UPDATE update_files SET name = 'renamed.exe' WHERE update_id = ?1",
            1,
        ),
    ];
    let mut last = before;
    for (sql, rows) in edits {
        assert_eq!(db.execute(sql, [&id]).unwrap(), rows, "{sql}");
        let now = b.snapshot().unwrap();
        assert_ne!(now, last, "{sql}: the cache hid a change made with SQL");
        assert_eq!(now, truth(d.path(), &b), "{sql}");
        last = now;
    }
    assert_eq!(last.updates[&update_id(3)].title, "Edited by hand");
    assert!(last.updates[&update_id(3)].supersedes.is_empty());
    assert!(last.updates[&update_id(2)].superseded_by.is_empty());
    assert_eq!(last.updates[&update_id(3)].files[0].name, "renamed.exe");
}

#[test]
fn a_damaged_cache_is_read_past_and_replaced() {
    let (d, b) = local();
    setup(&b);
    let want = b.snapshot().unwrap();
    let path = cache_path(d.path());
    let good = std::fs::read(&path).unwrap();
    let id: UpdateId = update_id(2);
    let mut damaged: Vec<(String, Vec<u8>)> = [0, 7, 27, 28, 40, good.len() / 2, good.len() - 1]
        .into_iter()
        .map(|n| (format!("cut at {n}"), good[..n].to_vec()))
        .collect();
    let mut longer = good.clone();
    longer.push(0);
    damaged.push(("a byte too many".into(), longer));
    let mut huge = good.clone();
    // The first chunk's length (after the 28-byte header) made absurd.
    huge[28..32].copy_from_slice(&u32::MAX.to_le_bytes());
    damaged.push(("a chunk length past any limit".into(), huge));
    let mut flipped = good.clone();
    let at = good.len() * 3 / 4;
    flipped[at] ^= 0x5A;
    damaged.push(("a byte changed".into(), flipped));
    for (what, bytes) in damaged {
        std::fs::write(&path, &bytes).unwrap();
        let got = b.snapshot().unwrap_or_else(|e| panic!("{what}: {e}"));
        assert_eq!(got, want, "{what}");
        assert_eq!(std::fs::read(&path).unwrap(), good, "{what}: rewritten");
    }
    assert!(want.updates.contains_key(&id));
}

#[test]
fn snapshots_leave_descriptions_out_and_an_update_page_reads_them_from_the_database() {
    use supctl::web::UpdateSource;
    let (d, b) = local();
    setup(&b);
    publish(&b, vec![update(1)]);
    let snapshot = b.snapshot().unwrap();
    let id = update_id(1);
    assert!(snapshot.updates.contains_key(&id));
    let loc = StoreLocation::new(d.path());
    // The embedded server's page and a WSUS's (from the snapshot, the description from the
    // site database in the same state directory).
    for source in [
        UpdateSource::Embedded(loc.clone()),
        UpdateSource::Snapshot(loc.clone()),
    ] {
        let (u, description) = source.get(&id, Some(&snapshot)).unwrap().unwrap();
        assert_eq!(u, *snapshot.updates[&id]);
        assert_eq!(description.as_deref(), Some("A synthetic update"));
    }
    // No page for an update the snapshot does not hold, whatever the database holds.
    assert!(
        UpdateSource::Snapshot(loc)
            .get(&id, None)
            .unwrap()
            .is_none()
    );
}
