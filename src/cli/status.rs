//! `supctl status`: per catalog and for the update point, the last and next sync, update
//! counts, certificates and status messages, drift and held-back plans, an interrupted
//! apply, plus supctl's warnings. Read-only: it never takes the state lock, so it works
//! while `watch` runs. Exit 1 when a subscribed catalog's last sync failed or a plan is
//! held back by `max_deletions`.

use clap::Args;

use super::{EXIT_ERROR, EXIT_OK, session};
use chrono::{DateTime, Utc};

use crate::reconcile::status::{self, CertStatus, FindingStatus, MessageStatus, Report, RunStatus};
use crate::store::{StoreLocation, lock::read_owner};

/// More content certificates than this are summarised in one line (`--json` lists them).
const CERT_LINES: usize = 3;

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

/// `expires …`, `expired …`, or that supctl has not seen the certificate (never "never").
fn expiry(not_after: Option<DateTime<Utc>>, now: DateTime<Utc>) -> String {
    match not_after {
        Some(t) if t <= now => format!("EXPIRED {}", time(Some(t))),
        Some(t) => format!("expires {}", time(Some(t))),
        None => "expiry unknown".into(),
    }
}

fn cert_line(what: &str, c: &CertStatus, now: DateTime<Utc>) -> String {
    format!(
        "  {what} {} ({}), {}, {}",
        c.thumbprint,
        c.subject.as_deref().unwrap_or("not seen yet"),
        expiry(c.not_after, now),
        c.state.as_deref().unwrap_or("pending approval")
    )
}

/// `38 content certificates: 2 approved, 36 pending approval; 38 expired`.
fn certs_summary(certs: &[CertStatus], now: DateTime<Utc>) -> String {
    let count = |state: Option<&str>| certs.iter().filter(|c| c.state.as_deref() == state).count();
    let mut states = vec![];
    for (state, word) in [
        (Some("approved"), "approved"),
        (Some("blocked"), "blocked"),
        (None, "pending approval"),
    ] {
        let n = count(state);
        if n > 0 {
            states.push(format!("{n} {word}"));
        }
    }
    let expired = certs
        .iter()
        .filter(|c| c.not_after.is_some_and(|t| t <= now))
        .count();
    let expired = match expired {
        0 => "none expired".to_string(),
        n if n == certs.len() => "all expired".to_string(),
        n => format!("{n} expired"),
    };
    format!(
        "  content certificates: {} ({}; {expired})",
        certs.len(),
        states.join(", ")
    )
}

