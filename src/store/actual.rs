//! `ActualState`: what the update server holds (plus the inventory and catalog revisions from the state), as the planner reads it.
//!
//! Built by `UpdateServer::snapshot` without raw XML (that is loaded on demand with
//! `UpdateServer::raw_xml`), so a snapshot of 100,000 updates stays cheap.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::catalog::model::{Category, PublicationState};
use crate::ids::{Sha1, Sha256, Thumbprint, UpdateId};

use super::local_categories::LocalCategories;
use super::model::Origin;
use super::model::{SigningSettings, StoredCatalog, StoredCertificate, SyncSettings, UpdateState};
use super::names::{Address, CatalogKey, Target};

/// One origin file of an update's current revision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredFile {
    pub name: String,
    pub size: u64,
    pub sha1: Sha1,
    /// From the SDP when it carried one, else computed when the content was staged.
    pub sha256: Option<Sha256>,
    pub uri: Option<String>,
    /// True when the content is in the store (`WsusContent/`).
    pub staged: bool,
}

/// The stored updates by id. Boxed: a stored update is about 300 bytes, and a B-tree's
/// nodes keep room for eleven entries while they hold as few as five, so 100,000 updates
/// inline took 62 MB of nodes in a no-op plan's snapshot, boxed 36 MB with the boxes.
pub type StoredUpdates = BTreeMap<UpdateId, Box<StoredUpdate>>;

/// An update's current revision as stored (metadata only; the raw XML stays on disk).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredUpdate {
    pub id: UpdateId,
    pub catalog: CatalogKey,
    /// 1 for the first publication, +1 each time the package XML changes.
    pub revision: u32,
    /// `UpdateRecord::content_hash` of the current revision.
    pub content_hash: Sha256,
    /// The title of the default language. Not the description: no plan reads it, and a
    /// snapshot of 100,000 updates held 26 MB of descriptions (27 MB of the no-op plan's
    /// 343 MiB); the update's page reads it on its own (`EmbeddedServer::description`).
    pub title: String,
    /// Shared with the other updates that name it (`Interner`): 100,000 updates name a
    /// few vendors, classifications, types and product lists, and a string each was
    /// five allocations per update in a snapshot.
    pub vendor: Arc<str>,
    pub products: Arc<[String]>,
    pub classification: Arc<str>,
    pub severity: Option<Arc<str>>,
    pub kb_article: Option<String>,
    pub update_type: Arc<str>,
    pub created: DateTime<Utc>,
    pub publication: PublicationState,
    pub declined: bool,
    /// Updates this one supersedes (sorted).
    pub supersedes: Vec<UpdateId>,
    /// Stored updates that supersede this one (sorted).
    pub superseded_by: Vec<UpdateId>,
    /// Sorted by SHA-1.
    pub files: Vec<StoredFile>,
}

impl StoredUpdate {
    /// Deployable once every origin file is staged; an update without files never is.
    pub fn deployable(&self) -> bool {
        !self.files.is_empty() && self.files.iter().all(|f| f.staged)
    }
    /// The fingerprint apply compares before acting on this update: its own state only.
    /// `superseded_by` is left out because it is derived from *other* updates: publishing a
    /// superseding update (possibly in a later batch of the same plan) must not make this
    /// one look "changed since the plan" (issue 12, D2). Changes to those other updates are
    /// guarded by their own fingerprints.
    /// Written straight into the hash (`store::update_fingerprint`): the same bytes as
    /// the update's JSON value without `superseded_by`.
    pub fn fingerprint(&self) -> super::names::Fingerprint {
        super::update_fingerprint::of(self)
    }

    /// The locally published categories of these stored updates: how the embedded and
    /// in-memory servers know theirs (see [`LocalCategories::of_updates`] for why every
    /// stored update counts). Takes a snapshot's boxed updates as they are.
    pub fn local_categories<'a, U: std::borrow::Borrow<StoredUpdate> + 'a>(
        updates: impl IntoIterator<Item = &'a U>,
    ) -> LocalCategories {
        LocalCategories::of_updates(updates.into_iter().map(|u| {
            let u: &StoredUpdate = u.borrow();
            (&*u.vendor, &*u.products)
        }))
    }

    pub fn state(&self) -> UpdateState {
        if self.publication == PublicationState::Expired {
            UpdateState::Expired
        } else if self.declined {
            UpdateState::Declined
        } else if self.deployable() {
            UpdateState::Deployable
        } else {
            UpdateState::MetadataOnly
        }
    }
}

