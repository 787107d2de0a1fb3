//! Saved plans are bound to the server they were made for (issue 13 #1): a plan records the
//! server's identity (the embedded store's id, created with the store) and its config root;
//! `apply PLANFILE` needs no `-c`, refuses a plan made for another server by name, and
//! refuses a plan file whose checksum does not match its content.

use crate::support::cli as cli_support;

use cli_support::*;
use rusqlite::Connection;

/// Two configs over two state directories, the same catalog in both.
fn two_servers(ws: &Workspace) -> (std::path::PathBuf, std::path::PathBuf) {
    let body = format!("{}\n{}", quickstart("contoso", ""), approve_content());
    (
        ws.config("a", "state-a", &body),
        ws.config("b", "state-b", &body),
    )
}

fn catalogs_in(ws: &Workspace, state: &str) -> usize {
    let db = ws.state(state).join("store.db");
    if !db.exists() {
        return 0;
    }
    Connection::open(db)
        .unwrap()
        .query_row("SELECT count(*) FROM catalogs", [], |r| r.get::<_, i64>(0))
        .unwrap() as usize
}

#[test]
fn a_plan_made_for_one_server_is_refused_by_another_by_name() {
    let ws = Workspace::new();
    let (a, b) = two_servers(&ws);
    // B's store exists and is in use.
    assert_eq!(run(&b, &["plan"]).code, 0);
    let planfile = ws.path().join("a.plan");
    let r = run(&a, &["plan", "-o", planfile.to_str().unwrap()]);
    assert_eq!(r.code, 0, "{}", r.all());

    let r = run(&b, &["apply", planfile.to_str().unwrap()]);
    assert_eq!(r.code, 1, "{}", r.all());
    assert_eq!(catalogs_in(&ws, "state-b"), 0, "nothing applied to B");
    assert_eq!(catalogs_in(&ws, "state-a"), 0, "nor to A");
    let state_a = ws.state("state-a").display().to_string();
    let state_b = ws.state("state-b").display().to_string();
    assert!(
        r.stderr.contains(&state_a) && r.stderr.contains(&state_b),
        "{}",
        r.all()
    );
    insta_settings(&ws).bind(|| {
        insta::assert_snapshot!("apply_plan_for_another_server", transcript(&r));
    });

    // The plan's own server accepts it.
    let r = run(&a, &["apply", planfile.to_str().unwrap()]);
    assert_eq!(r.code, 0, "{}", r.all());
    assert_eq!(catalogs_in(&ws, "state-a"), 1);
}

#[test]
fn apply_planfile_without_c_uses_the_config_the_plan_records() {
    let ws = Workspace::new();
    let (a, _) = two_servers(&ws);
    let planfile = ws.path().join("a.plan");
    assert_eq!(run(&a, &["plan", "-o", planfile.to_str().unwrap()]).code, 0);
    // Run from another directory, where no supctl.toml is.
    let elsewhere = tempfile::tempdir().unwrap();
    let r = supctl_in(elsewhere.path(), &["apply", planfile.to_str().unwrap()]);
    assert_eq!(r.code, 0, "{}", r.all());
    assert!(r.stdout.contains("Apply complete"), "{}", r.all());
    assert_eq!(catalogs_in(&ws, "state-a"), 1);

    // A config directory is recorded as the directory, not its first file.
    let dir = ws.path().join("gitops");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("00-server.toml"),
        format!(
            "[server]\npath = {:?}\n",
            ws.state("state-c").display().to_string()
        ),
    )
    .unwrap();
    std::fs::write(
        dir.join("10-contoso.toml"),
        format!("{}\n{}", quickstart("contoso", ""), approve_content()),
    )
    .unwrap();
    let planfile = ws.path().join("c.plan");
    let r = supctl_in(
        ws.path(),
        &[
            "plan",
            "-c",
            dir.to_str().unwrap(),
            "-o",
            planfile.to_str().unwrap(),
        ],
    );
    assert_eq!(r.code, 0, "{}", r.all());
    let saved: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&planfile).unwrap()).unwrap();
    assert_eq!(saved["config"], dir.display().to_string(), "{saved:#}");
    assert_eq!(saved["server"]["backend"], "local", "{saved:#}");
    let r = supctl_in(elsewhere.path(), &["apply", planfile.to_str().unwrap()]);
    assert_eq!(r.code, 0, "{}", r.all());
    assert_eq!(catalogs_in(&ws, "state-c"), 1);
}

