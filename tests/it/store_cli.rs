//! The store commands through the real binary: `updates list` filters and its JSON
//! contract, `certs list`, `store show` and `store gc`.

use std::path::Path;
use supctl::store::Change;

use assert_cmd::Command;
use chrono::{TimeZone, Utc};
use predicates::prelude::*;
use serde_json::Value;
use supctl::catalog::model::Category;
use supctl::ids::{CategoryId, Sha1, Sha256, Thumbprint};
use supctl::store::Store;
use supctl::store::UpdateServer as _;
use supctl::store::db::OpenOptions;
use supctl::store::embedded::EmbeddedServer;
use supctl::store::*;
use supctl::trust::{CertificateFacts, CertificateInfo};
use supctl_test_kit::bench::{self, catalog_key, update_id};

fn supctl() -> Command {
    Command::cargo_bin("supctl").unwrap()
}

fn cert() -> CertificateInfo {
    let der = b"catalog signer".to_vec();
    let facts = CertificateFacts {
        subject: "CN=Synthetic Signer".into(),
        issuer: "CN=Synthetic Root".into(),
        serial: "2A".into(),
        sha1: Sha1::of(&der),
        sha256: Sha256::of(&der),
        not_before: Utc.with_ymd_and_hms(2020, 1, 1, 0, 0, 0).unwrap(),
        not_after: Utc.with_ymd_and_hms(2021, 1, 1, 0, 0, 0).unwrap(),
    };
    CertificateInfo { facts, der }
}

/// 200 synthetic updates, every tenth staged, a signer, and a two-level category tree.
fn store() -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    let b = Store::embedded(&StoreLocation::new(d.path()), OpenOptions::write()).unwrap();
    let spec = bench::BenchSpec {
        updates: 200,
        batch: 100,
        stage_every: 10,
    };
    assert_eq!(bench::write(&b, &spec).unwrap().published, 200);
    let info = cert();
    let mut cat = bench::catalog();
    cat.signers = vec![Thumbprint::from(&info.sha256)];
    b.apply(Change::UpsertCatalog(cat)).unwrap();
    b.apply(Change::UpsertCertificate {
        thumbprint: info.thumbprint(),
        kind: CertKind::Catalog,
        state: CertState::Approved,
        info: Some(Box::new(info)),
    })
    .unwrap();
    let root = CategoryId::parse("10000000-0000-4000-8000-000000000000").unwrap();
    let child = CategoryId::parse("20000000-0000-4000-8000-000000000000").unwrap();
    b.apply(Change::ReplaceCategories {
        catalog: catalog_key(),
        categories: vec![
            Category {
                id: root,
                display_name: "Drivers".into(),
                parent: None,
                members: vec![update_id(1)],
                path: "Drivers".into(),
            },
            Category {
                id: child,
                display_name: "Audio".into(),
                parent: Some(root),
                members: vec![update_id(2), update_id(3)],
                path: "Drivers/Audio".into(),
            },
        ],
    })
    .unwrap();
    d
}

fn list(dir: &Path, args: &[&str]) -> Vec<Value> {
    let out = supctl()
        .args(["updates", "list", "--json", "--state-dir"])
        .arg(dir)
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice::<Value>(&out.stdout)
        .unwrap()
        .as_array()
        .unwrap()
        .clone()
}

