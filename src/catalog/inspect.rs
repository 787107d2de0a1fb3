//! The verify-then-parse gate shared by `supctl catalog ...` commands.
//!
//! Trust rule 1: nothing is extracted from a cabinet whose signature does not verify, and,
//! when approved signers are given, whose signer is not one of them. Unsigned catalogs (and
//! bare XML, which has no container signature) are parsed only when no approval is required,
//! so that admins can look at a catalog before deciding to trust it.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};

use chrono::{DateTime, Utc};

use super::extract::{ExtractError, Extracted, extract_with};
use super::limits::CatalogLimits;
use super::sdp::KeepXml;
use crate::ids::Thumbprint;
use crate::trust::{
    SignatureReport, SignatureStatus, SignerReport, TrustDecision, evaluate, expired_signer,
    expired_signer_reason, verify_cab, verify_cab_file,
};

/// What was verified, what was decided and, if allowed, what was parsed.
#[derive(Debug, Clone)]
pub struct Inspection {
    pub signature: SignatureReport,
    /// The policy decision when approved signers were given.
    pub decision: Option<TrustDecision>,
    /// Why parsing was refused; `extracted` is `None` exactly when this is set.
    pub refused: Option<String>,
    pub extracted: Option<Extracted>,
}

impl Inspection {
    /// The signer that expired with no timestamp covering it, whether or not a policy was
    /// given: `plan` refuses such a catalog unless it sets `allow_expired_signer`, so
    /// `catalog inspect` says so up front.
    pub fn expired_signer(&self) -> Option<&SignerReport> {
        expired_signer(&self.signature)
    }

    /// `Some(true)` when approved signers were given and one signed the catalog.
    pub fn trusted(&self) -> Option<bool> {
        self.decision
            .as_ref()
            .map(|d| matches!(d, TrustDecision::Trusted { .. }))
    }
}

/// Which catalog signers are trusted: the catalog's `signers` and `[[certificate]]` rules.
#[derive(Debug, Clone, Copy)]
pub struct SignerPolicy<'a> {
    pub approved: &'a [Thumbprint],
    pub blocked: &'a [Thumbprint],
    /// Accept a signer that expired without a covering timestamp.
    pub allow_expired: bool,
}

impl<'a> SignerPolicy<'a> {
    /// Approves exactly `approved`, blocks nothing, refuses expired signers.
    pub fn approving(approved: &'a [Thumbprint]) -> Self {
        Self {
            approved,
            blocked: &[],
            allow_expired: false,
        }
    }
}

/// Verifies `data` (a catalog cabinet, or a bare XML) and parses it if the gate allows. The
/// records carry their packages' hashes, not their XML: inspecting publishes nothing.
/// `policy = None` inspects without a trust decision; `Some(policy)` requires an approved,
/// unblocked signer. Expired signers without a covering timestamp are refused unless the
/// policy allows them, as Windows does.
pub fn inspect(
    data: &[u8],
    policy: Option<&SignerPolicy<'_>>,
    limits: &CatalogLimits,
    now: DateTime<Utc>,
) -> Result<Inspection, ExtractError> {
    let mut inspection = verify(data, policy, now);
    if inspection.refused.is_none() {
        inspection.extracted = Some(extract_with(data, limits, now, KeepXml::None)?);
    }
    Ok(inspection)
}

/// The gate without extraction: the signature, the policy decision and, when parsing is
/// not allowed, why. `extracted` is always `None`.
pub fn verify(data: &[u8], policy: Option<&SignerPolicy<'_>>, now: DateTime<Utc>) -> Inspection {
    let signature = if data.starts_with(b"MSCF") {
        verify_cab(data, now)
    } else {
        bare_xml()
    };
    decide(signature, policy)
}

/// [`verify`] reading the catalog from `file` as it hashes it, never holding it whole: what
/// `catalog inspect` uses, so that looking at a 500 MB catalog costs no 500 MB. An error
/// reading the file makes the signature Invalid, naming the error.
///
/// What is verified is the file as it was read here; whoever then parses the same open
/// file relies on nobody rewriting it in between, which holds for an admin's own file and
/// a download in a private temporary directory (a file replaced by rename keeps the open
/// handle's contents).
pub fn verify_file(
    file: &File,
    policy: Option<&SignerPolicy<'_>>,
    now: DateTime<Utc>,
) -> std::io::Result<Inspection> {
    let signature = if is_cabinet(file)? {
        verify_cab_file(file, now)
    } else {
        bare_xml()
    };
    Ok(decide(signature, policy))
}

/// Whether `file` starts with the cabinet magic (else it is read as a bare catalog XML).
pub fn is_cabinet(file: &File) -> std::io::Result<bool> {
    let mut head = file;
    head.seek(SeekFrom::Start(0))?;
    let mut magic = Vec::with_capacity(4);
    head.take(4).read_to_end(&mut magic)?;
    Ok(magic == b"MSCF")
}

fn bare_xml() -> SignatureReport {
    SignatureReport {
        status: SignatureStatus::Unsigned,
        reason: Some("a bare catalog XML carries no Authenticode signature".into()),
        signers: Vec::new(),
    }
}

/// The policy's decision on `signature` and, when parsing is not allowed, why.
fn decide(signature: SignatureReport, policy: Option<&SignerPolicy<'_>>) -> Inspection {
    let decision = policy.map(|p| evaluate(&signature, p.approved, p.blocked, p.allow_expired));
    let refused = match (&decision, signature.status) {
        (Some(TrustDecision::Trusted { .. }), _) => None,
        (Some(TrustDecision::Untrusted { signers }), _) => Some(format!(
            "the catalog signer is not approved (signed by {})",
            signers
                .iter()
                .map(|s| format!("{} [{}]", s.certificate.subject, s.certificate.sha1))
                .collect::<Vec<_>>()
                .join(", ")
        )),
        (Some(TrustDecision::Invalid { reason }), _) => {
            Some(format!("the catalog signature is invalid: {reason}"))
        }
        (Some(TrustDecision::Expired { signer }), _) => Some(expired_signer_reason(signer)),
        (Some(TrustDecision::Unsigned), _) => {
            Some("the catalog is unsigned and signers are required".into())
        }
        (None, SignatureStatus::Invalid) => Some(format!(
            "the catalog signature is invalid: {}",
            signature.reason.as_deref().unwrap_or("it does not verify")
        )),
        (None, _) => None,
    };
    Inspection {
        signature,
        decision,
        refused,
        extracted: None,
    }
}
