//! PKCS#7 / CMS `SignedData` as borrowed slices of the original DER.
//!
//! The same reader serves the Authenticode signature, each nested signature, the RFC 3161
//! timestamp token and the legacy countersignature (a bare `SignerInfo`). Keeping the original
//! bytes is what makes the signature checks correct: the signer signs the exact bytes of its
//! signed attributes, which a decode/re-encode round trip may reorder.

use super::der::{self, DerError, Reader, Tlv, tag};

pub(crate) const OID_SIGNED_DATA: &str = "1.2.840.113549.1.7.2";
pub(crate) const OID_CONTENT_TYPE: &str = "1.2.840.113549.1.9.3";
pub(crate) const OID_MESSAGE_DIGEST: &str = "1.2.840.113549.1.9.4";
pub(crate) const OID_SIGNING_TIME: &str = "1.2.840.113549.1.9.5";
pub(crate) const OID_COUNTERSIGNATURE: &str = "1.2.840.113549.1.9.6";
pub(crate) const OID_SPC_INDIRECT_DATA: &str = "1.3.6.1.4.1.311.2.1.4";
pub(crate) const OID_NESTED_SIGNATURE: &str = "1.3.6.1.4.1.311.2.4.1";
pub(crate) const OID_RFC3161_TIMESTAMP: &str = "1.3.6.1.4.1.311.3.3.1";
pub(crate) const OID_TST_INFO: &str = "1.2.840.113549.1.9.16.1.4";

/// How a `SignerInfo` names its certificate.
#[derive(Debug, Clone, Copy)]
pub(crate) enum SignerId<'a> {
    /// `issuerAndSerialNumber`: the raw issuer Name TLV and the serial's INTEGER content octets.
    IssuerSerial { issuer: &'a [u8], serial: &'a [u8] },
    /// `[0] subjectKeyIdentifier`.
    KeyId(&'a [u8]),
}

/// One attribute: its type and the values of its SET.
#[derive(Debug, Clone)]
pub(crate) struct Attribute<'a> {
    pub oid: String,
    pub values: Vec<Tlv<'a>>,
}

#[derive(Debug, Clone)]
pub(crate) struct SignerInfo<'a> {
    pub version: u8,
    pub sid: SignerId<'a>,
    pub digest_algorithm: String,
    /// The complete `[0] IMPLICIT` signed-attributes TLV, exactly as it appears in the file.
    pub signed_attrs_raw: Option<&'a [u8]>,
    pub signed_attrs: Vec<Attribute<'a>>,
    pub signature_algorithm: String,
    pub signature: &'a [u8],
    pub unsigned_attrs: Vec<Attribute<'a>>,
}

impl<'a> SignerInfo<'a> {
    /// All values of every signed attribute with this type.
    pub(super) fn signed<'s>(&'s self, oid: &'s str) -> impl Iterator<Item = &'s Tlv<'a>> + 's {
        attr_values(&self.signed_attrs, oid)
    }

    /// All values of every unsigned attribute with this type (an attribute may repeat, and a
    /// SET may hold several values: both occur for nested signatures).
    pub(super) fn unsigned<'s>(&'s self, oid: &'s str) -> impl Iterator<Item = &'s Tlv<'a>> + 's {
        attr_values(&self.unsigned_attrs, oid)
    }

    /// The bytes the signer actually signed: the signed attributes with their `[0]` tag
    /// replaced by SET OF (RFC 5652 §5.4). Never re-encoded.
    pub(super) fn signed_attrs_for_signature(&self) -> Option<Vec<u8>> {
        self.signed_attrs_raw.map(|raw| {
            let mut v = raw.to_vec();
            v[0] = tag::SET;
            v
        })
    }
}

fn attr_values<'s, 'a>(
    attrs: &'s [Attribute<'a>],
    oid: &'s str,
) -> impl Iterator<Item = &'s Tlv<'a>> {
    attrs
        .iter()
        .filter(move |a| a.oid == oid)
        .flat_map(|a| a.values.iter())
}

