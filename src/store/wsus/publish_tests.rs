use super::*;
use crate::catalog::sdp::parse_catalog;

const QUIRKS: &[u8] = include_bytes!("../../../tests/fixtures/catalog/src/QuirksCatalog.xml");

fn records() -> Vec<UpdateRecord> {
    crate::catalog::sdp::parse_catalog_bytes(QUIRKS).unwrap()
}

#[test]
fn import_carries_a_standalone_sdp_and_one_url_per_digest() {
    for r in records() {
        let i = import(&r, 3).unwrap();
        let again = parse_catalog(&i.usp_xml).unwrap();
        assert_eq!(again[0].id, r.id);
        let digests: std::collections::BTreeSet<_> = r.files().map(|f| f.sha1).collect();
        assert_eq!(i.files.len(), digests.len());
        assert!(i.files.iter().all(|u| digests.contains(&u.sha1)));
        let update = crate::store::wsus::soap::Element::parse(&i.sus_xml).unwrap();
        assert_eq!(update.ns.as_deref(), Some(NS_UPDATE));
        let identity = update.child("UpdateIdentity").unwrap();
        assert_eq!(
            identity.attr(None, "UpdateID"),
            Some(r.id.to_string().as_str())
        );
        assert_eq!(identity.attr(None, "RevisionNumber"), Some("3"));
        let files = update.child("Files").unwrap();
        assert_eq!(files.children.len(), r.files().count());
        for (f, el) in r.files().zip(&files.children) {
            assert_eq!(el.attr(None, "Digest"), Some(f.sha1.to_base64().as_str()));
            assert_eq!(el.attr(None, "DigestAlgorithm"), Some("SHA1"));
        }
    }
}

#[test]
fn a_summary_without_xml_cannot_be_published() {
    let mut r = records().remove(0);
    r.raw_hash = Some(r.content_hash());
    r.raw_xml.clear();
    assert!(matches!(import(&r, 1), Err(WsusError::NotSupported { .. })));
}

#[test]
fn expiry_changes_only_the_publication_state() {
    let r = records().remove(0);
    let sdp = r.standalone_xml().unwrap();
    let expired = with_publication_state(&sdp, "Expired").unwrap();
    let parsed = parse_catalog(&expired).unwrap().remove(0);
    assert_eq!(parsed.publication_state, PublicationState::Expired);
    assert_eq!(parsed.title(), r.title());
    assert!(parsed.files().eq(r.files()));
    let i = expiry(&sdp, 4).unwrap();
    assert!(
        i.sus_xml.contains(r#"PublicationState="Expired""#),
        "{}",
        i.sus_xml
    );
    // Already expired: the attribute is replaced, not duplicated.
    let twice = with_publication_state(&expired, "Expired").unwrap();
    assert_eq!(twice.matches("PublicationState=").count(), 1);
}

#[test]
fn a_stored_sdp_that_is_not_a_package_is_refused() {
    assert!(with_publication_state("<a><b/></a>", "Expired").is_err());
    assert!(with_publication_state("not xml <", "Expired").is_err());
    assert!(expiry("<x/>", 2).is_err());
}
