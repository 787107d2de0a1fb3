//! Computer target groups, approvals and compliance summaries: `ExecuteSPGetAllTargetGroups`,
//! `ExecuteSPCreateTargetGroup1`, `ExecuteSPDeployUpdate1`, `ExecuteSPGetDeployments`,
//! `ExecuteSPDeleteDeployment`, `ExecuteSPGetSummariesPerUpdate`,
//! `ExecuteSPGetUpdateSummariesForTargetGroup`. Rows follow the reference's column maps
//! (§4); writes validate first and mutate last, like the rest of the double.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDateTime};
use supctl::store::wsus::soap::Element;

use super::answers::{ALL_COMPUTERS, Cell, State, need, parse_bool, row, text, values};
use super::publishing::guid_param;

/// The built-in "Unassigned Computers" group.
pub(crate) const UNASSIGNED: &str = "b73ca6ed-5727-47f3-84de-015e03f6a88a";
/// The built-in "Downstream Servers" group (not a computer group: never approved to).
pub(crate) const DOWNSTREAM: &str = "d374f42a-9be2-4163-a0fa-3c86a401b7a7";
/// When the double says approvals were made (rows need a time; tests never look at it).
const DEPLOYED_AT: &str = "2024-05-03T12:00:00.123";

/// One target group as SUSDB keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Group {
    pub id: String,
    pub name: String,
    pub parent: Option<String>,
    /// `Computers`, or `Downstream Servers` for the replica servers' group.
    pub kind: &'static str,
}

/// The groups a fresh WSUS has.
pub(crate) fn default_groups() -> Vec<Group> {
    let g = |id: &str, name: &str, parent: Option<&str>, kind| Group {
        id: id.into(),
        name: name.into(),
        parent: parent.map(str::to_string),
        kind,
    };
    vec![
        g(ALL_COMPUTERS, "All Computers", None, "Computers"),
        g(
            UNASSIGNED,
            "Unassigned Computers",
            Some(ALL_COMPUTERS),
            "Computers",
        ),
        g(DOWNSTREAM, "Downstream Servers", None, "Downstream Servers"),
    ]
}

/// One approval or block (`ExecuteSPDeployUpdate1` with an action other than "not
/// approved"), as `ExecuteSPGetDeployments` lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Approval {
    pub update_id: String,
    pub revision: u32,
    pub action: i32,
    pub target_group: String,
    /// As the client sent it (a zone-less date, or the "no deadline" sentinel).
    pub deadline: String,
    pub admin: String,
    pub deployment_id: String,
    pub assigned: bool,
}

/// Computers per installation state for one update in one group (what tests set on
/// [`State::compliance`]); the .NET `UpdateInstallationState` numbering.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Counts {
    pub unknown: u32,
    pub not_applicable: u32,
    pub not_installed: u32,
    pub downloaded: u32,
    pub installed: u32,
    pub failed: u32,
    pub pending_reboot: u32,
}

impl Counts {
    /// (state number, count), in state order.
    fn by_state(&self) -> [(i32, u32); 7] {
        [
            (0, self.unknown),
            (1, self.not_applicable),
            (2, self.not_installed),
            (3, self.downloaded),
            (4, self.installed),
            (5, self.failed),
            (6, self.pending_reboot),
        ]
    }

    fn add(&mut self, o: &Counts) {
        self.unknown += o.unknown;
        self.not_applicable += o.not_applicable;
        self.not_installed += o.not_installed;
        self.downloaded += o.downloaded;
        self.installed += o.installed;
        self.failed += o.failed;
        self.pending_reboot += o.pending_reboot;
    }
}

/// Compliance counts keyed by (update id, group id), both lower-case.
pub(crate) type Compliance = HashMap<(String, String), Counts>;

fn is_guid(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_hexdigit(),
        })
}

/// A `guid` parameter, lower-case, or the fault .NET gives for a malformed one.
fn guid(params: &Element, name: &str) -> Result<String, String> {
    let g = guid_param(params, name);
    if !is_guid(&g) {
        return Err(format!(
            "System.InvalidOperationException: There is an error in XML document. ---> System.FormatException: {name}: `{}` is not a GUID",
            text(params, name)
        ));
    }
    Ok(g)
}

/// A `dateTime` as .NET's XML serializer reads it (zone-less, or with a zone).
fn is_date(v: &str) -> bool {
    DateTime::parse_from_rfc3339(v).is_ok()
        || NaiveDateTime::parse_from_str(v, "%Y-%m-%dT%H:%M:%S%.f").is_ok()
}

