//! Trust rules end to end: an unapproved catalog signer (11508), content whose bytes do not
//! match the catalog (HASH_FAIL), unsigned content (11516) and content signed by a
//! certificate nobody approved (TRUST_FAIL). Each through the real binary, over HTTPS.

use crate::support;

use std::path::Path;

use supctl::ids::UpdateId;
use supctl::store::UpdateState;
use support::e2e::*;

fn state_of(site: &Site, id: &str) -> Option<UpdateState> {
    let id = UpdateId::parse(id).unwrap();
    site.snapshot().updates.get(&id).map(|u| u.state())
}

fn status_numbers(site: &Site) -> Vec<u32> {
    site.backend()
        .status_messages(100)
        .unwrap()
        .iter()
        .map(|m| m.message.number)
        .collect()
}

/// A site serving `cab` (and `content`, if any) with a config that approves the quickstart
/// signer for catalogs and content and stages `Contoso/Utilities`.
fn site_with(cab: &Path, content: Option<&Path>) -> (Site, std::path::PathBuf) {
    site_serving(cab, content, "stage = [\"Contoso/Utilities\"]")
}

#[test]
fn unapproved_signer_is_11508_and_nothing_from_the_catalog_is_applied() {
    let (site, cfg) = site_with(
        &repo("tests/fixtures/e2e/other-signer/contoso-v3.cab"),
        None,
    );
    let (code, plan) = plan_json(&cfg, &[]);
    assert_eq!(code, 2, "a pending approval counts as a change: {plan:#}");
    let d = &plan["diagnostics"][0];
    assert_eq!(d["code"], "11508", "{plan:#}");
    assert_eq!(
        d["severity"], "warning",
        "awaiting approval is not an error"
    );
    assert_eq!(d["blocked"], true);
    assert_eq!(d["address"], "catalog.contoso");
    assert!(d["message"].as_str().unwrap().contains(OTHER_SIGNER), "{d}");
    assert!(d["hint"].as_str().unwrap().contains(OTHER_SIGNER), "{d}");
    assert_eq!(plan["summary"]["updates"]["publish"], 0);
    assert_eq!(plan["summary"]["updates"]["stage"], 0);

    let r = run(&cfg, &["plan"]);
    assert_eq!(
        r.code, 0,
        "without --detailed-exitcode a plan that ran is 0"
    );
    assert!(
        r.stdout.contains("Warning [11508] catalog.contoso"),
        "{}",
        r.stdout
    );

    // Apply does what it can (the signer's approval, the catalog) and names what waits.
    let r = run(&cfg, &["apply", "--auto-approve"]);
    assert_eq!(r.code, 0, "{}", r.all());
    assert!(
        r.stdout.contains("Waiting for approval: catalog.contoso"),
        "{}",
        r.all()
    );
    let snap = site.snapshot();
    assert!(
        snap.updates.is_empty(),
        "no update from an untrusted catalog"
    );
    assert!(snap.categories.values().all(|c| c.is_empty()));
    assert!(status_numbers(&site).contains(&11508));
    // Content was never requested.
    assert!(
        site.server
            .requests()
            .iter()
            .all(|r| r.path == "/contoso-v3.cab")
    );
}

#[test]
fn digest_mismatch_is_hash_fail_and_the_update_stays_metadata_only() {
    let (site, cfg) = site_with(&quickstart_cab(), Some(&quickstart_content()));
    // The vendor replaced Tool 1.1 at the same URL: same size, other bytes.
    let other = std::fs::read(quickstart_content().join("contoso-tool-1.0.exe")).unwrap();
    site.server.set_file("/contoso-tool-1.1.exe", other);

    let r = run(&cfg, &["apply", "--auto-approve"]);
    assert_eq!(r.code, 1, "{}", r.all());
    assert!(
        r.stdout.contains("Apply finished with errors: 9 done, 1 failed, 0 refused (changed since planned), 0 not attempted."),
        "{}",
        r.stdout
    );
    let failed = format!("failed        {}", update_addr("contoso", TOOL_11));
    let line = r
        .stdout
        .lines()
        .find(|l| l.contains("failed ") && l.contains(TOOL_11))
        .unwrap_or_else(|| panic!("{failed} not reported:\n{}", r.stdout));
    assert!(line.contains("HASH_FAIL"), "{line}");
    assert_eq!(state_of(&site, TOOL_11), Some(UpdateState::MetadataOnly));
    assert_eq!(state_of(&site, TOOL_10), Some(UpdateState::Deployable));
    assert_eq!(state_of(&site, AGENT_23), Some(UpdateState::Deployable));
    assert!(
        site.server().gc(true).unwrap().orphans.is_empty(),
        "rejected bytes are not left in the store"
    );

    // The next plan wants exactly that content again.
    let (code, plan) = plan_json(&cfg, &[]);
    assert_eq!(code, 2);
    assert_eq!(
        actions(&plan),
        vec![format!("stage {}", update_addr("contoso", TOOL_11))]
    );
}

