//! PE (.exe/.dll/.efi) Authenticode: the header layout, the image digest and the attribute
//! certificate table, shared by the in-memory path ([`super::verify_pe`]) and the streaming one
//! ([`super::StreamingVerifier`]) so that both reach the same verdict on every input.
//!
//! Everything the Microsoft algorithm needs (authenticode.md §3) is known from the headers
//! alone: the CheckSum field, the certificate-table directory entry, SizeOfHeaders, the section
//! table and the certificate table's offset and size. [`PeLayout::parse`] reads exactly those,
//! so a streaming reader can plan every hashed range before the section data arrives. The
//! ranges are the ones goblin 0.10's `authenticode_ranges()` yields (sections sorted by
//! PointerToRawData, trailing data from SUM_OF_BYTES_HASHED, zero padding to a multiple of 8);
//! `pe_tests` checks the digests against goblin on synthetic and mutated images.
//!
//! Reads are bounds-checked and offsets are `u64`, so a hostile header yields an error, never
//! a panic or an overflow.

use std::ops::Range;

use chrono::{DateTime, Utc};

use super::digest::DigestAlgorithm;
use super::verify::{self, DigestCache};
use super::{AuthenticodeError, SignerReport};

/// The headers (up to the end of the section table) must fit in this many bytes. Real images
/// need a few KiB (the Windows loader allows 96 sections); the bound keeps what a streaming
/// reader buffers before the layout is known small.
pub(crate) const MAX_HEADER_LEN: u64 = 1 << 20;
/// Bound on the attribute certificate table. Each PKCS#7 in it is at most
/// [`verify::MAX_SIGNATURE_LEN`]; real tables hold one or two signatures of 10–30 KB.
pub(crate) const MAX_CERTIFICATE_TABLE_LEN: u64 = 8 << 20;
/// The report reason for an image without a certificate table.
pub(crate) const UNSIGNED_REASON: &str = "the PE image carries no Authenticode signature";

const WIN_CERT_TYPE_PKCS_SIGNED_DATA: u16 = 0x0002;
const SECTION_HEADER_LEN: u64 = 40;

/// True when `data` starts with the DOS magic.
pub(crate) fn is_pe(data: &[u8]) -> bool {
    data.starts_with(b"MZ")
}

fn pe_error(what: impl Into<String>) -> AuthenticodeError {
    AuthenticodeError::Pe(what.into())
}

/// Why [`PeLayout::parse`] did not return a layout.
#[derive(Debug)]
pub(crate) enum HeaderError {
    /// The headers continue past the bytes given: `need` bytes are required to go on. A
    /// streaming reader buffers up to `need` and parses again; at the end of the file this is
    /// the "truncated headers" error ([`HeaderError::into_error`]).
    Short {
        need: u64,
    },
    Bad(AuthenticodeError),
}

impl HeaderError {
    /// The error for a file of `len` bytes that ended while in this state.
    pub(crate) fn into_error(self, len: u64) -> AuthenticodeError {
        match self {
            Self::Short { need } => pe_error(format!(
                "the file ends inside the PE headers ({len} bytes, the headers need {need})"
            )),
            Self::Bad(e) => e,
        }
    }
}

fn bytes_at(buf: &[u8], off: u64, n: u64) -> Result<&[u8], HeaderError> {
    let end = off.saturating_add(n);
    if end > MAX_HEADER_LEN {
        return Err(HeaderError::Bad(pe_error(format!(
            "the PE headers extend past {MAX_HEADER_LEN} bytes (field at {off:#x})"
        ))));
    }
    // `end` <= MAX_HEADER_LEN fits in usize.
    buf.get(off as usize..end as usize)
        .ok_or(HeaderError::Short { need: end })
}

fn u16_at(buf: &[u8], off: u64) -> Result<u16, HeaderError> {
    let b = bytes_at(buf, off, 2)?;
    Ok(u16::from_le_bytes([b[0], b[1]]))
}

fn u32_at(buf: &[u8], off: u64) -> Result<u32, HeaderError> {
    let b = bytes_at(buf, off, 4)?;
    Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}

/// One section header's raw-data placement.
#[derive(Debug, Clone)]
pub(crate) struct Section {
    name: [u8; 8],
    pointer: u64,
    size: u64,
}

