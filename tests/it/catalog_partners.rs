//! `supctl catalog partners --refresh`: Microsoft's partner list (a CAB holding one XML, or
//! bare XML) replaces the built-in list, and partner catalogs resolve through it.

use std::io::Write as _;

use assert_cmd::Command;
use predicates::str::contains;

const LIST: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<Catalogs>
  <Catalog>
    <LocalizedProperties><Publisher>Contoso Hardware</Publisher><Name>Contoso Device Catalog</Name>
      <Description>Drivers &amp; firmware</Description></LocalizedProperties>
    <DownloadUrl>https://contoso.example/catalog/ContosoDevices.cab</DownloadUrl>
  </Catalog>
  <Catalog>
    <LocalizedProperties><Publisher>Dell</Publisher></LocalizedProperties>
    <DownloadUrl>https://downloads.dell.com/Catalog/DellSDPCatalogPC.cab</DownloadUrl>
  </Catalog>
</Catalogs>
"#;

fn list_cab() -> Vec<u8> {
    let mut builder = cab::CabinetBuilder::new();
    builder
        .add_folder(cab::CompressionType::MsZip)
        .add_file("PartnerCatalogs.xml");
    let mut w = builder.build(std::io::Cursor::new(Vec::new())).unwrap();
    while let Some(mut f) = w.next_file().unwrap() {
        f.write_all(LIST.as_bytes()).unwrap();
    }
    w.finish().unwrap().into_inner()
}

fn supctl() -> Command {
    Command::cargo_bin("supctl").unwrap()
}

#[test]
fn refresh_from_a_list_cab_replaces_the_builtin_list() {
    let d = tempfile::tempdir().unwrap();
    let cab = d.path().join("list.cab");
    std::fs::write(&cab, list_cab()).unwrap();
    let state = d.path().join("state");
    supctl()
        .args(["catalog", "partners", "--state-dir"])
        .arg(&state)
        .assert()
        .success()
        .stderr(contains("built-in list"))
        .stdout(contains("Lenovo Updates Catalog v3"));
    supctl()
        .args(["catalog", "partners", "--refresh", "--from"])
        .arg(&cab)
        .arg("--state-dir")
        .arg(&state)
        .assert()
        .success()
        .stderr(contains("2 catalogs"))
        .stdout(contains("Contoso Device Catalog"));
    let out = supctl()
        .args(["catalog", "partners", "--json", "--state-dir"])
        .arg(&state)
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v.as_array().unwrap().len(), 2);
    assert_eq!(
        v[0]["url"],
        "https://contoso.example/catalog/ContosoDevices.cab"
    );
    assert_eq!(v[0]["description"], "Drivers & firmware");
}

#[test]
fn a_broken_list_is_refused_and_the_old_one_kept() {
    let d = tempfile::tempdir().unwrap();
    let state = d.path().join("state");
    let good = d.path().join("good.xml");
    std::fs::write(&good, LIST).unwrap();
    supctl()
        .args(["catalog", "partners", "--refresh", "--from"])
        .arg(&good)
        .arg("--state-dir")
        .arg(&state)
        .assert()
        .success();
    let bad = d.path().join("bad.xml");
    std::fs::write(
        &bad,
        "<Catalogs><Catalog><LocalizedProperties/></Catalog></Catalogs>",
    )
    .unwrap();
    supctl()
        .args(["catalog", "partners", "--refresh", "--from"])
        .arg(&bad)
        .arg("--state-dir")
        .arg(&state)
        .assert()
        .code(1)
        .stderr(contains("no Publisher"));
    supctl()
        .args(["catalog", "partners", "--state-dir"])
        .arg(&state)
        .assert()
        .success()
        .stdout(contains("Contoso Device Catalog"));
}

#[test]
fn partner_catalogs_resolve_through_the_refreshed_list_first() {
    use supctl::catalog::partners::{parse_list, resolve};
    let refreshed = parse_list(LIST).unwrap();
    assert_eq!(
        resolve(&refreshed, "Contoso Device Catalog").unwrap().url,
        "https://contoso.example/catalog/ContosoDevices.cab"
    );
    assert_eq!(
        resolve(&refreshed, "lenovo").unwrap().name,
        "Lenovo Updates Catalog v3"
    );
    assert!(resolve(&refreshed, "nobody").is_none());
}
