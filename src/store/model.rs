//! The records the store persists besides updates: catalog subscriptions, certificates,
//! server settings, runs, status messages, journal and inventory.
//!
//! They mirror what WSUS/ConfigMgr keep, so the remote `wsus` backend can fill the same
//! types and the planner diffs one model whatever the backend.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::catalog::model::FormatVersion;
use crate::ids::{Sha256, Thumbprint};
use crate::trust::CertificateInfo;

use super::names::{Address, CatalogKey, Fingerprint, PlanId};

use crate::vocab::text_enum;
pub use crate::vocab::{CatalogKind, CertKind, CertState, Severity, SigningMode};

text_enum!(
    /// How an object entered supctl's inventory; only inventoried objects are ever pruned.
    Origin {
        Created = "created",
        Adopted = "adopted",
        /// An update a hygiene rule declined: supctl undeclines it when no rule asks for it.
        Declined = "declined",
    }
);
text_enum!(
    /// One journal outcome; an action without an entry was not attempted.
    Outcome { Done = "done", Failed = "failed" }
);
text_enum!(
    /// How a synchronization run ended.
    RunResult { Succeeded = "succeeded", Failed = "failed", Cancelled = "cancelled" }
);
text_enum!(
    /// The "All Software Updates" state column: expired wins, then declined, then whether
    /// content is staged.
    UpdateState {
        MetadataOnly = "metadata-only",
        Deployable = "deployable",
        Expired = "expired",
        Declined = "declined",
    }
);

/// A category or staging selection: everything, nothing, or named paths/GUIDs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "mode", content = "items", rename_all = "lowercase")]
pub enum Selection {
    All,
    None,
    List(Vec<String>),
}

/// A catalog subscription's settings as the update point holds them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CatalogRecord {
    pub key: CatalogKey,
    pub kind: CatalogKind,
    pub name: String,
    pub publisher: String,
    /// The download URL or a local path, as configured.
    pub source: String,
    pub description: Option<String>,
    pub support_url: Option<String>,
    pub support_contact: Option<String>,
    pub subscribed: bool,
    /// Schedule text as written in TOML (`every 7 days`, a cron line).
    pub schedule: Option<String>,
    pub categories: Selection,
    pub staging: Selection,
    /// Approved catalog signing certificates.
    pub signers: Vec<Thumbprint>,
    /// Certificates shipped in the catalog's `ContentCertificates/`, so `certs list` can
    /// say where a content certificate is used.
    pub content_certificates: Vec<Thumbprint>,
    /// Expire the catalog's updates when it is removed from the config.
    #[serde(default)]
    pub prune: bool,
}

/// The catalog revision in force: the CAB whose updates the last apply that succeeded for the
/// catalog put on the server, as Flux records the revision it last applied. A vendor URL
/// serves only its latest file, so "which catalog is on my server" is answered here (`status`
/// shows it), not by fetching again. Recorded after the apply, never while planning, so a
/// plan that is not applied (monitor-only, a failed apply) leaves the previous revision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CatalogRevision {
    /// SHA-256 of the CAB as fetched (signature included).
    pub cab_sha256: Sha256,
    /// The ETag the vendor's server sent with it, when it sent one.
    pub etag: Option<String>,
    pub format: FormatVersion,
    /// The thumbprints (SHA-1) of the certificates that signed it: a later CAB signed by
    /// another certificate is 11508 with both, compared against the signer of the last
    /// successful sync rather than against the approved list (which the admin edits).
    /// Empty for revisions recorded before supctl kept them.
    #[serde(default)]
    pub signers: Vec<Thumbprint>,
    /// When the apply that put it in force ended.
    pub at: DateTime<Utc>,
}

/// A catalog as stored: its settings plus the revision in force.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredCatalog {
    pub settings: CatalogRecord,
    pub revision: Option<CatalogRevision>,
}

/// One certificate in one role. The same certificate often signs both a vendor's catalog
/// and its binaries, so identity is (thumbprint, kind).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredCertificate {
    /// The SHA-1 thumbprint when the certificate is known, else the one it was approved by.
    pub thumbprint: Thumbprint,
    pub kind: CertKind,
    pub state: CertState,
    /// The certificate when the store has seen it (an approval by thumbprint alone has
    /// none). Its JSON (fingerprints, `--json`) is the facts alone: the DER stays in the store.
    #[serde(default, with = "crate::trust::authenticode::facts_only")]
    pub facts: Option<CertificateInfo>,
}

