//! A small owned XML element tree, read with quick-xml's namespace-resolving reader and
//! written back with its writer.
//!
//! SOAP document/literal bodies are element-only (no mixed content), and the whole-row
//! writes of WSUS (`SetSubscription`, `ExecuteSPSetConfiguration`) must send back *every*
//! field they read, including ones supctl does not know and `xsi:nil` cells. Keeping the
//! element as a tree and patching it is what makes "never a partial write" hold, where
//! rebuilding the row from a struct would silently drop fields a newer server added.

use quick_xml::events::{BytesEnd, BytesRef, BytesStart, BytesText, Event};
use quick_xml::name::ResolveResult;
use quick_xml::{NsReader, Writer};

/// `http://www.w3.org/2001/XMLSchema-instance`: `xsi:type` and `xsi:nil` on row cells.
pub const XSI: &str = "http://www.w3.org/2001/XMLSchema-instance";
/// `http://www.w3.org/2001/XMLSchema`: the namespace `xsi:type` values point into.
pub const XSD: &str = "http://www.w3.org/2001/XMLSchema";

/// Nesting bound: SOAP answers are a handful of levels deep, so anything deeper is hostile.
const MAX_DEPTH: usize = 64;

/// One attribute; `ns` is the resolved namespace URI (unprefixed attributes have none).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attr {
    pub ns: Option<String>,
    pub name: String,
    pub value: String,
}

/// One element with its resolved namespace, attributes, child elements and text.
///
/// `xsi:type` values are normalised to their local part (`int`, `string`) when the prefix
/// resolves to XML Schema, so a re-serialised row does not depend on the server's prefixes.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Element {
    pub ns: Option<String>,
    pub name: String,
    pub attrs: Vec<Attr>,
    pub children: Vec<Element>,
    pub text: String,
}

/// Why a document could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct XmlError(pub String);

impl Element {
    pub fn new(ns: Option<&str>, name: &str) -> Self {
        Element {
            ns: ns.map(str::to_string),
            name: name.to_string(),
            ..Element::default()
        }
    }

    /// A leaf with text content.
    pub fn leaf(ns: Option<&str>, name: &str, text: impl Into<String>) -> Self {
        Element {
            text: text.into(),
            ..Element::new(ns, name)
        }
    }

    pub fn with_child(mut self, child: Element) -> Self {
        self.children.push(child);
        self
    }

    pub fn with_attr(mut self, ns: Option<&str>, name: &str, value: &str) -> Self {
        self.attrs.push(Attr {
            ns: ns.map(str::to_string),
            name: name.to_string(),
            value: value.to_string(),
        });
        self
    }

    /// True when this element is `{ns}name`.
    pub fn is(&self, ns: &str, name: &str) -> bool {
        self.ns.as_deref() == Some(ns) && self.name == name
    }

