//! Text, entity references and dates as catalogs write them.

use chrono::{DateTime, NaiveDateTime, Utc};
use quick_xml::events::BytesRef;

use super::SdpErrorKind;

/// Resolves `&name;` / `&#n;`: quick-xml 0.42 reports references as separate events, so a
/// streaming parser must join them with the surrounding text itself. Only the five
/// predefined entities exist (DOCTYPEs are refused, so no others can be declared).
pub(crate) fn resolve_ref(r: &BytesRef) -> Result<char, SdpErrorKind> {
    let name = r.xml_content(quick_xml::XmlVersion::Implicit1_0);
    if r.is_char_ref() {
        return match r.resolve_char_ref() {
            Ok(Some(c)) if super::check::is_xml_char(c) => Ok(c),
            Ok(Some(c)) => Err(SdpErrorKind::InvalidChar(u32::from(c))),
            // quick-xml refuses `&#0;` itself, as an error of its own.
            Err(_) if is_zero_ref(&name) => Err(SdpErrorKind::InvalidChar(0)),
            _ => Err(SdpErrorKind::UnknownEntity(name.into_owned())),
        };
    }
    predefined_entity(&name).ok_or_else(|| SdpErrorKind::UnknownEntity(name.into_owned()))
}

/// One of XML's five predefined entities (`amp`, `lt`, `gt`, `quot`, `apos`), by quick-xml's
/// own table.
fn predefined_entity(name: &str) -> Option<char> {
    quick_xml::escape::resolve_predefined_entity(name).and_then(|s| s.chars().next())
}

/// `#0`, `#x00`...: a reference to U+0000.
fn is_zero_ref(name: &str) -> bool {
    let (digits, radix) = match name.strip_prefix("#x") {
        Some(hex) => (hex, 16),
        None => (name.trim_start_matches('#'), 10),
    };
    u32::from_str_radix(digits, radix) == Ok(0)
}

/// Parses an `xs:dateTime` in the forms vendors write: `Z`, `+00:00`, fractional seconds,
/// and zone-less (HP), which is taken as UTC.
pub fn parse_xml_datetime(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim();
    if let Ok(d) = DateTime::parse_from_rfc3339(s) {
        return Some(d.with_timezone(&Utc));
    }
    NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f")
        .ok()
        .map(|n| n.and_utc())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_real_date_forms_parse() {
        let utc = |s| parse_xml_datetime(s).unwrap().to_rfc3339();
        assert_eq!(utc("2015-12-21T11:48:00"), "2015-12-21T11:48:00+00:00");
        assert_eq!(utc("2019-01-24T07:52:15Z"), "2019-01-24T07:52:15+00:00");
        assert_eq!(
            utc("2018-10-03T06:37:49+00:00"),
            "2018-10-03T06:37:49+00:00"
        );
        assert_eq!(
            utc("2018-09-05T00:58:17.513Z"),
            "2018-09-05T00:58:17.513+00:00"
        );
        assert_eq!(
            utc("2018-09-05T02:58:17+02:00"),
            "2018-09-05T00:58:17+00:00"
        );
        assert_eq!(
            utc("2015-12-21T11:48:00.25"),
            "2015-12-21T11:48:00.250+00:00"
        );
        assert!(parse_xml_datetime("21/12/2015").is_none());
        assert!(parse_xml_datetime("").is_none());
    }

    #[test]
    fn references_resolve() {
        assert_eq!(resolve_ref(&BytesRef::new("amp")), Ok('&'));
        assert_eq!(resolve_ref(&BytesRef::new("#x41")), Ok('A'));
        assert_eq!(resolve_ref(&BytesRef::new("#62")), Ok('>'));
        assert_eq!(
            resolve_ref(&BytesRef::new("lol")),
            Err(SdpErrorKind::UnknownEntity("lol".into()))
        );
        assert_eq!(
            resolve_ref(&BytesRef::new("#1")),
            Err(SdpErrorKind::InvalidChar(1))
        );
        assert_eq!(
            resolve_ref(&BytesRef::new("#x0")),
            Err(SdpErrorKind::InvalidChar(0))
        );
        assert_eq!(
            resolve_ref(&BytesRef::new("#xFFFE")),
            Err(SdpErrorKind::InvalidChar(0xfffe))
        );
    }
}
