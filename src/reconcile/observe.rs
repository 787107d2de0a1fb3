//! Recording what a pass observed beyond its sync runs, for `status`: drift it left alone
//! (monitor-only), a plan it held back because of `max_deletions`, and the content
//! certificates of every catalog it acquired (with their validity, which a certificate
//! pending approval has nowhere else).
//!
//! A finding holds for its scope until a later pass over that scope finds otherwise.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};

use super::pass::Scope;
use super::record::scope_of;
use crate::catalog::acquire::{Acquired, Acquisition};
use crate::plan::{ActionKind, Plan};
use crate::store::{
    Address, CatalogKey, Finding, FindingKind, Record, ShippedCertificates, Store, StoreError,
};

/// The plan's actions per scope (`catalog.k`, `certificate[...]`, `sync`, `signing`).
fn actions_per_scope(plan: &Plan) -> BTreeMap<String, BTreeMap<ActionKind, usize>> {
    let mut per: BTreeMap<String, BTreeMap<ActionKind, usize>> = BTreeMap::new();
    for a in &plan.actions {
        *per.entry(scope_of(a.address.as_str()))
            .or_default()
            .entry(a.kind)
            .or_default() += 1;
    }
    per
}

/// Actions named in a drift finding before "and N more".
const FIRST_ACTIONS: usize = 3;

/// The first actions of `scope` in words: `publish catalog.k.update[…] "Title"; update
/// catalog.k`.
fn first_actions(plan: &Plan, scope: &str) -> String {
    let mine: Vec<_> = plan
        .actions
        .iter()
        .filter(|a| scope_of(a.address.as_str()) == scope)
        .collect();
    let mut words: Vec<String> = mine
        .iter()
        .take(FIRST_ACTIONS)
        .map(|a| {
            let title = a
                .after
                .as_ref()
                .or(a.before.as_ref())
                .and_then(|v| v.get("title"));
            match title.as_ref().and_then(|t| t.as_str()) {
                Some(t) => format!("{} {} \"{t}\"", a.kind, a.address),
                None => format!("{} {}", a.kind, a.address),
            }
        })
        .collect();
    if mine.len() > FIRST_ACTIONS {
        words.push(format!("and {} more", mine.len() - FIRST_ACTIONS));
    }
    words.join("; ")
}

/// `2 changes (1 publish, 1 expire)`.
fn changes(kinds: &BTreeMap<ActionKind, usize>) -> String {
    let n: usize = kinds.values().sum();
    let each: Vec<String> = kinds.iter().map(|(k, c)| format!("{c} {k}")).collect();
    format!(
        "{n} change{} ({})",
        if n == 1 { "" } else { "s" },
        each.join(", ")
    )
}

/// Whether a pass over `scope` looked at `finding_scope`.
fn covers(scope: &Scope, finding_scope: &str) -> bool {
    if scope.all {
        return true;
    }
    match finding_scope.strip_prefix("catalog.") {
        Some(k) => scope.catalogs.iter().any(|c| c == k),
        None if finding_scope == "sync" => scope.sup,
        None => finding_scope.starts_with("certificate") && !scope.catalogs.is_empty(),
    }
}

fn record(
    backend: &Store,
    existing: &[Finding],
    scope: &str,
    kind: FindingKind,
    summary: String,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let Ok(address) = Address::parse(scope) else {
        return Ok(());
    };
    let since = existing
        .iter()
        .find(|f| f.scope == address && f.kind == kind)
        .map_or(now, |f| f.since);
    backend.apply(Record::Finding(Finding {
        scope: address,
        kind,
        since,
        seen: now,
        summary,
    }))?;
    Ok(())
}

