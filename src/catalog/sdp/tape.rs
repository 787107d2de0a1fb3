//! The catalog XML as a stream: what the parser reads instead of the whole document.
//!
//! A catalog's XML inflates to about ten times its cabinet, so holding it whole cost
//! hundreds of MB at tens of thousands of updates. The tape reads the document a chunk at a
//! time and keeps only the bytes the parser consumed since it last called [`Tape::mark`]:
//! one top-level event, or one package (which [`super::for_each_package`] hashes and, when
//! asked, copies). Memory is one chunk plus the largest package, whatever the catalog's size.
//!
//! It also checks what XML requires of the bytes and quick-xml leaves to its caller, before
//! the parser sees them: the encoding (supctl reads UTF-8; a UTF-16 file is named as such,
//! not misread as a root element called ` ? x m l `), valid UTF-8, and the characters XML 1.0
//! allows (no U+0000, no C0 controls other than tab, line feed and carriage return, no
//! U+FFFE/U+FFFF). A fault is held back until the parser reaches it, so the first problem in
//! document order is the one reported, wherever the chunk boundaries fall. Lines and columns
//! are counted as bytes leave the tape, so an error is located without the document.

use std::io::{self, BufRead, Read};

use super::{SdpError, SdpErrorKind};
use crate::ids::UpdateId;

/// Bytes read from the source at a time.
const CHUNK: usize = 64 * 1024;
/// Room for the incomplete UTF-8 sequence carried from one chunk to the next.
const CARRY: usize = 4;

/// A checked, position-counting [`BufRead`] over the catalog's bytes.
pub(crate) struct Tape<R> {
    source: R,
    buf: Box<[u8]>,
    /// The next byte to hand out.
    pos: usize,
    /// End of the checked bytes: complete UTF-8 characters that XML allows.
    checked: usize,
    /// End of the bytes read from the source.
    filled: usize,
    eof: bool,
    started: bool,
    /// What is wrong with the byte at `checked`, raised when the parser gets there.
    fault: Option<SdpErrorKind>,
    /// The located error the parser was refused with: quick-xml only sees an I/O error.
    error: Option<SdpError>,
    /// The bytes handed out since the last mark.
    kept: Vec<u8>,
    /// Document offset of `kept[0]` (after a byte-order mark, as the parser counts).
    base: u64,
    /// Line and column (1-based, in characters) of the byte at `base`.
    line: usize,
    column: usize,
}

impl<R: Read> Tape<R> {
    pub(crate) fn new(source: R) -> Self {
        Tape {
            source,
            buf: vec![0; CHUNK + CARRY].into_boxed_slice(),
            pos: 0,
            checked: 0,
            filled: 0,
            eof: false,
            started: false,
            fault: None,
            error: None,
            kept: Vec::new(),
            base: 0,
            line: 1,
            column: 1,
        }
    }

