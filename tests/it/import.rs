//! `supctl import --out DIR` round trip (issue 17): apply a scenario to the embedded store and
//! to the WSUS test double, import, plan with the imported config: no changes apart from the
//! catalog stubs the comments name. On WSUS an update another tool published becomes a
//! suspended stub, adopted: the old config, which does not list it, would now unsubscribe it.

use std::path::{Path, PathBuf};

use crate::support::e2e::*;
use crate::support::wsus::{State, WsusServer};

const PASSWORD: &str = "Correct-Horse-9";
const PASSWORD_VAR: &str = "SUPCTL_IMPORT_WSUS_PASSWORD";
const OTHER_TOOL_UPDATE: &str = "44444444-0000-4000-8000-000000000004";

fn run_env(config: &Path, args: &[&str]) -> Run {
    run_with(config, args, &[(PASSWORD_VAR, PASSWORD)])
}

fn plan_of(config: &Path) -> (i32, serde_json::Value, String) {
    let r = run_env(config, &["plan", "--json", "--detailed-exitcode"]);
    let v = serde_json::from_str(&r.stdout)
        .unwrap_or_else(|e| panic!("plan --json is not JSON ({e}):\n{}", r.all()));
    (r.code, v, r.all())
}

/// The scenario: the quickstart catalog over HTTPS with content staged from the vendor's
/// site (embedded only), a content certificate, and the update point's own sync.
fn scenario(site: &Site, wsus: Option<&WsusServer>) -> PathBuf {
    let url = site.serve_catalog("/contoso-v3.cab", &quickstart_cab());
    site.serve_content(&quickstart_content());
    let server = match wsus {
        None => String::new(),
        Some(w) => wsus_server_lines(&w.url(), PASSWORD_VAR),
    };
    let stage = if wsus.is_none() {
        "stage = [\"Contoso/Utilities\"]\nprune = true\ndescription = \"Four \\\"sample\\\" updates\""
    } else {
        "prune = true"
    };
    let body = format!(
        "{}\n{}\n[sync]\nschedule = \"every 1 day at 03:00\"\nproducts = [\"Windows 11\"]\nclassifications = [\"Security Updates\", \"Critical Updates\"]\n",
        catalog("contoso", &url, stage),
        approve_content()
    );
    let cfg = site.write("supctl", &site.config(&server, &body));
    let r = run_env(&cfg, &["apply", "--auto-approve"]);
    assert_eq!(r.code, 0, "{}", r.all());
    cfg
}

fn import(cfg: &Path, out: &Path) -> Run {
    let r = run_env(
        cfg,
        &["import", "--out", out.to_str().expect("a UTF-8 path")],
    );
    assert_eq!(r.code, 0, "{}", r.all());
    r
}

fn file(dir: &Path, name: &str) -> String {
    std::fs::read_to_string(dir.join(name))
        .unwrap_or_else(|e| panic!("{}: {e}", dir.join(name).display()))
}

#[test]
fn an_imported_embedded_store_plans_no_changes() {
    let site = Site::new();
    let cfg = scenario(&site, None);
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().join("imported");
    let r = import(&cfg, &dir);
    assert!(
        r.stdout
            .contains("Imported 1 catalog(s), 0 catalog stub(s) to fill in, 1 certificate rule(s), 4 update(s)"),
        "{}",
        r.all()
    );
    let catalog = file(&dir, "catalog-contoso.toml");
    assert!(
        catalog.contains("stage = [\"Contoso/Utilities\"]"),
        "{catalog}"
    );
    assert!(catalog.contains("prune = true"), "{catalog}");
    assert!(file(&dir, "00-server.toml").contains("[sync]"));

    let (code, plan, all) = plan_of(&dir);
    assert_eq!(
        code, 0,
        "the imported config is what the server holds:\n{all}"
    );
    assert!(actions(&plan).is_empty(), "{all}");

    // The import refuses to write over a config.
    let r = run_env(&cfg, &["import", "--out", dir.to_str().unwrap()]);
    assert_eq!(r.code, 1, "{}", r.all());
    assert!(r.stderr.contains("is not empty"), "{}", r.all());
}

