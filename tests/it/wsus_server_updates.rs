//! The WSUS test double's update operations (import for publishing, approvals and
//! declines, lookups, deletion, catalog-site import), manual synchronization and its
//! history, and targeted fault injection, driven through the crate's own client.

use crate::support::wsus as wsus_support;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use supctl::store::wsus::WsusError;
use supctl::store::wsus::history;
use supctl::store::wsus::records;
use supctl::store::wsus::soap::{Call, Element};
use supctl::store::wsus::transport::Transport;
use wsus_support::answers::ALL_COMPUTERS;
use wsus_support::calls::*;
use wsus_support::{Fault, State};

fn sdp(id: &str, title: &str, state: &str) -> String {
    format!(
        r#"<sdp:SoftwareDistributionPackage SchemaVersion="1.2" xmlns:sdp="http://schemas.microsoft.com/wsus/2005/04/CorporatePublishing/SoftwareDistributionPackage.xsd">
  <sdp:Properties CreationDate="2019-01-24T07:52:15Z" PackageID="{id}" VendorName="Example" PublicationState="{state}"><sdp:ProductName>Standalone</sdp:ProductName></sdp:Properties>
  <sdp:LocalizedProperties><sdp:Language>en</sdp:Language><sdp:Title>{title}</sdp:Title><sdp:Description>d</sdp:Description></sdp:LocalizedProperties>
  <sdp:UpdateSpecificData UpdateClassification="Updates" />
  <sdp:InstallableItem ID="44444444-0000-4000-8001-000000000004">
    <cmd:CommandLineInstallerData xmlns:cmd="http://schemas.microsoft.com/wsus/2005/04/CorporatePublishing/Installers/CommandLineInstallation.xsd" Program="x.exe" />
    <sdp:OriginFile Digest="{DIGEST}" FileName="x.exe" Modified="2019-01-24T07:52:15Z" Size="10" OriginUri="http://example.invalid/x.exe" />
  </sdp:InstallableItem>
</sdp:SoftwareDistributionPackage>"#
    )
}

fn import(sus_id: &str, usp: &str, digests: &[&str]) -> Call {
    let url_data = digests.iter().fold(el("a"), |a, d| {
        a.with_child(
            el("ServerSyncUrlData")
                .with_child(leaf("FileDigest", d))
                .with_child(leaf("MUUrl", ""))
                .with_child(leaf("UssUrl", "")),
        )
    });
    Call::new("ImportUpdateForPublishing")
        .arg(
            "susXml",
            format!(
                r#"<Update><UpdateIdentity UpdateID="{sus_id}" RevisionNumber="1" /></Update>"#
            ),
        )
        .arg("uspXml", usp)
        .arg_element("urlData", url_data)
        .arg("sdpOnly", false)
}

fn updates(t: &Transport) -> Vec<records::UpdateSummary> {
    let r = t
        .call(
            Call::new("ExecuteSPSearchUpdates")
                .arg("updateScopeXml", "<UpdateScope ApprovedStates=\"-1\" />")
                .arg("preferredCulture", "en")
                .arg("publicationState", 2147483647),
        )
        .unwrap();
    records::complete_updates("ExecuteSPSearchUpdates", &r).unwrap()
}

fn find(t: &Transport, id: &str) -> Option<records::UpdateSummary> {
    updates(t).into_iter().find(|u| u.id.as_str() == id)
}

