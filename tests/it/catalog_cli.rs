//! `supctl catalog ...` end to end, running the real binary.

use assert_cmd::Command;
use predicates::prelude::*;
use serde_json::Value;

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/catalog/");
/// SHA-1 of tests/fixtures/pki/signer.cer, which signed catalog_v3_signed.cab.
const SIGNER: &str = "6A2AB2B74B4506CD94E01BA2BC1F31173049ACEE";

fn fixture(name: &str) -> String {
    format!("{DIR}{name}")
}

fn supctl() -> Command {
    Command::cargo_bin("supctl").unwrap()
}

fn json_of(out: &[u8]) -> Value {
    serde_json::from_slice(out).unwrap()
}

#[test]
fn inspect_trusted_signed_v3_catalog() {
    let out = supctl()
        .args([
            "catalog",
            "inspect",
            &fixture("catalog_v3_signed.cab"),
            "--json",
            "--trust",
        ])
        .arg(SIGNER.to_lowercase())
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let v = json_of(&out);
    assert_eq!(v["format"], "v3");
    assert_eq!(v["signature"]["status"], "valid");
    assert_eq!(v["signature"]["trusted"], true);
    let signer = &v["signature"]["signers"][0];
    assert_eq!(signer["sha1"], SIGNER);
    assert_eq!(signer["timestamped"], true);
    assert!(signer["sha256"].as_str().unwrap().len() == 64 && signer["not_after"].is_string());
    assert_eq!(v["updates"], 3);
    assert_eq!(v["vendors"]["Example"], 2);
    assert_eq!(v["products"]["Driver"], 1);
    assert_eq!(v["classifications"]["Updates"], 1);
    assert_eq!(v["categories"], 4);
    assert_eq!(v["content_certificates"], 2);
    assert_eq!(v["superseded_refs"], 2);
    assert_eq!(v["content_bytes"], 297_158_800u64 + 26_825_728 + 1024);
}

#[test]
fn inspect_with_an_unapproved_signer_extracts_nothing() {
    let out = supctl()
        .args([
            "catalog",
            "inspect",
            &fixture("catalog_v3_signed.cab"),
            "--json",
            "--trust",
        ])
        .arg("0000000000000000000000000000000000000000")
        .assert()
        .code(1)
        .stderr(
            predicate::str::contains("not approved").and(predicate::str::contains(format!(
                "signers = [\"{SIGNER}\"]"
            ))),
        )
        .get_output()
        .stdout
        .clone();
    let v = json_of(&out);
    assert_eq!(v["signature"]["trusted"], false);
    assert!(v.get("updates").is_none(), "nothing parsed: {v}");
}

#[test]
fn tampered_cab_is_refused_before_parsing() {
    let mut data = std::fs::read(fixture("catalog_v3_signed.cab")).unwrap();
    // A byte of the first member's compressed data, well inside the signed range.
    data[400] ^= 0x01;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tampered.cab");
    std::fs::write(&path, data).unwrap();
    let out = supctl()
        .args(["catalog", "inspect", "--json"])
        .arg(&path)
        .assert()
        .code(1)
        .stderr(predicate::str::contains("invalid"))
        .get_output()
        .stdout
        .clone();
    let v = json_of(&out);
    assert_eq!(v["signature"]["status"], "invalid");
    assert!(v.get("format").is_none());
}

#[test]
fn unsigned_catalogs_inspect_but_cannot_be_trusted() {
    let out = supctl()
        .args(["catalog", "inspect", &fixture("catalog_v1.cab"), "--json"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let v = json_of(&out);
    assert_eq!(
        (
            v["signature"]["status"].as_str(),
            v["signature"]["trusted"].is_null()
        ),
        (Some("unsigned"), true)
    );
    assert_eq!(v["format"], "v1");
    assert_eq!(v["missing_content_certificates"], true);
    supctl()
        .args([
            "catalog",
            "inspect",
            &fixture("catalog_v3.cab"),
            "--trust",
            SIGNER,
        ])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("unsigned"));
    supctl()
        .args(["catalog", "inspect", &fixture("src/QuirksCatalog.xml")])
        .assert()
        .success()
        .stdout(predicate::str::contains("format: v1").and(predicate::str::contains("updates: 3")));
}

#[test]
fn updates_filtered_by_category_path_or_guid() {
    let out = supctl()
        .args([
            "catalog",
            "updates",
            &fixture("catalog_v3_signed.cab"),
            "--json",
            "--category",
            "example/device drivers - model x",
        ])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let ids: Vec<String> = json_of(&out)
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        ids,
        [
            "11111111-0000-4000-8000-000000000001",
            "22222222-0000-4000-8000-000000000002"
        ]
    );
    supctl()
        .args([
            "catalog",
            "updates",
            &fixture("catalog_v3.cab"),
            "--category",
            "AAAAAAAA-0000-4000-8000-000000000003",
        ])
        .assert()
        .success()
        .stdout(predicate::str::contains("0 update(s)"));
    supctl()
        .args(["catalog", "updates", &fixture("catalog_v3.cab")])
        .assert()
        .success()
        .stdout(
            predicate::str::contains("Video Driver & Control Panel [1.0]")
                .and(predicate::str::contains("3 update(s)")),
        );
    supctl()
        .args([
            "catalog",
            "updates",
            &fixture("catalog_v3.cab"),
            "--category",
            "Example/Nope",
        ])
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "no category has the path `Example/Nope`",
        ));
    supctl()
        .args([
            "catalog",
            "updates",
            &fixture("catalog_v2.cab"),
            "--category",
            "Example",
        ])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("needs a v3 catalog"));
}

#[test]
fn partners_list() {
    let out = supctl()
        .args(["catalog", "partners", "--json"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let v = json_of(&out);
    let keys: Vec<&str> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["key"].as_str().unwrap())
        .collect();
    assert!(
        keys.contains(&"dell") && keys.contains(&"lenovo") && keys.len() == 10,
        "{keys:?}"
    );
    supctl()
        .args(["catalog", "partners"])
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "https://download.lenovo.com/luc/v3/LenovoUpdatesCatalogv3.cab",
        ));
}

#[test]
fn errors_exit_one_with_a_reason() {
    supctl()
        .args([
            "catalog",
            "inspect",
            "http://downloads.dell.com/Catalog/DellSDPCatalogPC.cab",
        ])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("must use https://"));
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.xml");
    std::fs::write(&bad, "<smc:SystemsManagementCatalog xmlns:smc=\"http://schemas.microsoft.com/sms/2005/04/CorporatePublishing/SystemsManagementCatalog.xsd\">\n<x>\n</y>").unwrap();
    supctl()
        .args(["catalog", "inspect"])
        .arg(&bad)
        .assert()
        .code(1)
        .stderr(predicate::str::contains("line 3, column"));
    supctl()
        .args(["catalog", "inspect", "/nonexistent.cab"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("reading"));
    supctl()
        .args(["catalog", "inspect", "x.cab", "--trust", "nothex"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("thumbprint"));
}
