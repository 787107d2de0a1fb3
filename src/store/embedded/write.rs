//! Applying one [`Change`] inside one immediate transaction. Each arm first compares with what is
//! stored, so repeating an operation changes nothing and reports `changed: false`.

use rusqlite::{OptionalExtension as _, Transaction, params};

use crate::catalog::model::{Category, PublicationState, UpdateRecord};
use crate::ids::UpdateId;
use crate::store::content::ContentStore;
use crate::store::error::{Result, StoreError};
use crate::store::model::*;
use crate::store::names::CatalogKey;
use crate::store::op::{Applied, Change, Counts, StageRequest, check_ext};
use crate::store::shared;

use super::read;
use crate::store::codec::{json, pack_xml, ts};
use crate::store::packed::{PackedPackages, PackedXml};

pub(super) fn apply(tx: &Transaction, content: &ContentStore, change: Change) -> Result<Applied> {
    match change {
        Change::UpsertCatalog(rec) => upsert_catalog(tx, rec),
        Change::SetSubscribed { key, subscribed } => {
            require_catalog(tx, &key)?;
            let n = tx.execute(
                "UPDATE catalogs SET subscribed = ?2 WHERE key = ?1 AND subscribed <> ?2",
                params![key.as_str(), subscribed],
            )?;
            Ok(Applied::updated(n > 0))
        }
        Change::DeleteCatalog { key } => {
            let n = tx.execute("DELETE FROM catalogs WHERE key = ?1", [key.as_str()])?;
            Ok(Applied::deleted(n > 0))
        }
        Change::UpsertCertificate {
            thumbprint,
            kind,
            state,
            info,
        } => {
            let existing = read::certificates(tx, None)?;
            let facts = info.map(|i| *i);
            match shared::certificate_change(&existing, &thumbprint, kind, state, facts) {
                None => Ok(Applied::updated(false)),
                Some((remove, cert)) => {
                    for old in &remove {
                        delete_cert_row(tx, old)?;
                    }
                    insert_cert(tx, &cert)?;
                    Ok(if remove.is_empty() {
                        Applied::created(true)
                    } else {
                        Applied::updated(true)
                    })
                }
            }
        }
        Change::DeleteCertificate { thumbprint, kind } => {
            let mut n = 0;
            for c in read::certificates(tx, Some(&thumbprint))?
                .iter()
                .filter(|c| c.kind == kind)
            {
                n += delete_cert_row(tx, c)?;
            }
            Ok(Applied::deleted(n > 0))
        }
        Change::ReplaceCategories {
            catalog,
            categories,
        } => replace_categories(tx, &catalog, categories),
        Change::PublishUpdates {
            catalog,
            updates,
            packed,
        } => {
            require_catalog(tx, &catalog)?;
            publish_all(tx, &catalog, &updates, packed)
        }
        Change::ExpireUpdates { ids } => set_flag(
            tx,
            "UPDATE updates SET expired = 1 WHERE id = ?1 AND expired = 0",
            &ids,
            None,
        ),
        Change::SetDeclined { ids, declined } => set_flag(
            tx,
            "UPDATE updates SET declined = ?2 WHERE id = ?1 AND declined <> ?2",
            &ids,
            Some(declined),
        ),
        Change::StageContent(req) => stage(tx, content, req),
        Change::CreateGroup { name } => {
            let n = tx.execute(
                "INSERT INTO target_groups (name, id) VALUES (?1, ?2) ON CONFLICT (name) DO NOTHING",
                params![name, crate::store::names::unique_token()],
            )?;
            Ok(Applied::created(n > 0))
        }
        Change::Approve {
            update,
            group,
            action,
            deadline,
        } => {
            shared::check_approvable(
                read::updates(tx, Some(&update))?.get(&update).map(|u| &**u),
                &update,
                action,
            )?;
            let known: bool = tx.query_row(
                "SELECT EXISTS (SELECT 1 FROM target_groups WHERE name = ?1)",
                [&group],
                |r| r.get(0),
            )?;
            if !known {
                return Err(StoreError::Invalid {
                    what: "computer target group",
                    value: group,
                });
            }
            let n = tx.execute(
                "INSERT INTO approvals (update_id, group_name, action, deadline, approved_at)
                 VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (update_id, group_name) DO UPDATE SET
                   action = excluded.action, deadline = excluded.deadline, approved_at = excluded.approved_at
                 WHERE action <> excluded.action OR deadline IS NOT excluded.deadline",
                params![
                    update.as_str(),
                    group,
                    action.as_str(),
                    deadline.as_ref().map(ts),
                    ts(&chrono::Utc::now())
                ],
            )?;
            Ok(Applied::updated(n > 0))
        }
        Change::RemoveApproval { update, group } => {
            let n = tx.execute(
                "DELETE FROM approvals WHERE update_id = ?1 AND group_name = ?2",
                params![update.as_str(), group],
            )?;
            Ok(Applied::updated(n > 0))
        }
        Change::RemoveContent { sha1s } => {
            let mut removed = 0;
            for sha1 in sha1s {
                removed += tx.execute(
                    "DELETE FROM content WHERE sha1 = ?1 AND NOT EXISTS (
                        SELECT 1 FROM update_files f JOIN updates u ON u.id = f.update_id
                        WHERE f.sha1 = ?1 AND u.expired = 0 AND u.declined = 0)",
                    [sha1.to_hex()],
                )?;
            }
            Ok(Applied::updated(removed > 0))
        }
        Change::SetSyncSettings(s) => {
            if read::sync_settings(tx)?.as_ref() == Some(&s) {
                return Ok(Applied::updated(false));
            }
            tx.execute(
                "INSERT OR REPLACE INTO sync_settings (singleton, schedule, products, classifications, languages)
                 VALUES (1, ?1, ?2, ?3, ?4)",
                params![s.schedule, json(&s.products), json(&s.classifications), json(&s.languages)],
            )?;
            Ok(Applied::updated(true))
        }
        Change::SetSigning { settings, install } => {
            let before = read::signing(tx)?;
            let mut changed = false;
            if let Some(m) = shared::local_signing(install, "embedded")? {
                let t = m.certificate.thumbprint();
                let all = read::certificates(tx, None)?;
                let row = shared::certificate_change(
                    &all,
                    &t,
                    CertKind::WsusSigning,
                    CertState::Approved,
                    Some(m.certificate.clone()),
                );
                if let Some((remove, cert)) = row {
                    for old in &remove {
                        delete_cert_row(tx, old)?;
                    }
                    insert_cert(tx, &cert)?;
                    changed = true;
                }
                // The replaced certificate no longer signs: its role goes with it.
                let replaced = before.as_ref().and_then(|b| b.certificate.as_ref());
                if let Some(old) = replaced.filter(|o| **o != t) {
                    for c in read::certificates(tx, Some(old))?
                        .iter()
                        .filter(|c| c.kind == CertKind::WsusSigning)
                    {
                        delete_cert_row(tx, c)?;
                    }
                }
            }
            if before.as_ref() != Some(&settings) {
                tx.execute(
                    "INSERT OR REPLACE INTO signing (singleton, mode, certificate) VALUES (1, ?1, ?2)",
                    params![settings.mode.as_str(), settings.certificate.as_ref().map(|t| t.as_str())],
                )?;
                changed = true;
            }
            Ok(Applied::updated(changed))
        }
    }
}

