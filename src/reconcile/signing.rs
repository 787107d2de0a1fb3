//! The signing certificate, made ready before the diff: the admin's PFX or PEM is read and
//! checked, a managed certificate due for renewal (or missing) is made, so the planner (which
//! does no I/O) can show the thumbprint apply will install.
//!
//! A managed candidate is kept in `<state>/signing/pending/` and reused by later plans while
//! it is fit, so re-planning does not churn thumbprints; the key never enters the plan.

use chrono::{DateTime, Duration, Utc};

use crate::config::Config;
use crate::ids::Thumbprint;
use crate::plan::{KeySource, SigningInput, SigningInstall};
use crate::signing::{KeyDir, ManualSource, SigningMaterial, check, generate, load};
use crate::store::{ActualState, CertKind, SigningMode, Store};

/// What the plan is to do about `[signing]`; `None` without one.
pub fn prepare(
    cfg: &Config,
    store: &Store,
    actual: &ActualState,
    now: DateTime<Utc>,
) -> Option<SigningInput> {
    let s = cfg.signing.as_ref()?;
    let in_force = actual.signing.as_ref().and_then(|x| x.certificate.clone());
    let facts = in_force.as_ref().and_then(|t| {
        actual
            .certificates
            .iter()
            .find(|c| c.kind == CertKind::WsusSigning && c.matches(t))
            .and_then(|c| c.facts.clone())
    });
    Some(match s.mode {
        SigningMode::Manual => {
            let Some(certificate) = s.certificate.clone() else {
                return Some(problem("`mode = \"manual\"` needs `signing.certificate`"));
            };
            manual(
                ManualSource {
                    certificate,
                    key: s.key.clone(),
                    password_env: s.password_env.clone(),
                },
                in_force.as_ref(),
                now,
            )
        }
        SigningMode::Managed => {
            let renew = Duration::days(i64::from(s.renew_before_days));
            let reason = match (&in_force, &facts) {
                (None, _) => "no signing certificate in force".to_string(),
                (Some(_), Some(f)) if f.not_after - now <= renew => format!(
                    "renewal: the certificate in force expires {}, within renew_before_days = {}",
                    f.not_after.format("%Y-%m-%d"),
                    s.renew_before_days
                ),
                // Valid long enough, or (WSUS) kept by the server, whose expiry it watches.
                _ => return Some(SigningInput::Keep),
            };
            if store.capabilities().signing_key_on_server {
                return Some(SigningInput::Install {
                    install: SigningInstall::Server,
                    reason,
                });
            }
            managed(cfg, store, renew, s.validity_days, reason, now)
        }
    })
}

fn problem(message: impl Into<String>) -> SigningInput {
    SigningInput::Problem {
        message: message.into(),
        hint: None,
    }
}

fn manual(src: ManualSource, in_force: Option<&Thumbprint>, now: DateTime<Utc>) -> SigningInput {
    let m = match load(&src, |v| std::env::var(v).ok()) {
        Ok(m) => m,
        Err(e) => return problem(e.to_string()),
    };
    if let Err(problems) = check(&m.certificate.der, &m.key, now) {
        return SigningInput::Problem {
            message: format!(
                "{} ({}) cannot sign WSUS content: {problems}",
                src.certificate.display(),
                m.certificate.subject
            ),
            hint: Some(
                "point signing.certificate at a usable certificate, or use mode = \"managed\""
                    .into(),
            ),
        };
    }
    if in_force.is_some_and(|t| m.certificate.matches(t)) {
        return SigningInput::Keep;
    }
    let reason = if in_force.is_some() {
        "signing.certificate names another certificate"
    } else {
        "no signing certificate in force"
    };
    SigningInput::Install {
        install: SigningInstall::Certificate {
            certificate: Box::new(m.certificate),
            key: KeySource::Manual(src),
        },
        reason: reason.to_string(),
    }
}

fn managed(
    cfg: &Config,
    store: &Store,
    renew: Duration,
    validity_days: u32,
    reason: String,
    now: DateTime<Utc>,
) -> SigningInput {
    let keys = KeyDir::new(&cfg.server.path);
    let fit = |m: &SigningMaterial| {
        check(&m.certificate.der, &m.key, now).is_ok() && m.certificate.not_after - now > renew
    };
    let m = match keys.pending().into_iter().find(fit) {
        Some(m) => m,
        None => {
            let point = match store.identity() {
                Ok(i) => format!("{} {}", i.backend, i.location),
                Err(_) => store.name().to_string(),
            };
            let made = generate(&point, validity_days, now);
            match made.and_then(|m| keys.put_pending(&m).map(|_| m)) {
                Ok(m) => m,
                Err(e) => return problem(e.to_string()),
            }
        }
    };
    let key_file = keys.pending_key_path(&m.certificate.thumbprint());
    SigningInput::Install {
        install: SigningInstall::Certificate {
            certificate: Box::new(m.certificate),
            key: KeySource::Generated { key_file },
        },
        reason,
    }
}
