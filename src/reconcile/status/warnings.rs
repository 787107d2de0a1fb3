//! The warnings of the status report: certificates expiring (content certificates grouped
//! per catalog, the WSUS signing certificate), syncs overdue, a changed signer, findings of
//! passes (drift, held back), an interrupted apply, and clients given another signing
//! certificate than the one in force.

use chrono::{DateTime, Duration, Utc};

use super::{
    CatalogStatus, CertStatus, EXPIRY_WARNING_DAYS, FindingStatus, Inputs, InterruptedApply,
    Warning,
};
use crate::schedule::Schedule;
use crate::store::FindingKind;

/// "expired on DATE" or "expires on DATE (in N days)": how the report and `doctor` say it.
pub(crate) fn when(end: DateTime<Utc>, now: DateTime<Utc>) -> String {
    if end <= now {
        format!("expired on {}", end.format("%Y-%m-%d"))
    } else {
        format!(
            "expires on {} (in {} days)",
            end.format("%Y-%m-%d"),
            (end - now).num_days()
        )
    }
}

/// One warning for all of a catalog's expiring content certificates that matter: approved
/// ones, and those pending approval when the catalog stages content (a catalog that stages
/// nothing needs none of them). A vendor catalog can ship dozens; one line each drowned
/// everything else.
fn content_certificates(inp: &Inputs<'_>, st: &CatalogStatus, scope: &str, out: &mut Vec<Warning>) {
    let horizon = inp.now + Duration::days(EXPIRY_WARNING_DAYS);
    let stages = crate::config::stages_content(inp.cfg, &st.key);
    let expiring: Vec<(&CertStatus, DateTime<Utc>)> = st
        .content_certificates
        .iter()
        .filter(|c| match c.state.as_deref() {
            Some("approved") => true,
            None => stages,
            _ => false,
        })
        .filter_map(|c| c.not_after.filter(|e| *e <= horizon).map(|e| (c, e)))
        .collect();
    let message = match &expiring[..] {
        [] => return,
        [(c, end)] => format!(
            "catalog {} content certificate {} ({}{}) {}",
            st.key,
            c.thumbprint,
            c.subject.as_deref().unwrap_or("subject unknown"),
            if c.state.is_none() {
                ", pending approval"
            } else {
                ""
            },
            when(*end, inp.now)
        ),
        many => {
            let approved = many.iter().filter(|(c, _)| c.state.is_some()).count();
            let expired = many.iter().filter(|(_, e)| *e <= inp.now).count();
            let expired = if expired == many.len() {
                "all expired".to_string()
            } else {
                format!("{expired} expired")
            };
            format!(
                "catalog {}: {} content certificates expired or expire within {EXPIRY_WARNING_DAYS} days ({approved} approved, {} pending approval; {expired}); `supctl status --json` lists them",
                st.key,
                many.len(),
                many.len() - approved
            )
        }
    };
    out.push(Warning {
        code: "certificate-expiring",
        scope: scope.to_string(),
        message,
    });
}

pub(super) fn catalog(
    inp: &Inputs<'_>,
    st: &CatalogStatus,
    schedule: Option<&Schedule>,
    out: &mut Vec<Warning>,
) {
    let scope = format!("catalog.{}", st.key);
    let horizon = inp.now + Duration::days(EXPIRY_WARNING_DAYS);
    for c in &st.signers {
        if let Some(end) = c.not_after.filter(|e| *e <= horizon) {
            out.push(Warning {
                code: "certificate-expiring",
                scope: scope.clone(),
                message: format!(
                    "catalog {} signer {} ({}) {}",
                    st.key,
                    c.thumbprint,
                    c.subject.as_deref().unwrap_or("subject unknown"),
                    when(end, inp.now)
                ),
            });
        }
    }
    content_certificates(inp, st, &scope, out);
    if let Some(period) = schedule.map(|s| s.nominal_period()) {
        let since = st.last_success.or_else(|| {
            inp.runs
                .iter()
                .filter(|r| r.scope.as_str() == scope)
                .map(|r| r.started)
                .min()
        });
        if let Some(since) = since.filter(|s| inp.now - *s > period * 2) {
            let what = if st.last_success.is_some() {
                format!(
                    "last synced successfully at {}",
                    since.format("%Y-%m-%dT%H:%M:%SZ")
                )
            } else {
                format!(
                    "has never synced successfully (first attempt {})",
                    since.format("%Y-%m-%dT%H:%M:%SZ")
                )
            };
            out.push(Warning {
                code: "sync-overdue",
                scope: scope.clone(),
                message: format!(
                    "catalog {} {what}: more than twice its interval ({})",
                    st.key,
                    schedule.map(|s| s.to_string()).unwrap_or_default()
                ),
            });
        }
    }
    let changed = inp.messages.iter().find(|m| {
        m.message.number == 11508
            && m.address.as_ref().is_some_and(|a| a.as_str() == scope)
            && m.message.text.contains(crate::status::SIGNER_CHANGED)
            && st.last_success.is_none_or(|ok| m.at > ok)
    });
    if let Some(m) = changed {
        out.push(Warning {
            code: "signer-changed",
            scope,
            message: format!("11508: {}", m.message.text),
        });
    }
}

