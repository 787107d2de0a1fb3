//! The plan: typed actions with addresses, before/after, a reason and a fingerprint of the
//! state they were planned against.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::catalog::model::{Category, OriginFile, UpdateRecord};
use crate::ids::{Thumbprint, UpdateId};
use crate::store::{
    Address, CatalogRecord, CertKind, CertState, Fingerprint, PlanId, SigningSettings, SyncSettings,
};
use crate::trust::CertificateInfo;

/// Version of the JSON plan format. Consumers ignore unknown fields and reject an unknown major.
/// 1.1 added `server`, `checksum`, `summary.blocked` and `diagnostics[].blocked`; 2.0 made
/// payloads typed records (`catalog.record`, `certificate.state` absent on a delete, `sync`
/// and `signing` instead of `settings`), so apply reads back exactly what was planned.
pub const FORMAT_VERSION: &str = "2.0";

/// What an action does. The summary groups them as Terraform does, plus update counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ActionKind {
    Create,
    Update,
    Replace,
    Delete,
    Subscribe,
    Unsubscribe,
    Approve,
    Block,
    Publish,
    Revise,
    Expire,
    Stage,
    /// Decline an update (a hygiene rule): clients no longer see it; reversible.
    Decline,
    /// Undo a decline supctl made when no hygiene rule asks for it any more.
    Undecline,
    /// Remove the staged content of a declined or expired update (`remove_content_of`).
    Unstage,
}

impl ActionKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ActionKind::Create => "create",
            ActionKind::Update => "update",
            ActionKind::Replace => "replace",
            ActionKind::Delete => "delete",
            ActionKind::Subscribe => "subscribe",
            ActionKind::Unsubscribe => "unsubscribe",
            ActionKind::Approve => "approve",
            ActionKind::Block => "block",
            ActionKind::Publish => "publish",
            ActionKind::Revise => "revise",
            ActionKind::Expire => "expire",
            ActionKind::Stage => "stage",
            ActionKind::Decline => "decline",
            ActionKind::Undecline => "undecline",
            ActionKind::Unstage => "unstage",
        }
    }

    /// Actions on individual updates, counted in the summary's `updates` block.
    pub fn is_update_action(self) -> bool {
        matches!(
            self,
            ActionKind::Publish
                | ActionKind::Revise
                | ActionKind::Expire
                | ActionKind::Stage
                | ActionKind::Decline
                | ActionKind::Undecline
                | ActionKind::Unstage
        )
    }

    /// Actions that take something away; they count against `max_deletions`.
    pub fn is_destructive(self) -> bool {
        matches!(
            self,
            ActionKind::Delete
                | ActionKind::Expire
                | ActionKind::Replace
                | ActionKind::Unsubscribe
                | ActionKind::Decline
                | ActionKind::Unstage
        )
    }
}

impl fmt::Display for ActionKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What apply needs to carry the action out exactly as planned: typed records, so apply
/// parses nothing it planned.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Payload {
    /// A new update or a new revision: the catalog's record, without its SDP XML, which
    /// apply reads from the catalog's CAB (`apply::packages`); saved as a reference (id and
    /// content hash, see `plan::package_ref`).
    Update {
        #[serde(with = "super::package_ref")]
        record: std::sync::Arc<UpdateRecord>,
    },
    /// Content to stage for one update: its origin files.
    Content {
        update: UpdateId,
        files: Vec<OriginFile>,
    },
    /// A computer target group to create.
    Group { name: String },
    /// An approval of an update for a group: to make (`approve`, `update`) or remove
    /// (`delete`).
    Approval {
        update: UpdateId,
        group: String,
        action: crate::config::ApprovalAction,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        deadline: Option<chrono::DateTime<chrono::Utc>>,
    },
    /// Staged content to remove for one update: the files' SHA-1s.
    Unstage {
        update: UpdateId,
        files: Vec<crate::ids::Sha1>,
    },
    /// A catalog's desired record, and its category tree when that changed.
    Catalog {
        record: Box<CatalogRecord>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        categories: Option<Vec<Category>>,
    },
    /// A certificate role to approve or block (`state`), or to remove (`state` absent), with
    /// the certificate's facts when known.
    Certificate {
        thumbprint: Thumbprint,
        kind: CertKind,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        state: Option<CertState>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        info: Option<Box<CertificateInfo>>,
    },
    /// The update point's own synchronization settings.
    Sync { settings: SyncSettings },
    /// The WSUS signing certificate's settings, and the certificate to put in force when
    /// this action installs one.
    Signing {
        settings: SigningSettings,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        install: Option<SigningInstall>,
    },
}

