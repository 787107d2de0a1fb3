//! PE (.exe/.dll/.efi) Authenticode: the attribute certificate table and the image digest.
//!
//! The digest ranges come from goblin's `authenticode_ranges()` (the Microsoft PE Authenticode
//! algorithm, authenticode.md §3). goblin slices the file without bounds checks there, so the
//! header fields it relies on are validated first, and the walk runs under `catch_unwind` as a
//! last line of defence: a hostile binary must yield an error, never take the daemon down.

use std::panic::{AssertUnwindSafe, catch_unwind};

use goblin::pe::PE;
use goblin::pe::certificate_table::AttributeCertificateType;
use goblin::pe::options::ParseOptions;

use super::AuthenticodeError;
use super::digest::DigestAlgorithm;

/// True when `data` starts with the DOS magic.
pub(crate) fn is_pe(data: &[u8]) -> bool {
    data.starts_with(b"MZ")
}

fn pe_error(what: impl Into<String>) -> AuthenticodeError {
    AuthenticodeError::Pe(what.into())
}

/// Parses only what Authenticode needs: headers, sections and the certificate table. Imports,
/// resources and TLS are skipped so that an unusual (but validly signed) image still parses.
pub(crate) fn parse(data: &[u8]) -> Result<PE<'_>, AuthenticodeError> {
    let mut opts = ParseOptions::default();
    opts.parse_imports = false;
    opts.parse_resources = false;
    opts.parse_tls_data = false;
    catch_unwind(|| PE::parse_with_opts(data, &opts))
        .map_err(|_| pe_error("the PE parser rejected the image"))?
        .map_err(|e| pe_error(e.to_string()))
}

/// The PKCS#7 blob of every `WIN_CERT_TYPE_PKCS_SIGNED_DATA` entry (a PE may carry several
/// entries; each is a complete signature). Empty when the image is unsigned.
pub(crate) fn signatures<'a>(pe: &PE<'a>) -> Vec<&'a [u8]> {
    pe.certificates
        .iter()
        .filter(|c| c.certificate_type == AttributeCertificateType::PkcsSignedData)
        .map(|c| c.certificate)
        .collect()
}

/// True when the certificate-table data directory is present and non-empty.
pub(crate) fn has_certificate_table(pe: &PE<'_>) -> bool {
    pe.header
        .optional_header
        .as_ref()
        .and_then(|oh| oh.data_directories.get_certificate_table().copied())
        .is_some_and(|dd| dd.size != 0)
}

/// Checks every offset goblin's range iterator will slice with.
fn validate_layout(pe: &PE<'_>, len: usize) -> Result<(), AuthenticodeError> {
    let oh = pe
        .header
        .optional_header
        .as_ref()
        .ok_or_else(|| pe_error("no optional header"))?;
    let size_of_headers = oh.windows_fields.size_of_headers as usize;
    if size_of_headers > len {
        return Err(pe_error(format!(
            "SizeOfHeaders {size_of_headers} exceeds the file length {len}"
        )));
    }
    let opt_off = pe.header.dos_header.pe_pointer as usize + 4 + 20;
    let checksum_end = opt_off + 64 + 4;
    let dd_start = opt_off + if pe.is_64 { 144 } else { 128 };
    let dd_end = dd_start + 8;
    if checksum_end > dd_start || dd_end > size_of_headers {
        return Err(pe_error(
            "the certificate-table directory entry lies outside the headers",
        ));
    }
    let mut sum = size_of_headers;
    for s in pe.sections.iter().filter(|s| s.size_of_raw_data != 0) {
        let start = s.pointer_to_raw_data as usize;
        let size = s.size_of_raw_data as usize;
        if start.checked_add(size).is_none_or(|end| end > len) {
            return Err(pe_error(format!(
                "section {:?} raw data {start}+{size} runs past the end of the file",
                String::from_utf8_lossy(&s.name).trim_end_matches('\0')
            )));
        }
        sum = sum
            .checked_add(size)
            .ok_or_else(|| pe_error("section sizes overflow"))?;
    }
    let (ct_start, ct_size) = oh
        .data_directories
        .get_certificate_table()
        .map(|dd| (dd.virtual_address as usize, dd.size as usize))
        .unwrap_or((len, 0));
    if ct_size != 0 && ct_start.checked_add(ct_size) != Some(len) {
        return Err(pe_error(
            "the attribute certificate table is not at the end of the file",
        ));
    }
    if len > sum && ct_size.checked_add(sum).is_none_or(|n| n > len) {
        return Err(pe_error("sections overlap the attribute certificate table"));
    }
    Ok(())
}

/// The Authenticode image digest (checksum, certificate-table entry and the table excluded;
/// zero padding to a multiple of 8, as goblin implements it).
pub(crate) fn pe_digest(
    pe: &PE<'_>,
    len: usize,
    alg: DigestAlgorithm,
) -> Result<Vec<u8>, AuthenticodeError> {
    validate_layout(pe, len)?;
    let mut h = alg.hasher();
    catch_unwind(AssertUnwindSafe(|| {
        for range in pe.authenticode_ranges() {
            h.update(range);
        }
    }))
    .map_err(|_| pe_error("inconsistent section layout"))?;
    Ok(h.finish())
}
