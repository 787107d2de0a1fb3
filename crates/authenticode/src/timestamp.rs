//! Timestamps on an Authenticode signer: RFC 3161 tokens (`1.3.6.1.4.1.311.3.3.1`) and legacy
//! PKCS#9 countersignatures (`1.2.840.113549.1.9.6`).
//!
//! A timestamp only counts when it proves the *signature value* existed at that time: the token
//! or countersignature must verify with a time-stamping certificate and must cover the signer's
//! signature bytes. The `signingTime` signed attribute is the signer's own claim and is ignored.

use chrono::{DateTime, Utc};

use super::AuthenticodeError;
use super::crypto::{self, Cert, Usage};
use super::der::{self, Tlv, tag};
use super::digest::DigestAlgorithm;
use super::pkcs7::{self, SignerInfo};

fn ts_error(kind: &'static str, e: impl Into<AuthenticodeError>) -> AuthenticodeError {
    AuthenticodeError::Timestamp {
        kind,
        source: Box::new(e.into()),
    }
}

/// Verifies every timestamp on `si` and returns the earliest verified time, or `None` when
/// there is no timestamp. A timestamp that is present but does not verify is an error: it is
/// part of the signature, and "every signature present must verify".
pub(crate) fn verify_timestamps(
    si: &SignerInfo<'_>,
    outer_certs: &[Cert<'_>],
) -> Result<Option<DateTime<Utc>>, AuthenticodeError> {
    let mut times = Vec::new();
    for token in si.unsigned(pkcs7::OID_RFC3161_TIMESTAMP) {
        times.push(
            verify_rfc3161(token, si.signature, outer_certs)
                .map_err(|e| ts_error("RFC 3161", e))?,
        );
    }
    for cs in si.unsigned(pkcs7::OID_COUNTERSIGNATURE) {
        times.push(
            verify_countersignature(cs, si.signature, outer_certs)
                .map_err(|e| ts_error("countersignature", e))?,
        );
    }
    Ok(times.into_iter().min())
}

/// Exactly one value of a signed attribute.
fn single<'a>(si: &SignerInfo<'a>, oid: &'static str) -> Result<Tlv<'a>, AuthenticodeError> {
    let mut it = si.signed(oid);
    match (it.next(), it.next()) {
        (Some(v), None) => Ok(*v),
        _ => Err(AuthenticodeError::Structure(format!(
            "signed attribute {oid} must occur exactly once"
        ))),
    }
}

/// Checks the `messageDigest` attribute against `content`, the signer's signature over the
/// signed attributes and the time-stamping EKU; returns the TSA certificate.
fn verify_tsa_signer<'c, 'a>(
    si: &SignerInfo<'_>,
    certs: &'c [Cert<'a>],
    content: &[u8],
) -> Result<&'c Cert<'a>, AuthenticodeError> {
    let alg = DigestAlgorithm::from_oid(&si.digest_algorithm)?;
    let md = single(si, pkcs7::OID_MESSAGE_DIGEST)?.expect(tag::OCTET_STRING, "messageDigest")?;
    if md.content != alg.hash(content).as_slice() {
        return Err(AuthenticodeError::MessageDigestMismatch);
    }
    let attrs = si
        .signed_attrs_for_signature()
        .ok_or_else(|| AuthenticodeError::Structure("no signed attributes".into()))?;
    let cert = crypto::find_signer(certs, &si.sid)?;
    cert.verify(&si.signature_algorithm, alg, &attrs, si.signature)?;
    cert.check_usage(Usage::TimeStamping)?;
    Ok(cert)
}

fn check_validity(cert: &Cert<'_>, at: DateTime<Utc>) -> Result<(), AuthenticodeError> {
    let info = cert.info()?;
    if info.is_valid_at(at) {
        Ok(())
    } else {
        Err(AuthenticodeError::CertificateNotValidAt {
            subject: info.facts.subject,
            at,
        })
    }
}

/// RFC 3161: a SignedData over TSTInfo whose messageImprint is H(signature value).
fn verify_rfc3161(
    token: &Tlv<'_>,
    signature: &[u8],
    outer_certs: &[Cert<'_>],
) -> Result<DateTime<Utc>, AuthenticodeError> {
    let sd = pkcs7::parse_content_info_tlv(token)?;
    if sd.content_type != pkcs7::OID_TST_INFO {
        return Err(AuthenticodeError::Structure(format!(
            "timestamp token content type {} is not TSTInfo",
            sd.content_type
        )));
    }
    let tst = sd
        .content
        .ok_or_else(|| AuthenticodeError::Structure("timestamp token has no TSTInfo".into()))?
        .expect(tag::OCTET_STRING, "TSTInfo wrapper")?;
    let [si] = sd.signer_infos.as_slice() else {
        return Err(AuthenticodeError::Structure(
            "timestamp token must have exactly one SignerInfo".into(),
        ));
    };
    let content_type = single(si, pkcs7::OID_CONTENT_TYPE)?.expect(tag::OID, "contentType")?;
    if der::oid_to_string(content_type.content, "contentType")? != pkcs7::OID_TST_INFO {
        return Err(AuthenticodeError::Structure(
            "timestamp contentType attribute is not TSTInfo".into(),
        ));
    }
    let mut certs = crypto::parse_certs(&sd.certificates);
    certs.extend(crypto::parse_certs(
        &outer_certs.iter().map(|c| c.der).collect::<Vec<_>>(),
    ));
    let tsa = verify_tsa_signer(si, &certs, tst.content)?;

    // TSTInfo { version, policy, messageImprint, serialNumber, genTime, ... }
    let info = der::parse_single(tst.content, tag::SEQUENCE, "TSTInfo")?;
    let mut r = info.reader();
    r.read(tag::INTEGER, "TSTInfo.version")?;
    r.read(tag::OID, "TSTInfo.policy")?;
    let imprint = r.read(tag::SEQUENCE, "TSTInfo.messageImprint")?;
    let mut ir = imprint.reader();
    let imprint_alg = DigestAlgorithm::from_oid(&der::read_algorithm(&mut ir, "messageImprint")?)?;
    let hashed = ir.read(tag::OCTET_STRING, "messageImprint.hashedMessage")?;
    if hashed.content != imprint_alg.hash(signature).as_slice() {
        return Err(AuthenticodeError::TimestampImprintMismatch);
    }
    r.read(tag::INTEGER, "TSTInfo.serialNumber")?;
    let gen_time = der::parse_time(
        &r.read(tag::GENERALIZED_TIME, "TSTInfo.genTime")?,
        "TSTInfo.genTime",
    )?;
    check_validity(tsa, gen_time)?;
    Ok(gen_time)
}

/// Legacy countersignature: a SignerInfo whose messageDigest is H(signature value) and whose
/// signingTime is the timestamp. Its certificate is in the outer SignedData.
fn verify_countersignature(
    value: &Tlv<'_>,
    signature: &[u8],
    outer_certs: &[Cert<'_>],
) -> Result<DateTime<Utc>, AuthenticodeError> {
    let csi = pkcs7::parse_signer_info(value)?;
    let tsa = verify_tsa_signer(&csi, outer_certs, signature)?;
    let t = single(&csi, pkcs7::OID_SIGNING_TIME)?;
    let at = der::parse_time(&t, "countersignature signingTime")?;
    check_validity(tsa, at)?;
    Ok(at)
}
