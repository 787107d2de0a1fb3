//! Approvals as code on WSUS, client side: the crate's typed client creates and lists
//! computer target groups, approves updates to them with and without deadlines, reads the
//! approvals back, removes one and reads compliance counts, against the WSDL-checked test
//! double. Every request is valid (no contract violation), every refusal is a SOAP fault
//! naming its operation and leaves the double's state as it was.

use chrono::{TimeZone, Utc};

use crate::support::wsus as wsus_support;

use supctl::ids::UpdateId;
use supctl::store::wsus::WsusError;
use supctl::store::wsus::client::{
    ALL_COMPUTERS, Client, DeployAction, UNASSIGNED, UpdateCompliance,
};
use supctl::store::wsus::soap::Call;
use wsus_support::calls::*;
use wsus_support::{Counts, State, WsusServer};

const ADMIN: &str = "CORP\\svc-supctl";

fn client(state: State) -> (WsusServer, Client) {
    let (server, t) = start(state);
    (server, Client::new(t, ADMIN.into()))
}

fn contoso() -> UpdateId {
    UpdateId::parse(CONTOSO).unwrap()
}

/// The default state with the pre-existing Contoso update's package declaring
/// `UninstallProperties`, so that it can be approved for uninstall.
fn uninstallable() -> State {
    let mut s = State::default();
    let u = s.updates.iter_mut().find(|u| u.id == CONTOSO).unwrap();
    u.sdp = Some(format!(
        "<SoftwareDistributionPackage PackageID=\"{CONTOSO}\"><InstallableItem><UninstallProperties /></InstallableItem></SoftwareDistributionPackage>"
    ));
    s
}

fn fault_of(e: &WsusError) -> (&str, &str) {
    match e {
        WsusError::Fault {
            operation, message, ..
        } => (operation.as_str(), message.as_str()),
        other => panic!("expected a SOAP fault, got {other:?}"),
    }
}

#[test]
fn groups_are_listed_created_under_a_parent_and_refused_twice() {
    let (server, c) = client(State::default());
    let builtin = c.target_groups().unwrap();
    assert_eq!(
        builtin
            .iter()
            .map(|g| (g.id.as_str(), g.name.as_str(), g.parent.as_deref()))
            .collect::<Vec<_>>(),
        [
            (ALL_COMPUTERS, "All Computers", None),
            (UNASSIGNED, "Unassigned Computers", Some(ALL_COMPUTERS)),
        ],
        "Downstream Servers is not a computer group"
    );
    let ring1 = c.create_target_group("Ring 1", None).unwrap();
    let pilot = c.create_target_group("Pilot", Some(&ring1)).unwrap();
    assert_ne!(ring1, pilot);
    let groups = c.target_groups().unwrap();
    let find = |id: &str| groups.iter().find(|g| g.id == id).unwrap();
    assert_eq!(find(&ring1).name, "Ring 1");
    assert_eq!(find(&ring1).parent.as_deref(), Some(ALL_COMPUTERS));
    assert_eq!(find(&pilot).parent.as_deref(), Some(ring1.as_str()));

    // The same name under the same parent is refused; under another parent it is fine.
    let e = c.create_target_group("ring 1", None).unwrap_err();
    let (op, msg) = fault_of(&e);
    assert_eq!(op, "ExecuteSPCreateTargetGroup1");
    assert!(msg.contains("already exists"), "{msg}");
    c.create_target_group("Ring 1", Some(&ring1)).unwrap();
    // An unknown parent is refused too.
    let e = c
        .create_target_group("Orphans", Some("5d1c0c3e-7a7b-4f4c-9a51-2b7e6f0a0009"))
        .unwrap_err();
    assert!(fault_of(&e).1.contains("was not found"), "{e}");
    assert_eq!(c.target_groups().unwrap().len(), 5);
    assert_eq!(
        server.writes(),
        ["ExecuteSPCreateTargetGroup1"; 3],
        "refusals are not writes"
    );
    clean(&server);
}

