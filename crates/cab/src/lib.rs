//! supctl's own cabinet (CAB) reader: a leaf crate that imports nothing from supctl.
//!
//! Why not the `cab` crate at run time: it re-decompresses a folder from its first block on
//! every `read_file` (quadratic on catalogs with thousands of members) and panics on some
//! malformed input. This reader parses the directory with every offset bounds-checked, then
//! streams each folder's CFDATA blocks once, in order, handing wanted members to a
//! [`Visitor`] and dropping the rest (e.g. `V2/`) without copying them.
//! The bytes come from a slice ([`Cabinet::parse`]) or from a file ([`Cabinet::open`]), read
//! with positional reads through a 64 KiB window so a catalog of hundreds of MB is never
//! held whole; both give the same results and the same errors.
//! Directory entries may claim overlapping bytes; those bytes are decompressed, counted and
//! held once, and the members share them ([`MemberData`]), so a small cabinet whose entries
//! all point at the same data cannot multiply its memory.
//! A member too big to hold (a vendor's catalog XML runs to hundreds of MB) is read instead
//! through [`Cabinet::member_reader`]: a [`MemberReader`] is an `io::Read` that decodes the
//! folder block by block, so memory stays at one CFDATA block plus the decoder's state
//! whatever the member's size. Both paths walk the blocks through one shared loop, with the
//! same checksums, limits and errors.
//! A caller that needs a few members of a directory of tens of thousands keeps only those as
//! it is parsed ([`Cabinet::parse_filtered`], [`Cabinet::open_filtered`]); every entry is
//! still checked.
//! The Authenticode signature appended after `cbCabinet` is never read here; verify it
//! (`supctl-authenticode`, through supctl's `trust`) before extracting anything.

mod blocks;
mod checksum;
mod decompress;
mod header;
mod path;
mod reader;
mod source;
mod stream;

use std::ops::{Deref, Range};
use std::sync::Arc;

pub use header::{CabEntry, Cabinet, Compression, Folder};
pub use path::{CabPath, PathError};
pub use reader::MemberReader;

/// Why a cabinet could not be read. Every variant but [`CabError::Io`] is an input problem,
/// and none is a bug.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CabError {
    #[error("not a cabinet (no `MSCF` signature)")]
    NotCabinet,
    #[error("truncated cabinet: {0}")]
    Truncated(String),
    #[error("malformed cabinet: {0}")]
    Malformed(String),
    #[error("unsupported cabinet feature: {0}")]
    Unsupported(String),
    #[error("unsafe member name `{name}`: {reason}")]
    UnsafePath { name: String, reason: PathError },
    #[error("checksum mismatch in data block {block} of folder {folder}")]
    Checksum { folder: usize, block: usize },
    #[error("corrupt compressed data in block {block} of folder {folder}: {reason}")]
    Corrupt {
        folder: usize,
        block: usize,
        reason: String,
    },
    /// The cabinet file could not be read (not that it is short: that is `Truncated`). The
    /// message names the offset and the OS error.
    #[error("{0}")]
    Io(String),
    #[error("member `{name}` is {size} bytes, over the per-file limit of {limit}")]
    FileTooLarge { name: String, size: u64, limit: u64 },
    #[error(
        "the members to read inflate to {needed} bytes (each byte counted once), over the limit of {limit}"
    )]
    TooLarge { needed: u64, limit: u64 },
}

/// Bounds on what extraction may produce: the HP catalog XML compresses about 20x, so a
/// hostile cabinet of a few MB could otherwise claim gigabytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Total bytes decompressed, wanted or skipped, each counted once: checked against the
    /// directory before anything is decompressed. What is held for the visitor is a part
    /// of it. A [`MemberReader`] holds nothing, so it counts its own bytes as it decodes
    /// them and fails on the read that would pass the limit.
    pub max_total: u64,
    /// Largest single member that may be handed to the visitor or read through a
    /// [`MemberReader`].
    pub max_file: u64,
}

impl Default for Limits {
    /// 1 GiB total, 512 MiB per member: roughly 20x the largest real catalog (Lenovo, ~51 MB).
    fn default() -> Self {
        Self {
            max_total: 1 << 30,
            max_file: 512 << 20,
        }
    }
}

/// Chooses members while a cabinet streams, and receives their bytes.
pub trait Visitor {
    /// Whether the bytes of `entry` are needed. Unwanted members are decompressed only if a
    /// wanted one follows them in the same folder, and never copied.
    fn wants(&mut self, entry: &CabEntry) -> bool;
    /// Receives a wanted member, in folder order.
    fn file(&mut self, entry: &CabEntry, data: MemberData);
}

/// A member's bytes: a range of a buffer shared with the wanted members it overlaps.
#[derive(Debug, Clone)]
pub struct MemberData {
    buf: Arc<Vec<u8>>,
    range: Range<usize>,
}

impl MemberData {
    pub(crate) fn new(buf: Arc<Vec<u8>>, range: Range<usize>) -> Self {
        Self { buf, range }
    }
}

impl Deref for MemberData {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.buf[self.range.clone()]
    }
}

/// Collects every member, each in a copy of its own: convenient for tests and small
/// cabinets.
#[derive(Debug, Default)]
pub struct CollectAll {
    pub files: Vec<(CabEntry, Vec<u8>)>,
}

impl Visitor for CollectAll {
    fn wants(&mut self, _: &CabEntry) -> bool {
        true
    }
    fn file(&mut self, entry: &CabEntry, data: MemberData) {
        self.files.push((entry.clone(), data.to_vec()));
    }
}

/// What an extraction cost, for logs and benchmarks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ExtractStats {
    pub blocks: u64,
    pub decompressed_bytes: u64,
    pub delivered_files: u64,
    pub delivered_bytes: u64,
}

/// Parses `data` and extracts every member into memory.
pub fn extract_all(data: &[u8], limits: &Limits) -> Result<Vec<(CabEntry, Vec<u8>)>, CabError> {
    let cab = Cabinet::parse(data)?;
    let mut all = CollectAll::default();
    cab.extract(limits, &mut all)?;
    Ok(all.files)
}

#[cfg(test)]
mod reader_tests;
#[cfg(test)]
mod source_tests;
#[cfg(test)]
mod tests;
