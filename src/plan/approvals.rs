//! Approvals as code (`[[approve]]`): which updates are approved for which computer target
//! groups, with rings (`after`) and deadlines, planned like any other change.
//!
//! Rules, and why:
//! - **Only what can be installed is approved for install**: an update whose content is not
//!   staged has nothing for clients to download (WSUS refuses it too); such matches are one
//!   warning per rule naming them, not an approval that fails at apply. Expired and declined
//!   updates (now or by this plan) are never approved.
//! - **Uninstall only where the update allows it** (its installable items carry
//!   `UninstallProperties`), read from the catalog as acquired; others are named.
//! - **Rings**: `after` counts from the vendor's `CreationDate`, so every update point
//!   decides alike; the plan notes how many wait and when the first is due.
//! - **Deadlines are relative to the approval**: an approval's deadline is its approval
//!   time plus `deadline`, so re-planning never moves it; changing `deadline` in the config
//!   re-approves with the new one.
//! - **Drift is shown**: for the groups a rule names, an approval removed in the console is
//!   approved again and one added there is removed, each saying so. Groups no rule names are
//!   not supctl's and are left alone.
//! - **Groups are created only when asked** (`create_groups = true`); otherwise a missing
//!   group is an error naming it, because a typo would otherwise create a group nobody's
//!   computers are in.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use regex::Regex;
use serde_json::json;

use super::builder::{Builder, Change};
use super::model::{ActionKind, Payload, Severity};
use crate::catalog::acquire::Acquisition;
use crate::catalog::model::PublicationState;
use crate::config::{ApprovalAction, ApproveRule};
use crate::ids::UpdateId;
use crate::store::{Address, CatalogKey, StoredApproval, StoredUpdate};

/// Titles named in a note before "and N more".
const NAMED: usize = 5;

/// An update as approvals see it after the plan's other actions: on the server, or
/// published (and perhaps staged) by this plan.
struct Candidate {
    id: UpdateId,
    catalog: CatalogKey,
    title: String,
    vendor: Arc<str>,
    products: Arc<[String]>,
    classification: Arc<str>,
    created: DateTime<Utc>,
    /// Its content is staged, or staged by this plan.
    deployable: bool,
}

impl Candidate {
    fn stored(u: &StoredUpdate, staging: bool) -> Self {
        Candidate {
            id: u.id,
            catalog: u.catalog.clone(),
            title: u.title.clone(),
            vendor: u.vendor.clone(),
            products: u.products.clone(),
            classification: u.classification.clone(),
            created: u.created,
            deployable: u.deployable() || staging,
        }
    }
}

/// One approval the config asks for.
struct Wanted<'a> {
    update: &'a Candidate,
    group: String,
    action: ApprovalAction,
    deadline: Option<std::time::Duration>,
    rule: usize,
}

fn matches(
    rule: &ApproveRule,
    title: Option<&Regex>,
    in_category: Option<&BTreeSet<UpdateId>>,
    u: &Candidate,
) -> bool {
    in_category.is_none_or(|m| m.contains(&u.id))
        && rule
            .catalog
            .as_deref()
            .is_none_or(|c| u.catalog.as_str() == c)
        && (rule.ids.is_empty() || rule.ids.contains(&u.id))
        && rule
            .vendor
            .as_deref()
            .is_none_or(|v| u.vendor.eq_ignore_ascii_case(v))
        && rule
            .product
            .as_deref()
            .is_none_or(|p| u.products.iter().any(|x| x.eq_ignore_ascii_case(p)))
        && rule
            .classification
            .as_deref()
            .is_none_or(|c| u.classification.eq_ignore_ascii_case(c))
        && title.is_none_or(|re| re.is_match(&u.title))
}

fn listed(updates: &[&Candidate]) -> String {
    let mut names: Vec<&str> = updates
        .iter()
        .take(NAMED)
        .map(|u| u.title.as_str())
        .collect();
    names.sort();
    let more = updates.len().saturating_sub(NAMED);
    if more > 0 {
        format!("{} and {more} more", names.join(", "))
    } else {
        names.join(", ")
    }
}

