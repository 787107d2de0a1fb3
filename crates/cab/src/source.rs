//! Where a cabinet's bytes come from, and the one bounds-checked cursor over them.
//!
//! A cabinet is read either from a byte slice already in memory or from a file. The file
//! source exists because a vendor's catalog cabinet runs to hundreds of MB: loading it to
//! parse it would make memory follow the vendor's file size. A file is read with positional
//! reads (`pread`, which leave the file's own cursor alone) into a window of 64 KiB per
//! cursor: a directory is parsed in a few large reads, not a syscall per field, and a
//! folder's walk holds one CFDATA block at a time.
//!
//! Every read goes through [`Bytes`], which checks the range against the cabinet's length
//! *before* touching either source, so both sources give the same `Truncated` error, word
//! for word, for the same bytes; a file that ends before its length said (it shrank while
//! being read) is treated as shorter, never as an I/O error. The slice path stays what it
//! was: a bounds check and a subslice, no copy.

use std::borrow::Cow;
use std::fs::File;
use std::io;

use super::CabError;

/// Longest name or cabinet string the format allows (CB_MAX_FILENAME, CB_MAX_CABINET_NAME).
const MAX_STRING: usize = 256;

/// Bytes a file cursor reads at once. A field that does not fit (a CFDATA block's reserve
/// and payload: at most 255 + 65,535 bytes) grows the window to its size, no further.
const WINDOW: usize = 64 * 1024;

/// The bytes a cabinet is read from. Copied into every cursor: a file is shared by reference,
/// each cursor keeping its own window.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Source<'a> {
    Slice(&'a [u8]),
    File(&'a File),
}

impl Source<'_> {
    /// How many bytes the source holds: the slice's length, the file's size now.
    pub(crate) fn present(&self) -> Result<usize, CabError> {
        match self {
            Self::Slice(d) => Ok(d.len()),
            Self::File(f) => {
                let len = f
                    .metadata()
                    .map_err(|e| CabError::Io(format!("reading the cabinet file's length: {e}")))?;
                // Past `usize` (a 32-bit target) nothing beyond `cbCabinet` is read anyway.
                Ok(usize::try_from(len.len()).unwrap_or(usize::MAX))
            }
        }
    }
}

/// Bounds-checked little-endian reads over a [`Source`], up to `len` bytes of it.
pub(crate) struct Bytes<'a> {
    src: Src<'a>,
    len: usize,
    pub(crate) pos: usize,
}

enum Src<'a> {
    Slice(&'a [u8]),
    File(Window<'a>),
}

/// The part of a file a cursor holds: `buf[..filled]` are the bytes at `at..`.
struct Window<'a> {
    file: &'a File,
    buf: Vec<u8>,
    at: usize,
    filled: usize,
}

fn truncated(pos: usize, what: &str) -> CabError {
    CabError::Truncated(format!("{what} at offset {pos}"))
}

impl<'a> Bytes<'a> {
    /// A cursor at `pos` that reads nothing at or past `len` (clamped to a slice's length).
    pub(crate) fn new(src: Source<'a>, len: usize, pos: usize) -> Self {
        let (src, len) = match src {
            Source::Slice(d) => (Src::Slice(d), len.min(d.len())),
            Source::File(file) => (
                Src::File(Window {
                    file,
                    buf: Vec::new(),
                    at: 0,
                    filled: 0,
                }),
                len,
            ),
        };
        Self { src, len, pos }
    }

    /// Moves the end of what may be read (once `cbCabinet` is known).
    pub(crate) fn set_len(&mut self, len: usize) {
        self.len = match &self.src {
            Src::Slice(d) => len.min(d.len()),
            Src::File(_) => len,
        };
    }

    /// The end of `n` bytes from `from`, if that is within the cabinet.
    fn end_of(&self, from: usize, n: usize, what: &str) -> Result<usize, CabError> {
        from.checked_add(n)
            .filter(|&e| e <= self.len)
            .ok_or_else(|| truncated(from, what))
    }

    /// Makes `start..end` (within `len`) readable through [`Self::slice`]. False if the file
    /// ended first: `len` is then where it ended, as if the cabinet had been that short.
    fn load(&mut self, start: usize, end: usize) -> Result<bool, CabError> {
        match &mut self.src {
            Src::Slice(_) => Ok(true),
            Src::File(_) if end <= start => Ok(true),
            Src::File(w) => {
                let got = w.load(start, end, self.len)?;
                if got < end {
                    self.len = got;
                }
                Ok(got >= end)
            }
        }
    }

    /// `start..end`, which [`Self::load`] made readable.
    fn slice(&self, start: usize, end: usize) -> &[u8] {
        if end <= start {
            return &[];
        }
        match &self.src {
            Src::Slice(d) => &d[start..end],
            Src::File(w) => &w.buf[start - w.at..end - w.at],
        }
    }

    pub(crate) fn take(&mut self, n: usize, what: &str) -> Result<&[u8], CabError> {
        let start = self.pos;
        let end = self.end_of(start, n, what)?;
        if !self.load(start, end)? {
            return Err(truncated(start, what));
        }
        self.pos = end;
        Ok(self.slice(start, end))
    }