#[test]
fn import_publishes_revises_and_expires() {
    let (server, t) = start(State::default());
    let v1 = sdp(&NEW_ID.to_uppercase(), "Tool 1.0", "Published");
    t.call(import(NEW_ID, &v1, &[DIGEST])).unwrap();
    let u = find(&t, NEW_ID).unwrap();
    assert_eq!(
        (u.revision, u.title.as_str(), u.expired, u.declined),
        (1, "Tool 1.0", false, false)
    );
    let stored = t
        .call(
            Call::new("ExecuteSPGetSdpXmlForUpdate")
                .arg("updateId", NEW_ID)
                .arg("revisionNumber", 1),
        )
        .unwrap();
    assert_eq!(records::sdp_xml(&stored).as_deref(), Some(v1.as_str()));
    // Identical: no new revision. Changed: revision 2. Expired: expired and declined.
    t.call(import(NEW_ID, &v1, &[DIGEST])).unwrap();
    assert_eq!(find(&t, NEW_ID).unwrap().revision, 1);
    t.call(import(
        NEW_ID,
        &sdp(NEW_ID, "Tool 1.0 (fixed)", "Published"),
        &[DIGEST],
    ))
    .unwrap();
    let u = find(&t, NEW_ID).unwrap();
    assert_eq!((u.revision, u.title.as_str()), (2, "Tool 1.0 (fixed)"));
    t.call(import(
        NEW_ID,
        &sdp(NEW_ID, "Tool 1.0 (fixed)", "Expired"),
        &[DIGEST],
    ))
    .unwrap();
    let u = find(&t, NEW_ID).unwrap();
    assert_eq!((u.revision, u.expired, u.declined), (3, true, true));
    assert_eq!(updates(&t).len(), 2, "one row per update");
    assert_eq!(server.writes().len(), 4);
    clean(&server);
    // Expired is final.
    let e = t
        .call(import(
            NEW_ID,
            &sdp(NEW_ID, "Tool 1.0", "Published"),
            &[DIGEST],
        ))
        .unwrap_err();
    assert_fault(&e, "expired");
}

#[test]
fn import_refusals_change_nothing() {
    let (server, t) = start(State::default());
    let v1 = sdp(NEW_ID, "Tool 1.0", "Published");
    let other_digest = B64.encode([7u8; 20]);
    let e = t.call(import(NEW_ID, &v1, &[&other_digest])).unwrap_err();
    assert_fault(&e, "x.exe");
    let e = t.call(import(CONTOSO, &v1, &[DIGEST])).unwrap_err();
    assert_fault(&e, "System.ArgumentException");
    let e = t.call(import(NEW_ID, "<not-xml", &[DIGEST])).unwrap_err();
    assert_fault(&e, "System.Xml.XmlException");
    let two = format!("<Catalog>{v1}{}</Catalog>", sdp(CONTOSO, "x", "Published"));
    let e = t.call(import(NEW_ID, &two, &[DIGEST])).unwrap_err();
    assert_fault(&e, "System.Xml.XmlException");
    server.state().role = 1;
    let e = t.call(import(NEW_ID, &v1, &[DIGEST])).unwrap_err();
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
    assert_eq!(server.state().updates.len(), 1);
    assert!(server.writes().is_empty());
    clean(&server);
}

// ---- Approvals, lookups, deletion ----

fn revision_id(id: &str, rev: u32) -> Element {
    el("a")
        .with_child(leaf("UpdateId", id))
        .with_child(leaf("RevisionNumber", &rev.to_string()))
}

fn deploy(id: &str, rev: u32, action: i32) -> Call {
    Call::new("ExecuteSPDeployUpdate1")
        .arg_element("updateId", revision_id(id, rev))
        .arg("deploymentAction", action)
        .arg("targetGroupId", ALL_COMPUTERS)
        .arg("deadline", "9999-12-31T23:59:59.997")
        .arg("adminName", "supctl")
        .arg("isAssigned", true)
}

#[test]
fn not_approved_on_all_computers_clears_a_decline() {
    let (server, t) = start(State::default());
    t.call(
        Call::new("ExecuteSPDeclineUpdate")
            .arg("updateId", CONTOSO)
            .arg("adminName", "supctl")
            .arg("failIfReplica", false),
    )
    .unwrap();
    assert!(find(&t, CONTOSO).unwrap().declined);
    let r = t.call(deploy(CONTOSO, 2, 2)).unwrap();
    let row = r.child("ExecuteSPDeployUpdate1Result").unwrap();
    assert_eq!(row.child("Values").unwrap().children.len(), 11);
    assert!(!find(&t, CONTOSO).unwrap().declined);
    t.call(deploy(CONTOSO, 2, 0)).unwrap();
    assert_eq!(server.state().approvals.len(), 1);
    clean(&server);
    let e = t.call(deploy(NEW_ID, 1, 2)).unwrap_err();
    assert_fault(&e, "not found");
    let e = t.call(deploy(CONTOSO, 3, 0)).unwrap_err();
    assert_fault(&e, "revision 3");
    assert_eq!(
        server.writes(),
        [
            "ExecuteSPDeclineUpdate",
            "ExecuteSPDeployUpdate1",
            "ExecuteSPDeployUpdate1"
        ]
    );
}

