//! One test per hygiene rule of [`decide`].

use std::time::Duration;

use chrono::{DateTime, Utc};

use super::*;

const DAY: u64 = 86_400;

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

fn replacement(created: &str) -> Replacement {
    Replacement {
        id: UpdateId::parse("00000000-0000-4000-8000-000000000002").unwrap(),
        title: "Tool 1.1".into(),
        created: at(created),
    }
}

fn rules(decline_days: Option<u64>, expire_days: Option<u64>, decline_expired: bool) -> Hygiene {
    Hygiene {
        decline_superseded: decline_days.map(|d| Duration::from_secs(d * DAY)),
        decline_expired: Some(decline_expired),
        expire_superseded: expire_days.map(|d| Duration::from_secs(d * DAY)),
        remove_content_of: None,
    }
}

fn facts(replacements: &[Replacement]) -> Facts<'_> {
    Facts {
        expired: false,
        declined: false,
        declined_by_rule: false,
        replacements,
    }
}

const NOW: &str = "2026-11-02T00:00:00Z";

#[test]
fn a_superseded_update_is_declined_only_past_the_delay() {
    let r = [replacement("2026-10-02T00:00:00Z")];
    let within = decide(&facts(&r), &rules(Some(60), None, false), at(NOW));
    assert_eq!(within, vec![], "31 days is within 60");
    let past = decide(&facts(&r), &rules(Some(30), None, false), at(NOW));
    let [Decision::Decline(why)] = past.as_slice() else {
        panic!("{past:?}")
    };
    assert!(
        why.contains("superseded by 00000000-0000-4000-8000-000000000002 (\"Tool 1.1\") on 2026-10-02, 31 days ago"),
        "{why}"
    );
    let at_once = decide(&facts(&r), &rules(Some(0), None, false), at(NOW));
    assert!(
        matches!(at_once.as_slice(), [Decision::Decline(_)]),
        "0 days: at once"
    );
}

#[test]
fn the_newest_of_its_chain_is_kept() {
    assert_eq!(
        decide(&facts(&[]), &rules(Some(0), Some(0), true), at(NOW)),
        vec![]
    );
}

#[test]
fn the_earliest_replacement_starts_the_delay() {
    let r = [
        replacement("2026-10-30T00:00:00Z"),
        replacement("2026-09-01T00:00:00Z"),
    ];
    assert!(matches!(
        decide(&facts(&r), &rules(Some(60), None, false), at(NOW)).as_slice(),
        [Decision::Decline(_)]
    ));
}

#[test]
fn expiry_of_superseded_updates_comes_first_and_declining_follows() {
    let r = [replacement("2026-07-01T00:00:00Z")];
    let d = decide(&facts(&r), &rules(None, Some(90), false), at(NOW));
    assert!(
        matches!(d.as_slice(), [Decision::Expire(w)] if w.contains("expire_superseded = \"90 days\"")),
        "{d:?}"
    );
    // Past both delays: expired, and declined as decline_superseded asks.
    let d = decide(&facts(&r), &rules(Some(30), Some(90), false), at(NOW));
    assert!(
        matches!(d.as_slice(), [Decision::Expire(_), Decision::Decline(w)] if w.contains("decline_superseded")),
        "{d:?}"
    );
    // With decline_expired, the expired update is declined in the same plan.
    let d = decide(&facts(&r), &rules(None, Some(90), true), at(NOW));
    assert!(
        matches!(d.as_slice(), [Decision::Expire(_), Decision::Decline(w)] if w.contains("decline_expired")),
        "{d:?}"
    );
    let f = Facts {
        expired: true,
        ..facts(&r)
    };
    assert!(
        !decide(&f, &rules(Some(30), Some(90), false), at(NOW))
            .iter()
            .any(|d| matches!(d, Decision::Expire(_))),
        "an expired update is not expired again"
    );
}

#[test]
fn an_expired_update_is_declined_when_asked() {
    let f = Facts {
        expired: true,
        ..facts(&[])
    };
    assert_eq!(
        decide(&f, &rules(None, None, true), at(NOW)),
        vec![Decision::Decline("expired (decline_expired = true)".into())]
    );
    assert_eq!(decide(&f, &rules(None, None, false), at(NOW)), vec![]);
    let declined = Facts {
        declined: true,
        ..f
    };
    assert_eq!(
        decide(&declined, &rules(None, None, true), at(NOW)),
        vec![],
        "already declined"
    );
}

#[test]
fn only_a_decline_made_by_a_rule_is_undeclined_when_no_rule_applies() {
    let by_rule = Facts {
        declined: true,
        declined_by_rule: true,
        ..facts(&[])
    };
    assert!(matches!(
        decide(&by_rule, &rules(Some(30), None, false), at(NOW)).as_slice(),
        [Decision::Undecline(w)] if w.contains("newest of its chain")
    ));
    let by_admin = Facts {
        declined: true,
        ..facts(&[])
    };
    assert_eq!(
        decide(&by_admin, &rules(Some(30), None, false), at(NOW)),
        vec![],
        "an admin's decline is not supctl's to undo"
    );
    // Still superseded past the delay: stays declined.
    let r = [replacement("2026-10-02T00:00:00Z")];
    let still = Facts {
        declined: true,
        declined_by_rule: true,
        ..facts(&r)
    };
    assert_eq!(
        decide(&still, &rules(Some(30), None, false), at(NOW)),
        vec![]
    );
    // The rule lengthened past the replacement's age: undeclined.
    assert!(matches!(
        decide(&still, &rules(Some(60), None, false), at(NOW)).as_slice(),
        [Decision::Undecline(_)]
    ));
}
