//! Locally published updates as the planner sees them: WSUS is the truth for which updates
//! exist and their revision, decline and expiry; supctl's bookkeeping (the mirror kept in
//! the state directory) says which catalog published each and with what package.
//!
//! Updates on the server that the mirror does not know (published by another tool, or by a
//! supctl whose state directory was lost) are read from their stored SDP, so a plan adopts
//! them instead of publishing duplicates.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use super::client::Client;
use super::error::Result;
use super::records::UpdateSummary;
use crate::catalog::model::{PublicationState, UpdateRecord};
use crate::catalog::sdp;
use crate::ids::UpdateId;
use crate::store::StoredUpdates;
use crate::store::shared;
use crate::store::{CatalogKey, StoredCatalog, StoredUpdate};

/// The latest revision of every update on the server, by id.
pub type RemoteUpdates = HashMap<UpdateId, UpdateSummary>;

/// Latest revisions only: a search may list older revisions of the same update too.
pub fn latest(rows: Vec<UpdateSummary>) -> RemoteUpdates {
    let mut out: RemoteUpdates = HashMap::new();
    for r in rows {
        match out.get(&r.id) {
            Some(old) if old.revision >= r.revision => {}
            _ => {
                out.insert(r.id, r);
            }
        }
    }
    out
}

/// The mirror's record with the server's truth laid over it.
pub fn overlay(mut mirror: StoredUpdate, remote: &UpdateSummary) -> StoredUpdate {
    mirror.revision = remote.revision;
    mirror.declined = remote.declined;
    mirror.publication = if remote.expired {
        PublicationState::Expired
    } else {
        PublicationState::Published
    };
    // Content is not staged by this backend: the files are known, not held.
    for f in &mut mirror.files {
        f.staged = false;
    }
    mirror
}

/// An update known only from its stored SDP, attributed to the stored catalog of the same
/// publisher (or a key made from the vendor name when none matches).
pub fn adopted(
    record: &UpdateRecord,
    remote: &UpdateSummary,
    catalogs: &BTreeMap<CatalogKey, StoredCatalog>,
) -> StoredUpdate {
    let catalog = catalogs
        .values()
        .find(|c| c.settings.publisher.eq_ignore_ascii_case(&record.vendor))
        .map(|c| c.settings.key.clone())
        .unwrap_or_else(|| vendor_key(&record.vendor));
    let stored = shared::stored_update(
        &catalog,
        record,
        remote.revision,
        record.publication_state,
        remote.declined,
    );
    overlay(stored, remote)
}

/// A catalog key from a vendor name (`Contoso Ltd.` → `contoso-ltd`).
pub fn vendor_key(vendor: &str) -> CatalogKey {
    let mut s = String::new();
    for c in vendor.chars() {
        if c.is_ascii_alphanumeric() {
            s.push(c.to_ascii_lowercase());
        } else if !s.ends_with('-') && !s.is_empty() {
            s.push('-');
        }
    }
    let s: String = s.trim_end_matches('-').chars().take(64).collect();
    CatalogKey::parse(s.trim_end_matches('-'))
        .unwrap_or_else(|_| CatalogKey::parse("unknown-vendor").expect("a valid key"))
}

/// Fills `superseded_by` from the `supersedes` lists, as both other backends do.
pub fn link_supersedence(updates: &mut StoredUpdates) {
    let pairs: Vec<(UpdateId, UpdateId)> = updates
        .values()
        .flat_map(|u| u.supersedes.iter().map(|s| (*s, u.id)))
        .collect();
    for u in updates.values_mut() {
        u.superseded_by.clear();
    }
    for (old, new) in pairs {
        if let Some(u) = updates.get_mut(&old) {
            u.superseded_by.push(new);
        }
    }
    for u in updates.values_mut() {
        u.superseded_by.sort();
        u.superseded_by.dedup();
    }
}

/// Which (update, revision) pairs have no SDP (synchronized Microsoft updates), remembered
/// in the state directory so each is asked about once, not on every plan. Losing the file
/// only costs those questions again.
pub struct SyncedIndex {
    path: PathBuf,
    known: std::collections::BTreeSet<(UpdateId, u32)>,
    dirty: bool,
}

impl SyncedIndex {
    pub fn load(dir: &Path) -> Self {
        let path = dir.join("wsus-synced-updates.json");
        let known = std::fs::read(&path)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default();
        SyncedIndex {
            path,
            known,
            dirty: false,
        }
    }

    /// The SDP of an update the mirror does not know, parsed; `None` for synced updates.
    pub fn fetch(&mut self, c: &Client, r: &UpdateSummary) -> Result<Option<UpdateRecord>> {
        let key = (r.id, r.revision);
        if self.known.contains(&key) {
            return Ok(None);
        }
        match c.sdp(&r.id, r.revision)? {
            Some(xml) => Ok(sdp::parse_catalog(&xml)
                .ok()
                .and_then(|mut v| (v.len() == 1).then(|| v.remove(0)))),
            None => {
                self.known.insert(key);
                self.dirty = true;
                Ok(None)
            }
        }
    }

    /// Writes the index when it grew (temp file, fsync, rename); failures are ignored
    /// because the index is only a cache.
    pub fn save(&mut self) {
        if !self.dirty {
            return;
        }
        let Some(dir) = self.path.parent() else {
            return;
        };
        let write = || -> std::io::Result<()> {
            let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
            serde_json::to_writer(&mut tmp, &self.known)?;
            tmp.as_file().sync_all()?;
            tmp.persist(&self.path).map_err(|e| e.error)?;
            Ok(())
        };
        if write().is_ok() {
            self.dirty = false;
        }
    }
}
