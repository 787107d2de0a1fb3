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

use super::cab::{CabEntry, CabError, Cabinet, ExtractStats, MemberData, Visitor};
use super::certs::{CertError, parse_content_certificate};
use super::limits::{CatalogLimits, Limit, LimitExceeded};
use super::model::{CatalogContent, DuplicatePackage, FormatVersion, UpdateRecord};
use super::sdp::{KeepXml, SdpError, Unique, for_each_package};
use super::v3::{RawCategory, V3Error, build_tree, parse_category, parse_category_list};
use crate::ids::Thumbprint;

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

/// The small members a catalog needs besides its XML.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Small {
    V3,
    Certificate,
}

fn small_kind(e: &CabEntry) -> Option<Small> {
    let p = &e.path;
    if p.is_in_folder("V3") {
        (p.components().len() == 2 && p.has_extension("json")).then_some(Small::V3)
    } else if p.is_in_folder("ContentCertificates") {
        (p.components().len() == 2 && p.has_extension("cer")).then_some(Small::Certificate)
    } else {
        None
    }
}

/// Identifies a directory entry.
type EntryKey = (u16, u32, u32, String);

fn key_of(e: &CabEntry) -> EntryKey {
    (e.folder, e.folder_offset, e.size, e.raw_name.clone())
}

/// A small member's bytes: a shared range of the cabinet reader's buffers (the pass over the
/// folders), or its own copy (read from the XML's stream).
enum Member {
    Shared(MemberData),
    Owned(Vec<u8>),
}

impl std::ops::Deref for Member {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            Member::Shared(d) => d,
            Member::Owned(v) => v,
        }
    }
}

/// Collects the small members while the cabinet streams, except those read from the XML's
/// stream (`from_xml_stream`).
#[derive(Default)]
struct CatalogFiles {
    from_xml_stream: HashSet<EntryKey>,
    certificates: Vec<(String, Member)>,
    v3: Vec<(String, Member)>,
}

impl CatalogFiles {
    fn add(&mut self, e: &CabEntry, data: Member) {
        match small_kind(e) {
            Some(Small::V3) => self.v3.push((e.path.to_string(), data)),
            Some(Small::Certificate) => self
                .certificates
                .push((e.path.file_name().to_string(), data)),
            None => {}
        }
    }
}

impl Visitor for CatalogFiles {
    fn wants(&mut self, e: &CabEntry) -> bool {
        small_kind(e).is_some() && !self.from_xml_stream.contains(&key_of(e))
    }

    fn file(&mut self, e: &CabEntry, data: MemberData) {
        self.add(e, Member::Shared(data));
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
    source: impl Read,
    limits: &CatalogLimits,
    keep: KeepXml<'_>,
) -> Result<Parsed, ExtractError> {
    let mut unique = Unique::default();
    for_each_package(source, limits, keep, |u, at| unique.push(u, at)).map_err(|e| {
        ExtractError::Xml {
            file: file.to_string(),
            error: Box::new(e),
        }
    })?;
    let (updates, duplicates) = unique.finish();
    // Not `collect()`: collecting in place would keep the records' buffer (room for the
    // next power of two of whole records) to hold the pointers, 6 MB per 10,000 updates.
    let mut shared = Vec::with_capacity(updates.len());
    shared.extend(updates.into_iter().map(Arc::new));
    Ok((shared, duplicates))
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
    let streamed = stream_xml(&cab, &span, &xml, &after, limits, keep, &mut cab_error);
    // A cabinet defect under the XML (a checksum, a limit) is the error, not the parser's
    // view of it (an I/O error at some offset).
    if let Some(e) = cab_error {
        return Err(e.into());
    }
    let (parsed, trailing) = streamed?;
    for (e, bytes) in trailing {
        stats.delivered_files += 1;
        stats.delivered_bytes += bytes.len() as u64;
        files.add(e, Member::Owned(bytes));
    }
    let (updates, duplicates) = parsed;
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
    let format = if v3_seen {
        FormatVersion::V3
    } else if certificates_seen {
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
        missing_content_certificates: !certificates_seen,
        expired_content_certificates,
        stats,
    })
}

/// Parses the catalog XML `xml` from a stream of its folder over `span` (the XML and the
/// members `after` it), then reads those members from the same stream.
#[allow(clippy::type_complexity)]
fn stream_xml<'e>(
    cab: &Cabinet,
    span: &CabEntry,
    xml: &CabEntry,
    after: &[&'e CabEntry],
    limits: &CatalogLimits,
    keep: KeepXml<'_>,
    cab_error: &mut Option<CabError>,
) -> Result<(Parsed, Vec<(&'e CabEntry, Vec<u8>)>), ExtractError> {
    let mut source = Watched {
        inner: cab.member_reader(span, &limits.cab())?,
        failure: cab_error,
    };
    let name = xml.path.to_string();
    let mut xml_part = (&mut source).take(u64::from(xml.size));
    let parsed = parse_xml(&name, &mut xml_part, limits, keep)?;
    let io = |e: std::io::Error| match CabError::from_io(&e) {
        Some(c) => ExtractError::from(c),
        None => ExtractError::Cab(CabError::Truncated(format!("{name}: {e}"))),
    };
    std::io::copy(&mut xml_part, &mut std::io::sink()).map_err(io)?;
    let mut pos = u64::from(xml.folder_offset) + u64::from(xml.size);
    let mut trailing = Vec::with_capacity(after.len());
    for e in after {
        let gap = u64::from(e.folder_offset) - pos;
        std::io::copy(&mut (&mut source).take(gap), &mut std::io::sink()).map_err(io)?;
        let mut bytes = vec![0; e.size as usize];
        source.read_exact(&mut bytes).map_err(io)?;
        pos = u64::from(e.folder_offset) + u64::from(e.size);
        trailing.push((*e, bytes));
    }
    Ok((parsed, trailing))
}

/// Records and dropped duplicates of a parse.
type Parsed = (Vec<Arc<UpdateRecord>>, Vec<DuplicatePackage>);

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
