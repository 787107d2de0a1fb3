//! One sequential pass over a downloaded file: its SHA-1 and SHA-256 (the catalog's digests)
//! and its Authenticode verdict, without holding a PE image in memory.
//!
//! Content staging used to read each update binary into memory, hash it, then hash it again
//! for Authenticode: two passes and RAM = file size. For a PE, [`StreamingVerifier`] buffers
//! only the headers, plans the Authenticode ranges from them
//! ([`pe::PeLayout::stream_plan`]), hashes those ranges as the bytes pass and keeps a copy of
//! the certificate table; at the end it verifies with [`pe::verify_image`], the code
//! [`super::verify_pe`] uses too, so both reach the same verdict. The public docs of
//! [`StreamingVerifier`] list the fallbacks.

use std::cell::Cell;
use std::ops::Range;

use chrono::{DateTime, Utc};

use super::digest::{DigestAlgorithm, Hasher};
use super::image_hash::ImageHashers;
use super::pe::{self, HeaderError, PeLayout};
use super::{AuthenticodeError, SignatureReport, cab, msi, report, verify_file};

/// Bytes that decide the format: the compound-file magic is the longest, at 8.
const SNIFF_LEN: usize = 8;

/// What a [`StreamingVerifier`] computes besides the whole-file digests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamOptions {
    /// Algorithms the Authenticode image digest of a PE is computed with while streaming.
    /// Each costs a hash over the whole image; a signature needing one not listed is
    /// reported Invalid with [`StreamOutcome::missing_image_digest`] set.
    pub image_digests: Vec<DigestAlgorithm>,
    /// Hash the image on a helper thread (the caller's thread keeps the whole-file hashes).
    /// Off for callers that already verify several files in parallel.
    pub hash_thread: bool,
}

impl Default for StreamOptions {
    fn default() -> Self {
        Self {
            image_digests: vec![DigestAlgorithm::Sha1, DigestAlgorithm::Sha256],
            hash_thread: true,
        }
    }
}

/// The result of streaming a file through a [`StreamingVerifier`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamOutcome {
    /// SHA-1 of the whole file.
    pub sha1: [u8; 20],
    /// SHA-256 of the whole file.
    pub sha256: [u8; 32],
    /// Number of bytes fed.
    pub bytes: u64,
    /// Equal to `verify_file(whole file, now)`, except when `missing_image_digest` is set.
    pub report: SignatureReport,
    /// A PE signature needed an image digest that was not configured in
    /// [`StreamOptions::image_digests`]: `report` is Invalid for that reason alone. Stream
    /// the file again with this algorithm added for the real verdict.
    pub missing_image_digest: Option<DigestAlgorithm>,
}

/// A PE image whose layout is known, streamed through its hashing plan.
struct Image {
    layout: PeLayout,
    plan: Vec<Range<u64>>,
    next: usize,
    hashers: Option<ImageHashers>,
    /// The certificate table's file range and the bytes of it seen so far.
    table: Option<(Range<u64>, Vec<u8>)>,
}

enum State {
    /// Fewer than [`SNIFF_LEN`] bytes seen.
    Sniff(Vec<u8>),
    /// A PE whose headers are not complete: buffering up to `need` bytes.
    Headers {
        buf: Vec<u8>,
        need: u64,
    },
    Image(Box<Image>),
    /// Verified at the end from these bytes (the whole file, or a prefix that decides the
    /// report: the first bytes of an unknown format, the headers of a PE they reject).
    Buffered {
        buf: Vec<u8>,
        whole: bool,
    },
}

