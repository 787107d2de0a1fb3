//! Authenticode verification of catalog CABs and update binaries (PE, MSI), and the X.509
//! facts (subject, validity, thumbprints) of the certificates that sign them. A leaf crate of
//! supctl's workspace: it imports nothing from supctl but its ids (`supctl-ids`).
//!
//! No crate verifies Authenticode on a CAB, so supctl composes it (crates.md §4): the container
//! modules locate the PKCS#7 and compute the container digest, `pkcs7`/`der` read the signature
//! while keeping the original bytes, `crypto` verifies with aws-lc-rs, `timestamp` handles
//! RFC 3161 tokens and countersignatures. The public entry points never panic and never fail:
//! they return a [`SignatureReport`] whose status the trust policy (supctl's `trust::policy`)
//! turns into a decision. Byte ranges and checks follow `reference/authenticode.md`.
//!
//! [`StreamingVerifier`] does the same for a file read once, in order: it computes the file's
//! SHA-1 and SHA-256 along the way and keeps only a PE image's headers and certificate table.
//! [`verify_cab_file`] verifies a catalog CAB from a file with positional reads, holding its
//! header, its PKCS#7 and a read buffer but never the file.

mod cab;
mod cab_source;
mod certificate;
mod crypto;
mod der;
mod digest;
mod image_hash;
mod msi;
mod pe;
mod pkcs7;
mod stream;
mod timestamp;
mod verify;

#[cfg(test)]
mod cab_file_tests;
#[cfg(test)]
mod fuzz_tests;
#[cfg(test)]
mod pe_tests;
#[cfg(test)]
mod stream_tests;

use std::fs::File;
use std::panic::{AssertUnwindSafe, catch_unwind};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

pub use cab::cab_signature_span;
pub use der::DerError;
pub use digest::{DigestAlgorithm, Hasher};
pub use stream::{StreamOptions, StreamOutcome, StreamingVerifier};

pub use certificate::{CertificateError, CertificateFacts, CertificateInfo, facts_only};
use verify::DigestCache;

/// Outcome of verifying a file's signatures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SignatureStatus {
    /// Every signature present verified (the signer may still be expired; see
    /// [`SignerReport::expired`]).
    Valid,
    /// A signature is present but does not verify, or the container is corrupt.
    Invalid,
    /// No signature at all: ConfigMgr's 11516 "content is unsigned" case.
    Unsigned,
}

/// One verified signer. Reports carry the full certificate so that the plan can show what an
/// admin is approving and `approve_line` can print the TOML to approve it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignerReport {
    pub certificate: CertificateInfo,
    /// Digest algorithm of this signature's file digest: "sha1" | "sha256" | "sha384".
    pub digest_algorithm: String,
    /// Time of a verified timestamp (RFC 3161 genTime or countersignature signingTime).
    pub timestamp: Option<DateTime<Utc>>,
    /// True for signatures found in the nested-signature attribute (1.3.6.1.4.1.311.2.4.1).
    pub nested: bool,
    /// The certificate had expired at the verification time: the verified timestamp if there is
    /// one, else `now`. An expired signer without a timestamp covering it is rejected by policy
    /// unless expired signers are allowed.
    pub expired: bool,
}

/// What verifying a file found: a status, why (for Invalid and Unsigned), and every verified
/// signer (primary first, then nested ones, then further PE certificate entries).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignatureReport {
    pub status: SignatureStatus,
    pub reason: Option<String>,
    pub signers: Vec<SignerReport>,
}

impl SignatureReport {
    fn valid(signers: Vec<SignerReport>) -> Self {
        Self {
            status: SignatureStatus::Valid,
            reason: None,
            signers,
        }
    }

    fn invalid(reason: String) -> Self {
        Self {
            status: SignatureStatus::Invalid,
            reason: Some(reason),
            signers: Vec::new(),
        }
    }

    fn unsigned(reason: &str) -> Self {
        Self {
            status: SignatureStatus::Unsigned,
            reason: Some(reason.to_string()),
            signers: Vec::new(),
        }
    }
}

