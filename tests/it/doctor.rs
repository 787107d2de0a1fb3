//! `supctl doctor` on the real binary: healthy when everything holds, and each problem it
//! checks for found when a test provokes it, with exit 1 and the fix.

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