/// Feed a file's bytes in order; get its SHA-1, SHA-256 and signature report in one pass.
///
/// The format is sniffed from the first bytes. A PE image is verified as it streams: only its
/// headers and its attribute certificate table (at most 8 MiB) are kept, and the Authenticode
/// ranges are hashed as they pass. The report equals [`verify_file`] on the whole file, with
/// these fallbacks, each equal to `verify_file` by construction:
/// - CAB and MSI files are buffered whole and given to `verify_file` at the end: their
///   digests need random access, and staging files are mostly PE images.
/// - A PE whose hashed ranges are not in file order (sections overlapping each other or the
///   headers, gaps before trailing data) is buffered whole too; real images are in order.
/// - Any other format keeps only its first 8 bytes, which decide its (Unsigned) report.
///
/// The one exception: a PE signature's digest algorithm is only known from the certificate
/// table at the end, so the image is hashed with the algorithms chosen up front
/// ([`StreamOptions::image_digests`]: SHA-1 and SHA-256 by default, what Windows binaries
/// use; SHA-384, at about half SHA-256's speed, would add two thirds to the hashing cost of
/// every file for a rare case). A signature
/// that needs another algorithm cannot be checked once the bytes are gone: the report is then
/// Invalid (fail closed) and [`StreamOutcome::missing_image_digest`] names the algorithm, so
/// the caller can stream the file again with it.
///
/// The work is CPU-bound (four hashes over the file); call it from a blocking context.
pub struct StreamingVerifier {
    sha1: Hasher,
    sha256: Hasher,
    bytes: u64,
    options: StreamOptions,
    state: State,
}

impl Default for StreamingVerifier {
    fn default() -> Self {
        Self::new()
    }
}

fn slice(chunk: &[u8], offset: u64, r: &Range<u64>) -> Option<Range<usize>> {
    let end = offset + chunk.len() as u64;
    let (s, e) = (r.start.max(offset), r.end.min(end));
    // Both lie within the chunk, so the differences fit in usize.
    (s < e).then(|| (s - offset) as usize..(e - offset) as usize)
}

impl Image {
    /// `None` when the layout needs random access to hash.
    fn new(layout: PeLayout, options: &StreamOptions) -> Option<Self> {
        let (start, size) = layout.certificate_table();
        if size == 0 || size > pe::MAX_CERTIFICATE_TABLE_LEN {
            // Unsigned, or refused before any digest: nothing to hash or keep.
            return Some(Self {
                layout,
                plan: Vec::new(),
                next: 0,
                hashers: None,
                table: None,
            });
        }
        let plan = layout.stream_plan()?;
        let threaded = options.hash_thread && !plan.is_empty();
        Some(Self {
            hashers: Some(ImageHashers::new(&options.image_digests, threaded)),
            plan,
            next: 0,
            table: Some((start..start + size, Vec::new())),
            layout,
        })
    }

    fn feed(&mut self, offset: u64, chunk: &[u8]) {
        if let Some((range, kept)) = &mut self.table
            && let Some(r) = slice(chunk, offset, range)
        {
            kept.extend_from_slice(&chunk[r]);
        }
        let Some(h) = &mut self.hashers else { return };
        let end = offset + chunk.len() as u64;
        while let Some(range) = self.plan.get(self.next) {
            if let Some(r) = slice(chunk, offset, range) {
                h.update(&chunk[r]);
            }
            if range.end > end {
                break;
            }
            self.next += 1;
        }
    }

    fn finish(
        self,
        len: u64,
        now: DateTime<Utc>,
        missing: &Cell<Option<DigestAlgorithm>>,
    ) -> SignatureReport {
        let digests = self.hashers.map(|h| h.finish(pe::padding(len)));
        let table = self
            .table
            .as_ref()
            .filter(|(range, kept)| kept.len() as u64 == range.end - range.start)
            .map(|(_, kept)| kept.as_slice());
        let digest = |alg: DigestAlgorithm| match &digests {
            Some(Ok(ds)) => match ds.iter().find(|(a, _)| *a == alg) {
                Some((_, d)) => Ok(d.clone()),
                None => {
                    missing.set(Some(alg));
                    Err(AuthenticodeError::Pe(format!(
                        "the {} image digest was not computed while streaming",
                        alg.name()
                    )))
                }
            },
            Some(Err(e)) => Err(AuthenticodeError::Pe(e.to_string())),
            None => Err(AuthenticodeError::Pe("no image digest was planned".into())),
        };
        report(pe::UNSIGNED_REASON, || {
            pe::verify_image(&self.layout, len, table, &digest, now)
        })
    }
}

