//! One test per rule of the import: the written files are loaded by the real config loader.

use std::path::Path;

use chrono::Utc;

use super::*;
use crate::config::{Http, Server};
use crate::ids::{Sha1, Sha256, Thumbprint, UpdateId};
use crate::store::{CertState, Origin, SigningSettings, StoredCatalog, StoredFile, SyncSettings};

const SIGNER: &str = "6D8B3C448B990E269336BB63A47F23498C95EB7D";
const OTHER: &str = "1111111111111111111111111111111111111111";

fn key(k: &str) -> CatalogKey {
    CatalogKey::parse(k).unwrap()
}

fn update(n: u8, catalog: &str, vendor: &str, product: &str, expired: bool) -> StoredUpdate {
    StoredUpdate {
        id: UpdateId::parse(&format!("00000000-0000-4000-8000-0000000000{n:02}")).unwrap(),
        catalog: key(catalog),
        revision: 1,
        content_hash: Sha256::of(&[n]),
        title: format!("Update {n}"),
        vendor: vendor.into(),
        products: vec![product.into()].into(),
        classification: "Updates".into(),
        severity: None,
        kb_article: None,
        update_type: "Software".into(),
        created: Utc::now(),
        publication: if expired {
            PublicationState::Expired
        } else {
            PublicationState::Published
        },
        declined: false,
        supersedes: Vec::new(),
        superseded_by: Vec::new(),
        files: vec![StoredFile {
            name: "a.exe".into(),
            size: 1,
            sha1: Sha1::of(&[n]),
            sha256: None,
            uri: None,
            staged: false,
        }],
    }
}

fn catalog(k: &str, source: &str) -> StoredCatalog {
    StoredCatalog {
        settings: CatalogRecord {
            key: key(k),
            kind: CatalogKind::Custom,
            name: "Contoso Tools".into(),
            publisher: "Contoso".into(),
            source: source.into(),
            description: Some("Sample \"quoted\" description".into()),
            support_url: None,
            support_contact: Some("team@contoso.example".into()),
            subscribed: true,
            schedule: Some("every 7 days".into()),
            categories: Selection::List(vec!["Contoso/Utilities".into()]),
            staging: Selection::All,
            signers: vec![Thumbprint::parse(SIGNER).unwrap()],
            content_certificates: Vec::new(),
            prune: true,
        },
        revision: None,
    }
}

fn cert(t: &str, kind: CertKind, state: CertState) -> StoredCertificate {
    StoredCertificate {
        thumbprint: Thumbprint::parse(t).unwrap(),
        kind,
        state,
        facts: None,
    }
}

fn server(dir: &Path) -> Server {
    Server {
        path: dir.join("state"),
        password_env: Some("WSUS_PASSWORD".into()),
        ..Server::default()
    }
}

/// Writes the import into `dir/out` and loads it with the real loader.
fn load(imported: &Imported, dir: &Path) -> crate::config::Config {
    let out = dir.join("out");
    std::fs::create_dir_all(&out).unwrap();
    for f in &imported.files {
        std::fs::write(out.join(&f.name), &f.text).unwrap();
    }
    match crate::config::load(&out) {
        Ok((cfg, _)) => cfg,
        Err(d) => panic!(
            "the imported config does not load: {d:?}\n{}",
            imported
                .files
                .iter()
                .map(|f| format!("--- {}\n{}", f.name, f.text))
                .collect::<String>()
        ),
    }
}

fn import_of(actual: &ActualState, dir: &Path) -> Imported {
    let (server, http) = (server(dir), Http::default());
    import(
        actual,
        &Context {
            server: &server,
            http: &http,
            root: dir,
            out: &dir.join("out"),
        },
    )
}

#[test]
fn a_catalog_the_server_holds_is_written_with_every_setting_it_keeps() {
    let dir = tempfile::tempdir().unwrap();
    let mut actual = ActualState::default();
    actual.catalogs.insert(
        key("contoso"),
        catalog("contoso", "https://contoso.example/catalog.cab"),
    );
    actual.updates.insert(
        UpdateId::parse("00000000-0000-4000-8000-000000000001").unwrap(),
        Box::new(update(1, "contoso", "Contoso", "Tools", false)),
    );
    let imported = import_of(&actual, dir.path());
    let cfg = load(&imported, dir.path());
    let c = &cfg.catalogs["contoso"];
    assert_eq!(
        c.url.as_deref(),
        Some("https://contoso.example/catalog.cab")
    );
    assert_eq!(c.publisher.as_deref(), Some("Contoso"));
    assert_eq!(
        c.description.as_deref(),
        Some("Sample \"quoted\" description")
    );
    assert_eq!(c.schedule.to_string(), "every 7 days");
    assert!(c.prune && !c.suspend);
    assert_eq!(c.signers, vec![Thumbprint::parse(SIGNER).unwrap()]);
    assert_eq!(c.stage, crate::config::Staging::All);
    assert_eq!(
        crate::plan::diff::desired_catalog_record(&cfg, c, None).map(|r| r.categories),
        Some(Selection::List(vec!["Contoso/Utilities".into()]))
    );
    assert_eq!(cfg.server.password_env.as_deref(), Some("WSUS_PASSWORD"));
    assert_eq!(cfg.server.path, dir.path().join("state"));
    assert_eq!(imported.summary.catalogs, 1);
    assert_eq!(imported.adopt, vec![Address::catalog(&key("contoso"))]);
}

