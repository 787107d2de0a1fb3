//! The primitive, idempotent operations of the store: server [`Change`]s, bookkeeping
//! [`Record`]s, and what each reports back.
//!
//! Every operation is safe to repeat: the apply engine may replay one after a crash
//! (`apply --resume`) and must get `changed: false` rather than a duplicate.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::catalog::model::{Category, UpdateRecord};
use crate::ids::{Sha1, Sha256, Thumbprint, UpdateId};
use crate::trust::CertificateInfo;

use super::error::{Result, StoreError};
use super::model::{
    CatalogRecord, CatalogRevision, CertKind, CertState, DoneEntry, JournalEntry, NextRun, Origin,
    RecordedMessage, SigningSettings, SyncRun, SyncSettings,
};
use super::names::{Address, CatalogKey};
use super::observed::{Finding, FindingKind, ShippedCertificates};
use super::packed::PackedPackages;

/// What a server can do, so the plan marks unsupported actions per server instead of
/// failing at apply time (a remote WSUS cannot stage content the way the local store can).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Capabilities {
    pub metadata_publishing: bool,
    pub content_staging: bool,
    pub expire: bool,
    pub decline: bool,
    pub categories: bool,
    pub sync_settings: bool,
    pub signing: bool,
    pub journal: bool,
    /// The server synchronizes with an upstream (Microsoft Update) that `supctl sync` can
    /// start: WSUS does, the embedded store has none.
    #[serde(default)]
    pub upstream_sync: bool,
    /// The server keeps the signing key and makes its own self-signed certificate (WSUS);
    /// otherwise supctl makes and keeps it (the embedded and in-memory servers).
    #[serde(default)]
    pub signing_key_on_server: bool,
    /// Computer target groups and approvals (`[[approve]]`).
    #[serde(default)]
    pub approvals: bool,
}

impl Capabilities {
    /// Everything: the local and in-memory backends.
    pub const ALL: Capabilities = Capabilities {
        metadata_publishing: true,
        content_staging: true,
        expire: true,
        decline: true,
        categories: true,
        sync_settings: true,
        signing: true,
        journal: true,
        upstream_sync: false,
        signing_key_on_server: false,
        approvals: true,
    };
}

/// A verified content file waiting in the staging area, to be moved into the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StageRequest {
    pub update: UpdateId,
    pub sha1: Sha1,
    pub sha256: Sha256,
    /// A file inside `UpdateServer::staging_dir()`; it is moved (or removed when already stored).
    pub temp_path: PathBuf,
    /// The file extension WSUS uses in the content name (`exe`, `msi`, `cab`), no dot.
    pub ext: String,
}

/// Validates a content file extension: WSUS names content `<SHA1>.<ext>`, so the extension
/// must not be able to add path components.
pub fn check_ext(ext: &str) -> Result<()> {
    if !ext.is_empty() && ext.len() <= 16 && ext.bytes().all(|b| b.is_ascii_alphanumeric()) {
        Ok(())
    } else {
        Err(StoreError::Invalid {
            what: "content file extension",
            value: ext.to_string(),
        })
    }
}

/// One change to the update server: what it holds for clients and admins (catalog
/// subscriptions, certificates, categories, updates and their content, its own settings).
/// Applied by an [`UpdateServer`](super::UpdateServer).
#[derive(Debug, Clone)]
pub enum Change {
    /// Creates a catalog subscription or replaces its settings.
    UpsertCatalog(CatalogRecord),
    SetSubscribed {
        key: CatalogKey,
        subscribed: bool,
    },
    /// Removes the subscription and its categories; its updates stay (as in WSUS) and are
    /// expired separately when the config asks to prune.
    DeleteCatalog {
        key: CatalogKey,
    },
    /// Sets a certificate's state in one role. With `info`, the certificate facts are
    /// stored and the SHA-1 thumbprint becomes its key.
    UpsertCertificate {
        thumbprint: Thumbprint,
        kind: CertKind,
        state: CertState,
        info: Option<Box<CertificateInfo>>,
    },
    DeleteCertificate {
        thumbprint: Thumbprint,
        kind: CertKind,
    },
    ReplaceCategories {
        catalog: CatalogKey,
        categories: Vec<Category>,
    },
    /// Publishes metadata: revision 1 for a new update, a new revision when the content
    /// hash differs, nothing otherwise. Supersedence is recorded both ways.
    PublishUpdates {
        catalog: CatalogKey,
        updates: Vec<UpdateRecord>,
        /// Their packages packed ahead, all, some or none (`store::packed`).
        packed: PackedPackages,
    },
    /// Expires updates; expiry is final, as in WSUS. Unknown ids are ignored.
    ExpireUpdates {
        ids: Vec<UpdateId>,
    },
    SetDeclined {
        ids: Vec<UpdateId>,
        declined: bool,
    },
    /// Moves verified content into the store; the update becomes deployable once all its
    /// files are staged.
    StageContent(StageRequest),
    /// Removes staged content files (hygiene's `remove_content_of`), except any that an
    /// update neither declined nor expired still uses: those stay whatever the plan said.
    /// The embedded server drops the records in the transaction and leaves the files to
    /// [`UpdateServer::collect_garbage`](super::UpdateServer::collect_garbage), so a crash
    /// leaves at worst an orphan file, never a record without its file.
    RemoveContent {
        sha1s: Vec<Sha1>,
    },
    /// Creates a computer target group (under All Computers) unless it exists.
    CreateGroup {
        name: String,
    },
    /// Approves an update for a group (replacing that group's approval of it).
    Approve {
        update: UpdateId,
        group: String,
        action: crate::config::ApprovalAction,
        deadline: Option<chrono::DateTime<chrono::Utc>>,
    },
    /// Removes an update's approval for a group.
    RemoveApproval {
        update: UpdateId,
        group: String,
    },
    SetSyncSettings(SyncSettings),
    /// The signing certificate's settings, installing a certificate when `install` says so.
    SetSigning {
        settings: SigningSettings,
        install: Option<SigningInstallation>,
    },
}

