//! One sequential pass over each folder's CFDATA blocks, delivering wanted members.
//!
//! Before anything is decompressed, the directory tells how far each folder must be
//! decoded (to the end of its last wanted member) and that total is checked against
//! [`Limits::max_total`]: a cabinet that claims too much is refused without inflating a
//! byte. Wanted members are merged into spans of contiguous bytes; each span is filled once
//! and its members delivered as ranges of it, so overlapping entries cost their bytes once.
//! Reading, checking and decoding the blocks themselves is `blocks.rs`, which
//! [`MemberReader`](crate::MemberReader) shares.

use std::sync::Arc;

use super::blocks::{Budget, FolderBlocks, bounds, past_end};
use super::header::Cabinet;
use super::{CabEntry, CabError, ExtractStats, Limits, MemberData, Visitor};

/// Wanted bytes of one folder that touch or overlap: filled as the folder streams, then
/// handed out to the members inside it.
struct Span<'c> {
    start: u64,
    end: u64,
    /// The members inside, sorted by offset.
    members: Vec<&'c CabEntry>,
    buf: Vec<u8>,
}

/// Wanted members of a folder (sorted by offset) merged into spans.
fn spans<'c>(wanted: &[&'c CabEntry]) -> Vec<Span<'c>> {
    let mut out: Vec<Span> = Vec::new();
    for &e in wanted {
        let (start, end) = bounds(e);
        match out.last_mut() {
            Some(s) if start <= s.end => {
                s.end = s.end.max(end);
                s.members.push(e);
            }
            _ => out.push(Span {
                start,
                end,
                members: vec![e],
                buf: Vec::new(),
            }),
        }
    }
    out
}

impl Cabinet<'_> {
    /// Streams every folder once, asking `visitor` which members it wants and handing it
    /// their bytes. A folder is decompressed only up to the end of its last wanted member.
    /// Only [`Cabinet::entries`] are offered: on a filtered cabinet the entries left out are
    /// never asked about, as if unwanted, and every figure checked against `limits` is
    /// computed from the wanted ones alone, so it is the one the whole cabinet would check.
    pub fn extract(
        &self,
        limits: &Limits,
        visitor: &mut dyn Visitor,
    ) -> Result<ExtractStats, CabError> {
        let mut folders = Vec::new();
        let mut needed = 0u64;
        for folder in 0..self.folders().len() {
            let mut wanted = Vec::new();
            for e in self
                .entries()
                .iter()
                .filter(|e| usize::from(e.folder) == folder)
            {
                if visitor.wants(e) {
                    if u64::from(e.size) > limits.max_file {
                        return Err(CabError::FileTooLarge {
                            name: e.path.to_string(),
                            size: e.size.into(),
                            limit: limits.max_file,
                        });
                    }
                    wanted.push(e);
                }
            }
            if !wanted.is_empty() {
                wanted.sort_by_key(|e| e.folder_offset);
                needed += wanted.iter().map(|e| bounds(e).1).max().unwrap_or(0);
                folders.push((folder, wanted));
            }
        }
        if needed > limits.max_total {
            return Err(CabError::TooLarge {
                needed,
                limit: limits.max_total,
            });
        }
        let mut budget = Budget::new(limits);
        for (folder, wanted) in folders {
            self.stream_folder(folder, &wanted, &mut budget, visitor)?;
        }
        Ok(budget.stats)
    }

    fn stream_folder(
        &self,
        index: usize,
        wanted: &[&CabEntry],
        budget: &mut Budget,
        visitor: &mut dyn Visitor,
    ) -> Result<(), CabError> {
        let mut blocks = FolderBlocks::new(self, index)?;
        let needed_end = wanted.iter().map(|e| bounds(e).1).max().unwrap_or(0);
        let mut spans = spans(wanted);
        // The first span not yet delivered; spans before it are complete.
        let mut next = 0usize;
        loop {
            deliver_finished(&mut spans, &mut next, blocks.pos(), budget, visitor);
            if blocks.pos() >= needed_end {
                break;
            }
            let Some(block) = blocks.next_block(budget, needed_end)? else {
                break;
            };
            let block_end = block.start + block.bytes.len() as u64;
            for s in spans[next..].iter_mut().take_while(|s| s.start < block_end) {
                let part = block.clip(s.start, s.end);
                if !part.is_empty() {
                    if s.buf.capacity() == 0 {
                        // Bounded: the span lies within `needed_end`, checked against
                        // `max_total` before anything was decoded.
                        s.buf.reserve_exact((s.end - s.start) as usize);
                    }
                    s.buf.extend_from_slice(part);
                }
            }
        }
        if let Some(s) = spans.get(next) {
            let held = blocks.pos();
            // Name the first member the folder falls short of.
            let short = s.members.iter().find(|e| bounds(e).1 > held);
            if let Some(e) = short.or(s.members.first()) {
                return Err(past_end(e, index, held));
            }
        }
        Ok(())
    }
}

/// Hands over, in folder order, the members of every span whose last byte has been decoded.
fn deliver_finished(
    spans: &mut [Span],
    next: &mut usize,
    pos: u64,
    budget: &mut Budget,
    visitor: &mut dyn Visitor,
) {
    while let Some(s) = spans.get_mut(*next).filter(|s| s.end <= pos) {
        let buf = Arc::new(std::mem::take(&mut s.buf));
        for e in &s.members {
            let (start, end) = bounds(e);
            let range = (start - s.start) as usize..(end - s.start) as usize;
            budget.stats.delivered_files += 1;
            budget.stats.delivered_bytes += u64::from(e.size);
            visitor.file(e, MemberData::new(buf.clone(), range));
        }
        *next += 1;
    }
}
