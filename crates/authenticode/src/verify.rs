//! Verification of one Authenticode signature and its nested signatures, in the order of
//! authenticode.md §6: structure, file digest, messageDigest attribute, signer signature, EKU,
//! timestamps, validity, nested signatures.

use chrono::{DateTime, Utc};

use super::crypto::{self, Usage};
use super::der::{self, Tlv, tag};
use super::digest::DigestAlgorithm;
use super::pkcs7::{self, SignedData};
use super::{AuthenticodeError, SignerReport};

/// Bound on the PKCS#7 size checked before any DER is parsed. Real signatures with a chain,
/// a timestamp and a nested signature are 10–30 KB. It also bounds what `verify_cab_file`
/// reads into memory for a cabinet's signature, which is checked before the read.
pub(crate) const MAX_SIGNATURE_LEN: usize = 1 << 20;
/// Nested signatures carry their own nested attributes in theory; real files use one level.
const MAX_NESTING: usize = 4;

/// Computes container digests on demand and remembers them: a SHA-1 signature with a nested
/// SHA-256 one needs two passes over the container, a dual SHA-256 signature only one.
pub(crate) struct DigestCache<'f> {
    compute: &'f dyn Fn(DigestAlgorithm) -> Result<Vec<u8>, AuthenticodeError>,
    done: Vec<(DigestAlgorithm, Vec<u8>)>,
}

impl<'f> DigestCache<'f> {
    pub(super) fn new(
        compute: &'f dyn Fn(DigestAlgorithm) -> Result<Vec<u8>, AuthenticodeError>,
    ) -> Self {
        Self {
            compute,
            done: Vec::new(),
        }
    }

    fn get(&mut self, alg: DigestAlgorithm) -> Result<&[u8], AuthenticodeError> {
        let i = match self.done.iter().position(|(a, _)| *a == alg) {
            Some(i) => i,
            None => {
                let d = (self.compute)(alg)?;
                self.done.push((alg, d));
                self.done.len() - 1
            }
        };
        Ok(&self.done[i].1)
    }
}

/// Verifies a top-level PKCS#7 blob (from the CAB tail, a WIN_CERTIFICATE or the MSI stream)
/// and every signature nested in it. Returns one report per signer, primary first.
pub(crate) fn verify_blob(
    blob: &[u8],
    digests: &mut DigestCache<'_>,
    now: DateTime<Utc>,
) -> Result<Vec<SignerReport>, AuthenticodeError> {
    if blob.len() > MAX_SIGNATURE_LEN {
        return Err(AuthenticodeError::SignatureTooLarge(blob.len()));
    }
    let sd = pkcs7::parse_content_info(blob)?;
    let mut out = Vec::new();
    verify_signed_data(&sd, digests, now, false, 0, &mut out)?;
    Ok(out)
}

fn single_signed<'a>(
    si: &pkcs7::SignerInfo<'a>,
    oid: &'static str,
) -> Result<Tlv<'a>, AuthenticodeError> {
    let mut it = si.signed(oid);
    match (it.next(), it.next()) {
        (Some(v), None) => Ok(*v),
        (None, _) => Err(AuthenticodeError::Structure(format!(
            "signed attribute {oid} is missing"
        ))),
        _ => Err(AuthenticodeError::Structure(format!(
            "signed attribute {oid} occurs more than once"
        ))),
    }
}

