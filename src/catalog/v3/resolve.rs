//! Turning what admins write (`Lenovo/Device Drivers - X` or a GUID) into category ids.

use std::collections::{BTreeSet, HashMap};

use crate::catalog::model::Category;
use crate::ids::{CategoryId, UpdateId, is_guid};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CategoryError {
    #[error("no category has id {0}")]
    UnknownId(CategoryId),
    #[error("no category has the path `{0}`")]
    NotFound(String),
    #[error("category path `{path}` is ambiguous; use one of the ids {}", ids.iter().map(|i| i.to_string()).collect::<Vec<_>>().join(", "))]
    Ambiguous { path: String, ids: Vec<CategoryId> },
}

/// Resolves one selector: a GUID, or a display-name path from the root compared ignoring
/// case. Two nodes with the same path (same display name under the same parent path) make
/// the path ambiguous: the error lists their ids so the admin can pick one.
pub fn resolve(categories: &[Category], selector: &str) -> Result<Vec<CategoryId>, CategoryError> {
    let selector = selector.trim();
    if is_guid(selector) {
        let id = CategoryId::parse(selector)
            .map_err(|_| CategoryError::NotFound(selector.to_string()))?;
        return if categories.iter().any(|c| c.id == id) {
            Ok(vec![id])
        } else {
            Err(CategoryError::UnknownId(id))
        };
    }
    let wanted = selector.trim_matches('/').to_lowercase();
    let ids: Vec<CategoryId> = categories
        .iter()
        .filter(|c| c.path.to_lowercase() == wanted)
        .map(|c| c.id)
        .collect();
    match ids.len() {
        0 => Err(CategoryError::NotFound(selector.to_string())),
        1 => Ok(ids),
        _ => Err(CategoryError::Ambiguous {
            path: selector.to_string(),
            ids,
        }),
    }
}

/// Resolves several selectors; the result has no duplicates and keeps first-seen order.
pub fn resolve_all<S: AsRef<str>>(
    categories: &[Category],
    selectors: &[S],
) -> Result<Vec<CategoryId>, CategoryError> {
    let mut out: Vec<CategoryId> = Vec::new();
    for s in selectors {
        for id in resolve(categories, s.as_ref())? {
            if !out.contains(&id) {
                out.push(id);
            }
        }
    }
    Ok(out)
}

/// Every update in the given categories or any of their descendants: selecting a model's
/// parent selects the model's updates too.
pub fn members_under(categories: &[Category], ids: &[CategoryId]) -> BTreeSet<UpdateId> {
    let mut children: HashMap<&CategoryId, Vec<&Category>> = HashMap::new();
    for c in categories {
        if let Some(p) = &c.parent {
            children.entry(p).or_default().push(c);
        }
    }
    let mut out = BTreeSet::new();
    let mut seen: BTreeSet<&CategoryId> = BTreeSet::new();
    let mut stack: Vec<&Category> = categories.iter().filter(|c| ids.contains(&c.id)).collect();
    while let Some(c) = stack.pop() {
        if !seen.insert(&c.id) {
            continue;
        }
        out.extend(c.members.iter().cloned());
        if let Some(kids) = children.get(&c.id) {
            stack.extend(kids.iter().copied());
        }
    }
    out
}
