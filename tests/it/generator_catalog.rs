//! The catalog generator's output: determinism, package count, CAB layout, V2/V3 files.
//! The generator is the test kit's (`crates/test-kit`); plain `cargo test --workspace` runs it.

use crate::support::generator as generator_support;
use supctl_test_kit::generator;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use generator::{Options, Profile};
use generator_support::{cab_files, have, scan_xml};

fn bench(updates: usize, categories: Option<usize>, seed: u64, out: &Path) -> generator::Summary {
    generator::run(&bench_options(updates, categories, seed, out)).unwrap()
}

fn bench_options(updates: usize, categories: Option<usize>, seed: u64, out: &Path) -> Options {
    Options {
        format: generator::Format::V3,
        profile: Profile::Bench {
            updates,
            categories,
        },
        seed,
        out: out.to_path_buf(),
        content_dir: None,
        content_size: 4096,
        signer: None,
        content_certs: Vec::new(),
        unsigned_content: 0,
        uninstallable: 0,
        v2_copies: true,
        content_signer: None,
    }
}

fn xml_of(profile: &Profile, seed: u64) -> Vec<u8> {
    let cat = generator::build(profile, seed);
    let mut v = Vec::new();
    generator::cabinet::write_catalog_xml(&mut v, &cat, seed).unwrap();
    v
}

#[test]
fn same_seed_gives_identical_bytes_and_another_seed_does_not() {
    let p = Profile::Bench {
        updates: 120,
        categories: None,
    };
    let a = xml_of(&p, 42);
    assert_eq!(a, xml_of(&p, 42));
    assert_ne!(a, xml_of(&p, 43));

    let dir = tempfile::tempdir().unwrap();
    bench(60, Some(8), 9, &dir.path().join("a.cab"));
    bench(60, Some(8), 9, &dir.path().join("b.cab"));
    let a = std::fs::read(dir.path().join("a.cab")).unwrap();
    assert_eq!(a, std::fs::read(dir.path().join("b.cab")).unwrap());
}

#[test]
fn xml_holds_n_packages_shaped_like_real_catalogs() {
    let n = 250;
    let xml = xml_of(
        &Profile::Bench {
            updates: n,
            categories: None,
        },
        5,
    );
    assert!(xml.starts_with(b"\xEF\xBB\xBF<?xml"));
    assert!(xml.windows(2).any(|w| w == b"\r\n"));
    assert!(
        !xml.windows(2).any(|w| w[1] == b'\n' && w[0] != b'\r'),
        "LF without CR"
    );
    let scan = scan_xml(&xml);
    assert_eq!(scan.packages.len(), n);
    let unique: BTreeSet<_> = scan.packages.iter().collect();
    assert_eq!(unique.len(), n);
    for id in &scan.packages {
        assert!(supctl::ids::is_guid(id), "{id}");
    }
    // Supersedence chains point at packages of the same catalog.
    let chained = scan.superseded.values().filter(|v| !v.is_empty()).count();
    assert!(chained > n / 10, "only {chained} packages supersede others");
    assert!(
        scan.superseded
            .values()
            .flatten()
            .all(|id| unique.contains(id))
    );

    let text = String::from_utf8_lossy(&xml);
    for needle in [
        "bar:WmiQuery",
        "bar:RegSz ",
        "bar:FileVersion",
        "<lar:And>",
        "<lar:Or>",
        "<lar:Not>",
        "&amp;DEV_",
        "cmd:CommandLineInstallerData",
        "msi:MsiInstallerData",
        " xmlns:sdp=",
        "UpdateClassification=\"Security Updates\"",
        "<sdp:SupersededPackages />",
    ] {
        assert!(text.contains(needle), "no {needle}");
    }
    let avg = xml.len() / n;
    assert!((4_000..=11_000).contains(&avg), "average package {avg} B");
}

