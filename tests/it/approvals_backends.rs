//! Approvals alike on both servers (issue 18): the same `[[approve]]` rules, run through
//! the real binary against the embedded server and the WSUS test double, plan the same
//! groups and approvals, name the same updates they cannot approve, leave the same
//! approvals behind (read back through each backend's snapshot), and see the same console
//! drift.
//!
//! The difference the servers' nature makes, named here rather than hidden: the WSUS
//! backend stages no content, so on WSUS every update is metadata-only and an `install`
//! approval can never be made; the scenario therefore stages nothing on either server, and
//! the install ring is the metadata-only refusal on both. `uninstall` needs no content: the
//! catalog's first update (Contoso Tool 1.0) declares `UninstallProperties` and is
//! approved for uninstall on both; Contoso Agent 2.3 does not and is named instead (the
//! WSUS double refuses such an approval, as `IUpdate.Approve` does).

use std::path::{Path, PathBuf};

use crate::support::e2e::*;
use crate::support::signed;
use crate::support::wsus::{State, WsusServer, calls::endpoint};

use supctl::store::db::OpenOptions;
use supctl::store::{Change, Store, StoreLocation};

const PASSWORD: &str = "Correct-Horse-9";
const PASSWORD_VAR: &str = "SUPCTL_APPROVALS_BACKENDS_PASSWORD";

const RULES: &str = r#"
[[approve]]
groups = ["Ring 1 - Pilot"]
create_groups = true
deadline = "7 days"
title = '^Contoso Tool 1\.1$'

[[approve]]
groups = ["Retire"]
create_groups = true
action = "uninstall"
title = '^Contoso (Tool 1\.0|Agent)'
"#;

struct Target {
    site: Site,
    url: String,
    wsus: Option<WsusServer>,
    _catalog: tempfile::TempDir,
}

impl Target {
    fn new(wsus: bool) -> Target {
        let dir = tempfile::tempdir().unwrap();
        let cab = signed::uninstallable_quickstart(dir.path(), 1);
        let site = Site::new();
        let url = site.serve_catalog("/contoso-v3.cab", &cab);
        Target {
            site,
            url,
            wsus: wsus.then(|| WsusServer::start(State::default(), Some(PASSWORD))),
            _catalog: dir,
        }
    }

    fn config(&self) -> PathBuf {
        let server = match &self.wsus {
            None => String::new(),
            Some(w) => wsus_server_lines(&w.url(), PASSWORD_VAR),
        };
        let body = format!("{}\n{RULES}", catalog("contoso", &self.url, ""));
        self.site.write("supctl", &self.site.config(&server, &body))
    }

    fn env(&self) -> [(&'static str, &'static str); 1] {
        [(PASSWORD_VAR, PASSWORD)]
    }

    fn store(&self) -> Store {
        let loc = StoreLocation::new(self.site.state_dir());
        match &self.wsus {
            None => Store::embedded(&loc, OpenOptions::write()),
            Some(w) => Store::wsus(
                endpoint(w.url(), PASSWORD),
                "CORP\\svc-supctl".into(),
                &loc,
                OpenOptions::write(),
            ),
        }
        .expect("the store opens")
    }

    /// The approvals the server holds: (update, group, action, has a deadline 7 days
    /// after the approval).
    fn approvals(&self) -> Vec<(String, String, String, bool)> {
        let mut v: Vec<_> = self
            .store()
            .snapshot()
            .unwrap()
            .approvals
            .into_iter()
            .map(|a| {
                let week = a
                    .deadline
                    .is_some_and(|d| ((d - a.approved).num_minutes() - 7 * 24 * 60).abs() < 2);
                (a.update.to_string(), a.group, a.action.to_string(), week)
            })
            .collect();
        v.sort();
        v
    }

    /// The groups the rules name, as the server lists them.
    fn groups(&self) -> Vec<String> {
        let mut v: Vec<String> = self
            .store()
            .snapshot()
            .unwrap()
            .groups
            .into_iter()
            .map(|g| g.name)
            .filter(|n| n == "Ring 1 - Pilot" || n == "Retire")
            .collect();
        v.sort();
        v
    }
}

#[derive(Debug, PartialEq)]
struct Observed {
    first_plan: Vec<String>,
    diagnostics: Vec<String>,
    groups: Vec<String>,
    approvals: Vec<(String, String, String, bool)>,
    drift_plan: Vec<String>,
}

