//! The one walk over a folder's CFDATA blocks, shared by [`Cabinet::extract`] and
//! [`MemberReader`](crate::MemberReader).
//!
//! Both read a folder the same way: each block's header and payload bounds-checked, its
//! checksum verified, its output charged to the [`Limits`] budget *before* it is inflated,
//! then decoded with state carried from the previous block. Keeping that in one place means
//! a check added for one reader cannot be missing from the other. Over a file, the blocks
//! are read through one window (`source.rs`), which holds about one block.

use super::checksum;
use super::decompress::Decoder;
use super::header::Cabinet;
use super::source::Bytes;
use super::{CabEntry, CabError, ExtractStats, Limits};

/// Where a member lies in its folder's uncompressed stream, as `start..end`. Both are sums
/// of `u32`s, so they cannot overflow a `u64` whatever the directory claims.
pub(crate) fn bounds(e: &CabEntry) -> (u64, u64) {
    let start = u64::from(e.folder_offset);
    (start, start + u64::from(e.size))
}

/// The error for a member that its folder's blocks end before: `held` is how many bytes
/// the folder decoded to. Worded the same for both readers, so a caller sees one message
/// for one defect.
pub(crate) fn past_end(e: &CabEntry, folder: usize, held: u64) -> CabError {
    let (start, end) = bounds(e);
    CabError::Truncated(if start > held {
        format!(
            "member `{}` starts at {start} but folder {folder} holds {held} bytes",
            e.path
        )
    } else {
        format!(
            "member `{}` ends at {end} but folder {folder} holds {held} bytes",
            e.path
        )
    })
}

/// Running totals checked against [`Limits`]. Owns a copy of the limits (two integers) so a
/// [`MemberReader`](crate::MemberReader) need not borrow the caller's.
pub(crate) struct Budget {
    limits: Limits,
    pub(crate) stats: ExtractStats,
    spent: u64,
}

impl Budget {
    pub(crate) fn new(limits: &Limits) -> Self {
        Self {
            limits: *limits,
            stats: ExtractStats::default(),
            spent: 0,
        }
    }

    fn spend(&mut self, n: u64) -> Result<(), CabError> {
        self.spent = self.spent.saturating_add(n);
        if self.spent > self.limits.max_total {
            return Err(CabError::TooLarge {
                needed: self.spent,
                limit: self.limits.max_total,
            });
        }
        Ok(())
    }
}

/// One decoded block: its bytes and where they start in the folder's uncompressed stream.
pub(crate) struct Block<'s> {
    pub(crate) start: u64,
    pub(crate) bytes: &'s [u8],
}

impl Block<'_> {
    /// The part of this block inside `start..end` of the folder's stream (possibly empty).
    /// Never panics: the range is clamped to the block before slicing.
    pub(crate) fn clip(&self, start: u64, end: u64) -> &[u8] {
        let len = self.bytes.len() as u64;
        let from = start.saturating_sub(self.start).min(len);
        let to = end.saturating_sub(self.start).min(len).max(from);
        self.bytes
            .get(from as usize..to as usize)
            .unwrap_or_default()
    }
}

/// A folder's CFDATA blocks, decoded one at a time in order. Not an [`Iterator`]: each
/// block borrows the decoder's output buffer, which the next block overwrites.
pub(crate) struct FolderBlocks<'a> {
    r: Bytes<'a>,
    reserve: usize,
    folder: usize,
    count: usize,
    /// Blocks decoded so far, i.e. the index of the next one (for error messages).
    block: usize,
    /// Uncompressed bytes decoded so far.
    pos: u64,
    decoder: Decoder,
}

impl<'a> FolderBlocks<'a> {
    /// Positions at the folder's first block. Fails for a folder index the directory does
    /// not have (an entry from another cabinet) and for Quantum.
    pub(crate) fn new(cab: &Cabinet<'a>, folder: usize) -> Result<Self, CabError> {
        let f = cab.folders().get(folder).ok_or_else(|| {
            CabError::Malformed(format!(
                "folder {folder} does not exist (the cabinet has {})",
                cab.folders().len()
            ))
        })?;
        Ok(Self {
            r: Bytes::new(cab.source, cab.cabinet_len(), f.data_offset as usize),
            reserve: cab.data_reserve,
            folder,
            count: usize::from(f.block_count),
            block: 0,
            pos: 0,
            decoder: Decoder::new(f.compression).map_err(CabError::Unsupported)?,
        })
    }

    /// Uncompressed bytes decoded so far: where the next block starts.
    pub(crate) fn pos(&self) -> u64 {
        self.pos
    }

    /// The folder index, for error messages.
    pub(crate) fn folder(&self) -> usize {
        self.folder
    }

    /// Bytes the file window holds memory for (0 over a slice).
    #[cfg(test)]
    pub(crate) fn window_len(&self) -> usize {
        self.r.window_len()
    }

    /// Reads, verifies and decodes the next block; `None` once the folder's `cCFData`
    /// blocks are used up. Only output before `stop` is charged to `budget` (the caller
    /// needs nothing past it, though the last block may run on), and it is charged before
    /// inflating, so a refused block costs no decompression.
    pub(crate) fn next_block(
        &mut self,
        budget: &mut Budget,
        stop: u64,
    ) -> Result<Option<Block<'_>>, CabError> {
        if self.block >= self.count {
            return Ok(None);
        }
        let (folder, block) = (self.folder, self.block);
        let csum = self.r.u32("CFDATA.csum")?;
        let cb_data = self.r.u16("CFDATA.cbData")?;
        let cb_uncomp = self.r.u16("CFDATA.cbUncomp")?;
        let (reserve, input) = self.r.take2(
            (self.reserve, "CFDATA.abReserve"),
            (usize::from(cb_data), "CFDATA data"),
        )?;
        if csum != 0 && checksum::data_block(reserve, input, cb_data, cb_uncomp) != csum {
            return Err(CabError::Checksum { folder, block });
        }
        if cb_uncomp == 0 {
            return Err(CabError::Unsupported(
                "data block continued in another cabinet (multi-cabinet sets)".into(),
            ));
        }
        let start = self.pos;
        budget.spend(stop.min(start + u64::from(cb_uncomp)).saturating_sub(start))?;
        let bytes = self
            .decoder
            .block(input, usize::from(cb_uncomp))
            .map_err(|reason| CabError::Corrupt {
                folder,
                block,
                reason,
            })?;
        self.pos += bytes.len() as u64;
        self.block += 1;
        budget.stats.blocks += 1;
        budget.stats.decompressed_bytes += bytes.len() as u64;
        Ok(Some(Block { start, bytes }))
    }
}
