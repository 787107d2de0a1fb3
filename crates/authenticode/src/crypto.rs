//! Certificates inside a signature: finding the signer's by `sid`, checking its EKU, and
//! verifying signatures with its public key (aws-lc-rs).

use aws_lc_rs::signature::{self as sig, UnparsedPublicKey, VerificationAlgorithm};
use x509_parser::extensions::ParsedExtension;
use x509_parser::prelude::{FromDer, X509Certificate};

use super::AuthenticodeError;
use super::digest::DigestAlgorithm;
use super::pkcs7::SignerId;
use crate::CertificateInfo;

const OID_RSA: &str = "1.2.840.113549.1.1.1";
const OID_EC_PUBLIC_KEY: &str = "1.2.840.10045.2.1";
const OID_P256: &str = "1.2.840.10045.3.1.7";
const OID_P384: &str = "1.3.132.0.34";

/// Which extended key usage a certificate needs for its role.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Usage {
    CodeSigning,
    TimeStamping,
}

/// A certificate from the SignedData, parsed once.
pub(crate) struct Cert<'a> {
    pub der: &'a [u8],
    pub x509: X509Certificate<'a>,
}

impl<'a> Cert<'a> {
    pub(super) fn info(&self) -> Result<CertificateInfo, AuthenticodeError> {
        CertificateInfo::from_der(self.der).map_err(AuthenticodeError::Certificate)
    }

    fn subject(&self) -> String {
        self.x509.subject().to_string()
    }

    fn matches(&self, sid: &SignerId<'_>) -> bool {
        match sid {
            SignerId::IssuerSerial { issuer, serial } => {
                self.x509.issuer().as_raw() == *issuer
                    && strip_zeros(self.x509.raw_serial()) == strip_zeros(serial)
            }
            SignerId::KeyId(id) => self.x509.iter_extensions().any(|e| {
                matches!(e.parsed_extension(), ParsedExtension::SubjectKeyIdentifier(k) if k.0 == *id)
            }),
        }
    }

    /// Enforces the EKU for the certificate's role. A code-signing certificate without the EKU
    /// extension is unrestricted, as in Windows (authenticode.md §6.6); a time-stamping
    /// certificate must carry timeStamping (RFC 3161 §2.3, authenticode.md §6.7).
    pub(super) fn check_usage(&self, usage: Usage) -> Result<(), AuthenticodeError> {
        let eku = self
            .x509
            .extended_key_usage()
            .map_err(|e| AuthenticodeError::CertificateParse(e.to_string()))?;
        let ok = match (usage, eku) {
            (Usage::CodeSigning, None) => true,
            (Usage::CodeSigning, Some(eku)) => eku.value.code_signing,
            (Usage::TimeStamping, eku) => eku.is_some_and(|e| e.value.time_stamping),
        };
        if ok {
            Ok(())
        } else {
            Err(AuthenticodeError::WrongKeyUsage {
                subject: self.subject(),
                needed: match usage {
                    Usage::CodeSigning => "codeSigning",
                    Usage::TimeStamping => "timeStamping",
                },
            })
        }
    }

