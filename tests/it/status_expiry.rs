//! Warnings before things break, through the real binary: `status` and the `watch`
//! daemon's pass warn (`certificate-expiring`) when a catalog signer, or an approved content
//! certificate, expires within 30 days. The certificate is made at test time, valid for 10
//! more days, and signs a catalog (or its content) generated then.

use crate::support;

use std::time::Duration;

use serde_json::Value;
use supctl_test_kit::generator::Format;
use support::signed::{self, Spec, TestSigner};
use support::watch::{Watch, Workspace};

const QS_SIGNER: &str = "6D8B3C448B990E269336BB63A47F23498C95EB7D";

/// The quickstart workspace reading a generated catalog and content instead of its own.
fn workspace(spec: &Spec<'_>, scratch: &std::path::Path) -> Workspace {
    let ws = Workspace::quickstart();
    let (cab, content) = signed::generate(scratch, spec);
    std::fs::copy(cab, ws.path().join("catalog/contoso-v3.cab")).unwrap();
    let dest = ws.path().join("content");
    std::fs::remove_dir_all(&dest).unwrap();
    std::fs::create_dir_all(&dest).unwrap();
    for e in std::fs::read_dir(content).unwrap().flatten() {
        std::fs::copy(e.path(), dest.join(e.file_name())).unwrap();
    }
    ws
}

/// The `certificate-expiring` warnings of `catalog.contoso` naming `thumbprint`.
fn expiring(v: &Value, thumbprint: &str) -> Vec<String> {
    v["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|w| w["code"] == "certificate-expiring" && w["scope"] == "catalog.contoso")
        .map(|w| w["message"].as_str().unwrap().to_string())
        .filter(|m| m.contains(thumbprint))
        .collect()
}

/// Syncs, then checks `status --json` and the daemon's log for one `certificate-expiring`
/// warning that names `short` and `what` ("signer" or "content certificate").
fn assert_warned(ws: &Workspace, short: &TestSigner, what: &str) {
    ws.sync_ok();
    let (code, v) = ws.status();
    assert_eq!(code, 0, "{v:#}");
    let w = expiring(&v, &short.thumbprint);
    assert_eq!(w.len(), 1, "{v:#}");
    assert!(
        w[0].contains(&format!("{what} {}", short.thumbprint)),
        "{}",
        w[0]
    );
    assert!(
        w[0].contains("(in 9 days)") || w[0].contains("(in 10 days)"),
        "{}",
        w[0]
    );
    let out = ws.supctl(&["status"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("[certificate-expiring] catalog.contoso"),
        "{text}"
    );

    // The daemon logs the same warning on its pass.
    let mut d = Watch::start(ws, &[], None);
    d.wait_for("the expiry warning", Duration::from_secs(30), |ev| {
        ev.iter().any(|e| {
            e["fields"]["code"] == "certificate-expiring"
                && e["fields"]["message"]
                    .as_str()
                    .is_some_and(|m| m.contains(&short.thumbprint))
        })
    });
    assert_eq!(d.stop(Duration::from_secs(20)), 0);
}

/// Which certificate is the short-lived one.
#[derive(Clone, Copy)]
enum ShortLived {
    /// It signs the catalog and is its approved signer.
    Signer,
    /// It signs the content and is the approved content certificate.
    ContentCertificate,
}

/// A certificate valid for 10 more days in the given role; the quickstart signer in the
/// other. Then what `status` and the daemon say.
fn scenario(role: ShortLived) {
    if !signed::osslsigncode() {
        return;
    }
    let scratch = tempfile::tempdir().unwrap();
    let qs = signed::quickstart_signer();
    let short = signed::short_lived_signer(&scratch.path().join("pki"), 10);
    let (catalog, content, what, from, to) = match role {
        ShortLived::Signer => (
            &short,
            &qs,
            "signer",
            format!("signers = [\"{QS_SIGNER}\"]"),
            format!("signers = [\"{}\"]", short.thumbprint),
        ),
        ShortLived::ContentCertificate => (
            &qs,
            &short,
            "content certificate",
            format!("thumbprint = \"{QS_SIGNER}\""),
            format!("thumbprint = \"{}\"", short.thumbprint),
        ),
    };
    let ws = workspace(
        &Spec {
            format: Format::V3,
            catalog,
            content: Some(content),
            ships: &[content],
        },
        scratch.path(),
    );
    ws.edit_config(&from, &to);
    assert_warned(&ws, &short, what);
}

#[test]
fn a_catalog_signer_expiring_within_30_days_is_warned() {
    scenario(ShortLived::Signer);
}

#[test]
fn an_approved_content_certificate_expiring_within_30_days_is_warned() {
    scenario(ShortLived::ContentCertificate);
}
