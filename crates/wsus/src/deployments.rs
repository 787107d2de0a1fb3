//! Computer target groups, approvals (WSUS calls them deployments) and per-update
//! compliance counts: the records behind approvals as code and the compliance view.
//!
//! Column maps are the reference's (§4, §5.6) where it has them; where it has none the
//! parser says what it assumes and why, so a server that answers differently fails with a
//! message naming the operation, the row and the column.

use chrono::{DateTime, Utc};

use crate::error::{Result, WsusError};
use crate::records::result_rows;
use crate::rows::{Columns, Row, map_rows, parse_row};
use crate::soap::{Element, result};
use supctl_ids::UpdateId;

/// The built-in "Unassigned Computers" group (§5.6); like All Computers it cannot be
/// created or deleted, and computers land in it until an admin assigns them.
pub const UNASSIGNED: &str = "b73ca6ed-5727-47f3-84de-015e03f6a88a";

/// One computer target group (`ExecuteSPGetAllTargetGroups`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetGroup {
    /// Lower-case GUID, whatever case the server printed: groups are compared by id.
    pub id: String,
    pub name: String,
    /// `None` for All Computers, the root of the tree.
    pub parent: Option<String>,
}

/// What an approval does (`deploymentAction` of `ExecuteSPDeployUpdate1`, the action
/// column of `ExecuteSPGetDeployments`). Only [`Install`](DeployAction::Install) and
/// [`Uninstall`](DeployAction::Uninstall) are approvals; the others are kept so that a
/// reader sees every row the server holds and can ignore what is not its business.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DeployAction {
    /// 0 on the wire.
    Install,
    /// 1 on the wire.
    Uninstall,
    /// 2 on the wire: clears an approval or a decline (observed, although MS-WSUSAR
    /// §2.2.5.3 says 3, §5.6).
    NotApproved,
    /// 3 on the wire: a block for a group, a decline for All Computers (observed).
    Block,
    /// Any other number (the old .NET enum has Bundle 5 and All 2147483647).
    Other(i32),
}

impl DeployAction {
    pub fn from_wire(v: i32) -> DeployAction {
        match v {
            0 => DeployAction::Install,
            1 => DeployAction::Uninstall,
            2 => DeployAction::NotApproved,
            3 => DeployAction::Block,
            other => DeployAction::Other(other),
        }
    }

    pub fn wire(self) -> i32 {
        match self {
            DeployAction::Install => 0,
            DeployAction::Uninstall => 1,
            DeployAction::NotApproved => 2,
            DeployAction::Block => 3,
            DeployAction::Other(v) => v,
        }
    }

    /// True for the two actions that make clients do something (install, uninstall).
    pub fn is_approval(self) -> bool {
        matches!(self, DeployAction::Install | DeployAction::Uninstall)
    }
}

/// One deployment row of `ExecuteSPGetDeployments` (§4: 0 deployment time, 2 action,
/// 4 deadline, 5 admin, 6 deployment GUID, 8 UpdateId, 9 RevisionNumber, 10 TargetGroupId).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deployment {
    /// The deployment GUID, lower-case: what `ExecuteSPDeleteDeployment` takes.
    pub id: String,
    pub update: UpdateId,
    pub revision: u32,
    pub action: DeployAction,
    /// The target group GUID, lower-case.
    pub target_group: String,
    /// `None` for the console's "no deadline" (`9999-…`) and for nil.
    pub deadline: Option<DateTime<Utc>>,
    /// When the approval was made.
    pub deployed: Option<DateTime<Utc>>,
    pub admin: String,
}

/// Installation counts of one update over the computers in scope.
///
/// Read from `ExecuteSPGetSummariesPerUpdate` for the whole server, because that is the
/// summaries operation with an observed column map (§4 has none; an open client tested
/// against WSUS 10.0.26100 reads one row per update and installation state: 0 UpdateId,
/// 3 state, 4 computer count), and from `ExecuteSPGetUpdateSummariesForTargetGroup` for
/// one group, the wire form of `IComputerTargetGroup.GetSummaryPerUpdate` (MSDN
/// bb313313), whose rows are assumed to have the same layout (inferred: the same open
/// client reads the group-per-update summaries with the state and count at 3 and 4 too).
/// States are the .NET `UpdateInstallationState` numbers: 0 unknown, 1 not applicable,
/// 2 not installed, 3 downloaded, 4 installed, 5 failed, 6 installed pending reboot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpdateCompliance {
    pub update: UpdateId,
    /// Computers that still need it: not installed, downloaded, or installed and waiting
    /// for a reboot (the console's "Needed", which counts a pending reboot as not done).
    pub needed: u32,
    pub installed: u32,
    pub failed: u32,
    pub not_applicable: u32,
    /// Computers that have not reported on the update.
    pub unknown: u32,
}

