//! Certificate roles: approvals and blocks from `[[certificate]]` rules and catalog signers.

use std::collections::BTreeMap;

use serde_json::json;

use super::builder::{Builder, Change};
use super::model::*;
use crate::catalog::acquire::Acquisition;
use crate::config::Config;
use crate::ids::Thumbprint;
use crate::store::{Address, CertKind, CertState};

/// Desired certificate roles: `[[certificate]]` rules plus every subscribed catalog's signers.
fn desired_certificates(desired: &Config) -> BTreeMap<(Thumbprint, CertKind), (CertState, String)> {
    let mut out = BTreeMap::new();
    for c in desired.catalogs.values().filter(|c| c.subscribed) {
        for s in &c.signers {
            out.insert(
                (s.clone(), CertKind::Catalog),
                (CertState::Approved, format!("signer of catalog.{}", c.key)),
            );
        }
    }
    for r in &desired.certificates {
        out.insert(
            (r.thumbprint.clone(), r.kind),
            (r.state, "[[certificate]] rule".to_string()),
        );
    }
    out
}

/// The certificate's facts when some acquired catalog carries it (signer or content certificate).
fn known_certificate(b: &Builder, t: &Thumbprint) -> Option<crate::trust::CertificateInfo> {
    b.inputs
        .catalogs
        .values()
        .find_map(|a| match &a.acquisition {
            Acquisition::Trusted {
                content, report, ..
            } => report
                .signers
                .iter()
                .map(|s| &s.certificate)
                .chain(content.content_certificates.iter())
                .find(|c| c.matches(t))
                .cloned(),
            Acquisition::Untrusted { report } => report
                .signers
                .iter()
                .map(|s| &s.certificate)
                .find(|c| c.matches(t))
                .cloned(),
            _ => None,
        })
}

pub(super) fn plan_certificates(b: &mut Builder) {
    let desired = desired_certificates(b.inputs.desired);
    for ((thumb, kind), (state, why)) in &desired {
        let stored = b
            .inputs
            .actual
            .certificates_matching(thumb)
            .into_iter()
            .find(|c| c.kind == *kind);
        if stored.is_some_and(|c| c.state == *state) {
            continue;
        }
        let address = Address::certificate_role(thumb, *kind);
        let info = known_certificate(b, thumb);
        let mut after = json!({ "thumbprint": thumb, "kind": kind, "state": state });
        if let Some(i) = &info {
            after["subject"] = json!(i.subject);
            after["not_after"] = json!(i.not_after);
        }
        let action = if *state == CertState::Approved {
            ActionKind::Approve
        } else {
            ActionKind::Block
        };
        let reason = match stored {
            Some(s) => format!("{why}: {} -> {state}", s.state),
            None => format!("{why}: new {kind} certificate"),
        };
        let payload = Payload::Certificate {
            thumbprint: thumb.clone(),
            kind: *kind,
            state: Some(*state),
            info: info.map(Box::new),
        };
        b.push(
            &address,
            Change::new(action, reason).after(after).payload(payload),
        );
    }
    let inventory = &b.inputs.actual.inventory;
    let stale: Vec<_> = b
        .inputs
        .actual
        .certificates
        .iter()
        .filter(|c| !desired.keys().any(|(t, k)| *k == c.kind && c.matches(t)))
        .filter(|c| inventory.contains_key(&Address::certificate(&c.thumbprint)))
        .map(|c| (c.thumbprint.clone(), c.kind))
        .collect();
    for (thumb, kind) in stale {
        let payload = Payload::Certificate {
            thumbprint: thumb.clone(),
            kind,
            state: None,
            info: None,
        };
        b.push(
            &Address::certificate_role(&thumb, kind),
            Change::new(
                ActionKind::Delete,
                format!("{kind} certificate no longer in the config"),
            )
            .payload(payload),
        );
    }
}
