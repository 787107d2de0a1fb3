//! `diff(desired, catalogs, actual) -> Plan`: the whole planner, free of I/O.
//!
//! Order of the actions is the order apply runs them in: certificates, catalogs, updates
//! (publish, revise, expire), content staging.

use std::collections::BTreeSet;

use serde_json::Value;

pub use super::builder::Inputs;
use super::builder::{Builder, Change, view};
use super::certificates::plan_certificates;
use super::model::*;
use super::updates::plan_updates;
use crate::catalog::acquire::{Acquired, Acquisition};
use crate::config::{self, CategorySelection, Staging};
use crate::store::{Address, CatalogKey, CatalogKind, CatalogRecord, Selection, SyncSettings};

/// Plans every change needed for the update server to match the desired state.
pub fn diff(inputs: &Inputs<'_>) -> Plan {
    let mut b = Builder::new(inputs);
    plan_certificates(&mut b);
    plan_catalogs(&mut b);
    plan_removed_catalogs(&mut b);
    for (key, catalog) in &inputs.desired.catalogs {
        if catalog.subscribed
            && let Some(acquired) = inputs.catalogs.get(key)
        {
            plan_updates(&mut b, catalog, acquired);
        }
    }
    super::hygiene::plan_hygiene(&mut b);
    super::hygiene::plan_content_removal(&mut b);
    super::approvals::plan_approvals(&mut b);
    plan_sync_and_signing(&mut b);
    name_what_an_empty_config_removes(&mut b);
    let config = inputs.desired.root.display().to_string();
    let mut actions = b.actions;
    actions.sort_by_key(order_of);
    let sources = sources_of(inputs, &actions);
    let mut plan = Plan::new(config, actions, b.diagnostics);
    plan.sources = sources;
    plan
}

/// The verified CAB of each catalog that payloads publish or revise from: a saved plan
/// refers to packages (`plan::package_ref`), and apply reads them from that CAB again.
fn sources_of(
    inputs: &Inputs<'_>,
    actions: &[Action],
) -> std::collections::BTreeMap<String, crate::ids::Sha256> {
    actions
        .iter()
        .filter(|a| matches!(a.payload, Some(Payload::Update { .. })))
        .filter_map(|a| match a.address.target() {
            Some(crate::store::Target::Update(key, _)) => Some(key.to_string()),
            _ => None,
        })
        .collect::<BTreeSet<String>>()
        .into_iter()
        .filter_map(|key| {
            let sha = inputs.catalogs.get(&key)?.cab_sha256?;
            Some((key, sha))
        })
        .collect()
}

/// A config that lists no catalog (an accident more often than a decision) gets one warning
/// naming everything the plan takes away, so a reviewer does not have to add it up.
fn name_what_an_empty_config_removes(b: &mut Builder) {
    if !b.inputs.desired.catalogs.is_empty() {
        return;
    }
    let catalogs: Vec<&str> = b
        .actions
        .iter()
        .filter(|a| {
            matches!(a.kind, ActionKind::Unsubscribe | ActionKind::Delete)
                && matches!(a.address.target(), Some(crate::store::Target::Catalog(_)))
        })
        .map(|a| a.address.as_str())
        .collect();
    let certificates = b
        .actions
        .iter()
        .filter(|a| {
            a.kind == ActionKind::Delete && matches!(a.payload, Some(Payload::Certificate { .. }))
        })
        .count();
    if catalogs.is_empty() && certificates == 0 {
        return;
    }
    let mut what = Vec::new();
    if !catalogs.is_empty() {
        what.push(format!("unsubscribes {}", catalogs.join(", ")));
    }
    if certificates > 0 {
        what.push(format!(
            "removes {certificates} certificate approval{}",
            if certificates == 1 { "" } else { "s" }
        ));
    }
    let message = format!(
        "the config declares no catalog: this plan {}",
        what.join(" and ")
    );
    b.diagnostic(
        Severity::Warning,
        "config-declares-no-catalog",
        &Address::config(),
        message,
        Some("if the catalogs were left out by mistake, restore their [catalog.<key>] sections before applying".into()),
    );
}

/// Approvals (and the groups they need) come after staging: an update is approved for
/// install only once its content is in.
fn order_of(a: &super::model::Action) -> u8 {
    match a.address.target() {
        Some(crate::store::Target::Group(_)) => 5,
        Some(crate::store::Target::Approval(..)) => 6,
        _ => order(a.kind),
    }
}

