//! Computer target groups and approvals on WSUS, as supctl's model has them: groups by
//! name (WSUS compares names case-insensitively), approvals as (update, group name) with
//! their action and deadline, read from `ExecuteSPGetDeployments` and made with
//! `ExecuteSPCreateTargetGroup1`, `ExecuteSPDeployUpdate1` and `ExecuteSPDeleteDeployment`.
//!
//! Only install and uninstall deployments are approvals; "not approved" and blocks (WSUS's
//! declines) are not. Only approvals of updates the snapshot knows (published locally) are
//! kept: the rest are Microsoft updates, not supctl's.

use chrono::Utc;

use super::client::Client;
use super::deployments::{DeployAction, Deployment};
use super::error::Result;
use crate::config::ApprovalAction;
use crate::ids::UpdateId;
use crate::store::{StoredApproval, TargetGroup};

/// The server's groups, by name.
pub fn groups(c: &Client) -> Result<Vec<TargetGroup>> {
    let mut out: Vec<TargetGroup> = c
        .target_groups()?
        .into_iter()
        .map(|g| TargetGroup {
            name: g.name,
            id: g.id,
        })
        .collect();
    out.sort_by_key(|g| g.name.to_lowercase());
    Ok(out)
}

fn action_of(d: &Deployment) -> Option<ApprovalAction> {
    match d.action {
        DeployAction::Install => Some(ApprovalAction::Install),
        DeployAction::Uninstall => Some(ApprovalAction::Uninstall),
        _ => None,
    }
}

/// The approvals of the updates `keep` accepts (those the snapshot holds), with group
/// names from `groups`.
pub fn approvals(
    deployments: &[Deployment],
    groups: &[TargetGroup],
    keep: impl Fn(&UpdateId) -> bool,
) -> Vec<StoredApproval> {
    let name_of = |id: &str| {
        groups
            .iter()
            .find(|g| g.id.eq_ignore_ascii_case(id))
            .map(|g| g.name.clone())
    };
    let mut out: Vec<StoredApproval> = deployments
        .iter()
        .filter(|d| keep(&d.update))
        .filter_map(|d| {
            Some(StoredApproval {
                update: d.update,
                group: name_of(&d.target_group)?,
                action: action_of(d)?,
                deadline: d.deadline,
                approved: d.deployed.unwrap_or_else(Utc::now),
            })
        })
        .collect();
    out.sort_by(|a, b| {
        (&a.update, a.group.to_lowercase()).cmp(&(&b.update, b.group.to_lowercase()))
    });
    out
}

/// The group named `name`, or the operation's error naming it.
pub fn group_id(c: &Client, name: &str) -> Result<Option<String>> {
    Ok(groups(c)?
        .into_iter()
        .find(|g| g.name.eq_ignore_ascii_case(name))
        .map(|g| g.id))
}

/// The deployment of `update` for the group `group_id`, if any.
pub fn deployment_of(c: &Client, update: &UpdateId, group_id: &str) -> Result<Option<Deployment>> {
    Ok(c.deployments()?.into_iter().find(|d| {
        &d.update == update
            && d.target_group.eq_ignore_ascii_case(group_id)
            && action_of(d).is_some()
    }))
}

/// Deadlines as WSUS keeps them: to the second (it stores milliseconds, supctl plans
/// nanoseconds).
pub fn same_deadline(a: Option<chrono::DateTime<Utc>>, b: Option<chrono::DateTime<Utc>>) -> bool {
    a.map(|d| d.timestamp()) == b.map(|d| d.timestamp())
}

/// The wire action of an approval.
pub fn wire(action: ApprovalAction) -> DeployAction {
    match action {
        ApprovalAction::Install => DeployAction::Install,
        ApprovalAction::Uninstall => DeployAction::Uninstall,
    }
}
