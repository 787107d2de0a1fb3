//! The approvals the server holds, per update, with how its computers stand with each
//! (WSUS's summaries): what `status` and the status page show so that an admin sees at a
//! glance whether a ring's updates are landing, without opening the console's reports.
//!
//! The counts come from the server only (the embedded server has no computers), so an
//! approval on it is listed with its groups and no counts rather than with zeros that
//! would read as "nobody needs it".

use std::collections::BTreeMap;

use serde::Serialize;

use crate::ids::UpdateId;
use crate::store::{ActualState, CatalogKey, Compliance};

/// One approved update.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ApprovedUpdate {
    pub id: UpdateId,
    /// `None` for an update no catalog of the store holds (approved in the console).
    pub catalog: Option<CatalogKey>,
    pub title: String,
    /// `<group> (<action>)`, sorted.
    pub approved_for: Vec<String>,
    /// The computers' counts, when the server reports them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub compliance: Option<Compliance>,
}

/// The approved updates of `actual`, most computers needing them first, then by title.
pub(super) fn approved(
    actual: &ActualState,
    compliance: Option<&BTreeMap<UpdateId, Compliance>>,
) -> Vec<ApprovedUpdate> {
    let mut by_update: BTreeMap<&UpdateId, Vec<String>> = BTreeMap::new();
    for a in &actual.approvals {
        by_update
            .entry(&a.update)
            .or_default()
            .push(format!("{} ({})", a.group, a.action));
    }
    let mut out: Vec<ApprovedUpdate> = by_update
        .into_iter()
        .map(|(id, mut approved_for)| {
            approved_for.sort();
            let stored = actual.updates.get(id);
            ApprovedUpdate {
                id: *id,
                catalog: stored.map(|u| u.catalog.clone()),
                title: stored.map_or_else(|| id.to_string(), |u| u.title.clone()),
                approved_for,
                compliance: compliance.map(|c| c.get(id).copied().unwrap_or_default()),
            }
        })
        .collect();
    out.sort_by(|a, b| {
        let needed = |u: &ApprovedUpdate| u.compliance.map_or(0, |c| c.needed + c.failed);
        needed(b)
            .cmp(&needed(a))
            .then_with(|| a.title.cmp(&b.title))
            .then_with(|| a.id.cmp(&b.id))
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ApprovalAction;
    use crate::store::StoredApproval;

    fn approval(id: &UpdateId, group: &str) -> StoredApproval {
        StoredApproval {
            update: *id,
            group: group.into(),
            action: ApprovalAction::Install,
            deadline: None,
            approved: chrono::Utc::now(),
        }
    }

    #[test]
    fn updates_are_grouped_with_their_groups_and_those_computers_need_come_first() {
        let a: UpdateId = "0c31a8ec-a368-4383-8149-3d8e2c264f17".parse().unwrap();
        let b: UpdateId = "75703a22-ed04-4fc2-b715-75e42bc587c0".parse().unwrap();
        let actual = ActualState {
            approvals: vec![
                approval(&a, "Ring 1"),
                approval(&b, "Ring 0"),
                approval(&a, "Ring 0"),
            ],
            ..ActualState::default()
        };
        let listed = approved(&actual, None);
        assert_eq!(listed.len(), 2);
        assert_eq!(listed[0].id, a, "no counts: by title (the id here)");
        assert_eq!(
            listed[0].approved_for,
            ["Ring 0 (install)", "Ring 1 (install)"]
        );
        assert_eq!(
            listed[0].compliance, None,
            "no counts without a server that has them"
        );

        let counts = BTreeMap::from([(
            b,
            Compliance {
                needed: 4,
                ..Compliance::default()
            },
        )]);
        let listed = approved(&actual, Some(&counts));
        assert_eq!(listed[0].id, b, "needed by computers: first");
        assert_eq!(
            listed[1].compliance,
            Some(Compliance::default()),
            "none reported: zeros"
        );
    }
}