/// What a pass left alone: the whole plan of a pass that did not apply (monitor-only), or
/// the actions a sync window held back from one that did.
pub enum LeftAlone<'a> {
    MonitorOnly(&'a Plan),
    Windows(&'a Plan),
    Nothing,
}

/// After a pass that was not held back: records the drift it left in each scope (see
/// [`LeftAlone`]), and clears what no longer holds in the scopes the pass covered (drift it
/// applied or no longer sees, a budget it is no longer held by).
pub fn after_pass(
    backend: &Store,
    scope: &Scope,
    left: LeftAlone<'_>,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let existing = backend.findings()?;
    let (left, why) = match left {
        LeftAlone::MonitorOnly(p) => (Some(p), "left alone (monitor-only)"),
        LeftAlone::Windows(p) => (Some(p), "held until its sync window opens"),
        LeftAlone::Nothing => (None, ""),
    };
    let mut drifting = BTreeSet::new();
    if let Some(plan) = left {
        for (s, kinds) in &actions_per_scope(plan) {
            let summary = format!(
                "{} {why}: {}; run `supctl plan` to review, `supctl sync` or auto-correct mode to apply",
                changes(kinds),
                first_actions(plan, s)
            );
            record(backend, &existing, s, FindingKind::Drift, summary, now)?;
            drifting.insert(s.clone());
        }
    }
    for f in existing.iter().filter(|f| covers(scope, f.scope.as_str())) {
        let stale = match f.kind {
            FindingKind::Drift => !drifting.contains(f.scope.as_str()),
            FindingKind::HeldBack => true,
        };
        if stale {
            backend.apply(Record::ClearFinding {
                scope: f.scope.clone(),
                kind: f.kind,
            })?;
        }
    }
    Ok(())
}

/// After an applied plan (`apply`, or a pass): what it touched no longer drifts and is no
/// longer held back.
pub fn after_apply(
    backend: &Store,
    plan: &Plan,
    acquired: &BTreeMap<String, Acquired>,
) -> Result<(), StoreError> {
    let mut touched: BTreeSet<String> = actions_per_scope(plan).into_keys().collect();
    touched.extend(acquired.keys().map(|k| format!("catalog.{k}")));
    for f in backend
        .findings()?
        .into_iter()
        .filter(|f| touched.contains(f.scope.as_str()))
    {
        backend.apply(Record::ClearFinding {
            scope: f.scope,
            kind: f.kind,
        })?;
    }
    Ok(())
}

/// A pass whose plan exceeded the deletion budget: nothing was applied. Every scope the
/// plan touches is held back until a pass applies (or no longer exceeds the budget).
pub fn held_back(
    backend: &Store,
    plan: &Plan,
    count: usize,
    max: u32,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let existing = backend.findings()?;
    for (s, kinds) in actions_per_scope(plan) {
        let summary = format!(
            "nothing applied: the plan has {count} destructive actions and [server] max_deletions is {max}; this scope has {}. Review with `supctl plan`, then raise max_deletions or apply the plan by hand",
            changes(&kinds)
        );
        record(backend, &existing, &s, FindingKind::HeldBack, summary, now)?;
    }
    Ok(())
}

/// Records the content certificates of every trusted catalog acquired.
pub fn record_shipped(
    backend: &Store,
    acquired: &BTreeMap<String, Acquired>,
) -> Result<(), StoreError> {
    for (key, a) in acquired {
        let (Acquisition::Trusted { content, .. }, Ok(catalog)) =
            (&a.acquisition, CatalogKey::parse(key))
        else {
            continue;
        };
        let certificates = content
            .content_certificates
            .iter()
            .map(|c| c.facts.clone())
            .collect();
        backend.apply(Record::ShippedCertificates(ShippedCertificates::new(
            catalog,
            certificates,
        )))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pass_covers_its_catalogs_their_certificates_and_sync() {
        let s = Scope {
            all: false,
            catalogs: vec!["dell".into()],
            sup: false,
        };
        assert!(covers(&s, "catalog.dell"));
        assert!(!covers(&s, "catalog.hp"));
        assert!(covers(&s, "certificate[AB]"));
        assert!(!covers(&s, "sync"));
        assert!(covers(&Scope::everything(), "signing"));
    }
}
