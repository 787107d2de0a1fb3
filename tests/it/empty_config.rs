//! An empty config is refused, not obeyed (issue 12 D4): a config that declares no
//! `[server]` and no catalog (a 0-byte file, a bad merge) would unsubscribe every catalog
//! and delete the certificate approvals. `validate`, `plan` and `apply` refuse it unless it
//! says `empty = true` or `--allow-empty` is given; a config that keeps its `[server]` but
//! lists no catalog gets a plan naming everything it removes.

use crate::support::cli as cli_support;

use cli_support::*;
use rusqlite::Connection;

/// A workspace whose `supctl.toml` (state in `.supctl` beside it) was applied.
fn applied() -> (Workspace, std::path::PathBuf) {
    let ws = Workspace::new();
    let cfg = ws.write(
        "supctl",
        &format!("{}\n{}", quickstart("contoso", ""), approve_content()),
    );
    let r = run(&cfg, &["apply", "--auto-approve"]);
    assert_eq!(r.code, 0, "{}", r.all());
    (ws, cfg)
}

/// (subscribed catalogs, certificate roles) in the workspace's `.supctl` store.
fn store_counts(ws: &Workspace) -> (i64, i64) {
    let c = Connection::open(ws.path().join(".supctl/store.db")).unwrap();
    let q = |sql: &str| c.query_row(sql, [], |r| r.get::<_, i64>(0)).unwrap();
    (
        q("SELECT count(*) FROM catalogs WHERE subscribed = 1"),
        q("SELECT count(*) FROM certificates"),
    )
}

#[test]
fn a_zero_byte_config_is_refused_by_validate_plan_and_apply() {
    let (ws, cfg) = applied();
    assert_eq!(store_counts(&ws), (1, 2));
    std::fs::write(&cfg, "").unwrap();
    for args in [
        vec!["validate"],
        vec!["plan"],
        vec!["apply", "--auto-approve"],
    ] {
        let r = run(&cfg, &args);
        assert_eq!(r.code, 1, "{args:?}: {}", r.all());
        assert!(
            r.stderr.contains("supctl.toml:1:1") && r.stderr.contains("no [server] and no catalog"),
            "{args:?}: {}",
            r.all()
        );
    }
    assert_eq!(store_counts(&ws), (1, 2), "nothing was removed");
    insta_settings(&ws).bind(|| {
        insta::assert_snapshot!(
            "validate_empty_config",
            transcript(&run(&cfg, &["validate"]))
        );
    });
}

#[test]
fn empty_true_or_allow_empty_empties_the_server_on_purpose() {
    let (ws, cfg) = applied();
    std::fs::write(&cfg, "").unwrap();
    let r = run(&cfg, &["validate", "--allow-empty"]);
    assert_eq!(r.code, 0, "{}", r.all());
    let r = run(&cfg, &["apply", "--auto-approve", "--allow-empty"]);
    assert_eq!(r.code, 0, "{}", r.all());
    assert_eq!(store_counts(&ws), (0, 0));

    let (ws, cfg) = applied();
    std::fs::write(&cfg, "# retiring this update point\nempty = true\n").unwrap();
    let r = run(&cfg, &["validate"]);
    assert_eq!(r.code, 0, "{}", r.all());
    let r = run(&cfg, &["apply", "--auto-approve"]);
    assert_eq!(r.code, 0, "{}", r.all());
    assert_eq!(store_counts(&ws), (0, 0));
}

#[test]
fn a_config_without_catalogs_names_what_the_plan_removes() {
    let (ws, cfg) = applied();
    std::fs::write(&cfg, "[server]\npath = \".supctl\"\n").unwrap();
    let r = run(&cfg, &["plan"]);
    assert_eq!(r.code, 0, "{}", r.all());
    let json = run(&cfg, &["plan", "--json"]).json();
    let d: Vec<&serde_json::Value> = json["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["code"] == "config-declares-no-catalog")
        .collect();
    assert_eq!(d.len(), 1, "{json:#}");
    let m = d[0]["message"].as_str().unwrap();
    assert!(
        m.contains("catalog.contoso") && m.contains("2 certificate approvals"),
        "{m}"
    );
    insta_settings(&ws).bind(|| {
        insta::assert_snapshot!("plan_config_without_catalogs", transcript(&r));
    });
}
