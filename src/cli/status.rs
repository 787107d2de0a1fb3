//! `supctl status`: per catalog and for the update point, the last and next sync, update
//! counts, certificates and status messages, plus supctl's warnings. Read-only: it never
//! takes the state lock, so it works while `watch` runs. Exit 1 when a subscribed
//! catalog's last sync failed.

use clap::Args;

use super::{EXIT_ERROR, EXIT_OK, session};
use crate::reconcile::status::{self, CertStatus, MessageStatus, Report, RunStatus};

#[derive(Debug, Args)]
pub struct StatusArgs {
    #[command(flatten)]
    pub config: super::session::ConfigArg,
    /// Print one JSON object (names documented in the README).
    #[arg(long)]
    pub json: bool,
}

fn time(t: Option<chrono::DateTime<chrono::Utc>>) -> String {
    t.map(|t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_else(|| "never".into())
}

/// Next-run times exist once `supctl watch` has scheduled them.
fn next(t: Option<chrono::DateTime<chrono::Utc>>) -> String {
    match t {
        Some(_) => time(t),
        None => "not scheduled (`supctl watch` schedules syncs)".into(),
    }
}

fn run_line(r: Option<&RunStatus>) -> String {
    match r {
        None => "never".into(),
        Some(r) => format!(
            "{} -> {} {}: published {}, revised {}, expired {}, staged {}, failed {}{}",
            time(Some(r.started)),
            time(r.ended),
            r.result,
            r.published,
            r.revised,
            r.expired,
            r.staged,
            r.failed,
            r.message
                .as_ref()
                .map(|m| format!("\n      {m}"))
                .unwrap_or_default()
        ),
    }
}

fn cert_line(what: &str, c: &CertStatus) -> String {
    format!(
        "  {what} {} ({}), expires {}, {}",
        c.thumbprint,
        c.subject.as_deref().unwrap_or("not seen yet"),
        time(c.not_after),
        c.state.as_deref().unwrap_or("no decision on the server")
    )
}

fn messages(out: &mut String, m: &[MessageStatus]) {
    for m in m {
        out.push_str(&format!(
            "  message {} {} {}: {}\n",
            time(Some(m.at)),
            m.number,
            m.severity,
            m.text
        ));
    }
}

/// The text rendering.
pub fn text(r: &Report) -> String {
    let mut out = String::new();
    for c in &r.catalogs {
        out.push_str(&format!(
            "catalog.{} ({}): {}, schedule {}\n",
            c.key,
            c.name,
            if c.subscribed {
                "subscribed"
            } else {
                "not subscribed"
            },
            c.schedule.as_deref().unwrap_or("none")
        ));
        for s in &c.signers {
            out.push_str(&format!("{}\n", cert_line("signer", s)));
        }
        for s in &c.content_certificates {
            out.push_str(&format!("{}\n", cert_line("content certificate", s)));
        }
        out.push_str(&format!(
            "  last sync:    {}\n",
            run_line(c.last_sync.as_ref())
        ));
        out.push_str(&format!("  last success: {}\n", time(c.last_success)));
        out.push_str(&format!("  next sync:    {}\n", next(c.next_sync)));
        let u = &c.updates;
        out.push_str(&format!(
            "  updates:      {} (metadata-only {}, deployable {}, expired {})\n",
            u.total, u.metadata_only, u.deployable, u.expired
        ));
        messages(&mut out, &c.messages);
    }
    let s = &r.update_point;
    out.push_str(&format!(
        "sync (update point): schedule {}\n  last sync:    {}\n  last success: {}\n  next sync:    {}\n",
        s.schedule.as_deref().unwrap_or("none (only `supctl sync`)"),
        run_line(s.last_sync.as_ref()),
        time(s.last_success),
        next(s.next_sync)
    ));
    messages(&mut out, &s.messages);
    if !r.warnings.is_empty() {
        out.push_str("\nWarnings:\n");
        for w in &r.warnings {
            out.push_str(&format!("  [{}] {}: {}\n", w.code, w.scope, w.message));
        }
    }
    out
}

pub fn run(args: StatusArgs) -> anyhow::Result<u8> {
    let (cfg, _) = session::load_config(args.config.path())?;
    let backend = session::open_backend(&cfg, false)?;
    let actual = backend.snapshot()?;
    let runs = backend.sync_runs(10_000)?;
    let msgs = backend.status_messages(1_000)?;
    let next_runs = backend.next_runs()?;
    let report = status::report(&status::Inputs {
        cfg: &cfg,
        actual: &actual,
        runs: &runs,
        messages: &msgs,
        next_runs: &next_runs,
        now: chrono::Utc::now(),
    });
    if args.json {
        crate::outln!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        crate::out!("update server: {}\n{}", backend.describe(), text(&report));
    }
    Ok(if report.healthy { EXIT_OK } else { EXIT_ERROR })
}
