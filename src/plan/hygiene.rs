//! Update hygiene (`[hygiene]`, `[catalog.<key>.hygiene]`): declining and expiring the
//! superseded and expired updates that make client scans slow, as planned actions with
//! their reasons.
//!
//! Rules, and why:
//! - **Superseded means the chain goes on**: an update counts as superseded when an update
//!   superseding it, or one superseding that (at any depth), will be live after the plan
//!   (on the server or published now, neither expired nor declined). An update whose chain
//!   ends with it (every newer one expired or declined) is the newest of its chain, and
//!   declining it would leave clients nothing to install.
//! - **The delay runs from the replacement's date**: the `CreationDate` the vendor gave the
//!   earliest live replacement, so a plan says exactly when (`superseded by … on
//!   2026-10-02, 31 days ago`) and two update points decide alike.
//! - **Expiry first, then the decline**: `expire_superseded` plans the expiry, and a decline
//!   that `decline_expired` or `decline_superseded` asks for follows in the same plan (a
//!   second action on the update, checked by apply against what the first left), so the
//!   next plan finds nothing left to do.
//! - **Only what supctl declined is undeclined**: a decline made by a rule is recorded
//!   (inventory `declined`); when no rule asks for it any more (a rule removed, a delay
//!   lengthened, the replacement expired) the plan undeclines it. An admin's own decline in
//!   the console is never touched.
//! - **The plan's own actions count**: an update published now can be declined now (an old
//!   version in a catalog's first sync), one the catalog expires now can be declined now, and
//!   content is not staged for an update declined now, so one apply converges.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::builder::{Builder, Change};
use super::model::{ActionKind, Payload};
use crate::catalog::model::PublicationState;
use crate::config::Hygiene;
use crate::ids::UpdateId;
use crate::store::{Address, CatalogKey, Origin, StoredUpdate};

/// A live update that supersedes another.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Replacement {
    pub id: UpdateId,
    pub title: String,
    pub created: DateTime<Utc>,
}

/// What the rules want for one update.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Decline(String),
    Undecline(String),
    Expire(String),
}

/// The facts about one update the rules read.
pub struct Facts<'a> {
    pub expired: bool,
    pub declined: bool,
    /// Declined by a hygiene rule of supctl's (so supctl may undecline it).
    pub declined_by_rule: bool,
    /// Its live replacements (empty: the newest of its chain).
    pub replacements: &'a [Replacement],
}

fn days(d: chrono::TimeDelta) -> i64 {
    d.num_days()
}

/// Whether `since` lies at least `delay` before `now`.
fn past(since: DateTime<Utc>, delay: Duration, now: DateTime<Utc>) -> bool {
    chrono::TimeDelta::from_std(delay).is_ok_and(|d| now - since >= d)
}

/// The decisions for one update (none when it is as the rules want it; an expiry may be
/// followed by the decline `decline_expired` asks for).
pub fn decide(f: &Facts<'_>, rules: &Hygiene, now: DateTime<Utc>) -> Vec<Decision> {
    let first = f.replacements.iter().min_by_key(|r| r.created);
    let superseded = |delay: Option<Duration>, key: &str| -> Option<String> {
        let (delay, r) = (delay?, first?);
        past(r.created, delay, now).then(|| {
            format!(
                "superseded by {} (\"{}\") on {}, {} days ago ({key} = \"{} days\")",
                r.id,
                r.title,
                r.created.format("%Y-%m-%d"),
                days(now - r.created),
                delay.as_secs() / 86_400
            )
        })
    };
    let mut out = Vec::new();
    let mut expired = f.expired;
    if !expired && let Some(why) = superseded(rules.expire_superseded, "expire_superseded") {
        out.push(Decision::Expire(why));
        expired = true;
    }
    let wanted = if expired && rules.decline_expired == Some(true) {
        Some("expired (decline_expired = true)".to_string())
    } else {
        superseded(rules.decline_superseded, "decline_superseded")
    };
    match wanted {
        Some(why) if !f.declined => out.push(Decision::Decline(why)),
        None if f.declined && f.declined_by_rule => out.push(Decision::Undecline(
            if f.replacements.is_empty() && !expired {
                "no live update supersedes it any more: it is the newest of its chain".into()
            } else {
                "no hygiene rule declines it any more".into()
            },
        )),
        _ => {}
    }
    out
}

fn live(u: &StoredUpdate) -> bool {
    u.publication != PublicationState::Expired && !u.declined
}

/// Who supersedes whom, and which updates will be live after the plan's other actions.
struct Chains {
    successors: HashMap<UpdateId, Vec<Replacement>>,
    alive: HashSet<UpdateId>,
}

impl Chains {
    /// Whether `id`, or an update that supersedes it (at any depth), will be live: then its
    /// chain goes on and what it supersedes is superseded.
    fn goes_on(&self, id: &UpdateId, seen: &mut HashSet<UpdateId>) -> bool {
        if self.alive.contains(id) {
            return true;
        }
        if !seen.insert(*id) {
            return false;
        }
        self.successors
            .get(id)
            .is_some_and(|next| next.iter().any(|r| self.goes_on(&r.id, seen)))
    }

