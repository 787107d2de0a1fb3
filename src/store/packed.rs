//! Package XML deflated ahead of its write.
//!
//! The embedded server stores each package deflated (`codec::pack_xml`). Deflating was a
//! fifth of a large first apply's CPU, on the one thread that writes the database; apply
//! reads the packages it publishes on a thread of its own (`apply::packages`), so it
//! deflates them there and hands the result over with the change. A record whose package
//! was not packed ahead is deflated when it is written, and servers that do not store
//! deflated XML (the in-memory one, a remote WSUS) ignore what comes packed.

use std::collections::HashMap;

use crate::catalog::model::UpdateRecord;
use crate::ids::Sha256;

/// One package's XML, deflated as the embedded server stores it.
#[derive(Clone, PartialEq, Eq)]
pub struct PackedXml(Vec<u8>);

impl PackedXml {
    /// Deflates `record`'s package XML.
    pub fn of(record: &UpdateRecord) -> Self {
        Self(super::codec::pack_xml(&record.raw_xml))
    }

    pub(crate) fn into_bytes(self) -> Vec<u8> {
        self.0
    }
}

impl std::fmt::Debug for PackedXml {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PackedXml({} bytes)", self.0.len())
    }
}

/// Packed packages of one change, by the content hash of their XML: the hash names exactly
/// the XML that was packed, so a record finds its own package or none.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct PackedPackages(HashMap<Sha256, PackedXml>);

impl PackedPackages {
    /// Adds the package whose XML hashes to `content_hash`.
    pub fn insert(&mut self, content_hash: Sha256, packed: PackedXml) {
        self.0.insert(content_hash, packed);
    }

    /// The package of the record whose content hash is `content_hash`, deflated: packed
    /// ahead, or now from `xml`.
    pub(crate) fn take_or_pack(&mut self, content_hash: &Sha256, xml: &str) -> Vec<u8> {
        match self.0.remove(content_hash) {
            Some(p) => p.into_bytes(),
            None => super::codec::pack_xml(xml),
        }
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
        p.insert(r.content_hash(), PackedXml::of(&r));
        let ahead = PackedXml::of(&r).into_bytes();
        assert_eq!(p.take_or_pack(&r.content_hash(), &r.raw_xml), ahead);
        assert!(p.is_empty(), "taken once");
    }

    #[test]
    fn a_package_not_packed_ahead_is_packed_when_written() {
        let r = record("<Update>late</Update>");
        let other = record("<Update>other</Update>");
        let mut p = PackedPackages::default();
        p.insert(other.content_hash(), PackedXml::of(&other));
        let packed = p.take_or_pack(&r.content_hash(), &r.raw_xml);
        assert_eq!(packed, PackedXml::of(&r).into_bytes());
        assert_eq!(p.len(), 1, "the other one stays");
    }
}
