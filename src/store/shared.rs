//! Rules both backends apply identically, kept in one place so their semantics cannot drift.

use std::collections::HashSet;

use crate::catalog::model::{Category, PublicationState, UpdateRecord};
use crate::ids::Thumbprint;

use super::actual::{StoredFile, StoredUpdate};
use crate::trust::CertificateInfo;

use super::model::{CertKind, CertState, StoredCertificate};
use super::names::CatalogKey;

/// Categories as stored: the first of duplicate ids wins, members sorted and unique.
pub(crate) fn normalize_categories(categories: Vec<Category>) -> Vec<Category> {
    let mut seen = HashSet::new();
    categories
        .into_iter()
        .filter(|c| seen.insert(c.id))
        .map(|mut c| {
            c.members.sort();
            c.members.dedup();
            c
        })
        .collect()
}

/// True when a stored certificate is the one an upsert names: by the given thumbprint, or by
/// either digest of the certificate facts that came with it.
pub(crate) fn names_certificate(
    c: &StoredCertificate,
    t: &Thumbprint,
    facts: Option<&CertificateInfo>,
) -> bool {
    c.matches(t)
        || facts.is_some_and(|f| {
            c.matches(&Thumbprint::from(&f.sha1)) || c.matches(&Thumbprint::from(&f.sha256))
        })
}

/// What an upsert changes: rows to replace and the new row, or `None` when already in effect.
/// With facts the SHA-1 thumbprint becomes the key, merging a row approved by SHA-256;
/// without, the known facts are kept.
pub(crate) fn certificate_change(
    all: &[StoredCertificate],
    t: &Thumbprint,
    kind: CertKind,
    state: CertState,
    facts: Option<CertificateInfo>,
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

/// An update record as a stored update: its files once each by SHA-1 (none staged yet) and
/// its supersedence sorted, with `superseded_by` left for the caller to link.
pub(crate) fn stored_update(
    catalog: &CatalogKey,
    rec: &UpdateRecord,
    revision: u32,
    publication: PublicationState,
    declined: bool,
) -> StoredUpdate {
    let mut files: Vec<StoredFile> = Vec::new();
    for f in rec.files() {
        if !files.iter().any(|x| x.sha1 == f.sha1) {
            files.push(StoredFile {
                name: f.name.clone(),
                size: f.size,
                sha1: f.sha1,
                sha256: f.sha256,
                uri: f.uri.clone(),
                staged: false,
            });
        }
    }
    files.sort_by_key(|f| f.sha1);
    let mut supersedes = rec.superseded.clone();
    supersedes.sort();
    supersedes.dedup();
    StoredUpdate {
        id: rec.id,
        catalog: catalog.clone(),
        revision,
        content_hash: rec.content_hash(),
        title: rec.title().to_string(),
        vendor: rec.vendor.clone(),
        products: rec.products.clone(),
        classification: rec.classification.clone(),
        severity: rec.severity.clone(),
        kb_article: rec.kb_article.clone(),
        update_type: rec.update_type.clone(),
        created: rec.created,
        publication,
        declined,
        supersedes,
        superseded_by: Vec::new(),
        files,
    }
}

/// The certificate and key a server that keeps the key itself (embedded, in-memory) is to
/// install; such a server makes no certificate of its own.
pub(crate) fn local_signing(
    install: Option<super::op::SigningInstallation>,
    server: &str,
) -> super::error::Result<Option<Box<crate::signing::SigningMaterial>>> {
    match install {
        None => Ok(None),
        Some(super::op::SigningInstallation::Material(m)) => Ok(Some(m)),
        Some(super::op::SigningInstallation::Server) => Err(super::error::StoreError::Invalid {
            what: "signing installation",
            value: format!("the {server} server does not make certificates itself"),
        }),
    }
}

/// Why an update cannot be approved with `action`, as every server refuses it: WSUS
/// refuses to approve an expired update, and an update whose content is not staged has
/// nothing for clients to install.
pub(crate) fn check_approvable(
    stored: Option<&crate::store::StoredUpdate>,
    id: &crate::ids::UpdateId,
    action: crate::config::ApprovalAction,
) -> super::error::Result<()> {
    let u = stored.ok_or_else(|| super::error::StoreError::UnknownUpdate(*id))?;
    let why = if u.publication == crate::catalog::model::PublicationState::Expired {
        Some("it is expired")
    } else if u.declined {
        Some("it is declined")
    } else if action == crate::config::ApprovalAction::Install && !u.deployable() {
        Some("its content is not staged (metadata only)")
    } else {
        None
    };
    match why {
        Some(why) => Err(super::error::StoreError::Invalid {
            what: "approval",
            value: format!("update {id} cannot be approved: {why}"),
        }),
        None => Ok(()),
    }
}