    /// Reads the next chunk (keeping an incomplete trailing character) and checks it.
    fn refill(&mut self) -> io::Result<()> {
        let carry = self.filled - self.checked;
        self.buf.copy_within(self.checked..self.filled, 0);
        (self.pos, self.checked, self.filled) = (0, 0, carry);
        // One read per refill (the first one reads until the encoding can be told), and
        // always at least one: a carried incomplete character needs the bytes after it.
        while !self.eof && self.filled < self.buf.len() {
            match self.source.read(&mut self.buf[self.filled..]) {
                Ok(0) => self.eof = true,
                Ok(n) => self.filled += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
            if self.started || self.filled >= 4 {
                break;
            }
        }
        if !self.started {
            self.started = true;
            if let Some(e) = foreign_encoding(&self.buf[..self.filled]) {
                self.fault = Some(SdpErrorKind::Encoding(e.into()));
                return Ok(());
            }
            if self.buf[..self.filled].starts_with(b"\xef\xbb\xbf") {
                // HP and Lenovo catalogs carry a byte-order mark; offsets start after it.
                (self.pos, self.checked) = (3, 3);
            }
        }
        let region = &self.buf[self.pos..self.filled];
        let (mut good, mut fault) = match std::str::from_utf8(region) {
            Ok(_) => (region.len(), None),
            // A character split by the chunk boundary: checked with the next chunk.
            Err(e) if e.error_len().is_none() && !self.eof => (e.valid_up_to(), None),
            Err(e) => (e.valid_up_to(), Some(SdpErrorKind::NotUtf8)),
        };
        if let Some(i) = first_non_xml_char(&region[..good]) {
            let c = std::str::from_utf8(&region[i..good])
                .ok()
                .and_then(|s| s.chars().next())
                .map_or(0, u32::from);
            (good, fault) = (i, Some(SdpErrorKind::InvalidChar(c)));
        }
        self.checked = self.pos + good;
        self.fault = fault;
        Ok(())
    }

    /// Forgets the bytes handed out so far: what is kept from here is the next event's, or
    /// package's, XML. Their lines are counted on the way out.
    pub(crate) fn mark(&mut self) {
        advance(&mut self.line, &mut self.column, &self.kept);
        self.base += self.kept.len() as u64;
        self.kept.clear();
    }

    /// The bytes handed out since the last [`mark`](Self::mark).
    pub(crate) fn kept(&self) -> &[u8] {
        &self.kept
    }

    /// The line of the last mark.
    pub(crate) fn marked_line(&self) -> usize {
        self.line
    }

    /// Document offset of the next byte to hand out.
    pub(crate) fn offset(&self) -> u64 {
        self.base + self.kept.len() as u64
    }

    /// The error the tape refused the parser with, if that is why quick-xml failed.
    pub(crate) fn take_error(&mut self) -> Option<SdpError> {
        self.error.take()
    }

    /// `kind` located at document offset `at`: at or after the last mark, and not past the
    /// bytes read so far (an earlier offset is placed at the mark).
    pub(crate) fn error_at(
        &self,
        at: u64,
        package: Option<&UpdateId>,
        kind: SdpErrorKind,
    ) -> SdpError {
        let (mut line, mut column) = (self.line, self.column);
        let want = at.saturating_sub(self.base) as usize;
        let kept = want.min(self.kept.len());
        advance(&mut line, &mut column, &self.kept[..kept]);
        let ahead = (want - kept).min(self.filled - self.pos);
        advance(
            &mut line,
            &mut column,
            &self.buf[self.pos..self.pos + ahead],
        );
        SdpError {
            line,
            column,
            package: package.cloned(),
            kind,
        }
    }
}

impl<R: Read> Read for Tape<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let n = {
            let available = self.fill_buf()?;
            let n = available.len().min(out.len());
            out[..n].copy_from_slice(&available[..n]);
            n
        };
        self.consume(n);
        Ok(n)
    }
}

impl<R: Read> BufRead for Tape<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        loop {
            if self.error.is_some() {
                return Err(refused());
            }
            if self.pos < self.checked {
                break;
            }
            if let Some(kind) = self.fault.take() {
                self.error = Some(self.error_at(self.offset(), None, kind));
                continue;
            }
            if self.eof && self.filled == self.checked {
                break;
            }
            self.refill()?;
        }
        Ok(&self.buf[self.pos..self.checked])
    }

    fn consume(&mut self, n: usize) {
        let n = n.min(self.checked - self.pos);
        self.kept
            .extend_from_slice(&self.buf[self.pos..self.pos + n]);
        self.pos += n;
    }
}

/// What quick-xml sees when the tape refuses to go on; [`Tape::take_error`] says why.
fn refused() -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        "the catalog XML has bytes XML does not allow",
    )
}

/// Moves a (line, column) position over `bytes`: columns count characters, not bytes.
fn advance(line: &mut usize, column: &mut usize, bytes: &[u8]) {
    let chars = |b: &[u8]| b.iter().filter(|&&b| b & 0xc0 != 0x80).count();
    match bytes.iter().rposition(|&b| b == b'\n') {
        Some(last) => {
            *line += newlines(&bytes[..=last]);
            *column = 1 + chars(&bytes[last + 1..]);
        }
        None => *column += chars(bytes),
    }
}

/// The line feeds in `bytes`, summed as bytes within runs of 255 so the compiler counts a
/// whole vector register per step: every byte of a catalog passes here, and the plain
/// `filter().count()` widened each comparison to 64 bits, four bytes a step (5% of ingest).
fn newlines(bytes: &[u8]) -> usize {
    bytes
        .chunks(255)
        .map(|run| usize::from(run.iter().map(|&b| u8::from(b == b'\n')).sum::<u8>()))
        .sum()
}

/// UTF-16 and UTF-32, with or without a byte-order mark, by name.
fn foreign_encoding(start: &[u8]) -> Option<&'static str> {
    match start {
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
    }
}

