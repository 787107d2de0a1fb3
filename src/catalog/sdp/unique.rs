//! One package per update id.
//!
//! A catalog that lists one `PackageID` twice (also as an upper-case or `{braced}` variant,
//! which normalise to the same id) would otherwise be planned twice, and every apply would
//! overwrite the update with the other package: a new revision each time, never converging.
//! ConfigMgr keeps one package per id; supctl keeps the one with the latest `CreationDate`,
//! because that is how a vendor marks a package's newer revision, and on equal dates the
//! later in the document, the one a sequential import would leave in place. Either way the
//! choice depends only on the catalog, so every plan picks the same package and the update
//! converges. Each drop is recorded so that `catalog inspect` and the plan can name both
//! packages.

use std::hash::{BuildHasher, Hash, RandomState};

use hashbrown::HashTable;

use chrono::{DateTime, Utc};

use super::PackageAt;
use crate::catalog::model::{DuplicatePackage, KeptBecause, PackageRef, UpdateRecord};
use crate::ids::UpdateId;

/// What [`Unique`] needs of a package: its id (as a key), its `CreationDate` and how to name
/// it. A whole [`UpdateRecord`] is one; `catalog inspect`'s tally keeps a few numbers per
/// package instead ([`crate::catalog::tally`]), under the same rule.
pub trait Candidate {
    /// The id in whatever form is cheapest to hold and compare.
    type Key: Eq + Hash;
    fn key(&self) -> &Self::Key;
    fn id(&self) -> UpdateId;
    fn created(&self) -> DateTime<Utc>;
    fn package_ref(&self, at: PackageAt) -> PackageRef;
}

impl Candidate for UpdateRecord {
    type Key = UpdateId;
    fn key(&self) -> &UpdateId {
        &self.id
    }
    fn id(&self) -> UpdateId {
        self.id
    }
    fn created(&self) -> DateTime<Utc> {
        self.created
    }
    fn package_ref(&self, at: PackageAt) -> PackageRef {
        PackageRef::of(self, at.position, at.line)
    }
}

/// Collects a catalog's packages, keeping one per id.
///
/// The index holds positions into `updates` and hashes each package's key where it is: a
/// map keyed by copies of the ids cost 100 bytes per package, a third of what counting a
/// catalog (`catalog inspect`) holds.
#[derive(Debug)]
pub struct Unique<T: Candidate = UpdateRecord> {
    updates: Vec<T>,
    /// Where each kept record sits in the document, parallel to `updates`.
    at: Vec<PackageAt>,
    index: HashTable<usize>,
    /// Randomly keyed: the ids come from the catalog, and a chosen set of colliding ones
    /// must not make the catalog quadratic to read.
    hasher: RandomState,
    duplicates: Vec<DuplicatePackage>,
}

impl<T: Candidate> Default for Unique<T> {
    fn default() -> Self {
        Self {
            updates: Vec::new(),
            at: Vec::new(),
            index: HashTable::new(),
            hasher: RandomState::new(),
            duplicates: Vec::new(),
        }
    }
}

impl<T: Candidate> Unique<T> {
    /// Adds the next package in document order. A duplicate takes the kept one's slot, so
    /// the order of `updates` is that of each id's first appearance.
    pub fn push(&mut self, record: T, at: PackageAt) {
        let Self {
            updates,
            index,
            hasher,
            ..
        } = self;
        let hash = hasher.hash_one(record.key());
        let found = index.find(hash, |&i| updates[i].key() == record.key());
        let Some(&slot) = found else {
            index.insert_unique(hash, updates.len(), |&i| hasher.hash_one(updates[i].key()));
            updates.push(record);
            self.at.push(at);
            return;
        };
        let (old, old_at) = (&self.updates[slot], self.at[slot]);
        let old_ref = old.package_ref(old_at);
        let new_ref = record.package_ref(at);
        let id = record.id();
        // Later in the document: it wins unless the kept one is strictly newer.
        let (kept, dropped, because) = if old.created() > record.created() {
            (old_ref, new_ref, KeptBecause::Newer)
        } else {
            let because = if old.created() == record.created() {
                KeptBecause::Later
            } else {
                KeptBecause::Newer
            };
            self.updates[slot] = record;
            self.at[slot] = at;
            (new_ref, old_ref, because)
        };
        self.duplicates.push(DuplicatePackage {
            id,
            kept,
            dropped,
            because,
        });
    }

