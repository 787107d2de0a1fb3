//! Issue 13 #7: a catalog signer that expired without a covering timestamp is diagnosed as
//! what it is. `plan` names the signer's dates and `allow_expired_signer` (not "the file was
//! altered or damaged"), `catalog inspect` says the same words, and the setting lets it in.
//! Fixtures: `tests/fixtures/e2e/expired-signer/contoso-v3.cab` (the quickstart catalog signed
//! by the trust tests' expired signer, `scripts/make-e2e-fixtures.sh`) and
//! `tests/fixtures/signed/catalog-expired.cab` (`tests/fixtures/signed/README.md`).

use crate::support;

use std::path::{Path, PathBuf};

use serde_json::Value;
use support::e2e::*;

/// SHA-1 of `tests/fixtures/pki/expired.pem`: valid 2020-01-01 to 2022-01-01.
const EXPIRED_SIGNER: &str = "0CA6AD8F14726D0A37EE77339E54514F5EE386A4";

/// The words both commands must use for this signer.
const REASON: &str = "the catalog signer CN=supctl Test Expired Signer, O=Example (SHA-1 0CA6AD8F14726D0A37EE77339E54514F5EE386A4) was valid from 2020-01-01 to 2022-01-01 and has expired; no verified timestamp shows the catalog was signed before that";

fn expired_cab() -> PathBuf {
    repo("tests/fixtures/e2e/expired-signer/contoso-v3.cab")
}

fn inspect(args: &[&str]) -> Run {
    let out = supctl(&[&["catalog", "inspect"], args].concat())
        .output()
        .unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// A config reading `cab`, approving its (expired) signer, plus `extra` catalog keys.
fn config(dir: &Path, cab: &Path, extra: &str) -> PathBuf {
    let p = dir.join("supctl.toml");
    std::fs::write(
        &p,
        format!(
            "version = 1\n\n[server]\npath = \"state\"\n\n[catalog.contoso]\nkind = \"custom\"\nname = \"Contoso\"\npublisher = \"Contoso\"\npath = {:?}\nsigners = [\"{EXPIRED_SIGNER}\"]\n{extra}\n",
            cab.display().to_string()
        ),
    )
    .unwrap();
    p
}

#[test]
fn plan_names_the_dates_and_allow_expired_signer() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = config(tmp.path(), &expired_cab(), "");
    let r = run(&cfg, &["plan"]);
    assert_eq!(r.code, 1, "{}", r.all());
    let all = r.all();
    assert!(all.contains(REASON), "{all}");
    assert!(all.contains("allow_expired_signer = true"), "{all}");
    assert!(all.contains("[catalog.contoso]"), "{all}");
    assert!(!all.contains("altered or damaged"), "{all}");
    assert!(!all.contains("does not verify"), "{all}");

    let (_, plan) = plan_json(&cfg, &[]);
    let d = plan["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["address"] == "catalog.contoso")
        .expect("a diagnostic for the catalog");
    assert_eq!(d["code"], "signer-expired", "{d}");
}

#[test]
fn allow_expired_signer_lets_the_catalog_in() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = config(tmp.path(), &expired_cab(), "allow_expired_signer = true");
    let (code, plan) = plan_json(&cfg, &[]);
    assert_eq!(code, 2, "{plan}");
    assert_eq!(
        actions(&plan)
            .iter()
            .filter(|a| a.starts_with("publish "))
            .count(),
        4,
        "{plan}"
    );
}

#[test]
fn inspect_says_what_plan_says() {
    // Without --trust: the catalog is shown (admins look before approving), with the words.
    let r = inspect(&[expired_cab().to_str().unwrap()]);
    assert_eq!(r.code, 0, "{}", r.all());
    assert!(r.stdout.contains(REASON), "{}", r.all());
    assert!(
        r.stdout.contains("allow_expired_signer = true"),
        "{}",
        r.all()
    );
    assert!(r.stdout.contains("updates: 4"), "{}", r.all());

    let r = inspect(&[expired_cab().to_str().unwrap(), "--json"]);
    let v: Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(v["signature"]["expired_signer"]["reason"], REASON, "{v}");
    assert!(
        v["signature"]["expired_signer"]["hint"]
            .as_str()
            .unwrap()
            .contains("allow_expired_signer"),
        "{v}"
    );

    // With --trust: refused, with the same words and the same hint.
    let r = inspect(&[expired_cab().to_str().unwrap(), "--trust", EXPIRED_SIGNER]);
    assert_eq!(r.code, 1, "{}", r.all());
    assert!(r.stderr.contains(REASON), "{}", r.all());
    assert!(r.stderr.contains("allow_expired_signer"), "{}", r.all());
    assert!(!r.stderr.contains("signature is invalid"), "{}", r.all());
}

#[test]
fn the_signed_trust_fixture_agrees_too() {
    // catalog-expired.cab: a one-package catalog signed by the same expired signer. Its XML
    // is not one supctl reads, so inspect reports the signature before the parse error.
    let cab = repo("tests/fixtures/signed/catalog-expired.cab");
    let r = inspect(&[cab.to_str().unwrap()]);
    assert!(r.stdout.contains(REASON), "{}", r.all());
    assert!(r.stdout.contains("allow_expired_signer"), "{}", r.all());

    let tmp = tempfile::tempdir().unwrap();
    let cfg = config(tmp.path(), &cab, "");
    let r = run(&cfg, &["plan"]);
    assert!(r.all().contains(REASON), "{}", r.all());

    // Timestamped inside the signer's validity: nothing expired to report.
    let r = inspect(&[repo("tests/fixtures/signed/catalog-expired-ts.cab")
        .to_str()
        .unwrap()]);
    assert!(!r.all().contains("allow_expired_signer"), "{}", r.all());
}