impl StoredCertificate {
    /// True when `t` names this certificate by its key or either digest.
    pub fn matches(&self, t: &Thumbprint) -> bool {
        &self.thumbprint == t || self.facts.as_ref().is_some_and(|f| f.matches(t))
    }
}

/// The update point's own synchronization settings (seed: schedule, products, ...).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct SyncSettings {
    pub schedule: Option<String>,
    pub products: Vec<String>,
    pub classifications: Vec<String>,
    pub languages: Vec<String>,
}

/// Which certificate signs published content, and who manages it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SigningSettings {
    pub mode: SigningMode,
    pub certificate: Option<Thumbprint>,
}

/// Counts of one synchronization run, as the sync log reports them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct RunCounts {
    pub published: u64,
    pub revised: u64,
    pub expired: u64,
    pub staged: u64,
    pub failed: u64,
}

/// One synchronization run; keyed by (scope, started) so recording it twice is harmless.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncRun {
    /// `sync` for the update point, or a catalog address.
    pub scope: Address,
    pub started: DateTime<Utc>,
    pub ended: Option<DateTime<Utc>>,
    pub result: RunResult,
    pub counts: RunCounts,
    pub message: Option<String>,
}

/// When the `watch` daemon next runs one schedule; persisted so that a restart catches up
/// a slot missed while it was down (once), as systemd's `Persistent=` timers do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NextRun {
    /// `sync` for the update point, or a catalog address.
    pub scope: Address,
    pub due: DateTime<Utc>,
    /// The schedule text `due` was computed from.
    pub schedule: String,
}

/// A status message (11508, 11516, 11523, 11524, ...) as recorded: when, about which
/// object, and the message itself (`crate::status` makes them, with ConfigMgr's texts).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordedMessage {
    pub at: DateTime<Utc>,
    pub address: Option<Address>,
    #[serde(flatten)]
    pub message: crate::status::StatusMessage,
}

crate::vocab::text_enum!(
    /// Which of the actions on one object a journal entry records. An update is published
    /// and then staged by two actions of one plan; each has its own outcome, so that an
    /// interrupted apply resumes at the staging when the publish is done.
    JournalRole {
        /// The action that creates, revises or deletes the object (or changes a setting).
        Change = "change",
        /// Staging an update's content after its metadata is published.
        Stage = "stage",
        /// A hygiene decline or undecline, possibly after the update's publish or expiry in
        /// the same plan.
        Hygiene = "hygiene",
    }
);

/// What the journal records one outcome per: an object and the role of the action on it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct JournalKey {
    pub address: Address,
    pub role: JournalRole,
}

impl JournalKey {
    pub fn new(address: Address, role: JournalRole) -> Self {
        Self { address, role }
    }
    /// The entry that ends an apply which ran to its end (it names no object).
    pub fn apply_ended() -> Self {
        Self::new(Address::apply(), JournalRole::Change)
    }
}

/// One action outcome in the apply journal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JournalEntry {
    pub plan: PlanId,
    pub address: Address,
    pub role: JournalRole,
    pub outcome: Outcome,
    /// What was done (`publish`, `staged`, ...) or why it failed.
    pub message: String,
    /// For a `done` entry, the fingerprint the object was left with (`None`: it no longer
    /// exists), read back by `apply --resume`; `None` for other outcomes.
    pub left: Option<Fingerprint>,
    pub at: DateTime<Utc>,
}

impl JournalEntry {
    /// An outcome that records no fingerprint (failed, refused, the end of an apply).
    pub fn outcome(
        plan: &PlanId,
        key: &JournalKey,
        outcome: Outcome,
        message: impl Into<String>,
    ) -> Self {
        Self {
            plan: plan.clone(),
            address: key.address.clone(),
            role: key.role,
            outcome,
            message: message.into(),
            left: None,
            at: Utc::now(),
        }
    }
    pub fn key(&self) -> JournalKey {
        JournalKey::new(self.address.clone(), self.role)
    }
}

/// A `done` outcome recorded in the same transaction as the operations that perform its
/// action ([`super::Op::Atomic`]). The backend completes it with the fingerprint the object
/// has after those operations, read inside the transaction: an action and its journal
/// entry are committed together or not at all, so a `kill -9` can never leave a change that
/// `apply --resume` does not know about.
#[derive(Debug, Clone)]
pub struct DoneEntry {
    pub plan: PlanId,
    /// The object the action changed (whose fingerprint the entry records) and its role.
    pub key: JournalKey,
    /// What was done (`publish`, `staged`, ...).
    pub what: String,
}