    /// Whether a package with this key was pushed.
    pub fn contains(&self, key: &T::Key) -> bool {
        let hash = self.hasher.hash_one(key);
        self.index
            .find(hash, |&i| self.updates[i].key() == key)
            .is_some()
    }

    /// The kept records, in order of each id's first appearance, and what was dropped.
    pub fn finish(self) -> (Vec<T>, Vec<DuplicatePackage>) {
        (self.updates, self.duplicates)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::sdp::parse_catalog;

    fn package(id: &str, title: &str, created: &str) -> String {
        format!(
            r#"<sdp:SoftwareDistributionPackage xmlns:sdp="{}"><sdp:Properties PackageID="{id}" CreationDate="{created}"/><sdp:LocalizedProperties><sdp:Language>en</sdp:Language><sdp:Title>{title}</sdp:Title></sdp:LocalizedProperties><sdp:UpdateSpecificData UpdateClassification="Updates"/></sdp:SoftwareDistributionPackage>"#,
            crate::catalog::sdp::NS_SDP
        )
    }

    fn unique(packages: &[(&str, &str, &str)]) -> (Vec<UpdateRecord>, Vec<DuplicatePackage>) {
        let mut u = Unique::default();
        for (i, (id, title, created)) in packages.iter().enumerate() {
            let record = parse_catalog(&package(id, title, created))
                .unwrap()
                .remove(0);
            u.push(
                record,
                PackageAt {
                    position: i + 1,
                    line: 10 * (i + 1),
                },
            );
        }
        u.finish()
    }

    const X: &str = "0c31a8ec-a368-4383-8149-3d8e2c264f17";

    #[test]
    fn the_newest_package_wins_wherever_it_is() {
        let upper = format!("{{{}}}", X.to_uppercase());
        for order in [[0, 1, 2], [2, 1, 0], [1, 2, 0]] {
            let all = [
                (X, "old", "2024-01-01T00:00:00Z"),
                (upper.as_str(), "new", "2024-06-01T00:00:00Z"),
                (X, "older", "2023-01-01T00:00:00Z"),
            ];
            let input: Vec<_> = order.iter().map(|&i| all[i]).collect();
            let (updates, dups) = unique(&input);
            assert_eq!(updates.len(), 1);
            assert_eq!(updates[0].title(), "new", "{order:?}");
            assert_eq!(dups.len(), 2);
            assert!(dups.iter().all(|d| d.id.as_str() == X));
        }
    }

    #[test]
    fn on_equal_dates_the_later_wins_and_the_message_names_both() {
        let (updates, dups) = unique(&[
            (X, "first", "2024-01-01T00:00:00Z"),
            (
                "75703a22-ed04-4fc2-b715-75e42bc587c0",
                "other",
                "2024-01-01T00:00:00Z",
            ),
            (X, "second", "2024-01-01T00:00:00+00:00"),
        ]);
        let titles: Vec<&str> = updates.iter().map(|u| u.title()).collect();
        assert_eq!(
            titles,
            ["second", "other"],
            "the kept one takes the first slot"
        );
        assert_eq!(
            dups[0].to_string(),
            format!(
                "package {X} is listed more than once: kept package 3 (line 30, \"second\", created 2024-01-01T00:00:00+00:00), dropped package 1 (line 10, \"first\", created 2024-01-01T00:00:00Z): equal CreationDates, the later in the document wins"
            )
        );
    }
}
