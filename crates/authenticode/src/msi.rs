//! MSI (OLE compound file) Authenticode: the `\u{5}DigitalSignature` stream and the digest over
//! every other stream, in osslsigncode's / signtool's order (authenticode.md §4).

use std::cmp::Ordering;
use std::io::{Cursor, Read};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use cfb::{CompoundFile, Entry};

use super::AuthenticodeError;
use super::digest::{DigestAlgorithm, Hasher};

const DIGITAL_SIGNATURE: &str = "\u{5}DigitalSignature";
const DIGITAL_SIGNATURE_EX: &str = "\u{5}MsiDigitalSignatureEx";
const CFB_MAGIC: [u8; 8] = [0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1];
/// Stream sizes at or above this are "corrupted" in osslsigncode's walk and skipped.
const MAXREGSECT: u64 = 0xFFFF_FFFA;
/// Storages nest a level or two in real MSIs; this bounds recursion on hostile files.
const MAX_DEPTH: usize = 32;
/// FILETIME of the Unix epoch, in 100 ns units since 1601.
const UNIX_EPOCH_FILETIME: i128 = 116_444_736_000_000_000;

type Cfb<'a> = CompoundFile<Cursor<&'a [u8]>>;

pub(crate) fn is_msi(data: &[u8]) -> bool {
    data.starts_with(&CFB_MAGIC)
}

fn msi_error(e: impl std::fmt::Display) -> AuthenticodeError {
    AuthenticodeError::Msi(e.to_string())
}

fn open(data: &[u8]) -> Result<Cfb<'_>, AuthenticodeError> {
    CompoundFile::open(Cursor::new(data)).map_err(msi_error)
}

fn read_stream(cf: &mut Cfb<'_>, path: &Path, max: usize) -> Result<Vec<u8>, AuthenticodeError> {
    let mut s = cf.open_stream(path).map_err(msi_error)?;
    let mut out = Vec::new();
    (&mut s)
        .take(max as u64 + 1)
        .read_to_end(&mut out)
        .map_err(msi_error)?;
    if out.len() > max {
        return Err(msi_error(format!(
            "stream {} is larger than the file",
            path.display()
        )));
    }
    Ok(out)
}

/// The signature streams of an MSI: the PKCS#7 and, when present, the
/// `MsiDigitalSignatureEx` pre-hash. `None` when the package is unsigned.
pub(crate) struct MsiSignature {
    pub pkcs7: Vec<u8>,
    pub ex: Option<Vec<u8>>,
}

pub(crate) fn signature(data: &[u8]) -> Result<Option<MsiSignature>, AuthenticodeError> {
    let mut cf = open(data)?;
    let root = Path::new("/");
    let names: Vec<String> = cf
        .read_storage(root)
        .map_err(msi_error)?
        .filter(Entry::is_stream)
        .map(|e| e.name().to_string())
        .collect();
    if !names.iter().any(|n| n == DIGITAL_SIGNATURE) {
        return Ok(None);
    }
    let pkcs7 = read_stream(&mut cf, &root.join(DIGITAL_SIGNATURE), data.len())?;
    let ex = if names.iter().any(|n| n == DIGITAL_SIGNATURE_EX) {
        Some(read_stream(
            &mut cf,
            &root.join(DIGITAL_SIGNATURE_EX),
            data.len(),
        )?)
    } else {
        None
    };
    Ok(Some(MsiSignature { pkcs7, ex }))
}

/// UTF-16LE name with its terminating NUL, the bytes the directory entry stores.
fn raw_name(name: &str) -> Vec<u8> {
    name.encode_utf16()
        .chain(std::iter::once(0))
        .flat_map(u16::to_le_bytes)
        .collect()
}

/// osslsigncode's `dirent_cmp_hash`: memcmp over the shorter raw name (NUL included); on a tie
/// the longer name sorts first.
fn cmp_hash(a: &[u8], b: &[u8]) -> Ordering {
    let n = a.len().min(b.len());
    match a[..n].cmp(&b[..n]) {
        Ordering::Equal => b.len().cmp(&a.len()),
        other => other,
    }
}

fn sorted_children(cf: &Cfb<'_>, path: &Path) -> Result<Vec<Entry>, AuthenticodeError> {
    let mut children: Vec<(Vec<u8>, Entry)> = cf
        .read_storage(path)
        .map_err(msi_error)?
        .map(|e| (raw_name(e.name()), e))
        .collect();
    children.sort_by(|a, b| cmp_hash(&a.0, &b.0));
    Ok(children.into_iter().map(|(_, e)| e).collect())
}

fn is_signature_stream(is_root: bool, e: &Entry) -> bool {
    is_root && (e.name() == DIGITAL_SIGNATURE || e.name() == DIGITAL_SIGNATURE_EX)
}

