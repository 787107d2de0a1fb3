//! Turning plan actions into the backend's primitive operations.

use crate::catalog::model::UpdateRecord;
use crate::ids::UpdateId;
use crate::plan::{Action, ActionKind, Payload};
use crate::store::{
    Address, CatalogKey, CertKind, Change, Op, Origin, PackedPackages, Record, Store, StoreError,
    Target,
};

/// Most updates published in one transaction.
const BATCH: usize = 500;

fn invalid(what: &'static str, value: impl ToString) -> StoreError {
    StoreError::Invalid {
        what,
        value: value.to_string(),
    }
}

/// Consecutive update actions of one kind (publish and revise together) and one catalog
/// form one batch; every other action is its own batch.
pub(super) fn batch_end(actions: &[&Action], start: usize) -> usize {
    let first = actions[start];
    let batchable = |k: ActionKind| k.is_update_action();
    if !batchable(first.kind) {
        return start + 1;
    }
    let group = |a: &Action| {
        let kind = match a.kind {
            ActionKind::Publish | ActionKind::Revise => None,
            other => Some(other),
        };
        (kind, catalog_of(&a.address))
    };
    let mut end = start + 1;
    while end < actions.len()
        && end - start < BATCH
        && batchable(actions[end].kind)
        && group(actions[end]) == group(first)
    {
        end += 1;
    }
    end
}

fn catalog_of(address: &Address) -> Option<CatalogKey> {
    match address.target()? {
        Target::Catalog(k) | Target::Update(k, _) => Some(k),
        _ => None,
    }
}

fn update_target(a: &Action) -> Result<(CatalogKey, UpdateId), StoreError> {
    match a.address.target() {
        Some(Target::Update(k, id)) => Ok((k, id)),
        _ => Err(invalid("update address", &a.address)),
    }
}

/// The operations that perform one batch of actions; the caller applies them in one
/// transaction together with the batch's journal entries (`Op::Atomic`). `updates` are the
/// records a batch of publishes writes, read by the caller (`apply::packages`), and
/// `packed` those of their packages the reader packed already.
/// `backend` is only read (which roles of a certificate remain), never written.
pub(super) fn batch_ops(
    backend: &Store,
    batch: &[&Action],
    updates: Vec<UpdateRecord>,
    packed: PackedPackages,
) -> Result<Vec<Op>, StoreError> {
    let first = batch[0];
    let mut ops = Vec::new();
    match first.kind {
        ActionKind::Publish | ActionKind::Revise => {
            let (catalog, _) = update_target(first)?;
            // A summary has no package XML: never publish one.
            if let Some(u) = updates.iter().find(|u| u.is_summary()) {
                return Err(invalid("publish payload", u.id));
            }
            ops.push(
                Change::PublishUpdates {
                    catalog,
                    updates,
                    packed,
                }
                .into(),
            );
        }
        ActionKind::Expire => {
            let ids = batch
                .iter()
                .map(|a| update_target(a).map(|(_, id)| id))
                .collect::<Result<Vec<_>, _>>()?;
            ops.push(Change::ExpireUpdates { ids }.into());
        }
        ActionKind::Decline | ActionKind::Undecline => {
            let declined = first.kind == ActionKind::Decline;
            let mut ids = Vec::with_capacity(batch.len());
            let mut marks = Vec::with_capacity(batch.len());
            for a in batch {
                ids.push(update_target(a)?.1);
                // What a rule declined is supctl's to undecline; nothing else is.
                marks.push(if declined {
                    Record::InventoryAdd {
                        address: a.address.clone(),
                        origin: Origin::Declined,
                    }
                } else {
                    Record::InventoryRemove {
                        address: a.address.clone(),
                    }
                });
            }
            ops.push(Change::SetDeclined { ids, declined }.into());
            ops.extend(marks.into_iter().map(Op::from));
        }
        ActionKind::Unstage => {
            let mut sha1s = Vec::new();
            for a in batch {
                match &a.payload {
                    Some(Payload::Unstage { files, .. }) => sha1s.extend(files.iter().copied()),
                    _ => return Err(invalid("content removal payload", &a.address)),
                }
            }
            sha1s.sort();
            sha1s.dedup();
            ops.push(Change::RemoveContent { sha1s }.into());
        }
        _ => object_ops(backend, &mut ops, first)?,
    }
    Ok(ops)
}

