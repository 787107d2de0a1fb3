//! `supctl status`: the report's facts and its warnings (certificate expiry within 30
//! days, no successful sync within twice the interval, a signer that changed since it was
//! approved), through the library on a synthetic store and through the binary end to end.

use crate::support::watch as watch_common;

use chrono::{Duration, Utc};
use supctl::ids::{Sha1, Sha256, Thumbprint};
use supctl::reconcile::status::{self, Inputs};
use supctl::store::{
    ActualState, Address, CatalogKey, CatalogKind, CatalogRecord, CertKind, CertState, RunCounts,
    RunResult, Selection, StoredCatalog, StoredCertificate, SyncRun,
};
use supctl::trust::{CertificateFacts, CertificateInfo};
use watch_common::Workspace;

const SIGNER: &str = "6D8B3C448B990E269336BB63A47F23498C95EB7D";
use crate::support::e2e::OTHER_SIGNER;

fn config() -> (tempfile::TempDir, supctl::config::Config) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("supctl.toml");
    std::fs::write(
        &path,
        format!(
            "[catalog.dell]\nname = \"Dell\"\npublisher = \"Dell\"\nurl = \"https://dell.example/c.cab\"\nschedule = \"every 1 day\"\nsigners = [\"{SIGNER}\"]\n"
        ),
    )
    .unwrap();
    let (cfg, _) = supctl::config::load(&path).unwrap();
    (dir, cfg)
}

fn run(started: chrono::DateTime<Utc>, result: RunResult) -> SyncRun {
    SyncRun {
        scope: Address::parse("catalog.dell").unwrap(),
        started,
        ended: Some(started + Duration::seconds(5)),
        result,
        counts: RunCounts {
            published: 3,
            ..RunCounts::default()
        },
        message: (result == RunResult::Failed).then(|| "acquire-failed: HTTP 503".into()),
    }
}

#[test]
fn warnings_for_expiring_certificates_and_overdue_syncs() {
    let (_dir, cfg) = config();
    let now = Utc::now();
    let thumb = Thumbprint::parse(SIGNER).unwrap();
    let mut actual = ActualState::default();
    actual.catalogs.insert(
        CatalogKey::parse("dell").unwrap(),
        StoredCatalog {
            settings: CatalogRecord {
                key: CatalogKey::parse("dell").unwrap(),
                kind: CatalogKind::Custom,
                name: "Dell".into(),
                publisher: "Dell".into(),
                source: "https://dell.example/c.cab".into(),
                description: None,
                support_url: None,
                support_contact: None,
                subscribed: true,
                schedule: Some("every 1 day".into()),
                categories: Selection::All,
                staging: Selection::None,
                signers: vec![thumb.clone()],
                content_certificates: vec![],
                prune: false,
            },
            revision: None,
        },
    );
    actual.certificates.push(StoredCertificate {
        thumbprint: thumb,
        kind: CertKind::Catalog,
        state: CertState::Approved,
        facts: Some(CertificateInfo {
            facts: CertificateFacts {
                subject: "CN=Dell Signing".into(),
                issuer: "CN=CA".into(),
                serial: "01".into(),
                sha1: Sha1::of(b"x"),
                sha256: Sha256::of(b"x"),
                not_before: now - Duration::days(300),
                not_after: now + Duration::days(10),
            },
            der: vec![],
        }),
    });
    // Succeeded 3 days ago, failing since: more than twice "every 1 day".
    let runs = vec![
        run(now - Duration::hours(1), RunResult::Failed),
        run(now - Duration::days(3), RunResult::Succeeded),
    ];
    let report = status::report(&Inputs {
        cfg: &cfg,
        actual: &actual,
        runs: &runs,
        messages: &[],
        next_runs: &[],
        findings: &[],
        shipped: &[],
        interrupted: None,
        exported: None,
        compliance: None,
        now,
    });
    assert!(!report.healthy);
    let c = &report.catalogs[0];
    assert_eq!(c.key, "dell");
    assert_eq!(c.last_sync.as_ref().unwrap().result, RunResult::Failed);
    assert_eq!(c.last_success, Some(runs[1].started));
    assert_eq!(c.signers[0].state.as_deref(), Some("approved"));
    let codes: Vec<&str> = report.warnings.iter().map(|w| w.code).collect();
    assert_eq!(
        codes,
        ["certificate-expiring", "sync-overdue"],
        "{report:#?}"
    );
    assert!(
        report.warnings[0].message.contains("(in 9 days)")
            || report.warnings[0].message.contains("(in 10 days)")
    );

    // A recent success and a certificate valid for a year: no warnings, healthy.
    actual.certificates[0]
        .facts
        .as_mut()
        .unwrap()
        .facts
        .not_after = now + Duration::days(365);
    let runs = vec![run(now - Duration::hours(20), RunResult::Succeeded)];
    let report = status::report(&Inputs {
        cfg: &cfg,
        actual: &actual,
        runs: &runs,
        messages: &[],
        next_runs: &[],
        findings: &[],
        shipped: &[],
        interrupted: None,
        exported: None,
        compliance: None,
        now,
    });
    assert!(report.healthy);
    assert!(report.warnings.is_empty(), "{:?}", report.warnings);
}