#[test]
fn cab_lists_the_expected_files_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let cab = dir.path().join("c.cab");
    let n = 40;
    let s = bench(n, Some(12), 3, &cab);
    let files = cab_files(&cab);
    let names: Vec<&str> = files.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names[0], "ContosoUpdatesCatalog.xml");
    let v3: Vec<&str> = names
        .iter()
        .copied()
        .filter(|n| n.starts_with("V3\\"))
        .collect();
    assert_eq!(v3.len(), 13 + 1);
    assert_eq!(*v3.last().unwrap(), "V3\\update_categories.json");
    let v2: Vec<&str> = names
        .iter()
        .copied()
        .filter(|n| n.starts_with("V2\\"))
        .collect();
    assert_eq!(v2.len(), n + 1);
    assert_eq!(*names.last().unwrap(), "V2\\update_manifest.json");
    let first_v2 = names.iter().position(|n| n.starts_with("V2\\")).unwrap();
    assert!(names.iter().rposition(|n| n.starts_with("V3\\")).unwrap() < first_v2);

    // V2 holds every package of the XML; the manifest maps each id to its CreationDate.
    let scan = scan_xml(&files[0].1);
    let manifest: serde_json::Map<String, serde_json::Value> =
        serde_json::from_slice(&files.last().unwrap().1).unwrap();
    assert_eq!(manifest.len(), n);
    for id in &scan.packages {
        assert!(names.contains(&format!("V2\\{id}.sdp").as_str()));
        let sdp = &files
            .iter()
            .find(|(f, _)| *f == format!("V2\\{id}.sdp"))
            .unwrap()
            .1;
        let created = manifest[id].as_str().unwrap();
        assert!(String::from_utf8_lossy(sdp).contains(&format!("CreationDate=\"{created}\"")));
    }

    // V3: UTF-8 BOM JSON per category, ids listed in the UTF-16LE update_categories.json.
    let list = &files
        .iter()
        .find(|(f, _)| f == "V3\\update_categories.json")
        .unwrap()
        .1;
    assert_eq!(&list[..2], b"\xFF\xFE");
    let units: Vec<u16> = list[2..]
        .chunks(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]))
        .collect();
    let ids: Vec<String> = serde_json::from_str(&String::from_utf16(&units).unwrap()).unwrap();
    assert_eq!(ids.len(), s.categories.len());
    let mut roots = 0;
    for id in &ids {
        let body = &files
            .iter()
            .find(|(f, _)| *f == format!("V3\\{id}.json"))
            .unwrap()
            .1;
        assert!(body.starts_with(b"\xEF\xBB\xBF"));
        let v: serde_json::Value = serde_json::from_slice(&body[3..]).unwrap();
        let keys: Vec<&String> = v.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["DisplayName", "Id", "Members", "ParentId"]);
        assert!(v["Members"].is_array() || v["Members"].is_null() || v["Members"].is_string());
        roots += usize::from(v["ParentId"] == "");
    }
    assert_eq!(roots, 1);

    if !have("cabextract") {
        eprintln!("skipped: cabextract is not installed (apt-get install cabextract)");
        return;
    }
    let out = Command::new("cabextract")
        .arg("-l")
        .arg(&cab)
        .output()
        .unwrap();
    assert!(out.status.success());
    let listing = String::from_utf8_lossy(&out.stdout);
    for name in &names {
        assert!(
            listing.contains(&name.replace('\\', "/")),
            "cabextract does not list {name}"
        );
    }
    let t = Command::new("cabextract")
        .arg("-t")
        .arg(&cab)
        .output()
        .unwrap();
    assert!(t.status.success(), "{}", String::from_utf8_lossy(&t.stderr));
}

