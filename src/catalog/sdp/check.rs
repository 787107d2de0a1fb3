//! Checks XML requires of a document that quick-xml leaves to its caller, beyond its bytes
//! (those the [`super::tape::Tape`] checks as they stream): the encoding a declaration names,
//! and the characters that references in attribute values resolve to.

use quick_xml::XmlVersion;
use quick_xml::events::{BytesDecl, BytesStart};

use super::SdpErrorKind;

/// Whether XML 1.0 allows `c` in a document (production `Char`).
pub(crate) fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

/// Character references in `e`'s attribute values must resolve to XML characters (the
/// document's literal characters were checked by [`characters`]).
pub(crate) fn references(e: &BytesStart) -> Result<(), SdpErrorKind> {
    for a in e.attributes() {
        let a = a.map_err(|err| SdpErrorKind::Xml(err.to_string()))?;
        if !a.value.contains("&#") {
            continue;
        }
        let value = a
            .normalized_value(XmlVersion::Implicit1_0)
            .map_err(|err| SdpErrorKind::Xml(format!("attribute `{}`: {err}", a.key.0)))?;
        if let Some(c) = value.chars().find(|&c| !is_xml_char(c)) {
            return Err(SdpErrorKind::InvalidChar(u32::from(c)));
        }
    }
    Ok(())
}

/// The XML declaration may only name UTF-8 (or its subset US-ASCII): the bytes were read
/// as UTF-8, so a document declaring UTF-16 is mislabelled or was converted without its
/// declaration, and its text cannot be trusted to mean what it says.
pub(crate) fn declaration(d: &BytesDecl) -> Result<(), SdpErrorKind> {
    let Some(Ok(encoding)) = d.encoding() else {
        return Ok(());
    };
    let name = encoding.trim().to_ascii_lowercase();
    match name.as_str() {
        "utf-8" | "utf8" | "us-ascii" | "ascii" => Ok(()),
        n if n.starts_with("utf-16") || n.starts_with("utf-32") || n.starts_with("ucs-") => Err(
            SdpErrorKind::Encoding(format!("UTF-8 but declares encoding=\"{name}\"")),
        ),
        // Single-byte encodings agree with UTF-8 on ASCII, which is all real catalogs use
        // where they declare one.
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xml_characters() {
        assert!(!is_xml_char('\u{1}') && !is_xml_char('\u{fffe}') && is_xml_char('\u{e000}'));
    }

    #[test]
    fn a_declaration_naming_utf16_is_refused() {
        let mut r = quick_xml::Reader::from_str("<?xml version=\"1.0\" encoding=\"UTF-16\"?><a/>");
        let quick_xml::events::Event::Decl(d) = r.read_event().unwrap() else {
            panic!("a declaration")
        };
        assert!(matches!(declaration(&d), Err(SdpErrorKind::Encoding(_))));
    }
}
