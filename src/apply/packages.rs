//! The package XML of what a plan publishes, read when apply is about to write it.
//!
//! A plan refers to the packages it publishes (`plan::package_ref`): in memory each publish
//! or revise payload is the catalog's summary record (no XML), on disk a
//! reference. Holding the XML of every publish from planning to the end of apply was most
//! of a large first apply's memory (1.8 GiB for ten catalogs of 10,000 updates), so apply
//! reads it catalog by catalog, at the first batch that needs it, through [`Packages`]
//! (`reconcile::hydrate` reads the catalogs' cached CABs, verified again), and lets each
//! package go once its batch is written. One catalog's packages are in memory at a time.
//!
//! A payload that already holds its XML (a plan made in memory from full records, as the
//! tests and older saved plans do) is published as it is.

use std::collections::{BTreeMap, HashMap};

use crate::catalog::model::UpdateRecord;
use crate::ids::{Sha256, UpdateId};
use crate::plan::{Action, ActionKind, Payload};
use crate::store::{Address, CatalogKey, Target};

/// Where apply reads the package XML a plan refers to.
pub trait Packages: Sync {
    /// The records of `wanted` (update id and the content hash planned) in catalog
    /// `catalog`, each with its XML and exactly the planned content hash, in any order.
    /// Blocking. An error names the first update it could not give.
    fn read(
        &self,
        catalog: &CatalogKey,
        wanted: &BTreeMap<UpdateId, Sha256>,
    ) -> Result<Vec<UpdateRecord>, PackageError>;
}

/// Why apply could not get the XML of a package it was to publish.
#[derive(Debug, thiserror::Error)]
pub enum PackageError {
    #[error(
        "cannot apply {address}: the plan refers to its package, and this apply has no catalog to read it from; make the plan again with `supctl plan`"
    )]
    NoSource { address: Address },
    #[error(
        "cannot apply {address}: the package read from the catalog is not the one planned; make the plan again with `supctl plan`"
    )]
    NotGiven { address: Address },
    #[error(
        "cannot apply {address}: its publish action carries no update package (a damaged plan?); make the plan again with `supctl plan`"
    )]
    Malformed { address: Address },
    /// What [`Packages::read`] reported (it names the update).
    #[error(transparent)]
    Read(Box<dyn std::error::Error + Send + Sync>),
}

/// The packages of the catalog apply is publishing, read for the rest of the plan at its
/// first batch; another catalog's batch lets them go.
#[derive(Default)]
pub(super) struct Loaded {
    catalog: Option<CatalogKey>,
    records: HashMap<UpdateId, UpdateRecord>,
}

impl Loaded {
    /// The records `batch` (publishes and revisions of one catalog) writes, in its order.
    /// `rest` is the batch and every action after it: what is read for the catalog.
    pub(super) fn records_for(
        &mut self,
        packages: Option<&dyn Packages>,
        batch: &[&Action],
        rest: &[&Action],
    ) -> Result<Vec<UpdateRecord>, PackageError> {
        let catalog = batch.first().and_then(|a| match a.address.target() {
            Some(Target::Update(k, _)) => Some(k),
            _ => None,
        });
        if catalog != self.catalog {
            self.records = HashMap::new();
            self.catalog = None;
        }
        let mut out = Vec::with_capacity(batch.len());
        for a in batch {
            let Some(Payload::Update { record }) = &a.payload else {
                return Err(PackageError::Malformed {
                    address: a.address.clone(),
                });
            };
            if !record.is_summary() {
                out.push((**record).clone());
                continue;
            }
            let Some(Target::Update(catalog, id)) = a.address.target() else {
                return Err(PackageError::Malformed {
                    address: a.address.clone(),
                });
            };
            if !self.records.contains_key(&id) {
                let packages = packages.ok_or_else(|| PackageError::NoSource {
                    address: a.address.clone(),
                })?;
                self.load(packages, &catalog, rest)?;
            }
            match self.records.remove(&id) {
                Some(r) if r.content_hash() == record.content_hash() => out.push(r),
                _ => {
                    return Err(PackageError::NotGiven {
                        address: a.address.clone(),
                    });
                }
            }
        }
        Ok(out)
    }

    /// Reads the packages of `catalog` that `rest` still publishes, in place of whatever
    /// was held.
    fn load(
        &mut self,
        packages: &dyn Packages,
        catalog: &CatalogKey,
        rest: &[&Action],
    ) -> Result<(), PackageError> {
        self.records = HashMap::new();
        self.catalog = Some(catalog.clone());
        let wanted: BTreeMap<UpdateId, Sha256> = rest
            .iter()
            .filter(|a| matches!(a.kind, ActionKind::Publish | ActionKind::Revise))
            .filter_map(|a| match (&a.payload, a.address.target()) {
                (Some(Payload::Update { record }), Some(Target::Update(k, id)))
                    if k == *catalog && record.is_summary() =>
                {
                    Some((id, record.content_hash()))
                }
                _ => None,
            })
            .collect();
        let records = packages.read(catalog, &wanted)?;
        self.records = records.into_iter().map(|r| (r.id, r)).collect();
        Ok(())
    }
}
