//! From catalog bytes (a CAB, or a bare catalog `.xml`) to [`CatalogContent`].
//!
//! Read: the top-level `*.xml` (the catalog), `ContentCertificates/*.cer` and `V3/*.json`.
//! Skipped: `V2/` (it duplicates the XML package by package). The small members come out of
//! one pass over the cabinet; the catalog XML, ten times the cabinet's size, streams from
//! its folder into the parser ([`Cabinet::member_reader`]) and is never whole in memory. Callers must verify the CAB's
//! Authenticode signature before calling this (trust rule 1).
//!
//! Everything is read under the config's `[limits]` ([`CatalogLimits`]); a package id listed
//! twice is resolved by [`Unique`]'s rule and reported in [`CatalogContent::duplicates`].

use std::collections::HashSet;

use chrono::{DateTime, Utc};

use super::cab::{CabEntry, CabError, Cabinet, ExtractStats, MemberData, Visitor};
use super::certs::{CertError, parse_content_certificate};
use super::limits::{CatalogLimits, Limit, LimitExceeded};
use super::model::{CatalogContent, DuplicatePackage, FormatVersion, UpdateRecord};
use super::sdp::{KeepXml, SdpError, Unique, for_each_package};
use super::v3::{RawCategory, V3Error, build_tree, parse_category, parse_category_list};
use crate::ids::Thumbprint;
use std::io::Read;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExtractError {
    #[error(transparent)]
    Cab(CabError),
    /// Not `source`: the message already includes the parser's, and a source would make
    /// every error chain print it twice.
    #[error("{file}: {error}")]
    Xml { file: String, error: Box<SdpError> },
    #[error("{0}")]
    Limit(LimitExceeded),
    #[error(transparent)]
    V3(#[from] V3Error),
    #[error(transparent)]
    Certificate(#[from] CertError),
    #[error("the cabinet has no top-level catalog .xml")]
    NoCatalogXml,
    #[error("the cabinet has several top-level .xml files: {0:?}")]
    SeveralCatalogXml(Vec<String>),
}

/// A parsed catalog plus what inspection and status messages need to know about it.
#[derive(Debug, Clone)]
pub struct Extracted {
    pub content: CatalogContent,
    /// Name of the catalog XML inside the cab (or "" for a bare XML).
    pub xml_name: String,
    pub xml_bytes: u64,
    /// No `ContentCertificates/`: ConfigMgr reports status 11523 for such catalogs.
    pub missing_content_certificates: bool,
    /// Content certificates already expired at extraction time (flagged, not an error).
    pub expired_content_certificates: Vec<Thumbprint>,
    pub stats: ExtractStats,
}

impl From<CabError> for ExtractError {
    /// The cabinet reader's size bound is the config's `max_inflated_mib`: say so.
    fn from(e: CabError) -> Self {
        match e {
            CabError::TooLarge { needed, limit }
            | CabError::FileTooLarge {
                size: needed,
                limit,
                ..
            } => {
                let limits = CatalogLimits {
                    inflated_bytes: limit,
                    ..CatalogLimits::default()
                };
                let what = format!("the cabinet's members inflate to {needed} bytes");
                ExtractError::Limit(limits.exceeded(Limit::InflatedBytes, what))
            }
            other => ExtractError::Cab(other),
        }
    }
}

/// Collects the small members a catalog needs while the cabinet streams (shared ranges of
/// the cabinet reader's buffers, not copies), and notes where the catalog XML is: it is
/// read afterwards, as a stream.
#[derive(Default)]
struct CatalogFiles {
    xml: Vec<CabEntry>,
    certificates: Vec<(String, MemberData)>,
    v3: Vec<(String, MemberData)>,
    v3_seen: bool,
    certificates_seen: bool,
}

impl Visitor for CatalogFiles {
    fn wants(&mut self, e: &CabEntry) -> bool {
        let p = &e.path;
        if p.is_in_folder("V3") {
            self.v3_seen = true;
            return p.components().len() == 2 && p.has_extension("json");
        }
        if p.is_in_folder("ContentCertificates") {
            self.certificates_seen = true;
            return p.components().len() == 2 && p.has_extension("cer");
        }
        if p.is_top_level() && p.has_extension("xml") {
            self.xml.push(e.clone());
        }
        false
    }

    fn file(&mut self, e: &CabEntry, data: MemberData) {
        let name = e.path.to_string();
        if e.path.is_in_folder("V3") {
            self.v3.push((name, data));
        } else {
            self.certificates
                .push((e.path.file_name().to_string(), data));
        }
    }
}

/// Parses catalog bytes: a cabinet when they start with `MSCF`, else a bare catalog XML.
/// Every record keeps its package XML; [`extract_with`] chooses.
pub fn extract(
    data: &[u8],
    limits: &CatalogLimits,
    now: DateTime<Utc>,
) -> Result<Extracted, ExtractError> {
    extract_with(data, limits, now, KeepXml::All)
}

/// [`extract`], copying the package XML only of the updates `keep` names: the others carry
/// its hash, enough to plan and inspect, and the catalog's memory stays that of its records.
pub fn extract_with(
    data: &[u8],
    limits: &CatalogLimits,
    now: DateTime<Utc>,
    keep: KeepXml<'_>,
) -> Result<Extracted, ExtractError> {
    if data.starts_with(b"MSCF") {
        extract_cab(data, limits, now, keep)
    } else {
        extract_xml(data, limits, keep)
    }
}

/// Parses the catalog XML `file`, streamed from `source`, under `limits`, one record per
/// update id; `keep` says whose package XML is copied into the records.
fn parse_xml(
    file: &str,
    source: impl std::io::Read,
    limits: &CatalogLimits,
    keep: KeepXml<'_>,
) -> Result<(Vec<UpdateRecord>, Vec<DuplicatePackage>), ExtractError> {
    let mut unique = Unique::default();
    for_each_package(source, limits, keep, |u, at| unique.push(u, at)).map_err(|e| {
        ExtractError::Xml {
            file: file.to_string(),
            error: Box::new(e),
        }
    })?;
    Ok(unique.finish())
}

/// A bare catalog XML: format v1, no certificates, no categories.
pub fn extract_xml(
    data: &[u8],
    limits: &CatalogLimits,
    keep: KeepXml<'_>,
) -> Result<Extracted, ExtractError> {
    if data.len() as u64 > limits.inflated_bytes {
        let what = format!("the catalog XML is {} bytes", data.len());
        return Err(ExtractError::Limit(
            limits.exceeded(Limit::InflatedBytes, what),
        ));
    }
    let (updates, duplicates) = parse_xml("catalog XML", data, limits, keep)?;
    Ok(Extracted {
        content: CatalogContent {
            format: FormatVersion::V1,
            updates,
            categories: Vec::new(),
            content_certificates: Vec::new(),
            duplicates,
        },
        xml_name: String::new(),
        xml_bytes: data.len() as u64,
        missing_content_certificates: true,
        expired_content_certificates: Vec::new(),
        stats: ExtractStats::default(),
    })
}

/// A catalog cabinet: one pass over each folder, then the XML, certificates and categories.
pub fn extract_cab(
    data: &[u8],
    limits: &CatalogLimits,
    now: DateTime<Utc>,
    keep: KeepXml<'_>,
) -> Result<Extracted, ExtractError> {
    let cab = Cabinet::parse(data)?;
    let mut files = CatalogFiles::default();
    let stats = cab.extract(&limits.cab(), &mut files)?;
    let xml = match files.xml.len() {
        0 => return Err(ExtractError::NoCatalogXml),
        1 => files.xml.remove(0),
        _ => {
            return Err(ExtractError::SeveralCatalogXml(
                files.xml.iter().map(|e| e.path.to_string()).collect(),
            ));
        }
    };
    let xml_name = xml.path.to_string();
    let mut cab_error = None;
    let source = Watched {
        inner: cab.member_reader(&xml, &limits.cab())?,
        failure: &mut cab_error,
    };
    let parsed = parse_xml(&xml_name, source, limits, keep);
    // A cabinet defect under the XML (a checksum, a limit) is the error, not the parser's
    // view of it (an I/O error at some offset).
    if let Some(e) = cab_error {
        return Err(e.into());
    }
    let (updates, duplicates) = parsed?;
    let mut content_certificates = Vec::new();
    let mut expired_content_certificates = Vec::new();
    for (name, der) in &files.certificates {
        let c = parse_content_certificate(name, der, now)?;
        if c.expired {
            expired_content_certificates.push(c.info.thumbprint());
        }
        content_certificates.push(c.info);
    }
    let categories = if files.v3_seen {
        let mut raw: Vec<RawCategory> = Vec::new();
        let mut seen = HashSet::new();
        let mut listed = None;
        for (name, bytes) in &files.v3 {
            if name
                .rsplit('/')
                .next()
                .is_some_and(|f| f.eq_ignore_ascii_case("update_categories.json"))
            {
                listed = Some(parse_category_list(name, bytes)?);
            } else {
                let category = parse_category(name, bytes)?;
                // At once, not after every file is parsed: thousands of directory entries
                // over one category file must not each keep a copy of its members.
                if !seen.insert(category.id.clone()) {
                    return Err(V3Error::Duplicate(category.id).into());
                }
                raw.push(category);
            }
        }
        let ids: HashSet<_> = updates.iter().map(|u| u.id.clone()).collect();
        build_tree(raw, listed.as_deref(), &ids)?
    } else {
        Vec::new()
    };
    let format = if files.v3_seen {
        FormatVersion::V3
    } else if files.certificates_seen {
        FormatVersion::V2
    } else {
        FormatVersion::V1
    };
    Ok(Extracted {
        content: CatalogContent {
            format,
            updates,
            categories,
            content_certificates,
            duplicates,
        },
        xml_name,
        xml_bytes: u64::from(xml.size),
        missing_content_certificates: !files.certificates_seen,
        expired_content_certificates,
        stats,
    })
}

/// A member stream that remembers the [`CabError`] it failed with: the parser sees only an
/// I/O error.
struct Watched<'f, R> {
    inner: R,
    failure: &'f mut Option<CabError>,
}

impl<R: Read> Read for Watched<'_, R> {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        self.inner.read(out).inspect_err(|e| {
            if let Some(c) = CabError::from_io(e) {
                *self.failure = Some(c);
            }
        })
    }
}
