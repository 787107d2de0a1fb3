//! From catalog bytes (a CAB, or a bare catalog `.xml`) to [`CatalogContent`].
//!
//! Read: the top-level `*.xml` (the catalog), `ContentCertificates/*.cer` and `V3/*.json`.
//! Skipped: `V2/` (it duplicates the XML package by package). The catalog XML, ten times
//! the cabinet's size, streams from its folder into the parser ([`Cabinet::member_reader`])
//! and is never whole in memory; the small members after it in its folder are read from the
//! same stream, the others in one pass over the cabinet. Callers must verify the CAB's
//! Authenticode signature before calling this (trust rule 1).
//!
//! Everything is read under the config's `[limits]` ([`CatalogLimits`]); a package id listed
//! twice is resolved by [`Unique`]'s rule and reported in [`CatalogContent::duplicates`].

use std::collections::HashSet;

use std::io::Read;
use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::cab::{CabEntry, CabError, Cabinet, ExtractStats};
use super::certs::{CertError, parse_content_certificate};
use super::limits::{CatalogLimits, Limit, LimitExceeded};
use super::model::{CatalogContent, Category, FormatVersion, UpdateRecord};
use super::sdp::{KeepXml, PackageAt, SdpError, Unique, for_each_package};
use super::v3::{RawCategory, V3Error, build_tree};
use crate::ids::{Thumbprint, UpdateId};
use crate::trust::CertificateInfo;
use members::{CatalogFiles, Member, V3File, key_of, small_kind};

mod members;

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
    let mut unique = Unique::default();
    let parts = read_into(data, limits, now, keep, &mut unique)?;
    Ok(extracted(parts, unique))
}

/// [`extract_with`]'s parse, each package given to `sink` as it is read: a reader that
/// takes packages one at a time (apply's, `reconcile::hydrate`) never holds the catalog's.
pub(crate) fn read_into(
    data: &[u8],
    limits: &CatalogLimits,
    now: DateTime<Utc>,
    keep: KeepXml<'_>,
    sink: &mut impl PackageSink,
) -> Result<CatalogParts, ExtractError> {
    if data.starts_with(b"MSCF") {
        let cab = Cabinet::parse_filtered(data, &mut catalog_member)?;
        read_cab(&cab, limits, now, keep, sink)
    } else {
        read_xml(data, data.len() as u64, limits, keep, sink)
    }
}

/// Receives a catalog's packages as they are parsed, in document order.
pub(crate) trait PackageSink {
    fn push(&mut self, record: UpdateRecord, at: PackageAt);
    /// Whether a package with this id was pushed (V3 categories may list only those).
    fn knows(&self, id: &UpdateId) -> bool;
    /// Whether the categories must keep their members. A sink that only counts them says
    /// no: each category then keeps only the members no package has, which is all the
    /// check of the tree ([`build_tree`]) needs to fail as it would with all of them.
    fn keeps_members(&self) -> bool {
        true
    }
    /// Called once the catalog XML is read: every package has been pushed.
    fn packages_done(&mut self) {}
}

impl PackageSink for Unique {
    fn push(&mut self, record: UpdateRecord, at: PackageAt) {
        Unique::push(self, record, at);
    }
    fn knows(&self, id: &UpdateId) -> bool {
        self.contains(id)
    }
}

/// Parses the catalog XML `file`, streamed from `source`, under `limits`, into `sink`;
/// `keep` says whose package XML is copied into the records.
fn parse_xml(
    file: &str,
    source: impl Read,
    limits: &CatalogLimits,
    keep: KeepXml<'_>,
    sink: &mut impl PackageSink,
) -> Result<(), ExtractError> {
    for_each_package(source, limits, keep, |u, at| sink.push(u, at)).map_err(|e| {
        ExtractError::Xml {
            file: file.to_string(),
            error: Box::new(e),
        }
    })?;
    Ok(())
}

/// A parse's catalog: its parts and the records `unique` kept, shared.
fn extracted(parts: CatalogParts, unique: Unique) -> Extracted {
    let (updates, duplicates) = unique.finish();
    // Not `collect()`: collecting in place would keep the records' buffer (room for the
    // next power of two of whole records) to hold the pointers, 6 MB per 10,000 updates.
    let mut shared = Vec::with_capacity(updates.len());
    shared.extend(updates.into_iter().map(Arc::new));
    Extracted {
        content: CatalogContent {
            format: parts.format,
            updates: shared,
            categories: parts.categories,
            content_certificates: parts.content_certificates,
            duplicates,
        },
        xml_name: parts.xml_name,
        xml_bytes: parts.xml_bytes,
        missing_content_certificates: parts.missing_content_certificates,
        expired_content_certificates: parts.expired_content_certificates,
        stats: parts.stats,
    }
}

/// Refuses a bare catalog XML of `len` bytes over the inflation limit, as a cabinet's XML
/// would be refused.
fn check_xml_size(len: u64, limits: &CatalogLimits) -> Result<(), ExtractError> {
    if len > limits.inflated_bytes {
        let what = format!("the catalog XML is {len} bytes");
        return Err(ExtractError::Limit(
            limits.exceeded(Limit::InflatedBytes, what),
        ));
    }
    Ok(())
}