impl Section {
    fn name(&self) -> String {
        String::from_utf8_lossy(&self.name)
            .trim_end_matches('\0')
            .to_string()
    }
}

/// What the Authenticode image digest and the signature lookup need from a PE's headers.
#[derive(Debug, Clone)]
pub(crate) struct PeLayout {
    /// File offset of the 4-byte optional-header CheckSum.
    checksum: u64,
    /// File offset of the 8-byte certificate-table data-directory entry (index 4).
    cert_entry: u64,
    size_of_headers: u64,
    /// In section-table order, zero-size sections included (they are skipped when hashing).
    sections: Vec<Section>,
    /// File offset and size of the attribute certificate table; size 0 when there is none.
    cert_table: (u64, u64),
}

impl PeLayout {
    /// Reads the layout from the start of the file (the DOS magic is checked by the caller).
    /// Only the bytes up to the end of the section table are read, so the result depends only
    /// on that prefix and the streaming and the in-memory path agree: given more bytes, a
    /// `Short` becomes the result the whole file gives, never a different error.
    pub(crate) fn parse(buf: &[u8]) -> Result<Self, HeaderError> {
        let pe = u64::from(u32_at(buf, 0x3C)?);
        if bytes_at(buf, pe, 4)? != b"PE\0\0" {
            return Err(HeaderError::Bad(pe_error(format!(
                "no PE signature at e_lfanew {pe:#x}"
            ))));
        }
        let section_count = u64::from(u16_at(buf, pe + 6)?);
        let optional_len = u64::from(u16_at(buf, pe + 20)?);
        let opt = pe + 24;
        // The data directories start at 96 (PE32) or 112 (PE32+); the CheckSum is at 64 and
        // SizeOfHeaders at 60 in both.
        let (directories, rva_count_at) = match u16_at(buf, opt)? {
            0x10B => (96, 92),
            0x20B => (112, 108),
            magic => {
                return Err(HeaderError::Bad(pe_error(format!(
                    "unsupported optional header magic {magic:#x}"
                ))));
            }
        };
        if optional_len < directories {
            return Err(HeaderError::Bad(pe_error(format!(
                "the optional header is {optional_len} bytes, too short for its Windows fields"
            ))));
        }
        let size_of_headers = u64::from(u32_at(buf, opt + 60)?);
        let rva_count = u32_at(buf, opt + rva_count_at)?;
        let cert_entry = opt + directories + 4 * 8;
        let cert_table = if rva_count > 4 && directories + 5 * 8 <= optional_len {
            (
                u64::from(u32_at(buf, cert_entry)?),
                u64::from(u32_at(buf, cert_entry + 4)?),
            )
        } else {
            (0, 0)
        };
        let table_at = opt + optional_len;
        // Ask for the whole section table at once, so that a reader fed byte by byte parses
        // a bounded number of times.
        bytes_at(buf, table_at, section_count * SECTION_HEADER_LEN)?;
        let mut sections = Vec::new();
        for i in 0..section_count {
            let at = table_at + i * SECTION_HEADER_LEN;
            let mut name = [0; 8];
            name.copy_from_slice(bytes_at(buf, at, 8)?);
            sections.push(Section {
                name,
                size: u64::from(u32_at(buf, at + 16)?),
                pointer: u64::from(u32_at(buf, at + 20)?),
            });
        }
        Ok(Self {
            checksum: opt + 64,
            cert_entry,
            size_of_headers,
            sections,
            cert_table,
        })
    }

    /// File offset and size of the attribute certificate table (size 0: none).
    pub(crate) fn certificate_table(&self) -> (u64, u64) {
        self.cert_table
    }

