//! supctl's `WsusServer` through the `Store` against the WSUS test double: settings writes
//! guarded by the rows' change tokens, languages, the signing certificate, declines, and
//! updates published by someone else adopted rather than duplicated.

use crate::support::wsus as wsus_support;

use supctl::ids::{Sha1, Thumbprint, UpdateId};
use supctl::store::db::OpenOptions;
use supctl::store::{Change, SigningMode, SigningSettings, Store, StoreLocation, SyncSettings};
use wsus_support::calls::endpoint;
use wsus_support::{State, WsusServer};

const PASSWORD: &str = "Backend-Pass-1";
/// The update the test double holds from the start, published by another tool.
const FOREIGN: &str = "1f2e3d4c-0000-4000-8000-00000000abcd";

fn connect(server: &WsusServer, dir: &std::path::Path) -> Store {
    Store::wsus(
        endpoint(server.url(), PASSWORD),
        "CORP\\svc-supctl".into(),
        &StoreLocation::new(dir),
        OpenOptions::write(),
    )
    .unwrap()
}

fn sync(schedule: &str, languages: &[&str]) -> SyncSettings {
    SyncSettings {
        schedule: Some(schedule.into()),
        products: vec!["Windows 11".into()],
        classifications: vec!["Critical Updates".into()],
        languages: languages.iter().map(|l| l.to_string()).collect(),
    }
}

#[test]
fn a_console_change_after_the_snapshot_refuses_the_settings_write() {
    let server = WsusServer::start(State::default(), Some(PASSWORD));
    let dir = tempfile::tempdir().unwrap();
    let backend = connect(&server, dir.path());
    backend.snapshot().unwrap();
    server.state().change_number += 1; // an admin saved the Options page meanwhile
    let e = backend
        .apply(Change::SetSyncSettings(sync("every 1 day at 05:00", &[])))
        .unwrap_err();
    let text = e.to_string();
    assert!(
        text.contains("changed on the server since it was read")
            && text.contains("configurationChangeNumber"),
        "{text}"
    );
    assert!(server.writes().is_empty(), "{:?}", server.writes());

    // A new plan reads the new rows; the write then goes through, once.
    backend.snapshot().unwrap();
    let applied = backend
        .apply(Change::SetSyncSettings(sync("every 1 day at 05:00", &[])))
        .unwrap();
    assert!(applied.changed);
    assert_eq!(server.state().time_of_day, 5 * 3600);
    let again = backend
        .apply(Change::SetSyncSettings(sync("every 1 day at 05:00", &[])))
        .unwrap();
    assert!(!again.changed, "repeating is harmless");
    assert_eq!(server.writes(), ["SetSubscription"]);
    let snap = backend.snapshot().unwrap();
    assert_eq!(snap.sync, Some(sync("every 1 day at 05:00", &[])));
    assert!(server.violations().is_empty(), "{:?}", server.violations());
}

#[test]
fn languages_go_through_the_configuration_row() {
    let server = WsusServer::start(State::default(), Some(PASSWORD));
    let dir = tempfile::tempdir().unwrap();
    let backend = connect(&server, dir.path());
    let before = server.state().change_number;
    backend
        .apply(Change::SetSyncSettings(sync(
            "every 12 hours",
            &["en", "de"],
        )))
        .unwrap();
    let state = server.state();
    let enabled: Vec<&str> = state
        .languages
        .iter()
        .filter(|(_, on)| *on)
        .map(|(l, _)| l.as_str())
        .collect();
    assert_eq!(enabled, ["en", "de"]);
    assert_eq!(state.change_number, before + 1);
    assert!(!state.server_supports_all_languages);
    assert_eq!(state.per_day, 2);
    drop(state);
    assert!(server.violations().is_empty(), "{:?}", server.violations());

    // A schedule WSUS cannot express is refused before anything is written.
    let writes = server.writes().len();
    let e = backend
        .apply(Change::SetSyncSettings(sync("every 7 days", &[])))
        .unwrap_err();
    assert!(e.to_string().contains("every 7 days"), "{e}");
    assert_eq!(server.writes().len(), writes);
}

#[test]
fn managed_signing_has_the_server_create_its_certificate_once() {
    let server = WsusServer::start(State::default(), Some(PASSWORD));
    let dir = tempfile::tempdir().unwrap();
    let backend = connect(&server, dir.path());
    assert_eq!(backend.snapshot().unwrap().signing, None);
    let managed = SigningSettings {
        mode: SigningMode::Managed,
        certificate: None,
    };
    assert!(
        backend
            .apply(Change::SetSigning {
                settings: managed.clone(),
                install: None,
            })
            .unwrap()
            .changed
    );
    let der = server.state().signing_certificate.clone().unwrap();
    let signing = backend.snapshot().unwrap().signing.unwrap();
    assert_eq!(signing.mode, SigningMode::Managed);
    assert_eq!(signing.certificate, Some(Thumbprint::from(&Sha1::of(&der))));
    assert!(
        !backend
            .apply(Change::SetSigning {
                settings: managed,
                install: None,
            })
            .unwrap()
            .changed
    );
    assert_eq!(server.writes(), ["ExecuteSetSelfSigningCertificate"]);
}

