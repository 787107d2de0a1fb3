//! `supctl trust export` on the real binary: the files clients need for the signing
//! certificate in force, checked structurally (PowerShell cannot run here, so the script's
//! text is checked: balanced blocks, the cmdlets and paths it must use); and the `status`
//! warnings about the signing certificate (expiring, changed since the last export).

use std::path::Path;

use base64::Engine as _;
use sha1::Digest as _;

use crate::support::cli as cli_support;

use cli_support::*;

fn managed(ws: &Workspace, extra: &str) -> std::path::PathBuf {
    ws.config(
        "supctl",
        "state",
        &format!("[signing]\nmode = \"managed\"\n{extra}"),
    )
}

fn export(cfg: &Path, out: &Path) -> serde_json::Value {
    let out = out.display().to_string();
    let r = run(cfg, &["trust", "export", "--json", "--out", &out]);
    assert_eq!(r.code, 0, "{}", r.all());
    r.json()
}

fn file(exported: &serde_json::Value, kind: &str) -> Vec<u8> {
    let files: Vec<&serde_json::Value> = exported["files"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["kind"] == kind)
        .collect();
    assert_eq!(files.len(), 1, "one {kind}: {exported:#}");
    std::fs::read(files[0]["path"].as_str().unwrap()).unwrap()
}

