//! A stored update's fingerprint, written without a JSON value in between.
//!
//! The fingerprint of any stored object is the SHA-256 of its canonical JSON
//! ([`super::actual::fingerprint_of`]: serde_json's map sorts keys). Apply computes one
//! for every update it publishes (the journal records what each action left), and going
//! through a `serde_json::Value` (a map and a string per field) was most of that cost. An
//! update is the one object hashed that often, so it gets a view that serializes the same
//! bytes directly: its fields in sorted key order, `superseded_by` left out
//! ([`StoredUpdate::fingerprint`] says why). The test below holds it to the general path.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::actual::{StoredFile, StoredUpdate};
use super::names::{CatalogKey, Fingerprint};
use crate::catalog::model::PublicationState;
use crate::ids::{Sha1, Sha256, UpdateId};

/// [`StoredUpdate`]'s fields in the order a sorted JSON map writes them.
#[derive(Serialize)]
struct UpdateView<'a> {
    catalog: &'a CatalogKey,
    classification: &'a str,
    content_hash: &'a Sha256,
    created: &'a DateTime<Utc>,
    declined: bool,
    files: Vec<FileView<'a>>,
    id: &'a UpdateId,
    kb_article: &'a Option<String>,
    products: &'a [String],
    publication: &'a PublicationState,
    revision: u32,
    severity: Option<&'a str>,
    supersedes: &'a [UpdateId],
    title: &'a str,
    update_type: &'a str,
    vendor: &'a str,
}

/// [`StoredFile`]'s fields in sorted key order.
#[derive(Serialize)]
struct FileView<'a> {
    name: &'a str,
    sha1: &'a Sha1,
    sha256: &'a Option<Sha256>,
    size: u64,
    staged: bool,
    uri: &'a Option<String>,
}

impl<'a> From<&'a StoredFile> for FileView<'a> {
    fn from(f: &'a StoredFile) -> Self {
        Self {
            name: &f.name,
            sha1: &f.sha1,
            sha256: &f.sha256,
            size: f.size,
            staged: f.staged,
            uri: &f.uri,
        }
    }
}

/// The fingerprint of `u` (see the module's doc).
pub(super) fn of(u: &StoredUpdate) -> Fingerprint {
    let view = UpdateView {
        catalog: &u.catalog,
        classification: &u.classification,
        content_hash: &u.content_hash,
        created: &u.created,
        declined: u.declined,
        files: u.files.iter().map(FileView::from).collect(),
        id: &u.id,
        kb_article: &u.kb_article,
        products: &u.products,
        publication: &u.publication,
        revision: u.revision,
        severity: u.severity.as_deref(),
        supersedes: &u.supersedes,
        title: &u.title,
        update_type: &u.update_type,
        vendor: &u.vendor,
    };
    let json = serde_json::to_vec(&view).expect("stored updates serialise");
    let hex = Sha256::of(&json).to_hex();
    Fingerprint::parse(&hex.to_ascii_lowercase()).expect("hex digests are valid fingerprints")
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::store::actual::{fingerprint_of, object_json};

    /// The general path: the update as a JSON value, `superseded_by` removed.
    fn by_value(u: &StoredUpdate) -> Fingerprint {
        let mut v = object_json(u);
        v.as_object_mut().unwrap().remove("superseded_by");
        fingerprint_of(&v)
    }

    fn id(n: u8) -> UpdateId {
        UpdateId::parse(&format!("{n:08x}-0000-4000-8000-000000000000")).unwrap()
    }

    fn update() -> StoredUpdate {
        StoredUpdate {
            id: id(1),
            catalog: CatalogKey::parse("acme").unwrap(),
            revision: 3,
            content_hash: Sha256::of(b"package"),
            title: "Acme \"Tool\" 1.0 — é\n\u{1}".into(),
            vendor: Arc::from("Acme <Corp> & Co"),
            products: Arc::from(vec!["Tool".to_string(), "Tool \\ Pro".to_string()]),
            classification: Arc::from("Security Updates"),
            severity: Some(Arc::from("Critical")),
            kb_article: Some("KB123".into()),
            update_type: Arc::from("Software"),
            created: "2024-05-06T07:08:09.123456789Z".parse().unwrap(),
            publication: PublicationState::Published,
            declined: true,
            supersedes: vec![id(2), id(3)],
            superseded_by: vec![id(4)],
            files: vec![
                StoredFile {
                    name: "tool.msi".into(),
                    size: u64::MAX,
                    sha1: Sha1::of(b"tool"),
                    sha256: Some(Sha256::of(b"tool")),
                    uri: Some("https://example.test/tool.msi?a=1&b=2".into()),
                    staged: true,
                },
                StoredFile {
                    name: "readme.txt".into(),
                    size: 0,
                    sha1: Sha1::of(b"readme"),
                    sha256: None,
                    uri: None,
                    staged: false,
                },
            ],
        }
    }

    #[test]
    fn a_full_update_hashes_as_its_json_value_does() {
        let u = update();
        assert_eq!(of(&u), by_value(&u));
    }

    #[test]
    fn an_update_with_empty_and_absent_fields_hashes_as_its_json_value_does() {
        let u = StoredUpdate {
            severity: None,
            kb_article: None,
            supersedes: Vec::new(),
            superseded_by: Vec::new(),
            files: Vec::new(),
            products: Arc::from(Vec::<String>::new()),
            title: String::new(),
            publication: PublicationState::Expired,
            declined: false,
            ..update()
        };
        assert_eq!(of(&u), by_value(&u));
    }

    #[test]
    fn superseded_by_is_left_out() {
        let u = update();
        let other = StoredUpdate {
            superseded_by: vec![id(9)],
            ..update()
        };
        assert_eq!(of(&u), of(&other));
        let revised = StoredUpdate {
            revision: 4,
            ..update()
        };
        assert_ne!(of(&u), of(&revised));
    }
}