    /// The first child with this local name (any namespace: SOAP bodies inherit theirs).
    pub fn child(&self, name: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.name == name)
    }

    pub fn child_mut(&mut self, name: &str) -> Option<&mut Element> {
        self.children.iter_mut().find(|c| c.name == name)
    }

    /// Every child with this local name, in document order.
    pub fn children_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Element> {
        self.children.iter().filter(move |c| c.name == name)
    }

    pub fn attr(&self, ns: Option<&str>, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|a| a.ns.as_deref() == ns && a.name == name)
            .map(|a| a.value.as_str())
    }

    /// `xsi:nil="true"`.
    pub fn is_nil(&self) -> bool {
        matches!(self.attr(Some(XSI), "nil"), Some("true" | "1"))
    }

    /// The local part of `xsi:type`, when present.
    pub fn xsi_type(&self) -> Option<&str> {
        self.attr(Some(XSI), "type")
    }

    /// Parses a whole document into its root element.
    pub fn parse(doc: &str) -> Result<Element, XmlError> {
        let mut reader = NsReader::from_str(doc.strip_prefix('\u{feff}').unwrap_or(doc));
        let mut stack: Vec<Element> = Vec::new();
        let xml_err = |e: &dyn std::fmt::Display, at: u64| XmlError(format!("{e} at byte {at}"));
        loop {
            let (ns, event) = match reader.read_resolved_event() {
                Ok((ns, event)) => (bound(&ns), event),
                Err(e) => return Err(xml_err(&e, reader.error_position())),
            };
            match event {
                Event::Start(e) | Event::Empty(e) if stack.len() >= MAX_DEPTH => {
                    return Err(XmlError(format!(
                        "elements nested deeper than {MAX_DEPTH} (at <{}>)",
                        e.local_name().into_inner()
                    )));
                }
                Event::Start(e) => stack.push(open(&reader, ns, &e)?),
                Event::Empty(e) => {
                    let el = open(&reader, ns, &e)?;
                    if let Some(root) = close(&mut stack, el) {
                        return Ok(root);
                    }
                }
                Event::End(_) => {
                    let el = stack
                        .pop()
                        .ok_or_else(|| XmlError("unbalanced end tag".into()))?;
                    if let Some(root) = close(&mut stack, el) {
                        return Ok(root);
                    }
                }
                Event::Text(t) => {
                    if let Some(top) = stack.last_mut() {
                        top.text.push_str(&t.xml10_content());
                    }
                }
                Event::CData(t) => {
                    if let Some(top) = stack.last_mut() {
                        top.text.push_str(&t.into_inner());
                    }
                }
                Event::GeneralRef(r) => {
                    let c = resolve_ref(&r)?;
                    if let Some(top) = stack.last_mut() {
                        top.text.push(c);
                    }
                }
                Event::DocType(_) => return Err(XmlError("DOCTYPE is not allowed".into())),
                Event::Eof => return Err(XmlError("document ends before its root closes".into())),
                _ => {}
            }
        }
    }

    /// Writes the element (and its subtree). Namespaces are declared as default namespaces
    /// where they change; `xsi` attributes use the `xsi` prefix and `xsi:type` values the
    /// `xsd` prefix, both declared on the envelope by the callers that write it.
    pub fn write<W: std::io::Write>(
        &self,
        w: &mut Writer<W>,
        inherited_ns: Option<&str>,
    ) -> std::io::Result<()> {
        let mut start = BytesStart::new(self.name.as_str());
        if self.ns.as_deref() != inherited_ns {
            start.push_attribute(("xmlns", self.ns.as_deref().unwrap_or("")));
        }
        for a in &self.attrs {
            match a.ns.as_deref() {
                Some(XSI) if a.name == "type" => {
                    start.push_attribute(("xsi:type", format!("xsd:{}", a.value).as_str()))
                }
                Some(XSI) => start.push_attribute((format!("xsi:{}", a.name).as_str(), &*a.value)),
                // Other namespaced attributes do not occur in ApiRemoting30 bodies.
                _ => start.push_attribute((a.name.as_str(), a.value.as_str())),
            }
        }
        if self.children.is_empty() && self.text.is_empty() {
            return w.write_event(Event::Empty(start));
        }
        w.write_event(Event::Start(start))?;
        if !self.text.is_empty() {
            w.write_event(Event::Text(BytesText::new(&self.text)))?;
        }
        for c in &self.children {
            c.write(w, self.ns.as_deref())?;
        }
        w.write_event(Event::End(BytesEnd::new(self.name.as_str())))
    }
}

fn bound(ns: &ResolveResult) -> Option<String> {
    match ns {
        ResolveResult::Bound(n) => Some(n.into_inner().to_string()),
        _ => None,
    }
}

