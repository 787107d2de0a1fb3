//! Where a cabinet's bytes come from: memory, or a file read on demand.
//!
//! The cabinet rules in `cab.rs` are written once against [`CabSource`], so that
//! [`super::verify_cab`] (a slice) and [`super::verify_cab_file`] (a file of 30–500 MB that is
//! never loaded) cannot drift apart: they run the same checks, in the same order, over the same
//! bytes. A source only answers "how long" and "these bytes"; it knows nothing of cabinets.

use std::borrow::Cow;
use std::fs::File;
use std::io;
use std::ops::Range;

use super::AuthenticodeError;

/// Size of the buffer a file's hashed range is read through. Large enough that the per-read
/// syscall cost vanishes next to hashing, small enough that verifying several catalogs at once
/// stays at a few hundred KiB each whatever their size.
pub(crate) const READ_CHUNK: usize = 256 << 10;

/// A cabinet's bytes. Callers only ask for ranges within `0..len()`.
pub(crate) trait CabSource {
    /// The length of the whole cabinet (for a file: as it was when the source was made).
    fn len(&self) -> u64;

    /// The bytes of `range`, borrowed when they are already in memory. Used for the header,
    /// the NEXT_CABINET strings and the PKCS#7 blob, all of them bounded by the caller.
    fn bytes(&self, range: Range<u64>) -> Result<Cow<'_, [u8]>, AuthenticodeError>;

    /// Hands `range` to `f` in order, in pieces of any size: how the hashed body of a cabinet
    /// reaches the hasher without being held in memory.
    fn for_each_chunk(
        &self,
        range: Range<u64>,
        f: &mut dyn FnMut(&[u8]),
    ) -> Result<(), AuthenticodeError>;
}

/// The cabinet is already in memory: every range is a borrow.
impl CabSource for [u8] {
    fn len(&self) -> u64 {
        <[u8]>::len(self) as u64
    }

    fn bytes(&self, range: Range<u64>) -> Result<Cow<'_, [u8]>, AuthenticodeError> {
        // The rules only ask within the slice; a range outside it is a bug, reported rather
        // than panicking on hostile input.
        let start = usize::try_from(range.start).ok();
        let end = usize::try_from(range.end).ok();
        start
            .zip(end)
            .and_then(|(s, e)| self.get(s..e))
            .map(Cow::Borrowed)
            .ok_or_else(|| {
                AuthenticodeError::CabHeader(format!(
                    "range {range:?} lies outside the {} byte cabinet",
                    <[u8]>::len(self)
                ))
            })
    }

    fn for_each_chunk(
        &self,
        range: Range<u64>,
        f: &mut dyn FnMut(&[u8]),
    ) -> Result<(), AuthenticodeError> {
        f(&self.bytes(range)?);
        Ok(())
    }
}

/// A cabinet read from a file with positional reads, so the caller's file cursor is of no
/// concern (on Windows `seek_read` does move it; nothing here relies on where it is).
pub(crate) struct FileSource<'f> {
    file: &'f File,
    len: u64,
    chunk: usize,
}

impl<'f> FileSource<'f> {
    /// Takes the file's length once: the signature span is checked against it, and a file that
    /// shrinks afterwards fails its reads rather than being checked against two lengths.
    /// `chunk` is the read buffer size ([`READ_CHUNK`]; tests use small ones to cross chunk
    /// boundaries with small fixtures).
    pub(crate) fn new(file: &'f File, chunk: usize) -> Result<Self, AuthenticodeError> {
        let len = file
            .metadata()
            .map_err(|source| AuthenticodeError::Io {
                at: "for its length".into(),
                source,
            })?
            .len();
        Ok(Self {
            file,
            len,
            chunk: chunk.max(1),
        })
    }

    fn read_exact_at(&self, mut offset: u64, mut buf: &mut [u8]) -> Result<(), AuthenticodeError> {
        while !buf.is_empty() {
            match read_at(self.file, buf, offset) {
                Ok(0) => {
                    let source = io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        format!(
                            "the file ends early: it had {} bytes when verification started",
                            self.len
                        ),
                    );
                    return Err(io_error(offset, source));
                }
                Ok(n) => {
                    buf = &mut buf[n..];
                    offset += n as u64;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(io_error(offset, e)),
            }
        }
        Ok(())
    }
}

fn io_error(offset: u64, source: io::Error) -> AuthenticodeError {
    AuthenticodeError::Io {
        at: format!("at offset {offset}"),
        source,
    }
}

/// One positional read; `read_at` and `seek_read` differ only in name and cursor effect.
/// `supctl-cab` has the same shim: the two leaf crates import nothing from each other, and
/// a crate of its own for three lines would cost more than it keeps in step.
#[cfg(unix)]
fn read_at(file: &File, buf: &mut [u8], offset: u64) -> io::Result<usize> {
    std::os::unix::fs::FileExt::read_at(file, buf, offset)
}

#[cfg(windows)]
fn read_at(file: &File, buf: &mut [u8], offset: u64) -> io::Result<usize> {
    std::os::windows::fs::FileExt::seek_read(file, buf, offset)
}

/// Other targets have no stable positional read; supctl does not run there, but the crate
/// still builds and the report says why it cannot verify.
#[cfg(not(any(unix, windows)))]
fn read_at(_: &File, _: &mut [u8], _: u64) -> io::Result<usize> {
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        "positional file reads are not available on this platform",
    ))
}

impl CabSource for FileSource<'_> {
    fn len(&self) -> u64 {
        self.len
    }

    fn bytes(&self, range: Range<u64>) -> Result<Cow<'_, [u8]>, AuthenticodeError> {
        let n = usize::try_from(range.end.saturating_sub(range.start)).map_err(|_| {
            AuthenticodeError::CabHeader(format!("range {range:?} does not fit in memory"))
        })?;
        let mut buf = vec![0; n];
        self.read_exact_at(range.start, &mut buf)?;
        Ok(Cow::Owned(buf))
    }

    fn for_each_chunk(
        &self,
        range: Range<u64>,
        f: &mut dyn FnMut(&[u8]),
    ) -> Result<(), AuthenticodeError> {
        let total = range.end.saturating_sub(range.start);
        let size = usize::try_from(total).map_or(self.chunk, |t| t.min(self.chunk));
        let mut buf = vec![0; size];
        let mut at = range.start;
        while at < range.end {
            let n = usize::try_from(range.end - at).map_or(size, |left| left.min(size));
            self.read_exact_at(at, &mut buf[..n])?;
            f(&buf[..n]);
            at += n as u64;
        }
        Ok(())
    }
}