/// The offset of the first character XML does not allow in valid UTF-8 `bytes`. The only
/// multi-byte characters to refuse are U+FFFE and U+FFFF (`EF BF BE`, `EF BF BF`).
///
/// Eight bytes at a time: a word whose bytes below 0x20 are all tab, line feed or carriage
/// return, and that has no 0xEF (nearly every word of a catalog, line breaks and indentation
/// included), is passed with a few arithmetic operations; only the others are looked at byte
/// by byte. This scan runs over every byte of the catalog, so the per-byte masks are exact
/// (no borrow crosses a byte): an inexact "this byte is a tab" could hide a control
/// character next to one.
fn first_non_xml_char(bytes: &[u8]) -> Option<usize> {
    const LOW7: u64 = 0x7f7f_7f7f_7f7f_7f7f;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    const fn splat(b: u8) -> u64 {
        u64::from_le_bytes([b; 8])
    }
    // Sets exactly the high bit of each zero byte of `w`.
    let zero = |w: u64| !(((w & LOW7).wrapping_add(LOW7)) | w) & HIGHS;
    let mut i = 0;
    while i + 8 <= bytes.len() {
        let mut word = [0u8; 8];
        word.copy_from_slice(&bytes[i..i + 8]);
        let w = u64::from_le_bytes(word);
        // Bytes below 0x20 have none of the bits 0xE0; 0xEF xor 0xEF is zero.
        let low = zero(w & splat(0xe0));
        let allowed = zero(w ^ splat(b'\t')) | zero(w ^ splat(b'\n')) | zero(w ^ splat(b'\r'));
        let ef = zero(w ^ splat(0xef));
        if (low & !allowed) | ef != 0
            && let Some(at) = first_bad_in(bytes, i, i + 8)
        {
            return Some(at);
        }
        i += 8;
    }
    first_bad_in(bytes, i, bytes.len())
}

