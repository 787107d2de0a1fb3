//! Plan once: the package XML of a plan made from catalog summaries.
//!
//! An unchanged catalog is planned from its parsed summary (`catalog::parsed_cache`): every
//! field but each package's XML, which is replaced by its hash. A summary record has the id
//! and the content hash of the full record, and those are what the planner decides on, so a
//! plan made from summaries has the actions a full parse would give; only the payloads of
//! what it publishes or revises lack the XML apply sends to the server. [`complete`] puts
//! the full records in their place, parsed from the very CAB acquisition verified (the fetch
//! cache keeps it), so the catalog is neither downloaded nor planned a second time.
//!
//! Only payloads change: the plan's id, its actions, their order and their fingerprints stay
//! those of the one diff against the one snapshot.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::PathBuf;

use chrono::{DateTime, Utc};
use futures::StreamExt as _;

use crate::catalog::acquire::{Acquired, Acquisition, Gate, ReparseError, reparse_cached};
use crate::catalog::fetch::Fetcher;
use crate::catalog::model::UpdateRecord;
use crate::catalog::parsed_cache;
use crate::catalog::sdp::KeepXml;
use crate::config::Config;
use crate::ids::{Sha256, UpdateId};
use crate::plan::{Payload, Plan, PlanDiagnostic, Severity};
use crate::store::Target;

/// Full update records by catalog key and update id.
pub(super) type Records = HashMap<(String, UpdateId), UpdateRecord>;

/// A catalog whose summary payloads could not be completed from its cached CAB, and what
/// to plan it from instead.
#[derive(Debug)]
pub(super) enum Fallback {
    /// The full parse does not agree with the summary the plan was made from (ids or content
    /// hashes differ: a summary written by another version of the parser, or altered), so
    /// the plan's actions for the catalog may be wrong. The catalog is planned again from
    /// this parse (trusted, of the verified CAB), which no download would improve on.
    Disagrees(Box<Acquisition>),
    /// The cached CAB is gone, was replaced by a later fetch, or no longer passes the gate:
    /// the catalog must be acquired again.
    Unavailable(ReparseError),
}

