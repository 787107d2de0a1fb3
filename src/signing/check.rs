//! Can this certificate and key sign WSUS content? One pure decision, a rule each, checked
//! before anything is written so that a bad file changes nothing:
//!
//! 1. **An RSA key of at least 2048 bits.** WSUS signs with RSA only, and Windows no longer
//!    trusts code signed with smaller keys.
//! 2. **Extended key usage: code signing, or none** (no extension means any purpose).
//!    Clients check the content signer's certificate for code signing; a TLS certificate
//!    signs content no client accepts.
//! 3. **Key usage, when present, includes digitalSignature**: a signature made against the
//!    certificate's own key usage does not verify.
//! 4. **Valid now.** Content signed with an expired (or not yet valid) certificate is refused
//!    by clients, and WSUS refuses to install such a certificate.
//! 5. **The key is the certificate's**: its public half equals the certificate's public key;
//!    otherwise every signature WSUS makes fails to verify.

use std::fmt;

use aws_lc_rs::signature::{KeyPair as _, RsaKeyPair};
use chrono::{DateTime, Utc};
use x509_parser::prelude::*;

use super::{Problems, SigningKey};

/// The smallest RSA modulus accepted (rule 1).
pub const MIN_RSA_BITS: usize = 2048;

/// One broken rule, with what to do about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    Certificate(String),
    Key(String),
    NotRsa(String),
    KeyTooSmall(usize),
    NotCodeSigning(Vec<String>),
    NoDigitalSignature,
    NotYetValid(DateTime<Utc>),
    Expired(DateTime<Utc>),
    KeyMismatch,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::Certificate(e) => write!(f, "not a readable X.509 certificate ({e})"),
            Problem::Key(e) => write!(
                f,
                "not a readable RSA private key in PKCS#8 ({e}); convert one with `openssl pkcs8 -topk8 -nocrypt -in KEY -out KEY.p8`"
            ),
            Problem::NotRsa(alg) => write!(
                f,
                "the key is {alg}, but WSUS signs with RSA only: issue an RSA certificate of at least {MIN_RSA_BITS} bits"
            ),
            Problem::KeyTooSmall(bits) => write!(
                f,
                "the RSA key has {bits} bits; at least {MIN_RSA_BITS} are needed: issue a new certificate"
            ),
            Problem::NotCodeSigning(ekus) => write!(
                f,
                "the certificate's extended key usage ({}) does not include code signing: issue it from a code-signing template (EKU 1.3.6.1.5.5.7.3.3)",
                ekus.join(", ")
            ),
            Problem::NoDigitalSignature => write!(
                f,
                "the certificate's key usage does not allow digital signatures: issue it with keyUsage digitalSignature"
            ),
            Problem::NotYetValid(t) => write!(
                f,
                "the certificate is not valid before {}: wait, or check this machine's clock",
                t.format("%Y-%m-%d %H:%M UTC")
            ),
            Problem::Expired(t) => write!(
                f,
                "the certificate expired on {}: renew it, or use mode = \"managed\"",
                t.format("%Y-%m-%d")
            ),
            Problem::KeyMismatch => write!(
                f,
                "the private key does not belong to the certificate: export the certificate together with its own key"
            ),
        }
    }
}

/// Every rule `cert_der` and `key` break at `now`; `Ok` when they can sign.
pub fn check(cert_der: &[u8], key: &SigningKey, now: DateTime<Utc>) -> Result<(), Problems> {
    let mut problems = Vec::new();
    let cert = match X509Certificate::from_der(cert_der) {
        Ok((_, c)) => c,
        Err(e) => return Err(Problems(vec![Problem::Certificate(e.to_string())])),
    };
    // Rule 1 on the certificate's key.
    match cert.public_key().parsed() {
        Ok(x509_parser::public_key::PublicKey::RSA(rsa)) => {
            if rsa.key_size() < MIN_RSA_BITS {
                problems.push(Problem::KeyTooSmall(rsa.key_size()));
            }
        }
        Ok(other) => problems.push(Problem::NotRsa(algorithm_name(&other).to_string())),
        Err(e) => problems.push(Problem::Certificate(e.to_string())),
    }
    // Rule 2.
    if let Ok(Some(eku)) = cert.extended_key_usage() {
        let e = eku.value;
        if !(e.code_signing || e.any) {
            problems.push(Problem::NotCodeSigning(eku_names(e)));
        }
    }
    // Rule 3.
    if let Ok(Some(ku)) = cert.key_usage()
        && !ku.value.digital_signature()
    {
        problems.push(Problem::NoDigitalSignature);
    }
    // Rule 4.
    let not_before = to_utc(cert.validity().not_before);
    let not_after = to_utc(cert.validity().not_after);
    if now < not_before {
        problems.push(Problem::NotYetValid(not_before));
    } else if now > not_after {
        problems.push(Problem::Expired(not_after));
    }
    // Rule 5.
    match RsaKeyPair::from_pkcs8(key.pkcs8()) {
        Ok(pair) => {
            if pair.public_key().as_ref() != cert.public_key().subject_public_key.data.as_ref() {
                problems.push(Problem::KeyMismatch);
            }
        }
        Err(e) => problems.push(Problem::Key(e.to_string())),
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(Problems(problems))
    }
}

