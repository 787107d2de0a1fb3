//! One sequential pass over each folder's CFDATA blocks, delivering wanted members.
//!
//! Before anything is decompressed, the directory tells how far each folder must be
//! decoded (to the end of its last wanted member) and that total is checked against
//! [`Limits::max_total`]: a cabinet that claims too much is refused without inflating a
//! byte. Wanted members are merged into spans of contiguous bytes; each span is filled once
//! and its members delivered as ranges of it, so overlapping entries cost their bytes once.

use std::sync::Arc;

use super::checksum;
use super::decompress::Decoder;
use super::header::{Bytes, Cabinet};
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

fn bounds(e: &CabEntry) -> (u64, u64) {
    let start = u64::from(e.folder_offset);
    (start, start + u64::from(e.size))
}

/// Running totals checked against [`Limits`].
struct Budget<'l> {
    limits: &'l Limits,
    stats: ExtractStats,
    spent: u64,
}

impl Budget<'_> {
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

impl Cabinet<'_> {
    /// Streams every folder once, asking `visitor` which members it wants and handing it
    /// their bytes. A folder is decompressed only up to the end of its last wanted member.
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
        let mut budget = Budget {
            limits,
            stats: ExtractStats::default(),
            spent: 0,
        };
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
        let folder = &self.folders()[index];
        let mut decoder = Decoder::new(folder.compression).map_err(CabError::Unsupported)?;
        let needed_end = wanted.iter().map(|e| bounds(e).1).max().unwrap_or(0);
        let mut spans = spans(wanted);
        // The first span not yet delivered; spans before it are complete.
        let mut next = 0usize;
        let mut pos = 0u64;
        let mut r = Bytes {
            data: self.data,
            pos: folder.data_offset as usize,
        };
        let mut block = 0usize;
        loop {
            deliver_finished(&mut spans, &mut next, pos, budget, visitor);
            if pos >= needed_end || block >= usize::from(folder.block_count) {
                break;
            }
            let csum = r.u32("CFDATA.csum")?;
            let cb_data = r.u16("CFDATA.cbData")?;
            let cb_uncomp = r.u16("CFDATA.cbUncomp")?;
            let reserve = r.take(self.data_reserve, "CFDATA.abReserve")?;
            let input = r.take(usize::from(cb_data), "CFDATA data")?;
            if csum != 0 && checksum::data_block(reserve, input, cb_data, cb_uncomp) != csum {
                return Err(CabError::Checksum {
                    folder: index,
                    block,
                });
            }
            if cb_uncomp == 0 {
                return Err(CabError::Unsupported(
                    "data block continued in another cabinet (multi-cabinet sets)".into(),
                ));
            }
            // Only what the directory said is needed counts: the last block may run past it.
            budget.spend(needed_end.min(pos + u64::from(cb_uncomp)) - pos)?;
            let out = decoder
                .block(input, usize::from(cb_uncomp))
                .map_err(|reason| CabError::Corrupt {
                    folder: index,
                    block,
                    reason,
                })?;
            budget.stats.blocks += 1;
            budget.stats.decompressed_bytes += out.len() as u64;
            let block_end = pos + out.len() as u64;
            for s in spans[next..].iter_mut().take_while(|s| s.start < block_end) {
                let from = s.start.max(pos);
                let to = s.end.min(block_end);
                if from < to {
                    if s.buf.capacity() == 0 {
                        // Bounded: the span lies within `needed_end`, checked above.
                        s.buf.reserve_exact((s.end - s.start) as usize);
                    }
                    s.buf
                        .extend_from_slice(&out[(from - pos) as usize..(to - pos) as usize]);
                }
            }
            pos = block_end;
            block += 1;
        }
        if let Some(s) = spans.get(next) {
            let e = s
                .members
                .iter()
                .find(|e| bounds(e).1 > pos)
                .unwrap_or(&s.members[0]);
            let (start, end) = bounds(e);
            return Err(CabError::Truncated(if start > pos {
                format!(
                    "member `{}` starts at {start} but folder {index} holds {pos} bytes",
                    e.path
                )
            } else {
                format!(
                    "member `{}` ends at {end} but folder {index} holds {pos} bytes",
                    e.path
                )
            }));
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
