//! Plan once (issue 14), through the library: a plan made from a catalog's cached summary
//! reads the backend's state once and fetches the catalog once; its publishes refer to
//! their packages, which apply reads from the CAB the plan verified (issue 19). A backend
//! that counts its snapshots (and can disturb the fetch cache between acquisition and the
//! summary's check, as a concurrent fetch would) and the vendor site's request log show
//! it; so do the fallbacks when the cached CAB cannot serve.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use std::sync::Arc;
use supctl::catalog::acquire::{Acquired, Acquisition};
use supctl::catalog::fetch::Fetcher;
use supctl::catalog::model::CatalogContent;
use supctl::config::Config;
use supctl::ids::{Sha256, UpdateId};
use supctl::plan::{ActionKind, Payload, Plan};

use supctl::store::db::OpenOptions;
use supctl::store::memory::MemoryServer;
use supctl::store::{
    ActualState, Address, Applied, Capabilities, Change, Fingerprint, Result, ServerIdentity,
    State, Store, StoreLocation, UpdateServer,
};

use crate::support::e2e::*;

const CAB: &str = "/contoso-v3.cab";

type Hook = Box<dyn FnOnce() + Send>;

/// The memory server, counting `snapshot()` calls and running a hook at the next one.
struct Counting {
    inner: MemoryServer,
    snapshots: Arc<AtomicUsize>,
    at_snapshot: Arc<Mutex<Option<Hook>>>,
}

impl UpdateServer for Counting {
    fn name(&self) -> &'static str {
        self.inner.name()
    }
    fn describe(&self) -> String {
        self.inner.describe()
    }
    fn capabilities(&self) -> Capabilities {
        self.inner.capabilities()
    }
    fn snapshot(&self) -> Result<ActualState> {
        self.snapshots.fetch_add(1, Ordering::SeqCst);
        if let Some(hook) = self.at_snapshot.lock().unwrap().take() {
            hook();
        }
        self.inner.snapshot()
    }
    fn apply(&self, change: Change) -> Result<Applied> {
        self.inner.apply(change)
    }
    fn fingerprint(&self, address: &Address) -> Result<Option<Fingerprint>> {
        self.inner.fingerprint(address)
    }
    fn raw_xml(&self, id: &UpdateId, revision: Option<u32>) -> Result<Option<String>> {
        self.inner.raw_xml(id, revision)
    }
    fn staging_dir(&self) -> Result<PathBuf> {
        self.inner.staging_dir()
    }
    fn identity(&self) -> Result<ServerIdentity> {
        self.inner.identity()
    }
}

/// A vendor site serving the quickstart catalog, its config, and a counting backend.
struct World {
    site: Site,
    cfg: Config,
    backend: Store,
    snapshots: Arc<AtomicUsize>,
    at_snapshot: Arc<Mutex<Option<Hook>>>,
    _state: tempfile::TempDir,
    rt: tokio::runtime::Runtime,
}

impl World {
    fn new() -> World {
        let site = Site::new();
        let url = site.serve_catalog(CAB, &quickstart_cab());
        let body = format!("{}\n{}", catalog("contoso", &url, ""), approve_content());
        let path = site.write("supctl", &site.config("", &body));
        let (cfg, _) = supctl::config::load(&path).unwrap();
        let snapshots = Arc::new(AtomicUsize::new(0));
        let at_snapshot: Arc<Mutex<Option<Hook>>> = Arc::new(Mutex::new(None));
        let state_dir = tempfile::tempdir().unwrap();
        let state =
            State::open(&StoreLocation::new(state_dir.path()), OpenOptions::write()).unwrap();
        let server = Counting {
            inner: MemoryServer::new().unwrap(),
            snapshots: snapshots.clone(),
            at_snapshot: at_snapshot.clone(),
        };
        World {
            site,
            cfg,
            backend: Store::new(Box::new(server), state),
            snapshots,
            at_snapshot,
            _state: state_dir,
            rt: tokio::runtime::Runtime::new().unwrap(),
        }
    }

    fn cache(&self) -> PathBuf {
        self.cfg.server.path.join("cache")
    }

