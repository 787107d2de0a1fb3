//! `--target` (issue 13 #9): a targeted plan includes what its actions depend on (the
//! catalog before its updates, the signer's approval before a publish, the content
//! certificate before staging), rejects addresses that name nothing, and certificate
//! addresses carry their role, so one thumbprint approved as catalog signer and as content
//! certificate is two addresses.

use crate::support::cli as cli_support;

use cli_support::*;
use rusqlite::Connection;

fn workspace(stage: &str) -> (Workspace, std::path::PathBuf) {
    let ws = Workspace::new();
    let cfg = ws.config(
        "supctl",
        "state",
        &format!("{}\n{}", quickstart("contoso", stage), approve_content()),
    );
    (ws, cfg)
}

fn actions(plan: &serde_json::Value) -> Vec<String> {
    plan["actions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            format!(
                "{} {}",
                a["kind"].as_str().unwrap(),
                a["address"].as_str().unwrap()
            )
        })
        .collect()
}

fn update(id: &str) -> String {
    format!("catalog.contoso.update[{id}]")
}

#[test]
fn a_targeted_publish_brings_its_catalog_and_the_signer_approval() {
    let (ws, cfg) = workspace("");
    let target = update(TOOL_10);
    let r = run(&cfg, &["plan", "--json", "--target", &target]);
    assert_eq!(r.code, 0, "{}", r.all());
    let plan = r.json();
    assert_eq!(
        actions(&plan),
        vec![
            format!("approve certificate[{QS_SIGNER}].catalog"),
            "create catalog.contoso".to_string(),
            format!("publish {target}"),
        ],
        "{plan:#}"
    );
    let r = run(&cfg, &["apply", "--auto-approve", "--target", &target]);
    assert_eq!(r.code, 0, "{}", r.all());
    let db = Connection::open(ws.state("state").join("store.db")).unwrap();
    let count = |sql: &str| db.query_row(sql, [], |r| r.get::<_, i64>(0)).unwrap();
    assert_eq!(count("SELECT count(*) FROM updates"), 1);
    assert_eq!(
        count("SELECT count(*) FROM certificates WHERE kind = 'catalog' AND state = 'approved'"),
        1,
        "the signer was approved before the publish"
    );
    assert_eq!(
        count("SELECT count(*) FROM certificates WHERE kind = 'content'"),
        0
    );
}

#[test]
fn a_targeted_stage_brings_the_publish_and_the_content_certificate() {
    let (_ws, cfg) = workspace("stage = [\"Contoso/Utilities\"]");
    let target = update(TOOL_11);
    let r = run(&cfg, &["plan", "--json", "--target", &target]);
    assert_eq!(r.code, 0, "{}", r.all());
    let plan = r.json();
    assert_eq!(
        actions(&plan),
        vec![
            format!("approve certificate[{QS_SIGNER}].catalog"),
            format!("approve certificate[{QS_SIGNER}].content"),
            "create catalog.contoso".to_string(),
            format!("publish {target}"),
            format!("stage {target}"),
        ],
        "{plan:#}"
    );
}

#[test]
fn targets_that_name_nothing_are_rejected() {
    let (ws, cfg) = workspace("");
    let r = run(&cfg, &["plan", "--target", "lenovo"]);
    assert_eq!(r.code, 1, "{}", r.all());
    assert!(
        r.stderr.contains("catalog.lenovo"),
        "a suggestion: {}",
        r.all()
    );
    insta_settings(&ws).bind(|| {
        insta::assert_snapshot!("plan_target_not_an_address", transcript(&r));
    });
    let r = run(&cfg, &["plan", "--target", "catalog.lenovo"]);
    assert_eq!(r.code, 1, "{}", r.all());
    assert!(r.all().contains("no catalog `lenovo`"), "{}", r.all());
    let r = run(
        &cfg,
        &[
            "plan",
            "--target",
            "catalog.contoso.update[00000000-0000-0000-0000-0000000000aa]",
        ],
    );
    assert_eq!(r.code, 1, "{}", r.all());
    let r = run(
        &cfg,
        &[
            "plan",
            "--target",
            "certificate[0011223344556677889900112233445566778899]",
        ],
    );
    assert_eq!(r.code, 1, "{}", r.all());
    // The config manages neither the update point's synchronization nor its signing.
    for (target, table) in [("sync", "[sync]"), ("signing", "[signing]")] {
        let r = run(&cfg, &["plan", "--target", target]);
        assert_eq!(r.code, 1, "{target}: {}", r.all());
        assert!(r.all().contains(table), "{target}: {}", r.all());
    }
    let r = run(&cfg, &["apply", "--auto-approve", "--target", "lenovo"]);
    assert_eq!(r.code, 1, "{}", r.all());
    assert!(
        !ws.state("state").join("store.db").exists() || {
            let db = Connection::open(ws.state("state").join("store.db")).unwrap();
            db.query_row("SELECT count(*) FROM catalogs", [], |r| r.get::<_, i64>(0))
                .unwrap()
                == 0
        }
    );
}

#[test]
fn certificate_addresses_carry_their_role() {
    let (ws, cfg) = workspace("");
    let r = run(
        &cfg,
        &[
            "apply",
            "--auto-approve",
            "--target",
            &format!("certificate[{QS_SIGNER}].content"),
        ],
    );
    assert_eq!(r.code, 0, "{}", r.all());
    assert!(
        r.stderr
            .contains(&format!("certificate[{QS_SIGNER}].content: approve done")),
        "{}",
        r.all()
    );
    assert!(!r.stderr.contains(".catalog: approve done"), "{}", r.all());
    let db = Connection::open(ws.state("state").join("store.db")).unwrap();
    let kinds: Vec<String> = db
        .prepare("SELECT kind FROM certificates")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(|k| k.unwrap())
        .collect();
    assert_eq!(kinds, vec!["content".to_string()]);
    drop(db);
    // The whole certificate (both roles) is still one target.
    let r = run(
        &cfg,
        &[
            "plan",
            "--json",
            "--target",
            &format!("certificate[{QS_SIGNER}]"),
        ],
    );
    assert_eq!(r.code, 0, "{}", r.all());
    assert_eq!(
        actions(&r.json()),
        vec![format!("approve certificate[{QS_SIGNER}].catalog")]
    );
}
