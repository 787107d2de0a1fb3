//! V3 catalog categories: `V3/<guid>.json` nodes and `V3/update_categories.json`.
//!
//! ConfigMgr offers category selection and staging only for v3 catalogs. Microsoft publishes
//! no spec, so the reader accepts what real files contain: UTF-8 with or without BOM,
//! UTF-16 with BOM (PowerShell 5 `Out-File`), and `Members` as an array, `null` or a bare
//! string (PowerShell `ConvertTo-Json` unwraps one-element arrays).

mod json;
mod outline;
mod resolve;

use std::collections::{BTreeMap, HashMap};

pub(crate) use json::parse_category_with;
pub use json::{RawCategory, decode_text, parse_category, parse_category_list};
pub use outline::{OutlineEntry, outline};
pub use resolve::{CategoryError, members_under, resolve, resolve_all};

use crate::catalog::model::Category;
use crate::ids::{CategoryId, UpdateId};

/// Why a set of V3 files does not form a usable category tree.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum V3Error {
    #[error("{file}: {reason}")]
    File { file: String, reason: String },
    #[error("category {0} is defined twice")]
    Duplicate(CategoryId),
    #[error("update_categories.json lists {0:?}, which have no V3/<id>.json file")]
    Unlisted(Vec<CategoryId>),
    #[error("category {category} (`{name}`) has parent {parent}, which is not in the catalog")]
    UnknownParent {
        category: CategoryId,
        name: String,
        parent: CategoryId,
    },
    #[error("categories form a cycle: {0:?}")]
    Cycle(Vec<CategoryId>),
    #[error("categories list updates that are not in the catalog: {}", fmt_missing(.0))]
    UnknownMembers(Vec<(CategoryId, Vec<UpdateId>)>),
}

fn fmt_missing(m: &[(CategoryId, Vec<UpdateId>)]) -> String {
    m.iter()
        .map(|(c, ids)| {
            let ids: Vec<String> = ids.iter().map(|i| i.to_string()).collect();
            format!("{c}: [{}]", ids.join(", "))
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// Builds the category tree: checks parents, cycles and members against `updates`, and
/// computes each node's `Root/Child/...` display path. `listed` is the content of
/// `update_categories.json` when present; every listed id must have a file. `known` says
/// whether the catalog has an update (a set of ids, or a tally that never held them all).
pub fn build_tree(
    raw: Vec<RawCategory>,
    listed: Option<&[CategoryId]>,
    known: &dyn Fn(&UpdateId) -> bool,
) -> Result<Vec<Category>, V3Error> {
    let mut by_id: BTreeMap<CategoryId, RawCategory> = BTreeMap::new();
    for c in raw {
        let id = c.id;
        if by_id.insert(id, c).is_some() {
            return Err(V3Error::Duplicate(id));
        }
    }
    if let Some(listed) = listed {
        let missing: Vec<CategoryId> = listed
            .iter()
            .filter(|id| !by_id.contains_key(*id))
            .cloned()
            .collect();
        if !missing.is_empty() {
            return Err(V3Error::Unlisted(missing));
        }
    }
    for c in by_id.values() {
        if let Some(p) = &c.parent
            && !by_id.contains_key(p)
        {
            return Err(V3Error::UnknownParent {
                category: c.id,
                name: c.display_name.clone(),
                parent: *p,
            });
        }
    }
    let mut paths: HashMap<CategoryId, String> = HashMap::new();
    for id in by_id.keys() {
        path_of(id, &by_id, &mut paths)?;
    }
    let missing: Vec<(CategoryId, Vec<UpdateId>)> = by_id
        .values()
        .filter_map(|c| {
            let m: Vec<UpdateId> = c.members.iter().filter(|u| !known(u)).cloned().collect();
            (!m.is_empty()).then_some((c.id, m))
        })
        .collect();
    if !missing.is_empty() {
        return Err(V3Error::UnknownMembers(missing));
    }
    let mut out: Vec<Category> = by_id
        .into_values()
        .map(|c| Category {
            path: paths.remove(&c.id).unwrap_or_default(),
            id: c.id,
            display_name: c.display_name,
            parent: c.parent,
            members: c.members,
        })
        .collect();
    out.sort_by(|a, b| a.path.cmp(&b.path).then_with(|| a.id.cmp(&b.id)));
    Ok(out)
}

/// Walks up the parents (iteratively, so a deep or cyclic tree cannot overflow the stack).
fn path_of(
    id: &CategoryId,
    all: &BTreeMap<CategoryId, RawCategory>,
    done: &mut HashMap<CategoryId, String>,
) -> Result<(), V3Error> {
    let mut chain: Vec<&CategoryId> = Vec::new();
    let mut cur = Some(id);
    let mut base = String::new();
    while let Some(c) = cur {
        if let Some(p) = done.get(c) {
            base = p.clone();
            break;
        }
        if chain.contains(&c) {
            return Err(V3Error::Cycle(chain.into_iter().cloned().collect()));
        }
        chain.push(c);
        cur = all.get(c).and_then(|n| n.parent.as_ref());
    }
    for c in chain.into_iter().rev() {
        let name = all
            .get(c)
            .map(|n| n.display_name.as_str())
            .unwrap_or_default();
        base = if base.is_empty() {
            name.to_string()
        } else {
            format!("{base}/{name}")
        };
        done.insert(*c, base.clone());
    }
    Ok(())
}

#[cfg(test)]
mod tests;
