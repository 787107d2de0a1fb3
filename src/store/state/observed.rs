//! The schema-v5 tables: findings per scope and the content certificates each catalog
//! ships (see `store::observed`). Each write compares with what is stored first, so a
//! repeated operation reports `changed: false`.

use rusqlite::{Connection, params};

use crate::store::error::Result;
use crate::store::names::{Address, CatalogKey};
use crate::store::observed::{Finding, FindingKind, ShippedCertificates};
use crate::store::op::Applied;
use crate::trust::CertificateFacts;

use crate::store::codec::*;

pub(super) fn findings(c: &Connection) -> Result<Vec<Finding>> {
    let mut st = c.prepare_cached(
        "SELECT scope, kind, since, seen, summary FROM findings ORDER BY scope, kind",
    )?;
    let rows = st.query_map([], |r| {
        Ok(Finding {
            scope: parsed(r, 0)?,
            kind: word(r, 1, FindingKind::parse)?,
            since: time(r, 2)?,
            seen: time(r, 3)?,
            summary: r.get(4)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

pub(super) fn record_finding(c: &Connection, f: &Finding) -> Result<Applied> {
    let old = findings(c)?
        .into_iter()
        .find(|o| o.scope == f.scope && o.kind == f.kind);
    if old.as_ref() == Some(f) {
        return Ok(Applied::updated(false));
    }
    c.execute(
        "INSERT OR REPLACE INTO findings (scope, kind, since, seen, summary)
         VALUES (?1, ?2, ?3, ?4, ?5)",
        params![
            f.scope.as_str(),
            f.kind.as_str(),
            ts(&f.since),
            ts(&f.seen),
            f.summary
        ],
    )?;
    Ok(if old.is_some() {
        Applied::updated(true)
    } else {
        Applied::created(true)
    })
}

pub(super) fn clear_finding(c: &Connection, scope: &Address, kind: FindingKind) -> Result<Applied> {
    let n = c.execute(
        "DELETE FROM findings WHERE scope = ?1 AND kind = ?2",
        params![scope.as_str(), kind.as_str()],
    )?;
    Ok(Applied::deleted(n > 0))
}

/// Every catalog's list, or one catalog's.
pub(super) fn shipped(
    c: &Connection,
    catalog: Option<&CatalogKey>,
) -> Result<Vec<ShippedCertificates>> {
    let mut st = c.prepare_cached(
        "SELECT catalog, sha1, sha256, subject, issuer, serial, not_before, not_after
         FROM shipped_certificates WHERE ?1 IS NULL OR catalog = ?1 ORDER BY catalog, sha1",
    )?;
    let rows = st.query_map([catalog.map(|k| k.as_str())], |r| {
        Ok((
            parsed::<CatalogKey>(r, 0)?,
            CertificateFacts {
                sha1: sha1(r, 1)?,
                sha256: sha256(r, 2)?,
                subject: r.get(3)?,
                issuer: r.get(4)?,
                serial: r.get(5)?,
                not_before: time(r, 6)?,
                not_after: time(r, 7)?,
            },
        ))
    })?;
    let mut out: Vec<ShippedCertificates> = Vec::new();
    for row in rows {
        let (catalog, facts) = row?;
        match out.last_mut() {
            Some(s) if s.catalog == catalog => s.certificates.push(facts),
            _ => out.push(ShippedCertificates {
                catalog,
                certificates: vec![facts],
            }),
        }
    }
    Ok(out)
}

pub(super) fn record_shipped(c: &Connection, s: &ShippedCertificates) -> Result<Applied> {
    let s = ShippedCertificates::new(s.catalog.clone(), s.certificates.clone());
    let old = shipped(c, Some(&s.catalog))?.pop();
    let old_list = old.as_ref().map_or(&[][..], |o| &o.certificates[..]);
    if old_list == &s.certificates[..] {
        return Ok(Applied::updated(false));
    }
    c.execute(
        "DELETE FROM shipped_certificates WHERE catalog = ?1",
        [s.catalog.as_str()],
    )?;
    for f in &s.certificates {
        c.execute(
            "INSERT INTO shipped_certificates
                (catalog, sha1, sha256, subject, issuer, serial, not_before, not_after)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![
                s.catalog.as_str(),
                f.sha1.to_hex(),
                f.sha256.to_hex(),
                f.subject,
                f.issuer,
                f.serial,
                ts(&f.not_before),
                ts(&f.not_after)
            ],
        )?;
    }
    Ok(if old.is_some() {
        Applied::updated(true)
    } else {
        Applied::created(true)
    })
}
