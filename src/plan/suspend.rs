//! Suspended catalogs (`suspend = true`): frozen, as Flux's `suspend` freezes a
//! reconciliation while an incident is handled or a vendor's catalog is broken.
//!
//! Rules, and why:
//! - **A suspended catalog is not acquired unless it is named** (`supctl sync KEY`,
//!   `--target catalog.KEY`): an admin who suspends a vendor does not want its URL fetched
//!   either. `reconcile::acquire_all` keeps this rule; this module keeps the next one.
//! - **Nothing in its scope is planned**: not its settings, not its updates (no publish,
//!   no expiry, no prune), whatever the config says about it meanwhile. Its state on the
//!   server stays as it is; certificates are planned as usual (they are shared).
//! - **The plan says so**, one note per suspended catalog with how to resume, so a reviewer
//!   never mistakes a frozen catalog for one in sync.
//! - **Named explicitly, it is planned like any other**: the suspension stops automation,
//!   not an admin.

use std::collections::BTreeMap;

use super::model::{Plan, PlanDiagnostic, Severity};
use crate::catalog::acquire::Acquired;
use crate::config::Config;
use crate::store::{Address, CatalogKey};

/// The catalogs frozen in this plan: suspended and not acquired.
pub fn frozen(cfg: &Config, acquired: &BTreeMap<String, Acquired>) -> Vec<CatalogKey> {
    cfg.catalogs
        .values()
        .filter(|c| c.suspend && !acquired.contains_key(&c.key))
        .filter_map(|c| CatalogKey::parse(&c.key).ok())
        .collect()
}

/// Whether `address` lies in one of the catalog `scopes` (their addresses).
pub(super) fn in_scope(scopes: &[Address], address: &Address) -> bool {
    scopes.iter().any(|s| address.is_within(s))
}

/// Drops what the plan would do in frozen catalogs and notes each one.
pub fn hold(plan: &mut Plan, cfg: &Config, acquired: &BTreeMap<String, Acquired>) {
    let frozen = frozen(cfg, acquired);
    if frozen.is_empty() {
        return;
    }
    let scopes: Vec<Address> = frozen.iter().map(Address::catalog).collect();
    plan.retain(
        |a| !in_scope(&scopes, &a.address),
        |d| !in_scope(&scopes, &d.address),
    );
    plan.note(frozen.iter().map(|key| PlanDiagnostic {
            severity: Severity::Info,
            code: "suspended".into(),
            address: Address::catalog(key),
            message: format!(
                "catalog {key} is suspended (`suspend = true`): not acquired or planned; it stays on the server as it is"
            ),
            hint: Some(format!(
                "remove `suspend = true` to resume it, or run `supctl sync {key}` to synchronize it once"
            )),
            blocked: false,
        }));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_scope_covers_its_catalog_and_updates_only() {
        let at = |s: &str| Address::parse(s).unwrap();
        let frozen = [at("catalog.hp")];
        assert!(in_scope(&frozen, &at("catalog.hp")));
        assert!(in_scope(
            &frozen,
            &at("catalog.hp.update[c9c7dfac-d9bc-4404-8a30-38d222bf01a7]")
        ));
        assert!(!in_scope(&frozen, &at("catalog.hpe")), "another catalog");
        assert!(!in_scope(&frozen, &at("sync")));
    }
}