fn verify_signed_data(
    sd: &SignedData<'_>,
    digests: &mut DigestCache<'_>,
    now: DateTime<Utc>,
    nested: bool,
    depth: usize,
    out: &mut Vec<SignerReport>,
) -> Result<(), AuthenticodeError> {
    // 2. Structure.
    let structure = |what: &str| Err(AuthenticodeError::Structure(what.to_string()));
    if sd.version != 1 {
        return structure("SignedData version is not 1");
    }
    let [digest_alg] = sd.digest_algorithms.as_slice() else {
        return structure("SignedData must name exactly one digest algorithm");
    };
    if sd.content_type != pkcs7::OID_SPC_INDIRECT_DATA {
        return Err(AuthenticodeError::Structure(format!(
            "content type {} is not SPC_INDIRECT_DATA",
            sd.content_type
        )));
    }
    let Some(content) = sd.content else {
        return structure("no SpcIndirectDataContent");
    };
    let [si] = sd.signer_infos.as_slice() else {
        return structure("SignedData must have exactly one SignerInfo");
    };
    if si.version != 1 {
        return structure("SignerInfo version is not 1");
    }
    if &si.digest_algorithm != digest_alg {
        return structure("SignerInfo digest algorithm differs from SignedData's");
    }
    let indirect = pkcs7::parse_indirect_data(&content)?;

    // 3. File digest, with the algorithm the signature names.
    let file_alg = DigestAlgorithm::from_oid(&indirect.digest_algorithm)?;
    let computed = digests.get(file_alg)?;
    if computed != indirect.digest.as_slice() {
        return Err(AuthenticodeError::DigestMismatch {
            algorithm: file_alg.name(),
            signed: hex::encode_upper(&indirect.digest),
            computed: hex::encode_upper(computed),
        });
    }

    // 4. messageDigest = H(content octets of SpcIndirectDataContent), contentType = SPC.
    let signer_alg = DigestAlgorithm::from_oid(&si.digest_algorithm)?;
    let ct = single_signed(si, pkcs7::OID_CONTENT_TYPE)?.expect(tag::OID, "contentType")?;
    if der::oid_to_string(ct.content, "contentType")? != pkcs7::OID_SPC_INDIRECT_DATA {
        return structure("contentType attribute is not SPC_INDIRECT_DATA");
    }
    let md =
        single_signed(si, pkcs7::OID_MESSAGE_DIGEST)?.expect(tag::OCTET_STRING, "messageDigest")?;
    if md.content != signer_alg.hash(content.content).as_slice() {
        return Err(AuthenticodeError::MessageDigestMismatch);
    }

    // 5. The signer's signature over the original signed-attribute bytes, re-tagged as SET OF.
    let certs = crypto::parse_certs(&sd.certificates);
    let signer = crypto::find_signer(&certs, &si.sid)?;
    let attrs = si
        .signed_attrs_for_signature()
        .ok_or_else(|| AuthenticodeError::Structure("no signed attributes".into()))?;
    signer.verify(&si.signature_algorithm, signer_alg, &attrs, si.signature)?;

    // 6. Identity facts and EKU.
    signer.check_usage(Usage::CodeSigning)?;
    let certificate = signer.info()?;

    // 7. Timestamp, then validity at the timestamp (else at `now`).
    let timestamp = super::timestamp::verify_timestamps(si, &certs)?;
    let at = timestamp.unwrap_or(now);
    if at < certificate.not_before {
        return Err(AuthenticodeError::CertificateNotValidAt {
            subject: certificate.facts.subject,
            at,
        });
    }
    let expired = certificate.is_expired_at(at);
    out.push(SignerReport {
        certificate,
        digest_algorithm: file_alg.name().to_string(),
        timestamp,
        nested,
        expired,
    });

    // 8. Nested signatures, each verified fully with its own algorithm.
    for value in si.unsigned(pkcs7::OID_NESTED_SIGNATURE) {
        if depth + 1 > MAX_NESTING {
            return structure("nested signatures nest too deeply");
        }
        let nested_sd = pkcs7::parse_content_info_tlv(value)?;
        verify_signed_data(&nested_sd, digests, now, true, depth + 1, out)?;
    }
    Ok(())
}

/// What a signature blob claims, read without a container: see [`super::inspect_signature`].
pub(crate) fn inspect(blob: &[u8]) -> Result<super::SignatureInfo, AuthenticodeError> {
    if blob.len() > MAX_SIGNATURE_LEN {
        return Err(AuthenticodeError::SignatureTooLarge(blob.len()));
    }
    let sd = pkcs7::parse_content_info(blob)?;
    let content = sd
        .content
        .ok_or_else(|| AuthenticodeError::Structure("no SpcIndirectDataContent".into()))?;
    let indirect = pkcs7::parse_indirect_data(&content)?;
    let [si] = sd.signer_infos.as_slice() else {
        return Err(AuthenticodeError::Structure(
            "SignedData must have exactly one SignerInfo".into(),
        ));
    };
    let md =
        single_signed(si, pkcs7::OID_MESSAGE_DIGEST)?.expect(tag::OCTET_STRING, "messageDigest")?;
    let certs = crypto::parse_certs(&sd.certificates);
    let signer = crypto::find_signer(&certs, &si.sid)?.info()?;
    Ok(super::SignatureInfo {
        content_type: sd.content_type.clone(),
        data_type: indirect.data_type,
        digest_algorithm: DigestAlgorithm::from_oid(&indirect.digest_algorithm)?
            .name()
            .to_string(),
        file_digest: hex::encode_upper(&indirect.digest),
        message_digest: hex::encode_upper(md.content),
        signer,
        certificates: sd.certificates.len(),
        nested_signatures: si.unsigned(pkcs7::OID_NESTED_SIGNATURE).count(),
        timestamps: si.unsigned(pkcs7::OID_RFC3161_TIMESTAMP).count()
            + si.unsigned(pkcs7::OID_COUNTERSIGNATURE).count(),
    })
}
