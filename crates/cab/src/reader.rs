//! [`MemberReader`]: one member as an [`io::Read`] stream.
//!
//! [`Cabinet::extract`] hands a member over whole, which is right for thousands of small
//! `.sdp` files but not for a catalog XML of hundreds of MB: holding it would make a
//! process's memory follow the vendor's catalog size. The reader decodes the member's
//! folder block by block instead, keeping only the member's part of the current block.

use std::fmt;
use std::io::{self, Read};

use super::blocks::{Budget, FolderBlocks, bounds, past_end};
use super::header::Cabinet;
use super::{CabEntry, CabError, Limits};

/// Streams one member's bytes, in order, then EOF. Built by [`Cabinet::member_reader`].
///
/// Holds one decoded block (at most 64 KiB, 32 KiB for MSZIP and LZX) and the folder's
/// decoder state (and, over a file, a window of about one compressed block), never the
/// member or the folder. Bad input surfaces as an [`io::ErrorKind::InvalidData`] error
/// wrapping a [`CabError`] ([`CabError::from_io`] gets it back), a file that cannot be read
/// as [`io::ErrorKind::Other`] wrapping [`CabError::Io`]; the reader then stays failed, so a caller that retries sees the same
/// error instead of bytes decoded from a state the failure left undefined.
pub struct MemberReader<'a> {
    entry: CabEntry,
    start: u64,
    end: u64,
    blocks: FolderBlocks<'a>,
    budget: Budget,
    /// The member's part of the last decoded block; `buf[cursor..]` is not yet read.
    buf: Vec<u8>,
    cursor: usize,
    failed: Option<CabError>,
}

impl<'a> Cabinet<'a> {
    /// Reads one member's bytes in order, decoding its folder block by block: memory is
    /// O(one CFDATA block), never the member's size.
    ///
    /// The checks are those of [`Cabinet::extract`]: `max_file`, and `max_total` against the
    /// member's end in its folder, are checked here, before anything is decoded; every byte
    /// decoded, including those skipped before the member starts, also counts against
    /// `max_total` as it is decoded (the budget belongs to this reader alone). The reader
    /// borrows the cabinet's bytes or file, not the `Cabinet`.
    pub fn member_reader(
        &self,
        entry: &CabEntry,
        limits: &Limits,
    ) -> Result<MemberReader<'a>, CabError> {
        if u64::from(entry.size) > limits.max_file {
            return Err(CabError::FileTooLarge {
                name: entry.path.to_string(),
                size: entry.size.into(),
                limit: limits.max_file,
            });
        }
        let (start, end) = bounds(entry);
        // As `extract` does: a member that claims more than the budget is refused before a
        // byte is inflated (its folder must be decoded up to the member's end).
        if end > limits.max_total {
            return Err(CabError::TooLarge {
                needed: end,
                limit: limits.max_total,
            });
        }
        Ok(MemberReader {
            entry: entry.clone(),
            start,
            end,
            blocks: FolderBlocks::new(self, usize::from(entry.folder))?,
            budget: Budget::new(limits),
            buf: Vec::new(),
            cursor: 0,
            failed: None,
        })
    }
}

impl MemberReader<'_> {
    /// Bytes the file window holds memory for (0 over a slice).
    #[cfg(test)]
    pub(crate) fn window_len(&self) -> usize {
        self.blocks.window_len()
    }

    /// Decodes the next block and keeps the member's part of it (nothing, for a block
    /// wholly before the member: skipped output is never stored).
    fn fill(&mut self) -> Result<(), CabError> {
        self.buf.clear();
        self.cursor = 0;
        match self.blocks.next_block(&mut self.budget, self.end)? {
            Some(block) => {
                // Sized to a whole block once, not grown by doubling from the first
                // (partial) one: the buffer is most of what the reader itself holds.
                self.buf.reserve_exact(block.bytes.len());
                self.buf.extend_from_slice(block.clip(self.start, self.end));
                Ok(())
            }
            None => Err(past_end(
                &self.entry,
                self.blocks.folder(),
                self.blocks.pos(),
            )),
        }
    }
}

impl Read for MemberReader<'_> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if let Some(e) = &self.failed {
            return Err(e.clone().into());
        }
        if out.is_empty() {
            return Ok(0);
        }
        // A block may hold none of the member (it lies before it): keep decoding until one
        // does, or the member's end is reached (EOF). Each pass consumes a block, so this
        // ends within `cCFData` passes.
        while self.cursor >= self.buf.len() && self.blocks.pos() < self.end {
            if let Err(e) = self.fill() {
                self.buf = Vec::new();
                self.failed = Some(e.clone());
                return Err(e.into());
            }
        }
        let rest = self.buf.get(self.cursor..).unwrap_or_default();
        let n = rest.len().min(out.len());
        out[..n].copy_from_slice(&rest[..n]);
        self.cursor += n;
        Ok(n)
    }
}

impl fmt::Debug for MemberReader<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemberReader")
            .field("member", &self.entry.path.to_string())
            .field("size", &self.entry.size)
            .field("decoded", &self.blocks.pos())
            .field("failed", &self.failed)
            .finish_non_exhaustive()
    }
}

impl CabError {
    /// The [`CabError`] inside an [`io::Error`] from a [`MemberReader`], so a caller that
    /// read through `io` adapters (`BufReader`, `io::copy`) can still tell a checksum
    /// mismatch from a limit. `None` for any other I/O error.
    pub fn from_io(err: &io::Error) -> Option<CabError> {
        err.get_ref()?.downcast_ref::<CabError>().cloned()
    }
}

/// [`io::ErrorKind::InvalidData`] for a defect of the input; [`io::ErrorKind::Other`] for
/// [`CabError::Io`], a file that could not be read, which says nothing of its bytes.
impl From<CabError> for io::Error {
    fn from(e: CabError) -> Self {
        let kind = match e {
            CabError::Io(_) => io::ErrorKind::Other,
            _ => io::ErrorKind::InvalidData,
        };
        io::Error::new(kind, e)
    }
}
