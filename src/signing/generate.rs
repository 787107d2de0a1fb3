//! The managed signing certificate: self-signed, RSA 3072, code-signing EKU, as WSUS's own
//! "WSUS Publishers Self-signed" certificate is, with a subject that names the update point
//! so that an admin who finds it in a client's certificate store knows where it came from.

use chrono::{DateTime, Duration, Utc};
use rcgen::{
    CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, KeyPair,
    KeyUsagePurpose, PKCS_RSA_SHA256, RsaKeySize,
};

use super::{SigningError, SigningKey, SigningMaterial};
use crate::trust::CertificateInfo;

/// How far back `notBefore` is set, so a client whose clock is a little behind accepts a
/// certificate made a minute ago.
const CLOCK_SKEW: Duration = Duration::hours(1);

/// A new self-signed code-signing certificate for `update_point`, valid `validity_days`
/// from now (less the clock-skew allowance).
pub fn generate(
    update_point: &str,
    validity_days: u32,
    now: DateTime<Utc>,
) -> Result<SigningMaterial, SigningError> {
    let err = |e: rcgen::Error| SigningError::Generate(e.to_string());
    let key = KeyPair::generate_rsa_for(&PKCS_RSA_SHA256, RsaKeySize::_3072).map_err(err)?;
    let mut params = CertificateParams::new(Vec::<String>::new()).map_err(err)?;
    let mut dn = DistinguishedName::new();
    dn.push(
        DnType::CommonName,
        format!("WSUS Publishers Self-signed ({update_point})"),
    );
    dn.push(DnType::OrganizationName, "supctl");
    params.distinguished_name = dn;
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::CodeSigning];
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    let start = now - CLOCK_SKEW;
    params.not_before = offset(start)?;
    params.not_after = offset(start + Duration::days(i64::from(validity_days)))?;
    // A random serial, as a CA would: two certificates made for the same point differ.
    params.serial_number = Some(rcgen::SerialNumber::from_slice(&serial()?));
    let cert = params.self_signed(&key).map_err(err)?;
    let certificate =
        CertificateInfo::from_der(cert.der()).map_err(|e| SigningError::Generate(e.to_string()))?;
    Ok(SigningMaterial {
        certificate,
        key: SigningKey::from_pkcs8(key.serialize_der()),
    })
}

fn offset(t: DateTime<Utc>) -> Result<time::OffsetDateTime, SigningError> {
    time::OffsetDateTime::from_unix_timestamp(t.timestamp())
        .map_err(|e| SigningError::Generate(format!("{t} is not a certificate date: {e}")))
}

/// 16 random bytes with the top bit clear (a positive INTEGER).
fn serial() -> Result<[u8; 16], SigningError> {
    let mut s = [0u8; 16];
    aws_lc_rs::rand::fill(&mut s).map_err(|_| SigningError::Generate("no randomness".into()))?;
    s[0] &= 0x7f;
    s[0] |= 0x01;
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn a_managed_certificate_is_rsa_3072_code_signing_and_passes_the_check() {
        let now = Utc.with_ymd_and_hms(2026, 12, 6, 12, 0, 0).unwrap();
        let m = generate("embedded:/srv/supctl", 1095, now).unwrap();
        assert_eq!(super::super::check(&m.certificate.der, &m.key, now), Ok(()));
        assert!(
            m.certificate.subject.contains("embedded:/srv/supctl"),
            "{}",
            m.certificate.subject
        );
        assert_eq!(m.certificate.not_before, now - CLOCK_SKEW);
        assert_eq!(
            m.certificate.not_after,
            now - CLOCK_SKEW + Duration::days(1095)
        );
        let (_, x) = x509_parser::parse_x509_certificate(&m.certificate.der).unwrap();
        let Ok(x509_parser::public_key::PublicKey::RSA(rsa)) = x.public_key().parsed() else {
            panic!("not RSA");
        };
        assert_eq!(rsa.key_size(), 3072);
        let other = generate("embedded:/srv/supctl", 1095, now).unwrap();
        assert_ne!(other.certificate.sha1, m.certificate.sha1, "serials differ");
    }
}
