//! Schedules: a catalog scheduled `every 1 hour`, run with the test-only schedule scale
//! (1 h / 1800 = 2 s), fires repeatedly with ±5 % jitter and its runs never overlap; a slot
//! missed while the daemon was stopped runs once at the next start (next-run times are
//! persisted in the store), and not again until the next slot.

use crate::support::watch as watch_common;

use std::time::Duration;

use watch_common::{Watch, Workspace, count, store_facts};

#[test]
fn a_short_schedule_fires_repeatedly_with_jitter_without_overlap_and_catches_up_once() {
    let ws = Workspace::quickstart();
    ws.edit_config(
        r#"schedule = "every 7 days""#,
        r#"schedule = "every 1 hour""#,
    );
    let mut w = Watch::start(&ws, &[], Some(1800));
    let ev = w.wait_for("four scheduled runs", Duration::from_secs(20), |ev| {
        count(ev, "synchronized", Some(("reason", "schedule"))) >= 4
    });
    assert_eq!(w.stop(Duration::from_secs(10)), 0, "{}", w.dump());

    // Jitter: each next run is 2 s ± 5 % (100 ms), and not the same offset every time.
    let jitters: Vec<i64> = ev
        .iter()
        .filter(|e| e["fields"]["message"] == "next run scheduled")
        .map(|e| e["fields"]["jitter_ms"].as_i64().unwrap())
        .collect();
    assert!(jitters.len() >= 4, "{jitters:?}");
    assert!(jitters.iter().all(|j| j.abs() <= 100), "{jitters:?}");
    let mut distinct = jitters.clone();
    distinct.sort();
    distinct.dedup();
    assert!(distinct.len() >= 3, "jitter does not vary: {jitters:?}");

    // Runs of the catalog never overlap, and start about one period apart.
    let (runs, _) = store_facts(&ws);
    let mut runs: Vec<_> = runs
        .into_iter()
        .filter(|r| r.scope.as_str() == "catalog.contoso")
        .collect();
    runs.reverse();
    assert!(runs.len() >= 4, "{runs:?}");
    for pair in runs.windows(2) {
        let end = pair[0].ended.expect("ended");
        assert!(end <= pair[1].started, "overlapping runs: {pair:?}");
        let gap = (pair[1].started - pair[0].started).num_milliseconds();
        assert!((1800..6000).contains(&gap), "runs {gap} ms apart: {pair:?}");
    }

    // Stopped past the persisted next run: the next start runs it once (catch-up), then
    // waits for the next slot. At scale 1 the next slot is an hour away.
    std::thread::sleep(Duration::from_millis(2500));
    let before = count(&w.events(), "synchronized", None);
    let mut w2 = Watch::start(&ws, &[], None);
    let ev = w2.wait_for("the catch-up run", Duration::from_secs(20), |ev| {
        count(ev, "synchronized", Some(("reason", "schedule"))) >= 1
    });
    assert_eq!(
        count(&ev, "catching up a missed run", None),
        1,
        "{}",
        w2.dump()
    );
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(
        count(&w2.events(), "synchronized", None),
        1,
        "more than one run after the catch-up:\n{}",
        w2.dump()
    );
    assert_eq!(w2.stop(Duration::from_secs(10)), 0);
    assert!(before >= 5);

    // Started again at once, nothing is missed: no run at start-up.
    let mut w3 = Watch::start(&ws, &[], None);
    w3.wait_for("start-up", Duration::from_secs(10), |ev| {
        count(ev, "scheduled", None) >= 1
    });
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(count(&w3.events(), "reconciling", None), 0, "{}", w3.dump());
    assert_eq!(w3.stop(Duration::from_secs(10)), 0);
}
