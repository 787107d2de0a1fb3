//! Recorded-shape answers (element names and nesting as the WSDL states them, values as a
//! Server 2022 WSUS sends them) parsed into typed records.

use super::*;
use crate::history::{self, SyncOutcome};
use crate::soap::decode;

fn answer(op: &str, inner: &str) -> Element {
    let body = format!(
        r#"<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:xsd="http://www.w3.org/2001/XMLSchema"><soap:Body><{op}Response xmlns="http://www.microsoft.com/SoftwareDistribution/Server/ApiRemotingWebService">{inner}</{op}Response></soap:Body></soap:Envelope>"#
    );
    decode(op, 200, "text/xml; charset=utf-8", &body).unwrap()
}

fn cells(values: &[Option<(&str, &str)>]) -> String {
    let mut s = String::from("<GenericReadableRow><Values>");
    for v in values {
        match v {
            Some((ty, text)) => {
                s.push_str(&format!(r#"<anyType xsi:type="xsd:{ty}">{text}</anyType>"#))
            }
            None => s.push_str(r#"<anyType xsi:nil="true" />"#),
        }
    }
    s + "</Values></GenericReadableRow>"
}

#[test]
fn scalars() {
    let r = answer(
        "GetServerVersion",
        "<GetServerVersionResult>10.0.20348.1</GetServerVersionResult>",
    );
    assert_eq!(server_version(&r).as_deref(), Some("10.0.20348.1"));
    let r = answer(
        "GetCurrentUserRole",
        "<GetCurrentUserRoleResult>2</GetCurrentUserRoleResult>",
    );
    assert_eq!(user_role(&r).unwrap(), 2);
    let r = answer("GetCurrentUserRole", "");
    assert!(
        user_role(&r)
            .unwrap_err()
            .to_string()
            .contains("GetCurrentUserRole")
    );
}

#[test]
fn configuration_keeps_the_whole_row_and_its_change_number() {
    let r = answer(
        "ExecuteSPGetConfiguration",
        r#"<ExecuteSPGetConfigurationResult><Configuration><maxDeltaSyncPeriod>30</maxDeltaSyncPeriod><configurationChangeNumber>4711</configurationChangeNumber><ServerId>6bfa4bd4-7c5a-4e0d-9b8f-1f2e3d4c5b6a</ServerId><SyncToMU>false</SyncToMU><UpstreamServerName>up.corp.example</UpstreamServerName><HostOnMu>false</HostOnMu><LocalContentCacheLocation>D:\WSUS</LocalContentCacheLocation><EncryptionKey xsi:nil="true" /><ReplicaMode>false</ReplicaMode><FutureField>kept</FutureField></Configuration><GroupAuthorization /><Authorization /></ExecuteSPGetConfigurationResult>"#,
    );
    let mut c = Configuration::from_response(&r).unwrap();
    assert_eq!(c.change_number, 4711);
    assert!(!c.sync_to_mu);
    assert_eq!(c.upstream_server.as_deref(), Some("up.corp.example"));
    assert_eq!(c.content_location.as_deref(), Some("D:\\WSUS"));
    assert_eq!(c.row.field("EncryptionKey"), None);
    c.row.set("op", "SyncToMU", "true").unwrap();
    assert_eq!(c.row.bool_field("SyncToMU"), Some(true));
    assert_eq!(c.row.field("FutureField"), Some("kept"));
    assert!(c.row.set("op", "NoSuchField", "1").is_err());
    assert!(
        c.row.0.child("EncryptionKey").unwrap().is_nil(),
        "untouched nil cells stay nil"
    );
}

#[test]
fn subscription_row_and_categories() {
    let r = answer(
        "GetSubscription",
        r#"<GetSubscriptionResult><synchronizeAutomaticallyTimeOfDay>7200</synchronizeAutomaticallyTimeOfDay><LastModifiedBy>CORP\admin</LastModifiedBy><LastModifiedTime>2024-05-01T08:00:00.123</LastModifiedTime><LastSynchronizationTime>2024-05-02T02:00:00</LastSynchronizationTime><SynchronizeAutomatically>true</SynchronizeAutomatically><Anchor /><DeploymentAnchor /><NumberOfSynchronizationsPerDay>1</NumberOfSynchronizationsPerDay><IsCategoryOnly>false</IsCategoryOnly></GetSubscriptionResult>"#,
    );
    let s = Subscription::from_response(&r).unwrap();
    assert!(s.synchronize_automatically);
    assert_eq!((s.time_of_day, s.per_day), (7200, 1));
    assert_eq!(s.last_modified, "2024-05-01T08:00:00.123");
    assert_eq!(
        s.last_synchronization.unwrap().to_rfc3339(),
        "2024-05-02T02:00:00+00:00"
    );

    let rows = cells(&[
        Some(("int", "5")),
        Some(("string", "6407468e-edc7-4ecd-8c32-521f64cee65e")),
        Some(("string", "Product")),
    ]);
    let r = answer(
        "GetSubscriptionCategories",
        &format!("<GetSubscriptionCategoriesResult>{rows}</GetSubscriptionCategoriesResult>"),
    );
    assert_eq!(
        subscription_categories(&r).unwrap()[0].as_str(),
        "6407468e-edc7-4ecd-8c32-521f64cee65e"
    );
}

#[test]
fn category_rows_by_column_map_with_extra_columns() {
    let row = cells(&[
        Some(("int", "17")),
        Some(("string", "E6CF1350-C01B-414D-A61F-263D14D133B4")),
        Some(("string", "UpdateClassification")),
        Some(("boolean", "false")),
        Some(("boolean", "false")),
        Some(("int", "0")),
        Some(("int", "1")),
        Some(("string", "Critical Updates")),
        None,
        None,
        Some(("dateTime", "2009-01-01T00:00:00")),
        Some(("string", "MicrosoftUpdate")),
        Some(("string", "extra trailing column")),
    ]);
    let r = answer(
        "ExecuteSPGetCategories",
        &format!("<ExecuteSPGetCategoriesResult>{row}</ExecuteSPGetCategoriesResult>"),
    );
    let c = categories(&r).unwrap();
    assert_eq!(c[0].local_id, 17);
    assert_eq!(c[0].id.as_str(), "e6cf1350-c01b-414d-a61f-263d14d133b4");
    assert_eq!(
        (c[0].kind.as_str(), c[0].title.as_str()),
        ("UpdateClassification", "Critical Updates")
    );
    assert_eq!(c[0].description, None);
}

#[test]
fn update_rows_from_complete_updates() {
    let mut v: Vec<Option<(&str, &str)>> = vec![None; 36];
    v[0] = Some(("string", "1f2e3d4c-0000-4000-8000-00000000abcd"));
    v[1] = Some(("int", "3"));
    v[2] = Some(("int", "20001"));
    v[3] = Some(("int", "901"));
    v[16] = Some(("int", "1"));
    v[17] = Some(("dateTime", "2023-11-02T10:00:00"));
    v[22] = Some(("boolean", "true"));
    v[24] = Some(("boolean", "true"));
    v[29] = Some(("string", "Contoso Tool 2.1"));
    v[30] = Some(("string", "Fixes things"));
    let inner = format!(
        "<ExecuteSPSearchUpdatesResult><minimalProperties>{}</minimalProperties><localizedCategoryTitleRows /><kbArticles /><bulletins /><infoUrls /></ExecuteSPSearchUpdatesResult>",
        cells(&v)
    );
    let r = answer("ExecuteSPSearchUpdates", &inner);
    let u = &complete_updates("ExecuteSPSearchUpdates", &r).unwrap()[0];
    assert_eq!((u.revision, u.revision_id, u.local_id), (3, 20001, 901));
    assert!(u.expired && u.declined && u.latest);
    assert_eq!(u.title, "Contoso Tool 2.1");
    v[1] = Some(("int", "-1"));
    let inner = format!(
        "<ExecuteSPSearchUpdatesResult><minimalProperties>{}</minimalProperties></ExecuteSPSearchUpdatesResult>",
        cells(&v)
    );
    let r = answer("ExecuteSPSearchUpdates", &inner);
    assert!(complete_updates("ExecuteSPSearchUpdates", &r).is_err());
}

#[test]
fn sdp_and_signing_certificate() {
    let r = answer(
        "ExecuteSPGetSdpXmlForUpdate",
        "<ExecuteSPGetSdpXmlForUpdateResult>&lt;SoftwareDistributionPackage/&gt;</ExecuteSPGetSdpXmlForUpdateResult>",
    );
    assert_eq!(
        sdp_xml(&r).as_deref(),
        Some("<SoftwareDistributionPackage/>")
    );
    assert_eq!(sdp_xml(&answer("ExecuteSPGetSdpXmlForUpdate", "")), None);
    let r = answer(
        "ExecuteGetSigningCertificate",
        "<ExecuteGetSigningCertificateResult>MIIB\nAA==</ExecuteGetSigningCertificateResult>",
    );
    assert_eq!(
        signing_certificate(&r).unwrap(),
        Some(vec![0x30, 0x82, 0x01, 0x00])
    );
    assert_eq!(
        signing_certificate(&answer("ExecuteGetSigningCertificate", "")).unwrap(),
        None
    );
    let r = answer(
        "ExecuteGetSigningCertificate",
        "<ExecuteGetSigningCertificateResult>!!</ExecuteGetSigningCertificateResult>",
    );
    assert!(signing_certificate(&r).is_err());
}

#[test]
fn sync_history_pairs_starts_with_ends() {
    let ev = |id: i32, at: &str, hr: i32, tpl: &str, rep: &[&str]| {
        let reps: String = rep
            .iter()
            .map(|r| format!("<string>{r}</string>"))
            .collect();
        format!(
            "<EventHistoryTableRow><EventInstanceId>00000000-0000-0000-0000-000000000000</EventInstanceId><EventId>{id}</EventId><NamespaceId>2</NamespaceId><SourceId>1</SourceId><TimeAtTarget>{at}</TimeAtTarget><TimeAtServer>{at}</TimeAtServer><StateId>0</StateId><SeverityId>1</SeverityId><Win32HResult>{hr}</Win32HResult><MessageTemplate>{tpl}</MessageTemplate><ComputerId /><AppName /><MiscData /><ReplacementStrings>{reps}</ReplacementStrings><UpdateId>00000000-0000-0000-0000-000000000000</UpdateId><RevisionNumber>0</RevisionNumber><DeviceId /></EventHistoryTableRow>"
        )
    };
    let rows = [
        ev(382, "2024-05-02T09:00:00", 0, "", &[]),
        ev(
            386,
            "2024-05-02T09:05:00",
            -2145107951,
            "Sync failed: %1",
            &["proxy refused"],
        ),
        ev(381, "2024-05-01T02:00:00", 0, "", &[]),
        ev(384, "2024-05-01T02:10:00", 0, "", &[]),
        ev(381, "2024-05-03T02:00:00", 0, "", &[]),
    ]
    .concat();
    let r = answer(
        "ExecuteSPSearchEventHistory",
        &format!("<ExecuteSPSearchEventHistoryResult>{rows}</ExecuteSPSearchEventHistoryResult>"),
    );
    let runs = history::runs(&history::events(&r).unwrap());
    assert_eq!(runs.len(), 2, "the running sync has no result yet");
    assert_eq!(runs[0].outcome, SyncOutcome::Failed);
    assert_eq!(
        runs[0].message.as_deref(),
        Some("Sync failed: proxy refused (HRESULT 0x80244011)")
    );
    assert_eq!(runs[0].started.to_rfc3339(), "2024-05-02T09:00:00+00:00");
    assert_eq!(runs[1].outcome, SyncOutcome::Succeeded);
}