#[test]
fn quickstart_profile_has_its_story() {
    let cat = generator::build(&Profile::Quickstart, 1);
    let titles: Vec<&str> = cat.packages.iter().map(|p| p.title.as_str()).collect();
    assert_eq!(
        titles[..3],
        ["Contoso Tool 1.0", "Contoso Tool 1.1", "Contoso Agent 2.3"]
    );
    assert!(titles[3].starts_with("Contoso BIOS"));
    let links: usize = cat.packages.iter().map(|p| p.superseded.len()).sum();
    assert_eq!(links, 1);
    let paths: Vec<String> = (0..cat.categories.len())
        .map(|i| cat.category_path(i))
        .collect();
    assert_eq!(paths, ["Contoso", "Contoso/Utilities", "Contoso/Firmware"]);
}

fn quickstart_as(
    format: generator::Format,
    certs: Vec<std::path::PathBuf>,
    out: &Path,
) -> anyhow::Result<generator::Summary> {
    generator::run(&Options {
        format,
        profile: Profile::Quickstart,
        seed: 1,
        out: out.to_path_buf(),
        content_dir: None,
        content_size: 4096,
        signer: None,
        content_certs: certs,
        unsigned_content: 0,
        uninstallable: 0,
        v2_copies: true,
        content_signer: None,
    })
}

#[test]
fn older_formats_leave_folders_out_and_read_back_as_such() {
    use supctl::catalog::model::FormatVersion;
    let dir = tempfile::tempdir().unwrap();
    let cert = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/quickstart/pki/signer.cer");
    for (format, certs, expected) in [
        (generator::Format::V1, vec![], FormatVersion::V1),
        (generator::Format::V2, vec![cert.clone()], FormatVersion::V2),
        (generator::Format::V3, vec![cert.clone()], FormatVersion::V3),
    ] {
        let cab = dir.path().join(format!("{expected:?}.cab"));
        let s = quickstart_as(format, certs, &cab).unwrap();
        let names: Vec<String> = cab_files(&cab).into_iter().map(|(n, _)| n).collect();
        let has = |folder: &str| names.iter().any(|n| n.starts_with(folder));
        assert_eq!(has("V3\\"), expected == FormatVersion::V3, "{names:?}");
        assert_eq!(
            has("ContentCertificates\\"),
            expected != FormatVersion::V1,
            "{names:?}"
        );
        assert!(has("V2\\"), "every generation keeps V2\\: {names:?}");
        assert_eq!(s.categories.is_empty(), expected != FormatVersion::V3);

        let x = supctl::catalog::extract::extract(
            &std::fs::read(&cab).unwrap(),
            &supctl::catalog::limits::CatalogLimits::default(),
            chrono::Utc::now(),
        )
        .unwrap();
        assert_eq!(x.content.format, expected);
        assert_eq!(x.content.updates.len(), 4);
        assert_eq!(
            x.content.categories.is_empty(),
            expected != FormatVersion::V3
        );
    }
    let err = quickstart_as(generator::Format::V1, vec![cert], &dir.path().join("x.cab"))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("v1 catalog ships no content certificates"),
        "{err}"
    );
}

/// A cabinet holds at most 65,535 files, so the benchmark's 100,000-update catalog leaves
/// out the per-package `V2\` copies; the catalog XML still holds every package.
#[test]
fn a_catalog_without_v2_copies_keeps_every_package_in_its_xml() {
    let dir = tempfile::tempdir().unwrap();
    let cab = dir.path().join("c.cab");
    let s = generator::run(&Options {
        v2_copies: false,
        ..bench_options(30, Some(3), 5, &cab)
    })
    .unwrap();
    let names: Vec<String> = cab_files(&cab).into_iter().map(|(n, _)| n).collect();
    assert!(
        !names.iter().any(|n| n.ends_with(".sdp")),
        "no V2 copies: {names:?}"
    );
    assert_eq!(names[0], "ContosoUpdatesCatalog.xml");
    assert_eq!(s.updates.len(), 30);
    let xml = cab_files(&cab).remove(0).1;
    assert_eq!(scan_xml(&xml).packages.len(), 30);
}
