//! The WSUS signing certificate as desired state (`[signing]`), on the real binary and the
//! embedded server: a managed certificate is made once and renewed inside its window with
//! both thumbprints in the plan; the admin's PFX or PEM is checked before anything is
//! written (a bad one changes nothing), and a good one is put in force and listed.
//! The manual certificates are openssl's (scripts/make-signing-fixtures.sh).

use std::path::PathBuf;

use crate::support::cli as cli_support;

use cli_support::*;

const PASSWORD_VAR: &str = "SUPCTL_TEST_SIGNING_PASSWORD";

fn fixture(name: &str) -> PathBuf {
    repo(&format!("tests/fixtures/signing/{name}"))
}

fn password() -> String {
    std::fs::read_to_string(fixture("password.txt"))
        .unwrap()
        .trim()
        .to_string()
}

/// `supctl ARGS -c CFG` with the PFX password variable set to `password`.
fn run_with(cfg: &std::path::Path, args: &[&str], password: &str) -> Run {
    let dir = cfg.parent().unwrap();
    let mut c = command(dir, args);
    c.arg("-c").arg(cfg).env(PASSWORD_VAR, password);
    let out = c.output().expect("run supctl");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// The signing certificates `certs list --json` shows: (thumbprint, subject).
fn signing_certs(ws: &Workspace) -> Vec<(String, String)> {
    let state = ws.state("state").display().to_string();
    let r = supctl_in(
        ws.path(),
        &["certs", "list", "--json", "--state-dir", &state],
    );
    assert_eq!(r.code, 0, "{}", r.all());
    r.json()
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["kind"] == "wsus-signing")
        .map(|c| {
            (
                c["thumbprint"].as_str().unwrap().to_string(),
                c["subject"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

fn managed(ws: &Workspace, extra: &str) -> PathBuf {
    ws.config(
        "supctl",
        "state",
        &format!("[signing]\nmode = \"managed\"\n{extra}"),
    )
}

fn signing_action(plan: &serde_json::Value) -> serde_json::Value {
    plan["actions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["address"] == "signing")
        .cloned()
        .unwrap_or_else(|| panic!("no signing action in {plan:#}"))
}

#[test]
fn managed_signing_creates_one_certificate_that_apply_installs_and_replans_empty() {
    let ws = Workspace::new();
    let cfg = managed(&ws, "");
    let planned = run(&cfg, &["plan", "--json"]);
    assert_eq!(planned.code, 0, "{}", planned.all());
    let action = signing_action(&planned.json());
    assert_eq!(action["kind"], "create");
    let thumb = action["after"]["thumbprint"].as_str().unwrap().to_string();
    assert!(
        action["after"]["subject"]
            .as_str()
            .unwrap()
            .contains("WSUS Publishers Self-signed"),
        "{action:#}"
    );
    // The key waits owner-only in the state directory, never in the plan.
    assert!(!planned.stdout.contains("PRIVATE KEY"));
    let key = ws
        .state("state")
        .join(format!("signing/pending/{thumb}.key"));
    assert!(key.exists());

    // A second plan reuses the same candidate: re-planning does not churn.
    let again = run(&cfg, &["plan", "--json"]);
    assert_eq!(
        signing_action(&again.json())["after"]["thumbprint"],
        thumb.as_str()
    );

    let applied = run(&cfg, &["apply", "--auto-approve"]);
    assert_eq!(applied.code, 0, "{}", applied.all());
    let certs = signing_certs(&ws);
    assert_eq!(certs.len(), 1, "{certs:?}");
    assert_eq!(certs[0].0, thumb, "apply installed the planned certificate");
    let installed = ws.state("state").join(format!("signing/{thumb}.key"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&installed).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "the key is owner-only");
    }
    assert!(!ws.state("state").join("signing/pending").exists());

    let replan = run(&cfg, &["plan", "--detailed-exitcode"]);
    assert_eq!(replan.code, 0, "no changes: {}", replan.all());
}

#[test]
fn renewal_inside_the_window_plans_replace_signing_with_both_thumbprints() {
    let ws = Workspace::new();
    let cfg = managed(&ws, "validity_days = 10\nrenew_before_days = 1\n");
    assert_eq!(run(&cfg, &["apply", "--auto-approve"]).code, 0);
    let old = signing_certs(&ws)[0].0.clone();
    assert_eq!(run(&cfg, &["plan", "--detailed-exitcode"]).code, 0);

    // Ten days left is inside a 30-day window: a planned replacement, never a silent one.
    let cfg = managed(&ws, "validity_days = 400\nrenew_before_days = 30\n");
    let planned = run(&cfg, &["plan", "--json", "--detailed-exitcode"]);
    assert_eq!(planned.code, 2, "{}", planned.all());
    let action = signing_action(&planned.json());
    assert_eq!(action["kind"], "replace");
    let new = action["after"]["thumbprint"].as_str().unwrap().to_string();
    assert_ne!(new, old);
    let reason = action["reason"].as_str().unwrap();
    assert!(
        reason.contains("renewal") && reason.contains(&format!("{old} -> {new}")),
        "{reason}"
    );
    let text = run(&cfg, &["plan"]);
    assert!(
        text.stdout.contains(&old) && text.stdout.contains(&new),
        "{}",
        text.all()
    );

    assert_eq!(run(&cfg, &["apply", "--auto-approve"]).code, 0);
    let certs = signing_certs(&ws);
    assert_eq!(
        certs.len(),
        1,
        "the replaced certificate left the list: {certs:?}"
    );
    assert_eq!(certs[0].0, new);
    assert_eq!(run(&cfg, &["plan", "--detailed-exitcode"]).code, 0);
}

fn manual(ws: &Workspace, body: &str) -> PathBuf {
    ws.config(
        "supctl",
        "state",
        &format!("[signing]\nmode = \"manual\"\n{body}"),
    )
}

fn pfx(ws: &Workspace, name: &str) -> PathBuf {
    manual(
        ws,
        &format!(
            "certificate = {:?}\npassword_env = \"{PASSWORD_VAR}\"\n",
            fixture(name).display().to_string()
        ),
    )
}

/// A bad manual certificate: `plan` and `apply` fail naming the file and the problem, and
/// nothing is written (no signing certificate, no key).
fn refused(ws: &Workspace, cfg: &std::path::Path, password: &str, expect: &[&str]) {
    for args in [vec!["plan"], vec!["apply", "--auto-approve"]] {
        let r = run_with(cfg, &args, password);
        assert_eq!(r.code, 1, "{args:?}: {}", r.all());
        for e in expect {
            assert!(
                r.all().contains(e),
                "{args:?} should say {e:?}: {}",
                r.all()
            );
        }
    }
    assert!(signing_certs(ws).is_empty(), "nothing was installed");
    assert!(
        !ws.state("state").join("signing").exists(),
        "no key was kept"
    );
}

#[test]
fn a_pfx_with_a_wrong_password_is_refused_and_changes_nothing() {
    let ws = Workspace::new();
    let cfg = pfx(&ws, "good.pfx");
    refused(
        &ws,
        &cfg,
        "not-the-password",
        &["good.pfx", "cannot open the PFX", PASSWORD_VAR],
    );
}

#[test]
fn an_expired_certificate_is_refused_and_changes_nothing() {
    let ws = Workspace::new();
    let cfg = pfx(&ws, "expired.pfx");
    refused(
        &ws,
        &cfg,
        &password(),
        &["expired.pfx", "expired on 2021-01-01"],
    );
}

#[test]
fn a_certificate_without_code_signing_is_refused_and_changes_nothing() {
    let ws = Workspace::new();
    let cfg = pfx(&ws, "tls.pfx");
    refused(
        &ws,
        &cfg,
        &password(),
        &[
            "tls.pfx",
            "server authentication",
            "does not include code signing",
        ],
    );
}

#[test]
fn a_small_rsa_key_is_refused_and_changes_nothing() {
    let ws = Workspace::new();
    let cfg = pfx(&ws, "small.pfx");
    refused(&ws, &cfg, &password(), &["small.pfx", "1024 bits"]);
}

#[test]
fn a_key_that_does_not_match_the_certificate_is_refused_and_changes_nothing() {
    let ws = Workspace::new();
    let cfg = manual(
        &ws,
        &format!(
            "certificate = {:?}\nkey = {:?}\n",
            fixture("good.pem").display().to_string(),
            fixture("other.key").display().to_string()
        ),
    );
    refused(
        &ws,
        &cfg,
        "",
        &["good.pem", "does not belong to the certificate"],
    );
}

#[test]
fn a_good_pfx_or_pem_is_put_in_force_and_listed() {
    let expected = std::fs::read_to_string(fixture("good.sha1"))
        .unwrap()
        .trim()
        .to_string();
    let ws = Workspace::new();
    let cfg = pfx(&ws, "good.pfx");
    let r = run_with(&cfg, &["apply", "--auto-approve"], &password());
    assert_eq!(r.code, 0, "{}", r.all());
    assert!(
        r.stdout.contains(&expected),
        "the plan shows the thumbprint: {}",
        r.all()
    );
    let certs = signing_certs(&ws);
    assert_eq!(certs.len(), 1);
    assert_eq!(certs[0].0, expected);
    assert!(certs[0].1.contains("supctl test WSUS signing (good)"));
    assert_eq!(
        run_with(&cfg, &["plan", "--detailed-exitcode"], &password()).code,
        0
    );

    // The same certificate as PEM + PKCS#8 key is the same object: nothing to change.
    let pem = manual(
        &ws,
        &format!(
            "certificate = {:?}\nkey = {:?}\n",
            fixture("good.pem").display().to_string(),
            fixture("good.key").display().to_string()
        ),
    );
    assert_eq!(run(&pem, &["plan", "--detailed-exitcode"]).code, 0);
}

#[test]
fn signing_config_mistakes_name_the_line() {
    let ws = Workspace::new();
    let cfg = ws.config(
        "supctl",
        "state",
        "[signing]\nmode = \"managed\"\nvalidity_days = 30\nrenew_before_days = 30\n",
    );
    let r = run(&cfg, &["validate"]);
    assert_eq!(r.code, 1, "{}", r.all());
    assert!(
        r.stderr
            .contains("must be less than `signing.validity_days`"),
        "{}",
        r.all()
    );
    let cfg = manual(
        &ws,
        &format!(
            "certificate = {:?}\n",
            fixture("good.pem").display().to_string()
        ),
    );
    let r = run(&cfg, &["validate"]);
    assert_eq!(r.code, 1, "{}", r.all());
    assert!(r.stderr.contains("needs `signing.key`"), "{}", r.all());
    let cfg = manual(
        &ws,
        "certificate = \"x.pfx\"\npassword_env = \"not a name\"\n",
    );
    let r = run(&cfg, &["validate"]);
    assert!(
        r.stderr.contains("must name an environment variable"),
        "{}",
        r.all()
    );
}

/// On WSUS the admin's PFX goes to the server (`ExecuteSetSigningCertificate`, checked
/// against the WSDL by the double, which opens the PFX with the password it was sent), and
/// the certificate in force is listed and re-plans empty.
#[test]
fn a_manual_pfx_is_installed_on_wsus_and_listed() {
    use crate::support::wsus::{State, WsusServer};
    const WSUS_PASSWORD: &str = "Correct-Horse-9";
    const WSUS_VAR: &str = "SUPCTL_TEST_WSUS_PASSWORD";
    let expected = std::fs::read_to_string(fixture("good.sha1"))
        .unwrap()
        .trim()
        .to_string();
    let server = WsusServer::start(State::default(), Some(WSUS_PASSWORD));
    let ws = Workspace::new();
    let cfg = ws.write(
        "supctl",
        &format!(
            "version = 1\n\n[server]\nbackend = \"wsus\"\nurl = {:?}\nusername = \"CORP\\\\svc-supctl\"\npassword_env = \"{WSUS_VAR}\"\npath = {:?}\n\n[signing]\nmode = \"manual\"\ncertificate = {:?}\npassword_env = \"{PASSWORD_VAR}\"\n",
            server.url(),
            ws.state("state").display().to_string(),
            fixture("good.pfx").display().to_string()
        ),
    );
    let run_wsus = |args: &[&str]| {
        let mut c = command(ws.path(), args);
        c.arg("-c")
            .arg(&cfg)
            .env(PASSWORD_VAR, password())
            .env(WSUS_VAR, WSUS_PASSWORD);
        let out = c.output().unwrap();
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    };
    let planned = run_wsus(&["plan", "--json"]);
    assert_eq!(planned.code, 0, "{}", planned.all());
    let action = signing_action(&planned.json());
    assert_eq!(action["after"]["thumbprint"], expected.as_str());
    assert!(action["unsupported"].is_null(), "{action:#}");
    let applied = run_wsus(&["apply", "--auto-approve"]);
    assert_eq!(applied.code, 0, "{}", applied.all());
    assert!(
        server
            .writes()
            .contains(&"ExecuteSetSigningCertificate".to_string())
    );
    assert!(server.violations().is_empty(), "{:?}", server.violations());
    let der = server.state().signing_certificate.clone().unwrap();
    assert_eq!(
        supctl::ids::Thumbprint::from(&supctl::ids::Sha1::of(&der)).to_string(),
        expected
    );
    let listed = run_wsus(&["certs", "list", "--json"]).json();
    assert!(
        listed
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["kind"] == "wsus-signing" && c["thumbprint"] == expected.as_str()),
        "{listed:#}"
    );
    let replan = run_wsus(&["plan", "--detailed-exitcode"]);
    assert_eq!(replan.code, 0, "{}", replan.all());
}
