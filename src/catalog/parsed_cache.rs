//! A compact copy of a trusted catalog's parsed content, keyed by the CAB's SHA-256.
//!
//! Planning an unchanged catalog should not decompress and parse it again: the benchmark of a
//! no-op plan over 10 catalogs spent most of its time doing exactly that. The copy keeps every
//! field but each package's XML, which is replaced by its hash; that is all the planner needs
//! to decide. When a plan publishes or revises from such a catalog, the summary is checked
//! against the cached CAB first (`reconcile::summaries`), and apply reads the XML of what it
//! publishes from that CAB (`reconcile::hydrate`), so a summary is never published.
//!
//! The copy is written only after the CAB verified and its signer was trusted, and it is used
//! only for a CAB with the same SHA-256 whose signature verifies again under the current
//! policy, so it never bypasses trust rule 1.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::ser::{SerializeSeq, SerializeStruct};
use serde::{Deserialize, Serialize, Serializer};

use super::model::{CatalogContent, UpdateRecord};
use crate::ids::Sha256;

#[derive(Deserialize)]
struct Entry {
    /// Bumped when the stored shape changes; older copies are ignored.
    version: u32,
    cab_sha256: Sha256,
    content: CatalogContent,
}

/// What [`save`] writes: an [`Entry`] whose content is summarised (each package's XML
/// replaced by its hash) one record at a time while it is written, rather than as a copy of
/// the whole catalog, which doubled the memory of planning a large catalog.
struct SavedEntry<'a> {
    cab_sha256: Sha256,
    content: &'a CatalogContent,
}

impl Serialize for SavedEntry<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut e = s.serialize_struct("Entry", 3)?;
        e.serialize_field("version", &VERSION)?;
        e.serialize_field("cab_sha256", &self.cab_sha256)?;
        e.serialize_field("content", &SummaryContent(self.content))?;
        e.end()
    }
}

struct SummaryContent<'a>(&'a CatalogContent);

impl Serialize for SummaryContent<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let c = self.0;
        let mut e = s.serialize_struct("CatalogContent", 5)?;
        e.serialize_field("format", &c.format)?;
        e.serialize_field("updates", &SummaryUpdates(&c.updates))?;
        e.serialize_field("categories", &c.categories)?;
        e.serialize_field("content_certificates", &c.content_certificates)?;
        e.serialize_field("duplicates", &c.duplicates)?;
        e.end()
    }
}

struct SummaryUpdates<'a>(&'a [Arc<UpdateRecord>]);

impl Serialize for SummaryUpdates<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(self.0.len()))?;
        for u in self.0 {
            seq.serialize_element(&summary_of(u))?;
        }
        seq.end()
    }
}

/// One record with its XML replaced by its hash. The namespace declarations the package
/// inherits go too: they serve only to publish the XML, which a summary never is, and
/// written once per record (shared in memory, not on disk) they were half of the file.
fn summary_of(u: &UpdateRecord) -> UpdateRecord {
    let mut s = UpdateRecord {
        raw_xml: String::new(),
        namespaces: Default::default(),
        ..u.clone()
    };
    s.raw_hash = Some(u.content_hash());
    s
}

/// 2: one record per update id, with the dropped duplicates listed; 3: items say whether
/// they can be uninstalled.
const VERSION: u32 = 3;

fn path(cache_dir: &Path, key: &str) -> PathBuf {
    cache_dir.join(format!("{key}.parsed.json"))
}

/// Saves the summary (temp file, fsync, rename); a failure only costs a later re-parse.
pub fn save(
    cache_dir: &Path,
    key: &str,
    cab_sha256: Sha256,
    content: &CatalogContent,
) -> std::io::Result<()> {
    std::fs::create_dir_all(cache_dir)?;
    let entry = SavedEntry {
        cab_sha256,
        content,
    };
    let mut tmp = tempfile::NamedTempFile::new_in(cache_dir)?;
    {
        let mut w = std::io::BufWriter::new(tmp.as_file_mut());
        serde_json::to_writer(&mut w, &entry)?;
        w.flush()?;
    }
    tmp.as_file().sync_all()?;
    tmp.persist(path(cache_dir, key)).map_err(|e| e.error)?;
    Ok(())
}

/// The summary saved for exactly this CAB, if any (a damaged or stale copy is ignored).
pub fn load(cache_dir: &Path, key: &str, cab_sha256: Sha256) -> Option<CatalogContent> {
    // From a slice: serde_json's reader-based parsing is several times slower.
    let bytes = std::fs::read(path(cache_dir, key)).ok()?;
    let mut entry: Entry = serde_json::from_slice(&bytes).ok()?;
    if entry.version != VERSION || entry.cab_sha256 != cab_sha256 {
        return None;
    }
    // Vectors grown while decoding keep room for four elements: held for the whole plan,
    // that room was two thirds of the summaries' memory.
    for u in &mut entry.content.updates {
        if let Some(u) = Arc::get_mut(u) {
            u.shrink_to_fit();
        }
    }
    entry.content.updates.shrink_to_fit();
    Some(entry.content)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::model::FormatVersion;

    fn content() -> CatalogContent {
        let xml = include_str!("../../tests/fixtures/catalog/package.sdp");
        let updates = crate::catalog::sdp::parse_catalog(xml).unwrap();
        CatalogContent {
            format: FormatVersion::V3,
            updates: updates.into_iter().map(Arc::new).collect(),
            categories: vec![],
            content_certificates: vec![],
            duplicates: vec![],
        }
    }

    #[test]
    fn a_summary_keeps_everything_but_the_xml_and_plans_alike() {
        let d = tempfile::tempdir().unwrap();
        let full = content();
        let cab = Sha256::of(b"cab");
        save(d.path(), "k", cab, &full).unwrap();
        let s = load(d.path(), "k", cab).unwrap();
        assert_eq!(s.updates.len(), full.updates.len());
        for (a, b) in s.updates.iter().zip(&full.updates) {
            assert!(a.is_summary() && !b.is_summary());
            assert!(a.raw_xml.is_empty() && a.namespaces.is_empty());
            assert_eq!(a.content_hash(), b.content_hash());
            assert_eq!(
                (a.id.clone(), a.title(), &a.items),
                (b.id.clone(), b.title(), &b.items)
            );
        }
        assert!(
            load(d.path(), "k", Sha256::of(b"other cab")).is_none(),
            "keyed by the CAB digest"
        );
        std::fs::write(path(d.path(), "k"), "{not json").unwrap();
        assert!(
            load(d.path(), "k", cab).is_none(),
            "a damaged copy is ignored"
        );
    }
}
