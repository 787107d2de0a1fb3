//! Streaming parser for SMC/SDP catalog XML (`SystemsManagementCatalog` with one
//! `SoftwareDistributionPackage` per update, or a single `.sdp` package).
//!
//! Elements are matched by namespace URI, never by prefix: vendors re-declare prefixes on
//! children and put the package element in either the `smc` or the `sdp` namespace. Each
//! package's byte-exact XML is kept in [`UpdateRecord::raw_xml`] so the store can hash and
//! re-publish it; applicability rules stay inside that slice and are not modelled.
//! DOCTYPE declarations are refused outright: catalogs never need them and they are the
//! vehicle of entity-expansion ("billion laughs") attacks.

mod package;
mod text;

use std::fmt;

use quick_xml::NsReader;
use quick_xml::events::Event;
use quick_xml::name::ResolveResult;

use crate::catalog::model::UpdateRecord;
use crate::ids::UpdateId;

pub use text::parse_xml_datetime;

/// Resolves a predefined or character entity reference (`amp`, `#x41`); `None` otherwise.
pub fn resolve_entity(r: &quick_xml::events::BytesRef) -> Option<char> {
    text::resolve_ref(r).ok()
}

/// `smc:` (note `sms`, not `wsus`).
pub const NS_SMC: &str =
    "http://schemas.microsoft.com/sms/2005/04/CorporatePublishing/SystemsManagementCatalog.xsd";
/// `sdp:`: every package child.
pub const NS_SDP: &str =
    "http://schemas.microsoft.com/wsus/2005/04/CorporatePublishing/SoftwareDistributionPackage.xsd";
pub const NS_BT: &str =
    "http://schemas.microsoft.com/wsus/2005/04/CorporatePublishing/BaseTypes.xsd";
pub const NS_CMD: &str = "http://schemas.microsoft.com/wsus/2005/04/CorporatePublishing/Installers/CommandLineInstallation.xsd";
pub const NS_MSI: &str =
    "http://schemas.microsoft.com/wsus/2005/04/CorporatePublishing/Installers/MsiInstallation.xsd";
pub const NS_MSP: &str =
    "http://schemas.microsoft.com/wsus/2005/04/CorporatePublishing/Installers/MspInstallation.xsd";

/// A parse failure, located in the document so an admin can open the file at that spot.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct SdpError {
    pub line: usize,
    pub column: usize,
    /// The package being parsed, once its `PackageID` has been read.
    pub package: Option<UpdateId>,
    pub kind: SdpErrorKind,
}

impl fmt::Display for SdpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}, column {}", self.line, self.column)?;
        if let Some(p) = &self.package {
            write!(f, " (package {p})")?;
        }
        write!(f, ": {}", self.kind)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SdpErrorKind {
    #[error("malformed XML: {0}")]
    Xml(String),
    #[error("the document is not UTF-8")]
    NotUtf8,
    #[error("DOCTYPE and entity declarations are refused (entity expansion attacks)")]
    Doctype,
    #[error("unknown entity reference `&{0};`")]
    UnknownEntity(String),
    #[error("no root element")]
    NoRoot,
    #[error(
        "root element `{0}` is neither a SystemsManagementCatalog nor a SoftwareDistributionPackage"
    )]
    NotCatalog(String),
    #[error("missing {0}")]
    Missing(&'static str),
    #[error("invalid {what} `{value}`: {reason}")]
    Invalid {
        what: &'static str,
        value: String,
        reason: String,
    },
}

/// Byte offset → 1-based line and column (in characters).
pub(crate) fn line_col(doc: &str, offset: usize) -> (usize, usize) {
    let bytes = &doc.as_bytes()[..offset.min(doc.len())];
    let line_start = bytes.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    let line = bytes.iter().filter(|&&b| b == b'\n').count() + 1;
    let column = bytes[line_start..]
        .iter()
        .filter(|&&b| b & 0xc0 != 0x80)
        .count()
        + 1;
    (line, column)
}

pub(crate) fn error_at(
    doc: &str,
    offset: usize,
    package: Option<&UpdateId>,
    kind: SdpErrorKind,
) -> SdpError {
    let (line, column) = line_col(doc, offset);
    SdpError {
        line,
        column,
        package: package.cloned(),
        kind,
    }
}

/// Where a namespace URI puts an element.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ns {
    Smc,
    Sdp,
    Bt,
    Cmd,
    Msi,
    Msp,
    Other,
}

pub(crate) fn classify(ns: &ResolveResult) -> Ns {
    match ns {
        ResolveResult::Bound(n) => match n.0 {
            NS_SMC => Ns::Smc,
            NS_SDP => Ns::Sdp,
            NS_BT => Ns::Bt,
            NS_CMD => Ns::Cmd,
            NS_MSI => Ns::Msi,
            NS_MSP => Ns::Msp,
            _ => Ns::Other,
        },
        _ => Ns::Other,
    }
}