fn require_catalog(tx: &Transaction, key: &CatalogKey) -> Result<StoredCatalog> {
    read::catalogs(tx, Some(key))?
        .remove(key)
        .ok_or_else(|| StoreError::UnknownCatalog(key.clone()))
}

fn upsert_catalog(tx: &Transaction, rec: CatalogRecord) -> Result<Applied> {
    let old = read::catalogs(tx, Some(&rec.key))?.remove(&rec.key);
    if old.as_ref().is_some_and(|o| o.settings == rec) {
        return Ok(Applied::updated(false));
    }
    tx.execute(
        "INSERT INTO catalogs (key, kind, name, publisher, source, description, support_url,
            support_contact, subscribed, schedule, categories, staging, signers, content_certificates, prune)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)
         ON CONFLICT (key) DO UPDATE SET kind = excluded.kind, name = excluded.name,
            publisher = excluded.publisher, source = excluded.source, description = excluded.description,
            support_url = excluded.support_url, support_contact = excluded.support_contact,
            subscribed = excluded.subscribed, schedule = excluded.schedule,
            categories = excluded.categories, staging = excluded.staging, signers = excluded.signers,
            content_certificates = excluded.content_certificates, prune = excluded.prune",
        params![
            rec.key.as_str(),
            rec.kind.as_str(),
            rec.name,
            rec.publisher,
            rec.source,
            rec.description,
            rec.support_url,
            rec.support_contact,
            rec.subscribed,
            rec.schedule,
            json(&rec.categories),
            json(&rec.staging),
            json(&rec.signers),
            json(&rec.content_certificates),
            rec.prune,
        ],
    )?;
    Ok(if old.is_some() {
        Applied::updated(true)
    } else {
        Applied::created(true)
    })
}

