//! Planner tests against the in-memory backend: a desired state, catalogs as acquisition
//! left them, and the backend's snapshot; apply then re-plan to prove convergence.

use std::collections::BTreeMap;

use chrono::{TimeZone, Utc};

use crate::apply::{self, ApplyOptions, ContentContext};
use crate::catalog::acquire::{Acquired, Acquisition};
use crate::catalog::model::*;
use crate::config::{self, Config};
use crate::ids::{CategoryId, Sha1, UpdateId};
use crate::plan::diff::{Inputs, diff};
use crate::plan::model::{ActionKind, Plan};
use crate::store::{Capabilities, Store};
use crate::trust::{SignatureReport, SignatureStatus};

const ROOT: &str = "10000000-0000-0000-0000-000000000000";
const TOOLS: &str = "20000000-0000-0000-0000-000000000000";
const BIOS: &str = "30000000-0000-0000-0000-000000000000";

pub(super) fn uid(n: u32) -> UpdateId {
    UpdateId::parse(&format!("{n:08x}-0000-0000-0000-000000000001")).unwrap()
}

pub(super) fn update(n: u32, version: &str) -> UpdateRecord {
    UpdateRecord {
        id: uid(n),
        schema_version: "1.2".into(),
        created: Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap(),
        created_raw: "2026-01-01T00:00:00Z".into(),
        vendor: "Acme".into(),
        products: vec!["Widgets".into()].into(),
        publication_state: PublicationState::Published,
        update_type: "Software".into(),
        localized: vec![Localized {
            language: "en".into(),
            title: format!("Acme Update {n} {version}"),
            description: "d".into(),
        }],
        classification: "Updates".into(),
        severity: None,
        kb_article: None,
        bulletin: None,
        cves: vec![],
        superseded: vec![],
        items: vec![InstallableItem {
            uninstallable: false,
            id: uid(1000 + n),
            installer: Installer::CommandLine {
                program: "setup.exe".into(),
                arguments: None,
            },
            files: vec![OriginFile {
                name: format!("u{n}.exe"),
                size: 1000 + u64::from(n),
                sha1: Sha1::of(format!("{n}{version}").as_bytes()),
                sha256: None,
                uri: None,
                modified: "2026-01-01T00:00:00Z".into(),
            }],
        }],
        raw_xml: format!("<sdp:SoftwareDistributionPackage id=\"{n}\" v=\"{version}\"/>"),
        raw_hash: None,
        namespaces: Default::default(),
    }
}

fn category(id: &str, name: &str, parent: Option<&str>, path: &str, members: &[u32]) -> Category {
    Category {
        id: CategoryId::parse(id).unwrap(),
        display_name: name.into(),
        parent: parent.map(|p| CategoryId::parse(p).unwrap()),
        members: members.iter().map(|n| uid(*n)).collect(),
        path: path.into(),
    }
}

pub(super) fn content(updates: Vec<UpdateRecord>, format: FormatVersion) -> CatalogContent {
    CatalogContent {
        format,
        updates: updates.into_iter().map(std::sync::Arc::new).collect(),
        categories: vec![
            category(ROOT, "Acme", None, "Acme", &[1, 2, 3]),
            category(TOOLS, "Tools", Some(ROOT), "Acme/Tools", &[1, 2]),
            category(BIOS, "BIOS", Some(ROOT), "Acme/BIOS", &[3]),
        ],
        content_certificates: vec![],
        duplicates: vec![],
    }
}

pub(super) fn trusted(c: CatalogContent) -> BTreeMap<String, Acquired> {
    let report = SignatureReport {
        status: SignatureStatus::Valid,
        reason: None,
        signers: vec![],
    };
    let acquired = Acquired {
        key: "acme".into(),
        source: "acme.cab".into(),
        cab_bytes: None,
        cab_sha256: None,
        etag: None,
        from_summary: false,
        acquisition: Acquisition::Trusted { content: c, report },
    };
    BTreeMap::from([("acme".to_string(), acquired)])
}

