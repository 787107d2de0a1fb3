//! Hygiene rules through the real binary, on the embedded server and on the WSUS test
//! double with identical observations (issue 18). In the quickstart catalog Contoso Tool 1.1
//! supersedes Tool 1.0: `decline_superseded = "0 days"` declines Tool 1.0 in the apply that
//! publishes both (`decline` actions in `plan --json`, state `declined` in `updates list
//! --json`), a second plan is empty, and removing the rule undeclines it.

use std::path::{Path, PathBuf};

use crate::support::e2e::*;
use crate::support::wsus::{State, WsusServer};

const PASSWORD: &str = "Correct-Horse-9";
const PASSWORD_VAR: &str = "SUPCTL_HYGIENE_WSUS_PASSWORD";

struct Target {
    site: Site,
    url: String,
    wsus: Option<WsusServer>,
}

impl Target {
    fn new(wsus: bool) -> Target {
        let site = Site::new();
        let url = site.serve_catalog("/contoso-v3.cab", &quickstart_cab());
        Target {
            site,
            url,
            wsus: wsus.then(|| WsusServer::start(State::default(), Some(PASSWORD))),
        }
    }

    fn config(&self, hygiene: &str) -> PathBuf {
        let server = match &self.wsus {
            None => String::new(),
            Some(w) => wsus_server_lines(&w.url(), PASSWORD_VAR),
        };
        let body = format!(
            "{}\n{}\n{hygiene}\n",
            catalog("contoso", &self.url, ""),
            approve_content()
        );
        self.site.write("supctl", &self.site.config(&server, &body))
    }

    fn run(&self, cfg: &Path, args: &[&str]) -> Run {
        run_with(cfg, args, &[(PASSWORD_VAR, PASSWORD)])
    }

    /// The plan's declines and undeclines (the first plan also publishes and approves).
    fn plan(&self, cfg: &Path) -> (i32, Vec<String>) {
        let (code, all) = planned_actions(cfg, &[(PASSWORD_VAR, PASSWORD)]);
        let hygiene = all
            .into_iter()
            .filter(|a| a.starts_with("decline ") || a.starts_with("undecline "))
            .collect();
        (code, hygiene)
    }

    fn apply(&self, cfg: &Path) -> String {
        let r = self.run(cfg, &["apply", "--auto-approve"]);
        assert_eq!(r.code, 0, "{}", r.all());
        r.stdout
    }

    fn state_of(&self, cfg: &Path, id: &str) -> String {
        let r = self.run(cfg, &["updates", "list", "--json"]);
        assert_eq!(r.code, 0, "{}", r.all());
        let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
        v.as_array()
            .unwrap()
            .iter()
            .find(|u| u["id"] == id)
            .unwrap_or_else(|| panic!("{id} not listed: {v}"))["state"]
            .as_str()
            .unwrap()
            .to_string()
    }
}

#[derive(Debug, PartialEq)]
struct Observed {
    first: Vec<String>,
    declined: String,
    converged: i32,
    undeclined: Vec<String>,
    after: String,
}

fn scenario(t: &Target) -> Observed {
    let cfg = t.config("[hygiene]\ndecline_superseded = \"0 days\"");
    let (code, first) = t.plan(&cfg);
    assert_eq!(code, 2, "{first:?}");
    t.apply(&cfg);
    let declined = t.state_of(&cfg, TOOL_10);
    let (converged, rest) = t.plan(&cfg);
    assert!(rest.is_empty(), "{rest:?}");

    let without = t.config("");
    let (_, undeclined) = t.plan(&without);
    t.apply(&without);
    let after = t.state_of(&without, TOOL_10);
    let (code, rest) = t.plan(&without);
    assert_eq!((code, rest), (0, vec![]));
    Observed {
        first,
        declined,
        converged,
        undeclined,
        after,
    }
}

