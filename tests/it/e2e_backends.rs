//! One end-to-end scenario, run through the real binary against both backends: the
//! embedded store and a WSUS (the ApiRemoting30 test double, NTLMv2, WSDL-checked). Plan,
//! apply, re-plan, `updates list`, `status`, narrowing the categories (expiry) and `sync`
//! must come out the same on both, for everything the backends' capabilities share.
//! Faults injected into the WSUS show up as errors naming the operation, with nothing
//! half-written.

use crate::support;
use crate::support::wsus as wsus_support;

use std::path::{Path, PathBuf};

use support::e2e::*;
use wsus_support::{Fault, State, WsusServer};

const PASSWORD: &str = "Correct-Horse-9";
const PASSWORD_VAR: &str = "SUPCTL_E2E_WSUS_PASSWORD";

/// Where a scenario runs: the vendor site, and for WSUS the server.
struct Target {
    site: Site,
    url: String,
    wsus: Option<WsusServer>,
}

impl Target {
    fn embedded() -> Target {
        let site = Site::new();
        let url = site.serve_catalog("/contoso-v3.cab", &quickstart_cab());
        Target {
            site,
            url,
            wsus: None,
        }
    }

    fn wsus() -> Target {
        let mut t = Target::embedded();
        t.wsus = Some(WsusServer::start(State::default(), Some(PASSWORD)));
        t
    }

    fn server(&self) -> &WsusServer {
        self.wsus.as_ref().expect("a WSUS target")
    }

    /// The scenario's config with `catalog_extra` in `[catalog.contoso]`.
    fn config(&self, catalog_extra: &str) -> PathBuf {
        let server = match &self.wsus {
            None => String::new(),
            Some(w) => wsus_server_lines(&w.url(), PASSWORD_VAR),
        };
        let body = format!(
            "{}\n{}\n[sync]\nschedule = \"every 1 day at 03:00\"\nproducts = [\"Windows 11\"]\nclassifications = [\"Security Updates\", \"Critical Updates\"]\n",
            catalog("contoso", &self.url, catalog_extra),
            approve_content()
        );
        self.site.write("supctl", &self.site.config(&server, &body))
    }

    fn run(&self, config: &Path, args: &[&str]) -> Run {
        run_with(config, args, &[(PASSWORD_VAR, PASSWORD)])
    }

    fn plan_actions(&self, config: &Path) -> (i32, Vec<String>) {
        planned_actions(config, &[(PASSWORD_VAR, PASSWORD)])
    }

    fn updates(&self, config: &Path) -> serde_json::Value {
        let r = self.run(config, &["updates", "list", "--json"]);
        assert_eq!(r.code, 0, "{}", r.all());
        serde_json::from_str(&r.stdout).unwrap()
    }
}

/// What one run of the scenario observed, compared across backends.
#[derive(Debug, PartialEq)]
struct Observed {
    first_plan: Vec<String>,
    applied: String,
    updates: serde_json::Value,
    narrowed_plan: Vec<String>,
    after_narrowing: serde_json::Value,
}

fn line_with<'a>(text: &'a str, needle: &str) -> &'a str {
    text.lines()
        .find(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("no line with {needle:?} in:\n{text}"))
}

fn scenario(t: &Target) -> Observed {
    let cfg = t.config("");
    let (code, first_plan) = t.plan_actions(&cfg);
    assert_eq!(code, 2, "{first_plan:?}");

    let r = t.run(&cfg, &["apply", "--auto-approve"]);
    assert_eq!(r.code, 0, "{}", r.all());
    let applied = line_with(&r.stdout, "Apply complete").to_string();

    let r = t.run(&cfg, &["plan", "--detailed-exitcode"]);
    assert_eq!(r.code, 0, "a second plan finds nothing to do:\n{}", r.all());
    assert!(r.stdout.contains("No changes"), "{}", r.all());
    let updates = t.updates(&cfg);

    let r = t.run(&cfg, &["status"]);
    assert_eq!(r.code, 0, "{}", r.all());
    assert!(r.stdout.contains("contoso"), "{}", r.all());

    // Narrowing the categories with `expire_deselected` expires what falls outside.
    let narrowed = t.config("categories = [\"Contoso/Utilities\"]\nexpire_deselected = true");
    let (code, narrowed_plan) = t.plan_actions(&narrowed);
    assert_eq!(code, 2);
    let r = t.run(&narrowed, &["apply", "--auto-approve"]);
    assert_eq!(r.code, 0, "{}", r.all());
    let after_narrowing = t.updates(&narrowed);
    let r = t.run(&narrowed, &["plan", "--detailed-exitcode"]);
    assert_eq!(r.code, 0, "{}", r.all());

    let r = t.run(&narrowed, &["sync"]);
    assert_eq!(r.code, 0, "{}", r.all());
    Observed {
        first_plan,
        applied,
        updates,
        narrowed_plan,
        after_narrowing,
    }
}

