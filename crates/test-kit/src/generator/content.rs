//! Origin files: deterministic minimal PE32 images, optionally Authenticode-signed.
//!
//! supctl stores content only when its SHA-1 matches the catalog and it carries a valid
//! signature from an approved content certificate, so demo and benchmark content must be
//! real signed executables. A PE is the simplest signable container to build by hand:
//! DOS header, PE header, one section holding the payload; osslsigncode appends the
//! certificate table. The catalog's `Digest`/`Size` are taken from the final file (sign
//! first, then hash).

use std::fs;
use std::path::Path;

use anyhow::{Context, Result};
use sha1::Digest as _;

use super::model::{Catalog, FileFacts, Package};
use super::rng::Rng;
use super::sign::{Hash, Signer};

const SALT_CONTENT: u64 = 5;
const FILE_ALIGN: usize = 0x200;
const SECTION_RVA: u32 = 0x1000;

/// Bytes of a PE32 console image whose one `.text` section starts with `xor eax, eax;
/// ret` and then carries `payload`. Total size = 0x200 + payload rounded up to 0x200.
pub fn pe_image(payload: &[u8], timestamp: u32) -> Vec<u8> {
    let code = [0x31u8, 0xC0, 0xC3];
    let raw_len = code.len() + payload.len();
    let raw_size = raw_len.div_ceil(FILE_ALIGN) * FILE_ALIGN;
    let virt_size = (raw_len as u32).div_ceil(SECTION_RVA) * SECTION_RVA;
    let mut f = vec![0u8; FILE_ALIGN + raw_size];
    let put16 =
        |f: &mut Vec<u8>, at: usize, v: u16| f[at..at + 2].copy_from_slice(&v.to_le_bytes());
    let put32 =
        |f: &mut Vec<u8>, at: usize, v: u32| f[at..at + 4].copy_from_slice(&v.to_le_bytes());

    // DOS header: magic and e_lfanew.
    f[0..2].copy_from_slice(b"MZ");
    put32(&mut f, 0x3C, 0x40);
    // PE signature + COFF header.
    f[0x40..0x44].copy_from_slice(b"PE\0\0");
    let coff = 0x44;
    put16(&mut f, coff, 0x014C); // i386
    put16(&mut f, coff + 2, 1); // sections
    put32(&mut f, coff + 4, timestamp);
    put16(&mut f, coff + 16, 0xE0); // SizeOfOptionalHeader (PE32)
    put16(&mut f, coff + 18, 0x0102); // EXECUTABLE_IMAGE | 32BIT_MACHINE
    // Optional header (PE32).
    let opt = coff + 20;
    put16(&mut f, opt, 0x010B);
    f[opt + 2] = 14; // linker version
    put32(&mut f, opt + 4, raw_size as u32); // SizeOfCode
    put32(&mut f, opt + 16, SECTION_RVA); // AddressOfEntryPoint
    put32(&mut f, opt + 20, SECTION_RVA); // BaseOfCode
    put32(&mut f, opt + 24, SECTION_RVA); // BaseOfData
    put32(&mut f, opt + 28, 0x0040_0000); // ImageBase
    put32(&mut f, opt + 32, SECTION_RVA); // SectionAlignment
    put32(&mut f, opt + 36, FILE_ALIGN as u32); // FileAlignment
    put16(&mut f, opt + 40, 6); // OS version 6.0
    put16(&mut f, opt + 48, 6); // subsystem version 6.0
    put32(&mut f, opt + 56, SECTION_RVA + virt_size); // SizeOfImage
    put32(&mut f, opt + 60, FILE_ALIGN as u32); // SizeOfHeaders
    put16(&mut f, opt + 68, 3); // console subsystem
    put16(&mut f, opt + 70, 0x8100); // NX_COMPAT | TERMINAL_SERVER_AWARE
    put32(&mut f, opt + 72, 0x0010_0000); // stack reserve
    put32(&mut f, opt + 76, 0x1000); // stack commit
    put32(&mut f, opt + 80, 0x0010_0000); // heap reserve
    put32(&mut f, opt + 84, 0x1000); // heap commit
    put32(&mut f, opt + 92, 16); // NumberOfRvaAndSizes (all zero)
    // Section table.
    let sec = opt + 0xE0;
    f[sec..sec + 5].copy_from_slice(b".text");
    put32(&mut f, sec + 8, raw_len as u32); // VirtualSize
    put32(&mut f, sec + 12, SECTION_RVA);
    put32(&mut f, sec + 16, raw_size as u32); // SizeOfRawData
    put32(&mut f, sec + 20, FILE_ALIGN as u32); // PointerToRawData
    put32(&mut f, sec + 36, 0x6000_0020); // CODE | EXECUTE | READ
    // Section data.
    f[FILE_ALIGN..FILE_ALIGN + 3].copy_from_slice(&code);
    f[FILE_ALIGN + 3..FILE_ALIGN + 3 + payload.len()].copy_from_slice(payload);
    f
}

