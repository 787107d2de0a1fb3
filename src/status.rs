//! ConfigMgr's status messages for third-party catalogs, reused verbatim so admins recognise
//! them, plus supctl's own codes for conditions ConfigMgr has no number for.

use serde::{Deserialize, Serialize};

pub use crate::vocab::Severity;

/// A numbered status message: `number` is ConfigMgr's MessageID where one exists.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusMessage {
    pub number: u32,
    pub severity: Severity,
    pub text: String,
}

/// 11508: the catalog's signer is not approved (or changed since approval, or is blocked).
pub fn catalog_signature_failed(catalog: &str, thumbprint: &str) -> StatusMessage {
    StatusMessage {
        number: 11508,
        severity: Severity::Error,
        text: format!(
            "Failure when checking signature for catalog {catalog}. Make sure the catalog is subscribed and the catalog certificate {thumbprint} is approved and not blocked."
        ),
    }
}

/// 11508 when the signer *changed* since it was approved: ConfigMgr's text plus the old
/// and new thumbprints, so the admin can compare them before approving the new one.
pub fn catalog_signer_changed(catalog: &str, approved: &[String], now: &str) -> StatusMessage {
    let mut m = catalog_signature_failed(catalog, now);
    m.text.push_str(&format!(
        " The catalog signer changed since it was approved: approved {}, now signed by {now}.",
        approved.join(", ")
    ));
    m
}

/// 11516: content without a valid Authenticode signature is never published.
pub fn content_unsigned(update: &str) -> StatusMessage {
    StatusMessage {
        number: 11516,
        severity: Severity::Error,
        text: format!(
            "Failed to publish content for update \"{update}\" because the content is unsigned. Only content with valid signatures can be published."
        ),
    }
}

/// 11523: an older catalog format without `ContentCertificates/`.
pub fn content_certificates_missing(catalog: &str) -> StatusMessage {
    StatusMessage {
        number: 11523,
        severity: Severity::Warning,
        text: format!(
            "Catalog \"{catalog}\" does not include content signing certificates; attempts to publish update content for updates from this catalog may be unsuccessful until content signing certificates are added and approved."
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_match_configmgr() {
        assert_eq!(catalog_signature_failed("c", "T").number, 11508);
        assert_eq!(content_unsigned("u").number, 11516);
        assert_eq!(content_certificates_missing("c").number, 11523);
        let changed = catalog_signer_changed("c", &["OLD".into()], "NEW");
        assert_eq!(changed.number, 11508);
        assert!(changed.text.contains("approved OLD, now signed by NEW"));
        assert!(
            content_unsigned("u")
                .text
                .contains("Only content with valid signatures")
        );
    }
}
