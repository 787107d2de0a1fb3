//! From catalog bytes (a CAB, or a bare catalog `.xml`) to [`CatalogContent`] in one
//! streaming pass over the cabinet.
//!
//! Read: the top-level `*.xml` (the catalog), `ContentCertificates/*.cer` and `V3/*.json`.
//! Skipped: `V2/` (it duplicates the XML package by package). Callers must verify the CAB's
//! Authenticode signature before calling this (trust rule 1).

use std::collections::HashSet;

use chrono::{DateTime, Utc};

use super::cab::{CabEntry, CabError, Cabinet, ExtractStats, Limits, Visitor};
use super::certs::{CertError, parse_content_certificate};
use super::model::{CatalogContent, FormatVersion};
use super::sdp::{SdpError, parse_catalog_bytes};
use super::v3::{RawCategory, V3Error, build_tree, parse_category, parse_category_list};
use crate::ids::Thumbprint;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExtractError {
    #[error(transparent)]
    Cab(#[from] CabError),
    #[error("{file}: {source}")]
    Xml { file: String, source: Box<SdpError> },
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

/// Collects the members a catalog needs while the cabinet streams.
#[derive(Default)]
struct CatalogFiles {
    xml: Vec<(String, Vec<u8>)>,
    certificates: Vec<(String, Vec<u8>)>,
    v3: Vec<(String, Vec<u8>)>,
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
        p.is_top_level() && p.has_extension("xml")
    }

    fn file(&mut self, e: &CabEntry, data: Vec<u8>) {
        let name = e.path.to_string();
        if e.path.is_in_folder("V3") {
            self.v3.push((name, data));
        } else if e.path.is_in_folder("ContentCertificates") {
            self.certificates
                .push((e.path.file_name().to_string(), data));
        } else {
            self.xml.push((name, data));
        }
    }
}

/// Parses catalog bytes: a cabinet when they start with `MSCF`, else a bare catalog XML.
pub fn extract(
    data: &[u8],
    limits: &Limits,
    now: DateTime<Utc>,
) -> Result<Extracted, ExtractError> {
    if data.starts_with(b"MSCF") {
        extract_cab(data, limits, now)
    } else {
        extract_xml(data)
    }
}

/// A bare catalog XML: format v1, no certificates, no categories.
pub fn extract_xml(data: &[u8]) -> Result<Extracted, ExtractError> {
    let updates = parse_catalog_bytes(data).map_err(|source| ExtractError::Xml {
        file: "catalog XML".into(),
        source: Box::new(source),
    })?;
    Ok(Extracted {
        content: CatalogContent {
            format: FormatVersion::V1,
            updates,
            categories: Vec::new(),
            content_certificates: Vec::new(),
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
    limits: &Limits,
    now: DateTime<Utc>,
) -> Result<Extracted, ExtractError> {
    let cab = Cabinet::parse(data)?;
    let mut files = CatalogFiles::default();
    let stats = cab.extract(limits, &mut files)?;
    let (xml_name, xml) = match files.xml.len() {
        0 => return Err(ExtractError::NoCatalogXml),
        1 => files.xml.remove(0),
        _ => {
            return Err(ExtractError::SeveralCatalogXml(
                files.xml.into_iter().map(|(n, _)| n).collect(),
            ));
        }
    };
    let updates = parse_catalog_bytes(&xml).map_err(|source| ExtractError::Xml {
        file: xml_name.clone(),
        source: Box::new(source),
    })?;
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
        let mut listed = None;
        for (name, bytes) in &files.v3 {
            if name
                .rsplit('/')
                .next()
                .is_some_and(|f| f.eq_ignore_ascii_case("update_categories.json"))
            {
                listed = Some(parse_category_list(name, bytes)?);
            } else {
                raw.push(parse_category(name, bytes)?);
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
        },
        xml_name,
        xml_bytes: xml.len() as u64,
        missing_content_certificates: !files.certificates_seen,
        expired_content_certificates,
        stats,
    })
}