#[test]
fn updates_list_filters_and_json_contract() {
    let d = store();
    let all = list(d.path(), &[]);
    assert_eq!(all.len(), 200);
    let first = all[0].as_object().unwrap();
    let mut keys: Vec<&str> = first.keys().map(|k| k.as_str()).collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            "catalog",
            "classification",
            "deselected",
            "id",
            "product",
            "revision",
            "state",
            "superseded_by",
            "supersedes",
            "title",
            "vendor"
        ]
    );
    assert_eq!(first["id"], update_id(0).to_string());
    assert_eq!(first["revision"], 1);
    assert_eq!(first["catalog"], "bench");
    assert_eq!(first["state"], "deployable");

    let v = list(d.path(), &["--vendor", "VENDOR 01"]);
    assert_eq!(v.len(), 10);
    assert!(v.iter().all(|r| r["vendor"] == "Vendor 01"));
    assert_eq!(list(d.path(), &["--state", "deployable"]).len(), 20);
    assert_eq!(list(d.path(), &["--state", "metadata-only"]).len(), 180);
    assert_eq!(list(d.path(), &["--state", "expired"]).len(), 0);
    assert_eq!(list(d.path(), &["--product", "product 07"]).len(), 5);
    assert_eq!(
        list(
            d.path(),
            &[
                "--classification",
                "security updates",
                "--vendor",
                "vendor 01"
            ]
        )
        .len(),
        4
    );
    assert_eq!(list(d.path(), &["--title", "update 00001[0-9]$"]).len(), 10);
    assert_eq!(
        list(
            d.path(),
            &[
                "--catalog",
                "bench",
                "--state",
                "deployable",
                "--vendor",
                "Vendor 00"
            ]
        )
        .len(),
        10
    );
    // An unknown catalog is an error, not an empty list (`firstweek_categories`).
    supctl()
        .args(["updates", "list", "--catalog", "other", "--state-dir"])
        .arg(d.path())
        .assert()
        .failure()
        .stderr(predicate::str::contains("no catalog `other` in the store"));
    let cat = list(d.path(), &["--category", "drivers"]);
    let ids: Vec<&str> = cat.iter().map(|r| r["id"].as_str().unwrap()).collect();
    assert_eq!(
        ids,
        [
            &*update_id(1).as_str(),
            &*update_id(2).as_str(),
            &*update_id(3).as_str()
        ]
    );
    assert_eq!(list(d.path(), &["--category", "Drivers/Audio/"]).len(), 2);

    supctl()
        .args(["updates", "list", "--vendor", "Vendor 01", "--state-dir"])
        .arg(d.path())
        .assert()
        .success()
        .stdout(
            predicate::str::contains("Synthetic update 000001")
                .and(predicate::str::contains("10 update(s)")),
        );
    supctl()
        .args(["updates", "list", "--state", "bogus", "--state-dir"])
        .arg(d.path())
        .assert()
        .code(2);
    supctl()
        .args(["updates", "list", "--title", "(", "--state-dir"])
        .arg(d.path())
        .assert()
        .code(1)
        .stderr(predicate::str::contains("regex"));
}

#[test]
fn certs_list_shows_kind_state_expiry_and_use() {
    let d = store();
    let out = supctl()
        .args(["certs", "list", "--json", "--state-dir"])
        .arg(d.path())
        .output()
        .unwrap();
    assert!(out.status.success());
    let rows: Value = serde_json::from_slice(&out.stdout).unwrap();
    let row = &rows[0];
    assert_eq!(row["thumbprint"], cert().sha1.to_hex());
    assert_eq!(row["kind"], "catalog");
    assert_eq!(row["state"], "approved");
    assert_eq!(row["subject"], "CN=Synthetic Signer");
    assert_eq!(row["expired"], true);
    assert_eq!(row["used_by"], serde_json::json!(["catalog.bench"]));
    supctl()
        .args(["certs", "list", "--state-dir"])
        .arg(d.path())
        .assert()
        .success()
        .stdout(
            predicate::str::contains("2021-01-01 (expired)")
                .and(predicate::str::contains("catalog.bench")),
        );
}

#[test]
fn store_show_reports_counts_schema_and_lock() {
    let d = store();
    let out = supctl()
        .args(["store", "show", "--json", "--state-dir"])
        .arg(d.path())
        .output()
        .unwrap();
    assert!(out.status.success());
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        v["schema_version"],
        supctl::store::schema::LATEST,
        "the latest schema"
    );
    assert_eq!(v["counts"]["updates"], 200);
    assert_eq!(v["counts"]["deployable"], 20);
    assert_eq!(v["counts"]["content_files"], 20);
    assert_eq!(v["counts"]["certificates"], 1);
    assert_eq!(v["counts"]["categories"], 2);
    assert_eq!(v["integrity"], serde_json::json!([]));
    assert_eq!(v["lock"], Value::Null);
    assert!(v["database_bytes"].as_u64().unwrap() > 0);
    supctl()
        .args(["store", "show", "--state-dir"])
        .arg(d.path())
        .assert()
        .success()
        .stdout(
            predicate::str::contains("integrity        ok")
                .and(predicate::str::contains("lock             free")),
        );
}