fn object_ops(backend: &Store, ops: &mut Vec<Op>, a: &Action) -> Result<(), StoreError> {
    let address = a.address.clone();
    match (a.kind, &a.payload, address.target()) {
        (ActionKind::Delete, _, Some(Target::Catalog(key))) => {
            ops.push(Change::DeleteCatalog { key: key.clone() }.into());
            // The revision in force went with the catalog.
            ops.push(
                Record::Revision {
                    key,
                    revision: None,
                }
                .into(),
            );
            ops.push(Record::InventoryRemove { address }.into());
        }
        (_, Some(Payload::Catalog { record, categories }), Some(Target::Catalog(key))) => {
            if a.kind == ActionKind::Replace {
                ops.push(Change::DeleteCatalog { key: key.clone() }.into());
                ops.push(
                    Record::Revision {
                        key: key.clone(),
                        revision: None,
                    }
                    .into(),
                );
            }
            ops.push(Change::UpsertCatalog((**record).clone()).into());
            if let Some(categories) = categories {
                ops.push(
                    Change::ReplaceCategories {
                        catalog: key,
                        categories: categories.clone(),
                    }
                    .into(),
                );
            }
            if matches!(a.kind, ActionKind::Create | ActionKind::Replace) {
                ops.push(
                    Record::InventoryAdd {
                        address,
                        origin: Origin::Created,
                    }
                    .into(),
                );
            }
        }
        (
            _,
            Some(Payload::Certificate {
                thumbprint,
                kind,
                state,
                info,
            }),
            _,
        ) => {
            let kind = *kind;
            // The inventory names the certificate, not one role of it.
            let address = Address::certificate(thumbprint);
            if a.kind == ActionKind::Delete {
                ops.push(
                    Change::DeleteCertificate {
                        thumbprint: thumbprint.clone(),
                        kind,
                    }
                    .into(),
                );
                // Only when no other role is left: that role stays supctl's to remove.
                let mut others = false;
                for other in [CertKind::Catalog, CertKind::Content, CertKind::WsusSigning] {
                    if other != kind {
                        let role = Address::certificate_role(thumbprint, other);
                        others |= backend.fingerprint(&role)?.is_some();
                    }
                }
                if !others {
                    ops.push(Record::InventoryRemove { address }.into());
                }
            } else {
                let state = state.ok_or_else(|| invalid("certificate state", &a.address))?;
                ops.push(
                    Change::UpsertCertificate {
                        thumbprint: thumbprint.clone(),
                        kind,
                        state,
                        info: info.clone(),
                    }
                    .into(),
                );
                if a.before.is_none() {
                    ops.push(
                        Record::InventoryAdd {
                            address,
                            origin: Origin::Created,
                        }
                        .into(),
                    );
                }
            }
        }
        (_, Some(Payload::Sync { settings }), Some(Target::Sync)) => {
            ops.push(Change::SetSyncSettings(settings.clone()).into());
        }
        (_, Some(Payload::Signing { settings, install }), Some(Target::Signing)) => {
            let install = install
                .as_ref()
                .map(|i| super::signing::installation(i, chrono::Utc::now()))
                .transpose()?;
            ops.push(
                Change::SetSigning {
                    settings: settings.clone(),
                    install,
                }
                .into(),
            );
        }
        (_, Some(Payload::Group { name }), Some(Target::Group(_))) => {
            ops.push(Change::CreateGroup { name: name.clone() }.into());
        }
        (
            ActionKind::Delete,
            Some(Payload::Approval { update, group, .. }),
            Some(Target::Approval(..)),
        ) => {
            ops.push(
                Change::RemoveApproval {
                    update: *update,
                    group: group.clone(),
                }
                .into(),
            );
        }
        (
            _,
            Some(Payload::Approval {
                update,
                group,
                action,
                deadline,
            }),
            Some(Target::Approval(..)),
        ) => {
            ops.push(
                Change::Approve {
                    update: *update,
                    group: group.clone(),
                    action: *action,
                    deadline: *deadline,
                }
                .into(),
            );
        }
        _ => return Err(invalid("action", format!("{} {}", a.kind, a.address))),
    }
    Ok(())
}