#[test]
fn get_update_by_id_answers_one_row_or_none() {
    let (server, t) = start(State::default());
    let get = |id: &str, rev| {
        let r = t
            .call(
                Call::new("ExecuteSPGetUpdateById")
                    .arg("preferredCulture", "en")
                    .arg_element("id", revision_id(id, rev)),
            )
            .unwrap();
        records::complete_updates("ExecuteSPGetUpdateById", &r).unwrap()
    };
    let one = get(CONTOSO, 2);
    assert_eq!(one.len(), 1);
    assert_eq!((one[0].revision, one[0].latest), (2, true));
    assert!(!get(CONTOSO, 1)[0].latest);
    assert!(get(NEW_ID, 1).is_empty());
    clean(&server);
}

#[test]
fn delete_update_removes_it_and_refuses_unknown_ids() {
    let (server, t) = start(State::default());
    let del = |id: &str| Call::new("ExecuteSPDeleteUpdateByUpdateID").arg("updateID", id);
    t.call(del(&CONTOSO.to_uppercase())).unwrap();
    assert!(updates(&t).is_empty());
    let e = t.call(del(CONTOSO)).unwrap_err();
    assert_fault(&e, "not found");
    assert_eq!(server.writes(), ["ExecuteSPDeleteUpdateByUpdateID"]);
    clean(&server);
}

#[test]
fn catalog_site_import_adds_a_synced_update_once() {
    let (server, t) = start(State::default());
    let id = server.state().catalog_site[0].0.clone();
    let call = |id: &str| {
        Call::new("CatalogSiteGetMetadataAndImport")
            .arg("updateId", id)
            .arg_element(
                "downloadedFileDigests",
                el("a").with_child(leaf("base64Binary", DIGEST)),
            )
    };
    t.call(call(&id)).unwrap();
    t.call(call(&id)).unwrap();
    let u = find(&t, &id).unwrap();
    assert_eq!(u.revision, 1);
    assert!(u.title.contains("KB5037771"));
    assert_eq!(updates(&t).len(), 2);
    let sdp = t
        .call(
            Call::new("ExecuteSPGetSdpXmlForUpdate")
                .arg("updateId", &id)
                .arg("revisionNumber", 1),
        )
        .unwrap();
    assert_eq!(records::sdp_xml(&sdp), None, "a synced update has no SDP");
    clean(&server);
    let e = t.call(call(NEW_ID)).unwrap_err();
    assert_fault(&e, "System.Net.WebException");
    assert_eq!(server.writes().len(), 2);
}

// ---- Synchronization and history ----

/// `history::sync_filter` with `updateFilter/UpdateID` spelled as the WSDL does.
fn filter() -> Element {
    let from = "2024-01-01T00:00:00Z".parse().unwrap();
    let to = "2024-12-31T00:00:00Z".parse().unwrap();
    let mut f = history::sync_filter(from, to);
    if let Some(u) = f
        .child_mut("updateFilter")
        .and_then(|u| u.child_mut("UpdateId"))
    {
        u.name = "UpdateID".into();
    }
    f
}

fn runs(t: &Transport) -> Vec<history::SyncRunRecord> {
    let r = t
        .call(Call::new("ExecuteSPSearchEventHistory").arg_element("eventHistoryFilter", filter()))
        .unwrap();
    history::runs(&history::events(&r).unwrap())
}

