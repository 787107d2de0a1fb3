//! WSUS's limit on locally published categories, checked before apply.
//!
//! WSUS makes a category per vendor and per product of a vendor of the updates published to
//! it, by any publisher, and client scans fail past 100 of them (Microsoft KB 945536; see
//! [`crate::store::local_categories`]). Admins used to learn that from broken clients; the
//! plan tells them first.
//!
//! Rules, and why:
//! - **Counted against the server**: the categories the server already has (all
//!   publishers, `ActualState::local_categories`) plus those the plan's publishes and
//!   revisions would create. A category the server has is not counted twice, and a
//!   revision's old categories are not subtracted: WSUS may keep them, and over-counting
//!   only errs on the side of a working client scan.
//! - **An error on each catalog responsible**, naming its newcomers (the first few and a
//!   count), the server's count and the limit, with what to do. An error makes `plan` exit
//!   1 and `apply` refuse.
//! - **The actions that would create a category are held back** (with their staging), the
//!   way a suspended catalog's are: a pass of `watch` applies the rest of the plan, and so
//!   cannot pass the limit either. Publishes into categories the server has go ahead.

use std::collections::{BTreeMap, BTreeSet};

use super::model::{ActionKind, Payload, Plan, PlanDiagnostic, Severity};
use crate::store::local_categories::{self, LocalCategory, name_some};
use crate::store::{ActualState, Address, CatalogKey, MAX_LOCAL_CATEGORIES, Target};

/// The diagnostic code of the category limit.
pub const CODE: &str = "category-limit";

/// Checks `plan` against the category limit of the server `actual` describes: when it
/// would pass it, holds back the actions creating categories and adds an error per catalog.
pub fn check(plan: &mut Plan, actual: &ActualState) {
    let existing = &actual.local_categories;
    // Per catalog: the categories its publishes and revisions would create, and by which updates.
    let mut per_catalog: BTreeMap<CatalogKey, BTreeSet<LocalCategory>> = BTreeMap::new();
    let mut creating: BTreeSet<Address> = BTreeSet::new();
    for a in &plan.actions {
        let (ActionKind::Publish | ActionKind::Revise, Some(Payload::Update { record })) =
            (a.kind, &a.payload)
        else {
            continue;
        };
        let Some(Target::Update(catalog, _)) = a.address.target() else {
            continue;
        };
        let new: Vec<LocalCategory> = local_categories::of_update(&record.vendor, &record.products)
            .filter(|c| !existing.contains(c))
            .collect();
        if !new.is_empty() {
            creating.insert(a.address.clone());
            per_catalog.entry(catalog).or_default().extend(new);
        }
    }
    let all: BTreeSet<&LocalCategory> = per_catalog.values().flatten().collect();
    let total = existing.len() + all.len();
    if all.is_empty() || total <= MAX_LOCAL_CATEGORIES {
        return;
    }
    let held = |key: &CatalogKey| {
        creating
            .iter()
            .filter(|a| matches!(a.target(), Some(Target::Update(k, _)) if &k == key))
            .count()
    };
    let diagnostics: Vec<PlanDiagnostic> = per_catalog
        .iter()
        .map(|(key, new)| PlanDiagnostic {
            severity: Severity::Error,
            code: CODE.into(),
            address: Address::catalog(key),
            message: format!(
                "publishing catalog {key} would create {} new locally published categories ({}); the server has {} and this plan would bring it to {total}, past WSUS's limit of {MAX_LOCAL_CATEGORIES} (Microsoft KB 945536: client scans fail past it). Its {} updates that create them are held back",
                new.len(),
                name_some(new),
                existing.len(),
                held(key),
            ),
            hint: Some(format!(
                "narrow `categories` of [catalog.{key}] to the products you deploy, or decline and delete the updates of vendors and products no longer used (any publisher's), then plan again"
            )),
            blocked: false,
        })
        .collect();
    plan.retain(|a| !creating.contains(&a.address), |_| true);
    plan.note(diagnostics);
}

#[cfg(test)]
#[path = "limits_tests.rs"]
mod tests;
