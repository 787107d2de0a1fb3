//! What passes observe that sync runs do not record, kept so that `status` (which reads
//! only the store) can tell it: drift a monitor-only daemon left alone, a plan held back by
//! `max_deletions`, and the content certificates each catalog ships with their validity.
//!
//! Before schema v5 none of this was stored, so a `watch` stuck on its deletion budget or
//! a catalog whose 38 content certificates had all expired looked healthy in `status`.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::trust::CertificateFacts;

use super::names::{Address, CatalogKey};

crate::vocab::text_enum!(
    /// What a pass found about one scope: `drift` (the server differs from the config and
    /// the pass did not change it: monitor-only), or `held-back` (the plan had more
    /// destructive actions than `[server] max_deletions`, so none of it was applied).
    FindingKind { Drift = "drift", HeldBack = "held-back" }
);

/// A fact about one scope (`catalog.<key>`, `certificate[...]`, `sync`, `signing`) that
/// holds until a later pass over the scope finds otherwise and clears it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    pub scope: Address,
    pub kind: FindingKind,
    /// When a pass first found it (kept while later passes find it again).
    pub since: DateTime<Utc>,
    /// The last pass that found it.
    pub seen: DateTime<Utc>,
    /// What it is, in words: the changes left alone, or the budget and the count.
    pub summary: String,
}

/// The content certificates one catalog shipped in its last trusted fetch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShippedCertificates {
    pub catalog: CatalogKey,
    /// Sorted by SHA-1.
    pub certificates: Vec<CertificateFacts>,
}

impl ShippedCertificates {
    /// Normalises the list as the stores keep it, so recording it twice changes nothing.
    pub fn new(catalog: CatalogKey, mut certificates: Vec<CertificateFacts>) -> Self {
        certificates.sort_by_key(|c| c.sha1);
        certificates.dedup_by_key(|c| c.sha1);
        ShippedCertificates {
            catalog,
            certificates,
        }
    }
}