/// Why a signature or its container failed verification. Each variant is one check of
/// authenticode.md §6, so the reason an admin sees names the failed step.
#[derive(Debug, thiserror::Error)]
pub enum AuthenticodeError {
    #[error("not a {0} file")]
    NotContainer(&'static str),
    #[error("corrupt cabinet signature header: {0}")]
    CabHeader(String),
    #[error("PE image: {0}")]
    Pe(String),
    #[error("MSI package: {0}")]
    Msi(String),
    #[error(
        "MsiDigitalSignatureEx mismatch: the stream holds {stored}, the package metadata hashes to {computed}"
    )]
    MsiDigitalSignatureEx { stored: String, computed: String },
    #[error("signature is {0} bytes, over the {max} byte limit", max = verify::MAX_SIGNATURE_LEN)]
    SignatureTooLarge(usize),
    #[error("malformed PKCS#7: {0}")]
    Der(#[from] DerError),
    #[error("PKCS#7 structure: {0}")]
    Structure(String),
    #[error("unsupported digest algorithm {0} (SHA-1, SHA-256 and SHA-384 are accepted)")]
    UnsupportedDigest(String),
    #[error("unsupported signature algorithm {0}")]
    UnsupportedSignatureAlgorithm(String),
    #[error("unsupported public key: {0}")]
    UnsupportedKey(String),
    #[error(
        "file digest mismatch ({algorithm}): the signature covers {signed}, the file hashes to {computed}"
    )]
    DigestMismatch {
        algorithm: &'static str,
        signed: String,
        computed: String,
    },
    #[error("messageDigest attribute does not match the signed content")]
    MessageDigestMismatch,
    #[error("signer certificate not found in the signature ({0})")]
    SignerNotFound(String),
    #[error("signature by {subject} does not verify")]
    BadSignature { subject: String },
    #[error("certificate {subject} lacks the {needed} extended key usage")]
    WrongKeyUsage {
        subject: String,
        needed: &'static str,
    },
    #[error("certificate {subject} is not valid at {at}")]
    CertificateNotValidAt { subject: String, at: DateTime<Utc> },
    #[error("certificate: {0}")]
    Certificate(#[from] CertificateError),
    #[error("certificate: {0}")]
    CertificateParse(String),
    #[error("{kind} timestamp does not verify: {source}")]
    Timestamp {
        kind: &'static str,
        source: Box<AuthenticodeError>,
    },
    #[error("timestamp does not cover the signature value (messageImprint mismatch)")]
    TimestampImprintMismatch,
    /// Reading a file being verified failed ([`verify_cab_file`]); `at` says where ("at offset
    /// 4096", "for its length"). A report has only its reason to carry this, so it is worded
    /// to be read there.
    #[error("cannot read the file {at}: {source}")]
    Io { at: String, source: std::io::Error },
}

/// Runs a verification, mapping errors to Invalid and `Ok(None)` to Unsigned. A panic in a
/// dependency on hostile input becomes Invalid too, so one bad download cannot stop the daemon.
fn report(
    unsigned_reason: &str,
    f: impl FnOnce() -> Result<Option<Vec<SignerReport>>, AuthenticodeError>,
) -> SignatureReport {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(Some(signers))) => SignatureReport::valid(signers),
        Ok(Ok(None)) => SignatureReport::unsigned(unsigned_reason),
        Ok(Err(e)) => SignatureReport::invalid(e.to_string()),
        Err(_) => SignatureReport::invalid("internal error while parsing the signature".into()),
    }
}

pub(crate) fn verify_cab_inner(
    data: &[u8],
    now: DateTime<Utc>,
) -> Result<Option<Vec<SignerReport>>, AuthenticodeError> {
    cab::verify_source(data, now)
}

pub(crate) fn verify_pe_inner(
    data: &[u8],
    now: DateTime<Utc>,
) -> Result<Option<Vec<SignerReport>>, AuthenticodeError> {
    pe::verify_pe_bytes(data, now)
}

pub(crate) fn verify_msi_inner(
    data: &[u8],
    now: DateTime<Utc>,
) -> Result<Option<Vec<SignerReport>>, AuthenticodeError> {
    if !msi::is_msi(data) {
        return Err(AuthenticodeError::NotContainer("MSI (compound file)"));
    }
    let Some(sig) = msi::signature(data)? else {
        return Ok(None);
    };
    let compute = |alg| msi::msi_digest(data, alg, sig.ex.as_deref());
    let mut digests = DigestCache::new(&compute);
    verify::verify_blob(&sig.pkcs7, &mut digests, now).map(Some)
}

/// What a PKCS#7 Authenticode blob claims, before (or without) checking it against a file.
/// Used to show an admin what a signature says and to check conformance against reference
/// signatures whose container is not at hand.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SignatureInfo {
    /// `encapContentInfo.eContentType` (SPC_INDIRECT_DATA, 1.3.6.1.4.1.311.2.1.4).
    pub content_type: String,
    /// `SpcIndirectDataContent.data.type`: …2.1.15 PE, …2.1.25 / …2.1.28 CAB, …2.1.30 MSI.
    pub data_type: String,
    /// "sha1" | "sha256" | "sha384".
    pub digest_algorithm: String,
    /// The container digest the signature covers (upper-case hex).
    pub file_digest: String,
    /// The `messageDigest` signed attribute (upper-case hex).
    pub message_digest: String,
    /// The certificate `SignerInfo.sid` names.
    pub signer: CertificateInfo,
    pub certificates: usize,
    pub nested_signatures: usize,
    /// RFC 3161 tokens plus legacy countersignatures.
    pub timestamps: usize,
}

