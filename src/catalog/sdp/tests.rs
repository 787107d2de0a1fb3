use super::*;
use crate::catalog::model::{Installer, PublicationState};

const QUIRKS: &[u8] = include_bytes!("../../../tests/fixtures/catalog/src/QuirksCatalog.xml");
const SDP: &str = include_str!("../../../tests/fixtures/catalog/package.sdp");

fn quirks() -> Vec<UpdateRecord> {
    assert!(QUIRKS.starts_with(b"\xef\xbb\xbf") && QUIRKS.windows(2).any(|w| w == b"\r\n"));
    parse_catalog_bytes(QUIRKS).unwrap()
}

#[test]
fn hp_like_package_fields() {
    let all = quirks();
    assert_eq!(all.len(), 3);
    let u = &all[0];
    assert_eq!(u.id.as_str(), "11111111-0000-4000-8000-000000000001");
    assert_eq!(&*u.schema_version, "1.0");
    assert_eq!(u.created_raw, "2015-12-21T11:48:00");
    assert_eq!(u.created.to_rfc3339(), "2015-12-21T11:48:00+00:00");
    assert_eq!(&*u.vendor, "Example Clients");
    assert_eq!(&*u.products, ["Driver"]);
    assert_eq!(u.publication_state, PublicationState::Published);
    assert_eq!(&*u.update_type, "Software");
    // Duplicate English LocalizedProperties collapse to the first.
    let langs: Vec<&str> = u.localized.iter().map(|l| l.language.as_str()).collect();
    assert_eq!(langs, ["en", "de"]);
    assert_eq!(u.title(), "Video Driver & Control Panel [1.0]");
    assert_eq!(u.description(), "First English description.");
    assert_eq!(&*u.classification, "Updates");
    assert_eq!(u.severity.as_deref(), Some("Important"));
    assert_eq!(u.kb_article.as_deref(), Some("sp1"));
    assert_eq!(u.bulletin.as_deref(), Some("EX-1"));
    assert_eq!(u.cves, ["CVE-2015-0001", "CVE-2015-0002"]);
    let sup: Vec<String> = u.superseded.iter().map(|s| s.to_string()).collect();
    assert_eq!(
        sup,
        [
            "11111111-0000-4000-8000-0000000000a1",
            "11111111-0000-4000-8000-0000000000a2"
        ]
    );
    assert_eq!(u.items.len(), 1);
    assert_eq!(
        u.items[0].installer,
        Installer::CommandLine {
            program: "sp1.exe".into(),
            arguments: Some(r#"-s -a /c "setup.exe" -Install"#.into()),
        }
    );
    let f = &u.items[0].files[0];
    assert_eq!(f.name, "sp1.exe");
    assert_eq!(f.size, 297_158_800);
    assert_eq!(f.sha1.to_base64(), "fVV2bJqxya6klq9Mr3LUmubCnAc=");
    assert_eq!(
        f.sha256.unwrap().to_base64(),
        "3DyS4hoImIWloolcNQs9OdC3aCQzAdVo9iFlK/91Y9c="
    );
    assert_eq!(f.uri.as_deref(), Some("http://example.invalid/sp1.exe"));
    assert_eq!(f.modified, "2015-12-21T11:26:00");
    assert_eq!(u.content_bytes(), 297_158_800);
}

#[test]
fn raw_xml_is_the_exact_package_slice() {
    let all = quirks();
    let doc = std::str::from_utf8(&QUIRKS[3..]).unwrap();
    for u in &all {
        assert!(
            u.raw_xml.ends_with("SoftwareDistributionPackage>"),
            "{}",
            &u.raw_xml[u.raw_xml.len() - 40..]
        );
        assert!(
            u.raw_xml.starts_with("<smc:SoftwareDistributionPackage")
                || u.raw_xml.starts_with("<sdp:SoftwareDistributionPackage")
        );
        assert!(doc.contains(&u.raw_xml));
    }
    // The WQL keeps its escapes in the raw slice: it is stored, not re-serialised.
    assert!(
        all[0]
            .raw_xml
            .contains("VEN_1002&amp;DEV_9900%' and Size &gt; 3")
    );
    assert!(all[0].raw_xml.contains("\r\n"));
}

#[test]
fn dell_like_package_resolves_redeclared_namespaces() {
    let u = &quirks()[1];
    assert_eq!(&*u.schema_version, "1.2");
    assert_eq!(u.created_raw, "2018-09-05T00:58:17.513Z");
    assert_eq!(&*u.products, ["Drivers and Applications", "Second Product"]);
    assert_eq!(u.publication_state, PublicationState::Expired);
    assert_eq!(&*u.update_type, "Driver");
    assert_eq!(&*u.classification, "Critical Updates");
    assert_eq!(u.severity, None);
    assert_eq!(
        u.description(),
        "Line one\nline two",
        "CRLF normalised inside text"
    );
    assert!(
        u.superseded.is_empty(),
        "empty SupersededPackages; Prerequisites are not supersedence"
    );
    assert_eq!(
        u.items[0].installer,
        Installer::Msi {
            product_code: "{FB2B7CC0-8307-47E6-A065-11015CC96B99}".into(),
            msi_file: "agent.msi".into()
        }
    );
    assert_eq!(u.items[0].files[0].sha256, None);
}

#[test]
fn application_package_with_char_refs_and_cdata() {
    let u = &quirks()[2];
    assert_eq!(u.created.to_rfc3339(), "2018-10-03T06:37:49+00:00");
    assert_eq!(&*u.classification, "Applications");
    assert_eq!(u.title(), "Patch \u{263A} <3>");
    assert_eq!(u.description(), "Raw <b>text</b>");
    assert_eq!(
        u.items[0].installer,
        Installer::Msp {
            patch_code: Some("{11111111-2222-3333-4444-555555555555}".into())
        }
    );
    assert_eq!(u.items[0].files[0].uri, None);
}

#[test]
fn standalone_sdp_file() {
    let all = parse_catalog(SDP).unwrap();
    assert_eq!(all.len(), 1);
    assert_eq!(&*all[0].classification, "Drivers");
    assert_eq!(all[0].raw_xml, SDP.trim_end());
}

fn err(doc: &str) -> SdpError {
    parse_catalog(doc).unwrap_err()
}

const ROOT: &str = r#"<smc:SystemsManagementCatalog xmlns:smc="http://schemas.microsoft.com/sms/2005/04/CorporatePublishing/SystemsManagementCatalog.xsd" xmlns:sdp="http://schemas.microsoft.com/wsus/2005/04/CorporatePublishing/SoftwareDistributionPackage.xsd">"#;

#[test]
fn malformed_xml_reports_line_and_column() {
    let doc = format!(
        "{ROOT}\n  <smc:SoftwareDistributionPackage SchemaVersion=\"1.0\">\n    <sdp:Properties PackageID=\"11111111-0000-4000-8000-000000000001\" CreationDate=\"2015-12-21T11:48:00\">\n    </sdp:Oops>\n"
    );
    let e = err(&doc);
    assert!(matches!(e.kind, SdpErrorKind::Xml(_)), "{e}");
    assert_eq!(e.line, 4, "{e}");
    assert_eq!(
        e.package.as_ref().map(|p| p.to_string()).as_deref(),
        Some("11111111-0000-4000-8000-000000000001")
    );
    assert!(e.to_string().starts_with("line 4, column "), "{e}");
}

#[test]
fn doctype_and_unknown_entities_are_refused() {
    let bomb = r#"<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]>
<lolz>&lol2;</lolz>"#;
    let e = err(bomb);
    assert_eq!(e.kind, SdpErrorKind::Doctype);
    assert_eq!((e.line, e.column), (2, 1));
    let e = err(&format!("{ROOT}&lol;</smc:SystemsManagementCatalog>"));
    assert_eq!(e.kind, SdpErrorKind::UnknownEntity("lol".into()));
}

#[test]
fn semantic_errors_are_typed() {
    let pkg = |props: &str| {
        format!(
            "{ROOT}<smc:SoftwareDistributionPackage SchemaVersion=\"1.0\"><sdp:Properties {props}/><sdp:LocalizedProperties><sdp:Language>en</sdp:Language><sdp:Title>t</sdp:Title></sdp:LocalizedProperties><sdp:UpdateSpecificData UpdateClassification=\"Updates\"/></smc:SoftwareDistributionPackage></smc:SystemsManagementCatalog>"
        )
    };
    let ok = pkg(
        r#"PackageID="11111111-0000-4000-8000-000000000001" CreationDate="2015-12-21T11:48:00""#,
    );
    assert_eq!(parse_catalog(&ok).unwrap()[0].description(), "");
    let e = err(&pkg(r#"CreationDate="2015-12-21T11:48:00""#));
    assert_eq!(e.kind, SdpErrorKind::Missing("Properties/@PackageID"));
    let e = err(&pkg(
        r#"PackageID="nope" CreationDate="2015-12-21T11:48:00""#,
    ));
    assert!(
        matches!(
            e.kind,
            SdpErrorKind::Invalid {
                what: "Properties/@PackageID",
                ..
            }
        ),
        "{e}"
    );
    let e = err(&pkg(
        r#"PackageID="11111111-0000-4000-8000-000000000001" CreationDate="yesterday""#,
    ));
    assert!(
        matches!(
            e.kind,
            SdpErrorKind::Invalid {
                what: "Properties/@CreationDate",
                ..
            }
        ),
        "{e}"
    );
    assert_eq!(
        e.package.unwrap().as_str(),
        "11111111-0000-4000-8000-000000000001"
    );
    let e = err("<html/>");
    assert_eq!(e.kind, SdpErrorKind::NotCatalog("html".into()));
    assert_eq!(err("  ").kind, SdpErrorKind::NoRoot);
    // Bytes are checked as the parser reaches them: the first fault in document order wins.
    let e = parse_catalog_bytes(b"<!-- \xff --><a/>").unwrap_err();
    assert_eq!((e.kind, e.line, e.column), (SdpErrorKind::NotUtf8, 1, 6));
}

#[test]
fn truncated_documents_fail_and_never_panic() {
    let doc = std::str::from_utf8(&QUIRKS[3..]).unwrap();
    let mut cut = doc.len();
    while cut > 0 {
        cut = cut.saturating_sub(97);
        while !doc.is_char_boundary(cut) {
            cut -= 1;
        }
        assert!(parse_catalog(&doc[..cut]).is_err(), "cut at {cut}");
    }
    // An unclosed root after complete packages is still an error.
    let e = err(&format!("{ROOT}\n"));
    assert!(matches!(e.kind, SdpErrorKind::Xml(_)), "{e}");
}

#[test]
fn mutated_documents_never_panic() {
    let doc = std::str::from_utf8(&QUIRKS[3..]).unwrap().as_bytes();
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    let mut rnd = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let specials = b"<>&;\"'/:= \n\x00";
    for _ in 0..2000 {
        let mut m = doc.to_vec();
        for _ in 0..1 + rnd() % 6 {
            let i = (rnd() as usize) % m.len();
            m[i] = specials[(rnd() as usize) % specials.len()];
        }
        // Errors are expected; a panic fails the test.
        let _ = parse_catalog_bytes(&m);
    }
}

#[test]
fn every_quirks_package_stands_alone_with_its_inherited_namespaces() {
    for u in quirks() {
        let alone = u.standalone_xml().expect("an element");
        let again = parse_catalog(&alone).unwrap_or_else(|e| panic!("{}: {e}\n{alone}", u.id));
        assert_eq!(again.len(), 1, "{}", u.id);
        assert_eq!(again[0].id, u.id);
        assert_eq!(again[0].title(), u.title());
        assert!(again[0].files().eq(u.files()));
        assert!(
            again[0].namespaces.is_empty(),
            "a standalone package inherits nothing"
        );
    }
    let sdp = &parse_catalog(SDP).unwrap()[0];
    assert_eq!(sdp.standalone_xml().as_deref(), Some(sdp.raw_xml.as_str()));
}

#[test]
fn an_item_with_uninstall_properties_can_be_uninstalled() {
    assert!(!parse_catalog(SDP).unwrap()[0].items[0].uninstallable);
    let with = SDP.replace(
        "<sdp:OriginFile",
        "<sdp:UninstallProperties RebootBehavior=\"NeverReboots\" />\n    <sdp:OriginFile",
    );
    assert!(parse_catalog(&with).unwrap()[0].items[0].uninstallable);
}

/// A source that hands out `step` bytes per read, so chunk boundaries fall everywhere.
struct Trickle<'a>(&'a [u8], usize);

impl std::io::Read for Trickle<'_> {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        let n = self.0.len().min(self.1).min(out.len());
        out[..n].copy_from_slice(&self.0[..n]);
        self.0 = &self.0[n..];
        Ok(n)
    }
}