    /// The certificate table's bytes in a file of `len` bytes, `None` when it runs past the end.
    pub(crate) fn certificate_table_in<'d>(&self, data: &'d [u8]) -> Option<&'d [u8]> {
        let (start, size) = self.cert_table;
        data.get(usize::try_from(start).ok()?..usize::try_from(start + size).ok()?)
    }

    fn hashed_sections(&self) -> Vec<&Section> {
        let mut sections: Vec<&Section> = self.sections.iter().filter(|s| s.size != 0).collect();
        // Stable, like goblin's `sort_by_key`: equal pointers keep section-table order.
        sections.sort_by_key(|s| s.pointer);
        sections
    }

    /// The checks the digest needs for a file of `len` bytes, in the order (and with the
    /// messages) of the goblin-based verifier this replaced, so that a layout the ranges cannot
    /// describe is an error and never an out-of-bounds slice.
    pub(crate) fn validate(&self, len: u64) -> Result<(), AuthenticodeError> {
        if self.size_of_headers > len {
            return Err(pe_error(format!(
                "SizeOfHeaders {} exceeds the file length {len}",
                self.size_of_headers
            )));
        }
        if self.checksum + 4 > self.cert_entry || self.cert_entry + 8 > self.size_of_headers {
            return Err(pe_error(
                "the certificate-table directory entry lies outside the headers",
            ));
        }
        let mut sum = self.size_of_headers;
        for s in self.sections.iter().filter(|s| s.size != 0) {
            if s.pointer + s.size > len {
                return Err(pe_error(format!(
                    "section {:?} raw data {}+{} runs past the end of the file",
                    s.name(),
                    s.pointer,
                    s.size
                )));
            }
            sum += s.size;
        }
        let (ct_start, ct_size) = self.cert_table;
        if ct_size != 0 && ct_start + ct_size != len {
            return Err(pe_error(
                "the attribute certificate table is not at the end of the file",
            ));
        }
        if len > sum && ct_size + sum > len {
            return Err(pe_error("sections overlap the attribute certificate table"));
        }
        Ok(())
    }

    /// The hashed byte ranges of a file of `len` bytes, in hashing order: the headers without
    /// the CheckSum and the certificate-table entry, the sections by PointerToRawData, then
    /// the data from SUM_OF_BYTES_HASHED up to the certificate table. Meaningful once
    /// [`Self::validate`] accepted `len`; inverted pieces of an invalid layout are left out.
    pub(crate) fn ranges(&self, len: u64) -> Vec<Range<u64>> {
        let mut out = vec![
            0..self.checksum,
            self.checksum + 4..self.cert_entry,
            self.cert_entry + 8..self.size_of_headers,
        ];
        let mut sum = self.size_of_headers;
        for s in self.hashed_sections() {
            out.push(s.pointer..s.pointer + s.size);
            sum += s.size;
        }
        if len > sum {
            out.push(sum..len.saturating_sub(self.cert_table.1));
        }
        out.retain(|r| r.start < r.end);
        out
    }

    /// The hashing plan for a streaming reader of a signed image: [`Self::ranges`] for the only
    /// length that can verify (the certificate table ends the file). Empty when no length can
    /// (the digest will be refused by [`Self::validate`] anyway); `None` when the ranges are not
    /// in file order (overlapping or out-of-order sections, trailing data before the end of
    /// the last section), which only random access can hash.
    pub(crate) fn stream_plan(&self) -> Option<Vec<Range<u64>>> {
        let (ct_start, ct_size) = self.cert_table;
        let len = ct_start + ct_size;
        if ct_size == 0 || self.validate(len).is_err() {
            return Some(Vec::new());
        }
        let ranges = self.ranges(len);
        let in_order = ranges.windows(2).all(|w| w[0].end <= w[1].start);
        in_order.then_some(ranges)
    }
}

/// Zero bytes appended to the image digest input: the file length padded to a multiple of 8.
pub(crate) fn padding(len: u64) -> &'static [u8] {
    const ZEROS: [u8; 7] = [0; 7];
    &ZEROS[..((8 - len % 8) % 8) as usize]
}

/// The Authenticode image digest of an image held in memory.
pub(crate) fn image_digest(
    layout: &PeLayout,
    data: &[u8],
    alg: DigestAlgorithm,
) -> Result<Vec<u8>, AuthenticodeError> {
    let len = data.len() as u64;
    let mut h = alg.hasher();
    for r in layout.ranges(len) {
        let piece = usize::try_from(r.start)
            .ok()
            .zip(usize::try_from(r.end).ok())
            .and_then(|(s, e)| data.get(s..e))
            .ok_or_else(|| pe_error("inconsistent section layout"))?;
        h.update(piece);
    }
    h.update(padding(len));
    Ok(h.finish())
}

