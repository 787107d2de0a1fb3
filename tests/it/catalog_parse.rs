//! The catalog pipeline over committed fixtures: gcab-built cabs (v1/v2/v3), a bare XML,
//! and hostile input.

use std::io::Cursor;

use crate::support::catalog::{cab_of as build, fixture as read, fixture_now as now};
use supctl::catalog::cab::{CabError, Cabinet, Limits, extract_all};
use supctl::catalog::limits::{CatalogLimits, Limit};
use supctl::catalog::model::FormatVersion;
use supctl::catalog::sdp::{SdpErrorKind, parse_catalog};
use supctl::catalog::v3::{CategoryError, V3Error, members_under, resolve};
use supctl::catalog::{ExtractError, extract};

#[test]
fn v3_cab_made_by_gcab() {
    let x = extract(&read("catalog_v3.cab"), &CatalogLimits::default(), now()).unwrap();
    let c = &x.content;
    assert_eq!(c.format, FormatVersion::V3);
    assert_eq!(x.xml_name, "QuirksCatalog.xml");
    assert_eq!(c.updates.len(), 3);
    assert_eq!(c.content_certificates.len(), 2);
    assert_eq!(x.expired_content_certificates.len(), 1);
    assert!(!x.missing_content_certificates);
    let paths: Vec<&str> = c.categories.iter().map(|k| k.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "Example",
            "Example/Device Drivers - Model X",
            "Example/Device Drivers - Model X/BIOS",
            "Example/Device Drivers - Model Y"
        ]
    );
    let ids = resolve(&c.categories, "example/device drivers - model x").unwrap();
    let under: Vec<String> = members_under(&c.categories, &ids)
        .iter()
        .map(|u| u.to_string())
        .collect();
    assert_eq!(
        under,
        [
            "11111111-0000-4000-8000-000000000001",
            "22222222-0000-4000-8000-000000000002"
        ]
    );
    // V2/ was not delivered: only 2 certificates + 5 V3 files (the XML streams on its own).
    assert_eq!(x.stats.delivered_files, 7);
}

#[test]
fn v2_v1_and_bare_xml() {
    let v2 = extract(&read("catalog_v2.cab"), &CatalogLimits::default(), now()).unwrap();
    assert_eq!(v2.content.format, FormatVersion::V2);
    assert!(v2.content.categories.is_empty());
    let v1 = extract(&read("catalog_v1.cab"), &CatalogLimits::default(), now()).unwrap();
    assert_eq!(v1.content.format, FormatVersion::V1);
    assert!(v1.missing_content_certificates, "status 11523");
    let xml = extract(
        &read("src/QuirksCatalog.xml"),
        &CatalogLimits::default(),
        now(),
    )
    .unwrap();
    assert_eq!(xml.content.format, FormatVersion::V1);
    assert_eq!(
        xml.content.updates, v1.content.updates,
        "cab and bare XML parse identically"
    );
}

#[test]
fn own_reader_agrees_with_the_cab_crate_on_gcab_output() {
    let data = read("catalog_v3.cab");
    let ours = extract_all(&data, &Limits::default()).unwrap();
    let mut theirs = cab::Cabinet::new(Cursor::new(&data)).unwrap();
    assert_eq!(ours.len(), 10);
    for (entry, bytes) in &ours {
        let mut r = theirs.read_file(&entry.raw_name).unwrap();
        let mut expected = Vec::new();
        std::io::Read::read_to_end(&mut r, &mut expected).unwrap();
        assert_eq!(bytes, &expected, "{}", entry.raw_name);
    }
}

#[test]
fn truncated_cab_is_an_error() {
    let data = read("catalog_v3.cab");
    for cut in [10, 40, 100, data.len() / 2, data.len() - 1] {
        let e = extract(&data[..cut], &CatalogLimits::default(), now()).unwrap_err();
        assert!(
            matches!(e, ExtractError::Cab(CabError::Truncated(_))),
            "cut {cut}: {e}"
        );
    }
}

#[test]
fn traversal_member_is_refused() {
    let data = build(&[("Catalog.xml", b"<x/>"), (r"..\..\x", b"evil")]);
    let e = Cabinet::parse(&data).unwrap_err();
    assert!(matches!(e, CabError::UnsafePath { .. }), "{e}");
    assert!(e.to_string().contains(r"..\..\x"));
}

#[test]
fn inflating_past_the_limit_is_refused() {
    let zeros = vec![0u8; 4 << 20];
    let data = build(&[("Catalog.xml", &zeros)]);
    assert!(data.len() < 64 << 10, "a small cab that claims megabytes");
    let limits = CatalogLimits {
        inflated_bytes: 1 << 20,
        ..CatalogLimits::default()
    };
    let e = extract(&data, &limits, now()).unwrap_err();
    let ExtractError::Limit(l) = &e else {
        panic!("{e}")
    };
    assert_eq!((l.limit, l.configured), (Limit::InflatedBytes, 1));
    assert!(
        e.to_string().starts_with(
            "the cabinet's members inflate to 4194304 bytes, over the limit `[limits] max_inflated_mib = 1` (1048576 bytes); "
        ),
        "{e}"
    );
}

