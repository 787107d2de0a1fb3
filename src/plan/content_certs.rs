//! Content certificates a catalog ships that no `[[certificate]]` rule decides: one
//! diagnostic per catalog, however many there are.
//!
//! Vendor catalogs ship dozens of content certificates, many long expired; one warning each
//! (38 of them, ~230 lines for a catalog that staged nothing) buried everything else, and
//! was repeated by apply, the daemon's log and `status`. A catalog that stages nothing needs
//! none of them: that is a note, not a warning.

use super::builder::Builder;
use super::model::Severity;
use crate::catalog::model::CatalogContent;
use crate::config;
use crate::store::Address;
use crate::trust::CertificateInfo;

/// Most `[[certificate]]` blocks suggested in the hint.
const HINT_BLOCKS: usize = 3;

fn block(c: &CertificateInfo) -> String {
    format!(
        "[[certificate]]\nthumbprint = \"{}\"\nkind = \"content\"\nstate = \"approved\"\ncomment = \"{}, valid until {}\"",
        c.sha1,
        c.subject.replace('"', "'"),
        c.not_after.format("%Y-%m-%d")
    )
}

pub(super) fn content_certificate_diagnostics(
    b: &mut Builder,
    c: &config::Catalog,
    address: &Address,
    content: &CatalogContent,
) {
    let rules = &b.inputs.desired.certificates;
    let pending: Vec<&CertificateInfo> = content
        .content_certificates
        .iter()
        .filter(|cert| {
            !rules
                .iter()
                .any(|r| r.kind == config::CertKind::Content && cert.matches(&r.thumbprint))
        })
        .collect();
    if pending.is_empty() {
        return;
    }
    let now = b.inputs.now;
    let expired = pending.iter().filter(|c| c.not_after < now).count();
    let expiry = match expired {
        0 => "none expired".to_string(),
        n if n == pending.len() && n == 1 => "expired".to_string(),
        n if n == pending.len() => "all expired".to_string(),
        n => format!("{n} expired"),
    };
    let what = if pending.len() == 1 {
        let p = pending[0];
        format!(
            "1 content certificate pending approval ({} {}, valid until {}), {expiry}",
            p.sha1,
            p.subject,
            p.not_after.format("%Y-%m-%d")
        )
    } else {
        format!(
            "{} content certificates pending approval, {expiry}",
            pending.len()
        )
    };
    if !config::stages_content(b.inputs.desired, &c.key) {
        b.diagnostic(
            Severity::Info,
            "content-certificate-pending",
            address,
            format!(
                "catalog {}: {what}; not needed: this catalog stages nothing",
                c.key
            ),
            None,
        );
        return;
    }
    // Suggest the certificates still valid first: an expired one verifies only content
    // signed (and timestamped) while it was valid.
    let mut order = pending.clone();
    order.sort_by_key(|c| (c.not_after < now, std::cmp::Reverse(c.not_after)));
    let mut hint: Vec<String> = order.iter().take(HINT_BLOCKS).map(|c| block(c)).collect();
    if pending.len() > HINT_BLOCKS {
        hint.push(format!(
            "# ... and {} more: `plan --json` (this diagnostic) and `status --json` list every thumbprint",
            pending.len() - HINT_BLOCKS
        ));
    }
    let all: Vec<String> = pending.iter().map(|c| c.sha1.to_string()).collect();
    b.diagnostic(
        Severity::Warning,
        "content-certificate-pending",
        address,
        format!(
            "catalog {}: {what}; content they sign is not staged{}",
            c.key,
            if pending.len() > 1 {
                format!(" (pending: {})", all.join(", "))
            } else {
                String::new()
            }
        ),
        Some(format!(
            "after review, approve those that sign content you stage:\n{}",
            hint.join("\n")
        )),
    );
}