impl StreamingVerifier {
    /// A verifier with the default [`StreamOptions`].
    pub fn new() -> Self {
        Self::with_options(StreamOptions::default())
    }

    pub fn with_options(options: StreamOptions) -> Self {
        Self {
            sha1: DigestAlgorithm::Sha1.hasher(),
            sha256: DigestAlgorithm::Sha256.hasher(),
            bytes: 0,
            options,
            state: State::Sniff(Vec::with_capacity(SNIFF_LEN)),
        }
    }

    /// Feeds the next bytes of the file. Any chunk size works; 64 KiB or more is fastest.
    pub fn update(&mut self, chunk: &[u8]) {
        self.sha1.update(chunk);
        self.sha256.update(chunk);
        let mut offset = self.bytes;
        self.bytes += chunk.len() as u64;
        let mut rest = chunk;
        // Buffering states take what they need and may change state; the rest goes on.
        loop {
            match &mut self.state {
                State::Sniff(buf) => {
                    let take = rest.len().min(SNIFF_LEN - buf.len());
                    buf.extend_from_slice(&rest[..take]);
                    (offset, rest) = (offset + take as u64, &rest[take..]);
                    if buf.len() < SNIFF_LEN {
                        return;
                    }
                    let buf = std::mem::take(buf);
                    self.state = if pe::is_pe(&buf) {
                        State::Headers { buf, need: 0 }
                    } else {
                        let whole = cab::is_cab(&buf) || msi::is_msi(&buf);
                        State::Buffered { buf, whole }
                    };
                }
                State::Headers { buf, need } => {
                    let want = (*need).saturating_sub(buf.len() as u64);
                    let take = rest.len().min(usize::try_from(want).unwrap_or(usize::MAX));
                    buf.extend_from_slice(&rest[..take]);
                    (offset, rest) = (offset + take as u64, &rest[take..]);
                    if (buf.len() as u64) < *need {
                        return;
                    }
                    match PeLayout::parse(buf) {
                        Err(HeaderError::Short { need: more }) => *need = more,
                        // The headers alone decide this report.
                        Err(HeaderError::Bad(_)) => {
                            let buf = std::mem::take(buf);
                            self.state = State::Buffered { buf, whole: false };
                        }
                        Ok(layout) => {
                            let buf = std::mem::take(buf);
                            self.state = match Image::new(layout, &self.options) {
                                Some(mut image) => {
                                    image.feed(0, &buf);
                                    State::Image(Box::new(image))
                                }
                                None => State::Buffered { buf, whole: true },
                            };
                        }
                    }
                }
                State::Image(image) => {
                    image.feed(offset, rest);
                    return;
                }
                State::Buffered { buf, whole } => {
                    if *whole {
                        buf.extend_from_slice(rest);
                    }
                    return;
                }
            }
        }
    }

    /// Which path the stream is on, for tests that must not pass by falling back.
    #[cfg(test)]
    pub(crate) fn path(&self) -> &'static str {
        match &self.state {
            State::Sniff(_) => "sniff",
            State::Headers { .. } => "headers",
            State::Image(image) if image.hashers.is_some() => "image",
            State::Image(_) => "nothing to hash",
            State::Buffered { whole: true, .. } => "whole file",
            State::Buffered { whole: false, .. } => "prefix",
        }
    }

    /// Ends the stream: the digests, the byte count and the signature report as of `now`.
    pub fn finish(self, now: DateTime<Utc>) -> StreamOutcome {
        let missing = Cell::new(None);
        let len = self.bytes;
        let report = match self.state {
            // Every byte seen is in `buf` while sniffing or reading the headers.
            State::Sniff(buf) | State::Headers { buf, .. } | State::Buffered { buf, .. } => {
                verify_file(&buf, now)
            }
            State::Image(image) => image.finish(len, now, &missing),
        };
        let mut sha1 = [0; 20];
        sha1.copy_from_slice(&self.sha1.finish());
        let mut sha256 = [0; 32];
        sha256.copy_from_slice(&self.sha256.finish());
        StreamOutcome {
            sha1,
            sha256,
            bytes: len,
            report,
            missing_image_digest: missing.get(),
        }
    }
}