/// [`first_non_xml_char`] over `bytes[from..to]`, byte by byte (a U+FFFE/U+FFFF starting
/// there may end past `to`).
fn first_bad_in(bytes: &[u8], from: usize, to: usize) -> Option<usize> {
    (from..to).find(|&i| {
        let b = bytes[i];
        (b < 0x20 && !matches!(b, b'\t' | b'\n' | b'\r'))
            || (b == 0xef
                && bytes.get(i + 1) == Some(&0xbf)
                && matches!(bytes.get(i + 2), Some(0xbe | 0xbf)))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reads all of `bytes` through a tape whose source yields `step` bytes per read.
    fn drain(bytes: &[u8], step: usize) -> Result<Vec<u8>, SdpError> {
        struct Trickle<'a>(&'a [u8], usize);
        impl Read for Trickle<'_> {
            fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
                let n = self.0.len().min(self.1).min(out.len());
                out[..n].copy_from_slice(&self.0[..n]);
                self.0 = &self.0[n..];
                Ok(n)
            }
        }
        let mut tape = Tape::new(Trickle(bytes, step));
        let mut out = Vec::new();
        match tape.read_to_end(&mut out) {
            Ok(_) => Ok(out),
            Err(_) => Err(tape.take_error().expect("a refusal says why")),
        }
    }

    #[test]
    fn encodings_are_named() {
        let utf16: Vec<u8> = "<?xml version=\"1.0\"?><a/>"
            .encode_utf16()
            .flat_map(u16::to_le_bytes)
            .collect();
        let e = drain(&utf16, 64).unwrap_err();
        assert_eq!(
            e.kind,
            SdpErrorKind::Encoding("UTF-16LE (no byte-order mark)".into())
        );
        let mut bom = vec![0xff, 0xfe];
        bom.extend_from_slice(&utf16);
        let e = drain(&bom, 1).unwrap_err();
        assert!(e.to_string().contains("UTF-16LE (byte-order mark FF FE)"));
        let be: Vec<u8> = "<a/>".encode_utf16().flat_map(u16::to_be_bytes).collect();
        assert!(drain(&be, 3).unwrap_err().to_string().contains("UTF-16BE"));
        assert_eq!(drain(b"\xef\xbb\xbf<a/>", 1).unwrap(), b"<a/>");
        let e = drain(b"<a>\n\xff</a>", 2).unwrap_err();
        assert_eq!((e.line, e.column, e.kind), (2, 1, SdpErrorKind::NotUtf8));
    }

    #[test]
    fn characters_split_across_reads_pass_and_bad_ones_are_located() {
        let doc = "<a>\t\r\n\u{7f}\u{fffd}\u{10000}é</a>";
        for step in [1, 2, 3, 5, 64] {
            assert_eq!(drain(doc.as_bytes(), step).unwrap(), doc.as_bytes());
        }
        let e = drain("<a>\n  é\u{0}</a>".as_bytes(), 1).unwrap_err();
        assert_eq!(
            (e.line, e.column, e.kind),
            (2, 4, SdpErrorKind::InvalidChar(0))
        );
        let e = drain("<a b=\"\u{1b}\"/>".as_bytes(), 4).unwrap_err();
        assert_eq!(
            (e.line, e.column, e.kind),
            (1, 7, SdpErrorKind::InvalidChar(0x1b))
        );
        let e = drain("<a>\u{ffff}</a>".as_bytes(), 2).unwrap_err();
        assert_eq!(e.kind, SdpErrorKind::InvalidChar(0xffff));
        let e = drain(b"<a>\xe2\x82", 1).unwrap_err();
        assert_eq!(e.kind, SdpErrorKind::NotUtf8, "a character cut by the end");
    }

    #[test]
    fn the_word_scan_finds_what_the_byte_scan_finds() {
        let bytes_scan = |b: &[u8]| first_bad_in(b, 0, b.len());
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        for round in 0..20_000 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let len = (seed % 40) as usize;
            // Mostly text, with line ends, controls, 0xEF sequences and high bytes mixed in.
            let pool: &[u8] = b"abc <>\n\r\t\x00\x08\x0b\x0c\x0e\x1f\x20\xef\xbf\xbe\xbd\x80\xff";
            let doc: Vec<u8> = (0..len)
                .map(|k| pool[((seed >> (k % 60)) as usize + k * 7) % pool.len()])
                .collect();
            assert_eq!(
                first_non_xml_char(&doc),
                bytes_scan(&doc),
                "round {round}: {doc:?}"
            );
        }
        assert_eq!(
            first_non_xml_char(b"0123456\xef\xbf\xbf"),
            Some(7),
            "across words"
        );
        assert_eq!(first_non_xml_char(b"01234567\n\t\r abc"), None);
        // Every byte below 0x20 at every place of a word of allowed line ends and tabs:
        // only tab, line feed and carriage return pass, wherever their neighbours are.
        for c in 0u8..0x20 {
            for at in 0..16 {
                let mut doc = b"\n\t\r\n\t\r\n\ta\n\t\r\n\t\r\n".to_vec();
                doc[at] = c;
                let want = (!matches!(c, b'\t' | b'\n' | b'\r')).then_some(at);
                assert_eq!(first_non_xml_char(&doc), want, "{c:#04x} at {at}");
            }
        }
    }

    #[test]
    fn newlines_are_counted_across_runs_of_any_length() {
        for len in [0, 1, 254, 255, 256, 511, 1000] {
            let bytes: Vec<u8> = (0..len)
                .map(|i| if i % 3 == 0 { b'\n' } else { b'a' })
                .collect();
            let want = bytes.iter().filter(|&&b| b == b'\n').count();
            assert_eq!(newlines(&bytes), want, "{len} bytes");
            let all = vec![b'\n'; len];
            assert_eq!(newlines(&all), len, "{len} line feeds");
        }
    }

    #[test]
    fn a_mark_forgets_what_was_read_but_not_its_lines() {
        let mut tape = Tape::new("<a>\n<b>é</b>\n<c/>".as_bytes());
        let mut first = [0u8; 4];
        tape.read_exact(&mut first).unwrap();
        tape.mark();
        assert_eq!((tape.marked_line(), tape.offset()), (2, 4));
        let mut next = [0u8; 10];
        tape.read_exact(&mut next).unwrap();
        assert_eq!(tape.kept(), "<b>é</b>\n".as_bytes());
        let e = tape.error_at(7, None, SdpErrorKind::NoRoot);
        assert_eq!((e.line, e.column), (2, 4));
        let e = tape.error_at(tape.offset() + 2, None, SdpErrorKind::NoRoot);
        assert_eq!((e.line, e.column), (3, 3), "ahead of what was handed out");
    }
}
