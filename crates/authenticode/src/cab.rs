//! Cabinet (MSCF) Authenticode: where the PKCS#7 sits and which bytes the signature covers.
//!
//! Layout and byte ranges are exactly those of `reference/authenticode.md` §1–§2, which match
//! osslsigncode's `cab_ctx_get` / `cab_digest_calc` and a CAB signed with Windows tooling.

use std::borrow::Cow;
use std::ops::Range;

use chrono::{DateTime, Utc};

use super::cab_source::CabSource;
use super::digest::DigestAlgorithm;
use super::verify::{self, DigestCache, MAX_SIGNATURE_LEN};
use super::{AuthenticodeError, SignerReport};

const FLAG_PREV_CABINET: u16 = 0x0001;
const FLAG_NEXT_CABINET: u16 = 0x0002;
const FLAG_RESERVE_PRESENT: u16 = 0x0004;
/// `abReserve` starts with these four bytes in a signed cabinet.
const RESERVE_MAGIC: [u8; 4] = [0x00, 0x00, 0x10, 0x00];
/// CFHEADER (36 bytes) + reserve sizes (4) + the 20-byte Authenticode reserve.
const SIGNED_HEADER_LEN: u64 = 60;
/// `szCabinetNext` / `szDiskNext` are at most 255 characters plus NUL (CAB specification).
const MAX_CAB_STRING: u64 = 256;

fn u16_at(d: &[u8], off: usize) -> Option<u16> {
    d.get(off..off + 2)
        .map(|b| u16::from_le_bytes([b[0], b[1]]))
}

fn u32_at(d: &[u8], off: usize) -> Option<u32> {
    d.get(off..off + 4)
        .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}

fn corrupt(what: impl Into<String>) -> AuthenticodeError {
    AuthenticodeError::CabHeader(what.into())
}

/// True when `data` starts with the cabinet magic.
pub(crate) fn is_cab(data: &[u8]) -> bool {
    data.starts_with(b"MSCF")
}

/// Locates the PKCS#7 of a signed cabinet after validating the CFHEADER reserve.
///
/// `Ok(None)` means the cabinet is unsigned (no reserve, or a signature reserve with
/// `sigpos = siglen = 0`); a reserve that is not exactly Authenticode's is an error, because a
/// signed-looking header that does not add up is a corrupt or tampered file.
pub fn cab_signature_span(data: &[u8]) -> Result<Option<Range<usize>>, AuthenticodeError> {
    // The span ends at `data.len()`, so both ends fit in usize.
    Ok(signature_span(data)?.map(|r| r.start as usize..r.end as usize))
}

/// The first `min(len, 60)` bytes: all of the header that the rules below read.
fn header<S: CabSource + ?Sized>(src: &S) -> Result<Cow<'_, [u8]>, AuthenticodeError> {
    src.bytes(0..src.len().min(SIGNED_HEADER_LEN))
}

/// [`cab_signature_span`] for any source: it needs only the header and the length.
pub(crate) fn signature_span<S: CabSource + ?Sized>(
    src: &S,
) -> Result<Option<Range<u64>>, AuthenticodeError> {
    span_in(&header(src)?, src.len())
}

/// The span rules, over the header bytes (`head`, at most 60) of a cabinet of `len` bytes.
fn span_in(head: &[u8], len: u64) -> Result<Option<Range<u64>>, AuthenticodeError> {
    if !is_cab(head) {
        return Err(AuthenticodeError::NotContainer("cabinet (MSCF)"));
    }
    let flags = u16_at(head, 30).ok_or_else(|| corrupt("file shorter than a CFHEADER"))?;
    if flags & FLAG_RESERVE_PRESENT == 0 {
        return Ok(None);
    }
    if len < SIGNED_HEADER_LEN {
        return Err(corrupt(
            "file shorter than a CFHEADER with a 20-byte reserve",
        ));
    }
    let sizes = u32_at(head, 36).unwrap_or_default();
    if sizes != 20 {
        return Err(corrupt(format!(
            "reserve sizes {sizes:#010x}, expected cbCFHeader 20, cbCFFolder 0, cbCFData 0"
        )));
    }
    if head.get(40..44) != Some(&RESERVE_MAGIC[..]) {
        return Err(corrupt("reserve does not start with 00 00 10 00"));
    }
    let sigpos = u64::from(u32_at(head, 44).unwrap_or_default());
    let siglen = u64::from(u32_at(head, 48).unwrap_or_default());
    if (sigpos == 0) != (siglen == 0) {
        return Err(corrupt(format!(
            "sigpos {sigpos} and siglen {siglen}: both or neither must be zero"
        )));
    }
    if sigpos == 0 {
        return Ok(None);
    }
    // Both are u32, so the sum cannot overflow a u64.
    if sigpos + siglen != len {
        return Err(corrupt(format!(
            "sigpos {sigpos} + siglen {siglen} != file length {len}"
        )));
    }
    if sigpos < SIGNED_HEADER_LEN {
        return Err(corrupt(format!("sigpos {sigpos} points into the header")));
    }
    Ok(Some(sigpos..sigpos + siglen))
}

