//! `[[approve]]` through the real binary on the embedded server (issue 18): three rings, the
//! groups created, staged updates approved with a deadline, the metadata-only one named,
//! the last ring waiting for `after`; a second plan is empty.

use crate::support::cli::*;

const RINGS: &str = r#"
[[approve]]
groups = ["Ring 0 - IT"]
create_groups = true
catalog = "contoso"

[[approve]]
groups = ["Ring 1 - Pilot"]
create_groups = true
after = "3 days"
deadline = "7 days"

[[approve]]
groups = ["Ring 2 - Everyone"]
create_groups = true
after = "3650 days"
deadline = "14 days"
"#;

#[test]
fn three_rings_are_planned_applied_and_converge() {
    let ws = Workspace::new();
    let body = format!(
        "{}\n{}\n{RINGS}",
        quickstart("contoso", "stage = [\"Contoso/Utilities\"]"),
        approve_content()
    );
    let cfg = ws.config("supctl", "state", &body);
    let r = run(&cfg, &["apply", "--auto-approve"]);
    assert_eq!(r.code, 0, "{}", r.all());
    // The first apply stages content, then approves it: both rings that are due.
    let list = run(
        &cfg,
        &["updates", "list", "--json", "--state", "deployable"],
    )
    .json();
    let deployable = list.as_array().unwrap().len();
    assert!(deployable > 0, "{list}");
    let plan = run(&cfg, &["plan", "--json", "--detailed-exitcode"]);
    assert_eq!(plan.code, 0, "{}", plan.all());
    let v = plan.json();
    let codes: Vec<&str> = v["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|d| d["code"].as_str())
        .collect();
    assert!(codes.contains(&"approval-needs-content"), "{codes:?}");
    assert!(codes.contains(&"approval-waiting"), "{codes:?}");

    // What the first apply did, as a saved plan on a fresh state would show it.
    let fresh = ws.config("fresh", "fresh-state", &body);
    let v = run(&fresh, &["plan", "--json"]).json();
    let actions: Vec<String> = v["actions"]
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
        .collect();
    let groups: Vec<&String> = actions.iter().filter(|a| a.contains(" group[")).collect();
    assert_eq!(groups.len(), 3, "{actions:#?}");
    assert!(
        actions
            .iter()
            .any(|a| a.starts_with("create group[Ring%201%20-%20Pilot]")),
        "{actions:#?}"
    );
    // On a fresh server nothing is staged yet when the plan is made: approvals follow the
    // staging in the same plan.
    let approvals = actions.iter().filter(|a| a.contains(".approval[")).count();
    assert_eq!(approvals, 2 * deployable, "{actions:#?}");
    let last_stage = actions
        .iter()
        .rposition(|a| a.starts_with("stage "))
        .unwrap();
    let first_approval = actions
        .iter()
        .position(|a| a.contains(".approval["))
        .unwrap();
    assert!(last_stage < first_approval, "{actions:#?}");
}

#[test]
fn a_missing_group_is_an_error_naming_it() {
    let ws = Workspace::new();
    let body = format!(
        "{}\n{}\n[[approve]]\ngroups = [\"Pilot\"]\n",
        quickstart("contoso", ""),
        approve_content()
    );
    let cfg = ws.config("supctl", "state", &body);
    let r = run(&cfg, &["plan"]);
    assert_eq!(r.code, 1, "{}", r.all());
    assert!(r.all().contains("computer group `Pilot`"), "{}", r.all());
    assert!(r.all().contains("create_groups = true"), "{}", r.all());
}

/// On the WSUS double: the group is created with `ExecuteSPCreateTargetGroup1`, metadata-only
/// updates (all of them: this backend stages no content) are named instead of approved, and
/// an approval made in the console for a group a rule names is removed
/// (`ExecuteSPDeleteDeployment`); every request WSDL-valid.
#[test]
fn on_wsus_groups_are_created_metadata_only_updates_named_and_console_drift_removed() {
    use crate::support::e2e::{self, Site};
    use crate::support::wsus::{State, WsusServer};
    const VAR: &str = "SUPCTL_APPROVALS_WSUS_PASSWORD";
    const PASSWORD: &str = "Correct-Horse-9";
    let wsus = WsusServer::start(State::default(), Some(PASSWORD));
    let site = Site::new();
    let url = site.serve_catalog("/contoso-v3.cab", &e2e::quickstart_cab());
    let body = format!(
        "{}\n{}\n[[approve]]\ngroups = [\"Ring 1 - Pilot\"]\ncreate_groups = true\ndeadline = \"7 days\"\n",
        e2e::catalog("contoso", &url, ""),
        e2e::approve_content()
    );
    let cfg = site.write(
        "supctl",
        &site.config(&e2e::wsus_server_lines(&wsus.url(), VAR), &body),
    );
    let env = [(VAR, PASSWORD)];
    let r = e2e::run_with(&cfg, &["apply", "--auto-approve"], &env);
    assert_eq!(r.code, 0, "{}", r.all());
    assert!(
        wsus.writes()
            .iter()
            .any(|w| w == "ExecuteSPCreateTargetGroup1"),
        "{:?}",
        wsus.writes()
    );
    let r = e2e::run_with(&cfg, &["plan", "--json", "--detailed-exitcode"], &env);
    assert_eq!(r.code, 0, "{}", r.all());
    assert!(r.stdout.contains("approval-needs-content"), "{}", r.all());

    // An admin approves Tool 1.1 for the pilot ring in the console.
    {
        let mut s = wsus.state();
        let group = s
            .groups
            .iter()
            .find(|g| g.name == "Ring 1 - Pilot")
            .map(|g| g.id.clone())
            .expect("the group was created");
        s.approvals.push(crate::support::wsus::answers::Approval {
            update_id: e2e::TOOL_11.into(),
            revision: 1,
            action: 0,
            target_group: group,
            deadline: "9999-12-31T23:59:59.997".into(),
            admin: "CORP\\admin".into(),
            deployment_id: "d0000000-0000-4000-8000-0000000000ff".into(),
            assigned: true,
        });
    }
    // Compliance at a glance: the approved update with its group and counts (the
    // server-wide summary counts every computer: All Computers).
    wsus.state().compliance.insert(
        (
            e2e::TOOL_11.to_string(),
            crate::support::wsus::answers::ALL_COMPUTERS.to_string(),
        ),
        crate::support::wsus::approvals::Counts {
            not_installed: 3,
            installed: 5,
            failed: 1,
            ..Default::default()
        },
    );
    let r = e2e::run_with(&cfg, &["updates", "list", "--compliance", "--json"], &env);
    assert_eq!(r.code, 0, "{}", r.all());
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    let rows = v.as_array().unwrap();
    assert_eq!(rows.len(), 1, "only approved updates: {v}");
    let c = &rows[0]["compliance"];
    assert_eq!(
        c["approved_for"],
        serde_json::json!(["Ring 1 - Pilot (install)"]),
        "{v}"
    );
    assert_eq!(
        (
            c["needed"].as_u64(),
            c["installed"].as_u64(),
            c["failed"].as_u64()
        ),
        (Some(3), Some(5), Some(1)),
        "{v}"
    );
    let text = e2e::run_with(&cfg, &["updates", "list", "--compliance"], &env);
    assert!(
        text.stdout.contains("NEEDED") && text.stdout.contains("1 approved update(s)"),
        "{}",
        text.all()
    );

    // `status` and its JSON (what the status page renders) show the same.
    let r = e2e::run_with(&cfg, &["status", "--json"], &env);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    let a = &v["approvals"][0];
    assert_eq!(a["id"], e2e::TOOL_11, "{v}");
    assert_eq!(
        (
            a["compliance"]["needed"].as_u64(),
            a["compliance"]["failed"].as_u64()
        ),
        (Some(3), Some(1)),
        "{v}"
    );
    let r = e2e::run_with(&cfg, &["status"], &env);
    assert!(
        r.stdout.contains(
            "Contoso Tool 1.1 (catalog.contoso): Ring 1 - Pilot (install); needed 3, installed 5, failed 1"
        ),
        "{}",
        r.all()
    );

    let (code, actions) = e2e::planned_actions(&cfg, &env);
    assert_eq!(code, 2);
    assert_eq!(
        actions,
        vec![format!(
            "delete {}.approval[Ring%201%20-%20Pilot]",
            e2e::update_addr("contoso", e2e::TOOL_11)
        )]
    );
    let r = e2e::run_with(&cfg, &["apply", "--auto-approve"], &env);
    assert_eq!(r.code, 0, "{}", r.all());
    assert!(wsus.state().approvals.is_empty());
    assert!(wsus.violations().is_empty(), "{:?}", wsus.violations());
    let (code, _) = e2e::planned_actions(&cfg, &env);
    assert_eq!(code, 0);
}

#[test]
fn compliance_needs_a_wsus() {
    let ws = Workspace::new();
    let cfg = ws.config("supctl", "state", &quickstart("contoso", ""));
    let r = run(&cfg, &["updates", "list", "--compliance"]);
    assert_eq!(r.code, 1, "{}", r.all());
    assert!(
        r.stderr.contains("--compliance needs a WSUS"),
        "{}",
        r.all()
    );
}

/// The `watch` daemon honours a ring's delay (issue 18): with the schedule scaled so passes
/// come every second, the updates already due are approved by the first pass and the one
/// that falls due later is approved by a pass after its time, not before.
#[test]
fn the_daemon_approves_a_ring_when_its_delay_has_passed() {
    use crate::support::watch::{Watch, Workspace as WatchWorkspace};
    use std::time::{Duration, Instant};
    const AGENT: &str = "517b3da2-8ccd-46cd-9f1f-b30dc310e890";
    let ws = WatchWorkspace::quickstart();
    // Contoso Agent 2.3, the newest staged update, was created 2024-04-30 09:00 UTC: it
    // falls due 20 s from now; the older staged ones are due already.
    let created = chrono::DateTime::parse_from_rfc3339("2024-04-30T09:00:00Z").unwrap();
    let due = chrono::Utc::now() + chrono::TimeDelta::seconds(20);
    let after = (due - created.with_timezone(&chrono::Utc)).num_seconds();
    // Whole seconds: the update falls due at created + after exactly.
    let due = created.with_timezone(&chrono::Utc) + chrono::TimeDelta::seconds(after);
    ws.save_config(&format!(
        "{}\n[[approve]]\ngroups = [\"Ring 1\"]\ncreate_groups = true\nafter = \"{after} seconds\"\n",
        ws.read_config()
    ));
    let approved = || -> Vec<String> {
        let loc = supctl::store::StoreLocation::new(ws.path().join(".supctl"));
        supctl::store::Store::embedded(&loc, supctl::store::db::OpenOptions::read())
            .and_then(|s| s.snapshot())
            .map(|s| s.approvals.iter().map(|a| a.update.to_string()).collect())
            .unwrap_or_default()
    };
    let start = Instant::now();
    // 7 days / 604800: a pass every second.
    let mut w = Watch::start(&ws, &["--listen", "127.0.0.1:0"], Some(604_800));
    w.wait_until("the first ring approved", Duration::from_secs(60), || {
        approved().len() >= 2
    });
    if start.elapsed() < Duration::from_secs(18) {
        assert!(
            !approved().contains(&AGENT.to_string()),
            "approved before its delay: {:?}",
            approved()
        );
    }
    w.wait_until("the later update approved", Duration::from_secs(90), || {
        approved().contains(&AGENT.to_string())
    });
    // The status page lists the approvals with their group (no counts: no computers).
    let addr = crate::support::web::address(&mut w);
    let page = crate::support::web::poll(&w, &addr, "/", |a| {
        a.status == 200 && a.body.contains(&format!("data-update=\"{AGENT}\""))
    });
    assert!(page.body.contains("Ring 1 (install)"), "{}", page.body);
    assert!(!page.body.contains("Needed"), "{}", page.body);
    assert!(
        chrono::Utc::now() >= due,
        "approved at {} before it was due at {due}",
        chrono::Utc::now()
    );
    assert_eq!(w.stop(Duration::from_secs(10)), 0);
}
