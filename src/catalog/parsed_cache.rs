//! A compact copy of a trusted catalog's parsed content, keyed by the CAB's SHA-256.
//!
//! Planning an unchanged catalog should not decompress and parse it again: the benchmark of a
//! no-op plan over 10 catalogs spent most of its time doing exactly that. The copy keeps every
//! field the planner reads but each package's XML, which is replaced by its hash, and its
//! descriptions, which no plan shows (a publish shows the title; the store takes the whole
//! package from the CAB). When a plan publishes or revises from such a catalog, the summary
//! is checked against the cached CAB first (`reconcile::summaries`), and apply reads the XML
//! of what it publishes from that CAB (`reconcile::hydrate`), so a summary is never
//! published.
//!
//! The copy is written only after the CAB verified and its signer was trusted, and it is used
//! only for a CAB with the same SHA-256 whose signature verifies again under the current
//! policy, so it never bypasses trust rule 1.
//!
//! **Format.** `<key>.summary` is [postcard] (a compact, schema-less binary serde format):
//! a no-op plan of 100,000 updates read 150 MB of JSON summaries (15 MB per 10,000 updates,
//! a third of the plan's CPU). Ids are stored as their 128 bits and digests as bytes, so
//! nothing is parsed from text. The records are written from the catalog one at a time,
//! and read into their final form one at a time (`records`), so neither side holds a
//! second copy. The small rest (categories, content certificates, dropped duplicates)
//! keeps its JSON form inside the file: its types are shaped for JSON (tagged enums,
//! skipped fields), which a positional format cannot carry.

use std::io::Write as _;
use std::marker::PhantomData;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::de::{SeqAccess, Visitor};
use serde::ser::SerializeSeq;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::model::{
    CatalogContent, Category, DuplicatePackage, FormatVersion, InstallableItem, Installer,
    Localized, Namespaces, OriginFile, PublicationState, UpdateRecord,
};
use crate::ids::{Sha1, Sha256, UpdateId};
use crate::interner::Interner;
use crate::trust::CertificateInfo;

/// Bumped when the stored shape changes; older copies are ignored. 4: postcard, without
/// descriptions (1-3 were JSON, `<key>.parsed.json`).
const VERSION: u32 = 4;

/// What the file starts with, so a file of another kind is never decoded as a summary.
const MAGIC: [u8; 8] = *b"supctlS\n";

/// The file's leading fields, read before the records.
#[derive(Serialize, Deserialize)]
struct Header {
    magic: [u8; 8],
    version: u32,
    cab_sha256: [u8; 32],
}

/// The small part of a catalog kept as JSON (see the module doc), as written ...
#[derive(Serialize)]
struct RestOut<'a> {
    format: FormatVersion,
    categories: &'a [Category],
    content_certificates: &'a [CertificateInfo],
    duplicates: &'a [DuplicatePackage],
}

/// ... and as read back.
#[derive(Deserialize)]
struct Rest {
    format: FormatVersion,
    categories: Vec<Category>,
    content_certificates: Vec<CertificateInfo>,
    duplicates: Vec<DuplicatePackage>,
}

/// One record as stored, borrowed from the catalog when written.
#[derive(Serialize)]
struct RecordOut<'a> {
    id: u128,
    content_hash: [u8; 32],
    schema_version: &'a str,
    created: (i64, u32),
    created_raw: &'a str,
    vendor: &'a str,
    products: &'a [String],
    expired: bool,
    update_type: &'a str,
    /// (language, title) of each `LocalizedProperties`, in order.
    titles: Vec<(&'a str, &'a str)>,
    classification: &'a str,
    severity: Option<&'a str>,
    kb_article: Option<&'a str>,
    bulletin: Option<&'a str>,
    cves: &'a [String],
    superseded: Vec<u128>,
    items: Vec<ItemOut<'a>>,
}

#[derive(Serialize)]
struct ItemOut<'a> {
    id: u128,
    installer: InstallerForm,
    files: Vec<FileOut<'a>>,
    uninstallable: bool,
}

#[derive(Serialize)]
struct FileOut<'a> {
    name: &'a str,
    size: u64,
    sha1: [u8; 20],
    sha256: Option<[u8; 32]>,
    uri: Option<&'a str>,
    modified: &'a str,
}

