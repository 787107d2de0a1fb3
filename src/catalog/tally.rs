//! `supctl catalog inspect` without holding the catalog: its packages are counted as they
//! stream past and dropped.
//!
//! Inspection prints counts (updates, vendors, products, classifications, superseded
//! references, content bytes) and the duplicate packages. Collecting every record first
//! made its memory follow the catalog: about 3 KB per update, 124 MiB for 30,000. Here each
//! package leaves a `Counted` of a few dozen bytes (its id as a number, its names as
//! indexes into a table of distinct ones) and its title and `CreationDate` as written, which
//! a duplicate's message needs. The duplicate rule is [`Unique`]'s, so the counts are those
//! of exactly the packages a plan would keep.
//!
//! The cabinet is read from its file ([`Cabinet::open_filtered`]), its directory without the
//! per-package `V2/` entries, and its signature is verified from the file beforehand
//! ([`crate::catalog::inspect::verify_file`]): nothing here holds more than a block of it.

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::io::{BufReader, Seek, SeekFrom};

use chrono::{DateTime, Utc};

use super::cab::Cabinet;
use super::extract::{CatalogParts, ExtractError, PackageSink, catalog_member, read_cab, read_xml};
use super::inspect::is_cabinet;
use super::limits::CatalogLimits;
use super::model::{DuplicatePackage, PackageRef, UpdateRecord};
use super::sdp::{Candidate, KeepXml, PackageAt, Unique};
use super::summary::Summary;
use crate::ids::UpdateId;

/// One kept package, as much as the summary and a duplicate's message need.
#[derive(Debug)]
struct Counted {
    /// The id's 128 bits (every [`UpdateId`] is a GUID), as bytes: a `u128` would align
    /// the whole struct to 16 and cost 8 bytes more per package.
    key: [u8; 16],
    created: DateTime<Utc>,
    /// The title, then `CreationDate` as written, in one allocation.
    text: Box<str>,
    title_len: u32,
    vendor: u32,
    classification: u32,
    /// The package's product list, as an index into [`Names::lists`].
    products: u32,
    superseded: u32,
    content_bytes: u64,
}

impl Candidate for Counted {
    type Key = [u8; 16];
    fn key(&self) -> &[u8; 16] {
        &self.key
    }
    fn id(&self) -> UpdateId {
        UpdateId::from_bits(u128::from_be_bytes(self.key))
    }
    fn created(&self) -> DateTime<Utc> {
        self.created
    }
    fn package_ref(&self, at: PackageAt) -> PackageRef {
        // `title_len` is the title's length in bytes (within `max_text_kib`), so a boundary.
        let (title, created) = self
            .text
            .split_at_checked(self.title_len as usize)
            .unwrap_or((&self.text, ""));
        PackageRef {
            position: at.position,
            line: at.line,
            title: title.to_string(),
            created: created.to_string(),
        }
    }
}

/// The id's 128 bits, as bytes: a `u128` would align [`Counted`] to 16.
fn key_of(id: &UpdateId) -> [u8; 16] {
    id.bits().to_be_bytes()
}

/// Distinct vendor, product and classification names, and distinct product lists: a
/// catalog repeats a handful of them across thousands of packages.
#[derive(Debug, Default)]
struct Names {
    names: Vec<String>,
    index: HashMap<String, u32>,
    lists: Vec<Vec<u32>>,
    list_index: HashMap<Vec<u32>, u32>,
}

impl Names {
    fn name(&mut self, s: &str) -> u32 {
        if let Some(&i) = self.index.get(s) {
            return i;
        }
        let i = u32::try_from(self.names.len()).unwrap_or(u32::MAX);
        self.names.push(s.to_string());
        self.index.insert(s.to_string(), i);
        i
    }

    fn list(&mut self, items: &[String]) -> u32 {
        let list: Vec<u32> = items.iter().map(|p| self.name(p)).collect();
        if let Some(&i) = self.list_index.get(&list) {
            return i;
        }
        let i = u32::try_from(self.lists.len()).unwrap_or(u32::MAX);
        self.lists.push(list.clone());
        self.list_index.insert(list, i);
        i
    }
}

/// Counts packages as they are parsed: the [`PackageSink`] of an inspection.
#[derive(Debug, Default)]
struct Tally {
    names: Names,
    unique: Unique<Counted>,
    /// Once the catalog XML is read: what the packages came to, and their ids, sorted.
    settled: Option<(Counts, Vec<[u8; 16]>)>,
}