/// Deterministic payload: a readable banner, then PRNG bytes up to `size`.
fn payload(seed: u64, p: &Package, item: usize, size: usize) -> Vec<u8> {
    let banner = format!(
        "{} ({}) - supctl generated test content, does nothing.\0",
        p.title, p.items[item].file_name
    );
    let mut v = vec![0u8; size.max(banner.len())];
    Rng::derive(seed, SALT_CONTENT, (p.index as u64) << 8 | item as u64).fill(&mut v);
    v[..banner.len()].copy_from_slice(banner.as_bytes());
    v
}

/// Writes every origin file into `dir` and replaces the catalog's synthetic file facts
/// with the final files' size and SHA-1. `size` is the unsigned image size (rounded up to
/// the 512-byte file alignment); a signature adds ~1–2 KB. The first `unsigned` files (in
/// package order) are written unsigned even with a signer, with their true digest.
pub fn generate(
    cat: &mut Catalog,
    seed: u64,
    dir: &Path,
    size: usize,
    signer: Option<&Signer>,
    unsigned: usize,
) -> Result<()> {
    fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let payload_len = size.saturating_sub(FILE_ALIGN + 3).max(64);
    let mut written = 0usize;
    for pi in 0..cat.packages.len() {
        for ii in 0..cat.packages[pi].items.len() {
            let p = &cat.packages[pi];
            let name = &p.items[ii].file_name;
            let final_path = dir.join(name);
            let stamp = 1_700_000_000 + (p.index as u32 % 10_000_000);
            let image = pe_image(&payload(seed, p, ii, payload_len), stamp);
            let signer = signer.filter(|_| written >= unsigned);
            written += 1;
            match signer {
                Some(s) => {
                    let unsigned = dir.join(format!("{name}.unsigned.tmp"));
                    fs::write(&unsigned, &image)
                        .with_context(|| format!("writing {}", unsigned.display()))?;
                    let r = s.sign(&unsigned, &final_path, Hash::Sha256, false, &p.title);
                    let _ = fs::remove_file(&unsigned);
                    r?;
                }
                None => fs::write(&final_path, &image)
                    .with_context(|| format!("writing {}", final_path.display()))?,
            }
            let bytes = fs::read(&final_path)
                .with_context(|| format!("reading {}", final_path.display()))?;
            let modified = cat.packages[pi].items[ii].file.modified.clone();
            cat.packages[pi].items[ii].file = FileFacts {
                size: bytes.len() as u64,
                sha1: sha1::Sha1::digest(&bytes).into(),
                modified,
            };
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pe_image_parses_as_pe32() {
        let img = pe_image(&[0xAB; 1000], 42);
        assert_eq!(img.len(), 0x200 + 0x400);
        let pe = goblin::pe::PE::parse(&img).expect("valid PE");
        assert!(!pe.is_64);
        assert_eq!(pe.sections.len(), 1);
        assert_eq!(pe.entry, 0x1000);
        assert_eq!(pe.header.coff_header.time_date_stamp, 42);
    }
}