impl DoneEntry {
    /// The object whose fingerprint the entry records.
    pub fn object(&self) -> &Address {
        &self.key.address
    }
    /// The journal entry, given the fingerprint the object was left with.
    pub fn entry(&self, after: Option<Fingerprint>, at: DateTime<Utc>) -> JournalEntry {
        JournalEntry {
            plan: self.plan.clone(),
            address: self.key.address.clone(),
            role: self.key.role,
            outcome: Outcome::Done,
            message: self.what.clone(),
            left: after,
            at,
        }
    }
}

/// The journal of one plan, in the order outcomes were recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Journal {
    pub plan: PlanId,
    pub entries: Vec<JournalEntry>,
}

impl Journal {
    /// The latest outcome per key: what `apply --resume` skips or retries.
    pub fn latest(&self, key: &JournalKey) -> Option<Outcome> {
        self.entries
            .iter()
            .rev()
            .find(|e| e.address == key.address && e.role == key.role)
            .map(|e| e.outcome)
    }

    /// The latest outcome of every key, in one pass: asking [`Self::latest`] per entry is
    /// quadratic, and a journal of 100,000 actions took a no-op plan 38 s that way (every
    /// plan asks whether the last apply was interrupted; `apply --resume` asks what is done).
    pub fn latest_outcomes(&self) -> std::collections::HashMap<JournalKey, Outcome> {
        let mut latest = std::collections::HashMap::with_capacity(self.entries.len());
        for e in &self.entries {
            latest.insert(e.key(), e.outcome);
        }
        latest
    }

    /// Whether some key's latest outcome is a failure.
    pub fn any_latest_failed(&self) -> bool {
        let latest = self.latest_outcomes();
        latest.values().any(|o| *o == Outcome::Failed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The JSON both shapes had when the store kept its own facts type: a plan's certificate
    /// ends with its DER in hex, a stored one (fingerprints, `--json`) has none.
    #[test]
    fn certificate_json_is_facts_then_der_and_stored_facts_alone() {
        let facts = format!(
            r#""subject":"CN=S","issuer":"CN=I","serial":"01","sha1":"{}","sha256":"{}","not_before":"1970-01-01T00:00:00Z","not_after":"1970-01-02T00:00:00Z""#,
            "AB".repeat(20),
            "CD".repeat(32)
        );
        let planned = format!(r#"{{{facts},"der":"646572"}}"#);
        let info: CertificateInfo = serde_json::from_str(&planned).unwrap();
        assert_eq!(info.der, b"der");
        assert_eq!(serde_json::to_string(&info).unwrap(), planned);

        let stored = format!(
            r#"{{"thumbprint":"{}","kind":"catalog","state":"approved","facts":{{{facts}}}}}"#,
            info.sha1
        );
        let cert = StoredCertificate {
            thumbprint: info.thumbprint(),
            kind: CertKind::Catalog,
            state: CertState::Approved,
            facts: Some(info.clone()),
        };
        assert_eq!(serde_json::to_string(&cert).unwrap(), stored);
        let back: StoredCertificate = serde_json::from_str(&stored).unwrap();
        let no_der = CertificateInfo {
            der: vec![],
            ..info
        };
        assert_eq!(back.facts, Some(no_der));
        let bare = format!(
            r#"{{"thumbprint":"{}","kind":"catalog","state":"approved"}}"#,
            "AB".repeat(20)
        );
        let bare: StoredCertificate = serde_json::from_str(&bare).unwrap();
        assert_eq!(bare.facts, None);
    }
}

/// A computer target group as the update server holds it (WSUS's groups; the embedded
/// server records them the same way so that plans work offline).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TargetGroup {
    pub name: String,
    /// The server's id (a GUID on WSUS).
    pub id: String,
}

/// An approval of an update for one group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredApproval {
    pub update: crate::ids::UpdateId,
    /// The group's name.
    pub group: String,
    pub action: crate::config::ApprovalAction,
    pub deadline: Option<DateTime<Utc>>,
    /// When it was approved.
    pub approved: DateTime<Utc>,
}

/// How the computers that report to the server stand with one update (WSUS's summaries):
/// what `updates list --compliance` shows per approved update.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Compliance {
    /// Not installed yet, downloaded, or waiting for a reboot.
    pub needed: u32,
    pub installed: u32,
    pub failed: u32,
    pub not_applicable: u32,
    pub unknown: u32,
}
