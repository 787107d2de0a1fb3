//! Checks XML requires of a document's bytes that quick-xml leaves to its caller: the
//! encoding (supctl reads UTF-8; a UTF-16 file must be named as such, not misread as a root
//! element called ` ? x m l `) and the characters XML 1.0 allows (no U+0000, no C0 controls
//! other than tab, line feed and carriage return, no U+FFFE/U+FFFF).

use quick_xml::XmlVersion;
use quick_xml::events::{BytesDecl, BytesStart};

use super::{SdpError, SdpErrorKind, error_at};

/// The document's text: UTF-8 with an optional byte-order mark. UTF-16 and UTF-32, with or
/// without a byte-order mark, are reported by name.
pub fn decode(bytes: &[u8]) -> Result<&str, SdpError> {
    let encoding = match bytes {
        [0xff, 0xfe, 0, 0, ..] => Some("UTF-32LE (byte-order mark FF FE 00 00)"),
        [0, 0, 0xfe, 0xff, ..] => Some("UTF-32BE (byte-order mark 00 00 FE FF)"),
        [0xff, 0xfe, ..] => Some("UTF-16LE (byte-order mark FF FE)"),
        [0xfe, 0xff, ..] => Some("UTF-16BE (byte-order mark FE FF)"),
        // `<` as the first character, without a byte-order mark.
        [b'<', 0, 0, 0, ..] => Some("UTF-32LE (no byte-order mark)"),
        [0, 0, 0, b'<', ..] => Some("UTF-32BE (no byte-order mark)"),
        [b'<', 0, ..] => Some("UTF-16LE (no byte-order mark)"),
        [0, b'<', ..] => Some("UTF-16BE (no byte-order mark)"),
        _ => None,
    };
    if let Some(e) = encoding {
        return Err(SdpError {
            line: 1,
            column: 1,
            package: None,
            kind: SdpErrorKind::Encoding(e.into()),
        });
    }
    std::str::from_utf8(bytes).map_err(|e| {
        let valid = std::str::from_utf8(&bytes[..e.valid_up_to()]).unwrap_or_default();
        error_at(valid, valid.len(), None, SdpErrorKind::NotUtf8)
    })
}

/// Whether XML 1.0 allows `c` in a document (production `Char`).
pub(crate) fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

/// The first character XML does not allow, located. One pass over the bytes: the only
/// multi-byte characters to refuse are U+FFFE and U+FFFF (`EF BF BE`, `EF BF BF`).
pub(crate) fn characters(doc: &str) -> Result<(), SdpError> {
    let bytes = doc.as_bytes();
    let bad = bytes.iter().enumerate().position(|(i, &b)| {
        (b < 0x20 && !matches!(b, b'\t' | b'\n' | b'\r'))
            || (b == 0xef
                && bytes.get(i + 1) == Some(&0xbf)
                && matches!(bytes.get(i + 2), Some(0xbe | 0xbf)))
    });
    match bad {
        None => Ok(()),
        Some(i) => {
            let c = doc[i..].chars().next().map_or(0, u32::from);
            Err(error_at(doc, i, None, SdpErrorKind::InvalidChar(c)))
        }
    }
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
    fn encodings_are_named() {
        let utf16: Vec<u8> = "<?xml version=\"1.0\"?><a/>"
            .encode_utf16()
            .flat_map(u16::to_le_bytes)
            .collect();
        let e = decode(&utf16).unwrap_err();
        assert_eq!(
            e.kind,
            SdpErrorKind::Encoding("UTF-16LE (no byte-order mark)".into())
        );
        let mut bom = vec![0xff, 0xfe];
        bom.extend_from_slice(&utf16);
        assert!(
            decode(&bom)
                .unwrap_err()
                .to_string()
                .contains("UTF-16LE (byte-order mark FF FE)")
        );
        let be: Vec<u8> = "<a/>".encode_utf16().flat_map(u16::to_be_bytes).collect();
        assert!(decode(&be).unwrap_err().to_string().contains("UTF-16BE"));
        assert_eq!(decode(b"\xef\xbb\xbf<a/>").unwrap(), "\u{feff}<a/>");
        let e = decode(b"<a>\n\xff</a>").unwrap_err();
        assert_eq!((e.line, e.column, e.kind), (2, 1, SdpErrorKind::NotUtf8));
    }

    #[test]
    fn characters_outside_xml_are_located() {
        assert!(characters("<a>\t\r\n\u{7f}\u{fffd}\u{10000}</a>").is_ok());
        let e = characters("<a>\n  x\u{0}</a>").unwrap_err();
        assert_eq!(
            (e.line, e.column, e.kind),
            (2, 4, SdpErrorKind::InvalidChar(0))
        );
        let e = characters("<a b=\"\u{1b}\"/>").unwrap_err();
        assert_eq!(
            (e.line, e.column, e.kind),
            (1, 7, SdpErrorKind::InvalidChar(0x1b))
        );
        let e = characters("<a>\u{ffff}</a>").unwrap_err();
        assert_eq!(e.kind, SdpErrorKind::InvalidChar(0xffff));
        assert!(!is_xml_char('\u{1}') && !is_xml_char('\u{fffe}') && is_xml_char('\u{e000}'));
    }
}