#[test]
fn a_modified_plan_file_is_refused() {
    let ws = Workspace::new();
    let (a, _) = two_servers(&ws);
    let planfile = ws.path().join("a.plan");
    assert_eq!(run(&a, &["plan", "-o", planfile.to_str().unwrap()]).code, 0);
    let text = std::fs::read_to_string(&planfile).unwrap();
    assert!(text.contains("\"checksum\":\"sha256:"), "{text}");
    // Someone edits the reviewed plan: every 7 days becomes every 1 hour.
    let edited = text.replace("every 7 days", "every 1 hours");
    assert_ne!(edited, text);
    std::fs::write(&planfile, edited).unwrap();
    for args in [vec!["apply"], vec!["show"]] {
        let mut args = args.clone();
        args.push(planfile.to_str().unwrap());
        let r = supctl_in(ws.path(), &args);
        assert_eq!(r.code, 1, "{args:?}: {}", r.all());
        assert!(r.stderr.contains("checksum"), "{}", r.all());
    }
    assert_eq!(catalogs_in(&ws, "state-a"), 0);
    insta_settings(&ws).bind(|| {
        insta::assert_snapshot!(
            "apply_modified_plan",
            transcript(&supctl_in(
                ws.path(),
                &["apply", planfile.to_str().unwrap()]
            ))
        );
    });
}

/// A store made before stores had an id gets one when first opened, and keeps it.
#[test]
fn an_existing_store_gets_an_id_on_first_open() {
    let ws = Workspace::new();
    let (a, _) = two_servers(&ws);
    assert_eq!(run(&a, &["apply", "--auto-approve"]).code, 0);
    let db = ws.state("state-a").join("store.db");
    let id_of = || -> String {
        Connection::open(&db)
            .unwrap()
            .query_row("SELECT id FROM store_identity", [], |r| r.get(0))
            .unwrap()
    };
    let first = id_of();
    assert_eq!(first.len(), 32, "{first}");
    // Back to the schema of a release before stores had an id: no identity table (nor the
    // later catalog revisions table, approvals, or snapshot token and its triggers).
    let old = Connection::open(&db).unwrap();
    crate::support::store::undo_schemas_13_and_14(&old);
    old.execute_batch(&format!(
        "DROP TABLE store_identity; DROP TABLE catalog_revisions; DROP TABLE approvals; DROP TABLE target_groups; ALTER TABLE revisions DROP COLUMN raw_deflate; PRAGMA user_version = {};",
        6
    ))
    .unwrap();
    drop(old);
    let planfile = ws.path().join("a.plan");
    let r = run(&a, &["plan", "-o", planfile.to_str().unwrap()]);
    assert_eq!(r.code, 0, "{}", r.all());
    let new = id_of();
    assert_ne!(new, first, "a fresh id");
    let saved: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&planfile).unwrap()).unwrap();
    assert_eq!(saved["server"]["id"], new.as_str(), "{saved:#}");
    assert_eq!(run(&a, &["plan"]).code, 0);
    assert_eq!(id_of(), new, "and keeps it");
}

use crate::support::wsus as wsus_support;

/// On a WSUS the identity is the server's own `ServerId`: a plan made for one WSUS is
/// refused by another even when both configs share the bookkeeping directory.
#[test]
fn a_plan_for_one_wsus_is_refused_by_another() {
    const VAR: &str = "SUPCTL_BINDING_WSUS_PASSWORD";
    let ws = Workspace::new();
    let first = wsus_support::WsusServer::start(wsus_support::State::default(), Some("pw"));
    let mut other_state = wsus_support::State::default();
    for (k, v) in other_state.configuration.iter_mut() {
        if k == "ServerId" {
            *v = Some("0d6f3c1e-2222-4a4a-9b9b-00000000beef".into());
        }
    }
    let second = wsus_support::WsusServer::start(other_state, Some("pw"));
    let config = |name: &str, url: &str| {
        ws.write(
            name,
            &format!(
                "[server]\nbackend = \"wsus\"\nurl = {url:?}\nusername = \"CORP\\\\svc\"\npassword_env = \"{VAR}\"\npath = {:?}\n\n{}",
                ws.state("book").display().to_string(),
                catalog("contoso", &quickstart_cab(), "")
            ),
        )
    };
    let a = config("a", &first.url());
    let b = config("b", &second.url());
    let planfile = ws.path().join("a.plan");
    let with_password = |cfg: &std::path::Path, args: &[&str]| {
        let mut c = command(ws.path(), args);
        c.arg("-c").arg(cfg).env(VAR, "pw");
        let out = c.output().unwrap();
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    };
    let r = with_password(&a, &["plan", "-o", planfile.to_str().unwrap()]);
    assert_eq!(r.code, 0, "{}", r.all());
    let saved: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&planfile).unwrap()).unwrap();
    assert_eq!(saved["server"]["backend"], "wsus");
    assert_eq!(
        saved["server"]["id"],
        "6bfa4bd4-7c5a-4e0d-9b8f-1f2e3d4c5b6a"
    );
    let r = with_password(&b, &["apply", planfile.to_str().unwrap()]);
    assert_eq!(r.code, 1, "{}", r.all());
    assert!(
        r.stderr
            .contains("the WSUS server 6bfa4bd4-7c5a-4e0d-9b8f-1f2e3d4c5b6a at")
            && r.stderr
                .contains("not for the WSUS server 0d6f3c1e-2222-4a4a-9b9b-00000000beef"),
        "{}",
        r.all()
    );
    let r = with_password(&a, &["apply", planfile.to_str().unwrap()]);
    assert_eq!(r.code, 0, "{}", r.all());
}
