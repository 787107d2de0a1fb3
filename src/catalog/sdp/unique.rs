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

use std::collections::HashMap;

use super::PackageAt;
use crate::catalog::model::{DuplicatePackage, KeptBecause, PackageRef, UpdateRecord};
use crate::ids::UpdateId;

/// Collects a catalog's packages, keeping one per id.
#[derive(Debug, Default)]
pub struct Unique {
    updates: Vec<UpdateRecord>,
    /// Where each kept record sits in the document, parallel to `updates`.
    at: Vec<PackageAt>,
    index: HashMap<UpdateId, usize>,
    duplicates: Vec<DuplicatePackage>,
}

impl Unique {
    /// Adds the next package in document order. A duplicate takes the kept one's slot, so
    /// the order of `updates` is that of each id's first appearance.
    pub fn push(&mut self, record: UpdateRecord, at: PackageAt) {
        let Some(&slot) = self.index.get(&record.id) else {
            self.index.insert(record.id.clone(), self.updates.len());
            self.updates.push(record);
            self.at.push(at);
            return;
        };
        let (old, old_at) = (&self.updates[slot], self.at[slot]);
        let old_ref = PackageRef::of(old, old_at.position, old_at.line);
        let new_ref = PackageRef::of(&record, at.position, at.line);
        let id = record.id.clone();
        // Later in the document: it wins unless the kept one is strictly newer.
        let (kept, dropped, because) = if old.created > record.created {
            (old_ref, new_ref, KeptBecause::Newer)
        } else {
            let because = if old.created == record.created {
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

    /// The kept records, in order of each id's first appearance, and what was dropped.
    pub fn finish(self) -> (Vec<UpdateRecord>, Vec<DuplicatePackage>) {
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
