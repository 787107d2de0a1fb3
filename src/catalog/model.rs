//! What a parsed catalog contains, independent of where it came from.
//!
//! These records are the hand-off between the catalog parser, the store (which persists
//! them) and the planner (which diffs them). The raw package XML travels with each update
//! so the store can keep it byte-exact and revisions can be detected by hashing it.

use std::ops::Deref;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::ids::{CategoryId, Sha1, Sha256, UpdateId};
use crate::trust::CertificateInfo;

/// Catalog CAB generations as ConfigMgr tells them apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FormatVersion {
    /// XML only (and possibly `V2/`): no content certificates, status 11523.
    V1,
    /// Ships `ContentCertificates/`.
    V2,
    /// Ships `V3/` categories as well: category selection and staging are available.
    V3,
}

impl FormatVersion {
    pub fn as_str(self) -> &'static str {
        match self {
            FormatVersion::V1 => "v1",
            FormatVersion::V2 => "v2",
            FormatVersion::V3 => "v3",
        }
    }
}

/// `Properties/@PublicationState`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum PublicationState {
    #[default]
    Published,
    Expired,
}

/// One language's title and description (`LocalizedProperties`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Localized {
    pub language: String,
    pub title: String,
    pub description: String,
}

/// How an installable item installs; rules stay in the raw XML.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Installer {
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
    /// An installer element supctl does not model (kept by its local name).
    Other {
        element: String,
    },
}

/// `InstallableItem/OriginFile`: the binary that must be staged for the update to be deployable.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OriginFile {
    pub name: String,
    pub size: u64,
    /// `@Digest`: base64 SHA-1 in the catalog, the only digest vendors reliably ship.
    pub sha1: Sha1,
    /// `bt:AdditionalDigest[@Algorithm="SHA256"]` when present.
    pub sha256: Option<Sha256>,
    /// `@OriginUri`; often plain `http://` (integrity comes from digest + Authenticode).
    pub uri: Option<String>,
    /// `@Modified` exactly as written.
    pub modified: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstallableItem {
    pub id: UpdateId,
    pub installer: Installer,
    pub files: Vec<OriginFile>,
    /// The item has `UninstallProperties`: "if not present, the update does not support
    /// uninstall" (SoftwareDistributionPackage.xsd), so only then may it be approved for
    /// uninstall.
    #[serde(default)]
    pub uninstallable: bool,
}

/// One `SoftwareDistributionPackage`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UpdateRecord {
    pub id: UpdateId,
    /// This and the other names every update of a catalog repeats (vendor, products,
    /// type, classification, severity) are shared when records are read back from a
    /// summary (`crate::interner`): a plan holds every subscribed catalog's records.
    pub schema_version: Arc<str>,
    /// `@CreationDate` parsed (zone-less dates are UTC) ...
    pub created: DateTime<Utc>,
    /// ... and as written, so it can be shown and compared without reformatting.
    pub created_raw: String,
    pub vendor: Arc<str>,
    pub products: Arc<[String]>,
    pub publication_state: PublicationState,
    /// `Software`, `Driver` or `Detectoid`.
    pub update_type: Arc<str>,
    /// Deduplicated by language; the first is the default.
    pub localized: Vec<Localized>,
    /// `UpdateSpecificData/@UpdateClassification`, or `Applications` for ApplicationSpecificData.
    pub classification: Arc<str>,
    pub severity: Option<Arc<str>>,
    pub kb_article: Option<String>,
    pub bulletin: Option<String>,
    pub cves: Vec<String>,
    pub superseded: Vec<UpdateId>,
    pub items: Vec<InstallableItem>,
    /// The package element exactly as it appears in the catalog (byte-exact slice).
    pub raw_xml: String,
    /// The hash of `raw_xml` when the record comes from the parsed-catalog cache, which
    /// leaves `raw_xml` empty: enough to plan, not to publish.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub raw_hash: Option<Sha256>,
    /// Namespace declarations (prefix, URI; `""` is the default namespace) in scope where
    /// the package starts, declared by the catalog root rather than the package itself: a
    /// package sent on its own (WSUS stores each update's SDP) needs them to stay valid XML.
    #[serde(default, skip_serializing_if = "Namespaces::is_empty")]
    pub namespaces: Namespaces,
}

/// Namespace declarations (prefix, URI), shared by every package that inherits the same
/// ones: a catalog's packages all inherit its root's, and a copy per package cost several
/// hundred bytes per update.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Namespaces(Arc<[(String, String)]>);

impl Namespaces {
    pub fn new(bindings: Vec<(String, String)>) -> Self {
        Self(bindings.into())
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl Deref for Namespaces {
    type Target = [(String, String)];
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl Serialize for Namespaces {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.as_ref().serialize(s)
    }
}

impl<'de> Deserialize<'de> for Namespaces {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Vec::deserialize(d).map(Self::new)
    }
}

impl UpdateRecord {
    /// The package as a document of its own: `raw_xml` with the inherited namespace
    /// declarations it does not redeclare added to its start tag. `None` when the record
    /// has no XML (a parsed-catalog summary) or the XML does not start with an element.
    pub fn standalone_xml(&self) -> Option<String> {
        use quick_xml::events::Event;
        let raw = self.raw_xml.as_str();
        let mut reader = quick_xml::Reader::from_str(raw);
        let own: Vec<String> = match reader.read_event().ok()? {
            Event::Start(e) | Event::Empty(e) => e
                .attributes()
                .filter_map(|a| a.ok())
                .filter_map(|a| {
                    let key = a.key.as_ref().to_string();
                    if key == "xmlns" {
                        Some(String::new())
                    } else {
                        key.strip_prefix("xmlns:").map(str::to_string)
                    }
                })
                .collect(),
            _ => return None,
        };
        let name_end = raw[1..].find(|c: char| c.is_whitespace() || c == '>' || c == '/')? + 1;
        let mut decls = String::new();
        for (prefix, uri) in self.namespaces.iter().filter(|(p, _)| !own.contains(p)) {
            let uri = uri
                .replace('&', "&amp;")
                .replace('<', "&lt;")
                .replace('"', "&quot;");
            if prefix.is_empty() {
                decls.push_str(&format!(" xmlns=\"{uri}\""));
            } else {
                decls.push_str(&format!(" xmlns:{prefix}=\"{uri}\""));
            }
        }
        Some(format!("{}{decls}{}", &raw[..name_end], &raw[name_end..]))
    }