fn findings(out: &mut String, f: &[FindingStatus], scope: impl Fn(&str) -> bool) {
    for f in f.iter().filter(|f| scope(&f.scope)) {
        let what = match f.kind {
            crate::store::FindingKind::Drift => "drift",
            crate::store::FindingKind::HeldBack => "held back",
        };
        out.push_str(&format!(
            "  {what:13} since {}{}: {}\n",
            time(Some(f.since)),
            if f.scope.starts_with("catalog.") {
                String::new()
            } else {
                format!(" ({})", f.scope)
            },
            f.summary
        ));
    }
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
/// The approved updates, one line each, with the computers' counts where WSUS gave them.
fn approvals(out: &mut String, list: &[crate::reconcile::status::ApprovedUpdate]) {
    if list.is_empty() {
        return;
    }
    out.push_str(&format!("approvals: {} update(s)\n", list.len()));
    for a in list {
        out.push_str(&format!(
            "  {}{}: {}{}\n",
            a.title,
            a.catalog
                .as_ref()
                .map(|k| format!(" (catalog.{k})"))
                .unwrap_or_default(),
            a.approved_for.join(", "),
            a.compliance
                .map(|c| format!(
                    "; needed {}, installed {}, failed {}",
                    c.needed, c.installed, c.failed
                ))
                .unwrap_or_default()
        ));
    }
}

pub(super) fn text(r: &Report) -> String {
    let mut out = String::new();
    for c in &r.catalogs {
        out.push_str(&format!(
            "catalog.{} ({}): {}, schedule {}\n",
            c.key,
            c.name,
            match (c.subscribed, c.suspended) {
                (true, true) => "subscribed, suspended",
                (true, false) => "subscribed",
                _ => "not subscribed",
            },
            c.schedule.as_deref().unwrap_or("none")
        ));
        for s in &c.signers {
            out.push_str(&format!("{}\n", cert_line("signer", s, r.generated)));
        }
        if let Some(w) = &c.window {
            let next = w
                .next_change
                .map(|t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string());
            out.push_str(&match (w.open, &w.reason, next) {
                (true, _, Some(t)) => format!("  sync window: open, closes {t}\n"),
                (true, _, None) => "  sync window: open\n".to_string(),
                (false, r, Some(t)) => format!(
                    "  sync window: closed ({}), opens {t}\n",
                    r.as_deref().unwrap_or("")
                ),
                (false, r, None) => {
                    format!("  sync window: closed ({})\n", r.as_deref().unwrap_or(""))
                }
            });
        }
        if c.content_certificates.len() > CERT_LINES {
            out.push_str(&format!(
                "{}\n",
                certs_summary(&c.content_certificates, r.generated)
            ));
        } else {
            for s in &c.content_certificates {
                out.push_str(&format!(
                    "{}\n",
                    cert_line("content certificate", s, r.generated)
                ));
            }
        }
        out.push_str(&format!(
            "  last sync:    {}\n",
            run_line(c.last_sync.as_ref())
        ));
        out.push_str(&format!("  last success: {}\n", time(c.last_success)));
        out.push_str(&format!("  next sync:    {}\n", next(c.next_sync)));
        if let Some(rev) = &c.revision {
            out.push_str(&format!(
                "  revision:     sha256 {} ({} format){}, in force since {}\n",
                rev.cab_sha256.to_hex(),
                rev.format.as_str(),
                rev.etag
                    .as_deref()
                    .map(|e| format!(", ETag {e}"))
                    .unwrap_or_default(),
                time(Some(rev.at))
            ));
        }
        let u = &c.updates;
        out.push_str(&format!(
            "  updates:      {} (metadata-only {}, deployable {}, expired {}{}{}{})\n",
            u.total,
            u.metadata_only,
            u.deployable,
            u.expired,
            if u.declined > 0 {
                format!(", declined {}", u.declined)
            } else {
                String::new()
            },
            if u.deselected > 0 {
                format!("; {} of them deselected", u.deselected)
            } else {
                String::new()
            },
            if u.superseded > 0 {
                format!("; {} superseded", u.superseded)
            } else {
                String::new()
            }
        ));
        let scope = format!("catalog.{}", c.key);
        findings(&mut out, &r.findings, |s| s == scope);
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
    findings(&mut out, &r.findings, |s| !s.starts_with("catalog."));
    messages(&mut out, &s.messages);
    approvals(&mut out, &r.approvals);
    if let Some(i) = &r.interrupted_apply {
        out.push_str(&format!(
            "interrupted apply: plan {}, {} of {} actions done, last at {}{}\n",
            i.plan,
            i.done,
            i.actions,
            time(Some(i.last_action)),
            match &i.lock_holder {
                Some(h) => format!("; {h} holds the state lock"),
                None => "; `supctl apply --resume` continues it".into(),
            }
        ));
    }
    if !r.warnings.is_empty() {
        out.push_str("\nWarnings:\n");
        for w in &r.warnings {
            out.push_str(&format!("  [{}] {}: {}\n", w.code, w.scope, w.message));
        }
    }
    out
}

pub(super) fn run(args: StatusArgs) -> anyhow::Result<u8> {
    let (cfg, _) = session::load_config(args.config.path())?;
    let backend = session::open_backend(&cfg, false)?;
    let now = Utc::now();
    let holder = read_owner(&StoreLocation::new(&cfg.server.path))
        .ok()
        .flatten()
        .filter(|o| !o.is_stale(now))
        .map(|o| format!("supctl {} (pid {} on {})", o.command, o.pid, o.host));
    let loaded = status::load(&cfg, &backend, 10_000, 1_000, holder)?;
    let report = status::report(&loaded.inputs(&cfg, now));
    if args.json {
        crate::outln!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        crate::out!("update server: {}\n{}", backend.describe(), text(&report));
    }
    Ok(if report.healthy { EXIT_OK } else { EXIT_ERROR })
}