/// Replaces each summary payload of `plan` (a publish or revise whose record has no XML) by
/// the full record with the same catalog and update id, parsed again from the CAB its
/// catalog was acquired from. Returns the catalogs it could not complete, whose payloads
/// it leaves as they were: the caller plans those again.
pub(super) async fn complete(
    cfg: &Config,
    fetcher: &Fetcher,
    catalogs: &BTreeMap<String, Acquired>,
    plan: &mut Plan,
) -> BTreeMap<String, Fallback> {
    let wanted = summarised(plan);
    if wanted.is_empty() {
        return BTreeMap::new();
    }
    let now = Utc::now();
    let jobs = wanted.into_iter().map(|(key, ids)| {
        let job = Job::new(cfg, fetcher, catalogs, &key, ids);
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
    let mut fallbacks = BTreeMap::new();
    let mut full = Records::new();
    for (key, result) in results {
        match result {
            Ok(records) => {
                full.extend(
                    records
                        .into_iter()
                        .map(|r| ((key.clone(), r.id.clone()), r)),
                );
            }
            Err(f) => {
                fallbacks.insert(key, f);
            }
        }
    }
    fill(plan, &mut full);
    fallbacks
}

/// Takes the full update records out of a plan that is about to be made again. The
/// catalogs [`complete`] filled in plan the same actions again (the same summaries against
/// the same snapshot), so [`complete_again`] gives the new plan their records back without
/// parsing those catalogs a second time.
pub(super) fn take_records(plan: Plan) -> Records {
    let mut records = Records::new();
    for a in plan.actions {
        if let (Some(Target::Update(catalog, id)), Some(Payload::Update { record })) =
            (a.address.target(), a.payload)
            && !record.is_summary()
        {
            records.insert((catalog.to_string(), id), *record);
        }
    }
    records
}

/// Completes a plan made again after a [`Fallback`] from the records the first plan had. A
/// summary left over cannot occur (see [`take_records`]); were it to, it is an error
/// diagnostic, so the plan cannot be applied, rather than a publish without XML.
pub(super) fn complete_again(plan: &mut Plan, mut records: Records) {
    fill(plan, &mut records);
    let left: Vec<PlanDiagnostic> = plan
        .actions
        .iter()
        .filter(|a| matches!(&a.payload, Some(Payload::Update { record }) if record.is_summary()))
        .map(|a| PlanDiagnostic {
            severity: Severity::Error,
            code: "package-xml-missing".into(),
            address: a.address.clone(),
            message: format!(
                "{}: the package XML could not be read from the catalog it was planned from (its cached CAB changed while planning)",
                a.address
            ),
            hint: Some("run the plan again".into()),
            blocked: false,
        })
        .collect();
    plan.diagnostics.extend(left);
}

/// The catalogs whose publish or revise payloads are summaries, with those updates' ids.
fn summarised(plan: &Plan) -> BTreeMap<String, HashSet<UpdateId>> {
    let mut wanted: BTreeMap<String, HashSet<UpdateId>> = BTreeMap::new();
    for a in &plan.actions {
        if let (Some(Payload::Update { record }), Some(Target::Update(catalog, id))) =
            (&a.payload, a.address.target())
            && record.is_summary()
        {
            wanted.entry(catalog.to_string()).or_default().insert(id);
        }
    }
    wanted
}

/// Puts each full record in place of the summary payload with its catalog and id, when its
/// content hash is the one planned. Nothing else of an action changes.
fn fill(plan: &mut Plan, full: &mut Records) {
    for a in &mut plan.actions {
        let Some(Payload::Update { record }) = &mut a.payload else {
            continue;
        };
        if !record.is_summary() {
            continue;
        }
        let Some(Target::Update(catalog, id)) = a.address.target() else {
            continue;
        };
        let key = (catalog.to_string(), id);
        if full
            .get(&key)
            .is_some_and(|r| r.content_hash() == record.content_hash())
            && let Some(r) = full.remove(&key)
        {
            **record = r;
        }
    }
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
    /// The updates whose payloads need the full record.
    ids: HashSet<UpdateId>,
    cache_dir: PathBuf,
}

impl Job {
    /// The job for catalog `key`. Every catalog with a summary payload was acquired,
    /// trusted and configured (the planner made the payload from it); anything else is
    /// `NotFetched`, and the caller acquires the catalog again.
    fn new(
        cfg: &Config,
        fetcher: &Fetcher,
        catalogs: &BTreeMap<String, Acquired>,
        key: &str,
        ids: HashSet<UpdateId>,
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
                .map(|u| (u.id.clone(), u.content_hash()))
                .collect(),
            ids,
            cache_dir: fetcher.cache_dir().to_path_buf(),
        })
    }

    /// Parses the CAB again and keeps only the wanted records, dropping the rest of the
    /// parse at once (blocking).
    fn run(self, now: DateTime<Utc>) -> Result<Vec<UpdateRecord>, Fallback> {
        let keep = KeepXml::Only(&self.ids);
        let (content, _) = reparse_cached(&self.gate, &self.cab, self.cab_sha256, now, keep)
            .map_err(Fallback::Unavailable)?;
        let agrees = content.updates.len() == self.summary.len()
            && content
                .updates
                .iter()
                .zip(&self.summary)
                .all(|(u, (id, hash))| u.id == *id && u.content_hash() == *hash);
        if !agrees {
            // The catalog is planned again from this parse, and may publish other packages
            // than `ids`: parse once more, keeping every package's XML (a rare path).
            let (content, report) =
                reparse_cached(&self.gate, &self.cab, self.cab_sha256, now, KeepXml::All)
                    .map_err(Fallback::Unavailable)?;
            // Best effort, as acquisition does: the next plan decides from a summary of
            // this parse instead of meeting the disagreement again.
            let _ = parsed_cache::save(&self.cache_dir, &self.key, self.cab_sha256, &content);
            let full = Acquisition::Trusted { content, report };
            return Err(Fallback::Disagrees(Box::new(full)));
        }
        Ok(content
            .updates
            .into_iter()
            .filter(|u| self.ids.contains(&u.id))
            .collect())
    }
}