fn delete_cert_row(tx: &Transaction, c: &StoredCertificate) -> Result<usize> {
    Ok(tx.execute(
        "DELETE FROM certificates WHERE thumbprint = ?1 AND kind = ?2",
        params![c.thumbprint.as_str(), c.kind.as_str()],
    )?)
}

fn insert_cert(tx: &Transaction, c: &StoredCertificate) -> Result<()> {
    let f = c.facts.as_ref();
    tx.execute(
        "INSERT OR REPLACE INTO certificates (thumbprint, kind, state, subject, issuer, serial,
            sha1, sha256, not_before, not_after, der)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
        params![
            c.thumbprint.as_str(),
            c.kind.as_str(),
            c.state.as_str(),
            f.map(|f| &f.subject),
            f.map(|f| &f.issuer),
            f.map(|f| &f.serial),
            f.map(|f| f.sha1.to_hex()),
            f.map(|f| f.sha256.to_hex()),
            f.map(|f| ts(&f.not_before)),
            f.map(|f| ts(&f.not_after)),
            f.map(|f| &f.der),
        ],
    )?;
    Ok(())
}

fn replace_categories(
    tx: &Transaction,
    catalog: &CatalogKey,
    categories: Vec<Category>,
) -> Result<Applied> {
    require_catalog(tx, catalog)?;
    let new = shared::normalize_categories(categories);
    let old = read::categories(tx, Some(catalog))?
        .remove(catalog)
        .unwrap_or_default();
    if old == new {
        return Ok(Applied::updated(false));
    }
    tx.execute(
        "DELETE FROM categories WHERE catalog = ?1",
        [catalog.as_str()],
    )?;
    let mut cat = tx.prepare_cached(
        "INSERT INTO categories (catalog, id, position, display_name, parent, path) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?;
    let mut mem = tx.prepare_cached(
        "INSERT INTO category_members (catalog, category, update_id) VALUES (?1, ?2, ?3)",
    )?;
    for (i, c) in new.iter().enumerate() {
        cat.execute(params![
            catalog.as_str(),
            c.id.as_str(),
            i as i64,
            c.display_name,
            c.parent.as_ref().map(|p| p.as_str()),
            c.path
        ])?;
        for m in &c.members {
            mem.execute(params![catalog.as_str(), c.id.as_str(), m.as_str()])?;
        }
    }
    Ok(if old.is_empty() {
        Applied::created(true)
    } else {
        Applied::updated(true)
    })
}

/// Publishes `updates` in order; their packages are packed unless `packed` has them.
fn publish_all(
    tx: &Transaction,
    catalog: &CatalogKey,
    updates: &[UpdateRecord],
    mut packed: PackedPackages,
) -> Result<Applied> {
    let mut counts = Counts::default();
    for rec in updates {
        publish_one(tx, catalog, rec, &mut packed, &mut counts)?;
    }
    Ok(Applied::from_counts(counts))
}

fn publish_one(
    tx: &Transaction,
    catalog: &CatalogKey,
    rec: &UpdateRecord,
    packed: &mut PackedPackages,
    counts: &mut Counts,
) -> Result<()> {
    let ahead = packed.take(rec);
    let hash = ahead
        .as_ref()
        .map_or_else(|| rec.content_hash(), |p| p.content_hash())
        .to_hex();
    let existing: Option<(u32, String)> = tx
        .prepare_cached("SELECT revision, content_hash FROM updates WHERE id = ?1")?
        .query_row([rec.id.as_str()], |r| Ok((r.get(0)?, r.get(1)?)))
        .ok();
    let id = rec.id.as_str();
    let expired = rec.publication_state == PublicationState::Expired;
    let revision = match &existing {
        Some((_, h)) if *h == hash => {
            counts.unchanged += 1;
            return Ok(());
        }
        Some((r, _)) => {
            counts.updated += 1;
            tx.prepare_cached("DELETE FROM update_files WHERE update_id = ?1")?
                .execute([id])?;
            tx.prepare_cached("DELETE FROM supersedence WHERE update_id = ?1")?
                .execute([id])?;
            r + 1
        }
        None => {
            counts.created += 1;
            1
        }
    };
    tx.prepare_cached(
        "INSERT INTO updates (id, catalog, revision, content_hash, title, description, vendor, products,
            classification, severity, kb_article, update_type, created, expired, declined)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, 0)
         ON CONFLICT (id) DO UPDATE SET catalog = excluded.catalog, revision = excluded.revision,
            content_hash = excluded.content_hash, title = excluded.title, description = excluded.description,
            vendor = excluded.vendor, products = excluded.products, classification = excluded.classification,
            severity = excluded.severity, kb_article = excluded.kb_article, update_type = excluded.update_type,
            created = excluded.created, expired = (expired OR excluded.expired)",
    )?
    .execute(params![
        id,
        catalog.as_str(),
        revision,
        hash,
        rec.title(),
        rec.description(),
        rec.vendor,
        json(&rec.products),
        rec.classification,
        rec.severity,
        rec.kb_article,
        rec.update_type,
        ts(&rec.created),
        expired
    ])?;
    tx.prepare_cached("INSERT INTO revisions (update_id, revision, content_hash, raw_xml, raw_zstd) VALUES (?1, ?2, ?3, '', ?4)")?
        .execute(params![
            id,
            revision,
            hash,
            ahead.map_or_else(|| pack_xml(&rec.raw_xml), PackedXml::into_bytes)
        ])?;
    let mut file = tx.prepare_cached(
        "INSERT OR IGNORE INTO update_files (update_id, sha1, name, size, sha256, uri) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?;
    for f in rec.files() {
        file.execute(params![
            id,
            f.sha1.to_hex(),
            f.name,
            f.size as i64,
            f.sha256.map(|d| d.to_hex()),
            f.uri
        ])?;
    }
    let mut sup = tx.prepare_cached(
        "INSERT OR IGNORE INTO supersedence (update_id, supersedes) VALUES (?1, ?2)",
    )?;
    for s in &rec.superseded {
        sup.execute(params![id, s.as_str()])?;
    }
    Ok(())
}

