//! The PE layout and image digest against goblin 0.10 (`authenticode_ranges()` behind the
//! checks of the verifier this crate used before its own header parser), on synthetic layouts
//! and on mutated fixtures. Also the synthetic-image builder the stream tests use.

use std::panic::{AssertUnwindSafe, catch_unwind};

use chrono::{DateTime, TimeZone, Utc};
use goblin::pe::PE;
use goblin::pe::certificate_table::AttributeCertificateType;
use goblin::pe::options::ParseOptions;

use super::digest::DigestAlgorithm;
use super::fuzz_tests::{XorShift, fixture};
use super::pe::{self, PeLayout};
use super::verify::{self, DigestCache};
use super::{AuthenticodeError, SignatureStatus, report, verify_pe};

/// A synthetic image: headers, sections placed anywhere, optionally a certificate table.
#[derive(Clone, Debug)]
pub(crate) struct Spec {
    pub(crate) pe64: bool,
    pub(crate) size_of_headers: u32,
    /// (PointerToRawData, SizeOfRawData) in section-table order.
    pub(crate) sections: Vec<(u32, u32)>,
    /// File length before the certificate table.
    pub(crate) len: usize,
    /// PKCS#7 blobs, one WIN_CERTIFICATE each, appended as the certificate table.
    pub(crate) signatures: Vec<Vec<u8>>,
}

impl Spec {
    pub(crate) fn plain(sections: Vec<(u32, u32)>, len: usize) -> Self {
        Self {
            pe64: false,
            size_of_headers: 0x400,
            sections,
            len,
            signatures: Vec::new(),
        }
    }
}

const E_LFANEW: usize = 0x80;

/// Builds the image: pseudo-random bytes, with zeroed headers holding only what matters
/// (no data directory but the certificate table, so goblin parses nothing else).
pub(crate) fn build(spec: &Spec) -> Vec<u8> {
    let mut rng = XorShift(0x1234_5678_9ABC_DEF1 ^ spec.len as u64);
    let mut d: Vec<u8> = (0..spec.len).map(|_| rng.next() as u8).collect();
    let opt_len = if spec.pe64 { 240 } else { 224 };
    let opt = E_LFANEW + 24;
    let table = opt + opt_len;
    let end = (table + 40 * spec.sections.len()).min(d.len());
    d[..end].fill(0);
    let put = |d: &mut Vec<u8>, at: usize, v: &[u8]| {
        if at + v.len() <= d.len() {
            d[at..at + v.len()].copy_from_slice(v);
        }
    };
    put(&mut d, 0, b"MZ");
    put(&mut d, 0x3C, &(E_LFANEW as u32).to_le_bytes());
    put(&mut d, E_LFANEW, b"PE\0\0");
    let machine: u16 = if spec.pe64 { 0x8664 } else { 0x14C };
    put(&mut d, E_LFANEW + 4, &machine.to_le_bytes());
    put(
        &mut d,
        E_LFANEW + 6,
        &(spec.sections.len() as u16).to_le_bytes(),
    );
    put(&mut d, E_LFANEW + 20, &(opt_len as u16).to_le_bytes());
    put(&mut d, E_LFANEW + 22, &0x0102u16.to_le_bytes());
    put(
        &mut d,
        opt,
        &(if spec.pe64 { 0x20Bu16 } else { 0x10B }).to_le_bytes(),
    );
    put(&mut d, opt + 32, &0x1000u32.to_le_bytes()); // SectionAlignment
    put(&mut d, opt + 36, &0x200u32.to_le_bytes()); // FileAlignment
    put(&mut d, opt + 56, &0x10_0000u32.to_le_bytes()); // SizeOfImage
    put(&mut d, opt + 60, &spec.size_of_headers.to_le_bytes());
    put(&mut d, opt + 64, &0xDEAD_BEEFu32.to_le_bytes()); // CheckSum
    put(&mut d, opt + 68, &3u16.to_le_bytes()); // console subsystem
    let rva_count_at = if spec.pe64 { opt + 108 } else { opt + 92 };
    put(&mut d, rva_count_at, &16u32.to_le_bytes());
    for (i, (pointer, size)) in spec.sections.iter().enumerate() {
        let at = table + 40 * i;
        put(&mut d, at, format!(".s{i}").as_bytes());
        put(&mut d, at + 8, &size.to_le_bytes());
        put(&mut d, at + 12, &(0x1000 * (i as u32 + 1)).to_le_bytes());
        put(&mut d, at + 16, &size.to_le_bytes());
        put(&mut d, at + 20, &pointer.to_le_bytes());
        put(&mut d, at + 36, &0x6000_0020u32.to_le_bytes());
    }
    if !spec.signatures.is_empty() {
        let start = d.len();
        for p7 in &spec.signatures {
            d.extend_from_slice(&(8 + p7.len() as u32).to_le_bytes());
            d.extend_from_slice(&0x0200u16.to_le_bytes());
            d.extend_from_slice(&2u16.to_le_bytes());
            d.extend_from_slice(p7);
            d.resize(start + (d.len() - start).next_multiple_of(8), 0);
        }
        let size = (d.len() - start) as u32;
        let entry = opt + if spec.pe64 { 144 } else { 128 };
        put(&mut d, entry, &(start as u32).to_le_bytes());
        put(&mut d, entry + 4, &size.to_le_bytes());
    }
    d
}

