//! The in-memory server's objects and how each [`Change`] alters them, mirroring
//! `embedded::write` rule for rule (shared rules live in `store::shared`).

use std::collections::BTreeMap;

use crate::catalog::model::{Category, PublicationState, UpdateRecord};
use crate::ids::{Sha1, Sha256, UpdateId};
use crate::store::actual::{ActualState, StoredUpdate, StoredUpdates};
use crate::store::content::digest_file;
use crate::store::error::{Result, StoreError};
use crate::store::model::*;
use crate::store::names::CatalogKey;
use crate::store::op::{Applied, Change, Counts, StageRequest, check_ext};
use crate::store::shared;

#[derive(Debug, Clone)]
pub(super) struct MemUpdate {
    /// Files unstaged and `superseded_by` empty: both are derived when snapshotting.
    pub(super) stored: StoredUpdate,
    /// (content hash, raw XML) per revision, revision 1 first.
    pub(super) revisions: Vec<(Sha256, String)>,
}

#[derive(Debug, Default, Clone)]
pub(super) struct Mem {
    pub(super) catalogs: BTreeMap<CatalogKey, StoredCatalog>,
    pub(super) certificates: Vec<StoredCertificate>,
    pub(super) categories: BTreeMap<CatalogKey, Vec<Category>>,
    pub(super) updates: BTreeMap<UpdateId, MemUpdate>,
    pub(super) content: BTreeMap<Sha1, Sha256>,
    pub(super) sync: Option<SyncSettings>,
    pub(super) signing: Option<SigningSettings>,
    /// The signing certificate's key, as the embedded server keeps it in `signing/`.
    pub(super) signing_key: Option<crate::signing::SigningKey>,
    /// Groups by lower-case name (WSUS compares names case-insensitively).
    pub(super) groups: BTreeMap<String, TargetGroup>,
    /// Approvals by (update, lower-case group name).
    pub(super) approvals: BTreeMap<(UpdateId, String), StoredApproval>,
}

impl Mem {
    pub(super) fn snapshot(&self) -> ActualState {
        let mut updates: StoredUpdates = self
            .updates
            .iter()
            .map(|(id, m)| {
                let mut u = m.stored.clone();
                for f in &mut u.files {
                    if let Some(d) = self.content.get(&f.sha1) {
                        f.staged = true;
                        f.sha256 = f.sha256.or(Some(*d));
                    }
                }
                (*id, Box::new(u))
            })
            .collect();
        let edges: Vec<(UpdateId, UpdateId)> = updates
            .values()
            .flat_map(|u| u.supersedes.iter().map(|s| (u.id, *s)))
            .collect();
        for (newer, older) in edges {
            if let Some(o) = updates.get_mut(&older) {
                o.superseded_by.push(newer);
            }
        }
        for u in updates.values_mut() {
            u.superseded_by.sort();
        }
        ActualState {
            catalogs: self.catalogs.clone(),
            certificates: self.certificates.clone(),
            categories: self.categories.clone(),
            local_categories: StoredUpdate::local_categories(updates.values()),
            updates,
            sync: self.sync.clone(),
            signing: self.signing.clone(),
            inventory: BTreeMap::new(),
            groups: self.groups.values().cloned().collect(),
            approvals: self.approvals.values().cloned().collect(),
        }
    }

    fn catalog(&mut self, key: &CatalogKey) -> Result<&mut StoredCatalog> {
        self.catalogs
            .get_mut(key)
            .ok_or_else(|| StoreError::UnknownCatalog(key.clone()))
    }

