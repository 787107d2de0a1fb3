//! `remove_content_of`: the staged content of declined or expired updates, removed when no
//! update that keeps its content uses the same file.
//!
//! Rules, and why:
//! - **After the plan**: an update declined or expired by this plan counts as such, one
//!   undeclined by it does not, so one apply converges.
//! - **A file stays while anything else needs it**: WSUS keeps one copy per digest, shared
//!   by every update that names it; a file goes only when every update naming it is in a
//!   state whose content its catalog's rules remove, and no staging in this plan wants it.
//!   The server checks again when it removes (an update made live since the plan keeps it).
//! - **Counted against `max_deletions`** like any removal, so a rule added by mistake
//!   cannot empty `WsusContent/` in one apply.

use std::collections::{HashMap, HashSet};

use super::super::builder::{Builder, Change};
use super::super::model::{ActionKind, Payload, human_bytes};
use crate::config::ContentOf;
use crate::ids::{Sha1, UpdateId};
use crate::store::{Address, CatalogKey, StoredUpdate};

pub(in crate::plan) fn plan_content_removal(b: &mut Builder) {
    let cfg = b.inputs.desired;
    let actual = b.inputs.actual;
    let mut after: HashMap<&Address, Vec<ActionKind>> = HashMap::new();
    for a in &b.actions {
        after.entry(&a.address).or_default().push(a.kind);
    }
    let state_after = |address: &Address, u: &StoredUpdate| {
        let kinds = after.get(address);
        let has = |k| kinds.is_some_and(|v| v.contains(&k));
        let declined = (u.declined || has(ActionKind::Decline)) && !has(ActionKind::Undecline);
        let expired = u.publication == crate::catalog::model::PublicationState::Expired
            || has(ActionKind::Expire);
        (declined, expired)
    };
    // Which updates lose their content: in a state their catalog's rules name.
    let mut removing: HashMap<&UpdateId, (Address, &StoredUpdate, &'static str)> = HashMap::new();
    for c in cfg.catalogs.values().filter(|c| c.subscribed) {
        let rules = c.hygiene.over(&cfg.hygiene);
        if !rules.any() {
            continue;
        }
        let Ok(key) = CatalogKey::parse(&c.key) else {
            continue;
        };
        for u in actual.updates.values().filter(|u| u.catalog == key) {
            let address = Address::update(&key, &u.id);
            let (declined, expired) = state_after(&address, u);
            let why = if expired && rules.removes_content_of(ContentOf::Expired) {
                "expired"
            } else if declined && rules.removes_content_of(ContentOf::Declined) {
                "declined"
            } else {
                continue;
            };
            if u.files.iter().any(|f| f.staged) {
                removing.insert(&u.id, (address, u, why));
            }
        }
    }
    if removing.is_empty() {
        return;
    }
    // Files something else keeps: every other update's, and what this plan stages.
    let mut kept: HashSet<Sha1> = actual
        .updates
        .values()
        .filter(|u| !removing.contains_key(&u.id))
        .flat_map(|u| u.files.iter().map(|f| f.sha1))
        .collect();
    for a in &b.actions {
        if let Some(Payload::Content { files, .. }) = &a.payload {
            kept.extend(files.iter().map(|f| f.sha1));
        }
    }
    let mut planned: Vec<_> = removing.into_values().collect();
    planned.sort_by(|x, y| x.0.cmp(&y.0));
    let unsupported =
        (!b.inputs.capabilities.content_staging).then(|| b.unsupported("removing content"));
    for (address, u, why) in planned {
        let files: Vec<_> = u
            .files
            .iter()
            .filter(|f| f.staged && !kept.contains(&f.sha1))
            .collect();
        if files.is_empty() {
            continue;
        }
        let bytes: u64 = files.iter().map(|f| f.size).sum();
        let reason = format!(
            "{why} (remove_content_of = [\"{why}\"]): {} file{}, {} no other update uses",
            files.len(),
            if files.len() == 1 { "" } else { "s" },
            human_bytes(bytes)
        );
        let after = serde_json::json!({
            "id": u.id,
            "title": u.title,
            "removed": files.iter().map(|f| serde_json::json!({"name": f.name, "size": f.size, "sha1": f.sha1})).collect::<Vec<_>>(),
        });
        b.push(
            &address,
            Change::new(ActionKind::Unstage, reason)
                .after(after)
                .payload(Payload::Unstage {
                    update: u.id,
                    files: files.iter().map(|f| f.sha1).collect(),
                })
                .bytes(bytes)
                .shown_before(Some(super::super::updates::stored_json(u)))
                .unsupported(unsupported.clone()),
        );
    }
}
