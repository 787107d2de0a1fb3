//! The category tree as admins read it (`supctl catalog categories`): depth-first from the
//! roots, in catalog order, with member counts and the paths several categories share.
//!
//! Config entries name categories by display-name path; a path two siblings share cannot
//! select one of them, so the outline marks those and the admin writes the GUID instead.

use std::collections::{HashMap, HashSet};

use super::members_under;
use crate::catalog::model::Category;
use crate::ids::CategoryId;

/// One category in outline order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutlineEntry<'a> {
    pub category: &'a Category,
    /// 0 for a root.
    pub depth: usize,
    /// Updates listed by this category itself.
    pub members: usize,
    /// Updates it selects: its own and its descendants' (what `categories = [path]` picks).
    pub total: usize,
    /// Another category has the same path: select this one by GUID.
    pub duplicate_path: bool,
}

/// The categories depth-first from their roots, children in catalog order. Categories a
/// tree walk cannot reach (a cycle, which `build_tree` rejects) are appended as roots so
/// nothing is hidden.
pub fn outline(categories: &[Category]) -> Vec<OutlineEntry<'_>> {
    let mut children: HashMap<&CategoryId, Vec<&Category>> = HashMap::new();
    let ids: HashSet<&CategoryId> = categories.iter().map(|c| &c.id).collect();
    let mut roots = Vec::new();
    for c in categories {
        match &c.parent {
            Some(p) if ids.contains(p) => children.entry(p).or_default().push(c),
            _ => roots.push(c),
        }
    }
    let mut paths: HashMap<String, usize> = HashMap::new();
    for c in categories {
        *paths.entry(c.path.to_lowercase()).or_default() += 1;
    }
    let mut out = Vec::with_capacity(categories.len());
    let mut seen: HashSet<&CategoryId> = HashSet::new();
    let mut stack: Vec<(&Category, usize)> = roots.iter().rev().map(|c| (*c, 0)).collect();
    let mut rest = categories.iter();
    loop {
        let (c, depth) = match stack.pop() {
            Some(next) => next,
            None => match rest.find(|c| !seen.contains(&c.id)) {
                Some(c) => (c, 0),
                None => break,
            },
        };
        if !seen.insert(&c.id) {
            continue;
        }
        let own: HashSet<_> = c.members.iter().collect();
        out.push(OutlineEntry {
            category: c,
            depth,
            members: own.len(),
            total: members_under(categories, std::slice::from_ref(&c.id)).len(),
            duplicate_path: paths.get(&c.path.to_lowercase()).is_some_and(|n| *n > 1),
        });
        if let Some(kids) = children.get(&c.id) {
            stack.extend(kids.iter().rev().map(|k| (*k, depth + 1)));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::UpdateId;

    fn cat(n: u8, name: &str, parent: Option<u8>, path: &str, members: &[u8]) -> Category {
        let id = |n: u8| {
            CategoryId::parse(&format!("aaaaaaaa-0000-4000-8000-0000000000{n:02}")).unwrap()
        };
        Category {
            id: id(n),
            display_name: name.into(),
            parent: parent.map(id),
            members: members
                .iter()
                .map(|m| {
                    UpdateId::parse(&format!("bbbbbbbb-0000-4000-8000-0000000000{m:02}")).unwrap()
                })
                .collect(),
            path: path.into(),
        }
    }

    #[test]
    fn depth_first_in_catalog_order_with_counts_and_duplicates() {
        let cats = vec![
            cat(4, "Model X", Some(3), "V/Drivers/Model X", &[3]),
            cat(1, "V", None, "V", &[1, 2, 3]),
            cat(2, "BIOS", Some(1), "V/BIOS", &[1, 1]),
            cat(3, "Drivers", Some(1), "V/Drivers", &[]),
            cat(5, "bios", Some(1), "V/bios", &[2]),
        ];
        let o = outline(&cats);
        let shown: Vec<(&str, usize, usize, usize, bool)> = o
            .iter()
            .map(|e| {
                (
                    e.category.path.as_str(),
                    e.depth,
                    e.members,
                    e.total,
                    e.duplicate_path,
                )
            })
            .collect();
        assert_eq!(
            shown,
            [
                ("V", 0, 3, 3, false),
                ("V/BIOS", 1, 1, 1, true),
                ("V/Drivers", 1, 0, 1, false),
                ("V/Drivers/Model X", 2, 1, 1, false),
                ("V/bios", 1, 1, 1, true),
            ]
        );
    }
}