#[test]
fn store_gc_finds_orphans_temp_and_corrupt_content() {
    let d = store();
    let content = d.path().join("WsusContent");
    // An orphan in the WSUS layout, a leftover download, a damaged staged file, a stray file.
    let orphan_data = b"nobody references me";
    let orphan_sha1 = Sha1::of(orphan_data);
    let orphan = content.join(supctl::store::content::ContentStore::relative_path(
        &orphan_sha1,
        "cab",
    ));
    std::fs::create_dir_all(orphan.parent().unwrap()).unwrap();
    std::fs::write(&orphan, orphan_data).unwrap();
    std::fs::create_dir_all(content.join(".tmp")).unwrap();
    let temp = content.join(".tmp/download.part");
    std::fs::write(&temp, b"half a download").unwrap();
    let staged = content.join(supctl::store::content::ContentStore::relative_path(
        &Sha1::of(&bench::content(10)),
        "exe",
    ));
    std::fs::write(&staged, b"bit rot").unwrap();
    let stray = content.join("notes.txt");
    std::fs::write(&stray, b"admin notes").unwrap();

    let out = supctl()
        .args(["store", "gc", "--dry-run", "--json", "--state-dir"])
        .arg(d.path())
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "corrupt content fails the check"
    );
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(r["orphans"], serde_json::json!([orphan]));
    assert_eq!(r["orphan_bytes"], orphan_data.len());
    assert_eq!(r["temp"], serde_json::json!([temp]));
    assert_eq!(r["corrupt"], serde_json::json!([staged]));
    assert_eq!(r["unexpected"], serde_json::json!([stray]));
    assert_eq!(r["checked"], 20);
    assert_eq!(r["removed"], false);
    assert!(
        orphan.exists() && temp.exists(),
        "a dry run removes nothing"
    );

    supctl()
        .args(["store", "gc", "--state-dir"])
        .arg(d.path())
        .assert()
        .code(1)
        .stdout(
            predicate::str::contains("removed 1 orphan(s)")
                .and(predicate::str::contains("corrupt")),
        );
    assert!(!orphan.exists() && !temp.exists());
    assert!(
        staged.exists() && stray.exists(),
        "gc never removes recorded or foreign files"
    );

    // With the damaged file gone the record is reported missing.
    std::fs::remove_file(&staged).unwrap();
    let out = supctl()
        .args(["store", "gc", "--dry-run", "--json", "--state-dir"])
        .arg(d.path())
        .output()
        .unwrap();
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        r["missing"],
        serde_json::json!([Sha1::of(&bench::content(10)).to_hex()])
    );
    assert_eq!(out.status.code(), Some(1));

    // Staging the same content again restores the file.
    let b = EmbeddedServer::open(&StoreLocation::new(d.path()), OpenOptions::write()).unwrap();
    let data = bench::content(10);
    let temp = b.staging_dir().unwrap().join("again.part");
    std::fs::write(&temp, &data).unwrap();
    let applied = b
        .apply(Change::StageContent(StageRequest {
            update: update_id(10),
            sha1: Sha1::of(&data),
            sha256: Sha256::of(&data),
            temp_path: temp,
            ext: "exe".into(),
        }))
        .unwrap();
    assert!(!applied.changed, "the store already recorded it");
    assert_eq!(std::fs::read(&staged).unwrap(), data);
    let report = b.gc(true).unwrap();
    assert!(
        report.missing.is_empty() && report.corrupt.is_empty(),
        "{report:?}"
    );
}