/// One record as read back. The names every record of a catalog repeats are borrowed from
/// the file and shared ([`Interner`]) as the record is made.
#[derive(Deserialize)]
struct RecordIn<'a> {
    id: u128,
    content_hash: [u8; 32],
    schema_version: &'a str,
    created: (i64, u32),
    created_raw: String,
    vendor: &'a str,
    #[serde(borrow)]
    products: Vec<&'a str>,
    expired: bool,
    update_type: &'a str,
    #[serde(deserialize_with = "titles")]
    titles: Vec<Localized>,
    classification: &'a str,
    #[serde(borrow)]
    severity: Option<&'a str>,
    kb_article: Option<String>,
    bulletin: Option<String>,
    cves: Vec<String>,
    #[serde(deserialize_with = "ids")]
    superseded: Vec<UpdateId>,
    #[serde(deserialize_with = "items")]
    items: Vec<InstallableItem>,
}

#[derive(Deserialize)]
struct ItemIn {
    id: u128,
    installer: InstallerForm,
    #[serde(deserialize_with = "files")]
    files: Vec<OriginFile>,
    uninstallable: bool,
}

#[derive(Deserialize)]
struct FileIn {
    name: String,
    size: u64,
    sha1: [u8; 20],
    sha256: Option<[u8; 32]>,
    uri: Option<String>,
    modified: String,
}

/// [`Installer`] in a form postcard can carry (it is internally tagged for JSON).
#[derive(Serialize, Deserialize)]
enum InstallerForm {
    CommandLine {
        program: String,
        arguments: Option<String>,
    },
    Msi {
        product_code: String,
        msi_file: String,
    },
    Msp {
        patch_code: Option<String>,
    },
    Other {
        element: String,
    },
}

impl From<&Installer> for InstallerForm {
    fn from(i: &Installer) -> Self {
        match i.clone() {
            Installer::CommandLine { program, arguments } => {
                Self::CommandLine { program, arguments }
            }
            Installer::Msi {
                product_code,
                msi_file,
            } => Self::Msi {
                product_code,
                msi_file,
            },
            Installer::Msp { patch_code } => Self::Msp { patch_code },
            Installer::Other { element } => Self::Other { element },
        }
    }
}

impl From<InstallerForm> for Installer {
    fn from(i: InstallerForm) -> Self {
        match i {
            InstallerForm::CommandLine { program, arguments } => {
                Self::CommandLine { program, arguments }
            }
            InstallerForm::Msi {
                product_code,
                msi_file,
            } => Self::Msi {
                product_code,
                msi_file,
            },
            InstallerForm::Msp { patch_code } => Self::Msp { patch_code },
            InstallerForm::Other { element } => Self::Other { element },
        }
    }
}

fn record_out(u: &UpdateRecord) -> RecordOut<'_> {
    RecordOut {
        id: u.id.bits(),
        content_hash: u.content_hash().0,
        schema_version: &u.schema_version,
        created: (u.created.timestamp(), u.created.timestamp_subsec_nanos()),
        created_raw: &u.created_raw,
        vendor: &u.vendor,
        products: &u.products,
        expired: u.publication_state == PublicationState::Expired,
        update_type: &u.update_type,
        titles: u
            .localized
            .iter()
            .map(|l| (l.language.as_str(), l.title.as_str()))
            .collect(),
        classification: &u.classification,
        severity: u.severity.as_deref(),
        kb_article: u.kb_article.as_deref(),
        bulletin: u.bulletin.as_deref(),
        cves: &u.cves,
        superseded: u.superseded.iter().map(UpdateId::bits).collect(),
        items: u
            .items
            .iter()
            .map(|i| ItemOut {
                id: i.id.bits(),
                installer: (&i.installer).into(),
                files: i
                    .files
                    .iter()
                    .map(|f| FileOut {
                        name: &f.name,
                        size: f.size,
                        sha1: f.sha1.0,
                        sha256: f.sha256.map(|d| d.0),
                        uri: f.uri.as_deref(),
                        modified: &f.modified,
                    })
                    .collect(),
                uninstallable: i.uninstallable,
            })
            .collect(),
    }
}

/// A sequence decoded straight into its final vector, each element converted as it arrives
/// (decoding into vectors of the stored shapes first, then converting, allocated and freed
/// a second vector per field per record); a conversion that fails names what was wrong.
fn each<'de, D, T, U>(d: D, convert: fn(T) -> Result<U, &'static str>) -> Result<Vec<U>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    d.deserialize_seq(Each(convert, PhantomData))
}