/// A bare catalog XML: format v1, no certificates, no categories.
pub fn extract_xml(
    data: &[u8],
    limits: &CatalogLimits,
    keep: KeepXml<'_>,
) -> Result<Extracted, ExtractError> {
    let mut unique = Unique::default();
    let parts = read_xml(data, data.len() as u64, limits, keep, &mut unique)?;
    Ok(extracted(parts, unique))
}

/// Bare catalog XML streamed from `source` (`len` bytes) into `sink`: what a bare XML's
/// [`CatalogParts`] are.
pub(crate) fn read_xml(
    source: impl Read,
    len: u64,
    limits: &CatalogLimits,
    keep: KeepXml<'_>,
    sink: &mut impl PackageSink,
) -> Result<CatalogParts, ExtractError> {
    check_xml_size(len, limits)?;
    parse_xml("catalog XML", source, limits, keep, sink)?;
    sink.packages_done();
    Ok(CatalogParts {
        format: FormatVersion::V1,
        categories: Vec::new(),
        content_certificates: Vec::new(),
        xml_name: String::new(),
        xml_bytes: len,
        missing_content_certificates: true,
        expired_content_certificates: Vec::new(),
        stats: ExtractStats::default(),
    })
}

/// The members of a catalog cabinet the reader looks at: top-level files (the catalog
/// XML is one of them), `V3/` and `ContentCertificates/`. A vendor cabinet also carries a
/// `V2/` copy of every package; its directory entries are checked but not kept, so they
/// cost no memory (tens of thousands of entries, hundreds of bytes each).
pub(crate) fn catalog_member(e: &CabEntry) -> bool {
    let p = &e.path;
    p.is_top_level() || p.is_in_folder("V3") || p.is_in_folder("ContentCertificates")
}

/// A catalog cabinet: one pass over each folder, then the XML, certificates and categories.
pub fn extract_cab(
    data: &[u8],
    limits: &CatalogLimits,
    now: DateTime<Utc>,
    keep: KeepXml<'_>,
) -> Result<Extracted, ExtractError> {
    let cab = Cabinet::parse_filtered(data, &mut catalog_member)?;
    let mut unique = Unique::default();
    let parts = read_cab(&cab, limits, now, keep, &mut unique)?;
    Ok(extracted(parts, unique))
}

/// Everything of a catalog but its packages, which went to a [`PackageSink`].
#[derive(Debug, Clone)]
pub(crate) struct CatalogParts {
    pub format: FormatVersion,
    pub categories: Vec<Category>,
    pub content_certificates: Vec<CertificateInfo>,
    pub xml_name: String,
    pub xml_bytes: u64,
    pub missing_content_certificates: bool,
    pub expired_content_certificates: Vec<Thumbprint>,
    pub stats: ExtractStats,
}

