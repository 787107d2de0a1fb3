//! Parses every real catalog file under `../shared/fixtures` (when present) and checks the
//! results against counts taken by independent means: plain string scans of the same bytes
//! and the numbers documented in the fixtures' README.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use supctl::catalog::certs::parse_content_certificate;
use supctl::catalog::model::UpdateRecord;
use supctl::catalog::sdp::parse_catalog_bytes;
use supctl::catalog::v3::{parse_category, parse_category_list};

fn fixtures() -> Option<PathBuf> {
    crate::support::shared_fixture("")
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            walk(&p, out);
        } else {
            out.push(p);
        }
    }
}

fn files(root: &Path, ext: &str) -> Vec<PathBuf> {
    let mut all = Vec::new();
    walk(root, &mut all);
    all.retain(|p| p.extension().is_some_and(|e| e.eq_ignore_ascii_case(ext)));
    all.sort();
    all
}

/// Independent count: `<prefix:SoftwareDistributionPackage` followed by a space or `>`.
fn scan_packages(text: &str) -> usize {
    let re = regex::Regex::new(r"<(?:[A-Za-z_][\w.-]*:)?SoftwareDistributionPackage[\s>]").unwrap();
    re.find_iter(text).count()
}

/// Independent id scan: `PackageID="..."` attributes (Properties is the only element with one).
fn scan_ids(text: &str) -> BTreeSet<String> {
    let re = regex::Regex::new(r#"PackageID="([0-9A-Fa-f-]{36})""#).unwrap();
    re.captures_iter(text)
        .map(|c| c[1].to_ascii_lowercase())
        .collect()
}

fn parse(path: &Path) -> (String, Vec<UpdateRecord>) {
    let bytes = std::fs::read(path).unwrap();
    let records = parse_catalog_bytes(&bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    (String::from_utf8(bytes).unwrap(), records)
}

#[test]
fn every_catalog_xml_and_sdp_parses_and_agrees_with_a_string_scan() {
    let Some(root) = fixtures() else { return };
    let mut seen = 0;
    for path in files(&root, "xml").into_iter().chain(files(&root, "sdp")) {
        let (text, records) = parse(&path);
        assert_eq!(records.len(), scan_packages(&text), "{}", path.display());
        let ids: BTreeSet<String> = records.iter().map(|r| r.id.to_string()).collect();
        assert_eq!(ids, scan_ids(&text), "{}", path.display());
        for r in &records {
            assert!(
                text.contains(&r.raw_xml),
                "{}: raw slice of {}",
                path.display(),
                r.id
            );
            assert!(!r.items.is_empty() && r.files().count() > 0, "{}", r.id);
            assert!(!r.title().is_empty());
        }
        seen += 1;
    }
    assert_eq!(seen, 7, "2 catalog excerpts and 5 .sdp files");
}

#[test]
fn documented_counts_and_quirks() {
    let Some(root) = fixtures() else { return };
    let (_, hp) = parse(&root.join("hp/HpCatalogForSms_excerpt.xml"));
    assert_eq!(hp.len(), 3);
    let dup = hp
        .iter()
        .find(|r| r.id.as_str() == "00004850-0000-0000-5350-000000081685")
        .unwrap();
    assert_eq!(
        dup.localized.len(),
        1,
        "duplicate LocalizedProperties deduplicated"
    );
    assert!(hp.iter().all(|r| {
        r.created_raw.len() == 19
            && r.files()
                .all(|f| f.uri.as_deref().unwrap().starts_with("http://"))
    }));
    let (_, lenovo) = parse(&root.join("lenovo_v3_repack/LenovoUpdatesCatalog2_excerpt.xml"));
    assert_eq!(lenovo.len(), 2);
    assert_eq!(lenovo[0].superseded.len(), 2);
    assert!(lenovo[1].superseded.is_empty());
    assert_eq!(&*lenovo[0].products, ["LUCAgent"]);
    // The same package in the catalog and in V2/ differs only in SchemaVersion and raw XML.
    let (_, hp_v2) = parse(&root.join("hp/V2/00004850-0000-0000-5350-000000065261.sdp"));
    let mut in_catalog = hp.iter().find(|r| r.id == hp_v2[0].id).unwrap().clone();
    assert_eq!(
        (&*in_catalog.schema_version, &*hp_v2[0].schema_version),
        ("1.0", "1.2")
    );
    in_catalog.schema_version = hp_v2[0].schema_version.clone();
    in_catalog.raw_xml = hp_v2[0].raw_xml.clone();
    // In the catalog the package also inherits the root's declarations; alone it has none.
    assert!(!in_catalog.namespaces.is_empty() && hp_v2[0].namespaces.is_empty());
    in_catalog.namespaces = Default::default();
    assert_eq!(in_catalog, hp_v2[0]);
    for (manifest, records) in [
        ("hp/V2/update_manifest_excerpt.json", &hp),
        ("lenovo_v3_repack/V2/update_manifest_excerpt.json", &lenovo),
    ] {
        let m: BTreeMap<String, String> =
            serde_json::from_slice(&std::fs::read(root.join(manifest)).unwrap()).unwrap();
        for r in records.iter() {
            if let Some(v) = m.get(&*r.id.as_str()) {
                assert_eq!(v, &r.created_raw, "{manifest}: {}", r.id);
            }
        }
    }
    let (_, dell) = parse(&root.join("dell/V2/0e6cf4ac-2853-48aa-825b-8fe28206575f.sdp"));
    assert_eq!(dell[0].created_raw.len(), 25, "+00:00 form");
    assert!(dell[0].raw_xml.len() > 180_000);
}

#[test]
fn v3_files_and_content_certificates() {
    let Some(root) = fixtures() else { return };
    let v3 = root.join("lenovo_v3_repack/V3");
    let list = parse_category_list(
        "update_categories.json",
        &std::fs::read(v3.join("update_categories.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(list.len(), 265);
    let mut by_members = BTreeMap::new();
    for path in files(&v3, "json") {
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        if name == "update_categories.json" {
            continue;
        }
        let c = parse_category(&name, &std::fs::read(&path).unwrap()).unwrap();
        assert_eq!(format!("{}.json", c.id), name);
        assert!(list.contains(&c.id));
        by_members.insert(c.display_name.clone(), c.members.len());
    }
    assert_eq!(by_members["Lenovo"], 3063);
    assert_eq!(by_members["Device Drivers - ThinkCentre M900X"], 12);
    assert_eq!(by_members["Device Drivers - ThinkPad 11e 20G9 20GB"], 0);
    assert_eq!(by_members["Device Drivers - ThinkCentre M90N 1"], 1);
    let now = chrono::DateTime::parse_from_rfc3339("2020-03-11T00:00:00Z")
        .unwrap()
        .to_utc();
    let mut expired = 0;
    for path in files(&root.join("lenovo_v3_repack/ContentCertificates"), "cer") {
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        let c = parse_content_certificate(&name, &std::fs::read(&path).unwrap(), now).unwrap();
        assert_eq!(format!("{}.cer", c.info.sha1.to_hex()), name);
        expired += usize::from(c.expired);
    }
    assert_eq!(
        expired, 2,
        "notAfter 2018-10-26 and 2015-08-22 precede the March 2020 cab"
    );
}

#[test]
fn throughput_on_the_dell_stress_package() {
    let Some(root) = fixtures() else { return };
    let pkg =
        std::fs::read_to_string(root.join("dell/V2/0e6cf4ac-2853-48aa-825b-8fe28206575f.sdp"))
            .unwrap();
    let body = pkg.trim_start_matches('\u{feff}');
    let smc =
        "http://schemas.microsoft.com/sms/2005/04/CorporatePublishing/SystemsManagementCatalog.xsd";
    let mut doc = format!("<smc:SystemsManagementCatalog xmlns:smc=\"{smc}\">\n");
    let n = 60;
    for _ in 0..n {
        doc.push_str(body.trim());
        doc.push('\n');
    }
    doc.push_str("</smc:SystemsManagementCatalog>");
    let t = std::time::Instant::now();
    let records = supctl::catalog::sdp::parse_catalog(&doc).unwrap();
    let secs = t.elapsed().as_secs_f64();
    assert_eq!(records.len(), n);
    println!(
        "parsed {:.1} MB of Dell packages in {:.3} s: {:.0} MB/s",
        doc.len() as f64 / 1e6,
        secs,
        doc.len() as f64 / 1e6 / secs
    );
}
