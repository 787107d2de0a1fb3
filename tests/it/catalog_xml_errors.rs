//! Issue 12's smaller parser items, through the real binary: a parse error is printed once,
//! errors point at the offending spot (also quick-xml's nesting limit), documents XML does
//! not allow (two roots, U+0000, UTF-16) are refused by name, and a config that is not UTF-8
//! is located by line and column.

use crate::support::catalog as catalog_support;

use std::path::Path;

use catalog_support::*;

const ID: &str = "0c31a8ec-a368-4383-8149-3d8e2c264f17";

/// `catalog inspect` of `bytes` written as `name`: exit code and stderr.
fn inspect(dir: &Path, name: &str, bytes: &[u8]) -> (i32, String) {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    let m = run(&["catalog", "inspect", path.to_str().unwrap()]);
    (m.code, m.stderr)
}

fn package() -> String {
    Pkg::new(ID, "t", "2024-01-01T00:00:00Z").xml()
}

#[test]
fn a_parse_error_is_printed_once() {
    let dir = tempfile::tempdir().unwrap();
    let xml = catalog_xml("<a></b>\n");
    let (code, err) = inspect(dir.path(), "bad.xml", xml.as_bytes());
    assert_eq!(code, 1, "{err}");
    assert_eq!(
        err.matches("expected `</a>`, but `</b>` was found").count(),
        1,
        "{err}"
    );
    assert!(
        err.contains("catalog XML: line 3, column 4: malformed XML"),
        "{err}"
    );
}

#[test]
fn the_nesting_limit_error_points_at_the_element() {
    let dir = tempfile::tempdir().unwrap();
    let deep = format!("\n{}{}", "<x>".repeat(70_000), "</x>".repeat(70_000));
    let xml = catalog_xml(&package().replace(
        "<sdp:UpdateSpecificData",
        &format!("{deep}<sdp:UpdateSpecificData"),
    ));
    let (code, err) = inspect(dir.path(), "deep.xml", xml.as_bytes());
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("deeper than"), "{err}");
    assert!(!err.contains("line 1, column 1"), "{err}");
    // Line 4 holds the nesting; quick-xml gives up some 65,000 elements into it.
    assert!(err.contains("line 4, column "), "{err}");
    assert!(err.contains(&format!("(package {ID})")), "{err}");
}

#[test]
fn a_second_root_element_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let xml = format!("{}<smc:SystemsManagementCatalog/>\n", catalog_xml(""));
    let (code, err) = inspect(dir.path(), "two.xml", xml.as_bytes());
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("line 4, column 1: a second root element `smc:SystemsManagementCatalog`"),
        "{err}"
    );
    // Two standalone packages are two roots as well.
    let sdp = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/catalog/package.sdp"
    ))
    .unwrap();
    let (code, err) = inspect(dir.path(), "two.sdp", format!("{sdp}{sdp}").as_bytes());
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("a second root element `sdp:SoftwareDistributionPackage`"),
        "{err}"
    );
}

#[test]
fn characters_xml_forbids_are_refused_where_they_are() {
    let dir = tempfile::tempdir().unwrap();
    let literal = catalog_xml(&package().replace("<sdp:Title>t", "<sdp:Title>t\u{0}"));
    let (code, err) = inspect(dir.path(), "nul.xml", literal.as_bytes());
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("line 3, column "), "{err}");
    assert!(
        err.contains("character U+0000 is not allowed in XML"),
        "{err}"
    );

    for (name, reference) in [("ref0.xml", "&#0;"), ("ref1.xml", "&#x1;")] {
        let xml =
            catalog_xml(&package().replace("<sdp:Title>t", &format!("<sdp:Title>t{reference}")));
        let (code, err) = inspect(dir.path(), name, xml.as_bytes());
        assert_eq!(code, 1, "{name}: {err}");
        assert!(err.contains("is not allowed in XML"), "{name}: {err}");
        assert!(err.contains(&format!("(package {ID})")), "{name}: {err}");
    }
    // Also in elements outside packages, which are otherwise skipped.
    let (code, err) = inspect(
        dir.path(),
        "outside.xml",
        catalog_xml("<x y=\"&#0;\"/>\n").as_bytes(),
    );
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("line 3, column 1: malformed XML: attribute `y`: invalid character reference: 0x0 character is not permitted in XML"),
        "{err}"
    );
    let attr = catalog_xml(&package().replace("VendorName=\"Contoso\"", "VendorName=\"a&#2;\""));
    let (code, err) = inspect(dir.path(), "attr.xml", attr.as_bytes());
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("character U+0002 is not allowed in XML"),
        "{err}"
    );
}

#[test]
fn utf16_is_reported_as_an_unsupported_encoding() {
    let dir = tempfile::tempdir().unwrap();
    let xml = catalog_xml(&package());
    let le: Vec<u8> = xml.encode_utf16().flat_map(u16::to_le_bytes).collect();
    let (code, err) = inspect(dir.path(), "utf16.xml", &le);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("line 1, column 1: the document is UTF-16LE (no byte-order mark); supctl reads UTF-8 catalogs only"),
        "{err}"
    );
    assert!(!err.contains("root element"), "{err}");
    let mut bom = vec![0xfe, 0xff];
    bom.extend(xml.encode_utf16().flat_map(u16::to_be_bytes));
    let (_, err) = inspect(dir.path(), "utf16be.xml", &bom);
    assert!(err.contains("UTF-16BE (byte-order mark FE FF)"), "{err}");
    // UTF-8 that declares UTF-16 is mislabelled.
    let declared = xml.replace("encoding=\"utf-8\"", "encoding=\"utf-16\"");
    let (code, err) = inspect(dir.path(), "declared.xml", declared.as_bytes());
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("UTF-8 but declares encoding=\"utf-16\""),
        "{err}"
    );
}

#[test]
fn a_config_that_is_not_utf8_is_located() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("supctl.toml");
    std::fs::write(&path, b"version = 1\n\n[server]\npath = \"caf\xe9\"\n").unwrap();
    let m = run(&["validate", "-c", path.to_str().unwrap()]);
    assert_eq!(m.code, 1, "{}", m.all());
    let at = format!("{}:4:12: error:", path.display());
    assert!(m.all().contains(&at), "{}", m.all());
    assert!(m.all().contains("not UTF-8"), "{}", m.all());

    let utf16: Vec<u8> = [0xff, 0xfe]
        .into_iter()
        .chain("version = 1\n".encode_utf16().flat_map(u16::to_le_bytes))
        .collect();
    std::fs::write(&path, utf16).unwrap();
    let m = run(&["validate", "-c", path.to_str().unwrap()]);
    assert_eq!(m.code, 1, "{}", m.all());
    assert!(
        m.all().contains(&format!("{}:1:1: error:", path.display())) && m.all().contains("UTF-16"),
        "{}",
        m.all()
    );
}
