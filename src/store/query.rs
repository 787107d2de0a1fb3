//! The "All Software Updates" filter behind `supctl updates list`.
//!
//! The local backend turns it into indexed SQL; [`UpdateFilter::matches`] is the reference
//! semantics, used by the in-memory backend and by tests comparing the two.

use regex::Regex;
use serde::{Deserialize, Serialize};

use crate::ids::UpdateId;

use super::actual::{ActualState, StoredUpdate};
use super::model::UpdateState;
use super::names::CatalogKey;

/// Conditions are combined with AND; text matches are case-insensitive and exact, except
/// `title` (a regex) and `category` (a path and everything below it).
#[derive(Debug, Clone, Default)]
pub struct UpdateFilter {
    pub catalog: Option<CatalogKey>,
    pub vendor: Option<String>,
    pub product: Option<String>,
    pub classification: Option<String>,
    /// A category display-name path (`Lenovo/BIOS`); matches it and its descendants.
    pub category: Option<String>,
    pub state: Option<UpdateState>,
    pub title: Option<Regex>,
    /// `Some(true)`: only updates a stored update supersedes; `Some(false)`: only the others.
    pub superseded: Option<bool>,
}

/// One row of the updates view, the JSON contract of `updates list --json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UpdateRow {
    pub id: UpdateId,
    pub revision: u32,
    pub title: String,
    pub vendor: String,
    pub product: String,
    pub classification: String,
    pub catalog: CatalogKey,
    pub state: UpdateState,
    /// Kept on the server but outside the catalog's selected categories (`prune = false`,
    /// `expire_deselected = false`); only the config knows, so the CLI sets it.
    pub deselected: bool,
    /// Updates this one supersedes (sorted).
    pub supersedes: Vec<UpdateId>,
    /// Stored updates that supersede this one (sorted): non-empty means superseded.
    pub superseded_by: Vec<UpdateId>,
    /// The groups it is approved for, and how computers stand with it (`--compliance`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compliance: Option<ApprovedCompliance>,
}

/// An approved update's groups and its computers' counts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApprovedCompliance {
    /// `group (action)` per approval.
    pub approved_for: Vec<String>,
    #[serde(flatten)]
    pub counts: super::model::Compliance,
}

impl UpdateRow {
    pub fn of(u: &StoredUpdate) -> Self {
        Self {
            id: u.id,
            revision: u.revision,
            title: u.title.clone(),
            vendor: u.vendor.to_string(),
            product: u.products.join(", "),
            classification: u.classification.to_string(),
            catalog: u.catalog.clone(),
            state: u.state(),
            deselected: false,
            supersedes: u.supersedes.clone(),
            superseded_by: u.superseded_by.clone(),
            compliance: None,
        }
    }
}

/// True when `path` is `prefix` or lies below it.
pub fn path_within(path: &str, prefix: &str) -> bool {
    let (p, q) = (
        path.to_ascii_lowercase(),
        prefix.trim_end_matches('/').to_ascii_lowercase(),
    );
    p == q || p.starts_with(&format!("{q}/"))
}

impl UpdateFilter {
    /// The reference semantics over a snapshot.
    pub fn matches(&self, state: &ActualState, u: &StoredUpdate) -> bool {
        let eq = |a: &str, b: &Option<String>| b.as_ref().is_none_or(|b| a.eq_ignore_ascii_case(b));
        self.catalog.as_ref().is_none_or(|c| &u.catalog == c)
            && eq(&u.vendor, &self.vendor)
            && eq(&u.classification, &self.classification)
            && self
                .product
                .as_ref()
                .is_none_or(|p| u.products.iter().any(|x| x.eq_ignore_ascii_case(p)))
            && self.state.is_none_or(|s| u.state() == s)
            && self.title.as_ref().is_none_or(|r| r.is_match(&u.title))
            && self
                .superseded
                .is_none_or(|s| s != u.superseded_by.is_empty())
            && self.category.as_ref().is_none_or(|path| {
                state.categories.get(&u.catalog).is_some_and(|cats| {
                    cats.iter()
                        .any(|c| path_within(&c.path, path) && c.members.contains(&u.id))
                })
            })
    }

    /// Applies the filter to a snapshot, sorted by title then id.
    pub fn apply(&self, state: &ActualState) -> Vec<UpdateRow> {
        let mut rows: Vec<UpdateRow> = state
            .updates
            .values()
            .filter(|u| self.matches(state, u))
            .map(|u| UpdateRow::of(u))
            .collect();
        sort_rows(&mut rows);
        rows
    }
}

pub fn sort_rows(rows: &mut [UpdateRow]) {
    rows.sort_by(|a, b| a.title.cmp(&b.title).then_with(|| a.id.cmp(&b.id)));
}

/// One row of `certs list`: a certificate in one role, its expiry and where it is used.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CertRow {
    pub thumbprint: crate::ids::Thumbprint,
    pub kind: super::model::CertKind,
    pub state: super::model::CertState,
    pub subject: Option<String>,
    pub issuer: Option<String>,
    pub not_after: Option<chrono::DateTime<chrono::Utc>>,
    pub expired: bool,
    /// Addresses of the objects that rely on it: catalogs it signs or whose content it
    /// signs, and `signing` for the WSUS signing certificate.
    pub used_by: Vec<super::names::Address>,
}

/// Every stored certificate with its uses, for `certs list`.
pub fn certificate_rows(state: &ActualState, now: chrono::DateTime<chrono::Utc>) -> Vec<CertRow> {
    use super::model::CertKind;
    use super::names::Address;
    state
        .certificates
        .iter()
        .map(|c| {
            let mut used_by: Vec<Address> = state
                .catalogs
                .values()
                .filter(|cat| {
                    let list = match c.kind {
                        CertKind::Catalog => &cat.settings.signers,
                        CertKind::Content => &cat.settings.content_certificates,
                        CertKind::WsusSigning => return false,
                    };
                    list.iter().any(|t| c.matches(t))
                })
                .map(|cat| Address::catalog(&cat.settings.key))
                .collect();
            if c.kind == CertKind::WsusSigning
                && state
                    .signing
                    .as_ref()
                    .and_then(|s| s.certificate.as_ref())
                    .is_some_and(|t| c.matches(t))
            {
                used_by.push(Address::signing());
            }
            let facts = c.facts.as_ref();
            CertRow {
                thumbprint: c.thumbprint.clone(),
                kind: c.kind,
                state: c.state,
                subject: facts.map(|f| f.subject.clone()),
                issuer: facts.map(|f| f.issuer.clone()),
                not_after: facts.map(|f| f.not_after),
                expired: facts.is_some_and(|f| f.not_after < now),
                used_by,
            }
        })
        .collect()
}
