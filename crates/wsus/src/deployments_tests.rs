//! Recorded-shape answers (element names from the WSDL, cells as the column maps say)
//! decoded into groups, deployments and compliance counts.

use super::*;
use crate::soap::decode;

fn answer(op: &str, inner: &str) -> Element {
    let body = format!(
        r#"<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:xsd="http://www.w3.org/2001/XMLSchema"><soap:Body><{op}Response xmlns="http://www.microsoft.com/SoftwareDistribution/Server/ApiRemotingWebService">{inner}</{op}Response></soap:Body></soap:Envelope>"#
    );
    decode(op, 200, "text/xml; charset=utf-8", &body).unwrap()
}

fn values(cells: &[Option<(&str, &str)>]) -> String {
    let mut s = String::from("<Values>");
    for v in cells {
        match v {
            Some((ty, text)) => {
                s.push_str(&format!(r#"<anyType xsi:type="xsd:{ty}">{text}</anyType>"#))
            }
            None => s.push_str(r#"<anyType xsi:nil="true" />"#),
        }
    }
    s + "</Values>"
}

fn rows(op: &str, rows: &[Vec<Option<(&str, &str)>>]) -> Element {
    let inner: String = rows
        .iter()
        .map(|r| format!("<GenericReadableRow>{}</GenericReadableRow>", values(r)))
        .collect();
    answer(op, &format!("<{op}Result>{inner}</{op}Result>"))
}

const UPDATE: &str = "1f2e3d4c-0000-4000-8000-00000000abcd";
const OTHER: &str = "44444444-0000-4000-8000-000000000004";
const RING1: &str = "5d1c0c3e-7a7b-4f4c-9a51-2b7e6f0a0001";

fn group(
    kind: &str,
    name: &str,
    id: &str,
    parent: Option<&str>,
) -> Vec<Option<(&'static str, String)>> {
    vec![
        Some(("string", kind.to_string())),
        Some(("string", name.to_string())),
        Some(("string", id.to_string())),
        Some(("int", "0".to_string())),
        Some(("int", "1".to_string())),
        parent.map(|p| ("string", p.to_string())),
    ]
}

fn borrow<'a>(r: &'a [Option<(&'static str, String)>]) -> Vec<Option<(&'a str, &'a str)>> {
    r.iter()
        .map(|c| c.as_ref().map(|(t, v)| (*t, v.as_str())))
        .collect()
}

#[test]
fn group_rows_keep_computer_groups_with_their_parents() {
    let all = crate::client::ALL_COMPUTERS;
    let g = [
        group("Computers", "All Computers", &all.to_uppercase(), None),
        group("Computers", "Unassigned Computers", UNASSIGNED, Some(all)),
        group(
            "Downstream Servers",
            "Downstream Servers",
            "d374f42a-9be2-4163-a0fa-3c86a401b7a7",
            Some(all),
        ),
        group(
            "Computers",
            "Ring 1",
            &format!("{{{}}}", RING1.to_uppercase()),
            Some(all),
        ),
    ];
    let r = rows(
        "ExecuteSPGetAllTargetGroups",
        &g.iter().map(|r| borrow(r)).collect::<Vec<_>>(),
    );
    let groups = target_groups(&r).unwrap();
    assert_eq!(
        groups,
        [
            TargetGroup {
                id: all.into(),
                name: "All Computers".into(),
                parent: None
            },
            TargetGroup {
                id: UNASSIGNED.into(),
                name: "Unassigned Computers".into(),
                parent: Some(all.into())
            },
            TargetGroup {
                id: RING1.into(),
                name: "Ring 1".into(),
                parent: Some(all.into())
            },
        ]
    );
    // A computer group without a GUID is an error naming the operation and the column.
    let bad = group("Computers", "Broken", "not-a-guid", None);
    let e = target_groups(&rows("ExecuteSPGetAllTargetGroups", &[borrow(&bad)]))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("ExecuteSPGetAllTargetGroups") && e.contains("column 2"),
        "{e}"
    );
}

#[test]
fn the_created_group_id_comes_from_its_row() {
    let g = group(
        "Computers",
        "Ring 1",
        &RING1.to_uppercase(),
        Some(crate::client::ALL_COMPUTERS),
    );
    let r = answer(
        "ExecuteSPCreateTargetGroup1",
        &format!(
            "<ExecuteSPCreateTargetGroup1Result>{}</ExecuteSPCreateTargetGroup1Result>",
            values(&borrow(&g))
        ),
    );
    assert_eq!(created_target_group(&r).unwrap(), RING1);
    let e = created_target_group(&answer("ExecuteSPCreateTargetGroup1", ""))
        .unwrap_err()
        .to_string();
    assert!(e.contains("ExecuteSPCreateTargetGroup1"), "{e}");
}

fn deployment<'a>(
    action: &'a str,
    deadline: Option<&'a str>,
    id: &'a str,
    update: &'a str,
    group: &'a str,
) -> Vec<Option<(&'a str, &'a str)>> {
    vec![
        Some(("dateTime", "2024-05-03T12:00:00.123")),
        Some(("boolean", "true")),
        Some(("int", action)),
        Some(("dateTime", "2024-05-03T12:00:00")),
        deadline.map(|d| ("dateTime", d)),
        Some(("string", "CORP\\svc-supctl")),
        Some(("string", id)),
        Some(("boolean", "true")),
        Some(("string", update)),
        Some(("int", "2")),
        Some(("string", group)),
        Some(("string", "undocumented trailing column")),
    ]
}

#[test]
fn deployment_rows_by_column_map_with_nil_and_sentinel_deadlines() {
    let r = rows(
        "ExecuteSPGetDeployments",
        &[
            deployment(
                "0",
                Some("2024-05-10T08:30:00"),
                "D0000000-0000-4000-8000-000000000001",
                &UPDATE.to_uppercase(),
                RING1,
            ),
            deployment(
                "1",
                None,
                "d0000000-0000-4000-8000-000000000002",
                OTHER,
                RING1,
            ),
            deployment(
                "3",
                Some("9999-12-31T23:59:59.997"),
                "d0000000-0000-4000-8000-000000000003",
                OTHER,
                crate::client::ALL_COMPUTERS,
            ),
        ],
    );
    let d = deployments(&r).unwrap();
    assert_eq!(d.len(), 3);
    assert_eq!(d[0].id, "d0000000-0000-4000-8000-000000000001");
    assert_eq!(d[0].update.as_str(), UPDATE);
    assert_eq!(d[0].revision, 2);
    assert_eq!(d[0].action, DeployAction::Install);
    assert_eq!(d[0].target_group, RING1);
    assert_eq!(
        d[0].deadline.map(|d| d.to_rfc3339()).as_deref(),
        Some("2024-05-10T08:30:00+00:00")
    );
    assert_eq!(
        d[0].deployed.map(|d| d.to_rfc3339()).as_deref(),
        Some("2024-05-03T12:00:00.123+00:00")
    );
    assert_eq!(d[0].admin, "CORP\\svc-supctl");
    assert_eq!(
        (d[1].action, d[1].deadline),
        (DeployAction::Uninstall, None)
    );
    assert_eq!((d[2].action, d[2].deadline), (DeployAction::Block, None));
    assert!(d[0].action.is_approval() && d[1].action.is_approval());
    assert!(!d[2].action.is_approval());

    // A row without its update id fails naming the operation and the column.
    let mut broken = deployment(
        "0",
        None,
        "d0000000-0000-4000-8000-000000000004",
        OTHER,
        RING1,
    );
    broken[8] = None;
    let e = deployments(&rows("ExecuteSPGetDeployments", &[broken]))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("ExecuteSPGetDeployments") && e.contains("column 8") && e.contains("nil"),
        "{e}"
    );
    assert!(
        deployments(&answer("ExecuteSPGetDeployments", ""))
            .unwrap()
            .is_empty()
    );
}

#[test]
fn deploy_actions_round_trip_the_wire_numbers() {
    for n in [0, 1, 2, 3, 5, 2147483647] {
        assert_eq!(DeployAction::from_wire(n).wire(), n);
    }
    assert_eq!(DeployAction::from_wire(2), DeployAction::NotApproved);
    assert_eq!(DeployAction::from_wire(5), DeployAction::Other(5));
}

fn summary<'a>(update: &'a str, state: &'a str, count: &'a str) -> Vec<Option<(&'a str, &'a str)>> {
    vec![
        Some(("string", update)),
        None,
        None,
        Some(("int", state)),
        Some(("int", count)),
    ]
}