/// The digest as the goblin-based verifier computed it: goblin's parse, its layout checks,
/// then `authenticode_ranges()`. `None` where it refused the image.
fn goblin_digest(data: &[u8], alg: DigestAlgorithm) -> Option<Vec<u8>> {
    let mut opts = ParseOptions::default();
    opts.parse_imports = false;
    opts.parse_resources = false;
    opts.parse_tls_data = false;
    let image = catch_unwind(|| PE::parse_with_opts(data, &opts))
        .ok()?
        .ok()?;
    let oh = image.header.optional_header.as_ref()?;
    let len = data.len();
    let soh = oh.windows_fields.size_of_headers as usize;
    let opt = image.header.dos_header.pe_pointer as usize + 24;
    let dd_end = opt + if image.is_64 { 152 } else { 136 };
    if soh > len || dd_end > soh {
        return None;
    }
    let mut sum = soh;
    for s in image.sections.iter().filter(|s| s.size_of_raw_data != 0) {
        let end = (s.pointer_to_raw_data as usize).checked_add(s.size_of_raw_data as usize)?;
        if end > len {
            return None;
        }
        sum += s.size_of_raw_data as usize;
    }
    let (ct_start, ct_size) = oh
        .data_directories
        .get_certificate_table()
        .map(|dd| (dd.virtual_address as usize, dd.size as usize))
        .unwrap_or((len, 0));
    if ct_size != 0 && ct_start + ct_size != len || len > sum && ct_size + sum > len {
        return None;
    }
    let mut h = alg.hasher();
    catch_unwind(AssertUnwindSafe(|| {
        image.authenticode_ranges().for_each(|r| h.update(r))
    }))
    .ok()?;
    Some(h.finish())
}

fn our_digest(data: &[u8], alg: DigestAlgorithm) -> Option<Vec<u8>> {
    let layout = PeLayout::parse(data).ok()?;
    layout.validate(data.len() as u64).ok()?;
    pe::image_digest(&layout, data, alg).ok()
}

/// Layouts the Microsoft algorithm treats specially: unsorted tables, zero-size sections,
/// gaps (trailing data then starts at SUM_OF_BYTES_HASHED, before the last section's end),
/// overlaps, odd lengths (zero padding), PE32+, and certificate tables.
pub(crate) fn layouts() -> Vec<Spec> {
    let mut specs = vec![
        Spec::plain(vec![(0x400, 0x200)], 0x600),
        Spec::plain(vec![(0x600, 0x200), (0x400, 0x200), (0x800, 0)], 0xA00),
        Spec::plain(vec![(0x400, 0x200), (0x600, 0x100)], 0x7FF),
        Spec::plain(vec![(0x400, 0x200), (0x600, 0x100)], 0x9A3),
        Spec::plain(vec![(0x400, 0x200), (0x800, 0x100)], 0xC01),
        Spec::plain(vec![(0x400, 0x200), (0x500, 0x200)], 0x900),
        Spec::plain(vec![(0x200, 0x300)], 0x800),
        Spec::plain(vec![], 0x433),
        Spec::plain(vec![(0x400, 0x200), (0x400, 0x200)], 0xA00),
    ];
    let mut pe64 = Spec::plain(vec![(0x600, 0x400), (0x400, 0x200), (0xA00, 0x80)], 0xB00);
    pe64.pe64 = true;
    specs.push(pe64);
    let mut small_headers = Spec::plain(vec![(0x200, 0x200)], 0x400);
    small_headers.size_of_headers = 0x100;
    specs.push(small_headers);
    let fake = vec![0x30, 0x03, 0x02, 0x01, 0x00];
    for base in specs.clone() {
        specs.push(Spec {
            signatures: vec![fake.clone()],
            ..base
        });
    }
    specs
}

#[test]
fn synthetic_layouts_hash_like_goblin() {
    for spec in layouts() {
        let d = build(&spec);
        for alg in [DigestAlgorithm::Sha1, DigestAlgorithm::Sha256] {
            let ours = our_digest(&d, alg);
            assert!(ours.is_some() || spec.size_of_headers < 0x200, "{spec:?}");
            // goblin aligns certificate entries to absolute file offsets, so it misreads a
            // table that does not start on an 8-byte boundary (see `unaligned_table`).
            if spec.signatures.is_empty() || spec.len % 8 == 0 {
                assert_eq!(ours, goblin_digest(&d, alg), "{spec:?}");
            }
        }
    }
}

