//! `supctl doctor` on the real binary: healthy when everything holds, and each problem it
//! checks for found when a test provokes it, with exit 1 and the fix.

use std::path::Path;

use crate::support::cli as cli_support;

use cli_support::*;

/// The quickstart catalog staging everything, its content certificate approved, a managed
/// signing certificate; `extra` is appended.
fn body(content_approved: bool, extra: &str) -> String {
    format!(
        "{}\n{}\n[signing]\nmode = \"managed\"\n{extra}",
        quickstart("contoso", "stage = \"all\""),
        if content_approved {
            approve_content()
        } else {
            String::new()
        }
    )
}

/// (exit code, findings that are problems as (check, subject, detail)).
fn doctor(cfg: &std::path::Path) -> (i32, Vec<(String, String, String)>) {
    let r = run(cfg, &["doctor", "--json"]);
    let v = r.json();
    let problems = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["ok"] == false)
        .map(|f| {
            assert!(f["fix"].is_string(), "every problem has its fix: {f}");
            (
                f["check"].as_str().unwrap().to_string(),
                f["subject"].as_str().unwrap().to_string(),
                f["detail"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(v["healthy"], r.code == 0, "{}", r.all());
    (r.code, problems)
}

fn has(problems: &[(String, String, String)], check: &str, detail: &str) -> bool {
    problems
        .iter()
        .any(|(c, _, d)| c == check && d.contains(detail))
}

#[test]
fn a_healthy_update_point_passes_every_check() {
    let ws = Workspace::new();
    let cfg = ws.config("supctl", "state", &body(true, ""));
    let applied = run(&cfg, &["apply", "--auto-approve"]);
    assert_eq!(applied.code, 0, "{}", applied.all());
    let out = ws.path().join("trust").display().to_string();
    assert_eq!(run(&cfg, &["trust", "export", "--out", &out]).code, 0);
    let (code, problems) = doctor(&cfg);
    assert_eq!((code, problems), (0, vec![]));
    let text = run(&cfg, &["doctor"]);
    assert!(text.stdout.contains("0 problem(s)"), "{}", text.all());
}

#[test]
fn a_missing_signing_key_is_found() {
    let ws = Workspace::new();
    let cfg = ws.config("supctl", "state", &body(true, ""));
    assert_eq!(run(&cfg, &["apply", "--auto-approve"]).code, 0);
    for e in std::fs::read_dir(ws.state("state").join("signing"))
        .unwrap()
        .flatten()
    {
        if e.path().extension().is_some_and(|x| x == "key") {
            std::fs::remove_file(e.path()).unwrap();
        }
    }
    let (code, problems) = doctor(&cfg);
    assert_eq!(code, 1);
    assert!(has(&problems, "signing", "is missing from"), "{problems:?}");
}

#[test]
fn an_expiring_signing_certificate_and_outdated_client_trust_are_found() {
    let ws = Workspace::new();
    let cfg = ws.config(
        "supctl",
        "state",
        &body(true, "validity_days = 10\nrenew_before_days = 5\n"),
    );
    assert_eq!(run(&cfg, &["apply", "--auto-approve"]).code, 0);
    let out = ws.path().join("trust").display().to_string();
    assert_eq!(run(&cfg, &["trust", "export", "--out", &out]).code, 0);
    let (code, problems) = doctor(&cfg);
    assert_eq!(code, 1);
    assert!(
        has(&problems, "signing", "(in 9 days)") || has(&problems, "signing", "(in 10 days)"),
        "{problems:?}"
    );
    assert!(!has(&problems, "trust-export", ""), "{problems:?}");

    let cfg = ws.config("supctl", "state", &body(true, "validity_days = 400\n"));
    assert_eq!(run(&cfg, &["apply", "--auto-approve"]).code, 0);
    let (code, problems) = doctor(&cfg);
    assert_eq!(code, 1);
    assert!(
        has(&problems, "trust-export", "clients were last given"),
        "{problems:?}"
    );
    assert!(!has(&problems, "signing", ""), "{problems:?}");
}

#[test]
fn a_blocked_catalog_signer_and_a_staging_catalog_without_content_approval_are_found() {
    let ws = Workspace::new();
    let blocked = format!(
        "[[certificate]]\nthumbprint = \"{QS_SIGNER}\"\nkind = \"catalog\"\nstate = \"blocked\"\n"
    );
    let cfg = ws.config("supctl", "state", &body(false, &blocked));
    run(&cfg, &["apply", "--auto-approve"]);
    let (code, problems) = doctor(&cfg);
    assert_eq!(code, 1);
    assert!(
        has(&problems, "catalog-signer", "no approved signer"),
        "{problems:?}"
    );
    assert!(
        has(&problems, "content-certificates", "no content certificate"),
        "{problems:?}"
    );
}

#[test]
fn unusable_extra_cas_and_an_unreachable_proxy_are_found() {
    let ws = Workspace::new();
    let bad = ws.path().join("corp-root.pem");
    std::fs::write(
        &bad,
        "-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n",
    )
    .unwrap();
    let cfg = ws.config("supctl", "state", &body(true, ""));
    assert_eq!(run(&cfg, &["apply", "--auto-approve"]).code, 0);
    let text = std::fs::read_to_string(&cfg).unwrap().replacen(
        "[server]",
        &format!(
            "[http]\nca_certificates = [{:?}]\nproxy = \"http://127.0.0.1:1\"\n\n[server]",
            bad.display().to_string()
        ),
        1,
    );
    std::fs::write(&cfg, text).unwrap();
    let (code, problems) = doctor(&cfg);
    assert_eq!(code, 1);
    assert!(has(&problems, "network", "corp-root.pem"), "{problems:?}");
    assert!(
        has(&problems, "network", "does not accept connections"),
        "{problems:?}"
    );
}

#[test]
fn an_unreachable_wsus_is_found() {
    let ws = Workspace::new();
    let cfg = ws.write(
        "supctl",
        &format!(
            "version = 1\n\n[server]\nbackend = \"wsus\"\nurl = \"https://127.0.0.1:1\"\nusername = \"svc\"\npassword_env = \"SUPCTL_DOCTOR_PW\"\npath = {:?}\n",
            ws.state("state").display().to_string()
        ),
    );
    let (code, problems) = doctor(&cfg);
    assert_eq!(code, 1);
    assert!(
        problems.iter().any(|(c, _, _)| c == "server"),
        "{problems:?}"
    );
}

#[test]
fn a_catalog_signer_expiring_within_30_days_is_found() {
    use crate::support::signed::{self, Spec};
    if !signed::osslsigncode() {
        return;
    }
    let ws = Workspace::new();
    let short = signed::short_lived_signer(&ws.path().join("pki"), 10);
    let (cab, content) = signed::generate(
        ws.path(),
        &Spec {
            format: supctl_test_kit::generator::Format::V3,
            catalog: &short,
            content: None,
            ships: &[&short],
        },
    );
    let body = format!(
        "[catalog.contoso]\nname = \"Contoso\"\npublisher = \"Contoso\"\npath = {:?}\nsigners = [\"{}\"]\ncontent_source = {:?}\n",
        cab.display().to_string(),
        short.thumbprint,
        content.display().to_string()
    );
    let cfg = ws.config("supctl", "state", &body);
    let applied = run(&cfg, &["apply", "--auto-approve"]);
    assert_eq!(applied.code, 0, "{}", applied.all());
    let (code, problems) = doctor(&cfg);
    assert_eq!(code, 1);
    assert!(
        problems.iter().any(|(c, s, d)| c == "catalog-signer"
            && s == "catalog.contoso"
            && d.contains(&short.thumbprint)
            && d.contains("days)")),
        "{problems:?}"
    );
}

#[test]
fn a_state_directory_that_cannot_be_written_is_found() {
    // /proc refuses new files even to root, whom permission bits do not stop.
    if !Path::new("/proc/self").is_dir() {
        eprintln!("skipped: no /proc");
        return;
    }
    let ws = Workspace::new();
    let cfg = ws.write("supctl", "version = 1\n\n[server]\npath = \"/proc/self\"\n");
    let (code, problems) = doctor(&cfg);
    assert_eq!(code, 1);
    assert!(
        has(&problems, "state-directory", "not writable"),
        "{problems:?}"
    );
}

#[test]
fn a_wsus_account_without_a_role_is_found() {
    use crate::support::wsus::{State, WsusServer};
    let server = WsusServer::start(
        State {
            role: 0,
            ..State::default()
        },
        Some("Correct-Horse-9"),
    );
    let ws = Workspace::new();
    let cfg = ws.write(
        "supctl",
        &format!(
            "version = 1\n\n[server]\nbackend = \"wsus\"\nurl = {:?}\nusername = \"CORP\\\\svc\"\npassword_env = \"SUPCTL_DOCTOR_PW\"\npath = {:?}\n",
            server.url(),
            ws.state("state").display().to_string()
        ),
    );
    let mut c = command(ws.path(), &["doctor", "--json", "-c"]);
    c.arg(&cfg).env("SUPCTL_DOCTOR_PW", "Correct-Horse-9");
    let out = c.output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let server_finding = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["check"] == "server")
        .unwrap()
        .clone();
    assert_eq!(server_finding["ok"], false, "{server_finding:#}");
    assert!(
        server_finding["detail"]
            .as_str()
            .unwrap()
            .to_lowercase()
            .contains("role"),
        "{server_finding:#}"
    );
}

#[test]
fn too_little_space_for_the_content_still_to_stage_is_found() {
    let ws = Workspace::new();
    let cfg = ws.config(
        "supctl",
        "state",
        &format!("{}\n{}", quickstart("contoso", ""), approve_content()),
    );
    assert_eq!(run(&cfg, &["apply", "--auto-approve"]).code, 0);
    // The catalog's files, as if they were a petabyte each, still to stage.
    let db = rusqlite::Connection::open(ws.state("state").join("store.db")).unwrap();
    db.execute("UPDATE update_files SET size = 1000000000000000", [])
        .unwrap();
    drop(db);
    let cfg = ws.config(
        "supctl",
        "state",
        &format!(
            "{}\n{}",
            quickstart("contoso", "stage = \"all\""),
            approve_content()
        ),
    );
    let (code, problems) = doctor(&cfg);
    assert_eq!(code, 1);
    assert!(
        has(&problems, "state-directory", "still to stage"),
        "{problems:?}"
    );
}

#[test]
fn a_configured_signing_certificate_not_in_force_is_found() {
    let ws = Workspace::new();
    let cfg = ws.config(
        "supctl",
        "state",
        &format!("{}\n{}", quickstart("contoso", ""), approve_content()),
    );
    assert_eq!(run(&cfg, &["apply", "--auto-approve"]).code, 0);
    let cfg = ws.config("supctl", "state", &body(true, ""));
    let (code, problems) = doctor(&cfg);
    assert_eq!(code, 1);
    assert!(
        has(&problems, "signing", "no signing certificate is in force"),
        "{problems:?}"
    );
}