#[test]
fn manual_sync_succeeds_then_fails_and_history_tells() {
    let (server, t) = start(State::default());
    assert_eq!(runs(&t).len(), 1, "the default automatic run");
    t.call(Call::new("StartSubscriptionManually")).unwrap();
    server.state().next_sync_fails = Some("The proxy refused the connection".into());
    t.call(Call::new("StartSubscriptionManually")).unwrap();
    let r = runs(&t);
    assert_eq!(r.len(), 3);
    assert_eq!(r[0].outcome, history::SyncOutcome::Failed);
    assert!(
        r[0].message
            .as_deref()
            .unwrap()
            .contains("The proxy refused"),
        "{:?}",
        r[0].message
    );
    assert_eq!(r[1].outcome, history::SyncOutcome::Succeeded);
    assert!(r[0].started > r[1].started);
    let state = t.call(Call::new("GetSubscriptionState")).unwrap();
    assert_eq!(records::subscription_state(&state).unwrap(), 0);
    let s = subscription(&t);
    assert_eq!(s.last_synchronization, Some(r[0].ended));
    clean(&server);
}

#[test]
fn a_running_sync_refuses_another_and_filters_narrow_history() {
    let (server, t) = start(State::default());
    server.state().subscription_state = 1;
    let e = t.call(Call::new("StartSubscriptionManually")).unwrap_err();
    assert_fault(&e, "already in progress");
    assert_eq!(server.state().events.len(), 2);
    // A window that ends before the default run finds nothing.
    let mut f = filter();
    for n in ["toTimeAtServer", "ToTimeAtServer"] {
        f.child_mut(n).unwrap().text = "2024-05-02T01:00:00".into();
    }
    let r = t
        .call(Call::new("ExecuteSPSearchEventHistory").arg_element("eventHistoryFilter", f))
        .unwrap();
    assert!(history::events(&r).unwrap().is_empty());
    assert!(server.writes().is_empty());
    clean(&server);
    // `UpdateId` where the WSDL's `UpdateRevisionIdentifier` says `UpdateID` breaks the
    // contract (.NET would silently read an empty GUID).
    let mut bad = filter();
    bad.child_mut("updateFilter").unwrap().children[0].name = "UpdateId".into();
    t.call(Call::new("ExecuteSPSearchEventHistory").arg_element("eventHistoryFilter", bad))
        .unwrap_err();
    assert!(
        server.violations()[0].contains("UpdateId"),
        "{:?}",
        server.violations()
    );
}

// ---- Fault injection ----

#[test]
fn targeted_faults_hit_only_their_operation() {
    let (server, t) = start(State::default());
    server.inject_for("ExecuteSPDeclineUpdate", Fault::Html500);
    server.inject_for(
        "GetServerVersion",
        Fault::Soap("System.Data.SqlClient.SqlException: Timeout expired.".into()),
    );
    assert!(t.call(Call::new("GetCurrentUserRole")).is_ok());
    let decline = || {
        Call::new("ExecuteSPDeclineUpdate")
            .arg("updateId", CONTOSO)
            .arg("adminName", "supctl")
            .arg("failIfReplica", false)
    };
    let e = t.call(decline()).unwrap_err();
    assert!(matches!(e, WsusError::Http { status: 500, .. }), "{e:?}");
    assert!(!server.state().updates[0].declined);
    let e = t.call(Call::new("GetServerVersion")).unwrap_err();
    assert_fault(&e, "Timeout expired");
    t.call(decline()).unwrap();
    assert!(t.call(Call::new("GetServerVersion")).is_ok());
    let seen = server.seen();
    assert!(seen.iter().any(|s| s.write && !s.succeeded));
    assert_eq!(server.writes(), ["ExecuteSPDeclineUpdate"]);
    // An account that lost its rights: 401 with no challenge on an authenticated connection.
    server.inject_for("GetCurrentUserRole", Fault::Unauthorized);
    let e = t.call(Call::new("GetCurrentUserRole")).unwrap_err();
    assert!(
        matches!(e, WsusError::Unauthorized { .. } | WsusError::Ntlm { .. }),
        "{e:?}"
    );
    assert!(t.call(Call::new("GetCurrentUserRole")).is_ok());
    clean(&server);
}