fn set_flag(tx: &Transaction, sql: &str, ids: &[UpdateId], value: Option<bool>) -> Result<Applied> {
    let mut st = tx.prepare_cached(sql)?;
    let mut counts = Counts::default();
    for id in ids {
        let n = match value {
            Some(v) => st.execute(params![id.as_str(), v])?,
            None => st.execute([id.as_str()])?,
        };
        if n > 0 {
            counts.updated += 1;
        } else {
            counts.unchanged += 1;
        }
    }
    Ok(Applied::from_counts(counts))
}

fn stage(tx: &Transaction, content: &ContentStore, req: StageRequest) -> Result<Applied> {
    check_ext(&req.ext)?;
    let exists: bool = tx.query_row(
        "SELECT EXISTS (SELECT 1 FROM updates WHERE id = ?1)",
        [req.update.as_str()],
        |r| r.get(0),
    )?;
    if !exists {
        return Err(StoreError::UnknownUpdate(req.update));
    }
    let has_file: bool = tx.query_row(
        "SELECT EXISTS (SELECT 1 FROM update_files WHERE update_id = ?1 AND sha1 = ?2)",
        params![req.update.as_str(), req.sha1.to_hex()],
        |r| r.get(0),
    )?;
    if !has_file {
        return Err(StoreError::UnknownFile {
            update: req.update,
            sha1: req.sha1,
        });
    }
    let stored_ext: Option<String> = tx
        .query_row(
            "SELECT ext FROM content WHERE sha1 = ?1",
            [req.sha1.to_hex()],
            |r| r.get(0),
        )
        .optional()?;
    if let Some(ext) = stored_ext {
        // Already recorded: `install` verifies the new copy and only rewrites the stored file
        // when it went missing or no longer matches its digest (a repair, not a change of state).
        if content.install(&req.temp_path, &req.sha1, &req.sha256, &ext)? {
            tracing::warn!(sha1 = %req.sha1, "restored missing or damaged content");
        }
        return Ok(Applied::created(false));
    }
    let size = std::fs::metadata(&req.temp_path)
        .map_err(|e| StoreError::io(format!("reading {}", req.temp_path.display()), e))?
        .len();
    // The file reaches its final name before the row commits: a crash in between leaves a
    // complete orphan that a later stage reuses, never a row without its file.
    content.install(&req.temp_path, &req.sha1, &req.sha256, &req.ext)?;
    tx.execute(
        "INSERT INTO content (sha1, sha256, size, ext, staged_at) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![
            req.sha1.to_hex(),
            req.sha256.to_hex(),
            size as i64,
            req.ext,
            ts(&chrono::Utc::now())
        ],
    )?;
    Ok(Applied::created(true))
}