/// Plans groups and approvals for every `[[approve]]` rule.
pub(super) fn plan_approvals(b: &mut Builder) {
    let cfg = b.inputs.desired;
    if cfg.approve.is_empty() {
        return;
    }
    let actual = b.inputs.actual;
    let now = b.inputs.now;
    let unsupported =
        (!b.inputs.capabilities.approvals).then(|| b.unsupported("approvals to computer groups"));
    // What the plan does to updates before approvals are applied.
    let mut leaving: HashSet<UpdateId> = HashSet::new();
    let mut staging: HashSet<UpdateId> = HashSet::new();
    for a in &b.actions {
        if let Some(crate::store::Target::Update(_, id)) = a.address.target() {
            match a.kind {
                ActionKind::Expire | ActionKind::Decline => {
                    leaving.insert(id);
                }
                ActionKind::Stage => {
                    staging.insert(id);
                }
                _ => {}
            }
        }
    }
    let uninstallable: HashSet<&UpdateId> = b
        .inputs
        .catalogs
        .values()
        .filter_map(|a| match &a.acquisition {
            Acquisition::Trusted { content, .. } => Some(content),
            _ => None,
        })
        .flat_map(|c| c.updates.iter())
        .filter(|u| !u.items.is_empty() && u.items.iter().all(|i| i.uninstallable))
        .map(|u| &u.id)
        .collect();
    let managed: HashSet<CatalogKey> = cfg
        .catalogs
        .values()
        .filter(|c| c.subscribed && !c.suspend)
        .filter_map(|c| CatalogKey::parse(&c.key).ok())
        .collect();
    let has_group = |name: &str| {
        actual
            .groups
            .iter()
            .any(|g| g.name.eq_ignore_ascii_case(name))
    };
    let mut candidates: Vec<Candidate> = actual
        .updates
        .values()
        .filter(|u| {
            managed.contains(&u.catalog)
                && u.publication != PublicationState::Expired
                && !u.declined
                && !leaving.contains(&u.id)
        })
        .map(|u| Candidate::stored(u, staging.contains(&u.id)))
        .collect();
    for a in &b.actions {
        if let (
            ActionKind::Publish,
            Some(Payload::Update { record }),
            Some(crate::store::Target::Update(key, _)),
        ) = (a.kind, &a.payload, a.address.target())
            && managed.contains(&key)
            && !leaving.contains(&record.id)
        {
            candidates.push(Candidate {
                id: record.id,
                catalog: key,
                title: record.title().to_string(),
                vendor: record.vendor.clone(),
                products: record.products.clone(),
                classification: record.classification.clone(),
                created: record.created,
                deployable: staging.contains(&record.id),
            });
        }
    }

    let mut created: HashSet<String> = HashSet::new();
    let mut missing: HashSet<String> = HashSet::new();
    let mut wanted: Vec<Wanted<'_>> = Vec::new();
    for (n, rule) in cfg.approve.iter().enumerate() {
        let address = rule_address(n);
        for g in &rule.groups {
            if has_group(g) || created.contains(&g.to_lowercase()) {
                continue;
            }
            if rule.create_groups {
                created.insert(g.to_lowercase());
                b.push(
                    &Address::group(g),
                    Change::new(
                        ActionKind::Create,
                        format!("[[approve]] rule {} names it (create_groups = true)", n + 1),
                    )
                    .after(json!({ "name": g }))
                    .payload(Payload::Group { name: g.clone() })
                    .unsupported(unsupported.clone()),
                );
            } else if missing.insert(g.to_lowercase()) {
                b.diagnostic(
                    Severity::Error,
                    "group-missing",
                    &address,
                    format!("[[approve]] rule {} approves for computer group `{g}`, which the server does not have", n + 1),
                    Some("create the group in the WSUS console, fix the name, or add `create_groups = true` to the rule".into()),
                );
            }
        }
        let title = rule.title.as_deref().and_then(|t| Regex::new(t).ok());
        let in_category = match &rule.category {
            None => None,
            Some(path) => match category_members(b, &managed, path) {
                Some(m) => Some(m),
                None => {
                    b.diagnostic(
                        Severity::Warning,
                        "approval-category-unknown",
                        &address,
                        format!(
                            "[[approve]] rule {} names category `{path}`, which no subscribed catalog has, so it approves nothing",
                            n + 1
                        ),
                        Some("see `supctl catalog categories` for the paths each catalog has".into()),
                    );
                    Some(BTreeSet::new())
                }
            },
        };
        let (mut no_content, mut not_uninstallable, mut waiting) = (vec![], vec![], vec![]);
        let mut first_due: Option<DateTime<Utc>> = None;
        for u in &candidates {
            if !matches(rule, title.as_ref(), in_category.as_ref(), u) {
                continue;
            }
            if let Some(after) = rule.after.and_then(|a| chrono::TimeDelta::from_std(a).ok())
                && now - u.created < after
            {
                waiting.push(u);
                let due = u.created + after;
                first_due = Some(first_due.map_or(due, |f| f.min(due)));
                continue;
            }
            match rule.action {
                ApprovalAction::Install if !u.deployable => {
                    no_content.push(u);
                    continue;
                }
                ApprovalAction::Uninstall if !uninstallable.contains(&u.id) => {
                    not_uninstallable.push(u);
                    continue;
                }
                _ => {}
            }
            for g in &rule.groups {
                if !missing.contains(&g.to_lowercase()) {
                    wanted.push(Wanted {
                        update: u,
                        group: g.clone(),
                        action: rule.action,
                        deadline: rule.deadline,
                        rule: n,
                    });
                }
            }
        }
        if !no_content.is_empty() {
            b.diagnostic(
                Severity::Warning,
                "approval-needs-content",
                &address,
                format!(
                    "[[approve]] rule {} matches {} update(s) whose content is not staged, so they are not approved for install: {}",
                    n + 1,
                    no_content.len(),
                    listed(&no_content)
                ),
                Some("only updates whose content is staged can be installed: select them in the catalog's `stage` or a [[publish]] rule".into()),
            );
        }
        if !not_uninstallable.is_empty() {
            b.diagnostic(
                Severity::Warning,
                "approval-not-uninstallable",
                &address,
                format!(
                    "[[approve]] rule {} asks to uninstall {} update(s) that do not support uninstalling (no UninstallProperties in the catalog as acquired): {}",
                    n + 1,
                    not_uninstallable.len(),
                    listed(&not_uninstallable)
                ),
                None,
            );
        }
        if let Some(due) = first_due {
            b.diagnostic(
                Severity::Info,
                "approval-waiting",
                &address,
                format!(
                    "[[approve]] rule {} holds {} update(s) until `after` has passed since they were published; the first is due {}: {}",
                    n + 1,
                    waiting.len(),
                    due.format("%Y-%m-%d %H:%M UTC"),
                    listed(&waiting)
                ),
                None,
            );
        }
    }
    plan_changes(b, wanted, &missing, &managed, unsupported);
}

