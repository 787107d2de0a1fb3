//! Reading supctl's bookkeeping: the journal, runs, status messages, next runs, the
//! inventory and the catalog revisions in force.

use std::collections::BTreeMap;

use rusqlite::{Connection, OptionalExtension as _, params};

use crate::catalog::model::FormatVersion;
use crate::status::StatusMessage;
use crate::store::codec::*;
use crate::store::error::Result;
use crate::store::model::*;
use crate::store::names::{Address, CatalogKey, PlanId};

fn format_version(s: &str) -> Option<FormatVersion> {
    match s {
        "v1" => Some(FormatVersion::V1),
        "v2" => Some(FormatVersion::V2),
        "v3" => Some(FormatVersion::V3),
        _ => None,
    }
}

/// The catalog revision in force, per catalog (`key`: one catalog's).
pub(super) fn revisions(
    c: &Connection,
    key: Option<&CatalogKey>,
) -> Result<BTreeMap<CatalogKey, CatalogRevision>> {
    let mut st = c.prepare_cached(
        "SELECT catalog, format_version, cab_sha256, etag, at, signers FROM catalog_revisions
         WHERE ?1 IS NULL OR catalog = ?1",
    )?;
    let rows = st.query_map([key.map(|k| k.as_str())], |r| {
        Ok((
            parsed(r, 0)?,
            CatalogRevision {
                format: word(r, 1, format_version)?,
                cab_sha256: sha256(r, 2)?,
                etag: r.get(3)?,
                at: time(r, 4)?,
                signers: from_json(r, 5)?,
            },
        ))
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

pub(super) fn inventory(c: &Connection) -> Result<BTreeMap<Address, Origin>> {
    let mut st = c.prepare_cached("SELECT address, origin FROM inventory")?;
    let rows = st.query_map([], |r| Ok((parsed(r, 0)?, word(r, 1, Origin::parse)?)))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Whether the newest journal holds the entry an apply writes when it ends, read without its
/// other entries: every plan asks whether the last apply was interrupted, and the journal of
/// a 100,000-update apply took a tenth of a no-op plan to read.
pub(super) fn last_journal_ended(c: &Connection) -> Result<bool> {
    let ended = JournalKey::apply_ended();
    Ok(c.query_row(
        "SELECT EXISTS (SELECT 1 FROM journal
           WHERE plan_id = (SELECT plan_id FROM journal ORDER BY seq DESC LIMIT 1)
             AND address = ?1 AND role = ?2)",
        [ended.address.as_str(), ended.role.as_str()],
        |r| r.get(0),
    )?)
}

pub(super) fn journal(c: &Connection, plan: Option<&PlanId>) -> Result<Option<Journal>> {
    let plan: Option<String> = match plan {
        Some(p) => Some(p.as_str().to_string()),
        None => c
            .query_row(
                "SELECT plan_id FROM journal ORDER BY seq DESC LIMIT 1",
                [],
                |r| r.get(0),
            )
            .optional()?,
    };
    let Some(plan) = plan else { return Ok(None) };
    let mut st = c.prepare_cached(
        "SELECT plan_id, address, role, outcome, message, left_fingerprint, at
         FROM journal WHERE plan_id = ?1 ORDER BY seq",
    )?;
    let entries = st
        .query_map([&plan], |r| {
            Ok(JournalEntry {
                plan: parsed(r, 0)?,
                address: parsed(r, 1)?,
                role: word(r, 2, JournalRole::parse)?,
                outcome: word(r, 3, Outcome::parse)?,
                message: r.get(4)?,
                left: opt_parsed(r, 5)?,
                at: time(r, 6)?,
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    if entries.is_empty() {
        return Ok(None);
    }
    Ok(Some(Journal {
        plan: PlanId::parse(&plan)?,
        entries,
    }))
}

pub(super) fn status_messages(c: &Connection, limit: usize) -> Result<Vec<RecordedMessage>> {
    let mut st = c.prepare_cached(
        "SELECT at, number, severity, text, address FROM status_messages ORDER BY seq DESC LIMIT ?1",
    )?;
    let rows = st.query_map([limit as i64], |r| {
        let addr: String = r.get(4)?;
        Ok(RecordedMessage {
            at: time(r, 0)?,
            message: StatusMessage {
                number: r.get(1)?,
                severity: word(r, 2, Severity::parse)?,
                text: r.get(3)?,
            },
            address: if addr.is_empty() {
                None
            } else {
                Some(parsed(r, 4)?)
            },
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

fn run_row(r: &rusqlite::Row) -> rusqlite::Result<SyncRun> {
    Ok(SyncRun {
        scope: parsed(r, 0)?,
        started: time(r, 1)?,
        ended: opt_time(r, 2)?,
        result: word(r, 3, RunResult::parse)?,
        counts: from_json(r, 4)?,
        message: r.get(5)?,
    })
}

pub(super) fn sync_runs(c: &Connection, limit: usize) -> Result<Vec<SyncRun>> {
    let mut st = c.prepare_cached(
        "SELECT scope, started, ended, result, counts, message FROM sync_runs
         ORDER BY started DESC, scope LIMIT ?1",
    )?;
    let rows = st.query_map([limit as i64], run_row)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

pub(super) fn sync_run(
    c: &Connection,
    scope: &Address,
    started: &chrono::DateTime<chrono::Utc>,
) -> Result<Option<SyncRun>> {
    Ok(c.prepare_cached(
        "SELECT scope, started, ended, result, counts, message FROM sync_runs WHERE scope = ?1 AND started = ?2",
    )?
    .query_row(params![scope.as_str(), ts(started)], run_row)
    .optional()?)
}

pub(super) fn next_runs(c: &Connection) -> Result<Vec<NextRun>> {
    let mut st = c.prepare_cached("SELECT scope, due, schedule FROM next_runs ORDER BY scope")?;
    let rows = st.query_map([], |r| {
        Ok(NextRun {
            scope: parsed(r, 0)?,
            due: time(r, 1)?,
            schedule: r.get(2)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}