#[test]
fn foreign_updates_are_read_from_their_sdp_and_can_be_declined() {
    let server = WsusServer::start(State::default(), Some(PASSWORD));
    let dir = tempfile::tempdir().unwrap();
    let backend = connect(&server, dir.path());
    let id = UpdateId::parse(FOREIGN).unwrap();
    // The double's SDP for it is a bare element, not a readable package: not adopted.
    assert!(!backend.snapshot().unwrap().updates.contains_key(&id));

    assert!(
        backend
            .apply(Change::SetDeclined {
                ids: vec![id],
                declined: true,
            })
            .unwrap()
            .changed
    );
    assert!(server.state().updates[0].declined);
    assert!(
        backend
            .apply(Change::SetDeclined {
                ids: vec![id],
                declined: false,
            })
            .unwrap()
            .changed
    );
    assert!(!server.state().updates[0].declined);
    assert_eq!(
        server.writes(),
        ["ExecuteSPDeclineUpdate", "ExecuteSPDeployUpdate1"]
    );
    assert!(server.violations().is_empty(), "{:?}", server.violations());
}

#[test]
fn content_staging_is_refused_as_unsupported() {
    let server = WsusServer::start(State::default(), Some(PASSWORD));
    let dir = tempfile::tempdir().unwrap();
    let backend = connect(&server, dir.path());
    assert!(!backend.capabilities().content_staging);
    assert!(backend.capabilities().upstream_sync);
    let tmp = backend.staging_dir().unwrap().join("x.part");
    std::fs::create_dir_all(tmp.parent().unwrap()).unwrap();
    std::fs::write(&tmp, b"x").unwrap();
    let e = backend
        .apply(Change::StageContent(supctl::store::StageRequest {
            update: UpdateId::parse(FOREIGN).unwrap(),
            sha1: Sha1::of(b"x"),
            sha256: supctl::ids::Sha256::of(b"x"),
            temp_path: tmp.clone(),
            ext: "exe".into(),
        }))
        .unwrap_err();
    assert!(
        e.to_string().contains("not supported by backend wsus"),
        "{e}"
    );
    assert!(!tmp.exists(), "the staged download is not left behind");
}

#[test]
fn an_update_published_by_another_tool_is_adopted_from_its_sdp() {
    let mut state = State::default();
    state.updates.push(wsus_support::answers::Update {
        id: "44444444-0000-4000-8000-000000000004".into(),
        revision: 3,
        title: "From another publisher".into(),
        declined: false,
        expired: false,
        sdp: Some(include_str!("../fixtures/catalog/package.sdp").into()),
    });
    let server = WsusServer::start(state, Some(PASSWORD));
    let dir = tempfile::tempdir().unwrap();
    let backend = connect(&server, dir.path());
    let id = UpdateId::parse("44444444-0000-4000-8000-000000000004").unwrap();
    let snap = backend.snapshot().unwrap();
    let u = snap.updates.get(&id).expect("adopted from the stored SDP");
    assert_eq!(u.revision, 3);
    assert_eq!(
        u.catalog.as_str(),
        "example",
        "keyed by its vendor until a catalog claims it"
    );
    assert!(!u.files.is_empty() && u.files.iter().all(|f| !f.staged));

    // Once a catalog of that publisher is subscribed, the update is that catalog's.
    backend
        .apply(Change::UpsertCatalog(supctl::store::CatalogRecord {
            key: supctl::store::CatalogKey::parse("vendor-x").unwrap(),
            kind: supctl::store::CatalogKind::Custom,
            name: "Vendor X".into(),
            publisher: "example".into(),
            source: "https://example.invalid/x.cab".into(),
            description: None,
            support_url: None,
            support_contact: None,
            subscribed: true,
            schedule: None,
            categories: supctl::store::Selection::All,
            staging: supctl::store::Selection::None,
            signers: Vec::new(),
            content_certificates: Vec::new(),
            prune: false,
        }))
        .unwrap();
    let snap = backend.snapshot().unwrap();
    assert_eq!(snap.updates[&id].catalog.as_str(), "vendor-x");
    assert!(
        server.writes().is_empty(),
        "reading and bookkeeping write nothing to WSUS"
    );
}