/// The Authenticode digest of a signed cabinet (authenticode.md §2): `[0,4)`, `[8,34)`,
/// `[56,60)`, the NEXT_CABINET strings, the CFFOLDER entries, then `[coffFiles, sigpos)`.
///
/// The CFFOLDER entries and the body are contiguous (`coffFiles` must be where the entries
/// end), so after the strings everything up to `sigpos` goes through the hasher in one
/// sequential pass: a file source never holds more than its read buffer.
pub(crate) fn cab_digest<S: CabSource + ?Sized>(
    src: &S,
    alg: DigestAlgorithm,
) -> Result<Vec<u8>, AuthenticodeError> {
    let head = header(src)?;
    let sigpos = span_in(&head, src.len())?
        .ok_or_else(|| corrupt("cabinet has no signature to compute a digest for"))?
        .start;
    let flags = u16_at(&head, 30).unwrap_or_default();
    if flags & FLAG_PREV_CABINET != 0 {
        return Err(corrupt(
            "multi-volume cabinets (PREV_CABINET) cannot be signed",
        ));
    }
    let coff_files = u64::from(u32_at(&head, 16).unwrap_or_default());
    let c_folders = u64::from(u16_at(&head, 26).unwrap_or_default());

    let mut h = alg.hasher();
    // A signed cabinet's header is 60 bytes (checked by `span_in`).
    h.update(&head[0..4]);
    h.update(&head[8..34]);
    h.update(&head[56..60]);
    let mut i = SIGNED_HEADER_LEN;
    if flags & FLAG_NEXT_CABINET != 0 {
        for name in ["szCabinetNext", "szDiskNext"] {
            // `i` never passes `sigpos`: each string's NUL lies before it.
            let end = sigpos.min(i + MAX_CAB_STRING).max(i);
            let window = src.bytes(i..end)?;
            let nul = window
                .iter()
                .position(|b| *b == 0)
                .ok_or_else(|| corrupt(format!("{name} is not NUL-terminated")))?;
            h.update(&window[..=nul]);
            i += nul as u64 + 1;
        }
    }
    // At most 65535 entries of 8 bytes after at most 572 header bytes: no overflow.
    let folders_end = i + c_folders * 8;
    if folders_end > sigpos {
        return Err(corrupt(format!(
            "{c_folders} CFFOLDER entries run past the signature"
        )));
    }
    if folders_end != coff_files {
        return Err(corrupt(format!(
            "CFFOLDER entries end at {folders_end}, but coffFiles is {coff_files}"
        )));
    }
    src.for_each_chunk(i..sigpos, &mut |chunk| h.update(chunk))?;
    Ok(h.finish())
}