/// [`each`]'s visitor, with any conversion: the records' conversion shares an [`Interner`].
struct Each<F, T>(F, PhantomData<fn(T)>);

impl<'de, T: Deserialize<'de>, U, F: FnMut(T) -> Result<U, &'static str>> Visitor<'de>
    for Each<F, T>
{
    type Value = Vec<U>;
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a sequence")
    }
    fn visit_seq<A: SeqAccess<'de>>(mut self, mut seq: A) -> Result<Vec<U>, A::Error> {
        // A damaged length must not reserve gigabytes: past 1,024, grow as they arrive.
        let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1024));
        while let Some(t) = seq.next_element::<T>()? {
            out.push((self.0)(t).map_err(serde::de::Error::custom)?);
        }
        // Held for the whole plan: the room a grown vector keeps is given back.
        out.shrink_to_fit();
        Ok(out)
    }
}

/// The records after the file's header and rest, each made into its final form as it is
/// decoded.
fn records(bytes: &[u8]) -> Option<Vec<Arc<UpdateRecord>>> {
    let mut names = Interner::default();
    let mut de = postcard::Deserializer::from_bytes(bytes);
    let each = Each(
        |r: RecordIn<'_>| r.into_record(&mut names).map(Arc::new),
        PhantomData,
    );
    (&mut de).deserialize_seq(each).ok()
}

fn titles<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Localized>, D::Error> {
    each(d, |(language, title): (String, String)| {
        Ok(Localized {
            language,
            title,
            description: String::new(),
        })
    })
}

fn ids<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<UpdateId>, D::Error> {
    each(d, |bits| Ok(UpdateId::from_bits(bits)))
}

fn items<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<InstallableItem>, D::Error> {
    each(d, |i: ItemIn| {
        Ok(InstallableItem {
            id: UpdateId::from_bits(i.id),
            installer: i.installer.into(),
            files: i.files,
            uninstallable: i.uninstallable,
        })
    })
}

fn files<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<OriginFile>, D::Error> {
    each(d, |f: FileIn| {
        Ok(OriginFile {
            name: f.name,
            size: f.size,
            sha1: Sha1(f.sha1),
            sha256: f.sha256.map(Sha256),
            uri: f.uri,
            modified: f.modified,
        })
    })
}

impl RecordIn<'_> {
    /// The summary record: no XML (its hash instead), no descriptions. An error for a time
    /// no date can hold, which only a damaged file has.
    fn into_record(self, names: &mut Interner) -> Result<UpdateRecord, &'static str> {
        Ok(UpdateRecord {
            id: UpdateId::from_bits(self.id),
            schema_version: names.name(self.schema_version),
            created: DateTime::<Utc>::from_timestamp(self.created.0, self.created.1)
                .ok_or("creation time out of range")?,
            created_raw: self.created_raw,
            vendor: names.name(self.vendor),
            products: names.list(&self.products),
            publication_state: if self.expired {
                PublicationState::Expired
            } else {
                PublicationState::Published
            },
            update_type: names.name(self.update_type),
            localized: self.titles,
            classification: names.name(self.classification),
            severity: self.severity.map(|s| names.name(s)),
            kb_article: self.kb_article,
            bulletin: self.bulletin,
            cves: self.cves,
            superseded: self.superseded,
            items: self.items,
            raw_xml: String::new(),
            raw_hash: Some(Sha256(self.content_hash)),
            namespaces: Namespaces::default(),
        })
    }
}

/// The records, written one at a time from the catalog's.
struct RecordsOut<'a>(&'a [Arc<UpdateRecord>]);

impl Serialize for RecordsOut<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(self.0.len()))?;
        for u in self.0 {
            seq.serialize_element(&record_out(u))?;
        }
        seq.end()
    }
}

#[derive(Serialize)]
struct FileOutWhole<'a> {
    header: Header,
    rest: String,
    records: RecordsOut<'a>,
}

fn path(cache_dir: &Path, key: &str) -> PathBuf {
    cache_dir.join(format!("{key}.summary"))
}