/// A WSUS signing certificate to put in force.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "by", rename_all = "snake_case")]
pub enum SigningInstall {
    /// A certificate supctl made (managed) or read (manual): the certificate itself (public),
    /// and where apply finds its key again. The key is never in the plan.
    Certificate {
        certificate: Box<CertificateInfo>,
        key: KeySource,
    },
    /// The server makes its own self-signed certificate (WSUS keeps the key).
    Server,
}

/// Where apply finds the planned certificate's key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "source", rename_all = "snake_case")]
pub enum KeySource {
    /// Made by the plan (managed): its key waits in the state directory.
    Generated { key_file: std::path::PathBuf },
    /// The admin's files (manual), read again and checked to be the planned certificate.
    Manual(crate::signing::ManualSource),
}

/// What the plan is to do about the signing certificate, prepared before the diff (the
/// planner does no I/O: loading the admin's PFX or making a managed certificate happens
/// before).
#[derive(Debug, Clone, PartialEq)]
pub enum SigningInput {
    /// The certificate in force stays.
    Keep,
    /// Put this one in force, for `reason` (in words a reviewer understands).
    Install {
        install: SigningInstall,
        reason: String,
    },
    /// The configured certificate cannot be used: what is wrong and how to fix it.
    Problem {
        message: String,
        hint: Option<String>,
    },
}

/// One change to the update server.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Action {
    /// `catalog.<key>`, `catalog.<key>.update[<guid>]`, `certificate[<thumbprint>].<role>`,
    /// `sync`, `signing`.
    pub address: Address,
    pub kind: ActionKind,
    /// The object as the server has it (None when it does not exist).
    pub before: Option<super::shown::Shown>,
    /// The object as it will be (None when it goes away).
    pub after: Option<super::shown::Shown>,
    /// Why supctl wants this change, in words a reviewer understands.
    pub reason: String,
    /// Fingerprint of `before` as read from the server; apply refuses the action if it changed.
    pub before_fingerprint: Option<Fingerprint>,
    /// Bytes this action downloads (staging).
    #[serde(default)]
    pub bytes: u64,
    /// Set when the backend cannot perform the action (e.g. content staging on `wsus`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unsupported: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payload: Option<Payload>,
}

pub use crate::vocab::Severity;

/// Something the reviewer must know that is not itself a change: an unapproved signer (11508),
/// missing content certificates (11523), unsigned content (11516).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlanDiagnostic {
    pub severity: Severity,
    /// A ConfigMgr status message number (`11508`) or a supctl code (`category-unresolved`).
    pub code: String,
    pub address: Address,
    pub message: String,
    /// What to do, e.g. the exact TOML line that approves a signer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
    /// Set when the object waits for a reviewer's approval (a catalog signer nobody approved
    /// yet, 11508): not an error, but a change still to be made, so it counts as one for
    /// `--detailed-exitcode`, as Terraform-style CI expects of blocked items.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub blocked: bool,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpdateCounts {
    pub publish: usize,
    pub revise: usize,
    pub expire: usize,
    pub stage: usize,
    pub stage_bytes: u64,
    /// Declines and undeclines by hygiene rules (absent in plans made before them).
    #[serde(default)]
    pub decline: usize,
    #[serde(default)]
    pub undecline: usize,
    /// Updates whose staged content is removed, and the bytes freed.
    #[serde(default)]
    pub unstage: usize,
    #[serde(default)]
    pub unstage_bytes: u64,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    pub add: usize,
    pub change: usize,
    pub replace: usize,
    pub destroy: usize,
    pub updates: UpdateCounts,
    /// Objects waiting for an approval (blocked diagnostics).
    #[serde(default)]
    pub blocked: usize,
}