#[test]
fn approvals_round_trip_with_deadlines_and_are_deleted_by_id() {
    let (server, c) = client(uninstallable());
    let ring1 = c.create_target_group("Ring 1", None).unwrap();
    let deadline = Utc.with_ymd_and_hms(2024, 5, 10, 8, 30, 0).unwrap();
    c.deploy(&contoso(), 2, DeployAction::Install, &ring1, Some(deadline))
        .unwrap();
    c.deploy(&contoso(), 2, DeployAction::Uninstall, UNASSIGNED, None)
        .unwrap();
    let mut d = c.deployments().unwrap();
    assert_eq!(d.len(), 2);
    d.sort_by_key(|d| d.action.wire());
    let (install, uninstall) = (&d[0], &d[1]);
    assert_eq!(install.update, contoso());
    assert_eq!(install.revision, 2);
    assert_eq!(install.action, DeployAction::Install);
    assert_eq!(install.target_group, ring1);
    assert_eq!(install.deadline, Some(deadline));
    assert_eq!(install.admin, ADMIN);
    assert!(install.deployed.is_some());
    assert_eq!(uninstall.action, DeployAction::Uninstall);
    assert_eq!(uninstall.target_group, UNASSIGNED);
    assert_eq!(uninstall.deadline, None, "no deadline round-trips as none");
    assert_ne!(install.id, uninstall.id);
    // The double kept what the client sent: approvals are assigned, times zone-less UTC.
    {
        let s = server.state();
        let a = s
            .approvals
            .iter()
            .find(|a| a.target_group == ring1)
            .unwrap();
        assert!(a.assigned);
        assert_eq!(a.deadline, "2024-05-10T08:30:00.000");
    }

    // A new action for the same update and group replaces the approval.
    c.deploy(&contoso(), 2, DeployAction::Install, &ring1, None)
        .unwrap();
    let d = c.deployments().unwrap();
    assert_eq!(d.len(), 2);
    let replaced = d.iter().find(|d| d.target_group == ring1).unwrap();
    assert_eq!(replaced.deadline, None);
    assert_ne!(&replaced.id, &install.id);

    c.delete_deployment(&replaced.id).unwrap();
    let left = c.deployments().unwrap();
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].target_group, UNASSIGNED);
    let e = c.delete_deployment(&replaced.id).unwrap_err();
    let (op, msg) = fault_of(&e);
    assert_eq!(op, "ExecuteSPDeleteDeployment");
    assert!(msg.contains("was not found"), "{msg}");
    assert_eq!(
        server.writes(),
        [
            "ExecuteSPCreateTargetGroup1",
            "ExecuteSPDeployUpdate1",
            "ExecuteSPDeployUpdate1",
            "ExecuteSPDeployUpdate1",
            "ExecuteSPDeleteDeployment",
        ]
    );
    clean(&server);
}

#[test]
fn approvals_to_unknown_groups_or_revisions_are_refused_and_change_nothing() {
    let (server, c) = client(State::default());
    let nowhere = "5d1c0c3e-7a7b-4f4c-9a51-2b7e6f0a0009";
    let e = c
        .deploy(&contoso(), 2, DeployAction::Install, nowhere, None)
        .unwrap_err();
    let (op, msg) = fault_of(&e);
    assert_eq!(op, "ExecuteSPDeployUpdate1");
    assert!(
        msg.contains("target group") && msg.contains(nowhere),
        "{msg}"
    );
    let e = c
        .deploy(&contoso(), 3, DeployAction::Install, ALL_COMPUTERS, None)
        .unwrap_err();
    assert!(fault_of(&e).1.contains("revision 3"), "{e}");
    // Its package declares no `UninstallProperties`: WSUS cannot uninstall it.
    let e = c
        .deploy(&contoso(), 2, DeployAction::Uninstall, ALL_COMPUTERS, None)
        .unwrap_err();
    assert!(
        fault_of(&e).1.contains("does not support uninstallation"),
        "{e}"
    );
    assert!(c.deployments().unwrap().is_empty());
    assert!(server.writes().is_empty());
    clean(&server);
}

#[test]
fn decline_and_undecline_on_all_computers_are_not_deployments() {
    let (server, c) = client(State::default());
    c.deploy(&contoso(), 2, DeployAction::Install, ALL_COMPUTERS, None)
        .unwrap();
    assert_eq!(c.deployments().unwrap().len(), 1);
    // A decline removes the update's approvals; clearing it leaves none behind.
    c.decline(&contoso()).unwrap();
    assert!(server.state().updates[0].declined);
    assert!(c.deployments().unwrap().is_empty());
    c.undecline(&contoso(), 2).unwrap();
    assert!(!server.state().updates[0].declined);
    assert!(c.deployments().unwrap().is_empty());
    // Block on All Computers is the wire's decline.
    c.deploy(&contoso(), 2, DeployAction::Block, ALL_COMPUTERS, None)
        .unwrap();
    assert!(server.state().updates[0].declined);
    clean(&server);
}