/// Verifies a cabinet from any source, for [`super::verify_cab`] and
/// [`super::verify_cab_file`]. The PKCS#7 is the only part read into memory whole, so its size
/// is checked against [`MAX_SIGNATURE_LEN`] before it is read (`verify_blob` checks the same
/// bound with the same error, so a slice and a file get the same report).
pub(crate) fn verify_source<S: CabSource + ?Sized>(
    src: &S,
    now: DateTime<Utc>,
) -> Result<Option<Vec<SignerReport>>, AuthenticodeError> {
    let Some(span) = signature_span(src)? else {
        return Ok(None);
    };
    let siglen = usize::try_from(span.end - span.start).unwrap_or(usize::MAX);
    if siglen > MAX_SIGNATURE_LEN {
        return Err(AuthenticodeError::SignatureTooLarge(siglen));
    }
    let blob = src.bytes(span)?;
    let compute = |alg| cab_digest(src, alg);
    let mut digests = DigestCache::new(&compute);
    verify::verify_blob(&blob, &mut digests, now).map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A synthetic signed-cabinet header: 1 folder, NEXT_CABINET strings, 10 body bytes and a
    /// 4-byte "signature".
    fn synthetic(next: bool) -> Vec<u8> {
        let strings: &[u8] = if next { b"next.cab\0disk2\0" } else { b"" };
        let folders_at = 60 + strings.len();
        let coff_files = folders_at + 8;
        let sigpos = coff_files + 10;
        let mut d = vec![0u8; sigpos + 4];
        d[0..4].copy_from_slice(b"MSCF");
        d[4..8].copy_from_slice(&[0xEE; 4]); // reserved1: excluded from the digest
        d[8..12].copy_from_slice(&(sigpos as u32).to_le_bytes());
        d[16..20].copy_from_slice(&(coff_files as u32).to_le_bytes());
        d[26..28].copy_from_slice(&1u16.to_le_bytes());
        let flags = FLAG_RESERVE_PRESENT | if next { FLAG_NEXT_CABINET } else { 0 };
        d[30..32].copy_from_slice(&flags.to_le_bytes());
        d[36..40].copy_from_slice(&20u32.to_le_bytes());
        d[40..44].copy_from_slice(&RESERVE_MAGIC);
        d[44..48].copy_from_slice(&(sigpos as u32).to_le_bytes());
        d[48..52].copy_from_slice(&4u32.to_le_bytes());
        d[56..60].copy_from_slice(&[1, 2, 3, 4]);
        d[60..folders_at].copy_from_slice(strings);
        for (k, b) in d[folders_at..sigpos].iter_mut().enumerate() {
            *b = k as u8 + 1;
        }
        d
    }

    #[test]
    fn digest_covers_exactly_the_documented_ranges() {
        for next in [false, true] {
            let d = synthetic(next);
            let sigpos = d.len() - 4;
            let mut expected = Vec::new();
            expected.extend_from_slice(&d[0..4]);
            expected.extend_from_slice(&d[8..34]);
            expected.extend_from_slice(&d[56..sigpos]);
            let got = cab_digest(&d[..], DigestAlgorithm::Sha256).unwrap();
            assert_eq!(got, DigestAlgorithm::Sha256.hash(&expected), "next={next}");

            // Excluded bytes do not change the digest; included ones do.
            let mut other = d.clone();
            other[5] ^= 0xFF; // reserved1
            other[52] ^= 0xFF; // reserve bytes 12..16
            other[sigpos] ^= 0xFF; // the signature
            assert_eq!(
                cab_digest(&other[..], DigestAlgorithm::Sha256).unwrap(),
                got
            );
            let mut body = d.clone();
            body[sigpos - 1] ^= 0xFF;
            assert_ne!(cab_digest(&body[..], DigestAlgorithm::Sha256).unwrap(), got);
        }
    }

    #[test]
    fn span_checks_the_reserve() {
        let d = synthetic(false);
        assert_eq!(cab_signature_span(&d).unwrap(), Some(d.len() - 4..d.len()));

        let mut bad = d.clone();
        bad[36] = 21;
        assert!(cab_signature_span(&bad).is_err());
        let mut bad = d.clone();
        bad[42] = 0x11;
        assert!(cab_signature_span(&bad).is_err());
        let mut bad = d.clone();
        bad[48] = 5; // sigpos + siglen != len
        assert!(cab_signature_span(&bad).is_err());
        let mut bad = d.clone();
        bad[48..52].copy_from_slice(&[0; 4]); // sigpos > 0 but siglen 0
        assert!(cab_signature_span(&bad).is_err());
        let mut zero = d.clone();
        zero[44..52].copy_from_slice(&[0; 8]);
        assert_eq!(cab_signature_span(&zero).unwrap(), None);
        let mut no_reserve = d.clone();
        no_reserve[30] = 0;
        assert_eq!(cab_signature_span(&no_reserve).unwrap(), None);
        assert!(cab_signature_span(b"MZ").is_err());
        assert!(cab_signature_span(b"MSCF").is_err());
    }

    #[test]
    fn digest_rejects_inconsistent_folder_table() {
        let mut d = synthetic(false);
        d[16] += 1; // coffFiles no longer where the CFFOLDER entries end
        assert!(cab_digest(&d[..], DigestAlgorithm::Sha1).is_err());
        let mut d = synthetic(false);
        d[26] = 0xFF; // 255 folders run past sigpos
        assert!(cab_digest(&d[..], DigestAlgorithm::Sha1).is_err());
        let mut d = synthetic(true);
        d[30] |= FLAG_PREV_CABINET as u8;
        assert!(cab_digest(&d[..], DigestAlgorithm::Sha1).is_err());
    }
}