fn is_package(ns: Ns, local: &str) -> bool {
    matches!(ns, Ns::Smc | Ns::Sdp) && local == "SoftwareDistributionPackage"
}

/// Strips a UTF-8 byte-order mark (HP and Lenovo catalogs carry one).
pub fn strip_bom(s: &str) -> &str {
    s.strip_prefix('\u{feff}').unwrap_or(s)
}

/// The bindings a package inherits from the catalog root (none for a standalone `.sdp`).
/// Read right after the package's start tag, so its own declarations are included here and
/// filtered out again by [`UpdateRecord::standalone_xml`].
fn inherited_namespaces(reader: &NsReader<&[u8]>, depth: usize) -> Vec<(String, String)> {
    use quick_xml::name::PrefixDeclaration;
    if depth == 0 {
        return Vec::new();
    }
    reader
        .resolver()
        .bindings()
        .filter_map(|(prefix, ns)| {
            let prefix = match prefix {
                PrefixDeclaration::Default => String::new(),
                PrefixDeclaration::Named(p) => p.to_string(),
            };
            let uri = ns.into_inner().to_string();
            (prefix != "xml" && prefix != "xmlns").then_some((prefix, uri))
        })
        .collect()
}

/// Parses catalog bytes (UTF-8, BOM optional) into update records.
pub fn parse_catalog_bytes(bytes: &[u8]) -> Result<Vec<UpdateRecord>, SdpError> {
    let doc = std::str::from_utf8(bytes).map_err(|e| {
        let valid = std::str::from_utf8(&bytes[..e.valid_up_to()]).unwrap_or_default();
        error_at(valid, valid.len(), None, SdpErrorKind::NotUtf8)
    })?;
    parse_catalog(doc)
}

/// Parses a whole catalog (or one `.sdp` package) into update records, in document order.
pub fn parse_catalog(doc: &str) -> Result<Vec<UpdateRecord>, SdpError> {
    let mut out = Vec::new();
    for_each_package(doc, |u| out.push(u))?;
    Ok(out)
}

/// Streams packages to `sink` one at a time, so memory is bounded by the largest package
/// rather than the catalog. Returns how many packages were seen.
pub fn for_each_package(doc: &str, mut sink: impl FnMut(UpdateRecord)) -> Result<usize, SdpError> {
    let doc = strip_bom(doc);
    let mut reader = NsReader::from_str(doc);
    let mut depth = 0usize;
    let mut root_seen = false;
    let mut count = 0;
    loop {
        let before = reader.buffer_position() as usize;
        let (ns, event) = reader
            .read_resolved_event()
            .map(|(ns, ev)| (classify(&ns), ev))
            .map_err(|e| {
                error_at(
                    doc,
                    reader.error_position() as usize,
                    None,
                    SdpErrorKind::Xml(e.to_string()),
                )
            })?;
        match event {
            Event::DocType(_) => return Err(error_at(doc, before, None, SdpErrorKind::Doctype)),
            Event::Start(ref e) | Event::Empty(ref e) => {
                let empty = matches!(event, Event::Empty(_));
                let local = e.local_name().into_inner().to_string();
                if depth <= 1 && is_package(ns, &local) {
                    root_seen = true;
                    let namespaces = inherited_namespaces(&reader, depth);
                    let mut record = package::parse(&mut reader, doc, before, e, empty)?;
                    record.namespaces = namespaces;
                    sink(record);
                    count += 1;
                } else if depth == 0 {
                    if !(ns == Ns::Smc && local == "SystemsManagementCatalog") {
                        return Err(error_at(
                            doc,
                            before,
                            None,
                            SdpErrorKind::NotCatalog(e.name().0.to_string()),
                        ));
                    }
                    root_seen = true;
                    if !empty {
                        depth = 1;
                    }
                } else if !empty {
                    // Unknown root children (Lenovo's trailing XML-DSig <Signature>) are skipped.
                    reader.read_to_end(e.name()).map_err(|err| {
                        error_at(
                            doc,
                            reader.error_position() as usize,
                            None,
                            SdpErrorKind::Xml(err.to_string()),
                        )
                    })?;
                }
            }
            Event::End(_) => depth = depth.saturating_sub(1),
            Event::GeneralRef(r) => text::resolve_ref(&r)
                .map(drop)
                .map_err(|k| error_at(doc, before, None, k))?,
            Event::Eof if depth > 0 => {
                let kind = SdpErrorKind::Xml("document ends before the root element closes".into());
                return Err(error_at(doc, doc.len(), None, kind));
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if !root_seen {
        return Err(error_at(doc, doc.len(), None, SdpErrorKind::NoRoot));
    }
    Ok(count)
}

#[cfg(test)]
mod tests;