#[derive(Debug, Clone)]
pub(crate) struct SignedData<'a> {
    pub version: u8,
    pub digest_algorithms: Vec<String>,
    pub content_type: String,
    /// The TLV inside `eContent [0] EXPLICIT`: a SEQUENCE (`SpcIndirectDataContent`) for
    /// Authenticode, an OCTET STRING (TSTInfo) for RFC 3161 tokens.
    pub content: Option<Tlv<'a>>,
    /// Raw DER of each X.509 certificate (other `CertificateChoices` are skipped).
    pub certificates: Vec<&'a [u8]>,
    pub signer_infos: Vec<SignerInfo<'a>>,
}

/// Parses `ContentInfo { signedData, [0] SignedData }`. Zero padding after it is tolerated
/// (PE attribute certificates are 8-byte aligned), anything else is not.
pub(crate) fn parse_content_info(data: &[u8]) -> Result<SignedData<'_>, DerError> {
    let ci = der::parse_single(data, tag::SEQUENCE, "ContentInfo")?;
    parse_content_info_tlv(&ci)
}

/// As [`parse_content_info`], over an already delimited TLV (an attribute value).
pub(crate) fn parse_content_info_tlv<'a>(ci: &Tlv<'a>) -> Result<SignedData<'a>, DerError> {
    let ci = ci.expect(tag::SEQUENCE, "ContentInfo")?;
    let mut r = ci.reader();
    let ct = der::read_oid(&mut r, "ContentInfo.contentType")?;
    if ct != OID_SIGNED_DATA {
        return Err(DerError::Invalid {
            context: "ContentInfo.contentType",
            what: "not pkcs7-signedData",
        });
    }
    let explicit = r.read(tag::CTX0, "ContentInfo.content")?;
    r.finish("ContentInfo")?;
    let mut inner = explicit.reader();
    let sd = inner.read(tag::SEQUENCE, "SignedData")?;
    inner.finish("ContentInfo.content")?;
    parse_signed_data(&sd)
}

fn read_small_int(r: &mut Reader<'_>, context: &'static str) -> Result<u8, DerError> {
    let t = r.read(tag::INTEGER, context)?;
    match t.content {
        [v] => Ok(*v),
        _ => Err(DerError::Invalid {
            context,
            what: "version out of range",
        }),
    }
}

fn parse_signed_data<'a>(sd: &Tlv<'a>) -> Result<SignedData<'a>, DerError> {
    let mut r = sd.reader();
    let version = read_small_int(&mut r, "SignedData.version")?;
    let algs = r.read(tag::SET, "SignedData.digestAlgorithms")?;
    let mut digest_algorithms = Vec::new();
    let mut ar = algs.reader();
    while !ar.is_empty() {
        digest_algorithms.push(der::read_algorithm(&mut ar, "SignedData.digestAlgorithms")?);
    }
    let eci = r.read(tag::SEQUENCE, "SignedData.encapContentInfo")?;
    let mut er = eci.reader();
    let content_type = der::read_oid(&mut er, "encapContentInfo.eContentType")?;
    let content = match er.read_optional(tag::CTX0, "encapContentInfo.eContent")? {
        Some(explicit) => {
            let mut xr = explicit.reader();
            let c = xr.read_any("encapContentInfo.eContent")?;
            xr.finish("encapContentInfo.eContent")?;
            Some(c)
        }
        None => None,
    };
    er.finish("encapContentInfo")?;

    let mut certificates = Vec::new();
    if let Some(certs) = r.read_optional(tag::CTX0, "SignedData.certificates")? {
        let mut cr = certs.reader();
        while !cr.is_empty() {
            let c = cr.read_any("SignedData.certificates")?;
            if c.tag == tag::SEQUENCE {
                certificates.push(c.raw);
            }
        }
    }
    r.read_optional(tag::CTX1, "SignedData.crls")?;
    let sis = r.read(tag::SET, "SignedData.signerInfos")?;
    r.finish("SignedData")?;
    let mut signer_infos = Vec::new();
    let mut sr = sis.reader();
    while !sr.is_empty() {
        let si = sr.read(tag::SEQUENCE, "SignerInfo")?;
        signer_infos.push(parse_signer_info(&si)?);
    }
    Ok(SignedData {
        version,
        digest_algorithms,
        content_type,
        content,
        certificates,
        signer_infos,
    })
}

