//! Streaming parser for SMC/SDP catalog XML (`SystemsManagementCatalog` with one
//! `SoftwareDistributionPackage` per update, or a single `.sdp` package).
//!
//! Elements are matched by namespace URI, never by prefix: vendors re-declare prefixes on
//! children and put the package element in either the `smc` or the `sdp` namespace.
//!
//! The document streams through a tape (`tape.rs`): it is never whole in memory. Each
//! package's byte-exact XML is hashed as it passes ([`UpdateRecord::content_hash`]) and
//! copied into [`UpdateRecord::raw_xml`] only for the packages the caller asks for
//! ([`KeepXml`]): the ones a plan publishes, not the thousands it only compares.
//! Applicability rules stay inside that XML and are not modelled.
//! DOCTYPE declarations are refused outright: catalogs never need them and they are the
//! vehicle of entity-expansion ("billion laughs") attacks.

mod check;
mod package;
mod tape;
mod text;
mod unique;

use std::collections::HashSet;
use std::fmt;
use std::io::Read;

use quick_xml::NsReader;
use quick_xml::events::Event;
use quick_xml::name::ResolveResult;

use crate::catalog::limits::{CatalogLimits, Limit, LimitExceeded};
use crate::catalog::model::{Namespaces, UpdateRecord};
use crate::ids::{Sha256, UpdateId};
use tape::Tape;

pub use text::parse_xml_datetime;
pub use unique::{Candidate, Unique};

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

/// The parser's reader: quick-xml over the checked, position-counting tape.
type XmlReader<R> = NsReader<Tape<R>>;

/// Which packages keep a copy of their XML in [`UpdateRecord::raw_xml`]; the others carry
/// only its hash, which is all planning compares (a record without XML is never published:
/// [`UpdateRecord::is_summary`]).
#[derive(Debug, Clone, Copy)]
pub enum KeepXml<'a> {
    All,
    None,
    Only(&'a HashSet<UpdateId>),
    /// Neither the XML nor its hash: for counting what a catalog holds (`catalog inspect`),
    /// never for planning or caching. Hashing every package was 7% of an inspection.
    Neither,
}

impl KeepXml<'_> {
    fn keeps(&self, id: &UpdateId) -> bool {
        match self {
            KeepXml::All => true,
            KeepXml::None | KeepXml::Neither => false,
            KeepXml::Only(ids) => ids.contains(id),
        }
    }
}

/// The bindings a package inherits from the catalog root (none for a standalone `.sdp`).
/// Read right after the package's start tag, so its own declarations are included here and
/// filtered out again by [`UpdateRecord::standalone_xml`]. When they equal `previous` (the
/// previous package's, as they do for nearly every package) that copy is shared.
fn inherited_namespaces<R>(
    reader: &XmlReader<R>,
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
    let mut out = Vec::new();
    for_each_package(bytes, &CatalogLimits::default(), KeepXml::All, |u, _| {
        out.push(u)
    })?;
    Ok(out)
}

/// Parses a whole catalog (or one `.sdp` package) into update records, in document order,
/// under the default limits.
pub fn parse_catalog(doc: &str) -> Result<Vec<UpdateRecord>, SdpError> {
    parse_catalog_bytes(doc.as_bytes())
}

/// Where a package starts: its 1-based position among the catalog's packages and its line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PackageAt {
    pub position: usize,
    pub line: usize,
}

/// The next event (read into `buf`) and its namespace, or the failure as an [`SdpError`]: the
/// tape's, when it refused bytes XML does not allow, else quick-xml's at the place it names,
/// but never before the event that failed (it reports offset 0 for errors it does not
/// locate, such as its nesting limit); `package` is the package being read, if any.
pub(crate) fn next_event<'b, R: Read>(
    reader: &mut XmlReader<R>,
    buf: &'b mut Vec<u8>,
    event_start: usize,
    package: Option<&UpdateId>,
) -> Result<(Ns, Event<'b>), SdpError> {
    buf.clear();
    let read = reader
        .read_resolved_event_into(buf)
        .map(|(ns, event)| (classify(&ns), event));
    read.map_err(|e| {
        if let Some(mut refused) = reader.get_mut().take_error() {
            refused.package = package.cloned();
            return refused;
        }
        let at = reader.error_position().max(event_start as u64);
        let kind = SdpErrorKind::Xml(e.to_string());
        reader.get_ref().error_at(at, package, kind)
    })
}