/// Everything the update server holds that the planner compares against desired state.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ActualState {
    pub catalogs: BTreeMap<CatalogKey, StoredCatalog>,
    /// Sorted by (thumbprint, kind).
    pub certificates: Vec<StoredCertificate>,
    /// Per catalog, in the order they were given.
    pub categories: BTreeMap<CatalogKey, Vec<Category>>,
    pub updates: StoredUpdates,
    pub sync: Option<SyncSettings>,
    pub signing: Option<SigningSettings>,
    pub inventory: BTreeMap<Address, Origin>,
    /// The locally published vendor and product categories the server has, of every
    /// publisher: what the category limit counts ([`super::local_categories`]).
    #[serde(default)]
    pub local_categories: LocalCategories,
    /// Computer target groups, sorted by name.
    #[serde(default)]
    pub groups: Vec<super::model::TargetGroup>,
    /// Approvals, sorted by (update, group).
    #[serde(default)]
    pub approvals: Vec<super::model::StoredApproval>,
}

impl ActualState {
    /// Every role of the certificate named by `t` (by its key, SHA-1 or SHA-256).
    pub fn certificates_matching(&self, t: &Thumbprint) -> Vec<&StoredCertificate> {
        self.certificates.iter().filter(|c| c.matches(t)).collect()
    }

    /// The fingerprint of the object an address names: what apply compares before acting.
    /// Updates hash their own state only ([`StoredUpdate::fingerprint`]), catalogs their
    /// settings ([`StoredCatalog::fingerprint`]).
    pub fn fingerprint(&self, address: &Address) -> Option<super::names::Fingerprint> {
        match address.target()? {
            Target::Catalog(k) => self.catalogs.get(&k).map(StoredCatalog::fingerprint),
            Target::Update(k, id) => self
                .updates
                .get(&id)
                .filter(|u| u.catalog == k)
                .map(|u| u.fingerprint()),
            _ => self.object(address).map(|v| fingerprint_of(&v)),
        }
    }

    /// The stored object an address names, as JSON, for plans and `show`.
    pub fn object(&self, address: &Address) -> Option<serde_json::Value> {
        match address.target()? {
            Target::Catalog(k) => self.catalogs.get(&k).map(object_json),
            Target::Update(k, id) => self
                .updates
                .get(&id)
                .filter(|u| u.catalog == k)
                .map(object_json),
            Target::Certificate(t, None) => {
                let v = self.certificates_matching(&t);
                (!v.is_empty()).then(|| object_json(&v))
            }
            Target::Certificate(t, Some(kind)) => self
                .certificates_matching(&t)
                .into_iter()
                .find(|c| c.kind == kind)
                .map(object_json),
            Target::Sync => self.sync.as_ref().map(object_json),
            Target::Signing => self.signing.as_ref().map(object_json),
            Target::Group(name) => self
                .groups
                .iter()
                .find(|g| g.name.eq_ignore_ascii_case(&name))
                .map(object_json),
            Target::Approval(_, id, group) => self
                .approvals
                .iter()
                .find(|a| a.update == id && a.group.eq_ignore_ascii_case(&group))
                .map(approval_json),
        }
    }
}

impl StoredCatalog {
    /// The catalog's fingerprint covers its settings only: the revision in force is recorded
    /// after each apply, and a plan saved before that is not stale for it.
    pub fn fingerprint(&self) -> super::names::Fingerprint {
        fingerprint_of(&object_json(&self.settings))
    }
}

/// An approval as compared: its action and deadline (when it was made is not part of it,
/// and servers record it to different precisions).
pub(crate) fn approval_json(a: &super::model::StoredApproval) -> serde_json::Value {
    serde_json::json!({
        "update": a.update,
        "group": a.group,
        "action": a.action,
        "deadline": a.deadline.map(|d| d.timestamp()),
    })
}

pub(crate) fn object_json<T: Serialize + ?Sized>(v: &T) -> serde_json::Value {
    serde_json::to_value(v).unwrap_or(serde_json::Value::Null)
}

/// The fingerprint of a stored object: SHA-256 of its canonical JSON. Both backends hash the
/// same typed objects, so fingerprints agree across them.
pub fn fingerprint_of(value: &serde_json::Value) -> super::names::Fingerprint {
    let hex = Sha256::of(value.to_string().as_bytes()).to_hex();
    super::names::Fingerprint::parse(&hex.to_ascii_lowercase())
        .expect("hex digests are valid fingerprints")
}
