//! Writing one bookkeeping [`Record`] inside a write transaction. Each arm first compares
//! with what is stored, so repeating a record changes nothing and reports `changed: false`.

use rusqlite::{Transaction, params};

use crate::store::codec::{json, ts};
use crate::store::error::Result;
use crate::store::model::*;
use crate::store::op::{Applied, Counts, Record};

pub(crate) fn apply(tx: &Transaction, record: Record) -> Result<Applied> {
    match record {
        Record::Revision { key, revision } => {
            let old = super::read::revisions(tx, Some(&key))?.remove(&key);
            if old == revision {
                return Ok(Applied::updated(false));
            }
            match revision {
                Some(r) => tx.execute(
                    "INSERT OR REPLACE INTO catalog_revisions (catalog, format_version, cab_sha256, etag, at, signers)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                    params![
                        key.as_str(),
                        r.format.as_str(),
                        r.cab_sha256.to_hex(),
                        r.etag,
                        ts(&r.at),
                        json(&r.signers)
                    ],
                )?,
                None => tx.execute(
                    "DELETE FROM catalog_revisions WHERE catalog = ?1",
                    [key.as_str()],
                )?,
            };
            Ok(Applied::updated(true))
        }
        Record::SyncRun(run) => {
            let old = super::read::sync_run(tx, &run.scope, &run.started)?;
            if old.as_ref() == Some(&run) {
                return Ok(Applied::created(false));
            }
            tx.execute(
                "INSERT OR REPLACE INTO sync_runs (scope, started, ended, result, counts, message)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    run.scope.as_str(),
                    ts(&run.started),
                    run.ended.as_ref().map(ts),
                    run.result.as_str(),
                    json(&run.counts),
                    run.message
                ],
            )?;
            Ok(if old.is_some() {
                Applied::updated(true)
            } else {
                Applied::created(true)
            })
        }
        Record::StatusMessage(m) => {
            let n = tx.execute(
                "INSERT OR IGNORE INTO status_messages (at, number, severity, text, address)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![
                    ts(&m.at),
                    m.message.number,
                    m.message.severity.as_str(),
                    m.message.text,
                    m.address.as_ref().map(|a| a.as_str()).unwrap_or("")
                ],
            )?;
            Ok(Applied::created(n > 0))
        }
        Record::NextRun(n) => {
            let old = super::read::next_runs(tx)?
                .into_iter()
                .find(|o| o.scope == n.scope);
            if old.as_ref() == Some(&n) {
                return Ok(Applied::updated(false));
            }
            tx.execute(
                "INSERT OR REPLACE INTO next_runs (scope, due, schedule) VALUES (?1, ?2, ?3)",
                params![n.scope.as_str(), ts(&n.due), n.schedule],
            )?;
            Ok(if old.is_some() {
                Applied::updated(true)
            } else {
                Applied::created(true)
            })
        }
        Record::Journal(e) => Ok(Applied::created(insert_journal(tx, &e)? > 0)),
        Record::JournalBatch(entries) => {
            let mut counts = Counts::default();
            for e in &entries {
                if insert_journal(tx, e)? > 0 {
                    counts.created += 1;
                } else {
                    counts.unchanged += 1;
                }
            }
            Ok(Applied::from_counts(counts))
        }
        Record::InventoryAdd { address, origin } => {
            let n = tx.execute(
                "INSERT INTO inventory (address, origin) VALUES (?1, ?2)
                 ON CONFLICT (address) DO UPDATE SET origin = excluded.origin WHERE origin <> excluded.origin",
                params![address.as_str(), origin.as_str()],
            )?;
            Ok(Applied::created(n > 0))
        }
        Record::InventoryRemove { address } => {
            let n = tx.execute(
                "DELETE FROM inventory WHERE address = ?1",
                [address.as_str()],
            )?;
            Ok(Applied::deleted(n > 0))
        }
        Record::Finding(f) => super::observed::record_finding(tx, &f),
        Record::ClearFinding { scope, kind } => super::observed::clear_finding(tx, &scope, kind),
        Record::ShippedCertificates(s) => super::observed::record_shipped(tx, &s),
    }
}

/// Records one outcome; repeating the same entry is ignored (the apply may replay it).
pub(crate) fn insert_journal(tx: &Transaction, e: &JournalEntry) -> Result<usize> {
    Ok(tx.execute(
        "INSERT OR IGNORE INTO journal
         (plan_id, address, role, outcome, message, left_fingerprint, at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![
            e.plan.as_str(),
            e.address.as_str(),
            e.role.as_str(),
            e.outcome.as_str(),
            e.message,
            e.left.as_ref().map(|f| f.as_str()),
            ts(&e.at)
        ],
    )?)
}
