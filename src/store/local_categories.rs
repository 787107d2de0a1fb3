//! The categories a WSUS makes for locally published updates, and the limit on them.
//!
//! WSUS gives every distinct vendor (`VendorName`, a `Company` category) and every product
//! of a vendor (`ProductName` under that vendor, a `Product` category) of the updates
//! published to it a category of its own, whoever published them (supctl, SCUP, another
//! publishing tool), and sends all of them to every client. Past 100 such categories client
//! scans fail until updates are deleted and the clients reset (Microsoft KB 945536; the
//! publishing tools refuse at 100 too). A product is keyed by its vendor: two vendors'
//! "Tools" are two categories, as WSUS creates a Product under each Company.
//!
//! The planner ([`crate::plan::limits`]) refuses a plan that would pass the limit, and the
//! embedded and in-memory servers refuse such a publication ([`check_publication`]), so an
//! apply that bypasses the plan (a stale saved plan) cannot pass it either and a plan made
//! on the embedded server predicts one made on WSUS.

use std::collections::BTreeSet;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::catalog::model::UpdateRecord;

use super::names::CatalogKey;

/// WSUS's limit on locally published categories (vendors plus products, all publishers):
/// Microsoft KB 945536; client scans fail past it.
pub const MAX_LOCAL_CATEGORIES: usize = 100;

/// How many newcomers a message names before it says "and N more".
pub const NAMED_IN_MESSAGES: usize = 10;

/// One locally published category. Ordered by vendor, each vendor before its products, so
/// a list reads as the tree WSUS shows.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum LocalCategory {
    /// A `Company` category: one per distinct `VendorName`.
    Vendor { vendor: String },
    /// A `Product` category under its vendor. `vendor` is empty when the server listed a
    /// locally published product whose company it did not list (it still counts).
    Product { vendor: String, product: String },
}

impl LocalCategory {
    fn sort_key(&self) -> (&str, Option<&str>) {
        match self {
            LocalCategory::Vendor { vendor } => (vendor, None),
            LocalCategory::Product { vendor, product } => (vendor, Some(product)),
        }
    }
}

impl Ord for LocalCategory {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.sort_key().cmp(&other.sort_key())
    }
}

impl PartialOrd for LocalCategory {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for LocalCategory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LocalCategory::Vendor { vendor } => write!(f, "vendor {vendor:?}"),
            LocalCategory::Product { vendor, product } if vendor.is_empty() => {
                write!(f, "product {product:?}")
            }
            LocalCategory::Product { vendor, product } => {
                write!(f, "product {product:?} of {vendor:?}")
            }
        }
    }
}

/// The categories an update with this vendor and these products lives in.
pub fn of_update<'a>(
    vendor: &'a str,
    products: &'a [String],
) -> impl Iterator<Item = LocalCategory> + 'a {
    std::iter::once(LocalCategory::Vendor {
        vendor: vendor.to_string(),
    })
    .chain(products.iter().map(move |p| LocalCategory::Product {
        vendor: vendor.to_string(),
        product: p.clone(),
    }))
}

/// The locally published categories a server has, of every publisher.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct LocalCategories(BTreeSet<LocalCategory>);

impl LocalCategories {
    /// The categories of these updates (vendor, products): how the embedded and in-memory
    /// servers know theirs. Every stored update counts, expired and declined ones too: WSUS
    /// keeps an update, and so its categories, until it is deleted (KB 945536 recovers by
    /// deleting updates), and supctl never deletes an update from these servers.
    ///
    /// Each distinct (vendor, products) pair is looked at once: 100,000 updates name a few
    /// dozen, and making the categories of each update first held 20 MB at a plan's peak.
    /// A run of updates with the pair of the one before (a catalog's updates come together)
    /// is skipped without hashing, and the rest are hashed with FxHash, not SipHash: these
    /// are the server's own names, and hashing 100,000 pairs with SipHash was a fifth of a
    /// snapshot read from its cache.
    pub fn of_updates<'a>(updates: impl IntoIterator<Item = (&'a str, &'a [String])>) -> Self {
        let mut distinct: rustc_hash::FxHashSet<(&str, &[String])> = Default::default();
        let mut last = None;
        for pair in updates {
            if last != Some(pair) {
                distinct.insert(pair);
                last = Some(pair);
            }
        }
        Self(
            distinct
                .into_iter()
                .flat_map(|(v, p)| of_update(v, p))
                .collect(),
        )
    }

    pub fn insert(&mut self, c: LocalCategory) -> bool {
        self.0.insert(c)
    }
    pub fn contains(&self, c: &LocalCategory) -> bool {
        self.0.contains(c)
    }
    pub fn len(&self) -> usize {
        self.0.len()
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    pub fn iter(&self) -> impl Iterator<Item = &LocalCategory> {
        self.0.iter()
    }

    /// The categories of `records` this server does not have yet, sorted.
    pub fn newcomers<'a>(
        &self,
        records: impl IntoIterator<Item = &'a UpdateRecord>,
    ) -> BTreeSet<LocalCategory> {
        records
            .into_iter()
            .flat_map(|r| of_update(&r.vendor, &r.products))
            .filter(|c| !self.contains(c))
            .collect()
    }
}