    pub(super) fn apply(&mut self, change: Change) -> Result<Applied> {
        Ok(match change {
            Change::UpsertCatalog(rec) => match self.catalogs.get_mut(&rec.key) {
                Some(c) if c.settings == rec => Applied::updated(false),
                Some(c) => {
                    c.settings = rec;
                    Applied::updated(true)
                }
                None => {
                    self.catalogs.insert(
                        rec.key.clone(),
                        StoredCatalog {
                            settings: rec,
                            revision: None,
                        },
                    );
                    Applied::created(true)
                }
            },
            Change::SetSubscribed { key, subscribed } => {
                let c = self.catalog(&key)?;
                let changed = c.settings.subscribed != subscribed;
                c.settings.subscribed = subscribed;
                Applied::updated(changed)
            }
            Change::DeleteCatalog { key } => {
                self.categories.remove(&key);
                Applied::deleted(self.catalogs.remove(&key).is_some())
            }
            Change::UpsertCertificate {
                thumbprint,
                kind,
                state,
                info,
            } => {
                let facts = info.map(|i| *i);
                match shared::certificate_change(
                    &self.certificates,
                    &thumbprint,
                    kind,
                    state,
                    facts,
                ) {
                    None => Applied::updated(false),
                    Some((remove, cert)) => {
                        self.certificates.retain(|c| !remove.contains(c));
                        self.certificates
                            .retain(|c| !(c.thumbprint == cert.thumbprint && c.kind == cert.kind));
                        self.certificates.push(cert);
                        self.certificates
                            .sort_by(|a, b| (&a.thumbprint, a.kind).cmp(&(&b.thumbprint, b.kind)));
                        if remove.is_empty() {
                            Applied::created(true)
                        } else {
                            Applied::updated(true)
                        }
                    }
                }
            }
            Change::DeleteCertificate { thumbprint, kind } => {
                let before = self.certificates.len();
                self.certificates
                    .retain(|c| !(c.kind == kind && c.matches(&thumbprint)));
                Applied::deleted(self.certificates.len() < before)
            }
            Change::ReplaceCategories {
                catalog,
                categories,
            } => {
                self.catalog(&catalog)?;
                let new = shared::normalize_categories(categories);
                let old = self.categories.get(&catalog).cloned().unwrap_or_default();
                if old == new {
                    Applied::updated(false)
                } else {
                    if new.is_empty() {
                        self.categories.remove(&catalog);
                    } else {
                        self.categories.insert(catalog, new);
                    }
                    if old.is_empty() {
                        Applied::created(true)
                    } else {
                        Applied::updated(true)
                    }
                }
            }
            // Nothing stored packed here: what came packed is not needed.
            Change::PublishUpdates {
                catalog, updates, ..
            } => {
                self.catalog(&catalog)?;
                let existing =
                    StoredUpdate::local_categories(self.updates.values().map(|m| &m.stored));
                crate::store::local_categories::check_publication(&existing, &catalog, &updates)?;
                let mut counts = Counts::default();
                for rec in &updates {
                    self.publish(&catalog, rec, &mut counts);
                }
                Applied::from_counts(counts)
            }
            Change::ExpireUpdates { ids } => self.set_flag(&ids, |u| {
                let changed = u.publication != PublicationState::Expired;
                u.publication = PublicationState::Expired;
                changed
            }),
            Change::SetDeclined { ids, declined } => self.set_flag(&ids, |u| {
                let changed = u.declined != declined;
                u.declined = declined;
                changed
            }),
            Change::StageContent(req) => self.stage(req)?,
            Change::CreateGroup { name } => {
                let key = name.to_lowercase();
                let created = !self.groups.contains_key(&key);
                if created {
                    let id = crate::store::names::unique_token();
                    self.groups.insert(key, TargetGroup { name, id });
                }
                Applied::created(created)
            }
            Change::Approve {
                update,
                group,
                action,
                deadline,
            } => {
                shared::check_approvable(
                    self.updates
                        .get(&update)
                        .map(|m| &m.stored)
                        .map(|s| {
                            // Staged-ness is derived from the content map, as in the snapshot.
                            let mut s = s.clone();
                            for f in &mut s.files {
                                f.staged = self.content.contains_key(&f.sha1);
                            }
                            s
                        })
                        .as_ref(),
                    &update,
                    action,
                )?;
                let key = group.to_lowercase();
                let Some(g) = self.groups.get(&key) else {
                    return Err(StoreError::Invalid {
                        what: "computer target group",
                        value: group,
                    });
                };
                let approval = StoredApproval {
                    update,
                    group: g.name.clone(),
                    action,
                    deadline,
                    approved: chrono::Utc::now(),
                };
                let k = (update, key);
                let same = self
                    .approvals
                    .get(&k)
                    .is_some_and(|a| a.action == action && a.deadline == deadline);
                if !same {
                    self.approvals.insert(k, approval);
                }
                Applied::updated(!same)
            }
            Change::RemoveApproval { update, group } => Applied::updated(
                self.approvals
                    .remove(&(update, group.to_lowercase()))
                    .is_some(),
            ),
            Change::RemoveContent { sha1s } => {
                let mut removed = false;
                for sha1 in sha1s {
                    let used = self.updates.values().any(|m| {
                        m.stored.publication != PublicationState::Expired
                            && !m.stored.declined
                            && m.stored.files.iter().any(|f| f.sha1 == sha1)
                    });
                    if !used {
                        removed |= self.content.remove(&sha1).is_some();
                    }
                }
                Applied::updated(removed)
            }
            Change::SetSyncSettings(s) => {
                let changed = self.sync.as_ref() != Some(&s);
                self.sync = Some(s);
                Applied::updated(changed)
            }
            Change::SetSigning { settings, install } => {
                let mut changed = false;
                if let Some(m) = shared::local_signing(install, "in-memory")? {
                    let old = self.signing.as_ref().and_then(|s| s.certificate.clone());
                    let t = m.certificate.thumbprint();
                    self.certificates.retain(|c| {
                        c.kind != CertKind::WsusSigning
                            || !(c.matches(&t) || old.as_ref().is_some_and(|o| c.matches(o)))
                    });
                    self.certificates.push(StoredCertificate {
                        thumbprint: t,
                        kind: CertKind::WsusSigning,
                        state: CertState::Approved,
                        facts: Some(m.certificate.clone()),
                    });
                    self.signing_key = Some(m.key.clone());
                    changed = true;
                }
                changed |= self.signing.as_ref() != Some(&settings);
                self.signing = Some(settings);
                Applied::updated(changed)
            }
        })
    }