#[test]
fn the_same_scenario_on_the_embedded_store_and_on_wsus() {
    let embedded = Target::embedded();
    let local = scenario(&embedded);
    let wsus = Target::wsus();
    // The double's clock decides when its synchronizations happen; ten minutes ahead (a
    // server clock running fast) puts the run `sync` starts after supctl's own record of the
    // pass, so `status` shows the server's run as the update point's last sync.
    wsus.server().state().clock = (chrono::Utc::now() + chrono::Duration::minutes(10)).naive_utc();
    let mut remote = scenario(&wsus);
    let cfg = wsus.site.dir.path().join("supctl.toml");
    let r = wsus.run(&cfg, &["status"]);
    assert!(
        r.stdout.contains("WSUS synchronization"),
        "status shows the server's run:\n{}",
        r.all()
    );
    assert!(
        r.stdout
            .starts_with("update server: WSUS 10.0.20348.1 at http://"),
        "{}",
        r.stdout
    );
    // Two differences are the servers' nature, not the backends' behaviour: a WSUS always
    // has synchronization settings (so `[sync]` updates them where the new embedded store
    // creates them), and WSUS expires an update by importing a new revision of it.
    let swap = |v: &mut Vec<String>, from: &str, to: &str| {
        let i = v
            .iter()
            .position(|a| a == from)
            .unwrap_or_else(|| panic!("{from} in {v:?}"));
        v[i] = to.to_string();
        v.sort();
    };
    swap(&mut remote.first_plan, "update sync", "create sync");
    for u in remote.after_narrowing.as_array_mut().unwrap() {
        if u["state"] == "expired" {
            assert_eq!(u["revision"], 2, "expiry is a new revision on WSUS: {u}");
            u["revision"] = 1.into();
        }
    }
    assert_eq!(local, remote, "both backends observe the same");

    let expired = local.after_narrowing.as_array().unwrap();
    assert_eq!(expired.len(), 4, "{expired:?}");
    assert!(
        expired.iter().any(|u| u["state"] == "expired")
            && expired.iter().any(|u| u["state"] == "metadata-only"),
        "{expired:?}"
    );

    // What the WSUS holds: the four packages with their SDPs, two of them expired (and so
    // declined), the subscription and its schedule as `[sync]` says.
    let server = wsus.server();
    assert!(server.violations().is_empty(), "{:?}", server.violations());
    let state = server.state();
    let published: Vec<_> = state.updates.iter().filter(|u| u.sdp.is_some()).collect();
    assert_eq!(
        published.len(),
        5,
        "the pre-existing update and the four of the catalog"
    );
    for row in expired {
        let id = row["id"].as_str().unwrap();
        let u = published
            .iter()
            .find(|u| u.id == id)
            .expect("on the server");
        assert_eq!(u.expired, row["state"] == "expired", "{id}");
        assert_eq!(u.declined, u.expired, "WSUS declines what expires: {id}");
    }
    assert_eq!(state.time_of_day, 3 * 3600);
    assert_eq!(state.per_day, 1);
    assert!(state.synchronize_automatically);
    let subscribed: Vec<&str> = state
        .categories
        .iter()
        .filter(|c| c.subscribed)
        .map(|c| c.title.as_str())
        .collect();
    assert_eq!(
        subscribed,
        ["Windows 11", "Critical Updates", "Security Updates"]
    );
    drop(state);
    let writes = server.writes();
    assert!(
        writes.contains(&"StartSubscriptionManually".to_string()),
        "{writes:?}"
    );
    assert_eq!(
        writes.iter().filter(|w| *w == "SetSubscription").count(),
        1,
        "one whole-row write: {writes:?}"
    );
}

#[test]
fn a_soap_fault_during_publishing_names_the_operation_and_apply_resumes() {
    let t = Target::wsus();
    let cfg = t.config("");
    let before = t.server().published();
    t.server().inject_for(
        "ImportUpdateForPublishing",
        Fault::Soap("System.Data.SqlClient.SqlException: Timeout expired.".into()),
    );
    let r = t.run(&cfg, &["apply", "--auto-approve"]);
    assert_ne!(r.code, 0, "{}", r.all());
    assert!(r.all().contains("ImportUpdateForPublishing"), "{}", r.all());
    assert!(r.all().contains("Timeout expired"), "{}", r.all());
    assert_eq!(
        t.server().published(),
        before,
        "the first import failed and the batch stopped there: nothing half-written"
    );

    let r = t.run(&cfg, &["apply", "--auto-approve"]);
    assert_eq!(r.code, 0, "{}", r.all());
    assert_eq!(t.server().published(), before + 4);
    let r = t.run(&cfg, &["plan", "--detailed-exitcode"]);
    assert_eq!(r.code, 0, "{}", r.all());
    assert!(t.server().violations().is_empty());
}