#[test]
fn summary_rows_fold_into_counts_per_update() {
    let op = "ExecuteSPGetSummariesPerUpdate";
    let r = rows(
        op,
        &[
            summary(UPDATE, "0", "1"),
            summary(UPDATE, "1", "2"),
            summary(UPDATE, "2", "3"),
            summary(UPDATE, "3", "4"),
            summary(UPDATE, "4", "5"),
            summary(UPDATE, "5", "6"),
            summary(UPDATE, "6", "7"),
            summary(&OTHER.to_uppercase(), "4", "9"),
        ],
    );
    let c = compliance(op, &r).unwrap();
    assert_eq!(
        c,
        [
            UpdateCompliance {
                update: UpdateId::parse(UPDATE).unwrap(),
                needed: 3 + 4 + 7,
                installed: 5,
                failed: 6,
                not_applicable: 2,
                unknown: 1,
            },
            UpdateCompliance {
                update: UpdateId::parse(OTHER).unwrap(),
                needed: 0,
                installed: 9,
                failed: 0,
                not_applicable: 0,
                unknown: 0,
            },
        ]
    );
    let e = compliance(op, &rows(op, &[summary(UPDATE, "9", "1")]))
        .unwrap_err()
        .to_string();
    assert!(e.contains(op) && e.contains("state 9"), "{e}");
    let e = compliance(op, &rows(op, &[summary(UPDATE, "4", "-1")]))
        .unwrap_err()
        .to_string();
    assert!(e.contains(op) && e.contains("count -1"), "{e}");
}
