//! Queries behind the store CLI: the filtered updates view, counts and sizes, and the
//! content index gc compares the directory with.

use std::collections::HashMap;

use rusqlite::{Connection, ToSql};
use serde::Serialize;

use crate::ids::Sha1;
use crate::store::error::Result;
use crate::store::location::StoreLocation;
use crate::store::model::UpdateState;
use crate::store::query::{UpdateFilter, UpdateRow, sort_rows};

use crate::store::codec::*;

/// True when every file of the update is staged and it has at least one.
const DEPLOYABLE: &str = "(EXISTS (SELECT 1 FROM update_files f WHERE f.update_id = u.id)
    AND NOT EXISTS (SELECT 1 FROM update_files f LEFT JOIN content c ON c.sha1 = f.sha1
                    WHERE f.update_id = u.id AND c.sha1 IS NULL))";

pub(super) fn list_updates(c: &Connection, filter: &UpdateFilter) -> Result<Vec<UpdateRow>> {
    let mut sql = format!(
        "SELECT u.id, u.revision, u.title, u.vendor, u.products, u.classification, u.catalog,
                u.expired, {DEPLOYABLE},
                (SELECT json_group_array(supersedes) FROM
                    (SELECT supersedes FROM supersedence WHERE update_id = u.id ORDER BY supersedes)),
                (SELECT json_group_array(update_id) FROM
                    (SELECT update_id FROM supersedence WHERE supersedes = u.id ORDER BY update_id)),
                u.declined
         FROM updates u WHERE 1"
    );
    let mut args: Vec<Box<dyn ToSql>> = Vec::new();
    let mut arg = |sql: &mut String, clause: &str, v: String| {
        args.push(Box::new(v));
        sql.push_str(&clause.replace('?', &format!("?{}", args.len())));
    };
    if let Some(k) = &filter.catalog {
        arg(&mut sql, " AND u.catalog = ?", k.as_str().to_string());
    }
    if let Some(v) = &filter.vendor {
        arg(&mut sql, " AND u.vendor = ? COLLATE NOCASE", v.clone());
    }
    if let Some(v) = &filter.classification {
        arg(
            &mut sql,
            " AND u.classification = ? COLLATE NOCASE",
            v.clone(),
        );
    }
    if let Some(p) = &filter.product {
        arg(
            &mut sql,
            " AND EXISTS (SELECT 1 FROM json_each(u.products) WHERE value = ? COLLATE NOCASE)",
            p.clone(),
        );
    }
    if let Some(path) = &filter.category {
        let p = path.trim_end_matches('/').to_ascii_lowercase();
        arg(
            &mut sql,
            " AND EXISTS (SELECT 1 FROM categories k JOIN category_members m
                 ON m.catalog = k.catalog AND m.category = k.id
                 WHERE k.catalog = u.catalog AND m.update_id = u.id
                   AND (lower(k.path) = ? OR substr(lower(k.path), 1, length(?) + 1) = ? || '/'))",
            p,
        );
    }
    match filter.superseded {
        None => {}
        Some(true) => {
            sql.push_str(" AND EXISTS (SELECT 1 FROM supersedence s WHERE s.supersedes = u.id)")
        }
        Some(false) => {
            sql.push_str(" AND NOT EXISTS (SELECT 1 FROM supersedence s WHERE s.supersedes = u.id)")
        }
    }
    match filter.state {
        None => {}
        Some(UpdateState::Expired) => sql.push_str(" AND u.expired = 1"),
        Some(UpdateState::Declined) => sql.push_str(" AND u.expired = 0 AND u.declined = 1"),
        Some(UpdateState::Deployable) => sql.push_str(&format!(
            " AND u.expired = 0 AND u.declined = 0 AND {DEPLOYABLE}"
        )),
        Some(UpdateState::MetadataOnly) => sql.push_str(&format!(
            " AND u.expired = 0 AND u.declined = 0 AND NOT {DEPLOYABLE}"
        )),
    }
    let mut st = c.prepare_cached(&sql)?;
    let params: Vec<&dyn ToSql> = args.iter().map(|b| b.as_ref()).collect();
    let rows = st.query_map(params.as_slice(), |r| {
        let products: Vec<String> = from_json(r, 4)?;
        let state = if r.get(7)? {
            UpdateState::Expired
        } else if r.get(11)? {
            UpdateState::Declined
        } else if r.get(8)? {
            UpdateState::Deployable
        } else {
            UpdateState::MetadataOnly
        };
        Ok(UpdateRow {
            id: parsed(r, 0)?,
            revision: r.get(1)?,
            title: r.get(2)?,
            vendor: r.get(3)?,
            product: products.join(", "),
            classification: r.get(5)?,
            catalog: parsed(r, 6)?,
            state,
            deselected: false,
            supersedes: from_json(r, 9)?,
            superseded_by: from_json(r, 10)?,
            compliance: None,
        })
    })?;
    let mut out = Vec::new();
    for row in rows {
        let row = row?;
        if filter
            .title
            .as_ref()
            .is_none_or(|re| re.is_match(&row.title))
        {
            out.push(row);
        }
    }
    sort_rows(&mut out);
    Ok(out)
}