pub(super) fn config(extra: &str) -> Config {
    let d = tempfile::tempdir().unwrap();
    let f = d.path().join("supctl.toml");
    // A `path` source must exist to load; the catalog itself comes from `acquired`.
    std::fs::write(d.path().join("acme.cab"), b"MSCF").unwrap();
    std::fs::write(
        &f,
        format!(
            "[catalog.acme]\nname = \"Acme\"\npublisher = \"Acme\"\npath = \"acme.cab\"\n{extra}"
        ),
    )
    .unwrap();
    config::load(&f).unwrap().0
}

pub(super) fn plan(b: &Store, cfg: &Config, catalogs: &BTreeMap<String, Acquired>) -> Plan {
    let actual = b.snapshot().unwrap();
    diff(&Inputs {
        desired: cfg,
        catalogs,
        actual: &actual,
        capabilities: b.capabilities(),
        backend: b.name(),
        now: chrono::Utc::now(),
        signing: None,
    })
}

pub(super) fn count(p: &Plan, kind: ActionKind) -> usize {
    p.actions.iter().filter(|a| a.kind == kind).count()
}

pub(super) fn run(b: &Store, p: &Plan) {
    let report = run_reading(b, p, None);
    assert!(report.succeeded(), "{report:?}");
}

/// Applies `p`, reading the packages it refers to from `packages`.
pub(super) fn run_reading(
    b: &Store,
    p: &Plan,
    packages: Option<&dyn apply::Packages>,
) -> apply::Report {
    let ctx = ContentContext {
        packages,
        fetcher: None,
        sources: BTreeMap::new(),
        now: Utc::now(),
    };
    let opts = ApplyOptions {
        resume: false,
        max_deletions: 50,
        concurrency: 1,
        progress: crate::apply::Progress::Quiet,
        cancel: None,
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(apply::run(p, b, &ctx, &opts)).unwrap()
}

#[test]
fn new_catalog_publishes_everything_then_converges() {
    let b = Store::memory().unwrap();
    let cfg = config("");
    let cats = trusted(content(
        vec![update(1, "1.0"), update(2, "1.0"), update(3, "1.0")],
        FormatVersion::V3,
    ));
    let p = plan(&b, &cfg, &cats);
    assert_eq!((p.summary.add, p.summary.updates.publish), (1, 3));
    assert_eq!(count(&p, ActionKind::Stage), 0, "metadata only by default");
    run(&b, &p);
    let again = plan(&b, &cfg, &cats);
    assert!(!again.changes, "{:?}", again.actions);
}

#[test]
fn changed_packages_are_revised_and_departed_ones_expired() {
    let b = Store::memory().unwrap();
    let cfg = config("");
    run(
        &b,
        &plan(
            &b,
            &cfg,
            &trusted(content(
                vec![update(1, "1.0"), update(2, "1.0"), update(3, "1.0")],
                FormatVersion::V3,
            )),
        ),
    );
    let next = trusted(content(
        vec![update(1, "1.1"), update(2, "1.0")],
        FormatVersion::V3,
    ));
    let p = plan(&b, &cfg, &next);
    assert_eq!(count(&p, ActionKind::Revise), 1);
    assert_eq!(count(&p, ActionKind::Expire), 1);
    let expire = p
        .actions
        .iter()
        .find(|a| a.kind == ActionKind::Expire)
        .unwrap();
    assert!(expire.reason.contains("no longer in the catalog"));
    run(&b, &p);
    let snap = b.snapshot().unwrap();
    assert_eq!(snap.updates[&uid(1)].revision, 2);
    assert!(!plan(&b, &cfg, &next).changes);
}

#[test]
fn category_selection_publishes_only_its_members_and_stages_by_category() {
    let b = Store::memory().unwrap();
    let cfg = config("categories = [\"Acme/Tools\"]\nstage = [\"Acme/Tools\"]\n");
    let cats = trusted(content(
        vec![update(1, "1.0"), update(2, "1.0"), update(3, "1.0")],
        FormatVersion::V3,
    ));
    let p = plan(&b, &cfg, &cats);
    assert_eq!(p.summary.updates.publish, 2);
    assert_eq!(p.summary.updates.stage, 2);
    assert_eq!(p.summary.updates.stage_bytes, 1001 + 1002);
    let by_guid = config(&format!("categories = [\"{BIOS}\"]\n"));
    assert_eq!(plan(&b, &by_guid, &cats).summary.updates.publish, 1);
}

#[test]
fn unknown_or_unsupported_category_selection_is_an_error_without_update_actions() {
    let b = Store::memory().unwrap();
    let cats = trusted(content(vec![update(1, "1.0")], FormatVersion::V3));
    let p = plan(&b, &config("categories = [\"Acme/Drivers\"]\n"), &cats);
    assert_eq!(p.summary.updates.publish, 0);
    assert!(
        p.diagnostics
            .iter()
            .any(|d| d.code == "category-unresolved")
    );
    let v2 = trusted(content(vec![update(1, "1.0")], FormatVersion::V2));
    let p = plan(&b, &config("categories = [\"Acme/Tools\"]\n"), &v2);
    assert!(
        p.diagnostics
            .iter()
            .any(|d| d.code == "category-selection-unavailable")
    );
    assert_eq!(p.summary.updates.publish, 0);
}

#[test]
fn untrusted_catalogs_get_11508_and_no_update_actions() {
    let b = Store::memory().unwrap();
    let report = SignatureReport {
        status: SignatureStatus::Valid,
        reason: None,
        signers: vec![],
    };
    let cats = BTreeMap::from([(
        "acme".to_string(),
        Acquired {
            key: "acme".into(),
            source: "acme.cab".into(),
            cab_bytes: None,
            cab_sha256: None,
            etag: None,
            from_summary: false,
            acquisition: Acquisition::Unsigned,
        },
    )]);
    let p = plan(&b, &config(""), &cats);
    assert!(p.diagnostics.iter().any(|d| d.code == "11508"));
    assert_eq!(p.summary.updates.publish, 0);
    let cats = BTreeMap::from([(
        "acme".to_string(),
        Acquired {
            key: "acme".into(),
            source: "acme.cab".into(),
            cab_bytes: None,
            cab_sha256: None,
            etag: None,
            from_summary: false,
            acquisition: Acquisition::Untrusted { report },
        },
    )]);
    assert_eq!(plan(&b, &config(""), &cats).summary.updates.publish, 0);
}

#[test]
fn publish_rules_stage_matching_updates_and_backends_without_staging_say_so() {
    let b = Store::memory().unwrap();
    let cfg = config("[[publish]]\ncatalog = \"acme\"\ntitle = \"Update 3\"\n");
    let cats = trusted(content(
        vec![update(1, "1.0"), update(3, "1.0")],
        FormatVersion::V3,
    ));
    let actual = b.snapshot().unwrap();
    let caps = Capabilities {
        content_staging: false,
        ..Capabilities::ALL
    };
    let p = diff(&Inputs {
        desired: &cfg,
        catalogs: &cats,
        actual: &actual,
        capabilities: caps,
        backend: "wsus",
        now: chrono::Utc::now(),
        signing: None,
    });
    let stage: Vec<_> = p
        .actions
        .iter()
        .filter(|a| a.kind == ActionKind::Stage)
        .collect();
    assert_eq!(stage.len(), 1);
    assert!(stage[0].address.as_str().contains(&*uid(3).as_str()));
    assert_eq!(
        stage[0].unsupported.as_deref(),
        Some("content staging is not supported by backend wsus")
    );
}

#[test]
fn removed_catalogs_unsubscribe_or_with_prune_expire() {
    for (prune, expect) in [(false, ActionKind::Unsubscribe), (true, ActionKind::Delete)] {
        let b = Store::memory().unwrap();
        let cfg = config(if prune { "prune = true\n" } else { "" });
        run(
            &b,
            &plan(
                &b,
                &cfg,
                &trusted(content(
                    vec![update(1, "1.0"), update(2, "1.0")],
                    FormatVersion::V3,
                )),
            ),
        );
        let mut empty = cfg.clone();
        empty.catalogs.clear();
        let p = plan(&b, &empty, &BTreeMap::new());
        assert_eq!(count(&p, expect), 1, "prune = {prune}: {:?}", p.actions);
        assert_eq!(p.summary.updates.expire, if prune { 2 } else { 0 });
        run(&b, &p);
        assert!(!plan(&b, &empty, &BTreeMap::new()).changes);
    }
}