fn hash_dir(
    cf: &mut Cfb<'_>,
    dir: &Entry,
    path: &Path,
    h: &mut Hasher,
    depth: usize,
    max: usize,
) -> Result<(), AuthenticodeError> {
    if depth > MAX_DEPTH {
        return Err(msi_error("storages nested too deeply"));
    }
    for child in sorted_children(cf, path)? {
        if is_signature_stream(depth == 0, &child) {
            continue;
        }
        let child_path: PathBuf = path.join(child.name());
        if child.is_stream() {
            let len = child.len() & 0xFFFF_FFFF;
            if len == 0 || len >= MAXREGSECT {
                continue;
            }
            h.update(&read_stream(cf, &child_path, max)?);
        } else {
            hash_dir(cf, &child, &child_path, h, depth + 1, max)?;
        }
    }
    h.update(&dir.clsid().to_bytes_le());
    Ok(())
}

fn filetime(t: SystemTime) -> [u8; 8] {
    let hundred_ns = match t.duration_since(UNIX_EPOCH) {
        Ok(d) => UNIX_EPOCH_FILETIME + (d.as_nanos() / 100) as i128,
        Err(e) => UNIX_EPOCH_FILETIME - (e.duration().as_nanos() / 100) as i128,
    };
    (hundred_ns.clamp(0, u64::MAX as i128) as u64).to_le_bytes()
}

/// osslsigncode's `prehash_metadata`.
fn prehash_entry(e: &Entry, h: &mut Hasher) {
    if !e.is_root() {
        let name = raw_name(e.name());
        h.update(&name[..name.len() - 2]);
    }
    if e.is_stream() {
        h.update(&((e.len() & 0xFFFF_FFFF) as u32).to_le_bytes());
    } else {
        h.update(&e.clsid().to_bytes_le());
    }
    h.update(&e.state_bits().to_le_bytes());
    if !e.is_root() {
        h.update(&filetime(e.created()));
        h.update(&filetime(e.modified()));
    }
}

fn prehash_dir(
    cf: &Cfb<'_>,
    dir: &Entry,
    path: &Path,
    h: &mut Hasher,
    depth: usize,
) -> Result<(), AuthenticodeError> {
    if depth > MAX_DEPTH {
        return Err(msi_error("storages nested too deeply"));
    }
    prehash_entry(dir, h);
    for child in sorted_children(cf, path)? {
        if is_signature_stream(depth == 0, &child) {
            continue;
        }
        if child.is_stream() {
            prehash_entry(&child, h);
        } else {
            prehash_dir(cf, &child, &path.join(child.name()), h, depth + 1)?;
        }
    }
    Ok(())
}

/// The MSI Authenticode digest. With `ex` (the `MsiDigitalSignatureEx` stream), the metadata
/// pre-hash is computed, must equal `ex`, and is fed into the main hash first.
pub(crate) fn msi_digest(
    data: &[u8],
    alg: DigestAlgorithm,
    ex: Option<&[u8]>,
) -> Result<Vec<u8>, AuthenticodeError> {
    let mut cf = open(data)?;
    let root = cf.root_entry();
    let root_path = Path::new("/");
    let mut h = alg.hasher();
    if let Some(ex) = ex {
        let mut pre = alg.hasher();
        prehash_dir(&cf, &root, root_path, &mut pre, 0)?;
        let pre = pre.finish();
        if pre != ex {
            return Err(AuthenticodeError::MsiDigitalSignatureEx {
                stored: hex::encode_upper(ex),
                computed: hex::encode_upper(&pre),
            });
        }
        h.update(&pre);
    }
    hash_dir(&mut cf, &root, root_path, &mut h, 0, data.len())?;
    Ok(h.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sort_order_is_raw_utf16_memcmp() {
        let a = raw_name("ab");
        let b = raw_name("abc");
        // The NUL of "ab" compares below 'c': the prefix sorts first.
        assert_eq!(cmp_hash(&a, &b), Ordering::Less);
        // Raw UTF-16LE bytes, not code points: U+0100 (00 01) sorts before 'B' (42 00).
        assert_eq!(
            cmp_hash(&raw_name("\u{100}"), &raw_name("B")),
            Ordering::Less
        );
        // On a tie over the shorter length, the longer sorts first.
        assert_eq!(cmp_hash(&[1, 0], &[1, 0, 0, 0]), Ordering::Greater);
    }

    #[test]
    fn filetime_round_trips_the_epochs() {
        assert_eq!(
            u64::from_le_bytes(filetime(UNIX_EPOCH)),
            UNIX_EPOCH_FILETIME as u64
        );
        let t1601 = UNIX_EPOCH - std::time::Duration::from_secs(11_644_473_600);
        assert_eq!(u64::from_le_bytes(filetime(t1601)), 0);
    }
}