#[test]
fn unsigned_content_is_11516() {
    let dir = repo("tests/fixtures/e2e/unsigned-content");
    let (site, cfg) = site_with(&dir.join("contoso-v3.cab"), Some(&dir.join("content")));
    let r = run(&cfg, &["apply", "--auto-approve"]);
    assert_eq!(r.code, 1, "{}", r.all());
    let line = r
        .stdout
        .lines()
        .find(|l| l.contains("failed ") && l.contains(TOOL_10))
        .unwrap_or_else(|| panic!("Tool 1.0 not reported failed:\n{}", r.stdout));
    assert!(
        line.contains("11516") && line.contains("unsigned"),
        "{line}"
    );
    assert!(r.stdout.contains("1 failed"), "{}", r.stdout);
    assert_eq!(state_of(&site, TOOL_10), Some(UpdateState::MetadataOnly));
    assert_eq!(state_of(&site, TOOL_11), Some(UpdateState::Deployable));
    assert!(status_numbers(&site).contains(&11516));
}

#[test]
fn content_signed_by_an_unapproved_certificate_is_trust_fail() {
    let dir = repo("tests/fixtures/e2e/foreign-content");
    let (site, cfg) = site_with(&dir.join("contoso-v3.cab"), Some(&dir.join("content")));
    let (_, plan) = plan_json(&cfg, &[]);
    let pending: Vec<_> = plan["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["code"] == "content-certificate-pending")
        .collect();
    assert_eq!(pending.len(), 1, "{plan:#}");
    assert!(
        pending[0]["message"]
            .as_str()
            .unwrap()
            .contains(OTHER_SIGNER)
    );

    let r = run(&cfg, &["apply", "--auto-approve"]);
    assert_eq!(r.code, 1, "{}", r.all());
    assert!(r.stdout.contains("3 failed"), "{}", r.stdout);
    let fails: Vec<&str> = r
        .stdout
        .lines()
        .filter(|l| l.trim_start().starts_with("failed "))
        .collect();
    assert_eq!(fails.len(), 3, "{}", r.stdout);
    for l in fails {
        assert!(
            l.contains("TRUST_FAIL") && l.contains(OTHER_SIGNER) && l.contains("not yet approved"),
            "{l}"
        );
    }
    for id in [TOOL_10, TOOL_11, AGENT_23] {
        assert_eq!(state_of(&site, id), Some(UpdateState::MetadataOnly), "{id}");
    }
}

/// `content_source` is searched by name *and digest*: a stale local copy with the right name
/// is passed over and the file is downloaded instead.
#[test]
fn a_stale_local_copy_falls_back_to_the_download() {
    let site = Site::new();
    let url = site.serve_catalog("/contoso-v3.cab", &quickstart_cab());
    site.serve_content(&quickstart_content());
    let local = site.dir.path().join("local-content");
    std::fs::create_dir_all(&local).unwrap();
    for entry in std::fs::read_dir(quickstart_content()).unwrap() {
        let p = entry.unwrap().path();
        std::fs::copy(&p, local.join(p.file_name().unwrap())).unwrap();
    }
    // Tool 1.1's local copy is stale: same name and size, other bytes.
    let stale = std::fs::read(quickstart_content().join("contoso-tool-1.0.exe")).unwrap();
    std::fs::write(local.join("contoso-tool-1.1.exe"), stale).unwrap();
    let extra = format!(
        "stage = [\"Contoso/Utilities\"]\ncontent_source = {:?}",
        local.display().to_string()
    );
    let body = format!(
        "{}\n{}",
        catalog("contoso", &url, &extra),
        approve_content()
    );
    let cfg = site.write("supctl", &site.config("", &body));

    let r = run(&cfg, &["apply", "--auto-approve"]);
    assert_eq!(r.code, 0, "{}", r.all());
    assert_eq!(
        site.downloads_of("contoso-tool-1.1.exe"),
        1,
        "the stale copy is replaced by a download"
    );
    assert_eq!(
        site.downloads_of("contoso-tool-1.0.exe"),
        0,
        "good local copies are used"
    );
    assert_eq!(state_of(&site, TOOL_11), Some(UpdateState::Deployable));
}