#[test]
fn an_imported_wsus_plans_no_changes_and_adopts_what_another_tool_published() {
    let mut state = State::default();
    state.updates.push(crate::support::wsus::answers::Update {
        id: OTHER_TOOL_UPDATE.into(),
        revision: 3,
        title: "From another publisher".into(),
        declined: false,
        expired: false,
        sdp: Some(include_str!("../fixtures/catalog/package.sdp").into()),
    });
    let wsus = WsusServer::start(state, Some(PASSWORD));
    let site = Site::new();
    let cfg = scenario(&site, Some(&wsus));
    let out = tempfile::tempdir().unwrap();

    // Without adoption the config is written and nothing else changes.
    let look = out.path().join("look");
    let r = run_env(
        &cfg,
        &["import", "--no-adopt", "--out", look.to_str().unwrap()],
    );
    assert_eq!(r.code, 0, "{}", r.all());
    assert!(r.stdout.contains("Nothing adopted"), "{}", r.all());
    assert!(look.join("catalog-example.toml").is_file());
    let (code, old, all) = plan_of(&cfg);
    assert_eq!((code, actions(&old)), (0, vec![]), "{all}");

    let dir = out.path().join("imported");
    let r = import(&cfg, &dir);
    assert!(
        r.stdout.contains("1 catalog stub(s) to fill in"),
        "{}",
        r.all()
    );
    let stub = file(&dir, "catalog-example.toml");
    assert!(stub.contains("suspend = true"), "{stub}");
    assert!(
        stub.contains("# url = "),
        "the source is left to fill in:\n{stub}"
    );
    assert!(stub.contains("1 update(s) on the server"), "{stub}");
    let server = file(&dir, "00-server.toml");
    assert!(
        server.contains(PASSWORD_VAR) && !server.contains(PASSWORD),
        "{server}"
    );

    // The imported config plans nothing but the stub's note, which names what to fill in.
    let (code, plan, all) = plan_of(&dir);
    assert_eq!(code, 0, "{all}");
    assert!(actions(&plan).is_empty(), "{all}");
    let notes: Vec<&str> = plan["diagnostics"]
        .as_array()
        .expect("diagnostics")
        .iter()
        .filter_map(|d| d["code"].as_str())
        .collect();
    assert_eq!(notes, vec!["suspended"], "{all}");

    // Adopted: the stub is recorded and in the inventory, so the old config, which does
    // not list it, would unsubscribe it.
    let (_, old, all) = plan_of(&cfg);
    assert_eq!(
        actions(&old),
        vec!["unsubscribe catalog.example".to_string()],
        "{all}"
    );
}

/// The quickstart reads its catalog from a file named relative to its directory: imported
/// elsewhere, the same file is named from there, and neither config replaces the catalog.
#[test]
fn a_catalog_read_from_a_file_keeps_its_identity_in_both_configs() {
    let tmp = tempfile::tempdir().unwrap();
    let qs = tmp.path().join("quickstart");
    copy_dir(&repo("examples/quickstart"), &qs);
    let _ = std::fs::remove_dir_all(qs.join(".supctl"));
    let r = run_env(&qs, &["apply", "--auto-approve"]);
    assert_eq!(r.code, 0, "{}", r.all());
    let dir = tmp.path().join("imported");
    let r = import(&qs, &dir);
    assert!(
        r.stdout
            .contains("its file recorded as `../quickstart/catalog/contoso-v3.cab`"),
        "{}",
        r.all()
    );
    for cfg in [&dir, &qs] {
        let (code, plan, all) = plan_of(cfg);
        assert_eq!((code, actions(&plan)), (0, vec![]), "{all}");
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap().flatten() {
        let (src, dst) = (e.path(), to.join(e.file_name()));
        if src.is_dir() {
            copy_dir(&src, &dst);
        } else {
            std::fs::copy(&src, &dst).unwrap();
        }
    }
}