/// What the kept packages add up to.
#[derive(Debug, Default)]
struct Counts {
    updates: usize,
    vendors: BTreeMap<String, usize>,
    products: BTreeMap<String, usize>,
    classifications: BTreeMap<String, usize>,
    superseded_refs: usize,
    content_bytes: u64,
    duplicates: Vec<DuplicatePackage>,
}

impl PackageSink for Tally {
    fn push(&mut self, record: UpdateRecord, at: PackageAt) {
        let title = record.title();
        let mut text = String::with_capacity(title.len() + record.created_raw.len());
        text.push_str(title);
        text.push_str(&record.created_raw);
        let counted = Counted {
            key: key_of(&record.id),
            created: record.created,
            title_len: u32::try_from(title.len()).unwrap_or(u32::MAX),
            text: text.into_boxed_str(),
            vendor: self.names.name(&record.vendor),
            classification: self.names.name(&record.classification),
            products: self.names.list(&record.products),
            superseded: u32::try_from(record.superseded.len()).unwrap_or(u32::MAX),
            content_bytes: record.content_bytes(),
        };
        self.unique.push(counted, at);
    }

    fn knows(&self, id: &UpdateId) -> bool {
        match &self.settled {
            Some((_, keys)) => keys.binary_search(&key_of(id)).is_ok(),
            None => self.unique.contains(&key_of(id)),
        }
    }

    fn keeps_members(&self) -> bool {
        false
    }

    /// Adds the packages up and keeps only their ids: the categories read next (a large
    /// one lists every update) then take the place of the packages' titles and names.
    fn packages_done(&mut self) {
        if self.settled.is_some() {
            return;
        }
        let names = std::mem::take(&mut self.names);
        let (kept, duplicates) = std::mem::take(&mut self.unique).finish();
        let mut counts = Counts {
            updates: kept.len(),
            duplicates,
            ..Counts::default()
        };
        let name = |i: u32| names.names[i as usize].clone();
        for c in &kept {
            *counts.vendors.entry(name(c.vendor)).or_default() += 1;
            for &p in &names.lists[c.products as usize] {
                *counts.products.entry(name(p)).or_default() += 1;
            }
            *counts
                .classifications
                .entry(name(c.classification))
                .or_default() += 1;
            counts.superseded_refs += c.superseded as usize;
            counts.content_bytes += c.content_bytes;
        }
        let mut keys: Vec<[u8; 16]> = kept.iter().map(|c| c.key).collect();
        drop(kept);
        keys.sort_unstable();
        self.settled = Some((counts, keys));
    }
}

impl Tally {
    /// The summary of the kept packages plus what the rest of the catalog says.
    fn summary(mut self, parts: CatalogParts) -> Summary {
        self.packages_done();
        let (counts, _) = self.settled.unwrap_or_default();
        Summary {
            format: parts.format.as_str(),
            updates: counts.updates,
            vendors: counts.vendors,
            products: counts.products,
            classifications: counts.classifications,
            categories: parts.categories.len(),
            content_certificates: parts.content_certificates.len(),
            expired_content_certificates: parts.expired_content_certificates.len(),
            missing_content_certificates: parts.missing_content_certificates,
            superseded_refs: counts.superseded_refs,
            content_bytes: counts.content_bytes,
            catalog_xml: parts.xml_name,
            xml_bytes: parts.xml_bytes,
            duplicates: counts.duplicates,
        }
    }
}

/// Counts what the catalog in `file` (a cabinet, or a bare catalog XML) holds, reading it
/// as it streams. The caller verifies the cabinet's signature first (trust rule 1).
pub fn tally_file(
    file: &File,
    limits: &CatalogLimits,
    now: DateTime<Utc>,
) -> Result<Summary, TallyError> {
    let len = file.metadata().map_err(TallyError::Read)?.len();
    let mut tally = Tally::default();
    let parts = if is_cabinet(file).map_err(TallyError::Read)? {
        let cab = Cabinet::open_filtered(file, &mut catalog_member).map_err(ExtractError::from)?;
        read_cab(&cab, limits, now, KeepXml::Neither, &mut tally)?
    } else {
        let mut head = file;
        head.seek(SeekFrom::Start(0)).map_err(TallyError::Read)?;
        let source = BufReader::with_capacity(64 << 10, head);
        read_xml(source, len, limits, KeepXml::Neither, &mut tally)?
    };
    Ok(tally.summary(parts))
}

/// Why a catalog could not be counted.
#[derive(Debug, thiserror::Error)]
pub enum TallyError {
    #[error("reading the catalog: {0}")]
    Read(std::io::Error),
    #[error(transparent)]
    Extract(#[from] ExtractError),
}