fn read_all(source: impl std::io::Read, keep: KeepXml) -> Result<Vec<UpdateRecord>, SdpError> {
    let mut out = Vec::new();
    for_each_package(source, &CatalogLimits::default(), keep, |u, _| out.push(u))?;
    Ok(out)
}

#[test]
fn records_do_not_depend_on_how_the_stream_is_cut() {
    let whole = quirks();
    for step in [1, 2, 3, 7, 64, 4096] {
        assert_eq!(
            read_all(Trickle(QUIRKS, step), KeepXml::All).unwrap(),
            whole
        );
    }
    // Errors too: the same line, column and package wherever the reads end.
    let mut bad = QUIRKS.to_vec();
    let at = bad.windows(7).rposition(|w| w == b"<sdp:Ti").unwrap();
    bad[at + 2] = 0x01;
    let e = read_all(&bad[..], KeepXml::All).unwrap_err();
    assert_eq!(e.kind, SdpErrorKind::InvalidChar(1));
    for step in [1, 5, 4096] {
        assert_eq!(read_all(Trickle(&bad, step), KeepXml::All).unwrap_err(), e);
    }
}

#[test]
fn only_the_packages_asked_for_keep_their_xml_and_every_hash_is_the_same() {
    let whole = quirks();
    let wanted: HashSet<UpdateId> = [whole[1].id].into();
    let some = read_all(QUIRKS, KeepXml::Only(&wanted)).unwrap();
    let none = read_all(QUIRKS, KeepXml::None).unwrap();
    for ((full, some), none) in whole.iter().zip(&some).zip(&none) {
        assert!(!full.is_summary() && none.is_summary());
        assert_eq!(some.is_summary(), !wanted.contains(&some.id));
        assert_eq!(full.content_hash(), some.content_hash());
        assert_eq!(full.content_hash(), none.content_hash());
        let fields = |u: &UpdateRecord| (u.id, u.title().to_string(), u.items.clone());
        assert_eq!(fields(full), fields(none));
    }
    assert_eq!(some[1].raw_xml, whole[1].raw_xml);
}