    /// One plan as `supctl plan` makes it (a fresh fetcher, as in a new process), with the
    /// snapshots it took and the catalog requests it made.
    fn plan(&self) -> (Plan, BTreeMap<String, Acquired>, usize, usize) {
        let (snapshots, requests) = (self.snapshots(), self.requests());
        let fetcher =
            Fetcher::new(supctl::reconcile::http_settings(&self.cfg), self.cache()).unwrap();
        let (plan, acquired) = self
            .rt
            .block_on(supctl::reconcile::make_plan(
                &self.cfg,
                &self.backend,
                &fetcher,
                &[],
            ))
            .unwrap();
        (
            plan,
            acquired,
            self.snapshots() - snapshots,
            self.requests() - requests,
        )
    }

    fn snapshots(&self) -> usize {
        self.snapshots.load(Ordering::SeqCst)
    }

    fn requests(&self) -> usize {
        self.site.server.requests_for(CAB).len()
    }

    fn apply(&self, plan: &Plan) {
        let fetcher =
            Fetcher::new(supctl::reconcile::http_settings(&self.cfg), self.cache()).unwrap();
        let packages = supctl::reconcile::hydrate::prepare(&self.cfg, &fetcher, plan).unwrap();
        let ctx = supctl::apply::ContentContext {
            packages: Some(&packages),
            fetcher: None,
            sources: BTreeMap::new(),
            now: chrono::Utc::now(),
        };
        let opts = supctl::apply::ApplyOptions {
            resume: false,
            max_deletions: 50,
            concurrency: 1,
            progress: supctl::apply::Progress::Quiet,
            cancel: None,
        };
        let report = self
            .rt
            .block_on(supctl::apply::run(plan, &self.backend, &ctx, &opts))
            .unwrap();
        assert!(report.succeeded(), "{report:?}");
    }

    /// The parsed summary the catalog's acquisition saved.
    fn summary_file(&self) -> PathBuf {
        self.cache().join("contoso.summary")
    }

    /// The summary saved for the CAB `acquired` was read from.
    fn summary(&self, acquired: &BTreeMap<String, Acquired>) -> (Sha256, CatalogContent) {
        let cab = acquired["contoso"].cab_sha256.unwrap();
        let content = supctl::catalog::parsed_cache::load(&self.cache(), "contoso", cab)
            .expect("a summary of that CAB");
        (cab, content)
    }
}

/// The publishes and revisions of a plan, by update id: what and which package. Every
/// payload is a summary: apply reads the XML.
fn published(plan: &Plan) -> BTreeMap<String, (ActionKind, Sha256)> {
    plan.actions
        .iter()
        .filter_map(|a| match &a.payload {
            Some(Payload::Update { record }) => {
                assert!(record.is_summary(), "a plan holds no package XML");
                Some((record.id.to_string(), (a.kind, record.content_hash())))
            }
            _ => None,
        })
        .collect()
}

/// Whether the catalog was planned from its saved summary rather than a parse.
fn from_summary(acquired: &BTreeMap<String, Acquired>) -> bool {
    let a = &acquired["contoso"];
    assert!(
        matches!(a.acquisition, Acquisition::Trusted { .. }),
        "not trusted: {:?}",
        a.acquisition
    );
    a.from_summary
}

/// The first plan parses the CAB keeping no package XML (it decides on hashes, and saves
/// the summary); the second, with nothing applied, decides from the summary. Both publish
/// the same four packages, from one snapshot and one request for the catalog (the old
/// planner fetched it again and planned twice, two snapshots); apply reads their XML from
/// the verified CAB.
#[test]
fn a_summarised_catalog_is_fetched_once_and_published_with_its_xml() {
    let w = World::new();
    let (first, acquired, snapshots, requests) = w.plan();
    assert!(!from_summary(&acquired), "the first plan parses the CAB");
    assert_eq!((snapshots, requests), (1, 1));
    let full = published(&first);
    assert_eq!(full.len(), 4, "{full:?}");
    assert!(w.summary_file().is_file());

    let (second, acquired, snapshots, requests) = w.plan();
    assert_eq!(snapshots, 1, "one snapshot per plan");
    assert_eq!(requests, 1, "the catalog is fetched once per plan");
    assert_eq!(w.site.server.requests_for(CAB)[1].status, 304);
    assert!(
        from_summary(&acquired),
        "the second plan decides from the summary"
    );
    assert_eq!(published(&second), full, "the same packages");
    let kinds = |p: &Plan| -> Vec<String> {
        p.actions
            .iter()
            .map(|a| format!("{} {}", a.kind, a.address))
            .collect()
    };
    assert_eq!(kinds(&second), kinds(&first));

    w.apply(&second);
    let xml = w
        .backend
        .raw_xml(&UpdateId::parse(BIOS_107).unwrap(), None)
        .unwrap()
        .unwrap();
    assert!(xml.contains("SoftwareDistributionPackage") && xml.contains(BIOS_107));
    let (after, _, _, _) = w.plan();
    assert!(!after.changes, "converged: {:?}", after.actions);
}

