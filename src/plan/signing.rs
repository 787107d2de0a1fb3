//! The WSUS signing certificate: one `signing` action when the certificate in force, or its
//! mode, is not what `[signing]` wants. What to install was prepared before the diff
//! ([`SigningInput`]): a renewal shows both thumbprints, never a silent change.

use serde_json::json;

use super::builder::{Builder, Change, view};
use super::model::{ActionKind, Payload, Severity, SigningInput, SigningInstall};
use crate::store::{Address, SigningSettings};

/// The supctl code of a signing certificate that cannot be used.
pub const UNUSABLE: &str = "signing-certificate";

pub(super) fn plan_signing(b: &mut Builder) {
    let Some(cfg) = &b.inputs.desired.signing else {
        return;
    };
    let mode = cfg.mode;
    let stored = b.inputs.actual.signing.as_ref();
    let in_force = stored.and_then(|s| s.certificate.clone());
    let caps = b.inputs.capabilities;
    let address = Address::signing();
    match b.inputs.signing.clone().unwrap_or(SigningInput::Keep) {
        SigningInput::Problem { message, hint } => {
            b.diagnostic(Severity::Error, UNUSABLE, &address, message, hint);
        }
        SigningInput::Keep => {
            if stored.map(|s| s.mode) == Some(mode) {
                return;
            }
            let settings = SigningSettings {
                mode,
                certificate: in_force,
            };
            let kind = if stored.is_some() {
                ActionKind::Update
            } else {
                ActionKind::Create
            };
            let unsupported =
                (!caps.signing).then(|| b.unsupported("managing the signing certificate"));
            b.push(
                &address,
                Change::new(kind, format!("WSUS signing certificate mode = {mode}"))
                    .after(view(&settings))
                    .payload(Payload::Signing {
                        settings,
                        install: None,
                    })
                    .unsupported(unsupported),
            );
        }
        SigningInput::Install { install, reason } => {
            let (new, after) = match &install {
                SigningInstall::Certificate { certificate, .. } => (
                    Some(certificate.thumbprint()),
                    json!({
                        "mode": mode,
                        "thumbprint": certificate.thumbprint(),
                        "subject": certificate.subject,
                        "not_before": certificate.not_before,
                        "not_after": certificate.not_after,
                    }),
                ),
                SigningInstall::Server => (
                    None,
                    json!({ "mode": mode, "thumbprint": "(made by the server at apply)" }),
                ),
            };
            let kind = if in_force.is_some() {
                ActionKind::Replace
            } else {
                ActionKind::Create
            };
            let reason = match (&in_force, &new) {
                (Some(old), Some(new)) => format!("{reason}: {old} -> {new}"),
                (Some(old), None) => format!("{reason}: {old} -> a new one the server makes"),
                (None, Some(new)) => format!("{reason}: {new}"),
                (None, None) => reason,
            };
            let unsupported =
                (!caps.signing).then(|| b.unsupported("managing the signing certificate"));
            let settings = SigningSettings {
                mode,
                certificate: new,
            };
            b.push(
                &address,
                Change::new(kind, reason)
                    .after(after)
                    .payload(Payload::Signing {
                        settings,
                        install: Some(install),
                    })
                    .unsupported(unsupported),
            );
        }
    }
}