#[test]
fn updates_no_catalog_claims_become_one_suspended_stub_per_vendor() {
    let dir = tempfile::tempdir().unwrap();
    let mut actual = ActualState::default();
    for u in [
        update(1, "fabrikam", "Fabrikam", "Fabrikam Tools", false),
        update(2, "fabrikam", "Fabrikam", "Fabrikam Agent", false),
        update(3, "gone", "Gone Inc", "Old", true),
    ] {
        actual.updates.insert(u.id, Box::new(u));
    }
    let imported = import_of(&actual, dir.path());
    let cfg = load(&imported, dir.path());
    let stub = &cfg.catalogs["fabrikam"];
    assert!(stub.suspend && stub.url.is_none() && stub.path.is_none());
    assert_eq!(stub.publisher.as_deref(), Some("Fabrikam"));
    let text = &imported
        .files
        .iter()
        .find(|f| f.name == "catalog-fabrikam.toml")
        .unwrap()
        .text;
    assert!(text.contains("Fabrikam/Fabrikam Agent: 1 update"), "{text}");
    assert!(text.contains("Fabrikam/Fabrikam Tools: 1 update"), "{text}");
    assert!(!cfg.catalogs.contains_key("gone"), "all expired: no stub");
    assert_eq!(imported.summary.orphaned_expired, 1);
    assert_eq!(
        imported.stubs,
        vec![stub_record(&key("fabrikam"), "Fabrikam")]
    );
    assert_eq!(
        crate::plan::diff::desired_catalog_record(&cfg, stub, Some(&imported.stubs[0])).as_ref(),
        Some(&imported.stubs[0]),
        "the stub's TOML describes the record it is adopted with"
    );
}

#[test]
fn a_stub_without_a_source_is_refused_once_it_is_resumed() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("c.toml");
    std::fs::write(
        &f,
        "[server]\npath = \"s\"\n[catalog.x]\nkind = \"custom\"\nname = \"X\"\npublisher = \"X\"\n",
    )
    .unwrap();
    let e = crate::config::load(&f).unwrap_err();
    assert!(format!("{e:?}").contains("needs `url` or `path`"), "{e:?}");
}

#[test]
fn adoption_leaves_created_objects_and_the_servers_signing_certificate_alone() {
    let dir = tempfile::tempdir().unwrap();
    let mut actual = ActualState::default();
    actual.catalogs.insert(
        key("contoso"),
        catalog("contoso", "https://contoso.example/catalog.cab"),
    );
    actual
        .inventory
        .insert(Address::catalog(&key("contoso")), Origin::Created);
    actual.certificates = vec![
        cert(SIGNER, CertKind::Catalog, CertState::Approved),
        cert(SIGNER, CertKind::Content, CertState::Approved),
        cert(OTHER, CertKind::WsusSigning, CertState::Approved),
    ];
    let imported = import_of(&actual, dir.path());
    assert_eq!(
        imported.adopt,
        vec![Address::certificate(&Thumbprint::parse(SIGNER).unwrap())]
    );
    let cfg = load(&imported, dir.path());
    // The catalog signer is said by the catalog's `signers`; the others are rules.
    let kinds: Vec<CertKind> = cfg.certificates.iter().map(|c| c.kind).collect();
    assert_eq!(kinds, vec![CertKind::Content, CertKind::WsusSigning]);
}

#[test]
fn a_relative_path_names_the_same_file_from_the_new_directory() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("catalog")).unwrap();
    std::fs::write(dir.path().join("catalog/c.cab"), b"x").unwrap();
    let mut actual = ActualState::default();
    actual
        .catalogs
        .insert(key("contoso"), catalog("contoso", "catalog/c.cab"));
    let imported = import_of(&actual, dir.path());
    let cfg = load(&imported, dir.path());
    assert_eq!(
        cfg.catalogs["contoso"]
            .path
            .as_deref()
            .map(crate::config::normalize),
        Some(dir.path().join("catalog/c.cab"))
    );
    assert!(
        imported.files[1]
            .text
            .contains("path = \"../catalog/c.cab\"")
    );
    assert_eq!(
        imported
            .respelled
            .iter()
            .map(|r| r.source.as_str())
            .collect::<Vec<_>>(),
        vec!["../catalog/c.cab"],
        "the same file, recorded as the new config names it"
    );
    assert_eq!(
        crate::plan::diff::desired_catalog_record(&cfg, &cfg.catalogs["contoso"], None),
        imported.respelled.first().cloned()
    );
}

#[test]
fn sync_and_managed_signing_are_written_and_a_manual_certificate_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let mut actual = ActualState {
        sync: Some(SyncSettings {
            schedule: Some("every 1 day at 03:00".into()),
            products: vec!["Windows 11".into()],
            classifications: vec!["Security Updates".into()],
            languages: vec!["en".into()],
        }),
        signing: Some(SigningSettings {
            mode: SigningMode::Managed,
            certificate: None,
        }),
        ..ActualState::default()
    };
    let cfg = load(&import_of(&actual, dir.path()), dir.path());
    let sync = cfg.sync.as_ref().unwrap();
    assert_eq!(
        sync.schedule.as_ref().unwrap().to_string(),
        "every 1 day at 03:00"
    );
    assert_eq!(sync.products, vec!["Windows 11".to_string()]);
    assert_eq!(cfg.signing.as_ref().unwrap().mode, SigningMode::Managed);

    actual.signing = Some(SigningSettings {
        mode: SigningMode::Manual,
        certificate: Some(Thumbprint::parse(OTHER).unwrap()),
    });
    let imported = import_of(&actual, dir.path());
    assert!(imported.files[0].text.contains(OTHER));
    let out = dir.path().join("out");
    std::fs::remove_dir_all(&out).unwrap();
    let cfg = load(&imported, dir.path());
    assert!(cfg.signing.is_none(), "a manual certificate is a comment");
}