    /// Two adjacent fields held at once (a CFDATA block's reserve and payload, which one
    /// checksum covers), with the errors two [`Self::take`]s would give.
    pub(crate) fn take2(
        &mut self,
        (n1, what1): (usize, &str),
        (n2, what2): (usize, &str),
    ) -> Result<(&[u8], &[u8]), CabError> {
        let start = self.pos;
        let mid = self.end_of(start, n1, what1)?;
        let end = self.end_of(mid, n2, what2)?;
        if !self.load(start, end)? {
            self.end_of(start, n1, what1)?;
            return Err(truncated(mid, what2));
        }
        self.pos = end;
        Ok(self.slice(start, end).split_at(n1))
    }

    /// Takes `n` bytes that must outlive the cursor: borrowed from a slice, copied from a file.
    pub(crate) fn take_kept(&mut self, n: usize, what: &str) -> Result<Cow<'a, [u8]>, CabError> {
        let start = self.pos;
        self.take(n, what)?;
        Ok(match &self.src {
            Src::Slice(d) => Cow::Borrowed(&d[start..self.pos]),
            Src::File(_) => Cow::Owned(self.slice(start, self.pos).to_vec()),
        })
    }

    pub(crate) fn u8(&mut self, what: &str) -> Result<u8, CabError> {
        Ok(self.take(1, what)?[0])
    }

    pub(crate) fn u16(&mut self, what: &str) -> Result<u16, CabError> {
        let b = self.take(2, what)?;
        Ok(u16::from_le_bytes([b[0], b[1]]))
    }

    pub(crate) fn u32(&mut self, what: &str) -> Result<u32, CabError> {
        let b = self.take(4, what)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// A NUL-terminated string of at most [`MAX_STRING`] bytes, without its NUL.
    pub(crate) fn cstr(&mut self, what: &str) -> Result<&[u8], CabError> {
        let start = self.pos;
        let end = start
            .saturating_add(MAX_STRING + 1)
            .min(self.len)
            .max(start);
        self.load(start, end)?;
        // A file that ended early has lowered `len`, never below `start`.
        let end = end.min(self.len).max(start);
        let len = self
            .slice(start, end)
            .iter()
            .position(|&b| b == 0)
            .ok_or_else(|| {
                CabError::Malformed(format!("{what} at offset {start} is unterminated"))
            })?;
        self.pos = start + len + 1;
        Ok(self.slice(start, start + len))
    }

    /// Bytes the file window holds memory for (0 for a slice).
    #[cfg(test)]
    pub(crate) fn window_len(&self) -> usize {
        match &self.src {
            Src::Slice(_) => 0,
            Src::File(w) => w.buf.len(),
        }
    }
}

impl Window<'_> {
    /// Brings `start..end` of the file (`start < end <= len`) into the window, reading ahead
    /// as far as the window reaches but never past `len`. Returns the end of the bytes held
    /// from `start` on: `end`, or less if the file ended first.
    fn load(&mut self, start: usize, end: usize, len: usize) -> Result<usize, CabError> {
        let held = self.at + self.filled;
        if start >= self.at && end <= held {
            return Ok(end);
        }
        // Keep what the window has of `start..` (the head of a field that straddled its end).
        if start >= self.at && start < held {
            self.buf.copy_within(start - self.at..self.filled, 0);
            self.filled = held - start;
        } else {
            self.filled = 0;
        }
        self.at = start;
        let need = end - start;
        if self.buf.len() < need.max(WINDOW) {
            self.buf.resize(need.max(WINDOW), 0);
        }
        let want = (len - start).min(self.buf.len());
        while self.filled < want {
            let offset = self.at + self.filled;
            match read_at(self.file, &mut self.buf[self.filled..want], offset as u64) {
                Ok(0) => break,
                Ok(n) => self.filled += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                // Failing to read ahead is not failing: a later load reports it if those
                // bytes are ever needed.
                Err(_) if self.filled >= need => break,
                Err(e) => {
                    return Err(CabError::Io(format!(
                        "reading the cabinet at offset {offset}: {e}"
                    )));
                }
            }
        }
        Ok((self.at + self.filled).min(end))
    }
}

#[cfg(unix)]
fn read_at(file: &File, buf: &mut [u8], offset: u64) -> io::Result<usize> {
    std::os::unix::fs::FileExt::read_at(file, buf, offset)
}

#[cfg(windows)]
fn read_at(file: &File, buf: &mut [u8], offset: u64) -> io::Result<usize> {
    // Moves the file's cursor, unlike `pread`; this reader never uses the cursor.
    std::os::windows::fs::FileExt::seek_read(file, buf, offset)
}

#[cfg(not(any(unix, windows)))]
fn read_at(mut file: &File, buf: &mut [u8], offset: u64) -> io::Result<usize> {
    use std::io::{Read, Seek, SeekFrom};
    file.seek(SeekFrom::Start(offset))?;
    file.read(buf)
}