/// `kind` located at document offset `at`, outside any package.
fn fail_at<R: Read, T>(
    reader: &XmlReader<R>,
    at: usize,
    kind: SdpErrorKind,
) -> Result<T, SdpError> {
    Err(reader.get_ref().error_at(at as u64, None, kind))
}

/// Streams packages from `source` to `sink` one at a time, so memory is bounded by the
/// largest package rather than the catalog, checking `limits` as it goes; `keep` says which
/// packages keep their XML. Returns how many packages were seen.
pub fn for_each_package<R: Read>(
    source: R,
    limits: &CatalogLimits,
    keep: KeepXml<'_>,
    mut sink: impl FnMut(UpdateRecord, PackageAt),
) -> Result<usize, SdpError> {
    let mut reader = NsReader::from_reader(Tape::new(source));
    let (mut buf, mut package_buf) = (Vec::new(), Vec::new());
    let mut depth = 0usize;
    let mut root_seen = false;
    let mut count = 0;
    let mut namespaces = Namespaces::default();
    loop {
        let before = reader.buffer_position() as usize;
        // What the tape keeps from here is this event's XML (a whole package's, for one).
        reader.get_mut().mark();
        let (ns, event) = next_event(&mut reader, &mut buf, before, None)?;
        match event {
            Event::DocType(_) => return fail_at(&reader, before, SdpErrorKind::Doctype),
            Event::Decl(ref d) => {
                if let Err(k) = check::declaration(d) {
                    return fail_at(&reader, before, k);
                }
            }
            Event::Start(ref e) | Event::Empty(ref e) if depth == 0 && root_seen => {
                let name = e.name().0.to_string();
                return fail_at(&reader, before, SdpErrorKind::SecondRoot(name));
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
                        return fail_at(&reader, before, kind);
                    }
                    namespaces = inherited_namespaces(&reader, depth, &namespaces);
                    let mut record =
                        package::parse(&mut reader, &mut package_buf, before, e, empty, limits)?;
                    record.namespaces = namespaces.clone();
                    let tape = reader.get_ref();
                    let raw = tape.kept();
                    if keep.keeps(&record.id) {
                        record.raw_xml = String::from_utf8_lossy(raw).into_owned();
                    } else if !matches!(keep, KeepXml::Neither) {
                        record.raw_hash = Some(Sha256::of(raw));
                    }
                    count += 1;
                    let at = PackageAt {
                        position: count,
                        line: tape.marked_line(),
                    };
                    sink(record, at);
                } else if depth == 0 {
                    if !(ns == Ns::Smc && local == "SystemsManagementCatalog") {
                        let name = e.name().0.to_string();
                        return fail_at(&reader, before, SdpErrorKind::NotCatalog(name));
                    }
                    root_seen = true;
                    if !empty {
                        depth = 1;
                    }
                } else {
                    // Other elements (Lenovo's trailing XML-DSig <Signature>) are skipped,
                    // but read: references in them must still be XML characters.
                    if let Err(k) = check::references(e) {
                        return fail_at(&reader, before, k);
                    }
                    if !empty {
                        depth += 1;
                    }
                }
            }
            Event::End(_) => depth = depth.saturating_sub(1),
            Event::GeneralRef(r) => {
                if let Err(k) = text::resolve_ref(&r) {
                    return fail_at(&reader, before, k);
                }
            }
            Event::Eof if depth > 0 => {
                let kind = SdpErrorKind::Xml("document ends before the root element closes".into());
                let end = reader.get_ref().offset() as usize;
                return fail_at(&reader, end, kind);
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if !root_seen {
        let end = reader.get_ref().offset() as usize;
        return fail_at(&reader, end, SdpErrorKind::NoRoot);
    }
    Ok(count)
}

#[cfg(test)]
mod tests;