/// Parses one `SignerInfo` SEQUENCE (also the value of a legacy countersignature attribute).
pub(crate) fn parse_signer_info<'a>(si: &Tlv<'a>) -> Result<SignerInfo<'a>, DerError> {
    let si = si.expect(tag::SEQUENCE, "SignerInfo")?;
    let mut r = si.reader();
    let version = read_small_int(&mut r, "SignerInfo.version")?;
    let sid_tlv = r.read_any("SignerInfo.sid")?;
    let sid = match sid_tlv.tag {
        tag::SEQUENCE => {
            let mut ir = sid_tlv.reader();
            let issuer = ir.read(tag::SEQUENCE, "IssuerAndSerialNumber.issuer")?;
            let serial = ir.read(tag::INTEGER, "IssuerAndSerialNumber.serialNumber")?;
            ir.finish("IssuerAndSerialNumber")?;
            SignerId::IssuerSerial {
                issuer: issuer.raw,
                serial: serial.content,
            }
        }
        tag::CTX0_PRIM => SignerId::KeyId(sid_tlv.content),
        found => {
            return Err(DerError::UnexpectedTag {
                context: "SignerInfo.sid",
                expected: tag::SEQUENCE,
                found,
            });
        }
    };
    let digest_algorithm = der::read_algorithm(&mut r, "SignerInfo.digestAlgorithm")?;
    let (signed_attrs_raw, signed_attrs) =
        match r.read_optional(tag::CTX0, "SignerInfo.signedAttrs")? {
            Some(t) => (Some(t.raw), parse_attributes(&t, "SignerInfo.signedAttrs")?),
            None => (None, Vec::new()),
        };
    let signature_algorithm = der::read_algorithm(&mut r, "SignerInfo.signatureAlgorithm")?;
    let signature = r.read(tag::OCTET_STRING, "SignerInfo.signature")?.content;
    let unsigned_attrs = match r.read_optional(tag::CTX1, "SignerInfo.unsignedAttrs")? {
        Some(t) => parse_attributes(&t, "SignerInfo.unsignedAttrs")?,
        None => Vec::new(),
    };
    r.finish("SignerInfo")?;
    Ok(SignerInfo {
        version,
        sid,
        digest_algorithm,
        signed_attrs_raw,
        signed_attrs,
        signature_algorithm,
        signature,
        unsigned_attrs,
    })
}

fn parse_attributes<'a>(
    set: &Tlv<'a>,
    context: &'static str,
) -> Result<Vec<Attribute<'a>>, DerError> {
    let mut out = Vec::new();
    let mut r = set.reader();
    while !r.is_empty() {
        let a = r.read(tag::SEQUENCE, context)?;
        let mut ar = a.reader();
        let oid = der::read_oid(&mut ar, context)?;
        let values_set = ar.read(tag::SET, context)?;
        ar.finish(context)?;
        let mut values = Vec::new();
        let mut vr = values_set.reader();
        while !vr.is_empty() {
            values.push(vr.read_any(context)?);
        }
        out.push(Attribute { oid, values });
    }
    Ok(out)
}

/// `SpcIndirectDataContent { data { type, value }, messageDigest DigestInfo }`.
#[derive(Debug, Clone)]
pub(crate) struct IndirectData {
    pub data_type: String,
    pub digest_algorithm: String,
    pub digest: Vec<u8>,
}

pub(crate) fn parse_indirect_data(content: &Tlv<'_>) -> Result<IndirectData, DerError> {
    let seq = content.expect(tag::SEQUENCE, "SpcIndirectDataContent")?;
    let mut r = seq.reader();
    let data = r.read(tag::SEQUENCE, "SpcIndirectDataContent.data")?;
    let data_type = der::read_oid(&mut data.reader(), "SpcAttributeTypeAndOptionalValue.type")?;
    let di = r.read(tag::SEQUENCE, "SpcIndirectDataContent.messageDigest")?;
    r.finish("SpcIndirectDataContent")?;
    let mut dr = di.reader();
    let digest_algorithm = der::read_algorithm(&mut dr, "DigestInfo.digestAlgorithm")?;
    let digest = dr
        .read(tag::OCTET_STRING, "DigestInfo.digest")?
        .content
        .to_vec();
    dr.finish("DigestInfo")?;
    Ok(IndirectData {
        data_type,
        digest_algorithm,
        digest,
    })
}