impl State {
    fn group_row(g: &Group) -> Vec<Cell<'static>> {
        vec![
            Some(("string", g.kind.to_string())),
            Some(("string", g.name.clone())),
            // SUSDB prints GUIDs upper-case in these rows; clients normalise.
            Some(("string", g.id.to_uppercase())),
            Some(("int", "0".into())),
            Some(("int", "0".into())),
            g.parent.as_ref().map(|p| ("string", p.to_uppercase())),
        ]
    }

    pub(super) fn target_group_rows(&self) -> String {
        self.groups
            .iter()
            .map(|g| row(&Self::group_row(g)))
            .collect()
    }

    /// Creates a group; the answer is its row.
    pub(super) fn create_target_group(&mut self, params: &Element) -> Result<String, String> {
        self.admin()?;
        let name = text(params, "name").trim().to_string();
        let parent = guid(params, "parentGroupId")?;
        if name.is_empty() {
            return Err(
                "System.ArgumentNullException: Value cannot be null. Parameter name: name".into(),
            );
        }
        if !self
            .groups
            .iter()
            .any(|g| g.id == parent && g.kind == "Computers")
        {
            return Err(format!(
                "Microsoft.UpdateServices.Administration.WsusObjectNotFoundException: The parent target group {parent} was not found."
            ));
        }
        if self
            .groups
            .iter()
            .any(|g| g.parent.as_deref() == Some(&parent) && g.name.eq_ignore_ascii_case(&name))
        {
            return Err(format!(
                "System.Data.SqlClient.SqlException: A computer target group with the name '{name}' already exists under this parent. ---> Microsoft.UpdateServices.Administration.WsusObjectAlreadyExistsException: A computer target group with this name already exists."
            ));
        }
        // Validated: create.
        self.next_id += 1;
        let g = Group {
            id: format!("e0000000-0000-4000-8000-{:012x}", self.next_id),
            name,
            parent: Some(parent),
            kind: "Computers",
        };
        let answer = values(&Self::group_row(&g));
        self.groups.push(g);
        Ok(answer)
    }

    /// Approves, blocks or clears one update revision for one group; the answer is the
    /// deployment row (§4 `ExecuteSPGetDeployments` column order).
    pub(super) fn deploy(&mut self, params: &Element) -> Result<String, String> {
        self.admin()?;
        let rid = params.child("updateId").filter(|r| !r.is_nil()).ok_or(
            "System.ArgumentNullException: Value cannot be null. Parameter name: updateId",
        )?;
        let id = guid_param(rid, "UpdateId");
        let revision: u32 = need(rid, "RevisionNumber")?;
        let action: i32 = need(params, "deploymentAction")?;
        let group = guid(params, "targetGroupId")?;
        let deadline = text(params, "deadline").trim().to_string();
        let admin = text(params, "adminName").to_string();
        let assigned = parse_bool(text(params, "isAssigned")).ok_or(
            "System.InvalidOperationException: There is an error in XML document. isAssigned is not a boolean",
        )?;
        if !is_date(&deadline) {
            return Err(format!(
                "System.InvalidOperationException: There is an error in XML document. ---> System.FormatException: deadline `{deadline}` is not a valid AllXsd value."
            ));
        }
        let i = self
            .updates
            .iter()
            .position(|u| u.id == id && (1..=u.revision).contains(&revision))
            .ok_or_else(|| {
                format!("System.ArgumentException: update {id} revision {revision} was not found")
            })?;
        if !self
            .groups
            .iter()
            .any(|g| g.id == group && g.kind == "Computers")
        {
            return Err(format!(
                "Microsoft.UpdateServices.Administration.WsusObjectNotFoundException: The target group {group} was not found."
            ));
        }
        if !(0..=3).contains(&action) {
            return Err(format!(
                "System.ArgumentOutOfRangeException: deploymentAction {action} is not a valid UpdateApprovalAction"
            ));
        }
        if matches!(action, 0 | 1) && self.updates[i].expired {
            return Err(format!(
                "System.InvalidOperationException: update {id} is expired and cannot be approved"
            ));
        }
        // As `IUpdate.Approve(Uninstall)`: only an update whose package declares
        // `UninstallProperties` (its `UninstallationBehavior.IsSupported`) can be.
        if action == 1
            && !self.updates[i]
                .sdp
                .as_deref()
                .is_some_and(|x| x.contains("UninstallProperties"))
        {
            return Err(format!(
                "System.InvalidOperationException: update {id} does not support uninstallation"
            ));
        }
        // Validated: apply. A new action for an update and group replaces the old one.
        self.approvals
            .retain(|a| !(a.update_id == id && a.target_group == group));
        let all = group == ALL_COMPUTERS;
        self.next_id += 1;
        let deployment = format!("d0000000-0000-4000-8000-{:012x}", self.next_id);
        match action {
            2 if all => self.updates[i].declined = false,
            3 if all => self.updates[i].declined = true,
            2 => {}
            _ => {
                self.approvals.push(Approval {
                    update_id: id.clone(),
                    revision,
                    action,
                    target_group: group.clone(),
                    deadline: deadline.clone(),
                    admin: admin.clone(),
                    deployment_id: deployment.clone(),
                    assigned,
                });
                // Approving a declined update takes it out of the decline, as the console.
                if matches!(action, 0 | 1) {
                    self.updates[i].declined = false;
                }
            }
        }
        Ok(values(&deployment_cells(&Approval {
            update_id: id,
            revision,
            action,
            target_group: group,
            deadline,
            admin,
            deployment_id: deployment,
            assigned,
        })))
    }

    pub(super) fn deployment_rows(&self) -> String {
        self.approvals
            .iter()
            .map(|a| row(&deployment_cells(a)))
            .collect()
    }

    pub(super) fn delete_deployment(&mut self, params: &Element) -> Result<String, String> {
        self.admin()?;
        let id = guid(params, "id")?;
        let i = self
            .approvals
            .iter()
            .position(|a| a.deployment_id == id)
            .ok_or_else(|| {
                format!(
                    "Microsoft.UpdateServices.Administration.WsusObjectNotFoundException: The deployment {id} was not found."
                )
            })?;
        self.approvals.remove(i);
        Ok(String::new())
    }

    /// `ExecuteSPGetSummariesPerUpdate`: the counts set for All Computers, the server-wide
    /// view (the double does not look into the scope XML beyond requiring one).
    pub(super) fn summaries_per_update(&self, params: &Element) -> Result<String, String> {
        if text(params, "computerTargetScopeXml").trim().is_empty() {
            return Err(
                "System.ArgumentNullException: Value cannot be null. Parameter name: computerTargetScopeXml"
                    .into(),
            );
        }
        Ok(self.summary_rows(&[ALL_COMPUTERS.to_string()], None))
    }

    /// `ExecuteSPGetUpdateSummariesForTargetGroup`: the counts set for the group, plus
    /// those of its descendants with `includeSubgroups` (the double's computers belong to
    /// one group each, so adding does not count a computer twice).
    pub(super) fn summaries_for_group(&self, params: &Element) -> Result<String, String> {
        let group = guid(params, "targetGroupId")?;
        let subgroups = parse_bool(text(params, "includeSubgroups"))
            .ok_or("System.ArgumentException: includeSubgroups is not a boolean")?;
        if !self.groups.iter().any(|g| g.id == group) {
            return Err(format!(
                "Microsoft.UpdateServices.Administration.WsusObjectNotFoundException: The target group {group} was not found."
            ));
        }
        let mut scope = vec![group.clone()];
        let mut next = 0;
        while subgroups && next < scope.len() {
            let parent = scope[next].clone();
            scope.extend(
                self.groups
                    .iter()
                    .filter(|g| g.parent.as_deref() == Some(&parent))
                    .map(|g| g.id.clone()),
            );
            next += 1;
        }
        Ok(self.summary_rows(&scope, Some(&group)))
    }

    /// One row per update and non-zero state: 0 UpdateId, 1 TargetGroupId, 2 ComputerId,
    /// 3 state, 4 count; updates in the order the server lists them.
    fn summary_rows(&self, groups: &[String], group_column: Option<&str>) -> String {
        let mut out = String::new();
        for u in &self.updates {
            let mut total = Counts::default();
            for g in groups {
                if let Some(c) = self.compliance.get(&(u.id.clone(), g.clone())) {
                    total.add(c);
                }
            }
            for (state, n) in total.by_state().into_iter().filter(|(_, n)| *n > 0) {
                out.push_str(&row(&[
                    Some(("string", u.id.to_uppercase())),
                    group_column.map(|g| ("guid", g.to_string())),
                    None,
                    Some(("int", state.to_string())),
                    Some(("int", n.to_string())),
                ]));
            }
        }
        out
    }
}

fn deployment_cells(a: &Approval) -> Vec<Cell<'static>> {
    vec![
        Some(("dateTime", DEPLOYED_AT.into())),
        Some(("boolean", "true".into())),
        Some(("int", a.action.to_string())),
        Some(("dateTime", DEPLOYED_AT.into())),
        Some(("dateTime", a.deadline.clone())),
        Some(("string", a.admin.clone())),
        Some(("string", a.deployment_id.clone())),
        Some(("boolean", a.assigned.to_string())),
        Some(("string", a.update_id.clone())),
        Some(("int", a.revision.to_string())),
        Some(("string", a.target_group.clone())),
    ]
}
