//! Loading stored objects: the whole snapshot, or one object for a fingerprint. Both go
//! through the same loaders so a fingerprint hashes exactly what the snapshot shows.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::Arc;

use rusqlite::{Connection, OptionalExtension as _, params};

use crate::catalog::model::{Category, PublicationState};
use crate::ids::{Thumbprint, UpdateId};
use crate::interner::Interner;
use crate::store::actual::{
    ActualState, StoredFile, StoredUpdate, StoredUpdates, fingerprint_of, object_json,
};
use crate::store::error::Result;
use crate::store::local_categories::{self, LocalCategories};
use crate::store::model::*;
use crate::store::names::{Address, CatalogKey, Fingerprint, Target};
use crate::trust::{CertificateFacts, CertificateInfo};

use crate::store::codec::*;

use super::snapshot_cache::{self, Cached};

/// Everything the server holds, in one read transaction. The updates and category trees
/// come from the snapshot cache at `cache` when it was written for the database's current
/// token, else from the database, and are then kept there for the next snapshot
/// ([`super::snapshot_cache`]; a cache that cannot be written only costs the next one time).
pub(super) fn snapshot(c: &Connection, cache: &Path) -> Result<ActualState> {
    let token = snapshot_token(c)?;
    let schema = crate::store::schema::LATEST;
    let Cached {
        updates,
        categories,
    } = match snapshot_cache::load(cache, schema, token) {
        Some(cached) => cached,
        None => {
            let read = Cached {
                updates: updates(c, None)?,
                categories: categories(c, None)?,
            };
            if let Err(e) =
                snapshot_cache::save(cache, schema, token, &read.updates, &read.categories)
            {
                tracing::debug!(path = %cache.display(), error = %e, "the snapshot cache was not written");
            }
            read
        }
    };
    Ok(ActualState {
        catalogs: catalogs(c, None)?,
        certificates: certificates(c, None)?,
        categories,
        local_categories: StoredUpdate::local_categories(updates.values()),
        updates,
        sync: sync_settings(c)?,
        signing: signing(c)?,
        // supctl's bookkeeping, added by the store.
        inventory: BTreeMap::new(),
        groups: groups(c)?,
        approvals: approvals(c)?,
    })
}

/// The locally published categories of the stored updates, read without loading them:
/// each distinct (vendor, products) pair once.
pub(super) fn local_categories(c: &Connection) -> Result<LocalCategories> {
    let mut st = c.prepare_cached("SELECT DISTINCT vendor, products FROM updates")?;
    let rows = st.query_map([], |r| {
        Ok((r.get::<_, String>(0)?, from_json::<Vec<String>>(r, 1)?))
    })?;
    let mut all = LocalCategories::default();
    for row in rows {
        let (vendor, products) = row?;
        for c in local_categories::of_update(&vendor, &products) {
            all.insert(c);
        }
    }
    Ok(all)
}

/// The random token every write of the tables a snapshot reads replaces (schema 13).
pub(super) fn snapshot_token(c: &Connection) -> Result<i64> {
    Ok(c.query_row("SELECT token FROM snapshot_token", [], |r| r.get(0))?)
}

/// Everything but updates and categories.
pub(super) fn settings(c: &Connection) -> Result<ActualState> {
    Ok(ActualState {
        catalogs: catalogs(c, None)?,
        certificates: certificates(c, None)?,
        sync: sync_settings(c)?,
        signing: signing(c)?,
        ..ActualState::default()
    })
}

