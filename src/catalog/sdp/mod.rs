//! Streaming parser for SMC/SDP catalog XML (`SystemsManagementCatalog` with one
//! `SoftwareDistributionPackage` per update, or a single `.sdp` package).
//!
//! Elements are matched by namespace URI, never by prefix: vendors re-declare prefixes on
//! children and put the package element in either the `smc` or the `sdp` namespace. Each
//! package's byte-exact XML is kept in [`UpdateRecord::raw_xml`] so the store can hash and
//! re-publish it; applicability rules stay inside that slice and are not modelled.
//! DOCTYPE declarations are refused outright: catalogs never need them and they are the
//! vehicle of entity-expansion ("billion laughs") attacks.

mod check;
mod package;
mod text;
mod unique;

use std::fmt;

use quick_xml::NsReader;
use quick_xml::events::Event;
use quick_xml::name::ResolveResult;

use crate::catalog::limits::{CatalogLimits, Limit, LimitExceeded};
use crate::catalog::model::{Namespaces, UpdateRecord};
use crate::ids::UpdateId;

pub use check::decode;
pub use text::parse_xml_datetime;
pub use unique::Unique;

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
    #[error("the document is {0}; supctl reads UTF-8 catalogs only: convert the file to UTF-8")]
    Encoding(String),
    #[error("character U+{0:04X} is not allowed in XML")]
    InvalidChar(u32),
    #[error(
        "a second root element `{0}`: a catalog is one SystemsManagementCatalog or one SoftwareDistributionPackage"
    )]
    SecondRoot(String),
    #[error(transparent)]
    Limit(LimitExceeded),
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

fn classify(ns: &ResolveResult) -> Ns {
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
/// filtered out again by [`UpdateRecord::standalone_xml`]. When they equal `previous` (the
/// previous package's, as they do for nearly every package) that copy is shared.
fn inherited_namespaces(
    reader: &NsReader<&[u8]>,
    depth: usize,
    previous: &Namespaces,
) -> Namespaces {
    use quick_xml::name::PrefixDeclaration;
    if depth == 0 {
        return Namespaces::default();
    }
    let bindings = reader.resolver().bindings().filter_map(|(prefix, ns)| {
        let prefix = match prefix {
            PrefixDeclaration::Default => "",
            PrefixDeclaration::Named(p) => p,
        };
        let uri = ns.into_inner();
        (prefix != "xml" && prefix != "xmlns").then_some((prefix, uri))
    });
    if bindings
        .clone()
        .map(Some)
        .chain(std::iter::once(None))
        .eq(previous
            .iter()
            .map(|(p, u)| Some((p.as_str(), u.as_str())))
            .chain(std::iter::once(None)))
    {
        return previous.clone();
    }
    Namespaces::new(
        bindings
            .map(|(p, u)| (p.to_string(), u.to_string()))
            .collect(),
    )
}

/// Parses catalog bytes (UTF-8, BOM optional) into update records, in document order, under
/// the default limits; duplicates are kept (see [`Unique`] for the catalog's rule).
pub fn parse_catalog_bytes(bytes: &[u8]) -> Result<Vec<UpdateRecord>, SdpError> {
    parse_catalog(decode(bytes)?)
}

/// Parses a whole catalog (or one `.sdp` package) into update records, in document order,
/// under the default limits.
pub fn parse_catalog(doc: &str) -> Result<Vec<UpdateRecord>, SdpError> {
    let mut out = Vec::new();
    for_each_package(doc, &CatalogLimits::default(), |u, _| out.push(u))?;
    Ok(out)
}

/// Where a package starts: its 1-based position among the catalog's packages and its line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PackageAt {
    pub position: usize,
    pub line: usize,
}

/// The next event and its namespace, or quick-xml's failure as an [`SdpError`] at the place it
/// names, but never before the event that failed (it reports offset 0 for errors it does not
/// locate, such as its nesting limit); `package` is the package being read, if any.
pub(crate) fn next_event<'a>(
    reader: &mut NsReader<&'a [u8]>,
    doc: &str,
    event_start: usize,
    package: Option<&UpdateId>,
) -> Result<(Ns, Event<'a>), SdpError> {
    match reader.read_resolved_event() {
        Ok((ns, event)) => Ok((classify(&ns), event)),
        Err(e) => {
            let at = (reader.error_position() as usize).max(event_start);
            Err(error_at(doc, at, package, SdpErrorKind::Xml(e.to_string())))
        }
    }
}

/// Streams packages to `sink` one at a time, so memory is bounded by the largest package
/// rather than the catalog, checking `limits` as it goes. Returns how many packages were seen.
pub fn for_each_package(
    doc: &str,
    limits: &CatalogLimits,
    mut sink: impl FnMut(UpdateRecord, PackageAt),
) -> Result<usize, SdpError> {
    let doc = strip_bom(doc);
    check::characters(doc)?;
    let mut reader = NsReader::from_str(doc);
    let mut depth = 0usize;
    let mut root_seen = false;
    let mut count = 0;
    // Lines are counted incrementally: once over the document, not once per package.
    let (mut line_offset, mut line) = (0usize, 1usize);
    let mut namespaces = Namespaces::default();
    loop {
        let before = reader.buffer_position() as usize;
        let (ns, event) = next_event(&mut reader, doc, before, None)?;
        match event {
            Event::DocType(_) => return Err(error_at(doc, before, None, SdpErrorKind::Doctype)),
            Event::Decl(ref d) => {
                check::declaration(d).map_err(|k| error_at(doc, before, None, k))?
            }
            Event::Start(ref e) | Event::Empty(ref e) if depth == 0 && root_seen => {
                let name = e.name().0.to_string();
                return Err(error_at(doc, before, None, SdpErrorKind::SecondRoot(name)));
            }
            Event::Start(ref e) | Event::Empty(ref e) => {
                let empty = matches!(event, Event::Empty(_));
                let local = e.local_name().into_inner().to_string();
                if depth <= 1 && is_package(ns, &local) {
                    root_seen = true;
                    if count as u64 >= limits.updates {
                        let what =
                            format!("the catalog lists more than {} updates", limits.updates);
                        let kind = SdpErrorKind::Limit(limits.exceeded(Limit::Updates, what));
                        return Err(error_at(doc, before, None, kind));
                    }
                    namespaces = inherited_namespaces(&reader, depth, &namespaces);
                    let mut record = package::parse(&mut reader, doc, before, e, empty, limits)?;
                    record.namespaces = namespaces.clone();
                    line += doc.as_bytes()[line_offset..before]
                        .iter()
                        .filter(|&&b| b == b'\n')
                        .count();
                    line_offset = before;
                    count += 1;
                    sink(
                        record,
                        PackageAt {
                            position: count,
                            line,
                        },
                    );
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
                } else {
                    // Other elements (Lenovo's trailing XML-DSig <Signature>) are skipped,
                    // but read: references in them must still be XML characters.
                    check::references(e).map_err(|k| error_at(doc, before, None, k))?;
                    if !empty {
                        depth += 1;
                    }
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