/// The updates in category `path` (and below) of the managed catalogs: the tree as this
/// plan acquired it, or as the server holds it for a catalog not acquired now. `None` when
/// no catalog has the category.
fn category_members(
    b: &Builder,
    managed: &HashSet<CatalogKey>,
    path: &str,
) -> Option<BTreeSet<UpdateId>> {
    let selector = [path.to_string()];
    let mut found: Option<BTreeSet<UpdateId>> = None;
    for key in managed {
        let acquired = b
            .inputs
            .catalogs
            .get(key.as_str())
            .and_then(|a| match &a.acquisition {
                Acquisition::Trusted { content, .. } => Some(&content.categories),
                _ => None,
            });
        let Some(tree) = acquired.or_else(|| b.inputs.actual.categories.get(key)) else {
            continue;
        };
        if let Some(m) = super::deselected::members(tree, &selector) {
            found.get_or_insert_with(BTreeSet::new).extend(m);
        }
    }
    found
}

/// Where a rule's notes are shown: the config's `[[approve]]` list.
fn rule_address(n: usize) -> Address {
    Address::setting("approve", &(n + 1).to_string())
}

fn plan_changes(
    b: &mut Builder,
    wanted: Vec<Wanted<'_>>,
    missing: &HashSet<String>,
    managed: &HashSet<CatalogKey>,
    unsupported: Option<String>,
) {
    let actual = b.inputs.actual;
    let now = b.inputs.now;
    let cfg = b.inputs.desired;
    let stored: HashMap<(&UpdateId, String), &StoredApproval> = actual
        .approvals
        .iter()
        .map(|a| ((&a.update, a.group.to_lowercase()), a))
        .collect();
    let mut desired: BTreeMap<(UpdateId, String), Wanted<'_>> = BTreeMap::new();
    for w in wanted {
        // The first rule that names an (update, group) decides it.
        desired
            .entry((w.update.id, w.group.to_lowercase()))
            .or_insert(w);
    }
    for ((id, group_key), w) in &desired {
        let address = Address::approval(&w.update.catalog, id, &w.group);
        let existing = stored.get(&(id, group_key.clone()));
        let deadline_from = |at: DateTime<Utc>| {
            w.deadline
                .and_then(|d| chrono::TimeDelta::from_std(d).ok())
                .map(|d| at + d)
        };
        let (kind, reason, deadline) = match existing {
            None => (
                ActionKind::Approve,
                format!(
                    "[[approve]] rule {} approves it for {} ({})",
                    w.rule + 1,
                    w.group,
                    w.action
                ),
                deadline_from(now),
            ),
            Some(s) => {
                let want = deadline_from(s.approved);
                let same_deadline = match (s.deadline, want) {
                    (None, None) => true,
                    (Some(a), Some(b)) => (a - b).num_seconds().abs() < 60,
                    _ => false,
                };
                if s.action == w.action && same_deadline {
                    continue;
                }
                (
                    ActionKind::Update,
                    format!(
                        "[[approve]] rule {} wants {}{} for {}; the server has {}{}",
                        w.rule + 1,
                        w.action,
                        want.map(|d| format!(" by {}", d.format("%Y-%m-%d")))
                            .unwrap_or_default(),
                        w.group,
                        s.action,
                        s.deadline
                            .map(|d| format!(" by {}", d.format("%Y-%m-%d")))
                            .unwrap_or_default(),
                    ),
                    want,
                )
            }
        };
        b.push(
            &address,
            Change::new(kind, reason)
                .after(json!({
                    "update": id,
                    "title": w.update.title,
                    "group": w.group,
                    "action": w.action,
                    "deadline": deadline,
                }))
                .payload(Payload::Approval {
                    update: *id,
                    group: w.group.clone(),
                    action: w.action,
                    deadline,
                })
                .unsupported(unsupported.clone()),
        );
    }
    // Approvals on the server that no rule asks for, of a managed catalog's updates in a
    // group a rule for that catalog names: console drift. Other groups and catalogs are
    // not supctl's.
    let ruled = |group: &str, catalog: &CatalogKey| {
        cfg.approve.iter().any(|r| {
            r.catalog.as_deref().is_none_or(|c| c == catalog.as_str())
                && r.groups.iter().any(|g| g.eq_ignore_ascii_case(group))
        }) && !missing.contains(&group.to_lowercase())
    };
    for s in &actual.approvals {
        let key = (s.update, s.group.to_lowercase());
        if desired.contains_key(&key) {
            continue;
        }
        let Some(u) = actual.updates.get(&s.update) else {
            continue;
        };
        if !managed.contains(&u.catalog)
            || !ruled(&s.group, &u.catalog)
            || u.publication == PublicationState::Expired
            || u.declined
        {
            continue;
        }
        b.push(
            &Address::approval(&u.catalog, &s.update, &s.group),
            Change::new(
                ActionKind::Delete,
                format!(
                    "no [[approve]] rule approves it for {} (approved in the console, or a rule changed)",
                    s.group
                ),
            )
            .payload(Payload::Approval {
                update: s.update,
                group: s.group.clone(),
                action: s.action,
                deadline: None,
            })
            .unsupported(unsupported.clone()),
        );
    }
}