    /// Verifies `signature` over `message` with this certificate's key. The hash comes from the
    /// signature algorithm when it names one (sha256WithRSAEncryption, ecdsa-with-SHA384, ...),
    /// else from the SignerInfo's digest algorithm (plain rsaEncryption / id-ecPublicKey).
    pub(super) fn verify(
        &self,
        signature_algorithm: &str,
        digest: DigestAlgorithm,
        message: &[u8],
        signature: &[u8],
    ) -> Result<(), AuthenticodeError> {
        let hash = match signature_algorithm {
            OID_RSA | OID_EC_PUBLIC_KEY => digest,
            "1.2.840.113549.1.1.5" | "1.2.840.10045.4.1" => DigestAlgorithm::Sha1,
            "1.2.840.113549.1.1.11" | "1.2.840.10045.4.3.2" => DigestAlgorithm::Sha256,
            "1.2.840.113549.1.1.12" | "1.2.840.10045.4.3.3" => DigestAlgorithm::Sha384,
            other => {
                return Err(AuthenticodeError::UnsupportedSignatureAlgorithm(
                    other.to_string(),
                ));
            }
        };
        let spki = self.x509.public_key();
        let key_alg = spki.algorithm.algorithm.to_id_string();
        let algorithm: &'static dyn VerificationAlgorithm = match key_alg.as_str() {
            OID_RSA => match hash {
                DigestAlgorithm::Sha1 => &sig::RSA_PKCS1_2048_8192_SHA1_FOR_LEGACY_USE_ONLY,
                DigestAlgorithm::Sha256 => &sig::RSA_PKCS1_2048_8192_SHA256,
                DigestAlgorithm::Sha384 => &sig::RSA_PKCS1_2048_8192_SHA384,
            },
            OID_EC_PUBLIC_KEY => {
                let curve = spki
                    .algorithm
                    .parameters
                    .as_ref()
                    .and_then(|p| p.as_oid().ok())
                    .map(|o| o.to_id_string())
                    .unwrap_or_default();
                match (curve.as_str(), hash) {
                    (OID_P256, DigestAlgorithm::Sha1) => &sig::ECDSA_P256_SHA1_ASN1,
                    (OID_P256, DigestAlgorithm::Sha256) => &sig::ECDSA_P256_SHA256_ASN1,
                    (OID_P256, DigestAlgorithm::Sha384) => &sig::ECDSA_P256_SHA384_ASN1,
                    (OID_P384, DigestAlgorithm::Sha256) => &sig::ECDSA_P384_SHA256_ASN1,
                    (OID_P384, DigestAlgorithm::Sha384) => &sig::ECDSA_P384_SHA384_ASN1,
                    _ => {
                        return Err(AuthenticodeError::UnsupportedKey(format!(
                            "EC curve {curve}"
                        )));
                    }
                }
            }
            other => return Err(AuthenticodeError::UnsupportedKey(other.to_string())),
        };
        UnparsedPublicKey::new(algorithm, spki.subject_public_key.data.as_ref())
            .verify(message, signature)
            .map_err(|_| AuthenticodeError::BadSignature {
                subject: self.subject(),
            })
    }
}

fn strip_zeros(b: &[u8]) -> &[u8] {
    let n = b.iter().take_while(|x| **x == 0).count();
    &b[n.min(b.len().saturating_sub(1))..]
}

/// Parses the certificates of a SignedData; unparseable entries are skipped (they cannot be
/// the signer, and a signer that is missing is reported as such).
pub(crate) fn parse_certs<'a>(ders: &[&'a [u8]]) -> Vec<Cert<'a>> {
    ders.iter()
        .filter_map(|der| {
            X509Certificate::from_der(der)
                .ok()
                .filter(|(rest, _)| rest.is_empty())
                .map(|(_, x509)| Cert { der, x509 })
        })
        .collect()
}

/// The certificate a `SignerInfo.sid` names — never simply "the first certificate".
pub(crate) fn find_signer<'c, 'a>(
    certs: &'c [Cert<'a>],
    sid: &SignerId<'_>,
) -> Result<&'c Cert<'a>, AuthenticodeError> {
    certs
        .iter()
        .find(|c| c.matches(sid))
        .ok_or_else(|| AuthenticodeError::SignerNotFound(describe_sid(sid)))
}

fn describe_sid(sid: &SignerId<'_>) -> String {
    match sid {
        SignerId::IssuerSerial { issuer, serial } => {
            let issuer = x509_parser::x509::X509Name::from_der(issuer)
                .map(|(_, n)| n.to_string())
                .unwrap_or_else(|_| "<unparseable issuer>".to_string());
            format!("issuer {issuer}, serial {}", hex::encode_upper(serial))
        }
        SignerId::KeyId(id) => format!("subjectKeyIdentifier {}", hex::encode_upper(id)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serial_comparison_ignores_leading_zero_octets() {
        assert_eq!(strip_zeros(&[0, 0x80, 1]), &[0x80, 1]);
        assert_eq!(strip_zeros(&[0]), &[0]);
        assert_eq!(strip_zeros(&[]), &[] as &[u8]);
    }
}
