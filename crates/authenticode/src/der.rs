//! A small, bounds-checked DER reader.
//!
//! Authenticode verification needs the *original* bytes of several structures (the signed
//! attributes, the `SpcIndirectDataContent` content octets, each certificate), so it walks the
//! PKCS#7 as raw TLVs instead of decoding into owned types and re-encoding. Every read is checked
//! against the slice it comes from: hostile input yields [`DerError`], never a panic.

use chrono::{DateTime, NaiveDate, Utc};

/// Universal and context tags used by PKCS#7 / CMS.
pub(crate) mod tag {
    pub(crate) const INTEGER: u8 = 0x02;
    pub(crate) const OCTET_STRING: u8 = 0x04;
    pub(crate) const OID: u8 = 0x06;
    pub(crate) const UTC_TIME: u8 = 0x17;
    pub(crate) const GENERALIZED_TIME: u8 = 0x18;
    pub(crate) const SEQUENCE: u8 = 0x30;
    pub(crate) const SET: u8 = 0x31;
    /// `[0]` constructed (explicit, or implicit SET OF).
    pub(crate) const CTX0: u8 = 0xA0;
    /// `[1]` constructed.
    pub(crate) const CTX1: u8 = 0xA1;
    /// `[0]` primitive (implicit OCTET STRING, e.g. subjectKeyIdentifier in a `sid`).
    pub(crate) const CTX0_PRIM: u8 = 0x80;
}

/// Why a DER structure could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DerError {
    #[error("{context}: truncated at byte {offset}")]
    Truncated {
        context: &'static str,
        offset: usize,
    },
    #[error("{context}: expected tag {expected:#04x}, found {found:#04x}")]
    UnexpectedTag {
        context: &'static str,
        expected: u8,
        found: u8,
    },
    #[error("{context}: unsupported length encoding (indefinite, over 4 bytes, or non-minimal)")]
    Length { context: &'static str },
    #[error("{context}: multi-byte (high-number) tags are not used by Authenticode")]
    HighTag { context: &'static str },
    #[error("{context}: {what}")]
    Invalid {
        context: &'static str,
        what: &'static str,
    },
    #[error("{context}: {count} unexpected trailing bytes")]
    Trailing { context: &'static str, count: usize },
}

/// One TLV: its tag, the complete encoding (`raw`) and its content octets (`content`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Tlv<'a> {
    pub tag: u8,
    pub raw: &'a [u8],
    pub content: &'a [u8],
}

impl<'a> Tlv<'a> {
    /// A reader over the content of a constructed TLV.
    pub(super) fn reader(&self) -> Reader<'a> {
        Reader::new(self.content)
    }

    /// Checks the tag; used for the many "must be a SEQUENCE" steps.
    pub(super) fn expect(self, tag: u8, context: &'static str) -> Result<Self, DerError> {
        if self.tag == tag {
            Ok(self)
        } else {
            Err(DerError::UnexpectedTag {
                context,
                expected: tag,
                found: self.tag,
            })
        }
    }
}