    /// The default-language title (the first `LocalizedProperties`).
    pub fn title(&self) -> &str {
        self.localized
            .first()
            .map(|l| l.title.as_str())
            .unwrap_or("")
    }
    pub fn description(&self) -> &str {
        self.localized
            .first()
            .map(|l| l.description.as_str())
            .unwrap_or("")
    }
    /// Hash of the raw package XML with `SchemaVersion` ignored: a change means a new revision.
    pub fn content_hash(&self) -> Sha256 {
        match self.raw_hash {
            Some(h) if self.raw_xml.is_empty() => h,
            _ => Sha256::of(self.raw_xml.as_bytes()),
        }
    }
    /// A stand-in for the package `id` whose XML hashes to `content_hash`: what a saved
    /// plan's payload loads as (`plan::package_ref`) until apply reads the package from
    /// its catalog again. A summary: never published as it is.
    pub fn reference(id: UpdateId, content_hash: Sha256) -> Self {
        UpdateRecord {
            id,
            schema_version: "".into(),
            created: DateTime::<Utc>::UNIX_EPOCH,
            created_raw: String::new(),
            vendor: "".into(),
            products: Vec::new().into(),
            publication_state: PublicationState::Published,
            update_type: "".into(),
            localized: Vec::new(),
            classification: "".into(),
            severity: None,
            kb_article: None,
            bulletin: None,
            cves: Vec::new(),
            superseded: Vec::new(),
            items: Vec::new(),
            raw_xml: String::new(),
            raw_hash: Some(content_hash),
            namespaces: Namespaces::default(),
        }
    }
    /// True for a cached summary without the package XML: it must not be published.
    /// Gives back the spare room of every vector: a record outlives its parse (a plan
    /// holds every catalog's), and a vector grown by pushes keeps room for four elements.
    pub fn shrink_to_fit(&mut self) {
        self.localized.shrink_to_fit();
        self.cves.shrink_to_fit();
        self.superseded.shrink_to_fit();
        self.items.shrink_to_fit();
        for item in &mut self.items {
            item.files.shrink_to_fit();
        }
    }
    pub fn is_summary(&self) -> bool {
        self.raw_xml.is_empty() && self.raw_hash.is_some()
    }
    /// Total bytes of every origin file (what staging would download).
    pub fn content_bytes(&self) -> u64 {
        self.items
            .iter()
            .flat_map(|i| i.files.iter())
            .map(|f| f.size)
            .sum()
    }
    pub fn files(&self) -> impl Iterator<Item = &OriginFile> {
        self.items.iter().flat_map(|i| i.files.iter())
    }
}

/// A V3 category node (`V3/<guid>.json`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Category {
    pub id: CategoryId,
    pub display_name: String,
    pub parent: Option<CategoryId>,
    pub members: Vec<UpdateId>,
    /// Display-name path from the root, `Root/Child/...`.
    pub path: String,
}

/// A verified, parsed catalog: what the planner sees.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CatalogContent {
    pub format: FormatVersion,
    /// One record per update id (see [`DuplicatePackage`] for catalogs that list one twice).
    pub updates: Vec<Arc<UpdateRecord>>,
    pub categories: Vec<Category>,
    pub content_certificates: Vec<CertificateInfo>,
    /// Packages dropped because another package has the same id, one entry per drop.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub duplicates: Vec<DuplicatePackage>,
}

/// Where and what a package is, for messages about it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PackageRef {
    /// 1-based position among the catalog's packages.
    pub position: usize,
    pub line: usize,
    pub title: String,
    /// `@CreationDate` as written.
    pub created: String,
}

impl PackageRef {
    pub fn of(record: &UpdateRecord, position: usize, line: usize) -> Self {
        Self {
            position,
            line,
            title: record.title().to_string(),
            created: record.created_raw.clone(),
        }
    }
}

impl std::fmt::Display for PackageRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "package {} (line {}, {:?}, created {})",
            self.position, self.line, self.title, self.created
        )
    }
}

/// Why one of two packages with the same id was kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum KeptBecause {
    /// Its `CreationDate` is the later one.
    Newer,
    /// Equal `CreationDate`s: it comes later in the document.
    Later,
}

/// Two packages of one catalog with the same `PackageID` (after normalising case and
/// braces): the catalog keeps `kept` and drops `dropped`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DuplicatePackage {
    pub id: UpdateId,
    pub kept: PackageRef,
    pub dropped: PackageRef,
    pub because: KeptBecause,
}

impl std::fmt::Display for DuplicatePackage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let rule = match self.because {
            KeptBecause::Newer => "the latest CreationDate wins",
            KeptBecause::Later => "equal CreationDates, the later in the document wins",
        };
        write!(
            f,
            "package {} is listed more than once: kept {}, dropped {}: {rule}",
            self.id, self.kept, self.dropped
        )
    }
}