/// The cached CAB is replaced between acquisition and the summary's check (as a concurrent
/// fetch of the key would): its SHA-256 no longer matches, so nothing is parsed from it;
/// the catalog is fetched again (unconditionally: the cache no longer vouches for it) and
/// the plan still comes from one snapshot, and applies.
#[test]
fn a_cached_cab_replaced_while_planning_is_fetched_again() {
    let w = World::new();
    let (first, _, _, _) = w.plan();
    let cab = w.cache().join("contoso.cab");
    *w.at_snapshot.lock().unwrap() = Some(Box::new(move || {
        std::fs::write(&cab, b"MSCF not the verified cabinet").unwrap();
    }));

    let (second, acquired, snapshots, requests) = w.plan();
    assert_eq!(snapshots, 1);
    assert_eq!(
        requests, 2,
        "the summary's conditional GET, then the fetch again"
    );
    let log = w.site.server.requests_for(CAB);
    assert_eq!((log[1].status, log[2].status), (304, 200));
    assert!(
        !from_summary(&acquired),
        "planned again from the fresh parse"
    );
    assert_eq!(published(&second), published(&first));
    assert!(!second.has_errors(), "{:?}", second.diagnostics);
    w.apply(&second);
}

/// The cached CAB is replaced after the plan was made: apply refuses before it changes
/// anything, naming the first update, and a new plan fetches the catalog again.
#[test]
fn a_cached_cab_replaced_after_planning_refuses_the_apply_by_name() {
    let w = World::new();
    let (plan, _, _, _) = w.plan();
    std::fs::write(
        w.cache().join("contoso.cab"),
        b"MSCF not the verified cabinet",
    )
    .unwrap();
    let fetcher = Fetcher::new(supctl::reconcile::http_settings(&w.cfg), w.cache()).unwrap();
    let err = supctl::reconcile::hydrate::prepare(&w.cfg, &fetcher, &plan)
        .err()
        .expect("refused")
        .to_string();
    let first = published(&plan).into_keys().min().unwrap();
    assert!(
        err.starts_with(&format!(
            "cannot apply catalog.contoso.update[{first}]: the CAB of catalog `contoso`"
        )) && err.contains("is no longer the CAB verified"),
        "{err}"
    );
    let (again, _, _, requests) = w.plan();
    assert_eq!(requests, 1);
    w.apply(&again);
}

/// A summary that disagrees with its CAB (here one record's content hash altered, as an
/// older parser's could) makes the plan say "revise" for an update the server holds
/// unchanged. The full parse of the verified CAB catches it: the catalog is planned again
/// from that parse, against the same snapshot and without a download, so nothing is
/// revised, and the summary is written again.
#[test]
fn a_summary_that_disagrees_with_its_cab_never_decides_the_plan() {
    let w = World::new();
    let (first, acquired, _, _) = w.plan();
    w.apply(&first);

    let (cab, mut saved) = w.summary(&acquired);
    let right = raw_hash_of(&saved, TOOL_10);
    let record = saved.updates.iter_mut().find(|u| u.id.as_str() == TOOL_10);
    Arc::make_mut(record.unwrap()).raw_hash =
        Some(Sha256::of(b"another parser's idea of the package"));
    supctl::catalog::parsed_cache::save(&w.cache(), "contoso", cab, &saved).unwrap();
    assert_ne!(raw_hash_of(&w.summary(&acquired).1, TOOL_10), right);

    let (second, acquired, snapshots, requests) = w.plan();
    assert_eq!((snapshots, requests), (1, 1));
    assert!(!second.changes, "nothing to revise: {:?}", second.actions);
    assert!(!from_summary(&acquired), "planned again from the CAB");
    assert_eq!(
        raw_hash_of(&w.summary(&acquired).1, TOOL_10),
        right,
        "the summary is written again"
    );
}

/// The content hash the saved summary `saved` holds for update `id`.
fn raw_hash_of(saved: &CatalogContent, id: &str) -> Sha256 {
    let record = saved.updates.iter().find(|u| u.id.as_str() == id);
    record.expect("the update is in the summary").content_hash()
}