fn open(reader: &NsReader<&[u8]>, ns: Option<String>, e: &BytesStart) -> Result<Element, XmlError> {
    let mut el = Element {
        ns,
        name: e.local_name().into_inner().to_string(),
        ..Element::default()
    };
    for a in e.attributes() {
        let a = a.map_err(|e| XmlError(e.to_string()))?;
        if a.key.as_namespace_binding().is_some() {
            continue;
        }
        let (ns, local) = reader.resolver().resolve_attribute(a.key);
        let ns = bound(&ns);
        let local = local.into_inner().to_string();
        let raw = a
            .normalized_value(quick_xml::XmlVersion::Implicit1_0)
            .map_err(|e| XmlError(e.to_string()))?;
        let value = if ns.as_deref() == Some(XSI) && local == "type" {
            xsd_local(reader, &raw)
        } else {
            raw.into_owned()
        };
        el.attrs.push(Attr {
            ns,
            name: local,
            value,
        });
    }
    Ok(el)
}

/// `xsd:int` → `int` when the prefix names XML Schema; other values are kept whole.
fn xsd_local(reader: &NsReader<&[u8]>, value: &str) -> String {
    let qname = quick_xml::name::QName(value);
    let (ns, local) = reader.resolver().resolve_element(qname);
    match ns {
        ResolveResult::Bound(n) if n.into_inner() == XSD => local.into_inner().to_string(),
        _ => value.to_string(),
    }
}

/// Pops `el` into its parent; returns it when it was the root.
fn close(stack: &mut [Element], el: Element) -> Option<Element> {
    match stack.last_mut() {
        Some(parent) => {
            parent.children.push(el);
            None
        }
        None => Some(el),
    }
}

/// The five predefined entities and character references (DOCTYPEs are refused, so no
/// others can exist).
fn resolve_ref(r: &BytesRef) -> Result<char, XmlError> {
    let name = r.xml10_content();
    if r.is_char_ref() {
        return match r.resolve_char_ref() {
            Ok(Some(c)) => Ok(c),
            _ => Err(XmlError(format!("bad character reference &{name};"))),
        };
    }
    // One of XML's five predefined entities, by quick-xml's own table.
    quick_xml::escape::resolve_predefined_entity(&name)
        .and_then(|s| s.chars().next())
        .ok_or_else(|| XmlError(format!("unknown entity &{name};")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_namespaces_nil_and_types() {
        let doc = r#"<?xml version="1.0"?><a:R xmlns:a="urn:a" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:q="http://www.w3.org/2001/XMLSchema"><V xmlns="urn:b"><x xsi:type="q:int">1&amp;2</x><x xsi:nil="true"/></V></a:R>"#;
        let r = Element::parse(doc).unwrap();
        assert!(r.is("urn:a", "R"));
        let v = r.child("V").unwrap();
        assert_eq!(v.ns.as_deref(), Some("urn:b"));
        let cells: Vec<_> = v.children_named("x").collect();
        assert_eq!(cells[0].xsi_type(), Some("int"));
        assert_eq!(cells[0].text, "1&2");
        assert!(cells[1].is_nil());
    }

    #[test]
    fn refuses_doctype_depth_and_truncation() {
        assert!(Element::parse("<!DOCTYPE x [<!ENTITY a 'b'>]><x/>").is_err());
        assert!(Element::parse("<a><b>").is_err());
        let deep = "<a>".repeat(100) + &"</a>".repeat(100);
        assert!(Element::parse(&deep).unwrap_err().0.contains("deeper"));
    }

    #[test]
    fn round_trips_through_the_writer() {
        let el = Element::new(Some("urn:t"), "Row")
            .with_child(Element::leaf(Some("urn:t"), "A", "x<y"))
            .with_child(Element::new(Some("urn:t"), "B").with_attr(Some(XSI), "nil", "true"));
        let mut w = Writer::new(Vec::new());
        w.write_event(Event::Start(
            BytesStart::new("w").with_attributes([("xmlns:xsi", XSI)]),
        ))
        .unwrap();
        el.write(&mut w, None).unwrap();
        w.write_event(Event::End(BytesEnd::new("w"))).unwrap();
        let text = String::from_utf8(w.into_inner()).unwrap();
        assert!(
            text.contains(r#"<Row xmlns="urn:t"><A>x&lt;y</A><B xsi:nil="true"/></Row>"#),
            "{text}"
        );
        let back = Element::parse(&text).unwrap();
        assert_eq!(back.children[0], el);
    }
}