/// 11508 compares the catalog's signer with the one recorded at its last successful sync,
/// not with the approved list: an approval taken away is "not approved" alone; a vendor
/// that re-signs its catalog with another certificate is "changed", with both thumbprints.
#[test]
fn a_changed_signer_is_reported_with_both_thumbprints() {
    let ws = Workspace::quickstart();
    ws.sync_ok();
    let (code, v) = ws.status();
    assert_eq!(code, 0);
    assert_eq!(v["format_version"], "1");
    let c = &v["catalogs"][0];
    assert_eq!(c["subscribed"], true);
    assert_eq!(c["signers"][0]["thumbprint"], SIGNER);
    assert!(c["signers"][0]["not_after"].is_string());
    assert_eq!(c["last_sync"]["result"], "succeeded");
    assert_eq!(c["updates"]["total"], 4);
    assert_eq!(c["revision"]["signers"][0], SIGNER, "{c:#}");
    assert!(v["warnings"].as_array().unwrap().is_empty(), "{v:#}");

    // The admin approves another certificate instead: the catalog's signer is the one of
    // the last sync, so it did not change; it is only not approved.
    let approved = "00112233445566778899AABBCCDDEEFF00112233";
    ws.edit_config(SIGNER, approved);
    let out = ws.supctl(&["sync", "contoso"]);
    assert_eq!(out.status.code(), Some(1));
    let (code, v) = ws.status();
    assert_eq!(code, 1, "{v:#}");
    let m = &v["catalogs"][0]["messages"][0];
    assert_eq!(m["code"], 11508, "{v:#}");
    let text = m["text"].as_str().unwrap();
    assert!(text.contains(SIGNER) && !text.contains("changed"), "{text}");
    assert!(
        !v["warnings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|w| w["code"] == "signer-changed"),
        "{v:#}"
    );

    // The vendor's catalog is now signed by another certificate than at the last successful
    // sync.
    ws.edit_config(approved, SIGNER);
    let cab = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/e2e/other-signer/contoso-v3.cab");
    std::fs::copy(cab, ws.path().join("catalog/contoso-v3.cab")).unwrap();
    let out = ws.supctl(&["sync", "contoso"]);
    assert_eq!(out.status.code(), Some(1));
    let (code, v) = ws.status();
    assert_eq!(code, 1, "{v:#}");
    let c = &v["catalogs"][0];
    assert_eq!(c["last_sync"]["result"], "failed");
    let m = &c["messages"][0];
    assert_eq!(m["code"], 11508, "{v:#}");
    assert_eq!(m["number"], 11508, "{v:#}");
    assert_eq!(m["severity"], "error", "{v:#}");
    let was = format!("was {SIGNER}, now signed by {OTHER_SIGNER}");
    assert!(m["text"].as_str().unwrap().contains(&was), "{m}");
    let w = v["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|w| w["code"] == "signer-changed")
        .unwrap_or_else(|| panic!("{v:#}"));
    let msg = w["message"].as_str().unwrap();
    assert!(msg.contains(&was), "{msg}");
    // The text output says the same.
    let out = ws.supctl(&["status"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("[signer-changed] catalog.contoso"), "{text}");
    assert!(
        text.contains("last sync:") && text.contains("failed"),
        "{text}"
    );
}

/// The catalog revision in force, as Flux records the revision it applied: the CAB a
/// successful apply took its updates from. An apply that fails for the catalog (its new CAB
/// is signed by a signer nobody approved) leaves the revision the server still reflects.
#[test]
fn status_shows_the_catalog_revision_the_last_successful_apply_put_in_force() {
    use crate::support::cli::{Workspace, catalog, other_signer_cab, quickstart_cab, run};
    let ws = Workspace::new();
    // The vendor's URL, as a path: the file there changes, the source does not.
    let vendor = ws.path().join("vendor.cab");
    std::fs::copy(quickstart_cab(), &vendor).unwrap();
    let cfg = ws.config("supctl", "state", &catalog("contoso", &vendor, ""));
    let r = run(&cfg, &["apply", "--auto-approve"]);
    assert_eq!(r.code, 0, "{}", r.all());
    let cab = Sha256::of(&std::fs::read(quickstart_cab()).unwrap()).to_hex();
    let revision = || {
        // Exit code 0, or 2 with warnings (the new signer is one).
        run(&cfg, &["status", "--json"]).json()["catalogs"][0]["revision"].clone()
    };
    let first = revision();
    assert!(
        first["cab_sha256"]
            .as_str()
            .unwrap()
            .eq_ignore_ascii_case(&cab),
        "{first:#}"
    );
    assert_eq!(first["format"], "v3", "{first:#}");
    let text = run(&cfg, &["status"]);
    let line = format!("revision:     sha256 {cab} (v3 format)");
    assert!(text.stdout.contains(&line), "{}", text.stdout);

    // The vendor's next CAB is signed by an unapproved signer: 11508, nothing of it applied.
    std::fs::copy(other_signer_cab(), &vendor).unwrap();
    let r = run(&cfg, &["apply", "--auto-approve"]);
    assert!(r.all().contains("[11508]"), "{}", r.all());
    assert_eq!(revision(), first);
}