/// Sequential reader over a run of TLVs.
#[derive(Debug, Clone)]
pub(crate) struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub(super) fn new(data: &'a [u8]) -> Self {
        Self { data, pos: 0 }
    }

    pub(super) fn is_empty(&self) -> bool {
        self.pos >= self.data.len()
    }

    pub(super) fn remaining(&self) -> &'a [u8] {
        self.data.get(self.pos..).unwrap_or(&[])
    }

    /// The tag of the next TLV without consuming it.
    pub(super) fn peek_tag(&self) -> Option<u8> {
        self.data.get(self.pos).copied()
    }

    /// Reads the next TLV (any tag).
    pub(super) fn read_any(&mut self, context: &'static str) -> Result<Tlv<'a>, DerError> {
        let start = self.pos;
        let truncated = |offset| DerError::Truncated { context, offset };
        let tag = *self.data.get(start).ok_or(truncated(start))?;
        if tag & 0x1F == 0x1F {
            return Err(DerError::HighTag { context });
        }
        let first = *self.data.get(start + 1).ok_or(truncated(start + 1))?;
        let (len, header) = if first < 0x80 {
            (first as usize, 2)
        } else {
            let n = (first & 0x7F) as usize;
            if n == 0 || n > 4 {
                return Err(DerError::Length { context });
            }
            let bytes = self
                .data
                .get(start + 2..start + 2 + n)
                .ok_or(truncated(start + 2))?;
            if bytes[0] == 0 {
                return Err(DerError::Length { context });
            }
            let len = bytes.iter().fold(0usize, |acc, b| (acc << 8) | *b as usize);
            if len < 0x80 {
                return Err(DerError::Length { context });
            }
            (len, 2 + n)
        };
        let end = start
            .checked_add(header)
            .and_then(|h| h.checked_add(len))
            .ok_or(DerError::Length { context })?;
        if end > self.data.len() {
            return Err(truncated(self.data.len()));
        }
        self.pos = end;
        Ok(Tlv {
            tag,
            raw: &self.data[start..end],
            content: &self.data[start + header..end],
        })
    }

    /// Reads the next TLV and checks its tag.
    pub(super) fn read(&mut self, tag: u8, context: &'static str) -> Result<Tlv<'a>, DerError> {
        self.read_any(context)?.expect(tag, context)
    }

    /// Reads the next TLV only if it carries `tag`.
    pub(super) fn read_optional(
        &mut self,
        tag: u8,
        context: &'static str,
    ) -> Result<Option<Tlv<'a>>, DerError> {
        if self.peek_tag() == Some(tag) {
            self.read(tag, context).map(Some)
        } else {
            Ok(None)
        }
    }

    /// Fails unless everything was consumed.
    pub(super) fn finish(&self, context: &'static str) -> Result<(), DerError> {
        let rest = self.remaining().len();
        if rest == 0 {
            Ok(())
        } else {
            Err(DerError::Trailing {
                context,
                count: rest,
            })
        }
    }
}

/// Parses one TLV that must fill `data`, except for zero padding (PE certificate entries are
/// padded to 8 bytes).
pub(crate) fn parse_single<'a>(
    data: &'a [u8],
    tag: u8,
    context: &'static str,
) -> Result<Tlv<'a>, DerError> {
    let mut r = Reader::new(data);
    let tlv = r.read(tag, context)?;
    let rest = r.remaining();
    if rest.iter().any(|b| *b != 0) {
        return Err(DerError::Trailing {
            context,
            count: rest.len(),
        });
    }
    Ok(tlv)
}

/// Decodes OBJECT IDENTIFIER content octets to dotted form ("1.2.840.113549.1.7.2").
pub(crate) fn oid_to_string(content: &[u8], context: &'static str) -> Result<String, DerError> {
    let invalid = DerError::Invalid {
        context,
        what: "malformed OBJECT IDENTIFIER",
    };
    if content.is_empty() || content.len() > 64 || content.last().is_some_and(|b| b & 0x80 != 0) {
        return Err(invalid);
    }
    let mut arcs: Vec<u64> = Vec::new();
    let mut value: u64 = 0;
    let mut fresh = true;
    for &b in content {
        if fresh && b == 0x80 {
            return Err(invalid); // non-minimal arc encoding
        }
        if value > (u64::MAX >> 7) {
            return Err(invalid);
        }
        value = (value << 7) | u64::from(b & 0x7F);
        fresh = b & 0x80 == 0;
        if fresh {
            if arcs.is_empty() {
                let first = (value / 40).min(2);
                arcs.push(first);
                arcs.push(value - first * 40);
            } else {
                arcs.push(value);
            }
            value = 0;
        }
    }
    Ok(arcs
        .iter()
        .map(u64::to_string)
        .collect::<Vec<_>>()
        .join("."))
}

/// Reads an OBJECT IDENTIFIER TLV to dotted form.
pub(crate) fn read_oid(r: &mut Reader<'_>, context: &'static str) -> Result<String, DerError> {
    let t = r.read(tag::OID, context)?;
    oid_to_string(t.content, context)
}

/// Reads an AlgorithmIdentifier and returns its OID (parameters are ignored: NULL or absent for
/// the digests and RSA, the curve for EC keys, which comes from the certificate instead).
pub(crate) fn read_algorithm(
    r: &mut Reader<'_>,
    context: &'static str,
) -> Result<String, DerError> {
    let seq = r.read(tag::SEQUENCE, context)?;
    let mut inner = seq.reader();
    read_oid(&mut inner, context)
}