pub(super) fn catalogs(
    c: &Connection,
    key: Option<&CatalogKey>,
) -> Result<BTreeMap<CatalogKey, StoredCatalog>> {
    let mut st = c.prepare_cached(
        "SELECT key, kind, name, publisher, source, description, support_url, support_contact,
                subscribed, schedule, categories, staging, signers, content_certificates, prune
         FROM catalogs WHERE ?1 IS NULL OR key = ?1 ORDER BY key",
    )?;
    let rows = st.query_map([key.map(|k| k.as_str())], |r| {
        let settings = CatalogRecord {
            key: parsed(r, 0)?,
            kind: word(r, 1, CatalogKind::parse)?,
            name: r.get(2)?,
            publisher: r.get(3)?,
            source: r.get(4)?,
            description: r.get(5)?,
            support_url: r.get(6)?,
            support_contact: r.get(7)?,
            subscribed: r.get(8)?,
            schedule: r.get(9)?,
            categories: from_json(r, 10)?,
            staging: from_json(r, 11)?,
            signers: from_json(r, 12)?,
            content_certificates: from_json(r, 13)?,
            prune: r.get(14)?,
        };
        // The revision in force is the state's (`catalog_revisions`), merged by the store.
        Ok(StoredCatalog {
            settings,
            revision: None,
        })
    })?;
    let mut out = BTreeMap::new();
    for row in rows {
        let c = row?;
        out.insert(c.settings.key.clone(), c);
    }
    Ok(out)
}

pub(super) fn certificates(
    c: &Connection,
    t: Option<&Thumbprint>,
) -> Result<Vec<StoredCertificate>> {
    let mut st = c.prepare_cached(
        "SELECT thumbprint, kind, state, subject, issuer, serial, sha1, sha256, not_before, not_after, der
         FROM certificates
         WHERE ?1 IS NULL OR thumbprint = ?1 OR sha1 = ?1 OR sha256 = ?1
         ORDER BY thumbprint, kind",
    )?;
    let rows = st.query_map([t.map(|t| t.as_str())], |r| {
        let facts = match r.get::<_, Option<String>>(6)? {
            None => None,
            Some(_) => Some(CertificateFacts {
                subject: r.get(3)?,
                issuer: r.get(4)?,
                serial: r.get(5)?,
                sha1: sha1(r, 6)?,
                sha256: sha256(r, 7)?,
                not_before: time(r, 8)?,
                not_after: time(r, 9)?,
            }),
        };
        let facts = match facts {
            None => None,
            Some(facts) => Some(CertificateInfo {
                facts,
                der: r.get::<_, Option<Vec<u8>>>(10)?.unwrap_or_default(),
            }),
        };
        Ok(StoredCertificate {
            thumbprint: parsed(r, 0)?,
            kind: word(r, 1, CertKind::parse)?,
            state: word(r, 2, CertState::parse)?,
            facts,
        })
    })?;
    let mut v = rows.collect::<rusqlite::Result<Vec<_>>>()?;
    v.sort_by(|a, b| (&a.thumbprint, a.kind).cmp(&(&b.thumbprint, b.kind)));
    Ok(v)
}

pub(super) fn categories(
    c: &Connection,
    key: Option<&CatalogKey>,
) -> Result<BTreeMap<CatalogKey, Vec<Category>>> {
    let k = key.map(|k| k.as_str());
    let mut members: HashMap<(String, String), Vec<UpdateId>> = HashMap::new();
    let mut st = c.prepare_cached(
        "SELECT catalog, category, update_id FROM category_members
         WHERE ?1 IS NULL OR catalog = ?1 ORDER BY catalog, category, update_id",
    )?;
    let rows = st.query_map([k], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            parsed(r, 2)?,
        ))
    })?;
    for row in rows {
        let (cat, id, u) = row?;
        members.entry((cat, id)).or_default().push(u);
    }
    let mut st = c.prepare_cached(
        "SELECT catalog, id, display_name, parent, path FROM categories
         WHERE ?1 IS NULL OR catalog = ?1 ORDER BY catalog, position",
    )?;
    let rows = st.query_map([k], |r| {
        Ok((
            parsed::<CatalogKey>(r, 0)?,
            r.get::<_, String>(1)?,
            Category {
                id: parsed(r, 1)?,
                display_name: r.get(2)?,
                parent: opt_parsed(r, 3)?,
                members: Vec::new(),
                path: r.get(4)?,
            },
        ))
    })?;
    let mut out: BTreeMap<CatalogKey, Vec<Category>> = BTreeMap::new();
    for row in rows {
        let (cat, raw_id, mut category) = row?;
        if let Some(m) = members.remove(&(cat.as_str().to_string(), raw_id)) {
            category.members = m;
        }
        out.entry(cat).or_default().push(category);
    }
    Ok(out)
}

