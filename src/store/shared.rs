//! Rules both backends apply identically, kept in one place so their semantics cannot drift.

use std::collections::HashSet;

use crate::catalog::model::Category;
use crate::ids::Thumbprint;

use super::model::{CertKind, CertState, CertificateFacts, StoredCertificate};

/// Categories as stored: the first of duplicate ids wins, members sorted and unique.
pub fn normalize_categories(categories: Vec<Category>) -> Vec<Category> {
    let mut seen = HashSet::new();
    categories
        .into_iter()
        .filter(|c| seen.insert(c.id.clone()))
        .map(|mut c| {
            c.members.sort();
            c.members.dedup();
            c
        })
        .collect()
}

/// True when a stored certificate is the one an upsert names: by the given thumbprint, or by
/// either digest of the certificate facts that came with it.
pub fn names_certificate(
    c: &StoredCertificate,
    t: &Thumbprint,
    facts: Option<&CertificateFacts>,
) -> bool {
    c.matches(t)
        || facts.is_some_and(|f| {
            c.matches(&Thumbprint::from(&f.sha1)) || c.matches(&Thumbprint::from(&f.sha256))
        })
}

/// What an upsert changes: rows to replace and the new row, or `None` when already in effect.
/// With facts the SHA-1 thumbprint becomes the key, merging a row approved by SHA-256;
/// without, the known facts are kept.
pub fn certificate_change(
    all: &[StoredCertificate],
    t: &Thumbprint,
    kind: CertKind,
    state: CertState,
    facts: Option<CertificateFacts>,
) -> Option<(Vec<StoredCertificate>, StoredCertificate)> {
    let olds: Vec<StoredCertificate> = all
        .iter()
        .filter(|c| c.kind == kind && names_certificate(c, t, facts.as_ref()))
        .cloned()
        .collect();
    let key = match &facts {
        Some(f) => Thumbprint::from(&f.sha1),
        None => olds
            .first()
            .map(|c| c.thumbprint.clone())
            .unwrap_or_else(|| t.clone()),
    };
    let facts = facts.or_else(|| olds.iter().find_map(|c| c.facts.clone()));
    let new = StoredCertificate {
        thumbprint: key,
        kind,
        state,
        facts,
    };
    if olds.len() == 1 && olds[0] == new {
        None
    } else {
        Some((olds, new))
    }
}
