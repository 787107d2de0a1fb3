//! Per-block decoders for a folder's stream: stored, MSZIP and LZX.

use std::panic::{AssertUnwindSafe, catch_unwind};

use flate2::{Decompress, FlushDecompress, Status};

use super::Compression;

/// The largest uncompressed CFDATA block the format allows for MSZIP and LZX.
pub(crate) const MAX_BLOCK: usize = 32 * 1024;
const DEFLATE_WINDOW: usize = 32 * 1024;

/// Decodes one folder's blocks in order; state carries from block to block.
pub(crate) enum Decoder {
    Stored,
    MsZip(Box<MsZip>),
    Lzx(Box<lzxd::Lzxd>),
}

impl Decoder {
    pub(crate) fn new(compression: Compression) -> Result<Self, String> {
        Ok(match compression {
            Compression::None => Self::Stored,
            Compression::MsZip => Self::MsZip(Box::new(MsZip::new())),
            Compression::Quantum => return Err("Quantum compression is not supported".into()),
            Compression::Lzx { window_bits } => {
                use lzxd::WindowSize::*;
                let w = match window_bits {
                    15 => KB32,
                    16 => KB64,
                    17 => KB128,
                    18 => KB256,
                    19 => KB512,
                    20 => MB1,
                    _ => MB2,
                };
                Self::Lzx(Box::new(lzxd::Lzxd::new(w)))
            }
        })
    }

    /// Decodes one block that must inflate to exactly `expected` bytes.
    pub(crate) fn block<'s>(
        &'s mut self,
        input: &'s [u8],
        expected: usize,
    ) -> Result<&'s [u8], String> {
        match self {
            Self::Stored => {
                if input.len() == expected {
                    Ok(input)
                } else {
                    Err(format!(
                        "stored block holds {} bytes but declares {expected}",
                        input.len()
                    ))
                }
            }
            Self::MsZip(z) => z.block(input, expected),
            Self::Lzx(l) => {
                if expected > MAX_BLOCK {
                    return Err(format!(
                        "LZX block declares {expected} bytes (max {MAX_BLOCK})"
                    ));
                }
                // lzxd reports bad input as errors, but it is third-party code fed hostile
                // bytes: a panic inside it must become an error, not a crash.
                let dec: &mut lzxd::Lzxd = l;
                match catch_unwind(AssertUnwindSafe(move || {
                    let dec = dec;
                    dec.decompress_next(input, expected)
                })) {
                    Ok(Ok(out)) if out.len() == expected => Ok(out),
                    Ok(Ok(out)) => Err(format!(
                        "LZX block gave {} bytes, expected {expected}",
                        out.len()
                    )),
                    Ok(Err(e)) => Err(format!("LZX: {e}")),
                    Err(_) => Err("LZX decoder failed on malformed input".into()),
                }
            }
        }
    }
}

/// MSZIP: each block is `CK` + a raw deflate stream whose back-references may reach into the
/// previous 32 KiB of output, which is given to the inflater as its dictionary. flate2 runs
/// on zlib-rs (pure Rust, like the miniz_oxide it replaced): it has `set_dictionary`, which
/// miniz_oxide lacked (the window was fed through a stored block, a copy in and out of every
/// block), and it inflates faster; reading a catalog spends a tenth of its time here.
pub(crate) struct MsZip {
    inflate: Decompress,
    window: Vec<u8>,
    out: Vec<u8>,
}

impl MsZip {
    fn new() -> Self {
        Self {
            inflate: Decompress::new(false),
            window: Vec::with_capacity(2 * DEFLATE_WINDOW),
            out: vec![0; MAX_BLOCK + 1],
        }
    }

    fn block(&mut self, input: &[u8], expected: usize) -> Result<&[u8], String> {
        if expected > MAX_BLOCK {
            return Err(format!(
                "MSZIP block declares {expected} bytes (max {MAX_BLOCK})"
            ));
        }
        let Some(deflate) = input.strip_prefix(b"CK") else {
            return Err("MSZIP block lacks the `CK` signature".into());
        };
        self.inflate.reset(false);
        if !self.window.is_empty() {
            self.prime()?;
        }
        let (in0, out0) = (self.inflate.total_in(), self.inflate.total_out());
        // One byte of headroom detects a block that inflates past its declared size.
        let status = self
            .inflate
            .decompress(
                deflate,
                &mut self.out[..expected + 1],
                FlushDecompress::Finish,
            )
            .map_err(|e| format!("deflate: {e}"))?;
        let produced = (self.inflate.total_out() - out0) as usize;
        let consumed = (self.inflate.total_in() - in0) as usize;
        if produced != expected {
            return Err(format!(
                "MSZIP block gave {produced} bytes, expected {expected}"
            ));
        }
        if status != Status::StreamEnd && consumed < deflate.len() {
            return Err("MSZIP block did not end where its data ends".into());
        }
        self.window.extend_from_slice(&self.out[..expected]);
        if self.window.len() > DEFLATE_WINDOW {
            let excess = self.window.len() - DEFLATE_WINDOW;
            self.window.drain(..excess);
        }
        Ok(&self.out[..expected])
    }

    fn prime(&mut self) -> Result<(), String> {
        self.inflate
            .set_dictionary(&self.window)
            .map_err(|e| format!("priming the MSZIP window: {e}"))?;
        Ok(())
    }
}
