//! `--target`: which addresses a user may name, which of them name nothing, and the actions
//! a targeted plan keeps: those at or below a target, plus what they depend on.
//!
//! Without the dependencies a targeted publish ran without the approval of the catalog's
//! signer and before the catalog existed; apply runs actions in plan order, so including
//! them is enough to get the order right.

use std::collections::{BTreeMap, BTreeSet};

use super::model::*;
use crate::catalog::acquire::{Acquired, Acquisition};
use crate::config::Config;
use crate::ids::Thumbprint;
use crate::store::{ActualState, Address, CatalogKey, CertKind, Target};

/// A `--target` that is not a plan address.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "`{target}` is not a plan address (catalog.KEY, catalog.KEY.update[ID], certificate[THUMBPRINT], certificate[THUMBPRINT].catalog|content|wsus-signing, sync, signing){}",
    suggestion.as_ref().map(|s| format!("; did you mean `{s}`?")).unwrap_or_default()
)]
pub struct TargetError {
    pub target: String,
    pub suggestion: Option<String>,
}

/// Checks that every target is shaped like a plan address (`certificate` alone, every
/// certificate, is accepted too); a bare word is suggested as the catalog of that key.
pub fn check_syntax(targets: &[Address]) -> Result<(), TargetError> {
    for t in targets {
        let ok = t.as_str() == "certificate" || t.target().is_some();
        if !ok {
            let suggestion = CatalogKey::parse(t.as_str())
                .ok()
                .map(|k| format!("catalog.{k}"));
            return Err(TargetError {
                target: t.to_string(),
                suggestion,
            });
        }
    }
    Ok(())
}

/// An error diagnostic for each target that names nothing in the config, on the server or
/// in the acquired catalogs: a plan for it would say "No changes" and mean nothing.
pub fn unknown(
    targets: &[Address],
    desired: &Config,
    actual: &ActualState,
    catalogs: &BTreeMap<String, Acquired>,
) -> Vec<PlanDiagnostic> {
    let mut out = Vec::new();
    for t in targets {
        let why = match t.target() {
            None if t.as_str() == "certificate" => None,
            None => Some("it is not a plan address".to_string()),
            Some(Target::Catalog(k)) => (!desired.catalogs.contains_key(k.as_str())
                && !actual.catalogs.contains_key(&k))
            .then(|| {
                format!(
                    "no catalog `{k}` in the config or on the server (known: {})",
                    known_catalogs(desired, actual)
                )
            }),
            Some(Target::Update(k, id)) => {
                let stored = actual.updates.get(&id).is_some_and(|u| u.catalog == k);
                let offered = catalogs
                    .get(k.as_str())
                    .is_some_and(|a| match &a.acquisition {
                        Acquisition::Trusted { content, .. } => {
                            content.updates.iter().any(|u| u.id == id)
                        }
                        _ => false,
                    });
                (!stored && !offered).then(|| {
                    format!("catalog.{k} has no update {id} on the server or in the catalog")
                })
            }
            Some(Target::Certificate(thumb, _)) => {
                let configured = desired
                    .catalogs
                    .values()
                    .any(|c| c.signers.contains(&thumb))
                    || desired.certificates.iter().any(|r| r.thumbprint == thumb);
                let stored = !actual.certificates_matching(&thumb).is_empty();
                (!configured && !stored).then(|| {
                    format!("certificate {thumb} is neither in the config nor on the server")
                })
            }
            // Unmanaged when the config has no such table: nothing is planned for it.
            Some(Target::Sync) => desired.sync.is_none().then(|| {
                "the config has no [sync] table, so the update point's synchronization is not managed"
                    .to_string()
            }),
            Some(Target::Signing) => desired.signing.is_none().then(|| {
                "the config has no [signing] table, so the signing certificate is not managed"
                    .to_string()
            }),
            Some(Target::Group(name)) => {
                let configured = desired
                    .approve
                    .iter()
                    .any(|r| r.groups.iter().any(|g| g.eq_ignore_ascii_case(&name)));
                let stored = actual.groups.iter().any(|g| g.name.eq_ignore_ascii_case(&name));
                (!configured && !stored).then(|| {
                    format!("no [[approve]] rule names group `{name}` and the server has no such group")
                })
            }
            Some(Target::Approval(k, id, _)) => {
                let stored = actual.updates.get(&id).is_some_and(|u| u.catalog == k);
                (!stored).then(|| format!("catalog.{k} has no update {id} on the server"))
            }
        };
        if let Some(message) = why {
            out.push(PlanDiagnostic {
                severity: Severity::Error,
                code: "target-unknown".into(),
                address: t.clone(),
                message: format!("--target {t}: {message}"),
                hint: Some(
                    "name an object of the plan: `supctl plan --json` lists every address".into(),
                ),
                blocked: false,
            });
        }
    }
    out
}