/// Parses UTCTime / GeneralizedTime content (the forms CMS allows: `Z` suffix, optional
/// fractional seconds on GeneralizedTime, which are dropped).
pub(crate) fn parse_time(t: &Tlv<'_>, context: &'static str) -> Result<DateTime<Utc>, DerError> {
    let invalid = DerError::Invalid {
        context,
        what: "malformed time",
    };
    let s = std::str::from_utf8(t.content).map_err(|_| invalid.clone())?;
    let s = s.strip_suffix('Z').ok_or(invalid.clone())?;
    let (year, rest) = match t.tag {
        tag::UTC_TIME => {
            let yy: i32 = digits(s.get(0..2))?;
            (if yy < 50 { 2000 + yy } else { 1900 + yy }, &s[2..])
        }
        tag::GENERALIZED_TIME => (digits(s.get(0..4))?, s.get(4..).ok_or(invalid.clone())?),
        _ => return Err(invalid),
    };
    let rest = match rest.split_once('.') {
        Some((whole, frac)) if !frac.is_empty() && frac.bytes().all(|b| b.is_ascii_digit()) => {
            whole
        }
        Some(_) => return Err(invalid),
        None => rest,
    };
    if rest.len() != 10 {
        return Err(invalid);
    }
    let field = |i: usize| -> Result<u32, DerError> { digits(rest.get(i..i + 2)) };
    let date = NaiveDate::from_ymd_opt(year, field(0)?, field(2)?).ok_or(invalid.clone())?;
    let time = date
        .and_hms_opt(field(4)?, field(6)?, field(8)?)
        .ok_or(invalid)?;
    Ok(time.and_utc())
}

fn digits<T: std::str::FromStr>(s: Option<&str>) -> Result<T, DerError> {
    let invalid = DerError::Invalid {
        context: "time",
        what: "non-digit in time",
    };
    let s = s.ok_or(invalid.clone())?;
    if !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid);
    }
    s.parse().map_err(|_| invalid)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_short_and_long_lengths() {
        let mut long = vec![0x04, 0x81, 0x80];
        long.extend(std::iter::repeat_n(7u8, 0x80));
        let t = parse_single(&long, tag::OCTET_STRING, "t").unwrap();
        assert_eq!(t.content.len(), 0x80);
        let t = parse_single(&[0x05, 0x00, 0, 0], 0x05, "t").unwrap();
        assert!(t.content.is_empty());
    }

    #[test]
    fn rejects_indefinite_nonminimal_and_overlong() {
        assert!(matches!(
            Reader::new(&[0x30, 0x80, 0, 0]).read_any("t"),
            Err(DerError::Length { .. })
        ));
        assert!(matches!(
            Reader::new(&[0x04, 0x81, 0x05, 1, 2, 3, 4, 5]).read_any("t"),
            Err(DerError::Length { .. })
        ));
        assert!(matches!(
            Reader::new(&[0x04, 0x84, 0xFF, 0xFF, 0xFF, 0xFF]).read_any("t"),
            Err(DerError::Truncated { .. })
        ));
        assert!(matches!(
            parse_single(&[0x05, 0x00, 1], 0x05, "t"),
            Err(DerError::Trailing { .. })
        ));
    }

    #[test]
    fn decodes_oids() {
        // 1.2.840.113549.1.7.2 (signedData)
        let oid = [0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x07, 0x02];
        assert_eq!(oid_to_string(&oid, "t").unwrap(), "1.2.840.113549.1.7.2");
        assert!(oid_to_string(&[0x2A, 0x86], "t").is_err());
        assert!(oid_to_string(&[], "t").is_err());
    }

    #[test]
    fn parses_both_time_forms() {
        let utc = Tlv {
            tag: tag::UTC_TIME,
            raw: &[],
            content: b"250601120000Z",
        };
        assert_eq!(
            parse_time(&utc, "t").unwrap().to_rfc3339(),
            "2025-06-01T12:00:00+00:00"
        );
        let gen_time = Tlv {
            tag: tag::GENERALIZED_TIME,
            raw: &[],
            content: b"20250601120000.123Z",
        };
        assert_eq!(
            parse_time(&gen_time, "t").unwrap().to_rfc3339(),
            "2025-06-01T12:00:00+00:00"
        );
        let bad = Tlv {
            tag: tag::UTC_TIME,
            raw: &[],
            content: b"251301120000Z",
        };
        assert!(parse_time(&bad, "t").is_err());
    }
}
