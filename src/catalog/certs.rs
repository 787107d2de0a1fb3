//! `ContentCertificates/<SHA1>.cer`: the certificates that sign a catalog's update binaries.
//!
//! The file name is the upper-case SHA-1 thumbprint of the DER; a name that does not match
//! its content means the cab was assembled wrongly or tampered with, so it is an error.
//! Expired certificates are normal (29 of Lenovo's 38 in 2020) and only flagged: binaries
//! are judged at their signing timestamp.

use chrono::{DateTime, Utc};

use crate::trust::CertificateInfo;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CertError {
    #[error("content certificate `{file}`: {reason}")]
    Parse { file: String, reason: String },
    #[error(
        "content certificate `{file}` is named after {named}, but its SHA-1 thumbprint is {actual}"
    )]
    NameMismatch {
        file: String,
        named: String,
        actual: String,
    },
}

/// A parsed content certificate and whether it had expired at the time of reading.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContentCertificate {
    pub info: CertificateInfo,
    pub expired: bool,
}

/// Parses one `.cer` (DER) and checks that `file_name` (`<SHA1>.cer`, the last path
/// component) names its thumbprint; hex case is not significant.
pub fn parse_content_certificate(
    file_name: &str,
    der: &[u8],
    now: DateTime<Utc>,
) -> Result<ContentCertificate, CertError> {
    let info = CertificateInfo::from_der(der).map_err(|e| CertError::Parse {
        file: file_name.to_string(),
        reason: e.to_string(),
    })?;
    let stem = file_name
        .rsplit_once('.')
        .map_or(file_name, |(stem, _)| stem);
    let actual = info.sha1.to_hex();
    if !stem.eq_ignore_ascii_case(&actual) {
        return Err(CertError::NameMismatch {
            file: file_name.to_string(),
            named: stem.to_string(),
            actual,
        });
    }
    let expired = info.is_expired_at(now);
    Ok(ContentCertificate { info, expired })
}

#[cfg(test)]
mod tests {
    use super::*;

    const DIR: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/catalog/src/ContentCertificates"
    );

    fn fixtures() -> Vec<(String, Vec<u8>)> {
        let mut v: Vec<(String, Vec<u8>)> = std::fs::read_dir(DIR)
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                (
                    e.file_name().into_string().unwrap(),
                    std::fs::read(e.path()).unwrap(),
                )
            })
            .collect();
        v.sort();
        v
    }

    #[test]
    fn thumbprint_names_and_expiry() {
        let now = DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z")
            .unwrap()
            .to_utc();
        let certs: Vec<ContentCertificate> = fixtures()
            .iter()
            .map(|(name, der)| parse_content_certificate(name, der, now).unwrap())
            .collect();
        assert_eq!(certs.len(), 2);
        let expired: Vec<bool> = certs.iter().map(|c| c.expired).collect();
        assert_eq!(
            expired.iter().filter(|e| **e).count(),
            1,
            "the 2010-2015 certificate is expired"
        );
        for (c, (name, _)) in certs.iter().zip(fixtures()) {
            assert_eq!(format!("{}.cer", c.info.sha1.to_hex()), name);
        }
    }

    #[test]
    fn wrong_name_or_garbage_is_an_error() {
        let now = Utc::now();
        let (_, der) = fixtures().remove(0);
        let e =
            parse_content_certificate("0000000000000000000000000000000000000000.cer", &der, now)
                .unwrap_err();
        assert!(matches!(e, CertError::NameMismatch { .. }));
        assert!(
            e.to_string()
                .contains("0000000000000000000000000000000000000000.cer")
        );
        let e = parse_content_certificate("x.cer", b"not der", now).unwrap_err();
        assert!(matches!(e, CertError::Parse { .. }));
    }
}