impl FromIterator<LocalCategory> for LocalCategories {
    fn from_iter<T: IntoIterator<Item = LocalCategory>>(iter: T) -> Self {
        Self(iter.into_iter().collect())
    }
}

/// The first [`NAMED_IN_MESSAGES`] of `categories`, and how many more there are.
pub fn name_some<'a>(categories: impl IntoIterator<Item = &'a LocalCategory>) -> String {
    let all: Vec<&LocalCategory> = categories.into_iter().collect();
    let named: Vec<String> = all
        .iter()
        .take(NAMED_IN_MESSAGES)
        .map(|c| c.to_string())
        .collect();
    match all.len().saturating_sub(NAMED_IN_MESSAGES) {
        0 => named.join(", "),
        more => format!("{} and {more} more", named.join(", ")),
    }
}

/// A publication that would take the server past [`MAX_LOCAL_CATEGORIES`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "publishing to catalog {catalog} would create {} new locally published categories ({}) on top of the {existing} the server has, past WSUS's limit of {limit} (Microsoft KB 945536): nothing of this batch was published; narrow the catalog's `categories`, or decline and delete the updates of vendors no longer used, then plan again",
    newcomers.len(),
    name_some(newcomers)
)]
pub struct CategoryLimitError {
    pub catalog: CatalogKey,
    pub newcomers: Vec<LocalCategory>,
    pub existing: usize,
    pub limit: usize,
}

/// Refuses publishing `records` to `catalog` on a server with `existing` categories when
/// that creates a category past the limit. A server already past it (categories another
/// tool made) may still publish into the categories it has.
pub fn check_publication(
    existing: &LocalCategories,
    catalog: &CatalogKey,
    records: &[UpdateRecord],
) -> Result<(), CategoryLimitError> {
    let newcomers = existing.newcomers(records);
    if newcomers.is_empty() || existing.len() + newcomers.len() <= MAX_LOCAL_CATEGORIES {
        return Ok(());
    }
    Err(CategoryLimitError {
        catalog: catalog.clone(),
        newcomers: newcomers.into_iter().collect(),
        existing: existing.len(),
        limit: MAX_LOCAL_CATEGORIES,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vendor(v: &str) -> LocalCategory {
        LocalCategory::Vendor { vendor: v.into() }
    }
    fn product(v: &str, p: &str) -> LocalCategory {
        LocalCategory::Product {
            vendor: v.into(),
            product: p.into(),
        }
    }

    #[test]
    fn a_product_is_keyed_by_its_vendor() {
        let products = vec!["Tools".to_string()];
        let c = LocalCategories::of_updates([("A", products.as_slice()), ("B", &products)]);
        assert_eq!(c.len(), 4, "{c:?}");
        assert!(c.contains(&product("A", "Tools")) && c.contains(&product("B", "Tools")));
        assert!(c.contains(&vendor("A")) && c.contains(&vendor("B")));
    }

    #[test]
    fn messages_name_the_first_ones_and_count_the_rest() {
        let many: Vec<LocalCategory> = (0..13).map(|i| vendor(&format!("V{i:02}"))).collect();
        let text = name_some(&many);
        assert!(text.starts_with("vendor \"V00\", vendor \"V01\""), "{text}");
        assert!(text.ends_with("vendor \"V09\" and 3 more"), "{text}");
        assert_eq!(name_some(&many[..2]), "vendor \"V00\", vendor \"V01\"");
        assert_eq!(
            product("", "Orphan").to_string(),
            "product \"Orphan\"",
            "a product without a known company"
        );
    }
}
