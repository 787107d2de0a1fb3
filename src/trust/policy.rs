//! The trust policy: turns a [`SignatureReport`] into a decision against the approved and
//! blocked signer thumbprints, the way ConfigMgr treats catalog signers and content
//! certificates (authenticode.md §7): every signature must verify, blocked always wins, and one
//! approved verified signer is enough.

use serde::{Deserialize, Serialize};

use super::authenticode::{SignatureReport, SignatureStatus, SignerReport};
use crate::ids::Thumbprint;

/// The decision for one file. `Untrusted` carries every signer so the plan can show them as
/// pending approval (or as blocked) with the exact line to approve them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "decision", rename_all = "lowercase")]
pub enum TrustDecision {
    Trusted {
        signer: SignerReport,
    },
    Untrusted {
        signers: Vec<SignerReport>,
    },
    Invalid {
        reason: String,
    },
    /// Every signature verifies, but `signer` had expired with no verified timestamp showing
    /// the file was signed before that, and expired signers are not allowed. Apart from
    /// `Invalid`: nothing was altered, and the admin's remedy is a setting, not a download.
    Expired {
        signer: SignerReport,
    },
    Unsigned,
}

/// Applies the policy.
///
/// - Unsigned stays Unsigned and an invalid signature stays Invalid (11516 / 11508).
/// - An expired signer with no verified timestamp covering it is Expired unless
///   `allow_expired`: Windows rejects such signatures, but catalogs do ship long-expired content
///   certificates that admins approve knowingly.
/// - A signer matching `blocked` (SHA-1 or SHA-256 thumbprint) makes the file Untrusted even if
///   another signer is approved: a block is never overridden.
/// - Otherwise the first verified signer matching `approved` makes it Trusted.
pub fn evaluate(
    report: &SignatureReport,
    approved: &[Thumbprint],
    blocked: &[Thumbprint],
    allow_expired: bool,
) -> TrustDecision {
    match report.status {
        SignatureStatus::Unsigned => return TrustDecision::Unsigned,
        SignatureStatus::Invalid => {
            return TrustDecision::Invalid {
                reason: report
                    .reason
                    .clone()
                    .unwrap_or_else(|| "the signature does not verify".to_string()),
            };
        }
        SignatureStatus::Valid => {}
    }
    if report.signers.is_empty() {
        return TrustDecision::Invalid {
            reason: "a valid report without signers".to_string(),
        };
    }
    if !allow_expired && let Some(s) = expired_signer(report) {
        return TrustDecision::Expired { signer: s.clone() };
    }
    let matches =
        |s: &SignerReport, list: &[Thumbprint]| list.iter().any(|t| s.certificate.matches(t));
    if report.signers.iter().any(|s| matches(s, blocked)) {
        return TrustDecision::Untrusted {
            signers: report.signers.clone(),
        };
    }
    match report.signers.iter().find(|s| matches(s, approved)) {
        Some(s) => TrustDecision::Trusted { signer: s.clone() },
        None => TrustDecision::Untrusted {
            signers: report.signers.clone(),
        },
    }
}

/// The first signer of a verified report that had expired with no verified timestamp
/// covering it (`SignerReport::expired` is judged at the timestamp when there is one).
pub fn expired_signer(report: &SignatureReport) -> Option<&SignerReport> {
    if report.status != SignatureStatus::Valid {
        return None;
    }
    report.signers.iter().find(|s| s.expired)
}

/// Why a catalog whose signer expired is refused. `plan` and `catalog inspect` both say it
/// in these words, so what an admin reads in one is what they find in the other.
pub fn expired_signer_reason(signer: &SignerReport) -> String {
    let c = &signer.certificate;
    format!(
        "the catalog signer {} (SHA-1 {}) was valid from {} to {} and has expired; no verified timestamp shows the catalog was signed before that",
        c.subject,
        c.sha1,
        c.not_before.format("%Y-%m-%d"),
        c.not_after.format("%Y-%m-%d")
    )
}

/// What to do about an expired catalog signer: the setting that accepts it (in `[catalog.KEY]`
/// when the catalog is known), and the better fix.
pub fn expired_signer_hint(catalog: Option<&str>) -> String {
    let table = catalog.map_or("the catalog's table (or [defaults])".to_string(), |k| {
        format!("[catalog.{k}]")
    });
    format!(
        "vendors do ship catalogs signed by a certificate that has since expired; if you trust this one, set `allow_expired_signer = true` in {table}; better, ask the vendor to re-sign it with a current certificate or a timestamp"
    )
}

