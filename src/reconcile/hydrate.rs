//! Reading the packages a plan publishes from the catalog CABs it was made from
//! (`plan::package_ref`, `apply::packages`).
//!
//! Each catalog's CAB is the fetch cache's copy, which must still have the SHA-256 the plan
//! recorded (`Plan::sources`) and pass the catalog's signature gate under today's config
//! (`acquire::read_cached`: signature first, no XML read from an unverified file); each
//! package must be there with the content hash the plan named. [`prepare`] checks every
//! CAB before apply changes anything and refuses the plan, naming the first update it
//! affects, when one is gone, changed or no longer trusted: publishing other bytes than the
//! reviewed ones is exactly what a plan promises not to do. Apply then streams each
//! catalog's packages on its reader thread ([`CabPackages`], `apply::packages`), checking
//! the CAB again as it reads it, so a CAB replaced during the apply stops it at that
//! catalog's first batch, named the same way.

use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;

use chrono::Utc;

use crate::apply::{PackageError, PackageReader, Packages};
use crate::catalog::acquire::{Gate, ReparseError, read_cached, restream_cached};
use crate::catalog::extract::PackageSink;
use crate::catalog::fetch::Fetcher;
use crate::catalog::model::UpdateRecord;
use crate::catalog::sdp::{KeepXml, PackageAt};
use crate::config::Config;
use crate::ids::{Sha256, UpdateId};
use crate::plan::{Payload, Plan};
use crate::store::{Address, CatalogKey, Target};

/// Why a plan's packages cannot be read; each names the update.
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

/// One catalog's CAB, checked: where it is, the SHA-256 the plan was made from, its gate.
#[derive(Clone)]
struct Source {
    gate: Gate,
    cab: PathBuf,
    sha256: Sha256,
}

/// The catalogs' cached CABs a plan's packages are read from, every one checked by
/// [`prepare`].
pub struct CabPackages {
    sources: BTreeMap<CatalogKey, Source>,
}

/// Checks, before apply changes anything, that every catalog `plan` publishes from by
/// reference is still configured and that its cached CAB is the one the plan recorded and
/// still passes the catalog's gate; returns what reads the packages. Blocking (it hashes
/// and verifies each CAB once).
pub fn prepare(cfg: &Config, fetcher: &Fetcher, plan: &Plan) -> Result<CabPackages, HydrateError> {
    // The first update of each catalog in address order (the id's), for errors.
    let mut first: BTreeMap<CatalogKey, UpdateId> = BTreeMap::new();
    for a in &plan.actions {
        if let (Some(Payload::Update { record }), Some(Target::Update(key, id))) =
            (&a.payload, a.address.target())
            && record.is_summary()
        {
            let slot = first.entry(key).or_insert_with(|| id);
            if id < *slot {
                *slot = id;
            }
        }
    }
    let now = Utc::now();
    let mut sources = BTreeMap::new();
    for (key, id) in first {
        let (update, catalog) = (Address::update(&key, &id).to_string(), key.to_string());
        let c = cfg
            .catalogs
            .get(key.as_str())
            .ok_or_else(|| HydrateError::NotConfigured {
                update: update.clone(),
                catalog: catalog.clone(),
            })?;
        let sha256 = *plan
            .sources
            .get(key.as_str())
            .ok_or_else(|| HydrateError::NoSource {
                update: update.clone(),
                catalog: catalog.clone(),
            })?;
        let unavailable = |reason| HydrateError::Unavailable {
            update: update.clone(),
            catalog: catalog.clone(),
            reason: Box::new(reason),
        };
        let cab = fetcher
            .cached_catalog(key.as_str())
            .map_err(|e| unavailable(ReparseError::Cache(e)))?;
        let gate = Gate::of(cfg, c);
        read_cached(&gate, &cab, sha256, now).map_err(unavailable)?;
        sources.insert(key, Source { gate, cab, sha256 });
    }
    Ok(CabPackages { sources })
}

impl Packages for CabPackages {
    fn reader(
        &self,
        catalog: &CatalogKey,
        wanted: BTreeMap<UpdateId, Sha256>,
    ) -> Result<PackageReader, PackageError> {
        let Some(first) = wanted.keys().next().copied() else {
            return Ok(Box::new(|_| Ok(())));
        };
        let catalog = catalog.clone();
        let name = |catalog: &CatalogKey, id: &UpdateId| Address::update(catalog, id).to_string();
        let fail = |e: HydrateError| PackageError::Read(Box::new(e));
        let source = self.sources.get(&catalog).cloned().ok_or_else(|| {
            fail(HydrateError::NoSource {
                update: name(&catalog, &first),
                catalog: catalog.to_string(),
            })
        })?;
        Ok(Box::new(move |give| {
            let ids: HashSet<UpdateId> = wanted.keys().copied().collect();
            let mut sink = Forward {
                wanted: &wanted,
                give,
                listening: true,
                seen: HashSet::with_capacity(wanted.len()),
                given: HashSet::with_capacity(wanted.len()),
                changed: BTreeMap::new(),
            };
            restream_cached(
                &source.gate,
                &source.cab,
                source.sha256,
                Utc::now(),
                KeepXml::Only(&ids),
                &mut sink,
            )
            .map_err(|reason| {
                fail(HydrateError::Unavailable {
                    update: name(&catalog, &first),
                    catalog: catalog.to_string(),
                    reason: Box::new(reason),
                })
            })?;
            if !sink.listening {
                return Ok(());
            }
            let Some(missing) = wanted.keys().find(|id| !sink.given.contains(id)) else {
                return Ok(());
            };
            Err(fail(match sink.changed.get(missing) {
                Some(found) => HydrateError::PackageChanged {
                    update: name(&catalog, missing),
                    catalog: catalog.to_string(),
                    expected: wanted[missing],
                    found: *found,
                },
                None => HydrateError::PackageMissing {
                    update: name(&catalog, missing),
                    catalog: catalog.to_string(),
                },
            }))
        }))
    }
}

/// Gives apply each wanted package as the catalog is parsed, once, when it is exactly the
/// planned one; remembers what else it saw to say why a package was not given. A catalog
/// that lists an id twice gives the package that was planned whichever comes first (the
/// planner kept one of them, `catalog::sdp::Unique`, and planned its hash).
struct Forward<'w, 'g> {
    wanted: &'w BTreeMap<UpdateId, Sha256>,
    give: &'g mut dyn FnMut(UpdateRecord) -> bool,
    /// Apply still takes packages.
    listening: bool,
    /// Every package's id: V3 categories may name only those.
    seen: HashSet<UpdateId>,
    given: HashSet<UpdateId>,
    /// Wanted updates found with another package, and its hash.
    changed: BTreeMap<UpdateId, Sha256>,
}

impl PackageSink for Forward<'_, '_> {
    fn push(&mut self, record: UpdateRecord, _at: PackageAt) {
        self.seen.insert(record.id);
        let Some(planned) = self.wanted.get(&record.id) else {
            return;
        };
        if !self.listening || self.given.contains(&record.id) {
            return;
        }
        let found = record.content_hash();
        if found != *planned {
            self.changed.entry(record.id).or_insert(found);
            return;
        }
        self.given.insert(record.id);
        self.listening = (self.give)(record);
    }
    fn knows(&self, id: &UpdateId) -> bool {
        self.seen.contains(id)
    }
    /// Apply reads no categories: the planner checked them.
    fn keeps_members(&self) -> bool {
        false
    }
}