#[test]
fn html_errors_forbidden_and_refused_credentials_are_named() {
    let t = Target::wsus();
    let cfg = t.config("");
    t.server().inject_for("GetSubscription", Fault::Html500);
    let r = t.run(&cfg, &["plan"]);
    assert_ne!(r.code, 0);
    let e = r.all();
    assert!(
        e.contains("GetSubscription") && e.contains("HTTP 500") && e.contains("HTML"),
        "{e}"
    );

    t.server()
        .inject_for("ExecuteSPSearchUpdates", Fault::Forbidden);
    let r = t.run(&cfg, &["updates", "list"]);
    assert_ne!(r.code, 0);
    assert!(
        r.all().contains("ExecuteSPSearchUpdates") && r.all().contains("403"),
        "{}",
        r.all()
    );

    let mut c = supctl(&["status"]);
    c.arg("-c").arg(&cfg).env(PASSWORD_VAR, "wrong");
    let out = c.output().unwrap();
    assert_ne!(out.status.code(), Some(0));
    let e = String::from_utf8_lossy(&out.stderr);
    assert!(e.contains("refused the credentials"), "{e}");

    let mut c = supctl(&["plan"]);
    c.arg("-c").arg(&cfg).env_remove(PASSWORD_VAR);
    let out = c.output().unwrap();
    let e = String::from_utf8_lossy(&out.stderr);
    assert!(
        e.contains(PASSWORD_VAR),
        "the missing variable is named: {e}"
    );
    assert!(t.server().writes().is_empty(), "{:?}", t.server().writes());
}

#[test]
fn a_failed_subscription_write_leaves_the_row_as_it_was() {
    let t = Target::wsus();
    let cfg = t.config("");
    t.server().inject_for(
        "SetSubscription",
        Fault::Soap("System.UnauthorizedAccessException: Access is denied.".into()),
    );
    let r = t.run(&cfg, &["apply", "--auto-approve"]);
    assert_ne!(r.code, 0);
    assert!(r.all().contains("SetSubscription"), "{}", r.all());
    assert!(
        r.all().contains("WSUS Administrators"),
        "access denied explains the role: {}",
        r.all()
    );
    let state = t.server().state();
    assert_eq!((state.time_of_day, state.per_day), (7200, 1), "unchanged");
    drop(state);
    assert!(!t.server().writes().iter().any(|w| w == "SetSubscription"));
}

#[test]
fn import_update_needs_a_wsus_and_imports_into_one() {
    let embedded = Target::embedded();
    let cfg = embedded.config("");
    let id = "5e7c1a2b-3c4d-4e5f-8a9b-0c1d2e3f4a5b";
    let r = embedded.run(&cfg, &["import-update", id]);
    assert_ne!(r.code, 0);
    assert!(
        r.stderr.contains("backend = \\\"wsus\\\"") || r.stderr.contains("backend = \"wsus\""),
        "{}",
        r.stderr
    );

    let t = Target::wsus();
    let cfg = t.config("");
    let r = t.run(&cfg, &["import-update", id]);
    assert_eq!(r.code, 0, "{}", r.all());
    assert!(r.stdout.contains("imported"), "{}", r.stdout);
    let r = t.run(&cfg, &["import-update", id]);
    assert_eq!(r.code, 0, "{}", r.all());
    assert!(r.stdout.contains("already on the server"), "{}", r.stdout);
    let unknown = "00000000-1111-4222-8333-444444444444";
    let r = t.run(&cfg, &["import-update", unknown]);
    assert_ne!(r.code, 0);
    assert!(
        r.stderr.contains("CatalogSiteGetMetadataAndImport") && r.stderr.contains("not found"),
        "{}",
        r.stderr
    );
}

#[test]
fn staging_is_planned_as_not_supported_on_wsus_and_the_rest_applies() {
    let t = Target::wsus();
    let cfg = t.config("stage = [\"Contoso/Utilities\"]");
    let r = t.run(&cfg, &["plan", "--detailed-exitcode"]);
    assert_eq!(r.code, 2, "{}", r.all());
    assert!(
        r.stdout
            .contains("content staging is not supported by backend wsus"),
        "{}",
        r.stdout
    );
    let r = t.run(&cfg, &["apply", "--auto-approve"]);
    assert_eq!(
        r.code,
        0,
        "unsupported actions are reported, not failed:\n{}",
        r.all()
    );
    assert_eq!(t.server().published(), 5);
    assert!(
        !t.server().writes().iter().any(|w| w.contains("Content")),
        "{:?}",
        t.server().writes()
    );
}