fn order(kind: ActionKind) -> u8 {
    match kind {
        ActionKind::Approve | ActionKind::Block => 0,
        ActionKind::Create | ActionKind::Update | ActionKind::Replace | ActionKind::Subscribe => 1,
        ActionKind::Publish | ActionKind::Revise => 2,
        ActionKind::Expire | ActionKind::Decline | ActionKind::Undecline => 3,
        ActionKind::Stage | ActionKind::Unstage => 4,
        ActionKind::Unsubscribe | ActionKind::Delete => 7,
    }
}

fn selection(categories: &CategorySelection) -> Selection {
    match categories {
        CategorySelection::All => Selection::All,
        CategorySelection::Only(l) => Selection::List(l.iter().map(|c| c.to_string()).collect()),
    }
}

fn staging(stage: &Staging) -> Selection {
    match stage {
        Staging::None => Selection::None,
        Staging::All => Selection::All,
        Staging::Only(l) => Selection::List(l.iter().map(|c| c.to_string()).collect()),
    }
}

/// The record a configured catalog asks the server to hold, before it is acquired (its source
/// as configured, or `stored`'s when it has none): `supctl import` checks that what it writes
/// describes the record it adopts.
pub fn desired_catalog_record(
    cfg: &config::Config,
    c: &config::Catalog,
    stored: Option<&CatalogRecord>,
) -> Option<CatalogRecord> {
    catalog_record(c, cfg.root(), None, stored)
}

/// The catalog settings the server should hold for a configured catalog. A `path` source is
/// recorded relative to the config `root` (see `config::stored_path_source`), so every
/// checkout of the config names it alike.
pub(super) fn catalog_record(
    c: &config::Catalog,
    root: Option<&std::path::Path>,
    acquired: Option<&Acquired>,
    stored: Option<&CatalogRecord>,
) -> Option<CatalogRecord> {
    let source = match (&c.url, &c.path, acquired) {
        (Some(u), _, _) => u.clone(),
        (None, Some(_), _) => c.stored_path(root)?,
        (None, None, Some(a)) => a.source.clone(),
        (None, None, None) => stored.map(|s| s.source.clone())?,
    };
    let content_certificates = match acquired.map(|a| &a.acquisition) {
        Some(Acquisition::Trusted { content, .. }) => content
            .content_certificates
            .iter()
            .map(|c| c.thumbprint())
            .collect(),
        _ => stored
            .map(|s| s.content_certificates.clone())
            .unwrap_or_default(),
    };
    Some(CatalogRecord {
        key: CatalogKey::parse(&c.key).ok()?,
        kind: c.kind,
        name: c.name.clone().unwrap_or_else(|| c.key.clone()),
        publisher: c.publisher.clone().unwrap_or_default(),
        source,
        description: c.description.clone(),
        support_url: c.support_url.clone(),
        support_contact: c.support_contact.clone(),
        subscribed: c.subscribed,
        schedule: Some(c.schedule.to_string()),
        categories: selection(&c.categories),
        staging: staging(&c.stage),
        signers: c.signers.clone(),
        content_certificates,
        prune: c.prune,
    })
}