fn to_utc(t: ASN1Time) -> DateTime<Utc> {
    DateTime::from_timestamp(t.timestamp(), 0).unwrap_or(DateTime::<Utc>::MIN_UTC)
}

fn algorithm_name(k: &x509_parser::public_key::PublicKey<'_>) -> &'static str {
    use x509_parser::public_key::PublicKey;
    match k {
        PublicKey::RSA(_) => "RSA",
        PublicKey::EC(_) => "ECDSA",
        PublicKey::DSA(_) | PublicKey::GostR3410(_) | PublicKey::GostR3410_2012(_) => "DSA/GOST",
        PublicKey::Unknown(_) => "an unknown algorithm",
    }
}

fn eku_names(e: &ExtendedKeyUsage<'_>) -> Vec<String> {
    let mut out = Vec::new();
    for (on, name) in [
        (e.server_auth, "server authentication"),
        (e.client_auth, "client authentication"),
        (e.email_protection, "email protection"),
        (e.time_stamping, "time stamping"),
        (e.ocsp_signing, "OCSP signing"),
    ] {
        if on {
            out.push(name.to_string());
        }
    }
    out.extend(e.other.iter().map(|o| o.to_id_string()));
    if out.is_empty() {
        out.push("empty".into());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use rcgen::{
        CertificateParams, ExtendedKeyUsagePurpose, KeyPair, KeyUsagePurpose, PKCS_RSA_SHA256,
        RsaKeySize,
    };

    fn rsa(bits: RsaKeySize) -> KeyPair {
        KeyPair::generate_rsa_for(&PKCS_RSA_SHA256, bits).unwrap()
    }

    fn cert(key: &KeyPair, f: impl FnOnce(&mut CertificateParams)) -> Vec<u8> {
        let mut p = CertificateParams::new(vec![]).unwrap();
        p.not_before = rcgen::date_time_ymd(2024, 1, 1);
        p.not_after = rcgen::date_time_ymd(2030, 1, 1);
        p.extended_key_usages = vec![ExtendedKeyUsagePurpose::CodeSigning];
        f(&mut p);
        p.self_signed(key).unwrap().der().to_vec()
    }

    fn key(k: &KeyPair) -> SigningKey {
        SigningKey::from_pkcs8(k.serialize_der())
    }

    fn at(year: i32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(year, 1, 1, 0, 0, 0).unwrap()
    }

    fn only(r: Result<(), Problems>) -> Problem {
        let Problems(p) = r.unwrap_err();
        assert_eq!(p.len(), 1, "{p:?}");
        p.into_iter().next().unwrap()
    }

    #[test]
    fn a_code_signing_rsa_certificate_with_its_key_passes() {
        let k = rsa(RsaKeySize::_2048);
        assert_eq!(check(&cert(&k, |_| {}), &key(&k), at(2027)), Ok(()));
    }

    #[test]
    // A small RSA key (rcgen makes none under 2048 bits) is the fixture
    // tests/fixtures/signing/small.pfx in the integration tests.
    fn rule_1_an_ecdsa_key_is_refused() {
        let k = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        let der = cert(&k, |_| {});
        let Problems(p) = check(&der, &key(&k), at(2027)).unwrap_err();
        assert!(p.contains(&Problem::NotRsa("ECDSA".into())), "{p:?}");
    }

    #[test]
    fn rule_2_a_tls_certificate_is_refused_and_no_eku_is_any_purpose() {
        let k = rsa(RsaKeySize::_2048);
        let tls = cert(&k, |p| {
            p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth]
        });
        assert_eq!(
            only(check(&tls, &key(&k), at(2027))),
            Problem::NotCodeSigning(vec!["server authentication".into()])
        );
        let any = cert(&k, |p| p.extended_key_usages.clear());
        assert_eq!(check(&any, &key(&k), at(2027)), Ok(()));
    }

    #[test]
    fn rule_3_key_usage_without_digital_signature_is_refused() {
        let k = rsa(RsaKeySize::_2048);
        let der = cert(&k, |p| {
            p.key_usages = vec![KeyUsagePurpose::KeyEncipherment]
        });
        assert_eq!(
            only(check(&der, &key(&k), at(2027))),
            Problem::NoDigitalSignature
        );
    }

    #[test]
    fn rule_4_outside_its_validity_is_refused() {
        let k = rsa(RsaKeySize::_2048);
        let der = cert(&k, |_| {});
        assert_eq!(
            only(check(&der, &key(&k), at(2031))),
            Problem::Expired(at(2030))
        );
        assert_eq!(
            only(check(&der, &key(&k), at(2023))),
            Problem::NotYetValid(at(2024))
        );
    }

    #[test]
    fn rule_5_another_key_is_refused() {
        let k = rsa(RsaKeySize::_2048);
        let other = rsa(RsaKeySize::_2048);
        assert_eq!(
            only(check(&cert(&k, |_| {}), &key(&other), at(2027))),
            Problem::KeyMismatch
        );
        let garbage = SigningKey::from_pkcs8(vec![1, 2, 3]);
        assert!(matches!(
            only(check(&cert(&k, |_| {}), &garbage, at(2027))),
            Problem::Key(_)
        ));
    }
}
