//! Turning plan actions into the backend's primitive operations.

use crate::catalog::model::UpdateRecord;
use crate::ids::UpdateId;
use crate::plan::{Action, ActionKind, Payload};
use crate::store::{
    Address, Backend, CatalogKey, CatalogRecord, CertKind, CertState, Op, Origin, SigningSettings,
    StoreError, SyncSettings, Target,
};

/// Most updates published in one transaction.
const BATCH: usize = 500;

fn invalid(what: &'static str, value: impl ToString) -> StoreError {
    StoreError::Invalid {
        what,
        value: value.to_string(),
    }
}

/// Consecutive publish/revise (or expire) actions of one catalog form one batch; every
/// other action is its own batch.
pub(super) fn batch_end(actions: &[&Action], start: usize) -> usize {
    let first = actions[start];
    let batchable = |k: ActionKind| {
        matches!(
            k,
            ActionKind::Publish | ActionKind::Revise | ActionKind::Expire | ActionKind::Stage
        )
    };
    if !batchable(first.kind) {
        return start + 1;
    }
    let group = |a: &Action| {
        (
            a.kind == ActionKind::Expire,
            a.kind == ActionKind::Stage,
            catalog_of(&a.address),
        )
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

fn catalog_of(address: &str) -> Option<String> {
    match Address::parse(address).ok()?.target()? {
        Target::Catalog(k) | Target::Update(k, _) => Some(k.to_string()),
        _ => None,
    }
}

fn update_target(a: &Action) -> Result<(CatalogKey, UpdateId), StoreError> {
    match Address::parse(&a.address).ok().and_then(|x| x.target()) {
        Some(Target::Update(k, id)) => Ok((k, id)),
        _ => Err(invalid("update address", &a.address)),
    }
}

/// Applies one batch; all of it or (on error) the part its transactions committed.
pub(super) fn apply_batch(backend: &dyn Backend, batch: &[&Action]) -> Result<(), StoreError> {
    let first = batch[0];
    match first.kind {
        ActionKind::Publish | ActionKind::Revise => {
            let (catalog, _) = update_target(first)?;
            let mut updates: Vec<UpdateRecord> = Vec::with_capacity(batch.len());
            for a in batch {
                match &a.payload {
                    // A cached summary has no package XML: never publish one.
                    Some(Payload::Update { record }) if !record.is_summary() => {
                        updates.push((**record).clone())
                    }
                    _ => return Err(invalid("publish payload", &a.address)),
                }
            }
            backend.apply(Op::PublishUpdates { catalog, updates })?;
        }
        ActionKind::Expire => {
            let ids = batch
                .iter()
                .map(|a| update_target(a).map(|(_, id)| id))
                .collect::<Result<Vec<_>, _>>()?;
            backend.apply(Op::ExpireUpdates { ids })?;
        }
        _ => apply_object(backend, first)?,
    }
    Ok(())
}

fn apply_object(backend: &dyn Backend, a: &Action) -> Result<(), StoreError> {
    let address = Address::parse(&a.address).map_err(|e| invalid("address", e))?;
    match (a.kind, &a.payload, address.target()) {
        (ActionKind::Delete, _, Some(Target::Catalog(key))) => {
            backend.apply(Op::DeleteCatalog { key })?;
            backend.apply(Op::InventoryRemove { address })?;
        }
        (
            _,
            Some(Payload::Catalog {
                settings,
                categories,
            }),
            Some(Target::Catalog(key)),
        ) => {
            let record: CatalogRecord = serde_json::from_value(settings.clone())
                .map_err(|e| invalid("catalog settings", e))?;
            if a.kind == ActionKind::Replace {
                backend.apply(Op::DeleteCatalog { key: key.clone() })?;
            }
            backend.apply(Op::UpsertCatalog(record))?;
            if let Some(categories) = categories {
                backend.apply(Op::ReplaceCategories {
                    catalog: key,
                    categories: categories.clone(),
                })?;
            }
            if matches!(a.kind, ActionKind::Create | ActionKind::Replace) {
                backend.apply(Op::InventoryAdd {
                    address,
                    origin: Origin::Created,
                })?;
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
            let kind = CertKind::parse(kind).ok_or_else(|| invalid("certificate kind", kind))?;
            // The inventory names the certificate, not one role of it (and plans made before
            // addresses carried the role name it so too).
            let address = Address::certificate(thumbprint);
            if a.kind == ActionKind::Delete {
                backend.apply(Op::DeleteCertificate {
                    thumbprint: thumbprint.clone(),
                    kind,
                })?;
                // Only when no role is left: the other role stays supctl's to remove.
                if backend.fingerprint(&address)?.is_none() {
                    backend.apply(Op::InventoryRemove { address })?;
                }
            } else {
                let state =
                    CertState::parse(state).ok_or_else(|| invalid("certificate state", state))?;
                backend.apply(Op::UpsertCertificate {
                    thumbprint: thumbprint.clone(),
                    kind,
                    state,
                    info: info.clone(),
                })?;
                if a.before.is_none() {
                    backend.apply(Op::InventoryAdd {
                        address,
                        origin: Origin::Created,
                    })?;
                }
            }
        }
        (_, Some(Payload::Settings { value }), Some(Target::Sync)) => {
            let s: SyncSettings =
                serde_json::from_value(value.clone()).map_err(|e| invalid("sync settings", e))?;
            backend.apply(Op::SetSyncSettings(s))?;
        }
        (_, Some(Payload::Settings { value }), Some(Target::Signing)) => {
            let s: SigningSettings = serde_json::from_value(value.clone())
                .map_err(|e| invalid("signing settings", e))?;
            backend.apply(Op::SetSigning(s))?;
        }
        _ => return Err(invalid("action", format!("{} {}", a.kind, a.address))),
    }
    Ok(())
}