/// The exact TOML an admin adds to approve `signer`, with a comment naming it so that a
/// reviewer of the config change sees who is being trusted and until when.
pub fn approve_line(signer: &SignerReport) -> String {
    format!(
        "signers = [\"{}\"]  # {}, valid until {}",
        signer.certificate.sha1,
        signer.certificate.subject,
        signer.certificate.not_after.format("%Y-%m-%d")
    )
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};

    use super::*;
    use crate::ids::{Sha1, Sha256};
    use crate::trust::{CertificateFacts, CertificateInfo};

    fn signer(tag: u8, expired: bool) -> SignerReport {
        SignerReport {
            certificate: CertificateInfo {
                facts: CertificateFacts {
                    subject: format!("CN=Signer {tag}"),
                    issuer: "CN=Root".into(),
                    serial: format!("{tag:02x}"),
                    sha1: Sha1([tag; 20]),
                    sha256: Sha256([tag; 32]),
                    not_before: Utc.with_ymd_and_hms(2025, 1, 1, 0, 0, 0).unwrap(),
                    not_after: Utc.with_ymd_and_hms(2027, 1, 1, 0, 0, 0).unwrap(),
                },
                der: vec![tag],
            },
            digest_algorithm: "sha256".into(),
            timestamp: None,
            nested: false,
            expired,
        }
    }

    fn valid(signers: Vec<SignerReport>) -> SignatureReport {
        SignatureReport {
            status: SignatureStatus::Valid,
            reason: None,
            signers,
        }
    }

    fn sha1(tag: u8) -> Thumbprint {
        Thumbprint::from(&Sha1([tag; 20]))
    }

    #[test]
    fn approved_by_sha1_or_sha256() {
        let r = valid(vec![signer(1, false)]);
        assert!(matches!(
            evaluate(&r, &[sha1(1)], &[], false),
            TrustDecision::Trusted { .. }
        ));
        let by256 = Thumbprint::from(&Sha256([1; 32]));
        assert!(matches!(
            evaluate(&r, &[by256], &[], false),
            TrustDecision::Trusted { .. }
        ));
        assert!(matches!(
            evaluate(&r, &[sha1(2)], &[], false),
            TrustDecision::Untrusted { .. }
        ));
    }

    #[test]
    fn one_approved_signer_is_enough_but_blocked_wins() {
        let r = valid(vec![signer(1, false), signer(2, false)]);
        match evaluate(&r, &[sha1(2)], &[], false) {
            TrustDecision::Trusted { signer } => assert_eq!(signer.certificate.sha1, Sha1([2; 20])),
            other => panic!("{other:?}"),
        }
        let blocked = Thumbprint::from(&Sha256([1; 32]));
        assert!(matches!(
            evaluate(&r, &[sha1(1), sha1(2)], &[blocked], false),
            TrustDecision::Untrusted { .. }
        ));
    }

    #[test]
    fn expired_without_timestamp_needs_allow_expired() {
        let r = valid(vec![signer(1, true)]);
        match evaluate(&r, &[sha1(1)], &[], false) {
            TrustDecision::Expired { signer } => {
                let reason = expired_signer_reason(&signer);
                assert!(reason.contains("to 2027-01-01 and has expired"), "{reason}")
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            evaluate(&r, &[sha1(1)], &[], true),
            TrustDecision::Trusted { .. }
        ));
    }

    #[test]
    fn invalid_and_unsigned_pass_through() {
        let inv = SignatureReport {
            status: SignatureStatus::Invalid,
            reason: Some("file digest mismatch".into()),
            signers: vec![],
        };
        assert_eq!(
            evaluate(&inv, &[sha1(1)], &[], true),
            TrustDecision::Invalid {
                reason: "file digest mismatch".into()
            }
        );
        let uns = SignatureReport {
            status: SignatureStatus::Unsigned,
            reason: Some("none".into()),
            signers: vec![],
        };
        assert_eq!(
            evaluate(&uns, &[sha1(1)], &[], true),
            TrustDecision::Unsigned
        );
        assert!(matches!(
            evaluate(&valid(vec![]), &[], &[], true),
            TrustDecision::Invalid { .. }
        ));
    }

    #[test]
    fn approve_line_is_pasteable_toml() {
        let line = approve_line(&signer(0xAB, false));
        assert_eq!(
            line,
            format!(
                "signers = [\"{}\"]  # CN=Signer 171, valid until 2027-01-01",
                "AB".repeat(20)
            )
        );
        let parsed: toml::Table = toml::from_str(&line).unwrap();
        assert_eq!(parsed["signers"][0].as_str().unwrap(), "AB".repeat(20));
    }

    #[test]
    fn statuses_serialize_lowercase() {
        assert_eq!(
            serde_json::to_string(&SignatureStatus::Unsigned).unwrap(),
            "\"unsigned\""
        );
        let d = serde_json::to_value(TrustDecision::Unsigned).unwrap();
        assert_eq!(d["decision"], "unsigned");
    }
}