/// A signing certificate to put in force.
#[derive(Debug, Clone)]
pub enum SigningInstallation {
    /// This certificate and its key (the embedded and in-memory servers keep the key; WSUS
    /// would take it as a PFX).
    Material(Box<crate::signing::SigningMaterial>),
    /// The server makes its own self-signed certificate (WSUS).
    Server,
}

/// One record of supctl's own bookkeeping ([`State`](super::state::State)): what it did and
/// found, kept in the state directory whatever the server is.
#[derive(Debug, Clone)]
pub enum Record {
    /// Records the catalog revision an apply put in force (CAB digest, ETag, format);
    /// `None` forgets it (the catalog was deleted).
    Revision {
        key: CatalogKey,
        revision: Option<CatalogRevision>,
    },
    SyncRun(SyncRun),
    StatusMessage(RecordedMessage),
    /// Sets (replaces) when the daemon next runs a schedule.
    NextRun(NextRun),
    Journal(JournalEntry),
    /// Several outcomes in one transaction: a batch of 500 publishes costs one commit, not
    /// 500 (each commit is an fsync).
    JournalBatch(Vec<JournalEntry>),
    InventoryAdd {
        address: Address,
        origin: Origin,
    },
    InventoryRemove {
        address: Address,
    },
    /// Records one finding of a pass (replacing the scope's finding of that kind).
    Finding(Finding),
    /// Removes a finding that a later pass no longer finds.
    ClearFinding {
        scope: Address,
        kind: FindingKind,
    },
    /// Replaces the list of content certificates a catalog ships.
    ShippedCertificates(ShippedCertificates),
}

/// What [`Store::apply`](super::Store::apply) takes: a server change, a bookkeeping record,
/// or several of them with the journal entries of the actions they perform.
#[derive(Debug, Clone)]
pub enum Op {
    Change(Change),
    Record(Record),
    /// Several operations and the `done` journal entries of the actions they perform (see
    /// [`DoneEntry`]). Apply sends every action this way. On the embedded server it is one
    /// transaction; a remote server cannot share a transaction with the state, so there the
    /// changes are made in turn and the entries journaled right after.
    Atomic {
        ops: Vec<Op>,
        done: Vec<DoneEntry>,
    },
}

impl From<Change> for Op {
    fn from(c: Change) -> Self {
        Op::Change(c)
    }
}

impl From<Record> for Op {
    fn from(r: Record) -> Self {
        Op::Record(r)
    }
}

/// Counts of what an operation did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Counts {
    pub created: u64,
    pub updated: u64,
    pub deleted: u64,
    pub unchanged: u64,
}

/// The outcome of one operation: `changed` is false when it was already in effect.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Applied {
    pub changed: bool,
    pub counts: Counts,
}

impl Applied {
    /// The sum of several operations' outcomes (one [`Op::Atomic`]).
    pub fn sum(all: impl IntoIterator<Item = Applied>) -> Self {
        let mut c = Counts::default();
        for a in all {
            c.created += a.counts.created;
            c.updated += a.counts.updated;
            c.deleted += a.counts.deleted;
            c.unchanged += a.counts.unchanged;
        }
        Self::from_counts(c)
    }
    pub fn from_counts(counts: Counts) -> Self {
        Self {
            changed: counts.created + counts.updated + counts.deleted > 0,
            counts,
        }
    }
    pub fn created(yes: bool) -> Self {
        Self::one(
            yes,
            Counts {
                created: 1,
                ..Counts::default()
            },
        )
    }
    pub fn updated(yes: bool) -> Self {
        Self::one(
            yes,
            Counts {
                updated: 1,
                ..Counts::default()
            },
        )
    }
    pub fn deleted(yes: bool) -> Self {
        Self::one(
            yes,
            Counts {
                deleted: 1,
                ..Counts::default()
            },
        )
    }
    fn one(yes: bool, c: Counts) -> Self {
        if yes {
            Self::from_counts(c)
        } else {
            Self::from_counts(Counts {
                unchanged: 1,
                ..Counts::default()
            })
        }
    }
}
