//! Package XML packed ahead of its write.
//!
//! The embedded server stores each package packed (`codec::pack_xml`). Packing (deflate,
//! then) was a fifth of a large first apply's CPU, on the one thread that writes the
//! database; apply reads the packages it publishes on a thread of its own
//! (`apply::packages`), so it packs and hashes them there and hands the result over with
//! the change. A record whose package was not packed ahead is packed when it is written,
//! and servers that do not store packed XML (the in-memory one, a remote WSUS) ignore what
//! comes packed.

use std::collections::HashMap;

use crate::catalog::model::UpdateRecord;
use crate::ids::{Sha256, UpdateId};

/// One package's XML, packed as the embedded server stores it, with the content hash of
/// the XML it was made from (hashing 100,000 packages again on the writing thread was a
/// second of a first apply).
#[derive(Clone, PartialEq, Eq)]
pub struct PackedXml {
    content_hash: Sha256,
    bytes: Vec<u8>,
}

impl PackedXml {
    /// Packs and hashes `record`'s package XML.
    pub fn of(record: &UpdateRecord) -> Self {
        Self {
            content_hash: record.content_hash(),
            bytes: super::codec::pack_xml(&record.raw_xml),
        }
    }

    /// The [`UpdateRecord::content_hash`] of the record it was made from.
    pub fn content_hash(&self) -> Sha256 {
        self.content_hash
    }

    pub(crate) fn into_bytes(self) -> Vec<u8> {
        self.bytes
    }
}

impl std::fmt::Debug for PackedXml {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "PackedXml({}, {} bytes)",
            self.content_hash,
            self.bytes.len()
        )
    }
}

/// Packed packages of one change, by update: each made by [`PackedXml::of`] from the very
/// record the change publishes (debug builds check it).
#[derive(Clone, Default, PartialEq, Eq)]
pub struct PackedPackages(HashMap<UpdateId, PackedXml>);

impl PackedPackages {
    /// Adds `packed`, made from the record of update `id` that the change publishes.
    pub fn insert(&mut self, id: UpdateId, packed: PackedXml) {
        self.0.insert(id, packed);
    }

    /// `record`'s package if it was packed ahead. Without one, the writer hashes the XML
    /// and packs it only if it writes it (an unchanged update is not written).
    pub(crate) fn take(&mut self, record: &UpdateRecord) -> Option<PackedXml> {
        let p = self.0.remove(&record.id)?;
        debug_assert_eq!(
            p.content_hash,
            record.content_hash(),
            "a package packed from another record of {}",
            record.id
        );
        Some(p)
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl std::fmt::Debug for PackedPackages {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PackedPackages({} packages)", self.0.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(xml: &str) -> UpdateRecord {
        UpdateRecord {
            raw_xml: xml.to_string(),
            ..UpdateRecord::reference(
                crate::ids::UpdateId::parse("c9c7dfac-d9bc-4404-8a30-38d222bf01a7").unwrap(),
                Sha256::of(b""),
            )
        }
    }

    #[test]
    fn a_package_packed_ahead_is_the_one_written() {
        let r = record("<Update>ahead</Update>");
        let mut p = PackedPackages::default();
        p.insert(r.id, PackedXml::of(&r));
        assert_eq!(p.take(&r), Some(PackedXml::of(&r)));
        assert!(p.is_empty(), "taken once");
        assert_eq!(p.take(&r), None);
    }

    #[test]
    fn a_packed_package_knows_the_hash_of_its_xml() {
        let r = record("<Update>late</Update>");
        let p = PackedXml::of(&r);
        assert_eq!(p.content_hash(), r.content_hash());
        assert_eq!(p.into_bytes(), crate::store::codec::pack_xml(&r.raw_xml));
    }

    #[test]
    #[should_panic(expected = "a package packed from another record")]
    fn a_package_packed_from_another_record_is_caught_in_debug_builds() {
        let r = record("<Update>one</Update>");
        let other = UpdateRecord {
            raw_xml: "<Update>two</Update>".into(),
            ..r.clone()
        };
        let mut p = PackedPackages::default();
        p.insert(r.id, PackedXml::of(&other));
        let _ = p.take(&r);
    }
}