/// The `bCertificate` of every `WIN_CERT_TYPE_PKCS_SIGNED_DATA` entry of the certificate table
/// (each is a complete signature; a PE may carry several). Entries are 8-byte aligned; the
/// revision and type must be known values, as goblin requires.
pub(crate) fn signatures(table: &[u8]) -> Result<Vec<&[u8]>, AuthenticodeError> {
    let mut out = Vec::new();
    let mut off = 0usize;
    while off < table.len() {
        let header = table
            .get(off..off.saturating_add(8))
            .ok_or_else(|| pe_error(format!("truncated WIN_CERTIFICATE header at +{off}")))?;
        let length = u32::from_le_bytes([header[0], header[1], header[2], header[3]]);
        let revision = u16::from_le_bytes([header[4], header[5]]);
        let kind = u16::from_le_bytes([header[6], header[7]]);
        let data_len = length.saturating_sub(8) as usize;
        let data = table
            .get(off + 8..(off + 8).saturating_add(data_len))
            .ok_or_else(|| {
                pe_error(format!(
                    "WIN_CERTIFICATE at +{off} claims {length} bytes, past the end of the table"
                ))
            })?;
        if revision != 0x0100 && revision != 0x0200 {
            return Err(pe_error(format!(
                "WIN_CERTIFICATE at +{off} has revision {revision:#x}"
            )));
        }
        if !(1..=4).contains(&kind) {
            return Err(pe_error(format!(
                "WIN_CERTIFICATE at +{off} has type {kind:#x}"
            )));
        }
        if kind == WIN_CERT_TYPE_PKCS_SIGNED_DATA {
            out.push(data);
        }
        off = (off + 8 + data_len).saturating_add(7) & !7;
    }
    Ok(out)
}

/// Verifies every signature of an image of `len` bytes: the one place that decides a PE
/// verdict, for bytes in memory and for a stream alike. `table` is the certificate table's
/// bytes (`None` when it runs past the end of the file); `digest` computes the image digest
/// and is only called once the layout has passed [`PeLayout::validate`].
pub(crate) fn verify_image(
    layout: &PeLayout,
    len: u64,
    table: Option<&[u8]>,
    digest: &dyn Fn(DigestAlgorithm) -> Result<Vec<u8>, AuthenticodeError>,
    now: DateTime<Utc>,
) -> Result<Option<Vec<SignerReport>>, AuthenticodeError> {
    let (start, size) = layout.certificate_table();
    if size == 0 {
        return Ok(None);
    }
    if size > MAX_CERTIFICATE_TABLE_LEN {
        return Err(pe_error(format!(
            "the attribute certificate table is {size} bytes, over the {MAX_CERTIFICATE_TABLE_LEN} byte limit"
        )));
    }
    let table = table.ok_or_else(|| {
        pe_error(format!(
            "the attribute certificate table {start:#x}+{size} runs past the end of the file ({len} bytes)"
        ))
    })?;
    let blobs = signatures(table)?;
    if blobs.is_empty() {
        return Err(pe_error(
            "the attribute certificate table holds no PKCS#7 signature",
        ));
    }
    let compute = |alg| {
        layout.validate(len)?;
        digest(alg)
    };
    let mut digests = DigestCache::new(&compute);
    let mut signers = Vec::new();
    for blob in blobs {
        signers.extend(verify::verify_blob(blob, &mut digests, now)?);
    }
    Ok(Some(signers))
}

/// The in-memory PE path: everything is at hand, so the digest is computed on demand.
pub(crate) fn verify_pe_bytes(
    data: &[u8],
    now: DateTime<Utc>,
) -> Result<Option<Vec<SignerReport>>, AuthenticodeError> {
    if !is_pe(data) {
        return Err(AuthenticodeError::NotContainer("PE (MZ)"));
    }
    let len = data.len() as u64;
    let layout = PeLayout::parse(data).map_err(|e| e.into_error(len))?;
    let table = layout.certificate_table_in(data);
    verify_image(
        &layout,
        len,
        table,
        &|alg| image_digest(&layout, data, alg),
        now,
    )
}
