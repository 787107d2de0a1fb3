//! The package XML of what a plan publishes, read while apply writes.
//!
//! A plan refers to the packages it publishes (`plan::package_ref`): in memory each publish
//! or revise payload is the catalog's summary record (no XML), on disk a reference. Holding
//! the XML of every publish from planning to the end of apply was most of a large first
//! apply's memory (1.8 GiB for ten catalogs of 10,000 updates), and holding one catalog's
//! at a time still cost a hundred megabytes and left one core idle while it was parsed.
//!
//! So apply reads them on a thread of its own ([`Reading`]): at the first batch that needs
//! a package it lists, catalog by catalog in the plan's order, what the rest of the plan
//! publishes by reference, and a reader thread parses each catalog's cached CAB (verified
//! again, `reconcile::hydrate`) and hands the packages over one by one through a bounded
//! channel while the apply thread writes the batches before them. Parsing a catalog and
//! writing its updates then overlap on two cores, and at most [`AHEAD`] packages wait in
//! the channel. A plan lists a catalog's updates in the catalog's order, so the package
//! asked for is nearly always the next one given; one given earlier than asked for waits
//! in a map until its batch (a refused action's package waits until its catalog's end).
//!
//! When apply ends early (a failure, a cancelled daemon) the channel closes and the reader
//! stops handing packages over; it finishes parsing the catalog at hand on its own and
//! ends, having written nothing.
//!
//! A payload that already holds its XML (a plan made in memory from full records, as the
//! tests and older saved plans do) is published as it is.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};

use crate::catalog::model::UpdateRecord;
use crate::ids::{Sha256, UpdateId};
use crate::plan::{Action, ActionKind, Payload};
use crate::store::{Address, CatalogKey, PackedPackages, PackedXml, Target};

/// Most packages parsed ahead of the batch being written: two batches' worth (some 20 MB of
/// typical packages), enough that the writer never waits on the reader for long.
const AHEAD: usize = 1000;

/// Reads one catalog's packages on apply's reader thread: gives each wanted record to
/// `give` in the catalog's order and stops giving when `give` returns `false`.
pub type PackageReader = Box<
    dyn FnOnce(&mut dyn FnMut(UpdateRecord) -> bool) -> Result<(), PackageError> + Send + 'static,
>;

/// Where apply reads the package XML a plan refers to.
pub trait Packages: Sync {
    /// What reads the records of `wanted` (update id and the content hash planned) in
    /// catalog `catalog`, each with its XML and exactly the planned content hash, in the
    /// catalog's order. It owns what it needs, so it runs on a thread of its own; an error
    /// names the first update it could not give. Called on the apply thread, which it
    /// must not keep long (a reader that checks the catalog does so when run).
    fn reader(
        &self,
        catalog: &CatalogKey,
        wanted: BTreeMap<UpdateId, Sha256>,
    ) -> Result<PackageReader, PackageError>;
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
    /// What a [`PackageReader`] reported (it names the update).
    #[error(transparent)]
    Read(Box<dyn std::error::Error + Send + Sync>),
}

/// What the reader thread hands over, each tagged with its job (its place in the list).
enum Given {
    /// A package, its content hash and its XML packed for the store (`store::packed`):
    /// both are made on the reader thread, so the writing thread does neither.
    Record(usize, Box<Taken>),
    /// The job's reader failed; the thread stopped.
    Failed(usize, PackageError),
    /// The job gave everything it was asked for.
    End(usize),
}

/// Apply's side of the reader thread.
#[derive(Default)]
pub(super) struct Reading {
    /// Per job (a run of the plan's publishes and revisions of one catalog, read once), in
    /// order, the updates it reads.
    jobs: Vec<HashSet<UpdateId>>,
    /// The job whose packages are being written.
    current: usize,
    /// Whether the current job's end (or the reader's) was received.
    ended: bool,
    given: Option<Receiver<Given>>,
    /// Packages of the current job given before they were asked for.
    early: HashMap<UpdateId, Box<Taken>>,
    /// A job's failure received while its remaining packages were let go (only refused
    /// actions were left of it): the reader stopped there, so it is why nothing follows.
    failed: Option<PackageError>,
}

/// A package as the reader gave it: the record, and its XML hashed and packed.
type Taken = (UpdateRecord, PackedXml);

impl Reading {
    /// The records `batch` (publishes and revisions of one catalog) writes, in its order,
    /// and the packages the reader packed for them.
    /// `rest` is the batch and every action after it: what the reader thread is given to
    /// read when this is the first batch that needs a package.
    pub(super) fn records_for(
        &mut self,
        packages: Option<&dyn Packages>,
        batch: &[&Action],
        rest: &[&Action],
    ) -> Result<(Vec<UpdateRecord>, PackedPackages), PackageError> {
        let mut out = Vec::with_capacity(batch.len());
        let mut packed = PackedPackages::default();
        for a in batch {
            let malformed = || PackageError::Malformed {
                address: a.address.clone(),
            };
            let Some(Payload::Update { record }) = &a.payload else {
                return Err(malformed());
            };
            if !record.is_summary() {
                out.push((**record).clone());
                continue;
            }
            let Some(Target::Update(_, id)) = a.address.target() else {
                return Err(malformed());
            };
            if self.given.is_none() {
                let packages = packages.ok_or_else(|| PackageError::NoSource {
                    address: a.address.clone(),
                })?;
                self.start(packages, rest)?;
            }
            match self.take(&id)? {
                Some((r, p)) if p.content_hash() == record.content_hash() => {
                    packed.insert(r.id, p);
                    out.push(r);
                }
                _ => {
                    return Err(PackageError::NotGiven {
                        address: a.address.clone(),
                    });
                }
            }
        }
        Ok((out, packed))
    }

