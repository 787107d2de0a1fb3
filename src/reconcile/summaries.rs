//! Plan once: a summary that decides a publish is checked against its CAB.
//!
//! An unchanged catalog is planned from its parsed summary (`catalog::parsed_cache`): every
//! field but each package's XML, which is replaced by its hash, and its descriptions. The
//! planner decides on ids and content hashes, so a summary gives the actions a parse would
//! give, as long as the summary is true to its CAB. One written by another version of the
//! parser, or altered, would publish or revise what the catalog does not hold. So when a
//! plan publishes or revises from a catalog read from its summary, [`check`] parses the very
//! CAB acquisition verified (the fetch cache keeps it), hashes only, and compares; the XML
//! itself is read by apply (`reconcile::hydrate`). A catalog that was parsed to be acquired
//! needs no check.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use chrono::{DateTime, Utc};
use futures::StreamExt as _;

use crate::catalog::acquire::{Acquired, Acquisition, Gate, ReparseError, reparse_cached};
use crate::catalog::fetch::Fetcher;
use crate::catalog::parsed_cache;
use crate::catalog::sdp::KeepXml;
use crate::config::Config;
use crate::ids::{Sha256, UpdateId};
use crate::plan::{Payload, Plan};
use crate::store::Target;

/// A catalog whose summary could not be confirmed, and what to plan it from instead.
#[derive(Debug)]
pub(super) enum Fallback {
    /// The parse does not agree with the summary the plan was made from (ids or content
    /// hashes differ), so the plan's actions for the catalog may be wrong. The catalog is
    /// planned again from this parse (trusted, of the verified CAB), which no download
    /// would improve on.
    Disagrees(Box<Acquisition>),
    /// The cached CAB is gone, was replaced by a later fetch, or no longer passes the gate:
    /// the catalog must be acquired again.
    Unavailable(ReparseError),
}

/// Checks the summary of each catalog `plan` publishes or revises from against the CAB it
/// was acquired from. Returns the catalogs whose summary could not be confirmed: the
/// caller plans those again.
pub(super) async fn check(
    cfg: &Config,
    fetcher: &Fetcher,
    catalogs: &BTreeMap<String, Acquired>,
    plan: &Plan,
) -> BTreeMap<String, Fallback> {
    let now = Utc::now();
    let jobs = deciding(plan, catalogs).into_iter().map(|key| {
        let job = Job::new(cfg, fetcher, catalogs, &key);
        async move {
            let result = match job {
                Ok(job) => tokio::task::spawn_blocking(move || job.run(now))
                    .await
                    .unwrap_or_else(|e| {
                        Err(Fallback::Unavailable(ReparseError::Refused(format!(
                            "parsing stopped: {e}"
                        ))))
                    }),
                Err(e) => Err(Fallback::Unavailable(e)),
            };
            (key, result)
        }
    });
    let results: Vec<_> = futures::stream::iter(jobs)
        .buffer_unordered(super::AT_ONCE)
        .collect()
        .await;
    results
        .into_iter()
        .filter_map(|(key, r)| r.err().map(|f| (key, f)))
        .collect()
}

/// The catalogs read from their summary that `plan` publishes or revises from.
fn deciding(plan: &Plan, catalogs: &BTreeMap<String, Acquired>) -> BTreeSet<String> {
    plan.actions
        .iter()
        .filter_map(|a| match (&a.payload, a.address.target()) {
            (Some(Payload::Update { .. }), Some(Target::Update(catalog, _))) => {
                Some(catalog.to_string())
            }
            _ => None,
        })
        .filter(|key| catalogs.get(key).is_some_and(|a| a.from_summary))
        .collect()
}

/// One catalog to parse again, with everything it needs owned, to run off the runtime.
struct Job {
    key: String,
    gate: Gate,
    cab: PathBuf,
    /// The SHA-256 acquisition verified.
    cab_sha256: Sha256,
    /// Id and content hash of each record of the summary the plan was made from, in order.
    summary: Vec<(UpdateId, Sha256)>,
    cache_dir: PathBuf,
}

impl Job {
    /// The job for catalog `key`. Every catalog a payload comes from was acquired, trusted
    /// and configured (the planner made the payload from it); anything else is
    /// `NotFetched`, and the caller acquires the catalog again.
    fn new(
        cfg: &Config,
        fetcher: &Fetcher,
        catalogs: &BTreeMap<String, Acquired>,
        key: &str,
    ) -> Result<Job, ReparseError> {
        let (Some(c), Some(a)) = (cfg.catalogs.get(key), catalogs.get(key)) else {
            return Err(ReparseError::NotFetched);
        };
        let (Some(cab_sha256), Acquisition::Trusted { content, .. }) =
            (a.cab_sha256, &a.acquisition)
        else {
            return Err(ReparseError::NotFetched);
        };
        Ok(Job {
            key: key.to_string(),
            gate: Gate::of(cfg, c),
            cab: fetcher.cached_catalog(key)?,
            cab_sha256,
            summary: content
                .updates
                .iter()
                .map(|u| (u.id, u.content_hash()))
                .collect(),
            cache_dir: fetcher.cache_dir().to_path_buf(),
        })
    }

    /// Parses the CAB again, keeping no package XML, and compares (blocking).
    fn run(self, now: DateTime<Utc>) -> Result<(), Fallback> {
        let (content, report) =
            reparse_cached(&self.gate, &self.cab, self.cab_sha256, now, KeepXml::None)
                .map_err(Fallback::Unavailable)?;
        let agrees = content.updates.len() == self.summary.len()
            && content
                .updates
                .iter()
                .zip(&self.summary)
                .all(|(u, (id, hash))| u.id == *id && u.content_hash() == *hash);
        if agrees {
            return Ok(());
        }
        // Best effort, as acquisition does: the next plan decides from a summary of this
        // parse instead of meeting the disagreement again.
        let _ = parsed_cache::save(&self.cache_dir, &self.key, self.cab_sha256, &content);
        let parsed = Acquisition::Trusted { content, report };
        Err(Fallback::Disagrees(Box::new(parsed)))
    }
}
