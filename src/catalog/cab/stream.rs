//! One sequential pass over each folder's CFDATA blocks, delivering wanted members.

use super::checksum;
use super::decompress::Decoder;
use super::header::{Bytes, Cabinet};
use super::{CabEntry, CabError, ExtractStats, Limits, Visitor};

/// A wanted member being filled while its folder streams.
struct Pending<'c> {
    entry: &'c CabEntry,
    start: u64,
    end: u64,
    buf: Vec<u8>,
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
        let mut budget = Budget {
            limits,
            stats: ExtractStats::default(),
            spent: 0,
        };
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
                self.stream_folder(folder, &wanted, &mut budget, visitor)?;
            }
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
        let needed_end = wanted
            .iter()
            .map(|e| u64::from(e.folder_offset) + u64::from(e.size))
            .max()
            .unwrap_or(0);
        let mut next = 0usize;
        let mut active: Vec<Pending> = Vec::new();
        let mut pos = 0u64;
        let mut r = Bytes {
            data: self.data,
            pos: folder.data_offset as usize,
        };
        let mut block = 0usize;
        // Empty members at the start of the folder need no data at all.
        activate(wanted, &mut next, &mut active, budget, |start, size| {
            size == 0 && start == 0
        })?;
        loop {
            deliver_finished(&mut active, pos, budget, visitor);
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
            budget.spend(cb_uncomp.into())?;
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
            // Members that start inside this block, and empty ones right at its end.
            activate(wanted, &mut next, &mut active, budget, |start, size| {
                start < block_end || (size == 0 && start == block_end)
            })?;
            for p in &mut active {
                let from = p.start.max(pos);
                let to = p.end.min(block_end);
                if from < to {
                    p.buf
                        .extend_from_slice(&out[(from - pos) as usize..(to - pos) as usize]);
                }
            }
            pos = block_end;
            block += 1;
        }
        deliver_finished(&mut active, pos, budget, visitor);
        if let Some(p) = active.first() {
            return Err(CabError::Truncated(format!(
                "member `{}` ends at {} but folder {index} holds {pos} bytes",
                p.entry.path, p.end
            )));
        }
        if let Some(e) = wanted.get(next) {
            return Err(CabError::Truncated(format!(
                "member `{}` starts at {} but folder {index} holds {pos} bytes",
                e.path, e.folder_offset
            )));
        }
        Ok(())
    }
}

/// Starts filling the next members (sorted by offset) while `due(start, size)` holds.
fn activate<'c>(
    wanted: &[&'c CabEntry],
    next: &mut usize,
    active: &mut Vec<Pending<'c>>,
    budget: &mut Budget,
    due: impl Fn(u64, u32) -> bool,
) -> Result<(), CabError> {
    while let Some(e) = wanted.get(*next) {
        let start = u64::from(e.folder_offset);
        if !due(start, e.size) {
            break;
        }
        budget.spend(e.size.into())?;
        active.push(Pending {
            entry: e,
            start,
            end: start + u64::from(e.size),
            buf: Vec::with_capacity(e.size as usize),
        });
        *next += 1;
    }
    Ok(())
}

/// Hands over, in folder order, the members whose last byte has been decoded.
fn deliver_finished(
    active: &mut Vec<Pending>,
    pos: u64,
    budget: &mut Budget,
    visitor: &mut dyn Visitor,
) {
    let mut i = 0;
    while i < active.len() {
        if active[i].end <= pos {
            let p = active.remove(i);
            budget.stats.delivered_files += 1;
            budget.stats.delivered_bytes += p.buf.len() as u64;
            visitor.file(p.entry, p.buf);
        } else {
            i += 1;
        }
    }
}