fn diagnostics(cfg: &Path, env: &[(&str, &str)]) -> Vec<String> {
    let r = run_with(cfg, &["plan", "--json"], env);
    let v: serde_json::Value =
        serde_json::from_str(&r.stdout).unwrap_or_else(|e| panic!("{e}: {}", r.all()));
    let mut codes: Vec<String> = v["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| {
            d["code"]
                .as_str()
                .is_some_and(|c| c.starts_with("approval"))
        })
        .map(|d| format!("{} {}", d["code"].as_str().unwrap(), d["message"]))
        .collect();
    codes.sort();
    codes
}

fn scenario(t: &Target) -> Observed {
    let cfg = t.config();
    let env = t.env();
    let (code, all) = planned_actions(&cfg, &env);
    assert_eq!(code, 2, "{all:?}");
    let first_plan: Vec<String> = all
        .into_iter()
        .filter(|a| a.contains("group[") || a.contains(".approval["))
        .collect();
    let diagnostics = diagnostics(&cfg, &env);

    let r = run_with(&cfg, &["apply", "--auto-approve"], &env);
    assert_eq!(r.code, 0, "{}", r.all());
    let (code, left) = planned_actions(&cfg, &env);
    assert_eq!(code, 0, "a second plan is empty: {left:?}");
    let groups = t.groups();
    let approvals = t.approvals();

    // An admin removes the uninstall approval in the console.
    t.store()
        .apply(Change::RemoveApproval {
            update: TOOL_10.parse().unwrap(),
            group: "Retire".into(),
        })
        .expect("the console's removal");
    let (code, drift_plan) = planned_actions(&cfg, &env);
    assert_eq!(code, 2);
    let r = run_with(&cfg, &["apply", "--auto-approve"], &env);
    assert_eq!(r.code, 0, "{}", r.all());
    assert_eq!(t.approvals(), approvals, "the drift is undone");
    Observed {
        first_plan,
        diagnostics,
        groups,
        approvals,
        drift_plan,
    }
}

#[test]
fn approvals_come_out_the_same_on_both_servers() {
    if !signed::osslsigncode() {
        return;
    }
    let local = scenario(&Target::new(false));
    let wsus = Target::new(true);
    let remote = scenario(&wsus);
    assert_eq!(local, remote, "both servers observe the same");

    let retire = format!("{}.approval[Retire]", update_addr("contoso", TOOL_10));
    assert_eq!(local.drift_plan, vec![format!("approve {retire}")]);
    assert!(
        local.first_plan.contains(&format!("approve {retire}"))
            && local
                .first_plan
                .contains(&"create group[Ring%201%20-%20Pilot]".to_string()),
        "{:#?}",
        local.first_plan
    );
    assert_eq!(
        local.approvals,
        vec![(
            TOOL_10.to_string(),
            "Retire".to_string(),
            "uninstall".to_string(),
            false
        )]
    );
    assert_eq!(local.groups, ["Retire", "Ring 1 - Pilot"]);
    let d = local.diagnostics.join("\n");
    assert!(
        d.contains("approval-needs-content") && d.contains("Contoso Tool 1.1"),
        "{d}"
    );
    assert!(
        d.contains("approval-not-uninstallable") && d.contains("Contoso Agent 2.3"),
        "{d}"
    );

    // What WSUS holds: the uninstall deployment (action 1), every request WSDL-valid.
    let server = wsus.wsus.as_ref().unwrap();
    assert!(server.violations().is_empty(), "{:?}", server.violations());
    let state = server.state();
    assert_eq!(state.approvals.len(), 1, "{:?}", state.approvals);
    assert_eq!(
        (
            state.approvals[0].update_id.as_str(),
            state.approvals[0].action
        ),
        (TOOL_10, 1)
    );
}

/// The double holds WSUS's rule: an update that does not declare `UninstallProperties`
/// cannot be approved for uninstall, so a plan that asked for it would fail at apply, which
/// is why the planner names such updates instead.
#[test]
fn wsus_refuses_to_uninstall_what_does_not_support_it() {
    if !signed::osslsigncode() {
        return;
    }
    let t = Target::new(true);
    let cfg = t.config();
    let env = t.env();
    let r = run_with(&cfg, &["apply", "--auto-approve"], &env);
    assert_eq!(r.code, 0, "{}", r.all());
    let store = t.store();
    let err = store
        .apply(Change::Approve {
            update: AGENT_23.parse().unwrap(),
            group: "Retire".into(),
            action: supctl::config::ApprovalAction::Uninstall,
            deadline: None,
        })
        .expect_err("WSUS refuses");
    assert!(
        format!("{err:#}").contains("does not support uninstallation"),
        "{err:#}"
    );
}