    /// The updates superseding `id` whose chain goes on.
    fn replacements(&self, id: &UpdateId) -> Vec<Replacement> {
        self.successors
            .get(id)
            .map(|next| {
                next.iter()
                    .filter(|r| self.goes_on(&r.id, &mut HashSet::new()))
                    .cloned()
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// Plans the hygiene of every subscribed catalog's updates: those on the server and those
/// this plan publishes.
pub(super) fn plan_hygiene(b: &mut Builder) {
    let cfg = b.inputs.desired;
    if !cfg.hygiene.any() && !cfg.catalogs.values().any(|c| c.hygiene.any()) {
        // No rule anywhere: still undecline what rules declined before they were removed.
        if !b
            .inputs
            .actual
            .inventory
            .values()
            .any(|o| *o == Origin::Declined)
        {
            return;
        }
    }
    let actual = b.inputs.actual;
    let now = b.inputs.now;
    let mut pending: HashMap<Address, Vec<ActionKind>> = HashMap::new();
    for a in &b.actions {
        pending.entry(a.address.clone()).or_default().push(a.kind);
    }
    let planned = |address: &Address, kind: ActionKind| {
        pending.get(address).is_some_and(|k| k.contains(&kind))
    };
    let mut chains = Chains {
        successors: HashMap::new(),
        alive: HashSet::new(),
    };
    for s in actual.updates.values() {
        let expiring = planned(&Address::update(&s.catalog, &s.id), ActionKind::Expire);
        if live(s) && !expiring {
            chains.alive.insert(s.id);
        }
        for old in &s.supersedes {
            chains
                .successors
                .entry(*old)
                .or_default()
                .push(Replacement {
                    id: s.id,
                    title: s.title.clone(),
                    created: s.created,
                });
        }
    }
    // Updates this plan publishes (new ones, by catalog).
    let mut arriving: Vec<(&Address, &crate::catalog::model::UpdateRecord)> = Vec::new();
    for a in &b.actions {
        if let (ActionKind::Publish | ActionKind::Revise, Some(Payload::Update { record })) =
            (a.kind, &a.payload)
            && record.publication_state != PublicationState::Expired
        {
            chains.alive.insert(record.id);
            for old in &record.superseded {
                let next = chains.successors.entry(*old).or_default();
                if !next.iter().any(|r| r.id == record.id) {
                    next.push(Replacement {
                        id: record.id,
                        title: record.title().to_string(),
                        created: record.created,
                    });
                }
            }
            if a.kind == ActionKind::Publish {
                arriving.push((&a.address, record));
            }
        }
    }
    // An update undeclined now is live again for what it supersedes: decide until no new
    // undecline changes the chains (each round adds at least one live update, so it ends).
    let decided = loop {
        let mut decided: Vec<(Address, UpdateId, Vec<Decision>, serde_json::Value)> = Vec::new();
        for c in cfg.catalogs.values().filter(|c| c.subscribed) {
            let rules = c.hygiene.over(&cfg.hygiene);
            let Ok(key) = CatalogKey::parse(&c.key) else {
                continue;
            };
            for u in b.stored_of(&key).to_vec() {
                let address = Address::update(&key, &u.id);
                let replacements = chains.replacements(&u.id);
                let facts = Facts {
                    expired: u.publication == PublicationState::Expired
                        || planned(&address, ActionKind::Expire),
                    declined: u.declined,
                    declined_by_rule: actual.inventory.get(&address) == Some(&Origin::Declined),
                    replacements: &replacements,
                };
                let d = decide(&facts, &rules, now);
                if !d.is_empty() {
                    decided.push((address, u.id, d, super::updates::stored_json(u)));
                }
            }
            let prefix = Address::catalog(&key);
            for (address, r) in arriving.iter().filter(|(a, _)| a.is_within(&prefix)) {
                let replacements = chains.replacements(&r.id);
                let facts = Facts {
                    expired: false,
                    declined: false,
                    declined_by_rule: false,
                    replacements: &replacements,
                };
                let d = decide(&facts, &rules, now);
                if !d.is_empty() {
                    let shown = serde_json::json!({ "id": r.id, "title": r.title() });
                    decided.push(((*address).clone(), r.id, d, shown));
                }
            }
        }
        let revived: Vec<UpdateId> = decided
            .iter()
            .filter(|(_, id, d, _)| {
                !chains.alive.contains(id) && d.iter().any(|d| matches!(d, Decision::Undecline(_)))
            })
            .map(|(_, id, _, _)| *id)
            .collect();
        if revived.is_empty() {
            break decided;
        }
        chains.alive.extend(revived);
    };
    for (address, _, decisions, shown) in decided {
        for d in decisions {
            let (kind, why) = match d {
                Decision::Decline(w) => (ActionKind::Decline, w),
                Decision::Undecline(w) => (ActionKind::Undecline, w),
                Decision::Expire(w) => (ActionKind::Expire, w),
            };
            if matches!(kind, ActionKind::Decline | ActionKind::Expire)
                && planned(&address, ActionKind::Stage)
            {
                // Content for an update declined or expired now would never be installed.
                b.actions
                    .retain(|a| !(a.address == address && a.kind == ActionKind::Stage));
            }
            b.push(&address, Change::new(kind, why).after(shown.clone()));
        }
    }
}

#[cfg(test)]
mod tests;

mod content;
pub(super) use content::plan_content_removal;