#[test]
fn compliance_counts_come_per_update_for_the_server_or_a_group() {
    let mut state = State::default();
    let ring1 = "e0000000-0000-4000-8000-000000000001"; // the first id the double makes
    let set = |s: &mut State, group: &str, c: Counts| {
        s.compliance.insert((CONTOSO.into(), group.into()), c);
    };
    set(
        &mut state,
        ALL_COMPUTERS,
        Counts {
            unknown: 1,
            not_applicable: 2,
            not_installed: 3,
            downloaded: 1,
            installed: 10,
            failed: 2,
            pending_reboot: 1,
        },
    );
    set(
        &mut state,
        ring1,
        Counts {
            installed: 4,
            failed: 1,
            ..Counts::default()
        },
    );
    let (server, c) = client(state);
    assert_eq!(c.create_target_group("Ring 1", None).unwrap(), ring1);
    assert_eq!(
        c.compliance(None).unwrap(),
        [UpdateCompliance {
            update: contoso(),
            needed: 3 + 1 + 1,
            installed: 10,
            failed: 2,
            not_applicable: 2,
            unknown: 1,
        }]
    );
    let ring = UpdateCompliance {
        update: contoso(),
        needed: 0,
        installed: 4,
        failed: 1,
        not_applicable: 0,
        unknown: 0,
    };
    assert_eq!(c.compliance(Some(ring1)).unwrap(), [ring]);
    // Subgroups count into their parent.
    let pilot = c.create_target_group("Pilot", Some(ring1)).unwrap();
    server.state().compliance.insert(
        (CONTOSO.into(), pilot.clone()),
        Counts {
            installed: 2,
            ..Counts::default()
        },
    );
    assert_eq!(c.compliance(Some(ring1)).unwrap()[0].installed, 6);
    // Nothing set for a group: no rows, which callers read as nothing reported.
    assert!(c.compliance(Some(UNASSIGNED)).unwrap().is_empty());
    let e = c
        .compliance(Some("5d1c0c3e-7a7b-4f4c-9a51-2b7e6f0a0009"))
        .unwrap_err();
    assert_eq!(fault_of(&e).0, "ExecuteSPGetUpdateSummariesForTargetGroup");
    clean(&server);
}

#[test]
fn approval_writes_need_the_administrator_role() {
    let (server, c) = client(State {
        role: 1,
        ..State::default()
    });
    assert_eq!(c.target_groups().unwrap().len(), 2, "reading is allowed");
    for e in [
        c.create_target_group("Ring 1", None).unwrap_err(),
        c.deploy(&contoso(), 2, DeployAction::Install, ALL_COMPUTERS, None)
            .unwrap_err(),
        c.delete_deployment("d0000000-0000-4000-8000-000000000001")
            .unwrap_err(),
    ] {
        assert!(
            matches!(
                e,
                WsusError::Fault {
                    access_denied: true,
                    ..
                }
            ),
            "{e:?}"
        );
    }
    assert!(server.writes().is_empty());
    assert_eq!(server.state().groups.len(), 3);
    clean(&server);
}

#[test]
fn the_double_holds_approval_requests_to_the_wsdl() {
    let (server, t) = start(State::default());
    // Parameters out of WSDL order: refused and recorded as a contract violation.
    let e = t
        .call(
            Call::new("ExecuteSPCreateTargetGroup1")
                .arg("parentGroupId", ALL_COMPUTERS)
                .arg("name", "Ring 1"),
        )
        .unwrap_err();
    assert!(e.to_string().contains("ExecuteSPCreateTargetGroup1"), "{e}");
    let v = server.violations();
    assert_eq!(v.len(), 1, "{v:?}");
    assert!(v[0].contains("parentGroupId"), "{v:?}");
    // A deadline that is no xsd:dateTime and a group id that is no GUID are faults, as
    // .NET's XML serializer gives them.
    let deploy = |deadline: &str, group: &str| {
        Call::new("ExecuteSPDeployUpdate1")
            .arg_element(
                "updateId",
                el("a")
                    .with_child(leaf("UpdateId", CONTOSO))
                    .with_child(leaf("RevisionNumber", "2")),
            )
            .arg("deploymentAction", 0)
            .arg("targetGroupId", group)
            .arg("deadline", deadline)
            .arg("adminName", ADMIN)
            .arg("isAssigned", true)
    };
    assert_fault(
        &t.call(deploy("next tuesday", ALL_COMPUTERS)).unwrap_err(),
        "deadline",
    );
    assert_fault(
        &t.call(deploy("2024-05-10T08:30:00", "Ring 1")).unwrap_err(),
        "is not a GUID",
    );
    t.call(deploy("2024-05-10T08:30:00Z", ALL_COMPUTERS))
        .unwrap();
    assert_eq!(server.writes(), ["ExecuteSPDeployUpdate1"]);
    assert_eq!(server.violations().len(), 1);
}