/// Row counts per kind of object.
#[derive(Debug, Clone, Default, Serialize)]
pub struct TableCounts {
    pub catalogs: u64,
    pub certificates: u64,
    pub categories: u64,
    pub updates: u64,
    pub revisions: u64,
    pub expired: u64,
    pub deployable: u64,
    pub files: u64,
    pub content_files: u64,
    pub content_bytes: u64,
    pub status_messages: u64,
    pub sync_runs: u64,
    pub journal_entries: u64,
    pub inventory: u64,
}

/// What `store show` reports besides the lock.
#[derive(Debug, Clone, Serialize)]
pub struct StoreStats {
    pub schema_version: i64,
    /// `store.db` plus its WAL.
    pub database_bytes: u64,
    pub counts: TableCounts,
}

pub(super) fn stats(
    c: &Connection,
    loc: &StoreLocation,
    schema_version: i64,
) -> Result<StoreStats> {
    let n = |sql: &str| -> Result<u64> { Ok(c.query_row(sql, [], |r| r.get::<_, i64>(0))? as u64) };
    let counts = TableCounts {
        catalogs: n("SELECT count(*) FROM catalogs")?,
        certificates: n("SELECT count(*) FROM certificates")?,
        categories: n("SELECT count(*) FROM categories")?,
        updates: n("SELECT count(*) FROM updates")?,
        revisions: n("SELECT count(*) FROM revisions")?,
        expired: n("SELECT count(*) FROM updates WHERE expired = 1")?,
        deployable: n(&format!(
            "SELECT count(*) FROM updates u WHERE u.expired = 0 AND {DEPLOYABLE}"
        ))?,
        files: n("SELECT count(*) FROM update_files")?,
        content_files: n("SELECT count(*) FROM content")?,
        content_bytes: n("SELECT COALESCE(sum(size), 0) FROM content")?,
        status_messages: n("SELECT count(*) FROM status_messages")?,
        sync_runs: n("SELECT count(*) FROM sync_runs")?,
        journal_entries: n("SELECT count(*) FROM journal")?,
        inventory: n("SELECT count(*) FROM inventory")?,
    };
    let size = |p: std::path::PathBuf| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
    let wal = loc.dir().join("store.db-wal");
    Ok(StoreStats {
        schema_version,
        database_bytes: size(loc.db_path()) + size(wal),
        counts,
    })
}

pub(super) fn content_index(c: &Connection) -> Result<HashMap<Sha1, String>> {
    let mut st = c.prepare_cached("SELECT sha1, ext FROM content")?;
    let rows = st.query_map([], |r| Ok((sha1(r, 0)?, r.get::<_, String>(1)?)))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}
