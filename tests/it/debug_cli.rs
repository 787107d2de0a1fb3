//! Smoke test of the hidden `supctl debug verify-content` command the benchmarks drive
//! (`scripts/bench.sh`): digests match, signatures are judged, and it stays hidden.

use assert_cmd::Command;
use predicates::prelude::*;
use serde_json::Value;
use supctl::ids::{Sha1, Sha256};

const SIGNED: &str = "tests/fixtures/signed/pe-signed.exe";
const UNSIGNED: &str = "tests/fixtures/signed/pe-unsigned.exe";

fn supctl() -> Command {
    Command::cargo_bin("supctl").unwrap()
}

fn reports(out: &[u8]) -> Vec<Value> {
    std::str::from_utf8(out)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn verify_content_hashes_and_verifies_signed_files() {
    let data = std::fs::read(SIGNED).unwrap();
    let out = supctl()
        .args(["debug", "verify-content", "--jobs", "2", SIGNED, SIGNED])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let r = reports(&out);
    assert_eq!(r.len(), 2);
    for v in &r {
        assert_eq!(v["file"], SIGNED);
        assert_eq!(v["size"], data.len() as u64);
        assert_eq!(v["sha1"], Sha1::of(&data).to_hex());
        assert_eq!(v["sha256"], Sha256::of(&data).to_hex());
        assert_eq!(v["signature"], "valid");
        assert!(!v["signers"].as_array().unwrap().is_empty());
    }
}

#[test]
fn verify_content_fails_on_an_unsigned_file() {
    let out = supctl()
        .args(["debug", "verify-content", SIGNED, UNSIGNED])
        .assert()
        .code(1)
        .get_output()
        .stdout
        .clone();
    let r = reports(&out);
    assert_eq!(r[0]["signature"], "valid");
    assert_eq!(r[1]["signature"], "unsigned");
}

#[test]
fn debug_is_hidden_from_help() {
    supctl()
        .arg("--help")
        .assert()
        .success()
        .stdout(predicate::str::contains("debug").not());
}