fn plan_catalogs(b: &mut Builder) {
    for (key, c) in &b.inputs.desired.catalogs {
        let Ok(ckey) = CatalogKey::parse(key) else {
            continue;
        };
        let address = Address::catalog(&ckey);
        let stored = b.inputs.actual.catalogs.get(&ckey).map(|s| &s.settings);
        let acquired = b.inputs.catalogs.get(key);
        let root = b.inputs.desired.root();
        let Some(record) = catalog_record(c, root, acquired, stored) else {
            continue;
        };
        // A store written before sources were relative holds the absolute spelling of the
        // same file: the same source, not a replace. Any other change rewrites it relative.
        let same_source = stored.is_some_and(|s| {
            s.source == record.source
                || matches!((&c.url, &c.path, root), (None, Some(p), Some(root)) if config::same_path_source(&s.source, p, root))
        });
        let unchanged = stored.is_some_and(|s| {
            same_source
                && *s
                    == CatalogRecord {
                        source: s.source.clone(),
                        ..record.clone()
                    }
        });
        let after = view(&record);
        let categories = match acquired.map(|a| &a.acquisition) {
            Some(Acquisition::Trusted { content, .. }) => {
                // The store keeps categories normalised (members sorted, no duplicates), and
                // an empty tree (v1, v2) as no rows at all: absent and empty are one tree, or
                // such a catalog would never converge.
                let tree = crate::store::shared::normalize_categories(content.categories.clone());
                let stored = b
                    .inputs
                    .actual
                    .categories
                    .get(&ckey)
                    .map(Vec::as_slice)
                    .unwrap_or_default();
                (stored != tree.as_slice()).then_some(tree)
            }
            _ => None,
        };
        let categories_changed = categories.is_some() && stored.is_some();
        let payload = Payload::Catalog {
            record: Box::new(record.clone()),
            categories,
        };
        match stored {
            None => b.push(
                &address,
                Change::new(ActionKind::Create, "new catalog in the config")
                    .after(after)
                    .payload(payload),
            ),
            Some(_) if unchanged && categories_changed => b.push(
                &address,
                Change::new(ActionKind::Update, "the catalog's categories changed")
                    .after(after)
                    .payload(payload),
            ),
            Some(_) if unchanged => {}
            Some(s)
                if record.kind == CatalogKind::Custom
                    && (!same_source || s.publisher != record.publisher) =>
            {
                let what = if !same_source {
                    "download URL/path"
                } else {
                    "publisher"
                };
                b.push(&address, Change::new(ActionKind::Replace, format!("the {what} of a custom catalog changed; ConfigMgr replaces the catalog (its updates stay)")).after(after).payload(payload));
            }
            Some(s) if s.subscribed != record.subscribed => {
                let kind = if record.subscribed {
                    ActionKind::Subscribe
                } else {
                    ActionKind::Unsubscribe
                };
                b.push(
                    &address,
                    Change::new(kind, format!("subscribed = {}", record.subscribed))
                        .after(after)
                        .payload(payload),
                );
            }
            Some(s) => {
                let changed = changed_fields(s, &record);
                b.push(
                    &address,
                    Change::new(
                        ActionKind::Update,
                        format!("{} changed", changed.join(", ")),
                    )
                    .after(after)
                    .payload(payload),
                );
            }
        }
    }
}

fn changed_fields(a: &CatalogRecord, b: &CatalogRecord) -> Vec<String> {
    let (Value::Object(x), Value::Object(y)) = (view(a), view(b)) else {
        return vec!["settings".into()];
    };
    let keys: BTreeSet<&String> = x.keys().chain(y.keys()).collect();
    keys.into_iter()
        .filter(|k| x.get(*k) != y.get(*k))
        .cloned()
        .collect()
}

/// Catalogs supctl manages that the config no longer lists: unsubscribe (ConfigMgr keeps their
/// updates) or, with `prune = true` recorded when it was configured, expire them and delete.
fn plan_removed_catalogs(b: &mut Builder) {
    let actual = b.inputs.actual;
    for (key, stored) in &actual.catalogs {
        if b.inputs.desired.catalogs.contains_key(key.as_str()) {
            continue;
        }
        let address = Address::catalog(key);
        if !actual.inventory.contains_key(&address) {
            continue;
        }
        let s = &stored.settings;
        if s.prune {
            for u in actual
                .updates
                .values()
                .filter(|u| &u.catalog == key && u.state() != crate::store::UpdateState::Expired)
            {
                let ua = Address::update(key, &u.id);
                b.push(
                    &ua,
                    Change::new(
                        ActionKind::Expire,
                        format!("catalog.{key} was removed with prune = true"),
                    ),
                );
            }
            b.push(
                &address,
                Change::new(
                    ActionKind::Delete,
                    "removed from the config with prune = true",
                ),
            );
        } else if s.subscribed {
            let mut after = s.clone();
            after.subscribed = false;
            let value = view(&after);
            b.push(&address, Change::new(ActionKind::Unsubscribe, "removed from the config; its updates stay (set prune = true before removing to expire them)").after(value).payload(Payload::Catalog { record: Box::new(after), categories: None }));
        }
    }
}

fn plan_sync_and_signing(b: &mut Builder) {
    let caps = b.inputs.capabilities;
    if let Some(s) = &b.inputs.desired.sync {
        let desired = SyncSettings {
            schedule: s.schedule.as_ref().map(|x| x.to_string()),
            products: s.products.clone(),
            classifications: s.classifications.clone(),
            languages: s.languages.clone(),
        };
        if b.inputs.actual.sync.as_ref() != Some(&desired) {
            let kind = if b.inputs.actual.sync.is_some() {
                ActionKind::Update
            } else {
                ActionKind::Create
            };
            let unsupported =
                (!caps.sync_settings).then(|| b.unsupported("changing synchronization settings"));
            b.push(
                &Address::sync(),
                Change::new(
                    kind,
                    "[sync] differs from the update point's synchronization settings",
                )
                .after(view(&desired))
                .payload(Payload::Sync { settings: desired })
                .unsupported(unsupported),
            );
        }
    }
    super::signing::plan_signing(b);
}