/// Reads what a PKCS#7 blob claims without verifying it (see [`verify_pkcs7`] for that).
pub fn inspect_signature(pkcs7: &[u8]) -> Result<SignatureInfo, AuthenticodeError> {
    verify::inspect(pkcs7)
}

/// Verifies a PKCS#7 blob whose container digest is computed by the caller, e.g. while
/// streaming a download, or when only the signature is at hand. `container_digest` is called
/// once per digest algorithm the signatures use.
pub fn verify_pkcs7(
    pkcs7: &[u8],
    container_digest: &dyn Fn(DigestAlgorithm) -> Result<Vec<u8>, AuthenticodeError>,
    now: DateTime<Utc>,
) -> SignatureReport {
    report("empty signature", || {
        let mut digests = DigestCache::new(container_digest);
        verify::verify_blob(pkcs7, &mut digests, now).map(Some)
    })
}

const CAB_UNSIGNED_REASON: &str = "the cabinet carries no Authenticode signature";

/// Verifies a catalog CAB's Authenticode signature (and nested ones) as of `now`.
pub fn verify_cab(data: &[u8], now: DateTime<Utc>) -> SignatureReport {
    report(CAB_UNSIGNED_REASON, || verify_cab_inner(data, now))
}

/// [`verify_cab`] for a cabinet in a file, without reading the file into memory: catalogs are
/// 30–500 MB. Only the header, the PKCS#7 (at most 1 MiB, else Invalid as `verify_cab` says)
/// and a 256 KiB read buffer are held; the signed bytes are hashed as they are read, once per
/// digest algorithm the signatures use (a dual-signed catalog is read twice).
///
/// The report is `verify_cab` of the file's bytes, with one addition: an I/O error while reading
/// (or a file that shrinks while it is read) gives an Invalid report whose reason names the
/// offset and the OS error, since a report carries nothing but its reason. The file's length is
/// taken once, when verification starts. Reads are positional (`read_at` / `seek_read`), so the
/// file's cursor is not relied on; on Windows it is left wherever the last read put it.
///
/// The work is I/O- and CPU-bound; call it from a blocking context.
pub fn verify_cab_file(file: &File, now: DateTime<Utc>) -> SignatureReport {
    verify_cab_file_with(file, cab_source::READ_CHUNK, now)
}

/// [`verify_cab_file`] with a chosen read-buffer size (tests cross chunk boundaries with it).
pub(crate) fn verify_cab_file_with(
    file: &File,
    chunk: usize,
    now: DateTime<Utc>,
) -> SignatureReport {
    report(CAB_UNSIGNED_REASON, || {
        let source = cab_source::FileSource::new(file, chunk)?;
        cab::verify_source(&source, now)
    })
}

/// Verifies every signature in a PE image's attribute certificate table as of `now`.
pub fn verify_pe(data: &[u8], now: DateTime<Utc>) -> SignatureReport {
    report(pe::UNSIGNED_REASON, || verify_pe_inner(data, now))
}

/// Verifies an MSI package's `\u{5}DigitalSignature` (with `MsiDigitalSignatureEx` when
/// present) as of `now`.
pub fn verify_msi(data: &[u8], now: DateTime<Utc>) -> SignatureReport {
    report("the MSI package carries no Authenticode signature", || {
        verify_msi_inner(data, now)
    })
}

/// Sniffs the container (MSCF, MZ, compound file) and verifies it. Content staging checks every
/// downloaded file this way (in one pass with [`StreamingVerifier`], whose report is this
/// one's); a format Authenticode cannot sign is reported as Unsigned, which is what ConfigMgr's
/// 11516 says about it.
pub fn verify_file(data: &[u8], now: DateTime<Utc>) -> SignatureReport {
    if cab::is_cab(data) {
        verify_cab(data, now)
    } else if pe::is_pe(data) {
        verify_pe(data, now)
    } else if msi::is_msi(data) {
        verify_msi(data, now)
    } else {
        SignatureReport::unsigned(
            "not a cabinet, PE image or MSI package: no Authenticode signature can be present",
        )
    }
}
