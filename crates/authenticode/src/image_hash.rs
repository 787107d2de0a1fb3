//! The Authenticode image hashers of a stream, optionally on a helper thread.
//!
//! A streamed signed PE costs four hashes over (nearly) every byte: SHA-1 and SHA-256 of the
//! whole file for the catalog, and SHA-1 and SHA-256 over the Authenticode ranges, which
//! differ from the file from the CheckSum field on and so cannot share hash state. With SHA-NI
//! one core does the four at about 350 MiB/s, 60% of `sha1sum` (which hashes once, without
//! SHA-NI); the image hashes on a second thread take that to `sha1sum`'s speed when the second
//! core is free (examples/stream_bench.rs). The thread gets owned copies of the hashed bytes
//! in batches over a bounded channel and returns the buffers for reuse, so memory stays at a
//! few MiB whatever the file size. If the thread cannot be started the hashing runs inline.

use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::thread::JoinHandle;

use super::AuthenticodeError;
use super::digest::{DigestAlgorithm, Hasher};

/// Bytes gathered before a batch goes to the thread: large enough that the channel costs
/// nothing per byte, small enough to stay in cache.
const BATCH: usize = 256 << 10;
/// Batches in flight. Buffers alive: the one being filled, `DEPTH` queued, the one being
/// hashed and up to `DEPTH` returned for reuse, so at most `(2 * DEPTH + 2) * BATCH`.
const DEPTH: usize = 4;

type Digests = Vec<(DigestAlgorithm, Vec<u8>)>;

struct Worker {
    tx: SyncSender<Vec<u8>>,
    spare: Receiver<Vec<u8>>,
    handle: JoinHandle<Digests>,
    pending: Vec<u8>,
    /// The thread stopped taking data (it can only have panicked): the digests are lost.
    broken: bool,
}

enum Inner {
    Inline(Vec<(DigestAlgorithm, Hasher)>),
    Thread(Worker),
}

/// Hashes the bytes given to [`ImageHashers::update`] with each configured algorithm.
pub(crate) struct ImageHashers(Inner);

fn hashers(algs: &[DigestAlgorithm]) -> Vec<(DigestAlgorithm, Hasher)> {
    algs.iter().map(|a| (*a, a.hasher())).collect()
}

fn finish_all(hs: Vec<(DigestAlgorithm, Hasher)>) -> Digests {
    hs.into_iter().map(|(a, h)| (a, h.finish())).collect()
}

impl ImageHashers {
    pub(crate) fn new(algs: &[DigestAlgorithm], threaded: bool) -> Self {
        if threaded
            && !algs.is_empty()
            && let Some(worker) = spawn(algs)
        {
            return Self(Inner::Thread(worker));
        }
        Self(Inner::Inline(hashers(algs)))
    }

    pub(crate) fn update(&mut self, data: &[u8]) {
        match &mut self.0 {
            Inner::Inline(hs) => hs.iter_mut().for_each(|(_, h)| h.update(data)),
            Inner::Thread(w) => {
                let mut rest = data;
                while !rest.is_empty() {
                    let take = rest.len().min(BATCH - w.pending.len());
                    w.pending.extend_from_slice(&rest[..take]);
                    rest = &rest[take..];
                    if w.pending.len() == BATCH {
                        w.flush();
                    }
                }
            }
        }
    }

    /// Hashes `tail` (the zero padding) and returns every digest.
    pub(crate) fn finish(mut self, tail: &[u8]) -> Result<Digests, AuthenticodeError> {
        self.update(tail);
        match self.0 {
            Inner::Inline(hs) => Ok(finish_all(hs)),
            Inner::Thread(mut w) => {
                w.flush();
                let Worker {
                    tx, handle, broken, ..
                } = w;
                drop(tx);
                match handle.join() {
                    Ok(digests) if !broken => Ok(digests),
                    _ => Err(AuthenticodeError::Pe(
                        "internal error: the image hash thread stopped".into(),
                    )),
                }
            }
        }
    }
}

impl Worker {
    fn flush(&mut self) {
        if self.pending.is_empty() || self.broken {
            self.pending.clear();
            return;
        }
        let next = match self.spare.try_recv() {
            Ok(mut v) => {
                v.clear();
                v
            }
            Err(_) => Vec::with_capacity(BATCH),
        };
        let full = std::mem::replace(&mut self.pending, next);
        if self.tx.send(full).is_err() {
            self.broken = true;
        }
    }
}

fn spawn(algs: &[DigestAlgorithm]) -> Option<Worker> {
    let (tx, rx) = sync_channel::<Vec<u8>>(DEPTH);
    let (spare_tx, spare) = sync_channel::<Vec<u8>>(DEPTH);
    let mut hs = hashers(algs);
    let handle = std::thread::Builder::new()
        .name("authenticode-hash".into())
        .spawn(move || {
            for buf in rx {
                hs.iter_mut().for_each(|(_, h)| h.update(&buf));
                // A full spare queue just drops the buffer.
                let _ = spare_tx.try_send(buf);
            }
            finish_all(hs)
        })
        .ok()?;
    Some(Worker {
        tx,
        spare,
        handle,
        pending: Vec::with_capacity(BATCH),
        broken: false,
    })
}