fn warnings(cfg: &Path) -> Vec<(String, String)> {
    let r = run(cfg, &["status", "--json"]);
    r.json()["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| {
            (
                w["code"].as_str().unwrap().to_string(),
                w["message"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// Every line of a registry file: blank, a `[key]`, or `"name"=value`.
fn check_reg(bytes: &[u8]) -> String {
    assert_eq!(
        &bytes[..2],
        &[0xFF, 0xFE],
        "UTF-16LE with a byte-order mark"
    );
    let units: Vec<u16> = bytes[2..]
        .chunks(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]))
        .collect();
    let text = String::from_utf16(&units).unwrap();
    assert!(text.ends_with("\r\n"));
    let lines: Vec<&str> = text.split("\r\n").collect();
    assert_eq!(lines[0], "Windows Registry Editor Version 5.00");
    for l in &lines[1..] {
        let ok = l.is_empty()
            || (l.starts_with("[HKEY_LOCAL_MACHINE\\") && l.ends_with(']'))
            || (l.starts_with('"')
                && l.contains("\"=dword:")
                && l.len() == l.find("=dword:").unwrap() + 15);
        assert!(ok, "not a registry line: {l:?}");
        assert!(!l.contains('\n'), "CRLF lines only");
    }
    text
}

/// Braces and parentheses balance outside quoted strings, and nothing closes before it opens.
fn check_balanced(script: &str) {
    let (mut brace, mut paren) = (0i32, 0i32);
    for line in script.lines() {
        let line = line.split('#').next().unwrap_or("");
        let mut quote: Option<char> = None;
        for ch in line.chars() {
            match (quote, ch) {
                (Some(q), c) if c == q => quote = None,
                (Some(_), _) => {}
                (None, '\'' | '"') => quote = Some(ch),
                (None, '{') => brace += 1,
                (None, '}') => brace -= 1,
                (None, '(') => paren += 1,
                (None, ')') => paren -= 1,
                _ => {}
            }
            assert!(brace >= 0 && paren >= 0, "closes before it opens: {line}");
        }
        assert_eq!(quote, None, "an unterminated string: {line}");
    }
    assert_eq!((brace, paren), (0, 0), "unbalanced blocks");
}

#[test]
fn trust_export_writes_what_clients_need_for_the_certificate_in_force() {
    let ws = Workspace::new();
    let cfg = managed(&ws, "");
    assert_eq!(run(&cfg, &["apply", "--auto-approve"]).code, 0);
    let state = ws.state("state").display().to_string();
    let listed = supctl_in(
        ws.path(),
        &["certs", "list", "--json", "--state-dir", &state],
    )
    .json();
    let thumb = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["kind"] == "wsus-signing")
        .unwrap()["thumbprint"]
        .as_str()
        .unwrap()
        .to_string();

    let out = ws.path().join("trust");
    let exported = export(&cfg, &out);
    assert_eq!(exported["thumbprint"], thumb.as_str());
    assert_eq!(exported["self_signed"], true);
    assert_eq!(
        exported["stores"],
        serde_json::json!(["TrustedPublisher", "Root"])
    );

    // The .cer is the certificate `certs list` names; the .pem holds the same bytes.
    let cer = file(&exported, "cer");
    assert_eq!(hex::encode_upper(sha1::Sha1::digest(&cer)), thumb);
    let pem = String::from_utf8(file(&exported, "pem")).unwrap();
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    assert!(pem.starts_with("-----BEGIN CERTIFICATE-----\n"));
    assert_eq!(
        base64::engine::general_purpose::STANDARD
            .decode(body)
            .unwrap(),
        cer
    );

    let reg = check_reg(&file(&exported, "reg"));
    assert!(reg.contains(
        "[HKEY_LOCAL_MACHINE\\SOFTWARE\\Policies\\Microsoft\\Windows\\WindowsUpdate]\r\n\"AcceptTrustedPublisherCerts\"=dword:00000001"
    ));

    let ps1 = String::from_utf8(file(&exported, "ps1")).unwrap();
    check_balanced(&ps1);
    for must in [
        "#Requires -RunAsAdministrator",
        "HKLM:\\SOFTWARE\\Policies\\Microsoft\\Windows\\WindowsUpdate",
        "New-ItemProperty -Path $policy -Name 'AcceptTrustedPublisherCerts' -PropertyType DWord -Value 1",
        "Import-Certificate -FilePath $certificate -CertStoreLocation \"Cert:\\LocalMachine\\$store\"",
        "Test-Path -Path \"Cert:\\LocalMachine\\$store\\$thumbprint\"",
        "@('TrustedPublisher', 'Root')",
        "Write-Output",
    ] {
        assert!(
            ps1.contains(must),
            "the script must contain {must:?}:\n{ps1}"
        );
    }
    assert!(ps1.contains(&format!("$thumbprint = '{thumb}'")));
    assert!(ps1.contains(&format!("wsus-signing-{thumb}.cer")));

    let readme = String::from_utf8(file(&exported, "readme")).unwrap();
    for must in [
        "Allow signed updates from an intranet Microsoft update service location",
        "Enable third-party software",
        "Trusted Publishers",
        "Trusted Root",
        "has not been run on",
    ] {
        assert!(readme.contains(must), "README must say {must:?}:\n{readme}");
    }
}

#[test]
fn trust_export_without_a_signing_certificate_says_what_to_do() {
    let ws = Workspace::new();
    let cfg = ws.config("supctl", "state", "[sync]\nlanguages = [\"en\"]\n");
    assert_eq!(run(&cfg, &["apply", "--auto-approve"]).code, 0);
    let out = ws.path().join("trust").display().to_string();
    let r = run(&cfg, &["trust", "export", "--out", &out]);
    assert_eq!(r.code, 1, "{}", r.all());
    assert!(
        r.stderr.contains("no signing certificate in force") && r.stderr.contains("[signing]"),
        "{}",
        r.all()
    );
    assert!(!ws.path().join("trust").exists(), "nothing written");
}

#[test]
fn status_warns_of_an_expiring_signing_certificate_and_of_clients_given_another() {
    let ws = Workspace::new();
    // Ten days left, renewed at five: the warning comes a week before renewal (12 days).
    let cfg = managed(&ws, "validity_days = 10\nrenew_before_days = 5\n");
    assert_eq!(run(&cfg, &["apply", "--auto-approve"]).code, 0);
    let w = warnings(&cfg);
    assert!(
        w.iter().any(|(c, m)| c == "certificate-expiring"
            && m.contains("WSUS signing certificate")
            && m.contains("renews it 5 days before")),
        "{w:?}"
    );
    let first = export(&cfg, &ws.path().join("trust"));
    assert!(!warnings(&cfg).iter().any(|(c, _)| c == "trust-outdated"));

    // Renewed: clients hold the old certificate until the export is redone.
    let cfg = managed(&ws, "validity_days = 400\nrenew_before_days = 30\n");
    assert_eq!(run(&cfg, &["apply", "--auto-approve"]).code, 0);
    let w = warnings(&cfg);
    let outdated: Vec<_> = w.iter().filter(|(c, _)| c == "trust-outdated").collect();
    assert_eq!(outdated.len(), 1, "{w:?}");
    assert!(
        outdated[0]
            .1
            .contains(first["thumbprint"].as_str().unwrap())
    );
    assert!(!w.iter().any(|(c, _)| c == "certificate-expiring"), "{w:?}");
    export(&cfg, &ws.path().join("trust"));
    assert!(!warnings(&cfg).iter().any(|(c, _)| c == "trust-outdated"));
}