    fn publish(&mut self, catalog: &CatalogKey, rec: &UpdateRecord, counts: &mut Counts) {
        let hash = rec.content_hash();
        let (revision, expired, declined, mut revisions) = match self.updates.remove(&rec.id) {
            Some(m) if m.stored.content_hash == hash => {
                counts.unchanged += 1;
                self.updates.insert(rec.id, m);
                return;
            }
            Some(m) => {
                counts.updated += 1;
                let expired = m.stored.publication == PublicationState::Expired;
                (
                    m.stored.revision + 1,
                    expired,
                    m.stored.declined,
                    m.revisions,
                )
            }
            None => {
                counts.created += 1;
                (1, false, false, Vec::new())
            }
        };
        revisions.push((hash, rec.raw_xml.clone()));
        let expired = expired || rec.publication_state == PublicationState::Expired;
        let publication = if expired {
            PublicationState::Expired
        } else {
            PublicationState::Published
        };
        let stored = shared::stored_update(catalog, rec, revision, publication, declined);
        self.updates.insert(rec.id, MemUpdate { stored, revisions });
    }

    fn set_flag(
        &mut self,
        ids: &[UpdateId],
        mut f: impl FnMut(&mut StoredUpdate) -> bool,
    ) -> Applied {
        let mut counts = Counts::default();
        for id in ids {
            let changed = self.updates.get_mut(id).is_some_and(|m| f(&mut m.stored));
            if changed {
                counts.updated += 1;
            } else {
                counts.unchanged += 1;
            }
        }
        Applied::from_counts(counts)
    }

    fn stage(&mut self, req: StageRequest) -> Result<Applied> {
        check_ext(&req.ext)?;
        let m = self
            .updates
            .get(&req.update)
            .ok_or_else(|| StoreError::UnknownUpdate(req.update))?;
        if !m.stored.files.iter().any(|f| f.sha1 == req.sha1) {
            return Err(StoreError::UnknownFile {
                update: req.update,
                sha1: req.sha1,
            });
        }
        let got = digest_file(&req.temp_path)?;
        for (alg, want, have) in [
            ("SHA-1", req.sha1.to_hex(), got.sha1.to_hex()),
            ("SHA-256", req.sha256.to_hex(), got.sha256.to_hex()),
        ] {
            if want != have {
                return Err(StoreError::DigestMismatch {
                    path: req.temp_path,
                    algorithm: alg,
                    expected: want,
                    actual: have,
                });
            }
        }
        let _ = std::fs::remove_file(&req.temp_path);
        if self.content.contains_key(&req.sha1) {
            return Ok(Applied::created(false));
        }
        self.content.insert(req.sha1, req.sha256);
        Ok(Applied::created(true))
    }
}
