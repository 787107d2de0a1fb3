//! `catalog inspect`'s streamed tally (`catalog::tally`) against the full parse: read from a
//! file, it must count exactly the packages `extract` keeps, name the same duplicates and
//! fail with the same errors.

use std::collections::BTreeMap;
use std::io::Write;

use crate::support::catalog::{cab_of as build, fixture as read, fixture_now as now};
use supctl::catalog::extract::Extracted;
use supctl::catalog::limits::CatalogLimits;
use supctl::catalog::summary::Summary;
use supctl::catalog::tally::{TallyError, tally_file};
use supctl::catalog::{ExtractError, extract};

const PACKAGE_END: &str = "</smc:SoftwareDistributionPackage>";

/// The summary of a full parse, counted here from its records: what `catalog inspect`
/// printed before it streamed.
fn expected(x: &Extracted) -> Summary {
    let c = &x.content;
    let mut vendors = BTreeMap::new();
    let mut products = BTreeMap::new();
    let mut classifications = BTreeMap::new();
    for u in &c.updates {
        *vendors.entry(u.vendor.to_string()).or_default() += 1;
        for p in u.products.iter() {
            *products.entry(p.clone()).or_default() += 1;
        }
        *classifications
            .entry(u.classification.to_string())
            .or_default() += 1;
    }
    Summary {
        format: c.format.as_str(),
        updates: c.updates.len(),
        vendors,
        products,
        classifications,
        categories: c.categories.len(),
        content_certificates: c.content_certificates.len(),
        expired_content_certificates: x.expired_content_certificates.len(),
        missing_content_certificates: x.missing_content_certificates,
        superseded_refs: c.updates.iter().map(|u| u.superseded.len()).sum(),
        content_bytes: c.updates.iter().map(|u| u.content_bytes()).sum(),
        catalog_xml: x.xml_name.clone(),
        xml_bytes: x.xml_bytes,
        duplicates: c.duplicates.clone(),
    }
}

/// Tallies `data` written to a file, as `catalog inspect` reads it.
fn tally(data: &[u8]) -> Result<Summary, TallyError> {
    let mut file = tempfile::tempfile().unwrap();
    file.write_all(data).unwrap();
    tally_file(&file, &CatalogLimits::default(), now())
}

fn both(data: &[u8]) -> (Summary, Summary) {
    let full = extract(data, &CatalogLimits::default(), now()).unwrap();
    (tally(data).unwrap(), expected(&full))
}

/// The quirks catalog with its first package listed twice more: once older under an
/// upper-case, braced id, once with the same date later in the document.
fn with_duplicates() -> Vec<u8> {
    let xml = String::from_utf8(read("src/QuirksCatalog.xml")).unwrap();
    let start = xml.find("<smc:SoftwareDistributionPackage").unwrap();
    let end = xml.find(PACKAGE_END).unwrap() + PACKAGE_END.len();
    let first = &xml[start..end];
    let older = first
        .replace(
            "11111111-0000-4000-8000-000000000001",
            "{11111111-0000-4000-8000-000000000001}",
        )
        .replace("2015-12-21T11:48:00", "2014-01-01T00:00:00");
    let same = first.replace("[1.0]<", "[1.0] again<");
    let close = xml.rfind("</smc:SystemsManagementCatalog>").unwrap();
    format!("{}{older}\n{same}\n{}", &xml[..close], &xml[close..]).into_bytes()
}

#[test]
fn the_tally_of_each_fixture_is_the_summary_of_its_full_parse() {
    for name in [
        "catalog_v1.cab",
        "catalog_v2.cab",
        "catalog_v3.cab",
        "catalog_v3_signed.cab",
        "src/QuirksCatalog.xml",
    ] {
        let (got, want) = both(&read(name));
        assert!(got.updates > 0, "{name}");
        assert_eq!(got, want, "{name}");
    }
}

#[test]
fn duplicates_are_counted_once_and_named_as_the_parse_names_them() {
    let doc = with_duplicates();
    for data in [doc.clone(), build(&[("Catalog.xml", &doc)])] {
        let (got, want) = both(&data);
        assert_eq!(got.duplicates.len(), 2, "{:?}", got.duplicates);
        assert_eq!(got, want);
        assert_eq!(
            got.duplicates[1].kept.title, "Video Driver & Control Panel [1.0] again",
            "equal dates: the later package is kept and named"
        );
    }
}

#[test]
fn per_package_v2_copies_change_nothing_counted() {
    let xml = read("src/QuirksCatalog.xml");
    let plain = build(&[("Catalog.xml", &xml)]);
    let sdp = read("package.sdp");
    let with_v2 = build(&[
        ("Catalog.xml", &xml),
        (r"V2\11111111-0000-4000-8000-000000000001.sdp", &sdp),
        (r"V2\22222222-0000-4000-8000-000000000002.sdp", &sdp),
    ]);
    let (got, want) = both(&with_v2);
    assert_eq!(got, want);
    assert_eq!(got, tally(&plain).unwrap());
}

#[test]
fn a_broken_catalog_fails_with_the_parse_error() {
    let v3 = read("catalog_v3.cab");
    let stray = "{\"DisplayName\":\"Root\",\"Id\":\"cccccccc-0000-4000-8000-000000000001\",\"Members\":[\"99999999-0000-4000-8000-000000000009\"],\"ParentId\":\"\"}";
    let unknown_member = build(&[
        ("Catalog.xml", &read("src/QuirksCatalog.xml")),
        (
            r"V3\cccccccc-0000-4000-8000-000000000001.json",
            stray.as_bytes(),
        ),
    ]);
    // The same with the category ahead of the XML: read in the pass before the packages.
    let unknown_member_first = build(&[
        (
            r"V3\cccccccc-0000-4000-8000-000000000001.json",
            stray.as_bytes(),
        ),
        ("Catalog.xml", &read("src/QuirksCatalog.xml")),
    ]);
    let malformed = build(&[("Catalog.xml", b"<smc:SystemsManagementCatalog>\n</x>")]);
    let cases = [
        ("truncated", v3[..v3.len() / 2].to_vec()),
        ("unknown V3 member", unknown_member),
        ("unknown V3 member, category first", unknown_member_first),
        ("malformed XML", malformed),
        ("no catalog XML", build(&[("readme.txt", b"hello")])),
    ];
    for (what, data) in cases {
        let want: ExtractError = extract(&data, &CatalogLimits::default(), now()).unwrap_err();
        match tally(&data) {
            Err(TallyError::Extract(got)) => assert_eq!(got, want, "{what}"),
            other => panic!("{what}: {other:?}"),
        }
    }
}
