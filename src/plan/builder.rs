//! The planner's inputs and the one place actions and diagnostics are added to a plan.
//!
//! Every planning step (`certificates`, `diff`, `updates`, `deselected`, `content_certs`)
//! writes through a [`Builder`], and an action is added whole: a [`Change`] says what it
//! does, the builder fills in the object as the server has it and that object's fingerprint
//! (apply's compare-and-swap), so no step patches an action after pushing it.

use std::cell::OnceCell;
use std::collections::{BTreeMap, HashMap};

use serde::Serialize;
use serde_json::Value;

use super::model::{Action, ActionKind, Payload, PlanDiagnostic, Severity};
use super::shown::Shown;
use crate::catalog::acquire::Acquired;
use crate::config::Config;
use crate::store::actual::fingerprint_of;
use crate::store::{
    ActualState, Address, Capabilities, CatalogKey, Fingerprint, StoredUpdate, Target,
};

/// Everything the planner reads. `catalogs` holds one entry per subscribed catalog that was
/// acquired (fetched, verified, parsed when trusted).
pub struct Inputs<'a> {
    pub desired: &'a Config,
    pub catalogs: &'a BTreeMap<String, Acquired>,
    pub actual: &'a ActualState,
    pub capabilities: Capabilities,
    pub backend: &'a str,
    /// The time certificate expiry is judged at.
    pub now: chrono::DateTime<chrono::Utc>,
    /// The signing certificate, prepared from `[signing]` (`None` without one).
    pub signing: Option<super::model::SigningInput>,
}

/// One change to plan, before the builder adds what the server has.
pub(super) struct Change {
    kind: ActionKind,
    reason: String,
    after: Option<Value>,
    shown_before: Option<Value>,
    payload: Option<Payload>,
    bytes: u64,
    unsupported: Option<String>,
}

impl Change {
    /// `kind`, and why supctl wants it, in words a reviewer understands.
    pub(super) fn new(kind: ActionKind, reason: impl Into<String>) -> Self {
        Change {
            kind,
            reason: reason.into(),
            after: None,
            shown_before: None,
            payload: None,
            bytes: 0,
            unsupported: None,
        }
    }
    /// The object as it will be, as reviewers see it.
    pub(super) fn after(mut self, after: Value) -> Self {
        self.after = Some(after);
        self
    }
    /// What apply needs to carry the change out.
    pub(super) fn payload(mut self, payload: Payload) -> Self {
        self.payload = Some(payload);
        self
    }
    /// Bytes the change downloads (staging).
    pub(super) fn bytes(mut self, bytes: u64) -> Self {
        self.bytes = bytes;
        self
    }
    /// Why the backend cannot perform it, when it cannot.
    pub(super) fn unsupported(mut self, why: Option<String>) -> Self {
        self.unsupported = why;
        self
    }
    /// Shows reviewers this instead of the whole stored object (staging shows the update's
    /// identity, not its package); the fingerprint is still the whole object's.
    pub(super) fn shown_before(mut self, before: Option<Value>) -> Self {
        self.shown_before = before;
        self
    }
}

/// A record as reviewers see it in `before`/`after`. The records shown are plain derived
/// structs with string keys, which serde_json always serializes; were one ever to fail, the
/// plan shows the error in place of the object rather than hiding it as `null`.
pub(super) fn view<T: Serialize>(record: &T) -> Value {
    serde_json::to_value(record)
        .unwrap_or_else(|e| serde_json::json!({ "unshowable": e.to_string() }))
}

pub(super) struct Builder<'a> {
    pub inputs: &'a Inputs<'a>,
    pub actions: Vec<Action>,
    pub diagnostics: Vec<PlanDiagnostic>,
    /// The stored updates of each catalog, in id order, sorted out at the first question:
    /// walking all 100,000 stored updates once per catalog was 3% of a no-op plan.
    by_catalog: OnceCell<HashMap<&'a CatalogKey, Vec<&'a StoredUpdate>>>,
}

impl<'a> Builder<'a> {
    pub(super) fn new(inputs: &'a Inputs<'a>) -> Self {
        Builder {
            inputs,
            actions: Vec::new(),
            diagnostics: Vec::new(),
            by_catalog: OnceCell::new(),
        }
    }

    /// The stored updates of catalog `key`, in id order.
    pub(super) fn stored_of(&self, key: &CatalogKey) -> &[&'a StoredUpdate] {
        let updates = &self.inputs.actual.updates;
        self.by_catalog
            .get_or_init(|| {
                let mut by: HashMap<&'a CatalogKey, Vec<&'a StoredUpdate>> = HashMap::new();
                for u in updates.values() {
                    by.entry(&u.catalog).or_default().push(u);
                }
                by
            })
            .get(key)
            .map_or(&[], Vec::as_slice)
    }

    /// The stored object at `address` as shown to reviewers (a catalog's settings, without
    /// its fetch bookkeeping), and the fingerprint of the whole stored object.
    fn before(&self, address: &Address) -> (Option<Value>, Option<Fingerprint>) {
        match self.inputs.actual.object(address) {
            Some(v) => {
                let fp = self
                    .inputs
                    .actual
                    .fingerprint(address)
                    .unwrap_or_else(|| fingerprint_of(&v));
                let shown = match v.get("settings") {
                    Some(settings) if matches!(address.target(), Some(Target::Catalog(_))) => {
                        settings.clone()
                    }
                    _ => v,
                };
                (Some(shown), Some(fp))
            }
            None => (None, None),
        }
    }

    /// Adds `change` to the object at `address`.
    pub(super) fn push(&mut self, address: &Address, change: Change) {
        let (before, before_fingerprint) = self.before(address);
        let before = if change.shown_before.is_some() {
            change.shown_before
        } else {
            before
        };
        self.actions.push(Action {
            address: address.clone(),
            kind: change.kind,
            before: before.map(Shown::from),
            after: change.after.map(Shown::from),
            reason: change.reason,
            before_fingerprint,
            bytes: change.bytes,
            unsupported: change.unsupported,
            payload: change.payload,
        });
    }

    pub(super) fn diagnostic(
        &mut self,
        severity: Severity,
        code: &str,
        address: &Address,
        message: String,
        hint: Option<String>,
    ) {
        self.diagnostics.push(PlanDiagnostic {
            severity,
            code: code.to_string(),
            address: address.clone(),
            message,
            hint,
            blocked: false,
        });
    }

    /// A change that waits for a reviewer's approval (an unapproved catalog signer): a
    /// warning that counts as a pending change, not an error.
    pub(super) fn awaiting_approval(
        &mut self,
        code: &str,
        address: &Address,
        message: String,
        hint: String,
    ) {
        self.diagnostics.push(PlanDiagnostic {
            severity: Severity::Warning,
            code: code.to_string(),
            address: address.clone(),
            message,
            hint: Some(hint),
            blocked: true,
        });
    }

    pub(super) fn unsupported(&self, what: &str) -> String {
        format!("{what} is not supported by backend {}", self.inputs.backend)
    }
}
