//! X.509 certificate facts that admins approve and block: subject, issuer, validity and the
//! thumbprints ConfigMgr shows.

use std::ops::Deref;

use chrono::{DateTime, TimeZone, Utc};
use serde::{Deserialize, Serialize};
use x509_parser::prelude::*;

use supctl_ids::{Sha1, Sha256, Thumbprint};

#[derive(Debug, thiserror::Error)]
pub enum CertificateError {
    #[error("not a DER X.509 certificate: {0}")]
    Parse(String),
}

/// What supctl reports and approves about a certificate: everything but its bytes, so that
/// records that keep no DER (the content certificates a catalog ships) carry none.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CertificateFacts {
    pub subject: String,
    pub issuer: String,
    pub serial: String,
    pub sha1: Sha1,
    pub sha256: Sha256,
    pub not_before: DateTime<Utc>,
    pub not_after: DateTime<Utc>,
}

/// A parsed certificate: its facts and the DER they were read from, for what needs the bytes
/// (a plan's approvals, the store's certificates). It serializes as the facts then `der` in
/// hex, and dereferences to the facts so that what reads them takes either type.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CertificateInfo {
    #[serde(flatten)]
    pub facts: CertificateFacts,
    #[serde(with = "der_hex")]
    pub der: Vec<u8>,
}

impl Deref for CertificateInfo {
    type Target = CertificateFacts;

    fn deref(&self) -> &CertificateFacts {
        &self.facts
    }
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
            facts: CertificateFacts {
                subject: cert.subject().to_string(),
                issuer: cert.issuer().to_string(),
                serial: cert.raw_serial_as_string(),
                sha1: Sha1::of(der),
                sha256: Sha256::of(der),
                not_before: time(cert.validity().not_before),
                not_after: time(cert.validity().not_after),
            },
            der: der.to_vec(),
        })
    }
}

impl CertificateFacts {
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

/// `#[serde(with = "facts_only")]` for an `Option<CertificateInfo>` whose DER is kept
/// elsewhere or not at all: writes the facts alone, and reads them back with an empty DER.
pub mod facts_only {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    use super::{CertificateFacts, CertificateInfo};

    pub fn serialize<S: Serializer>(v: &Option<CertificateInfo>, s: S) -> Result<S::Ok, S::Error> {
        v.as_ref().map(|c| &c.facts).serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<CertificateInfo>, D::Error> {
        let facts = Option::<CertificateFacts>::deserialize(d)?;
        Ok(facts.map(|facts| CertificateInfo {
            facts,
            der: Vec::new(),
        }))
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