/// Updates with their files and supersedence. The updates and their files run in id order
/// and are merge-joined, so 100,000 updates cost three index scans and no hashing. The rows
/// go straight into the map: collecting them first, then the map, held the updates three
/// times over (the vector, the pairs `BTreeMap::from_iter` sorts, the map), about 100 MB
/// of a no-op plan of 100,000 updates.
pub(super) fn updates(c: &Connection, id: Option<&UpdateId>) -> Result<StoredUpdates> {
    match id {
        Some(id) => updates_which(c, Which::One(id)),
        None => updates_which(c, Which::All),
    }
}

/// The stored updates of `ids` (those that exist): one statement per table for the lot,
/// not one per update (apply records what each publish of a batch left).
pub(super) fn updates_listed(c: &Connection, ids: &[UpdateId]) -> Result<StoredUpdates> {
    updates_which(c, Which::Listed(ids))
}

/// Which stored updates a read takes.
#[derive(Clone, Copy)]
enum Which<'a> {
    All,
    One(&'a UpdateId),
    /// Bound as a JSON array of ids (`json_each`).
    Listed(&'a [UpdateId]),
}

fn updates_which(c: &Connection, which: Which<'_>) -> Result<StoredUpdates> {
    let (one_text, listed);
    let id_text: Option<&str> = match which {
        Which::All => None,
        Which::One(id) => {
            one_text = id.as_str();
            Some(&one_text)
        }
        Which::Listed(ids) => {
            listed = json(ids);
            Some(&listed)
        }
    };
    // One statement per case: SQLite cannot use an index for `?1 IS NULL OR id = ?1`, so the
    // single-update read (every fingerprint check during apply) would scan the whole table.
    let one = !matches!(which, Which::All);
    let mut st = c.prepare_cached(if let Which::Listed(_) = which {
        "SELECT id, catalog, revision, content_hash, title, vendor, products,
                classification, severity, kb_article, update_type, created, expired, declined
         FROM updates WHERE id IN (SELECT value FROM json_each(?1))"
    } else if one {
        "SELECT id, catalog, revision, content_hash, title, vendor, products,
                classification, severity, kb_article, update_type, created, expired, declined
         FROM updates WHERE id = ?1 ORDER BY id"
    } else {
        // In table order, not `ORDER BY id`: that walks the id index and looks every row up
        // from it, a tenth of a no-op plan for 100,000 updates; the map sorts them anyway.
        "SELECT id, catalog, revision, content_hash, title, vendor, products,
                classification, severity, kb_article, update_type, created, expired, declined
         FROM updates WHERE ?1 IS NULL"
    })?;
    let mut v = BTreeMap::new();
    // Rows of one catalog come together, and a catalog's updates share a few product
    // lists: each is parsed once, not once per row, and shared, as the other names are.
    let mut catalog: Option<CatalogKey> = None;
    let mut products: HashMap<String, Arc<[String]>> = HashMap::new();
    let mut names = Interner::default();
    let mut rows = st.query([id_text])?;
    while let Some(r) = rows.next()? {
        let key = text_ref(r, 1)?;
        let catalog = match &catalog {
            Some(k) if k.as_str() == key => k.clone(),
            _ => catalog.insert(parsed(r, 1)?).clone(),
        };
        let listed = text_ref(r, 6)?;
        let products = match products.get(listed) {
            Some(p) => p.clone(),
            None => {
                let p = names.list(&from_json::<Vec<String>>(r, 6)?);
                products.insert(listed.to_string(), p.clone());
                p
            }
        };
        let u = StoredUpdate {
            id: parsed(r, 0)?,
            catalog,
            revision: r.get(2)?,
            content_hash: sha256(r, 3)?,
            title: r.get(4)?,
            vendor: names.name(text_ref(r, 5)?),
            products,
            classification: names.name(text_ref(r, 7)?),
            severity: opt_text_ref(r, 8)?.map(|s| names.name(s)),
            kb_article: r.get(9)?,
            update_type: names.name(text_ref(r, 10)?),
            created: time(r, 11)?,
            publication: if r.get(12)? {
                PublicationState::Expired
            } else {
                PublicationState::Published
            },
            declined: r.get(13)?,
            supersedes: Vec::new(),
            superseded_by: Vec::new(),
            files: Vec::new(),
        };
        v.insert(u.id, Box::new(u));
    }

    let mut st = c.prepare_cached(if let Which::Listed(_) = which {
        "SELECT f.update_id, f.name, f.size, f.sha1,
                COALESCE(f.sha256, (SELECT c.sha256 FROM content c WHERE c.sha1 = f.sha1)),
                f.uri, EXISTS (SELECT 1 FROM content c WHERE c.sha1 = f.sha1)
         FROM update_files f WHERE f.update_id IN (SELECT value FROM json_each(?1))
         ORDER BY f.update_id"
    } else if one {
        // Subqueries, not the join: with a join, SQLite prepares a statement that holds a
        // column equal to a bound parameter again at every run (see the end).
        "SELECT f.update_id, f.name, f.size, f.sha1,
                COALESCE(f.sha256, (SELECT c.sha256 FROM content c WHERE c.sha1 = f.sha1)),
                f.uri, EXISTS (SELECT 1 FROM content c WHERE c.sha1 = f.sha1)
         FROM update_files f WHERE f.update_id = ?1"
    } else {
        "SELECT f.update_id, f.name, f.size, f.sha1, COALESCE(f.sha256, c.sha256), f.uri,
                c.sha1 IS NOT NULL
         FROM update_files f LEFT JOIN content c ON c.sha1 = f.sha1
         WHERE ?1 IS NULL ORDER BY f.update_id, f.sha1"
    })?;
    let files = st.query_map([id_text], |r| {
        Ok((
            UpdateId::parse(text_ref(r, 0)?).ok(),
            StoredFile {
                name: r.get(1)?,
                size: r.get::<_, i64>(2)? as u64,
                sha1: sha1(r, 3)?,
                sha256: opt_sha256(r, 4)?,
                uri: r.get(5)?,
                staged: r.get(6)?,
            },
        ))
    })?;
    merge_in_id_order(files, &mut v, |u| &mut u.files)?;

    if one {
        let mut st = c.prepare_cached(if let Which::Listed(_) = which {
            "SELECT update_id, supersedes FROM supersedence
             WHERE update_id IN (SELECT value FROM json_each(?1))
                OR supersedes IN (SELECT value FROM json_each(?1))"
        } else {
            "SELECT update_id, supersedes FROM supersedence WHERE update_id = ?1 OR supersedes = ?1"
        })?;
        let mut rows = st.query([id_text])?;
        while let Some(r) = rows.next()? {
            let (newer, older): (UpdateId, UpdateId) = (parsed(r, 0)?, parsed(r, 1)?);
            if let Some(u) = v.get_mut(&newer) {
                u.supersedes.push(older);
            }
            if let Some(u) = v.get_mut(&older) {
                u.superseded_by.push(newer);
            }
        }
    } else {
        // Read once, in the primary key's order, and merge-joined for each side: the
        // other side's order is a sort of 90,000 pairs of numbers in memory, cheaper than
        // a second scan through the reverse index.
        let mut st = c.prepare_cached(
            "SELECT update_id, supersedes FROM supersedence ORDER BY update_id, supersedes",
        )?;
        let mut pairs = st
            .query_map([], |r| {
                Ok((parsed::<UpdateId>(r, 0)?, parsed::<UpdateId>(r, 1)?))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        merge_in_id_order(
            pairs.iter().map(|&(newer, older)| Ok((Some(newer), older))),
            &mut v,
            |u| &mut u.supersedes,
        )?;
        pairs.sort_unstable_by_key(|&(newer, older)| (older, newer));
        merge_in_id_order(
            pairs.iter().map(|&(newer, older)| Ok((Some(older), newer))),
            &mut v,
            |u| &mut u.superseded_by,
        )?;
    }
    if one {
        for u in v.values_mut() {
            // The single-update statements have no ORDER BY and no join: a column held
            // equal to a bound parameter in ORDER BY, or in a join, makes SQLite prepare
            // the statement again at every run, which was a quarter of a large first apply
            // (a fingerprint before and after each publish). Sorted here instead, as the
            // full read's ORDER BY sorts them.
            u.files.sort_by_key(|f| f.sha1);
            u.supersedes.sort();
            u.superseded_by.sort();
        }
    }
    Ok(v)
}

/// Gives each update the items `rows` name it the owner of, walking the rows and the map
/// together: the rows must come in owner order (stored ids are normalised, so text order is
/// id order, the map's). Rows naming an update the map does not hold, or no valid id, are
/// skipped. A merge, not a lookup per row: 150,000 files and 90,000 supersedence pairs each
/// looked up in the map were a tenth of a 100,000-update snapshot. Each owner's items are
/// gathered first and then moved into a vector of exactly their number: vectors grown by
/// pushes kept room for four, 40 MB of that snapshot at its peak.
fn merge_in_id_order<T>(
    rows: impl Iterator<Item = rusqlite::Result<(Option<UpdateId>, T)>>,
    updates: &mut StoredUpdates,
    field: fn(&mut StoredUpdate) -> &mut Vec<T>,
) -> Result<()> {
    type Cursor<'a> = std::iter::Peekable<
        std::collections::btree_map::ValuesMut<'a, UpdateId, Box<StoredUpdate>>,
    >;
    fn hand_over<T>(
        cursor: &mut Cursor<'_>,
        owner: UpdateId,
        items: &mut Vec<T>,
        field: fn(&mut StoredUpdate) -> &mut Vec<T>,
    ) {
        while cursor.next_if(|u| u.id < owner).is_some() {}
        if let Some(u) = cursor.peek_mut().filter(|u| u.id == owner) {
            let slot = field(u);
            slot.reserve_exact(items.len());
            slot.append(items);
        }
        items.clear();
    }
    let mut cursor = updates.values_mut().peekable();
    let mut gathered: Vec<T> = Vec::new();
    let mut owner: Option<UpdateId> = None;
    for row in rows {
        let (id, item) = row?;
        let Some(id) = id else { continue };
        if let Some(o) = owner.filter(|o| *o != id) {
            hand_over(&mut cursor, o, &mut gathered, field);
        }
        owner = Some(id);
        gathered.push(item);
    }
    if let Some(o) = owner {
        hand_over(&mut cursor, o, &mut gathered, field);
    }
    Ok(())
}

pub(super) fn sync_settings(c: &Connection) -> Result<Option<SyncSettings>> {
    Ok(c.prepare_cached(
        "SELECT schedule, products, classifications, languages FROM sync_settings",
    )?
    .query_row([], |r| {
        Ok(SyncSettings {
            schedule: r.get(0)?,
            products: from_json(r, 1)?,
            classifications: from_json(r, 2)?,
            languages: from_json(r, 3)?,
        })
    })
    .optional()?)
}

pub(super) fn signing(c: &Connection) -> Result<Option<SigningSettings>> {
    Ok(c.prepare_cached("SELECT mode, certificate FROM signing")?
        .query_row([], |r| {
            Ok(SigningSettings {
                mode: word(r, 0, SigningMode::parse)?,
                certificate: opt_parsed(r, 1)?,
            })
        })
        .optional()?)
}

pub(super) fn raw_xml(
    c: &Connection,
    id: &UpdateId,
    revision: Option<u32>,
) -> Result<Option<String>> {
    // Packed with zstd since schema 14 (`raw_zstd`), deflated in 12 and 13 (`raw_deflate`);
    // text in `raw_xml` before.
    Ok(c.prepare_cached(
        "SELECT raw_xml, raw_zstd, raw_deflate FROM revisions WHERE update_id = ?1
           AND revision = COALESCE(?2, (SELECT revision FROM updates WHERE id = ?1))",
    )?
    .query_row(
        params![id.as_str(), revision],
        |r| match crate::store::codec::unpack_xml(r, 1, 2)? {
            Some(xml) => Ok(xml),
            None => r.get(0),
        },
    )
    .optional()?)
}

/// The description of update `id`'s current revision (not part of a snapshot: see
/// [`StoredUpdate::title`]).
pub(super) fn description(c: &Connection, id: &UpdateId) -> Result<Option<String>> {
    Ok(
        c.prepare_cached("SELECT description FROM updates WHERE id = ?1")?
            .query_row([id.as_str()], |r| r.get(0))
            .optional()?,
    )
}

/// The fingerprint of the object `address` names (what apply compares before acting), read
/// on `c`: inside a write transaction it sees that transaction's changes.
pub(super) fn fingerprint(c: &Connection, address: &Address) -> Result<Option<Fingerprint>> {
    let value = match address.target() {
        None => None,
        Some(Target::Catalog(k)) => {
            return Ok(catalogs(c, Some(&k))?.remove(&k).map(|c| c.fingerprint()));
        }
        Some(Target::Update(k, id)) => {
            return Ok(updates(c, Some(&id))?
                .remove(&id)
                .filter(|u| u.catalog == k)
                .map(|u| u.fingerprint()));
        }
        Some(Target::Certificate(t, role)) => {
            let v: Vec<_> = certificates(c, None)?
                .into_iter()
                .filter(|x| x.matches(&t))
                .collect();
            match role {
                None => (!v.is_empty()).then(|| object_json(&v)),
                Some(kind) => v.iter().find(|c| c.kind == kind).map(object_json),
            }
        }
        Some(Target::Sync) => sync_settings(c)?.map(|s| object_json(&s)),
        Some(Target::Signing) => signing(c)?.map(|s| object_json(&s)),
        Some(Target::Group(name)) => groups(c)?
            .into_iter()
            .find(|g| g.name.eq_ignore_ascii_case(&name))
            .map(|g| object_json(&g)),
        Some(Target::Approval(_, id, group)) => approvals(c)?
            .iter()
            .find(|a| a.update == id && a.group.eq_ignore_ascii_case(&group))
            .map(crate::store::actual::approval_json),
    };
    Ok(value.map(|v| fingerprint_of(&v)))
}

/// The fingerprints of `addresses`, in order, as [`fingerprint`] gives each: the updates
/// among them read together ([`updates_listed`]), everything else one by one.
pub(super) fn fingerprints(
    c: &Connection,
    addresses: &[&Address],
) -> Result<Vec<Option<Fingerprint>>> {
    let targets: Vec<Option<Target>> = addresses.iter().map(|a| a.target()).collect();
    let ids: Vec<UpdateId> = targets
        .iter()
        .filter_map(|t| match t {
            Some(Target::Update(_, id)) => Some(*id),
            _ => None,
        })
        .collect();
    let updates = if ids.is_empty() {
        StoredUpdates::new()
    } else {
        updates_listed(c, &ids)?
    };
    let mut out = Vec::with_capacity(addresses.len());
    for (address, target) in addresses.iter().zip(targets) {
        out.push(match target {
            Some(Target::Update(k, id)) => updates
                .get(&id)
                .filter(|u| u.catalog == k)
                .map(|u| u.fingerprint()),
            _ => fingerprint(c, address)?,
        });
    }
    Ok(out)
}

/// Whether the object `address` names exists: `fingerprint(c, address)?.is_some()`, with
/// one indexed lookup for an update instead of reading it whole (apply asks before each
/// publish of a new update).
pub(super) fn present(c: &Connection, address: &Address) -> Result<bool> {
    match address.target() {
        Some(Target::Update(k, id)) => Ok(c
            .prepare_cached("SELECT 1 FROM updates WHERE id = ?1 AND catalog = ?2")?
            .exists(params![id.as_str(), k.as_str()])?),
        _ => Ok(fingerprint(c, address)?.is_some()),
    }
}

/// Computer target groups, by name.
pub(super) fn groups(c: &Connection) -> Result<Vec<TargetGroup>> {
    let mut st = c.prepare_cached("SELECT name, id FROM target_groups ORDER BY name")?;
    let rows = st.query_map([], |r| {
        Ok(TargetGroup {
            name: r.get(0)?,
            id: r.get(1)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Approvals, by update and group.
pub(super) fn approvals(c: &Connection) -> Result<Vec<StoredApproval>> {
    let mut st = c.prepare_cached(
        "SELECT update_id, group_name, action, deadline, approved_at FROM approvals
         ORDER BY update_id, group_name",
    )?;
    let rows = st.query_map([], |r| {
        Ok(StoredApproval {
            update: parsed(r, 0)?,
            group: r.get(1)?,
            action: word(r, 2, crate::config::ApprovalAction::parse)?,
            deadline: opt_time(r, 3)?,
            approved: time(r, 4)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}