#[test]
fn superseded_updates_are_declined_and_undeclined_alike_on_both_servers() {
    let embedded = scenario(&Target::new(false));
    assert_eq!(
        embedded.first,
        vec![format!("decline {}", update_addr("contoso", TOOL_10))]
    );
    assert_eq!(embedded.declined, "declined");
    assert_eq!(embedded.converged, 0);
    assert_eq!(
        embedded.undeclined,
        vec![format!("undecline {}", update_addr("contoso", TOOL_10))]
    );
    assert_eq!(embedded.after, "metadata-only");

    let wsus = Target::new(true);
    let observed = scenario(&wsus);
    assert_eq!(observed, embedded, "the WSUS double observes the same");
    let declines: Vec<_> = wsus
        .wsus
        .as_ref()
        .unwrap()
        .writes()
        .into_iter()
        .filter(|w| w == "ExecuteSPDeclineUpdate")
        .collect();
    assert!(!declines.is_empty(), "the decline reached WSUS");
}

#[test]
fn a_bad_hygiene_rule_is_named_with_its_line() {
    let t = Target::new(false);
    let cfg = t.config("[hygiene]\ndecline_superseded = \"soon\"\nremove_content_of = [\"stale\"]");
    let r = t.run(&cfg, &["validate"]);
    assert_eq!(r.code, 1, "{}", r.all());
    assert!(
        r.stderr.contains("hygiene.decline_superseded"),
        "{}",
        r.all()
    );
    assert!(r.stderr.contains("`stale`"), "{}", r.all());
}

/// Files under `WsusContent/`, without the temp directory.
fn content_files(state: &Path) -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let p = e.path();
            if p.file_name().is_some_and(|n| n == ".tmp") {
                continue;
            }
            if p.is_dir() {
                walk(&p, out);
            } else {
                out.push(p);
            }
        }
    }
    let mut out = Vec::new();
    walk(&state.join("WsusContent"), &mut out);
    out.sort();
    out
}

#[test]
fn the_content_of_a_declined_update_is_removed_when_no_other_update_uses_it() {
    use crate::support::cli;
    let ws = cli::Workspace::new();
    let body = format!(
        "{}\n{}",
        cli::quickstart("contoso", "stage = \"all\""),
        cli::approve_content()
    );
    let cfg = ws.config("supctl", "state", &body);
    let r = cli::run(&cfg, &["apply", "--auto-approve"]);
    assert_eq!(r.code, 0, "{}", r.all());
    let before = content_files(&ws.state("state"));
    assert!(!before.is_empty(), "the quickstart stages content");

    let cfg = ws.config(
        "supctl",
        "state",
        &format!("{body}\n[hygiene]\ndecline_superseded = \"0 days\"\nremove_content_of = [\"declined\"]\n"),
    );
    let plan = cli::run(&cfg, &["plan", "--json"]).json();
    let kinds: Vec<String> = actions(&plan);
    assert_eq!(
        kinds,
        vec![
            format!("decline {}", update_addr("contoso", TOOL_10)),
            format!("unstage {}", update_addr("contoso", TOOL_10)),
        ],
        "{plan}"
    );
    let text = cli::run(&cfg, &["plan"]);
    assert!(
        text.stdout
            .contains("1 to decline, 0 to undecline, 1 to unstage"),
        "{}",
        text.all()
    );
    let r = cli::run(&cfg, &["apply", "--auto-approve"]);
    assert_eq!(r.code, 0, "{}", r.all());
    let after = content_files(&ws.state("state"));
    assert_eq!(after.len(), before.len() - 1, "{before:?} -> {after:?}");
    let list = cli::run(&cfg, &["updates", "list", "--json", "--state", "declined"]).json();
    assert_eq!(list.as_array().map(Vec::len), Some(1), "{list}");
    let again = cli::run(&cfg, &["plan", "--detailed-exitcode"]);
    assert_eq!(again.code, 0, "{}", again.all());
}