/// Reads a catalog cabinet whose directory holds at least its [`catalog_member`]s: the
/// packages go to `sink` as the XML streams, the rest is returned.
pub(crate) fn read_cab(
    cab: &Cabinet<'_>,
    limits: &CatalogLimits,
    now: DateTime<Utc>,
    keep: KeepXml<'_>,
    sink: &mut impl PackageSink,
) -> Result<CatalogParts, ExtractError> {
    let entries = cab.entries();
    let xml = match entries
        .iter()
        .filter(|e| e.path.is_top_level() && e.path.has_extension("xml"))
        .collect::<Vec<_>>()[..]
    {
        [] => return Err(ExtractError::NoCatalogXml),
        [one] => one.clone(),
        ref several => {
            return Err(ExtractError::SeveralCatalogXml(
                several.iter().map(|e| e.path.to_string()).collect(),
            ));
        }
    };
    let v3_seen = entries.iter().any(|e| e.path.is_in_folder("V3"));
    let certificates_seen = entries
        .iter()
        .any(|e| e.path.is_in_folder("ContentCertificates"));
    // Vendors put the certificates and categories after the XML in its folder: reading them
    // from the XML's stream, rather than in a pass of their own, inflates the XML once.
    let bounds = |e: &CabEntry| {
        let start = u64::from(e.folder_offset);
        (start, start + u64::from(e.size))
    };
    let (xml_start, xml_end) = bounds(&xml);
    // The stream then reads the XML's folder to the last of them: a member far beyond the
    // XML (a hostile directory) is left to the pass, so the limits name it, not the XML.
    let reach = limits.cab().max_file.min(u64::from(u32::MAX));
    let mut candidates: Vec<&CabEntry> = entries
        .iter()
        .filter(|e| {
            let (start, end) = bounds(e);
            small_kind(e).is_some()
                && e.folder == xml.folder
                && start >= xml_end
                && end - xml_start <= reach
        })
        .collect();
    candidates.sort_by_key(|e| (e.folder_offset, e.size));
    // Only members that share no byte with another: overlapping ones are delivered by the
    // pass over the folders, which holds their bytes once however many entries claim them.
    // Sorted by start: a member overlaps an earlier one iff one reaches past its start, and
    // a later one iff the next starts before its end.
    let mut reached = 0u64;
    let mut after = Vec::with_capacity(candidates.len());
    for (i, e) in candidates.iter().enumerate() {
        let (start, end) = bounds(e);
        if reached <= start && candidates.get(i + 1).is_none_or(|n| end <= bounds(n).0) {
            after.push(*e);
        }
        reached = reached.max(end);
    }
    let end = after.last().map_or(xml_end, |e| bounds(e).1);
    let mut files = CatalogFiles {
        from_xml_stream: after.iter().map(|e| key_of(e)).collect(),
        ..CatalogFiles::default()
    };
    let mut stats = cab.extract(&limits.cab(), &mut files)?;
    let xml_name = xml.path.to_string();
    let span = CabEntry {
        // Within `reach`, so within u32.
        size: u32::try_from(end - xml_start).unwrap_or(u32::MAX),
        ..xml.clone()
    };
    let mut cab_error = None;
    let streamed = stream_xml(
        cab,
        &span,
        &xml,
        &after,
        limits,
        keep,
        sink,
        &mut files,
        &mut cab_error,
    );
    // A cabinet defect under the XML (a checksum, a limit) is the error, not the parser's
    // view of it (an I/O error at some offset).
    if let Some(e) = cab_error {
        return Err(e.into());
    }
    let (files_read, bytes_read) = streamed?;
    stats.delivered_files += files_read;
    stats.delivered_bytes += bytes_read;
    let mut content_certificates = Vec::new();
    let mut expired_content_certificates = Vec::new();
    for (name, der) in &files.certificates {
        let c = parse_content_certificate(name, der, now)?;
        if c.expired {
            expired_content_certificates.push(c.info.thumbprint());
        }
        content_certificates.push(c.info);
    }
    let categories = if v3_seen {
        let mut raw: Vec<RawCategory> = Vec::new();
        let mut seen = HashSet::new();
        let mut listed = None;
        for file in files.v3 {
            match file {
                V3File::List(ids) => listed = Some(ids?),
                V3File::Category(category) => {
                    let mut category = category?;
                    // At once, not after every file is parsed: thousands of directory
                    // entries over one category file must not each keep its members.
                    if !seen.insert(category.id) {
                        return Err(V3Error::Duplicate(category.id).into());
                    }
                    if !sink.keeps_members() {
                        category.members.retain(|u| !sink.knows(u));
                    }
                    raw.push(category);
                }
            }
        }
        build_tree(raw, listed.as_deref(), &|id| sink.knows(id))?
    } else {
        Vec::new()
    };
    let format = if v3_seen {
        FormatVersion::V3
    } else if certificates_seen {
        FormatVersion::V2
    } else {
        FormatVersion::V1
    };
    Ok(CatalogParts {
        format,
        categories,
        content_certificates,
        xml_name,
        xml_bytes: u64::from(xml.size),
        missing_content_certificates: !certificates_seen,
        expired_content_certificates,
        stats,
    })
}

/// Parses the catalog XML `xml` from a stream of its folder over `span` (the XML and the
/// members `after` it), then reads those members from the same stream into `files`; how
/// many members and bytes that was.
#[allow(clippy::too_many_arguments)]
fn stream_xml(
    cab: &Cabinet,
    span: &CabEntry,
    xml: &CabEntry,
    after: &[&CabEntry],
    limits: &CatalogLimits,
    keep: KeepXml<'_>,
    sink: &mut impl PackageSink,
    files: &mut CatalogFiles,
    cab_error: &mut Option<CabError>,
) -> Result<(u64, u64), ExtractError> {
    let mut source = Watched {
        inner: cab.member_reader(span, &limits.cab())?,
        failure: cab_error,
    };
    let name = xml.path.to_string();
    let mut xml_part = (&mut source).take(u64::from(xml.size));
    parse_xml(&name, &mut xml_part, limits, keep, sink)?;
    sink.packages_done();
    let io = |e: std::io::Error| match CabError::from_io(&e) {
        Some(c) => ExtractError::from(c),
        None => ExtractError::Cab(CabError::Truncated(format!("{name}: {e}"))),
    };
    std::io::copy(&mut xml_part, &mut std::io::sink()).map_err(io)?;
    let mut pos = u64::from(xml.folder_offset) + u64::from(xml.size);
    let trim = !sink.keeps_members();
    let (mut count, mut total) = (0, 0);
    for e in after {
        let gap = u64::from(e.folder_offset) - pos;
        std::io::copy(&mut (&mut source).take(gap), &mut std::io::sink()).map_err(io)?;
        let mut bytes = vec![0; e.size as usize];
        source.read_exact(&mut bytes).map_err(io)?;
        pos = u64::from(e.folder_offset) + u64::from(e.size);
        count += 1;
        total += bytes.len() as u64;
        files.add(e, Member::Owned(bytes), &mut |u| !trim || !sink.knows(u));
    }
    Ok((count, total))
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
