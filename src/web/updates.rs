//! Where the listener reads updates from, for the catalog pages and `/api/updates`.
//!
//! The embedded server answers a filtered query from its own indexes, so the listener opens
//! it read-only per request (SQLite allows readers beside the daemon's writer) and holds
//! nothing between requests: a catalog of 100,000 updates costs the daemon no memory while
//! nobody looks. A remote WSUS has no such query, and a full read per page view would load
//! the server admins are protecting, so for it the listener keeps the snapshot the last pass
//! read anyway. An update's page shows its description, which no snapshot holds: both
//! read it from the state directory's database (for a WSUS, the site database, which holds
//! every update supctl published there).

use std::collections::BTreeMap;

use crate::catalog::model::Category;
use crate::ids::UpdateId;
use crate::store::db::OpenOptions;
use crate::store::embedded::EmbeddedServer;
use crate::store::query::{UpdateFilter, UpdateRow};
use crate::store::{ActualState, CatalogKey, StoreError, StoreLocation, StoredUpdate};

/// Each catalog's category tree (to mark deselected updates).
pub type Trees = BTreeMap<CatalogKey, Vec<Category>>;

/// How the listener reads updates (chosen from the backend at start-up).
#[derive(Debug, Clone)]
pub enum UpdateSource {
    /// Query the embedded server's database per request.
    Embedded(StoreLocation),
    /// Filter the snapshot the daemon published after its last pass; descriptions come
    /// from the site database in this state directory.
    Snapshot(StoreLocation),
}

/// A page of rows, with the number that matched.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Page {
    pub total: usize,
    pub page: usize,
    pub per_page: usize,
    pub updates: Vec<UpdateRow>,
}

impl UpdateSource {
    /// Whether [`super::WebState::publish`] must keep the snapshot.
    pub fn keeps_snapshot(&self) -> bool {
        matches!(self, Self::Snapshot(_))
    }

    /// The rows matching `filter`, sorted by title, and the category trees (to mark
    /// deselected updates).
    pub fn list(
        &self,
        filter: &UpdateFilter,
        snapshot: Option<&ActualState>,
    ) -> Result<(Vec<UpdateRow>, Trees), StoreError> {
        match self {
            Self::Embedded(loc) => {
                let s = EmbeddedServer::open(loc, OpenOptions::read())?;
                Ok((s.list_updates(filter)?, s.categories()?))
            }
            Self::Snapshot(_) => Ok(snapshot.map_or_else(Default::default, |s| {
                (filter.apply(s), s.categories.clone())
            })),
        }
    }

    /// One update's current revision, and its description where the database has one.
    pub fn get(
        &self,
        id: &UpdateId,
        snapshot: Option<&ActualState>,
    ) -> Result<Option<(StoredUpdate, Option<String>)>, StoreError> {
        match self {
            Self::Embedded(loc) => {
                let db = EmbeddedServer::open(loc, OpenOptions::read())?;
                let Some(u) = db.update(id)? else {
                    return Ok(None);
                };
                Ok(Some((u, db.description(id)?)))
            }
            Self::Snapshot(loc) => {
                let Some(u) = snapshot.and_then(|s| s.updates.get(id)) else {
                    return Ok(None);
                };
                let db = EmbeddedServer::open(loc, OpenOptions::read())?;
                Ok(Some(((**u).clone(), db.description(id)?)))
            }
        }
    }
}

/// Cuts `rows` to page `page` (from 1) of `per_page`.
pub fn page(rows: Vec<UpdateRow>, page: usize, per_page: usize) -> Page {
    let total = rows.len();
    let page = page.max(1);
    let updates = rows
        .into_iter()
        .skip((page - 1).saturating_mul(per_page))
        .take(per_page)
        .collect();
    Page {
        total,
        page,
        per_page,
        updates,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(n: usize) -> UpdateRow {
        UpdateRow {
            id: UpdateId::parse(&format!("00000000-0000-0000-0000-{n:012}")).unwrap(),
            revision: 1,
            title: format!("t{n}"),
            vendor: "v".into(),
            product: "p".into(),
            classification: "Updates".into(),
            catalog: CatalogKey::parse("c").unwrap(),
            state: crate::store::UpdateState::MetadataOnly,
            deselected: false,
            supersedes: Vec::new(),
            superseded_by: Vec::new(),
            compliance: None,
        }
    }

    #[test]
    fn pages_count_from_one_and_keep_the_total() {
        let rows: Vec<UpdateRow> = (0..5).map(row).collect();
        let p = page(rows.clone(), 2, 2);
        assert_eq!((p.total, p.page, p.updates.len()), (5, 2, 2));
        assert_eq!(p.updates[0].title, "t2");
        assert_eq!(
            page(rows.clone(), 0, 2).page,
            1,
            "page 0 reads as the first"
        );
        assert!(page(rows, 9, 2).updates.is_empty());
    }
}