    /// Lists what `rest` publishes by reference, catalog run by catalog run, and starts
    /// the reader thread on it.
    fn start(&mut self, packages: &dyn Packages, rest: &[&Action]) -> Result<(), PackageError> {
        let mut wanted: Vec<(CatalogKey, BTreeMap<UpdateId, Sha256>)> = Vec::new();
        for a in rest {
            let (Some(Payload::Update { record }), Some(Target::Update(k, id))) =
                (&a.payload, a.address.target())
            else {
                continue;
            };
            if !matches!(a.kind, ActionKind::Publish | ActionKind::Revise) || !record.is_summary() {
                continue;
            }
            match wanted.last_mut() {
                Some((last, ids)) if *last == k => {
                    ids.insert(id, record.content_hash());
                }
                _ => wanted.push((k, BTreeMap::from([(id, record.content_hash())]))),
            }
        }
        let mut readers = Vec::with_capacity(wanted.len());
        self.jobs = Vec::with_capacity(wanted.len());
        for (catalog, ids) in wanted {
            self.jobs.push(ids.keys().copied().collect());
            // A catalog that cannot be read fails at its own first batch, not at this one.
            readers.push(match packages.reader(&catalog, ids) {
                Ok(r) => r,
                Err(e) => Box::new(move |_: &mut dyn FnMut(UpdateRecord) -> bool| Err(e)),
            });
        }
        self.current = 0;
        self.ended = false;
        self.failed = None;
        self.early.clear();
        let (give, given) = sync_channel(AHEAD);
        std::thread::Builder::new()
            .name("supctl-packages".into())
            .spawn(move || read_all(readers, give))
            .map_err(|e| PackageError::Read(Box::new(e)))?;
        self.given = Some(given);
        Ok(())
    }

    /// The package of update `id` from the reader, `None` when no job still to come
    /// lists it or its job ended without it.
    fn take(&mut self, id: &UpdateId) -> Result<Option<Taken>, PackageError> {
        // Its job is this one or a later one: the batches come in the plan's order.
        while self
            .jobs
            .get(self.current)
            .is_some_and(|ids| !ids.contains(id))
        {
            self.next_job();
        }
        if let Some(e) = self.failed.take() {
            return Err(e);
        }
        if self.current >= self.jobs.len() {
            return Ok(None);
        }
        if let Some(r) = self.early.remove(id) {
            return Ok(Some(*r));
        }
        while !self.ended {
            match self.receive() {
                Some(Given::Record(_, r)) if r.0.id == *id => return Ok(Some(*r)),
                Some(Given::Record(_, r)) => {
                    self.early.insert(r.0.id, r);
                }
                Some(Given::Failed(_, e)) => {
                    self.ended = true;
                    self.given = None;
                    return Err(e);
                }
                Some(Given::End(_)) | None => self.ended = true,
            }
        }
        Ok(None)
    }

    /// What the reader gives next for the current job; `None` once it has stopped (a
    /// failure, a panic) or gave something of another job (they come in order, so it
    /// cannot: treated as a stop).
    fn receive(&mut self) -> Option<Given> {
        let given = self.given.as_ref()?.recv().ok();
        match given {
            Some(Given::Record(j, _) | Given::Failed(j, _) | Given::End(j))
                if j == self.current =>
            {
                given
            }
            _ => {
                self.given = None;
                None
            }
        }
    }

    /// Lets the current job's packages go (those of refused actions) and moves to the next.
    fn next_job(&mut self) {
        self.early.clear();
        while !self.ended {
            match self.receive() {
                Some(Given::Record(..)) => {}
                Some(Given::Failed(_, e)) => {
                    self.failed = Some(e);
                    self.ended = true;
                }
                Some(Given::End(_)) | None => self.ended = true,
            }
        }
        self.current += 1;
        self.ended = false;
    }
}

/// The reader thread: each job's packages in turn into `give`; stops at the first failure
/// or when apply no longer listens.
fn read_all(readers: Vec<PackageReader>, give: SyncSender<Given>) {
    for (j, reader) in readers.into_iter().enumerate() {
        let mut listening = true;
        let result = reader(&mut |r| {
            if listening {
                let packed = PackedXml::of(&r);
                listening = give.send(Given::Record(j, Box::new((r, packed)))).is_ok();
            }
            listening
        });
        if !listening {
            return;
        }
        match result {
            Ok(()) => {
                if give.send(Given::End(j)).is_err() {
                    return;
                }
            }
            Err(e) => {
                let _ = give.send(Given::Failed(j, e));
                return;
            }
        }
    }
}