/// Entries follow each other at their length rounded up to 8 from the entry's start (PE/COFF
/// specification, attribute certificate table), wherever the table starts.
#[test]
fn unaligned_table() {
    let mut spec = Spec::plain(vec![(0x400, 0x200)], 0x603);
    spec.signatures = vec![vec![1, 2, 3], vec![4; 9], vec![5]];
    let d = build(&spec);
    let layout = PeLayout::parse(&d).unwrap();
    let table = layout.certificate_table_in(&d).unwrap();
    let blobs = pe::signatures(table).unwrap();
    assert_eq!(blobs, [&[1, 2, 3][..], &[4; 9], &[5]]);
    assert_eq!(goblin_digest(&d, DigestAlgorithm::Sha1), None);
}

#[test]
fn signed_fixtures_hash_like_goblin() {
    let pe64 = format!("{}/testdata/pe64-sha384.exe", env!("CARGO_MANIFEST_DIR"));
    let pe64 = std::fs::read(pe64).unwrap();
    for (name, d) in ["pe-unsigned.exe", "pe-signed.exe", "pe-nested.exe"]
        .map(|n| (n, fixture(n)))
        .into_iter()
        .chain([("pe64-sha384.exe", pe64)])
    {
        let ours = our_digest(&d, DigestAlgorithm::Sha256);
        assert!(ours.is_some(), "{name}");
        assert_eq!(ours, goblin_digest(&d, DigestAlgorithm::Sha256), "{name}");
    }
}

/// The verdict of the goblin-based verifier: goblin's parse (which also parses directories
/// the digest ignores), its certificate entries, then the shared PKCS#7 checks.
fn goblin_status(data: &[u8]) -> SignatureStatus {
    let r = report(pe::UNSIGNED_REASON, || {
        let mut opts = ParseOptions::default();
        opts.parse_imports = false;
        opts.parse_resources = false;
        opts.parse_tls_data = false;
        let Ok(image) = PE::parse_with_opts(data, &opts) else {
            return Err(AuthenticodeError::Pe("goblin".into()));
        };
        let blobs: Vec<&[u8]> = image
            .certificates
            .iter()
            .filter(|c| c.certificate_type == AttributeCertificateType::PkcsSignedData)
            .map(|c| c.certificate)
            .collect();
        if blobs.is_empty() {
            return match image
                .header
                .optional_header
                .and_then(|oh| oh.data_directories.get_certificate_table().copied())
            {
                Some(dd) if dd.size != 0 => Err(AuthenticodeError::Pe("no PKCS#7".into())),
                _ => Ok(None),
            };
        }
        let compute =
            |alg| goblin_digest(data, alg).ok_or_else(|| AuthenticodeError::Pe("layout".into()));
        let mut digests = DigestCache::new(&compute);
        let mut signers = Vec::new();
        for blob in blobs {
            signers.extend(verify::verify_blob(blob, &mut digests, now())?);
        }
        Ok(Some(signers))
    });
    r.status
}

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap()
}

/// Mutated fixtures, mostly in the headers where the layout comes from: wherever goblin
/// computed a digest ours is the same, and the verdict (Valid / Invalid / Unsigned) is the
/// goblin-based verifier's. The reasons differ where goblin refused a directory the digest
/// ignores: those bytes are hashed, so the digest check fails instead.
#[test]
fn mutated_fixtures_match_goblin() {
    let mut rng = XorShift(0xA076_1D64_78BD_642F);
    let mut compared = 0;
    let mut valid = 0;
    for name in ["pe-signed.exe", "pe-nested.exe"] {
        let base = fixture(name);
        for round in 0..1500 {
            let mut d = base.clone();
            let span = if round % 4 == 0 { d.len() } else { 0x200 };
            for _ in 0..1 + round % 3 {
                let i = rng.below(span);
                d[i] ^= 1 << rng.below(8);
            }
            if round % 7 == 0 {
                d.truncate(rng.below(d.len()));
            }
            if let (Some(a), Some(b)) = (
                our_digest(&d, DigestAlgorithm::Sha1),
                goblin_digest(&d, DigestAlgorithm::Sha1),
            ) {
                assert_eq!(a, b, "{name} round {round}");
                compared += 1;
            }
            let status = verify_pe(&d, now()).status;
            assert_eq!(status, goblin_status(&d), "{name} round {round}");
            valid += usize::from(status == SignatureStatus::Valid);
        }
    }
    assert!(compared > 1500, "only {compared} digests compared");
    assert!(valid > 50, "only {valid} still valid");
}
