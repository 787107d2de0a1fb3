//! Completing a saved plan before it is applied: the package XML its publish and revise
//! payloads refer to (`plan::package_ref`), read again from the catalog CABs the plan was
//! made from.
//!
//! Each catalog's CAB is the fetch cache's copy, which must still have the SHA-256 the plan
//! recorded (`Plan::sources`) and pass the catalog's signature gate under today's config
//! (`acquire::reparse_cached`: signature first, no XML read from an unverified file); each
//! package must be there with the content hash the plan named. Anything else refuses the
//! whole plan before a change is made, naming the first update it affects: publishing
//! other bytes than the reviewed ones is exactly what a saved plan promises not to do.
//! A plan made in memory (`apply --auto-approve`, the daemon's passes) already holds its
//! records and passes through untouched.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::Utc;

use crate::catalog::acquire::{Gate, ReparseError, reparse_cached};
use crate::catalog::fetch::Fetcher;
use crate::catalog::sdp::KeepXml;
use crate::config::Config;
use crate::ids::{Sha256, UpdateId};
use crate::plan::{Payload, Plan};
use crate::store::{Address, Target};

/// Why a saved plan's packages could not be read again; each names the update.
#[derive(Debug, thiserror::Error)]
pub enum HydrateError {
    #[error(
        "cannot apply {update}: the plan does not record which CAB of catalog `{catalog}` it was made from (a plan from another version of supctl?); make the plan again with `supctl plan`"
    )]
    NoSource { update: String, catalog: String },
    #[error(
        "cannot apply {update}: catalog `{catalog}` is not in the config any more; make the plan again with `supctl plan`"
    )]
    NotConfigured { update: String, catalog: String },
    #[error(
        "cannot apply {update}: the CAB of catalog `{catalog}` the plan was made from cannot be read again: {reason}; make the plan again with `supctl plan`"
    )]
    Unavailable {
        update: String,
        catalog: String,
        #[source]
        reason: Box<ReparseError>,
    },
    #[error(
        "cannot apply {update}: the CAB of catalog `{catalog}` the plan was made from no longer holds this package; make the plan again with `supctl plan`"
    )]
    PackageMissing { update: String, catalog: String },
    #[error(
        "cannot apply {update}: its package in the CAB of catalog `{catalog}` is not the one planned (content hash {found}, planned {expected}); make the plan again with `supctl plan`"
    )]
    PackageChanged {
        update: String,
        catalog: String,
        expected: Sha256,
        found: Sha256,
    },
}

/// True when `plan` holds payloads that are references (a plan read from a file).
pub fn needs_packages(plan: &Plan) -> bool {
    plan.actions
        .iter()
        .any(|a| matches!(&a.payload, Some(Payload::Update { record }) if record.is_summary()))
}

/// Replaces every reference payload of `plan` by the package read from its catalog's CAB,
/// or changes nothing and names the first update it could not complete. Blocking (it
/// verifies and parses CABs).
pub fn complete_saved(
    cfg: &Config,
    fetcher: &Fetcher,
    plan: &mut Plan,
) -> Result<(), HydrateError> {
    // Per catalog: the updates wanted, with the address (for errors) and the planned hash.
    let mut wanted: BTreeMap<String, HashMap<UpdateId, (Address, Sha256)>> = BTreeMap::new();
    for a in &plan.actions {
        if let (Some(Payload::Update { record }), Some(Target::Update(key, id))) =
            (&a.payload, a.address.target())
            && record.is_summary()
        {
            wanted
                .entry(key.to_string())
                .or_default()
                .insert(id, (a.address.clone(), record.content_hash()));
        }
    }
    let now = Utc::now();
    let mut found = HashMap::new();
    for (key, ids) in wanted {
        // Errors name the first of the catalog's updates, in address order.
        let Some(first) = ids
            .values()
            .map(|(address, _)| address)
            .min_by_key(|a| a.to_string())
            .cloned()
        else {
            continue;
        };
        let c = cfg
            .catalogs
            .get(&key)
            .ok_or_else(|| HydrateError::NotConfigured {
                update: first.to_string(),
                catalog: key.clone(),
            })?;
        let expected = *plan
            .sources
            .get(&key)
            .ok_or_else(|| HydrateError::NoSource {
                update: first.to_string(),
                catalog: key.clone(),
            })?;
        let unavailable = |reason| HydrateError::Unavailable {
            update: first.to_string(),
            catalog: key.clone(),
            reason: Box::new(reason),
        };
        let cab = fetcher
            .cached_catalog(&key)
            .map_err(|e| unavailable(ReparseError::Cache(e)))?;
        let wanted: HashSet<UpdateId> = ids.keys().cloned().collect();
        let keep = KeepXml::Only(&wanted);
        let (content, _) =
            reparse_cached(&Gate::of(cfg, c), &cab, expected, now, keep).map_err(unavailable)?;
        let mut left: HashSet<&UpdateId> = ids.keys().collect();
        for record in content.updates {
            let Some((address, planned)) = ids.get(&record.id) else {
                continue;
            };
            let hash = record.content_hash();
            if hash != *planned {
                return Err(HydrateError::PackageChanged {
                    update: address.to_string(),
                    catalog: key.clone(),
                    expected: *planned,
                    found: hash,
                });
            }
            left.remove(&record.id);
            found.insert((key.clone(), record.id.clone()), record);
        }
        if let Some(missing) = left.into_iter().min() {
            return Err(HydrateError::PackageMissing {
                update: ids[missing].0.to_string(),
                catalog: key,
            });
        }
    }
    for a in &mut plan.actions {
        if let (Some(Payload::Update { record }), Some(Target::Update(key, id))) =
            (&mut a.payload, a.address.target())
            && record.is_summary()
            && let Some(full) = found.remove(&(key.to_string(), id))
        {
            **record = full;
        }
    }
    Ok(())
}