/// Drift left alone and plans held back, one warning each.
pub(super) fn findings(findings: &[FindingStatus], out: &mut Vec<Warning>) {
    for f in findings {
        let (code, what) = match f.kind {
            FindingKind::Drift => ("drift", "drifts from the config"),
            FindingKind::HeldBack => ("held-back", "is held back by the deletion budget"),
        };
        out.push(Warning {
            code,
            scope: f.scope.clone(),
            message: format!(
                "{} {what} since {}: {}",
                f.scope,
                f.since.format("%Y-%m-%dT%H:%M:%SZ"),
                f.summary
            ),
        });
    }
}

/// The last apply stopped with actions not attempted.
pub(super) fn interrupted(i: Option<&InterruptedApply>, out: &mut Vec<Warning>) {
    let Some(i) = i else { return };
    let next = match &i.lock_holder {
        Some(h) => format!("{h} holds the state lock and may be running it now"),
        None => {
            "run `supctl apply --resume` (a `watch` in auto-correct mode resumes it when it starts)"
                .into()
        }
    };
    out.push(Warning {
        code: "apply-interrupted",
        scope: "apply".into(),
        message: format!(
            "plan {} stopped after {} of {} actions (last at {}); {next}",
            i.plan,
            i.done,
            i.actions,
            i.last_action.format("%Y-%m-%dT%H:%M:%SZ")
        ),
    });
}

/// How long before a manual (or unmanaged) signing certificate expires `status` says so.
const MANUAL_SIGNING_WARNING_DAYS: i64 = 30;
/// A managed certificate is renewed `renew_before_days` before it expires; the warning comes
/// a week earlier, so a renewal that does not happen (no apply runs) is noticed.
const MANAGED_SIGNING_LEAD_DAYS: i64 = 7;

/// How far ahead the WSUS signing certificate's expiry is a problem, and what to do about
/// it: the one rule `status` and `doctor` share.
pub(crate) fn signing_horizon(cfg: &crate::config::Config) -> (Duration, String) {
    match cfg.signing.as_ref() {
        Some(s) if s.mode == crate::store::SigningMode::Managed => (
            Duration::days(i64::from(s.renew_before_days) + MANAGED_SIGNING_LEAD_DAYS),
            format!(
                "supctl renews it {} days before it expires: make sure an apply runs",
                s.renew_before_days
            ),
        ),
        _ => (
            Duration::days(MANUAL_SIGNING_WARNING_DAYS),
            "replace it (signing.certificate), apply, and give clients the new one (`supctl trust export`)"
                .to_string(),
        ),
    }
}

/// The WSUS signing certificate: expiring (clients refuse content it signs once it expires),
/// and changed since `trust export` last gave clients one (they will not trust the new one).
pub(super) fn signing(inp: &Inputs<'_>, out: &mut Vec<Warning>) {
    let Some(t) = inp
        .actual
        .signing
        .as_ref()
        .and_then(|s| s.certificate.clone())
    else {
        return;
    };
    let facts = inp
        .actual
        .certificates
        .iter()
        .filter(|c| c.kind == crate::store::CertKind::WsusSigning && c.matches(&t))
        .find_map(|c| c.facts.as_ref());
    if let Some(f) = facts {
        let (horizon, fix) = signing_horizon(inp.cfg);
        if f.not_after <= inp.now + horizon {
            out.push(Warning {
                code: "certificate-expiring",
                scope: "signing".into(),
                message: format!(
                    "the WSUS signing certificate {t} ({}) {}; {fix}",
                    f.subject,
                    when(f.not_after, inp.now)
                ),
            });
        }
    }
    if let Some(e) = inp.exported.filter(|e| e.thumbprint != t) {
        out.push(Warning {
            code: "trust-outdated",
            scope: "signing".into(),
            message: format!(
                "clients were last given signing certificate {} (`supctl trust export` at {} into {}), but {t} is in force: export again and redistribute, or clients refuse the content it signs",
                e.thumbprint,
                e.at.format("%Y-%m-%dT%H:%M:%SZ"),
                e.dir.display()
            ),
        });
    }
}
