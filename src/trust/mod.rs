//! Who signed what: certificates, Authenticode verification and the trust policy.
//!
//! `authenticode` answers "which signatures does this file carry, and do they verify?";
//! `policy` answers "do we trust it?" against the approved and blocked thumbprints. Keeping
//! the two apart lets the plan show a verified-but-unapproved signer as pending approval.

/// Authenticode and certificate facts, a leaf crate of the workspace (`crates/authenticode`).
pub use supctl_authenticode as authenticode;
pub mod policy;
mod stream;

pub use authenticode::{
    AuthenticodeError, CertificateError, CertificateFacts, CertificateInfo, DigestAlgorithm,
    SignatureInfo, SignatureReport, SignatureStatus, SignerReport, cab_signature_span,
    inspect_signature, verify_cab, verify_cab_file, verify_file, verify_msi, verify_pe,
    verify_pkcs7,
};
pub use policy::{
    TrustDecision, approve_line, evaluate, expired_signer, expired_signer_hint,
    expired_signer_reason,
};
pub(crate) use stream::for_each_chunk;
pub use stream::{ContentCheck, check_file};
