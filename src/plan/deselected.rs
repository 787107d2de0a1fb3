//! Updates that leave a catalog's selection, and updates that come back into it.
//!
//! Narrowing `categories` used to expire the updates left outside, although expiry is
//! permanent on WSUS and `prune = false` promised to keep a catalog's updates; widening it
//! again then said nothing about them. Now they stay, marked deselected (a note per
//! catalog), unless `expire_deselected = true` (or `prune = true`) asks for expiry; coming
//! back, kept ones are named, and ones expired earlier are named as staying expired.

use std::collections::{BTreeSet, HashSet};

use super::builder::{Builder, Change};
use super::model::{ActionKind, Severity};
use crate::catalog::model::{CatalogContent, Category, PublicationState};
use crate::catalog::v3;
use crate::config;
use crate::ids::UpdateId;
use crate::store::{Address, CatalogKey, Selection, StoredUpdate, UpdateState};

type IdSet = BTreeSet<UpdateId>;

/// Titles named in a note before "and N more".
const TITLES: usize = 5;

/// The updates `selectors` (category paths or GUIDs) select in `categories`; `None` when
/// one of them no longer resolves.
pub fn members(categories: &[Category], selectors: &[String]) -> Option<IdSet> {
    let ids = v3::resolve_all(categories, selectors).ok()?;
    Some(v3::members_under(categories, &ids))
}

/// The updates a configured catalog selects in its stored category tree: `None` when it
/// selects everything (`categories = "all"`) or a selector no longer resolves (nothing is
/// called deselected on a guess). `status` and `updates list` mark the updates outside it.
pub fn selected_by(catalog: &config::Catalog, categories: &[Category]) -> Option<IdSet> {
    let config::CategorySelection::Only(refs) = &catalog.categories else {
        return None;
    };
    let selectors: Vec<String> = refs.iter().map(|r| r.to_string()).collect();
    members(categories, &selectors)
}

/// True when update `id` in `state` is deselected: kept on the server (not expired) but
/// outside `selected`.
pub fn is_deselected(id: &UpdateId, state: UpdateState, selected: Option<&IdSet>) -> bool {
    state != UpdateState::Expired && selected.is_some_and(|s| !s.contains(id))
}

/// Marks the rows of `updates list` (and the listener's pages) that lie outside their
/// catalog's selected categories, as `status` counts them.
pub fn mark_rows(
    rows: &mut [crate::store::query::UpdateRow],
    cfg: &config::Config,
    trees: &std::collections::BTreeMap<CatalogKey, Vec<Category>>,
) {
    let selected: std::collections::BTreeMap<&CatalogKey, IdSet> = trees
        .iter()
        .filter_map(|(k, tree)| {
            let c = cfg.catalogs.get(k.as_str())?;
            Some((k, selected_by(c, tree)?))
        })
        .collect();
    for r in rows {
        r.deselected = is_deselected(&r.id, r.state, selected.get(&r.catalog));
    }
}

/// What a stored selection selected, resolved against today's tree: `None` = everything.
fn previously(categories: &[Category], s: &Selection) -> Option<Option<IdSet>> {
    match s {
        Selection::All => Some(None),
        Selection::None => Some(Some(IdSet::new())),
        Selection::List(l) => members(categories, l).map(Some),
    }
}

fn titles(updates: &[&StoredUpdate]) -> String {
    let mut t: Vec<String> = updates
        .iter()
        .take(TITLES)
        .map(|u| format!("{} ({})", u.title, u.id))
        .collect();
    if updates.len() > TITLES {
        t.push(format!("and {} more", updates.len() - TITLES));
    }
    t.join(", ")
}

fn count(n: usize) -> String {
    if n == 1 {
        "1 update".into()
    } else {
        format!("{n} updates")
    }
}

/// Plans the stored updates of catalog `key` the catalog no longer offers for publishing:
/// expired when the catalog dropped them; when they only left the selection, expired with
/// `expire_deselected` or `prune`, else kept and noted. Then notes updates that came back.
pub(super) fn plan(
    b: &mut Builder,
    c: &config::Catalog,
    key: &CatalogKey,
    content: &CatalogContent,
    selected: Option<&IdSet>,
) {
    let address = Address::catalog(key);
    let in_selection = |id: &UpdateId| selected.is_none_or(|s| s.contains(id));
    let present: HashSet<&UpdateId> = content.updates.iter().map(|u| &u.id).collect();
    let mut kept: Vec<&StoredUpdate> = Vec::new();
    let stored = b.stored_of(key).to_vec();
    for s in stored
        .into_iter()
        .filter(|s| s.state() != UpdateState::Expired)
    {
        let reason = if !present.contains(&s.id) {
            "no longer in the catalog"
        } else if in_selection(&s.id) {
            continue; // planned with the catalog's own entry
        } else if c.expire_deselected {
            "outside the selected categories (expire_deselected = true)"
        } else if c.prune {
            "outside the selected categories (prune = true)"
        } else {
            kept.push(s);
            continue;
        };
        b.push(
            &Address::update(key, &s.id),
            Change::new(ActionKind::Expire, reason).after(super::updates::stored_json(s)),
        );
    }
    if !kept.is_empty() {
        b.diagnostic(
            Severity::Info,
            "deselected",
            &address,
            format!(
                "catalog {key}: {} outside the selected categories {} published, marked deselected: {}",
                count(kept.len()),
                if kept.len() == 1 { "stays" } else { "stay" },
                titles(&kept)
            ),
            Some("set expire_deselected = true to expire them (expiry is permanent on WSUS)".into()),
        );
    }
    reselected(b, key, &address, content, selected);
}

/// Updates this plan brings back into the selection that the server already holds.
fn reselected(
    b: &mut Builder,
    key: &CatalogKey,
    address: &Address,
    content: &CatalogContent,
    selected: Option<&IdSet>,
) {
    let actual = b.inputs.actual;
    let Some(stored) = actual.catalogs.get(key) else {
        return;
    };
    let Some(before) = previously(&content.categories, &stored.settings.categories) else {
        return;
    };
    let (mut back, mut expired): (Vec<&StoredUpdate>, Vec<&StoredUpdate>) = (vec![], vec![]);
    for r in content.updates.iter().filter(|r| {
        r.publication_state != PublicationState::Expired
            && selected.is_none_or(|s| s.contains(&r.id))
            && before.as_ref().is_some_and(|s| !s.contains(&r.id))
    }) {
        match actual.updates.get(&r.id).filter(|s| &s.catalog == key) {
            Some(s) if s.state() == UpdateState::Expired => expired.push(s),
            Some(s) => back.push(s),
            None => {}
        }
    }
    if !back.is_empty() {
        b.diagnostic(
            Severity::Info,
            "reselected",
            address,
            format!(
                "catalog {key}: {} back in the selected categories, kept while deselected: {}",
                count(back.len()),
                titles(&back)
            ),
            None,
        );
    }
    if !expired.is_empty() {
        b.diagnostic(
            Severity::Warning,
            "reselected-expired",
            address,
            format!(
                "catalog {key}: {} back in the selected categories {} expired earlier and {} expired (expiry is permanent on WSUS): {}",
                count(expired.len()),
                if expired.len() == 1 { "was" } else { "were" },
                if expired.len() == 1 { "stays" } else { "stay" },
                titles(&expired)
            ),
            Some("the vendor must publish a new update (a new UpdateID) to deploy it again".into()),
        );
    }
}