/// Where versions 1-3 kept the summary: removed when a new one is saved.
fn legacy_path(cache_dir: &Path, key: &str) -> PathBuf {
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
    let rest = RestOut {
        format: content.format,
        categories: &content.categories,
        content_certificates: &content.content_certificates,
        duplicates: &content.duplicates,
    };
    let whole = FileOutWhole {
        header: Header {
            magic: MAGIC,
            version: VERSION,
            cab_sha256: cab_sha256.0,
        },
        rest: serde_json::to_string(&rest)?,
        records: RecordsOut(&content.updates),
    };
    let mut tmp = tempfile::NamedTempFile::new_in(cache_dir)?;
    {
        let mut w = std::io::BufWriter::new(tmp.as_file_mut());
        postcard::to_io(&whole, &mut w).map_err(std::io::Error::other)?;
        w.flush()?;
    }
    tmp.as_file().sync_all()?;
    tmp.persist(path(cache_dir, key)).map_err(|e| e.error)?;
    let _ = std::fs::remove_file(legacy_path(cache_dir, key));
    Ok(())
}

/// The summary saved for exactly this CAB, if any (a damaged, stale or older copy is
/// ignored).
pub fn load(cache_dir: &Path, key: &str, cab_sha256: Sha256) -> Option<CatalogContent> {
    let bytes = std::fs::read(path(cache_dir, key)).ok()?;
    // The header first: a summary of another CAB is not decoded at all.
    // The file is what `FileOutWhole` wrote: the header, the rest, the records.
    let (header, after) = postcard::take_from_bytes::<Header>(&bytes).ok()?;
    if header.magic != MAGIC || header.version != VERSION || header.cab_sha256 != cab_sha256.0 {
        return None;
    }
    let (rest, after) = postcard::take_from_bytes::<&str>(after).ok()?;
    let rest: Rest = serde_json::from_str(rest).ok()?;
    let updates = records(after)?;
    drop(bytes);
    Some(CatalogContent {
        format: rest.format,
        updates,
        categories: rest.categories,
        content_certificates: rest.content_certificates,
        duplicates: rest.duplicates,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

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

    /// The record as a summary holds it: every field but the XML and the descriptions.
    fn summarised(u: &UpdateRecord) -> UpdateRecord {
        let mut s = UpdateRecord {
            raw_xml: String::new(),
            raw_hash: Some(u.content_hash()),
            namespaces: Namespaces::default(),
            ..u.clone()
        };
        for l in &mut s.localized {
            l.description.clear();
        }
        s
    }

    #[test]
    fn a_summary_keeps_every_field_but_the_xml_and_the_descriptions() {
        let d = tempfile::tempdir().unwrap();
        let full = content();
        assert!(full.updates.iter().any(|u| !u.description().is_empty()));
        let cab = Sha256::of(b"cab");
        save(d.path(), "k", cab, &full).unwrap();
        let s = load(d.path(), "k", cab).unwrap();
        assert_eq!(s.updates.len(), full.updates.len());
        for (a, b) in s.updates.iter().zip(&full.updates) {
            assert!(a.is_summary() && !b.is_summary());
            assert_eq!(**a, summarised(b));
            assert_eq!(a.content_hash(), b.content_hash());
        }
        assert_eq!(s.format, full.format);
    }

    #[test]
    fn a_summary_of_another_cab_a_damaged_one_and_an_older_one_are_ignored() {
        let d = tempfile::tempdir().unwrap();
        let cab = Sha256::of(b"cab");
        save(d.path(), "k", cab, &content()).unwrap();
        assert!(
            load(d.path(), "k", Sha256::of(b"other cab")).is_none(),
            "keyed by the CAB digest"
        );
        let bytes = std::fs::read(path(d.path(), "k")).unwrap();
        for cut in [0, 8, 20, bytes.len() / 2, bytes.len() - 1] {
            std::fs::write(path(d.path(), "k"), &bytes[..cut]).unwrap();
            assert!(load(d.path(), "k", cab).is_none(), "cut at {cut}");
        }
        let mut older = bytes.clone();
        older[8] = 3; // the version, right after the magic
        std::fs::write(path(d.path(), "k"), &older).unwrap();
        assert!(load(d.path(), "k", cab).is_none(), "another version");
        std::fs::write(path(d.path(), "k"), &bytes).unwrap();
        assert!(load(d.path(), "k", cab).is_some());
    }

    #[test]
    fn saving_removes_the_json_summary_of_earlier_versions() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(legacy_path(d.path(), "k"), "{}").unwrap();
        save(d.path(), "k", Sha256::of(b"cab"), &content()).unwrap();
        assert!(!legacy_path(d.path(), "k").exists());
        assert!(path(d.path(), "k").exists());
    }
}