/// A reviewable set of changes; saved with `plan -o` and applied exactly by `apply PLANFILE`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    pub format_version: String,
    /// Random id, recorded in the apply journal so `--resume` continues the right plan.
    pub id: PlanId,
    pub created: DateTime<Utc>,
    /// The config the plan was made from: the file or directory given to `-c`, absolute.
    /// `apply PLANFILE` loads it when no `-c` is given.
    pub config: String,
    /// The update server the plan was made against; `apply` refuses the plan on any other.
    /// Absent only in plans saved by older versions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server: Option<crate::store::ServerIdentity>,
    /// Addresses given with `--target`; the plan is partial when non-empty.
    #[serde(default)]
    pub targets: Vec<Address>,
    pub changes: bool,
    pub summary: Summary,
    pub actions: Vec<Action>,
    pub diagnostics: Vec<PlanDiagnostic>,
    /// Per catalog key, the SHA-256 of the verified CAB the plan's publish and revise
    /// payloads were read from: apply reads their package XML from that very file again.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub sources: std::collections::BTreeMap<String, crate::ids::Sha256>,
    /// `sha256:<hex>` of the plan without this field, written by `plan::file::save`: a
    /// saved plan whose content was modified after review is refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checksum: Option<String>,
}

impl Plan {
    /// Builds a plan and computes its summary from the actions.
    pub fn new(config: String, actions: Vec<Action>, diagnostics: Vec<PlanDiagnostic>) -> Self {
        let summary = summarize(&actions, &diagnostics);
        Plan {
            format_version: FORMAT_VERSION.to_string(),
            id: PlanId::new_unique(),
            created: Utc::now(),
            config,
            server: None,
            targets: Vec::new(),
            changes: !actions.is_empty(),
            summary,
            actions,
            diagnostics,
            sources: std::collections::BTreeMap::new(),
            checksum: None,
        }
    }

    /// Turns each publish or revise payload that holds no package XML into the reference
    /// a saved plan holds (`plan::package_ref`). Once the plan is made, apply needs of such
    /// a payload only its id and content hash; the catalog's summary record it shared
    /// (`UpdateRecord`, a kilobyte or more) can go with the catalog's other records.
    pub fn refer_to_packages(&mut self) {
        for a in &mut self.actions {
            if let Some(Payload::Update { record }) = &mut a.payload
                && record.is_summary()
            {
                *record =
                    std::sync::Arc::new(UpdateRecord::reference(record.id, record.content_hash()));
            }
        }
        self.actions.shrink_to_fit();
    }

    /// Keeps only actions at or below the given addresses, without their dependencies
    /// (`plan::targets::select` adds those for `--target`).
    pub fn retain_targets(&mut self, targets: &[Address]) {
        if targets.is_empty() {
            return;
        }
        self.actions
            .retain(|a| targets.iter().any(|t| a.address.is_within(t)));
        self.diagnostics
            .retain(|d| targets.iter().any(|t| d.address.is_within(t)));
        self.set_targets(targets);
    }

    /// Records that the plan was limited to `targets` after its actions were filtered.
    /// Keeps the actions `keep` accepts and the diagnostics `keep_diagnostic` accepts, and
    /// counts the summary again.
    pub fn retain(
        &mut self,
        keep: impl Fn(&Action) -> bool,
        keep_diagnostic: impl Fn(&PlanDiagnostic) -> bool,
    ) {
        self.actions.retain(|a| keep(a));
        self.diagnostics.retain(|d| keep_diagnostic(d));
        self.recount();
    }

    /// Adds diagnostics and counts the summary again.
    pub fn note(&mut self, diagnostics: impl IntoIterator<Item = PlanDiagnostic>) {
        self.diagnostics.extend(diagnostics);
        self.recount();
    }

    fn recount(&mut self) {
        self.summary = summarize(&self.actions, &self.diagnostics);
        self.changes = !self.actions.is_empty();
    }