fn known_catalogs(desired: &Config, actual: &ActualState) -> String {
    let keys: BTreeSet<&str> = desired
        .catalogs
        .keys()
        .map(String::as_str)
        .chain(actual.catalogs.keys().map(CatalogKey::as_str))
        .collect();
    if keys.is_empty() {
        "none".into()
    } else {
        keys.into_iter().collect::<Vec<_>>().join(", ")
    }
}

/// Keeps the actions at or below the targets and the actions they depend on: a catalog's
/// creation (or update, replacement, subscription) and its signers' approval before its
/// updates are published or revised; an update's publish and the content certificates'
/// approval before it is staged. Diagnostics are kept for what is kept.
pub fn select(plan: &mut Plan, targets: &[Address], desired: &Config) {
    if targets.is_empty() {
        return;
    }
    let targeted: Vec<bool> = plan
        .actions
        .iter()
        .map(|a| targets.iter().any(|t| a.address.is_within(t)))
        .collect();
    // What the targeted actions need.
    let mut catalogs: BTreeSet<CatalogKey> = BTreeSet::new();
    let mut published: BTreeSet<&Address> = BTreeSet::new();
    let mut content_approvals = false;
    for (a, _) in plan.actions.iter().zip(&targeted).filter(|(_, t)| **t) {
        let target = a.address.target();
        match (a.kind, target) {
            (ActionKind::Publish | ActionKind::Revise, Some(Target::Update(k, _))) => {
                catalogs.insert(k);
            }
            (ActionKind::Stage, Some(Target::Update(k, _))) => {
                catalogs.insert(k);
                published.insert(&a.address);
                content_approvals = true;
            }
            (
                ActionKind::Create
                | ActionKind::Update
                | ActionKind::Replace
                | ActionKind::Subscribe,
                Some(Target::Catalog(k)),
            ) => {
                catalogs.insert(k);
            }
            _ => {}
        }
    }
    let signers: BTreeSet<&Thumbprint> = catalogs
        .iter()
        .filter_map(|k| desired.catalogs.get(k.as_str()))
        .flat_map(|c| c.signers.iter())
        .collect();
    let needed = |a: &Action| -> bool {
        let target = a.address.target();
        match (a.kind, target) {
            (
                ActionKind::Create
                | ActionKind::Update
                | ActionKind::Replace
                | ActionKind::Subscribe,
                Some(Target::Catalog(k)),
            ) => catalogs.contains(&k),
            (ActionKind::Publish | ActionKind::Revise, Some(Target::Update(..))) => {
                published.contains(&a.address)
            }
            (ActionKind::Approve, Some(Target::Certificate(t, Some(CertKind::Catalog)))) => {
                signers.contains(&t)
            }
            (ActionKind::Approve, Some(Target::Certificate(_, Some(CertKind::Content)))) => {
                content_approvals
            }
            _ => false,
        }
    };
    let keep: Vec<bool> = plan
        .actions
        .iter()
        .zip(&targeted)
        .map(|(a, t)| *t || needed(a))
        .collect();
    let kept_addresses: BTreeSet<Address> = plan
        .actions
        .iter()
        .zip(&keep)
        .filter(|(_, k)| **k)
        .map(|(a, _)| a.address.clone())
        .collect();
    let mut flags = keep.into_iter();
    plan.actions.retain(|_| flags.next().unwrap_or(false));
    plan.diagnostics.retain(|d| {
        targets.iter().any(|t| d.address.is_within(t)) || kept_addresses.contains(&d.address)
    });
    plan.set_targets(targets);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_checked_and_a_bare_key_is_suggested_as_a_catalog() {
        let ok = |t: &str| check_syntax(&[t.into()]).is_ok();
        assert!(ok("catalog.dell"));
        assert!(ok(
            "catalog.dell.update[c9c7dfac-d9bc-4404-8a30-38d222bf01a7]"
        ));
        assert!(ok(
            "certificate[6D8B3C448B990E269336BB63A47F23498C95EB7D].content"
        ));
        assert!(ok("certificate"));
        assert!(ok("sync"));
        let e = check_syntax(&["lenovo".into()]).unwrap_err();
        assert_eq!(e.suggestion.as_deref(), Some("catalog.lenovo"));
        assert!(
            e.to_string().contains("did you mean `catalog.lenovo`"),
            "{e}"
        );
        assert!(!ok("catalog.dell.bogus"));
        assert!(!ok("certificate[xyz]"));
    }
}