#[test]
fn malformed_xml_in_a_cab_reports_file_line_and_column() {
    let doc = "<smc:SystemsManagementCatalog xmlns:smc=\"http://schemas.microsoft.com/sms/2005/04/CorporatePublishing/SystemsManagementCatalog.xsd\">\n  <b>\n  </c>\n</smc:SystemsManagementCatalog>";
    let data = build(&[("Catalog.xml", doc.as_bytes())]);
    let e = extract(&data, &CatalogLimits::default(), now()).unwrap_err();
    let ExtractError::Xml {
        file,
        error: source,
    } = &e
    else {
        panic!("{e}")
    };
    assert_eq!(file, "Catalog.xml");
    assert_eq!(source.line, 3, "{e}");
    assert!(
        e.to_string().starts_with("Catalog.xml: line 3, column "),
        "{e}"
    );
}

#[test]
fn entity_expansion_is_refused() {
    let bomb = "<?xml version=\"1.0\"?>\n<!DOCTYPE l [<!ENTITY a \"aaaaaaaaaa\"><!ENTITY b \"&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;\">]>\n<l>&b;</l>";
    assert_eq!(parse_catalog(bomb).unwrap_err().kind, SdpErrorKind::Doctype);
}

#[test]
fn v3_member_not_in_the_catalog_is_reported_with_ids() {
    let xml = read("src/QuirksCatalog.xml");
    let stray = "{\"DisplayName\":\"Root\",\"Id\":\"cccccccc-0000-4000-8000-000000000001\",\"Members\":[\"11111111-0000-4000-8000-000000000001\",\"99999999-0000-4000-8000-000000000009\"],\"ParentId\":\"\"}";
    let data = build(&[
        ("Catalog.xml", &xml),
        (
            r"V3\cccccccc-0000-4000-8000-000000000001.json",
            stray.as_bytes(),
        ),
    ]);
    let e = extract(&data, &CatalogLimits::default(), now()).unwrap_err();
    assert!(
        matches!(e, ExtractError::V3(V3Error::UnknownMembers(_))),
        "{e}"
    );
    let msg = e.to_string();
    assert!(
        msg.contains("99999999-0000-4000-8000-000000000009")
            && msg.contains("cccccccc-0000-4000-8000-000000000001"),
        "{msg}"
    );
}

#[test]
fn ambiguous_category_path_lists_guids() {
    let xml = read("src/QuirksCatalog.xml");
    let cat = |n: u32, name: &str, parent: &str| {
        format!(
            "{{\"DisplayName\":\"{name}\",\"Id\":\"cccccccc-0000-4000-8000-00000000000{n}\",\"Members\":null,\"ParentId\":\"{parent}\"}}"
        )
    };
    let root = "cccccccc-0000-4000-8000-000000000001";
    let (a, b, c) = (
        cat(1, "Dell", ""),
        cat(2, "Latitude", root),
        cat(3, "Latitude", root),
    );
    let data = build(&[
        ("Catalog.xml", &xml),
        (r"V3\1.json", a.as_bytes()),
        (r"v3\2.json", b.as_bytes()),
        (r"V3\3.json", c.as_bytes()),
    ]);
    let x = extract(&data, &CatalogLimits::default(), now()).unwrap();
    let e = resolve(&x.content.categories, "Dell/Latitude").unwrap_err();
    assert!(matches!(e, CategoryError::Ambiguous { ref ids, .. } if ids.len() == 2));
    let msg = e.to_string();
    assert!(
        msg.contains("cccccccc-0000-4000-8000-000000000002")
            && msg.contains("cccccccc-0000-4000-8000-000000000003"),
        "{msg}"
    );
}

#[test]
fn cab_without_catalog_xml_or_with_two() {
    let e = extract(
        &build(&[(r"V2\x.sdp", b"<x/>")]),
        &CatalogLimits::default(),
        now(),
    )
    .unwrap_err();
    assert_eq!(e, ExtractError::NoCatalogXml);
    let e = extract(
        &build(&[("a.xml", b"<x/>"), ("b.xml", b"<x/>")]),
        &CatalogLimits::default(),
        now(),
    )
    .unwrap_err();
    assert!(matches!(e, ExtractError::SeveralCatalogXml(_)));
}

/// The catalog XML streams from its folder into the parser: a damaged block under it is the
/// cabinet's error (checksum, block number), not an XML error at some offset, and the
/// packages before the damage make no difference.
#[test]
fn a_damaged_block_under_the_streamed_xml_is_a_cabinet_error() {
    let mut doc = String::from(
        "<smc:SystemsManagementCatalog xmlns:smc=\"http://schemas.microsoft.com/sms/2005/04/CorporatePublishing/SystemsManagementCatalog.xsd\">\n",
    );
    while doc.len() < 200_000 {
        doc.push_str("  <!-- padding that spans several 32 KiB blocks -->\n");
    }
    doc.push_str("</smc:SystemsManagementCatalog>\n");
    let mut data = build(&[("Catalog.xml", doc.as_bytes())]);
    assert!(extract(&data, &CatalogLimits::default(), now()).is_ok());
    // The data blocks follow the directory: three quarters in is inside one of them.
    let at = data.len() * 3 / 4;
    data[at] ^= 0xff;
    let e = extract(&data, &CatalogLimits::default(), now()).unwrap_err();
    assert!(
        matches!(
            e,
            ExtractError::Cab(CabError::Checksum { .. } | CabError::Corrupt { .. })
        ),
        "{e}"
    );
}
