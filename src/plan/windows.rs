//! Catalogs a sync window keeps closed (`[[window]]`, decided by `reconcile::windows`):
//! their changes are planned and shown, not applied.
//!
//! Rules, and why:
//! - **Held, not dropped from sight**: the held actions come back as a plan of their own,
//!   which the pass records as drift left alone (as monitor-only does), so `status` and the
//!   page show what waits for the window.
//! - **One note per closed catalog** with the window's reason and when it opens, so the
//!   daemon's log and a saved plan say why nothing happened.
//! - **Everything else applies**: certificates, the update point's sync and the open
//!   catalogs are not held by another catalog's window.

use std::collections::BTreeMap;

use super::model::{Plan, PlanDiagnostic, Severity};
use super::suspend::in_scope;
use crate::store::{Address, CatalogKey};

/// Takes the actions of the `closed` catalogs (key → why) out of `plan`, notes each closed
/// catalog that had any, and returns the held actions as a plan of their own.
pub fn hold(plan: &mut Plan, closed: &BTreeMap<String, String>) -> Plan {
    let scopes: Vec<Address> = closed
        .keys()
        .filter_map(|k| CatalogKey::parse(k).ok())
        .map(|k| Address::catalog(&k))
        .collect();
    let mut held = plan.clone();
    held.retain(|a| in_scope(&scopes, &a.address), |_| false);
    if held.actions.is_empty() {
        return held;
    }
    plan.retain(|a| !in_scope(&scopes, &a.address), |_| true);
    let notes: Vec<PlanDiagnostic> = closed
        .iter()
        .filter_map(|(key, why)| {
            let address = Address::catalog(&CatalogKey::parse(key).ok()?);
            let n = held
                .actions
                .iter()
                .filter(|a| a.address.is_within(&address))
                .count();
            (n > 0).then(|| PlanDiagnostic {
                severity: Severity::Info,
                code: "window-closed".into(),
                address,
                message: format!("catalog {key}: {n} change(s) planned, not applied: {why}"),
                hint: Some(format!(
                    "they apply when the window opens; `supctl sync {key}` applies them now if the window sets `manual_sync = true`"
                )),
                blocked: false,
            })
        })
        .collect();
    plan.note(notes);
    held
}