    pub fn set_targets(&mut self, targets: &[Address]) {
        self.targets = targets.to_vec();
        self.summary = summarize(&self.actions, &self.diagnostics);
        self.changes = !self.actions.is_empty();
    }

    pub fn destructive_count(&self) -> usize {
        self.actions
            .iter()
            .filter(|a| a.kind.is_destructive())
            .count()
    }

    pub fn has_errors(&self) -> bool {
        self.error_count() > 0
    }

    /// Error diagnostics: each stops `apply` before any change.
    pub fn error_count(&self) -> usize {
        self.diagnostics
            .iter()
            .filter(|d| d.severity == Severity::Error)
            .count()
    }
}

fn summarize(actions: &[Action], diagnostics: &[PlanDiagnostic]) -> Summary {
    let mut s = Summary {
        blocked: diagnostics.iter().filter(|d| d.blocked).count(),
        ..Summary::default()
    };
    for a in actions {
        match a.kind {
            ActionKind::Create => s.add += 1,
            ActionKind::Approve | ActionKind::Block if a.before.is_none() => s.add += 1,
            ActionKind::Update
            | ActionKind::Subscribe
            | ActionKind::Unsubscribe
            | ActionKind::Approve
            | ActionKind::Block => s.change += 1,
            ActionKind::Replace => s.replace += 1,
            ActionKind::Delete => s.destroy += 1,
            ActionKind::Publish => s.updates.publish += 1,
            ActionKind::Revise => s.updates.revise += 1,
            ActionKind::Expire => s.updates.expire += 1,
            ActionKind::Stage => {
                s.updates.stage += 1;
                s.updates.stage_bytes += a.bytes;
            }
            ActionKind::Decline => s.updates.decline += 1,
            ActionKind::Undecline => s.updates.undecline += 1,
            ActionKind::Unstage => {
                s.updates.unstage += 1;
                s.updates.unstage_bytes += a.bytes;
            }
        }
    }
    s
}

/// Bytes as people read them: `1.3 GiB`.
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut i = 0;
    while v >= 1024.0 && i < UNITS.len() - 1 {
        v /= 1024.0;
        i += 1;
    }
    if i == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[i])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn action(address: &str, kind: ActionKind, bytes: u64) -> Action {
        Action {
            address: Address::parse(address).unwrap(),
            kind,
            before: None,
            after: None,
            reason: String::new(),
            before_fingerprint: None,
            bytes,
            unsupported: None,
            payload: None,
        }
    }

    #[test]
    fn summary_counts_like_terraform_plus_updates() {
        let mut replaced = action("catalog.b", ActionKind::Replace, 0);
        replaced.before = Some(serde_json::json!({}).into());
        let plan = Plan::new(
            "c".into(),
            vec![
                action("catalog.a", ActionKind::Create, 0),
                replaced,
                action("catalog.a.update[1]", ActionKind::Publish, 0),
                action("catalog.a.update[2]", ActionKind::Stage, 1024),
                action("catalog.a.update[3]", ActionKind::Expire, 0),
            ],
            vec![],
        );
        assert_eq!((plan.summary.add, plan.summary.replace), (1, 1));
        assert_eq!(plan.summary.updates.publish, 1);
        assert_eq!(plan.summary.updates.stage_bytes, 1024);
        assert_eq!(plan.destructive_count(), 2);
    }

    #[test]
    fn targets_keep_objects_inside_the_address() {
        let mut plan = Plan::new(
            "c".into(),
            vec![
                action("catalog.a", ActionKind::Create, 0),
                action("catalog.b", ActionKind::Create, 0),
            ],
            vec![],
        );
        plan.retain_targets(&[Address::parse("catalog.b").unwrap()]);
        assert_eq!(plan.actions.len(), 1);
        assert_eq!(plan.summary.add, 1);
    }

    #[test]
    fn bytes_are_human_readable() {
        assert_eq!(human_bytes(512), "512 B");
        assert_eq!(human_bytes(1_395_864_371), "1.3 GiB");
    }
}
