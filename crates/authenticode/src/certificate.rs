//! X.509 certificate facts that admins approve and block: subject, issuer, validity and the
//! thumbprints ConfigMgr shows.

use chrono::{DateTime, TimeZone, Utc};
use serde::{Deserialize, Serialize};
use x509_parser::prelude::*;

use supctl_ids::{Sha1, Sha256, Thumbprint};

#[derive(Debug, thiserror::Error)]
pub enum CertificateError {
    #[error("not a DER X.509 certificate: {0}")]
    Parse(String),
}

/// A certificate as supctl reports, stores and approves it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CertificateInfo {
    pub subject: String,
    pub issuer: String,
    pub serial: String,
    pub sha1: Sha1,
    pub sha256: Sha256,
    pub not_before: DateTime<Utc>,
    pub not_after: DateTime<Utc>,
    #[serde(with = "der_hex")]
    pub der: Vec<u8>,
}

impl CertificateInfo {
    pub fn from_der(der: &[u8]) -> Result<Self, CertificateError> {
        let (rest, cert) =
            X509Certificate::from_der(der).map_err(|e| CertificateError::Parse(e.to_string()))?;
        if !rest.is_empty() {
            return Err(CertificateError::Parse(format!(
                "{} trailing bytes after the certificate",
                rest.len()
            )));
        }
        let time = |t: ASN1Time| {
            Utc.timestamp_opt(t.timestamp(), 0)
                .single()
                .unwrap_or(DateTime::<Utc>::MIN_UTC)
        };
        Ok(Self {
            subject: cert.subject().to_string(),
            issuer: cert.issuer().to_string(),
            serial: cert.raw_serial_as_string(),
            sha1: Sha1::of(der),
            sha256: Sha256::of(der),
            not_before: time(cert.validity().not_before),
            not_after: time(cert.validity().not_after),
            der: der.to_vec(),
        })
    }

    pub fn thumbprint(&self) -> Thumbprint {
        Thumbprint::from(&self.sha1)
    }

    /// True when `t` names this certificate by either of its thumbprints.
    pub fn matches(&self, t: &Thumbprint) -> bool {
        t.as_str() == self.sha1.to_hex() || t.as_str() == self.sha256.to_hex()
    }

    pub fn is_valid_at(&self, at: DateTime<Utc>) -> bool {
        self.not_before <= at && at <= self.not_after
    }

    pub fn is_expired_at(&self, at: DateTime<Utc>) -> bool {
        at > self.not_after
    }
}

mod der_hex {
    use serde::{Deserialize, Deserializer, Serializer};
    pub(super) fn serialize<S: Serializer>(v: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(v))
    }
    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let s = String::deserialize(d)?;
        hex::decode(s).map_err(serde::de::Error::custom)
    }
}
