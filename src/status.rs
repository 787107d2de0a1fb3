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

/// 11508: the catalog's signer is not approved (or changed since the last successful sync,
/// or is blocked).
pub fn catalog_signature_failed(catalog: &str, thumbprint: &str) -> StatusMessage {
    StatusMessage {
        number: 11508,
        severity: Severity::Error,
        text: format!(
            "Failure when checking signature for catalog {catalog}. Make sure the catalog is subscribed and the catalog certificate {thumbprint} is approved and not blocked."
        ),
    }
}

/// The words an 11508 text carries when the catalog's signer differs from the one recorded
/// at its last successful sync; `status` warns `signer-changed` on them.
pub const SIGNER_CHANGED: &str = "The catalog signer changed since the last successful sync";

/// 11508 when the signer *changed* since the last successful sync: ConfigMgr's text plus
/// the old and new thumbprints, so the admin can compare them before approving the new one
/// (a signer that is merely unapproved, with no earlier sync to compare with, is
/// [`catalog_signature_failed`]).
pub fn catalog_signer_changed(catalog: &str, before: &[String], now: &str) -> StatusMessage {
    let mut m = catalog_signature_failed(catalog, now);
    m.text.push_str(&format!(
        " {SIGNER_CHANGED}: was {}, now signed by {now}.",
        before.join(", ")
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

/// 11524: content was requested for an update whose metadata is not on the update server
/// (and this plan does not publish it), so there is nothing to attach the content to.
pub fn update_metadata_missing(update: &str) -> StatusMessage {
    StatusMessage {
        number: 11524,
        severity: Severity::Error,
        text: format!("Failed to publish update \"{update}\" due to missing update metadata."),
    }
}

/// The severity ConfigMgr gives a message number, where it is one of its own: a plan shows
/// an unapproved signer (11508) as a blocked warning so that the rest applies, but the
/// message recorded for the console is ConfigMgr's error.
pub fn configmgr_severity(number: u32) -> Option<Severity> {
    match number {
        11508 | 11516 | 11524 => Some(Severity::Error),
        11523 => Some(Severity::Warning),
        _ => None,
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
        assert!(changed.text.contains("was OLD, now signed by NEW"));
        assert!(changed.text.contains(SIGNER_CHANGED));
        assert_eq!(update_metadata_missing("u").number, 11524);
        assert_eq!(configmgr_severity(11523), Some(Severity::Warning));
        assert_eq!(configmgr_severity(11524), Some(Severity::Error));
        assert!(
            content_unsigned("u")
                .text
                .contains("Only content with valid signatures")
        );
    }
}