impl UpdateCompliance {
    fn new(update: UpdateId) -> Self {
        UpdateCompliance {
            update,
            needed: 0,
            installed: 0,
            failed: 0,
            not_applicable: 0,
            unknown: 0,
        }
    }
}

/// A GUID column, lower-cased (group and deployment ids are not update ids, but share the
/// normalisation).
fn guid_text(c: &Columns, col: usize) -> Result<String> {
    c.guid(col).map(|g| g.as_str().to_string())
}

fn target_group(c: &Columns) -> Result<TargetGroup> {
    Ok(TargetGroup {
        id: guid_text(c, 2)?,
        name: c.str(1)?,
        parent: c
            .opt_str(5)
            .and_then(|p| UpdateId::parse(&p).ok())
            .map(|p| p.as_str().to_string()),
    })
}

/// `ExecuteSPGetAllTargetGroups` → the computer groups. Columns (go-wsus `TargetGroup`,
/// confirmed by an open client on 10.0.26100): 0 group type, 1 name, 2 GUID, 3 order,
/// 4 priority, 5 parent GUID. Rows of another type than `Computers` (the Downstream
/// Servers group) are left out: nothing can be approved to them.
pub fn target_groups(resp: &Element) -> Result<Vec<TargetGroup>> {
    const OP: &str = "ExecuteSPGetAllTargetGroups";
    let rows: Vec<Row> = result_rows(OP, resp)
        .into_iter()
        .filter(|r| r.cells.first().and_then(|c| c.value.as_deref()) == Some("Computers"))
        .collect();
    map_rows(OP, &rows, target_group)
}

/// `ExecuteSPCreateTargetGroup1` → the new group's id, from the one row it answers (the
/// layout of `ExecuteSPGetAllTargetGroups`, GUID in column 2, as an open client reads it).
pub fn created_target_group(resp: &Element) -> Result<String> {
    const OP: &str = "ExecuteSPCreateTargetGroup1";
    let row = result(OP, resp)
        .filter(|r| !r.is_nil())
        .map(parse_row)
        .ok_or_else(|| WsusError::malformed(OP, "no row for the new group"))?;
    let mut ids = map_rows(OP, std::slice::from_ref(&row), |c| guid_text(c, 2))?;
    Ok(ids.remove(0))
}

/// `ExecuteSPGetDeployments` → every deployment row, whatever its action.
pub fn deployments(resp: &Element) -> Result<Vec<Deployment>> {
    const OP: &str = "ExecuteSPGetDeployments";
    map_rows(OP, &result_rows(OP, resp), |c| {
        let revision = c.i64(9)?;
        let action = c.i64(2)?;
        Ok(Deployment {
            id: guid_text(c, 6)?,
            update: c.guid(8)?,
            revision: u32::try_from(revision)
                .map_err(|_| WsusError::malformed(OP, format!("revision {revision}")))?,
            action: DeployAction::from_wire(
                i32::try_from(action)
                    .map_err(|_| WsusError::malformed(OP, format!("action {action}")))?,
            ),
            target_group: guid_text(c, 10)?,
            deadline: c.opt_date(4),
            deployed: c.opt_date(0),
            admin: c.opt_str(5).unwrap_or_default(),
        })
    })
}

/// Summary rows (one per update and installation state, see [`UpdateCompliance`]) folded
/// into one record per update, in the order the updates first appear.
pub fn compliance(op: &str, resp: &Element) -> Result<Vec<UpdateCompliance>> {
    let cells = map_rows(op, &result_rows(op, resp), |c| {
        let count = c.i64(4)?;
        let count = u32::try_from(count)
            .map_err(|_| WsusError::malformed(op, format!("row {}: count {count}", c.index)))?;
        Ok((c.guid(0)?, c.i64(3)?, count))
    })?;
    let mut out: Vec<UpdateCompliance> = Vec::new();
    for (update, state, count) in cells {
        let i = match out.iter().position(|u| u.update == update) {
            Some(i) => i,
            None => {
                out.push(UpdateCompliance::new(update));
                out.len() - 1
            }
        };
        let u = &mut out[i];
        let slot = match state {
            0 => &mut u.unknown,
            1 => &mut u.not_applicable,
            2 | 3 | 6 => &mut u.needed,
            4 => &mut u.installed,
            5 => &mut u.failed,
            other => {
                return Err(WsusError::malformed(
                    op,
                    format!("update {update}: unknown installation state {other}"),
                ));
            }
        };
        *slot = slot.saturating_add(count);
    }
    Ok(out)
}

#[cfg(test)]
#[path = "deployments_tests.rs"]
mod tests;
