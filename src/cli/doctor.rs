//! `supctl doctor [-c PATH] [--json]`: the read-only checks of `crate::doctor`, printed with
//! the fix for each problem. Exit 0 when every check passes, 1 when any finds a problem.

use std::fmt::Write as _;

use clap::Args;
use serde::Serialize;

use crate::config::BackendKind;
use crate::doctor::{self, Finding};

use super::session::ConfigArg;
use super::store::{emit, print_json};

#[derive(Debug, Args)]
pub struct DoctorArgs {
    #[command(flatten)]
    config: ConfigArg,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

#[derive(Serialize)]
struct Report {
    healthy: bool,
    problems: usize,
    findings: Vec<Finding>,
}

pub fn run(a: DoctorArgs) -> anyhow::Result<u8> {
    let (cfg, _) = super::session::load_config(a.config.path())?;
    let now = chrono::Utc::now();
    let mut findings = Vec::new();
    let server_fix = match cfg.server.backend {
        BackendKind::Wsus => {
            "check [server] url, the account and its WSUS role (WSUS Reporters to plan, WSUS Administrators to apply), and the network path"
        }
        BackendKind::Local => "run `supctl apply` to create the state directory",
    };
    // A WSUS is checked even before the first apply: its (empty) site database is made as
    // `plan` makes it. The embedded store is only read.
    let opened = if cfg.server.backend == BackendKind::Wsus {
        super::session::open_backend_to_plan(&cfg)
    } else if cfg.server.path.exists() {
        super::session::open_backend(&cfg, false)
    } else {
        Err(anyhow::anyhow!(
            "the state directory {} does not exist",
            cfg.server.path.display()
        ))
    };
    let mut actual = None;
    match opened.and_then(|s| {
        let snap = s.snapshot()?;
        let shipped = s.shipped_certificates()?;
        Ok((s.describe(), s.capabilities(), snap, shipped))
    }) {
        Ok((describe, caps, snap, shipped)) => {
            findings.push(Finding::ok("server", "server", describe));
            findings.extend(doctor::signing(
                &cfg,
                &snap,
                !caps.signing_key_on_server,
                now,
            ));
            findings.extend(doctor::trust_export(&cfg, &snap));
            findings.extend(doctor::catalog_signers(&cfg, &snap, now));
            findings.extend(doctor::content_certificates(&cfg, &shipped));
            actual = Some(snap);
        }
        Err(e) => findings.push(Finding::problem(
            "server",
            "server",
            format!("{e:#}"),
            server_fix,
        )),
    }
    let client = super::session::fetcher_quiet(&cfg)
        .map(|_| ())
        .map_err(|e| format!("{e:#}"));
    findings.extend(doctor::network(&cfg, client));
    if cfg.server.path.is_dir() {
        findings.extend(doctor::state_directory(
            &cfg.server.path,
            actual.as_ref(),
            &cfg,
        ));
    }
    let problems = findings.iter().filter(|f| !f.ok).count();
    let report = Report {
        healthy: problems == 0,
        problems,
        findings,
    };
    if a.json {
        print_json(&report)?;
    } else {
        let mut out = String::new();
        for f in &report.findings {
            let mark = if f.ok { "ok     " } else { "PROBLEM" };
            let _ = writeln!(out, "{mark}  {:<20}  {}: {}", f.check, f.subject, f.detail);
            if let Some(fix) = &f.fix {
                let _ = writeln!(out, "         fix: {fix}");
            }
        }
        let _ = writeln!(
            out,
            "{} check(s), {} problem(s)",
            report.findings.len(),
            report.problems
        );
        emit(&out)?;
    }
    Ok(if report.healthy {
        super::EXIT_OK
    } else {
        super::EXIT_ERROR
    })
}
