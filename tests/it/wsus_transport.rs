//! The SOAP client, NTLM transport and record parsers against the WSUS test double.

use crate::support::wsus as wsus_support;

use std::time::Duration;

use supctl::store::wsus::WsusError;
use supctl::store::wsus::records;
use supctl::store::wsus::soap::Call;
use supctl::store::wsus::transport::{Endpoint, Transport};
use wsus_support::calls::endpoint;
use wsus_support::{Fault, State, WsusServer};

const PASSWORD: &str = "S3cret!pass";

fn connect(server: &WsusServer, password: &str, timeout: Duration) -> Transport {
    Transport::connect(Endpoint {
        timeout,
        ..endpoint(server.url(), password)
    })
    .unwrap()
}

#[test]
fn ntlm_handshake_authenticates_the_connection_once() {
    let server = WsusServer::start(State::default(), Some(PASSWORD));
    let t = connect(&server, PASSWORD, Duration::from_secs(10));
    let v = t.call(Call::new("GetServerVersion")).unwrap();
    assert_eq!(records::server_version(&v).as_deref(), Some("10.0.20348.1"));
    let r = t.call(Call::new("GetCurrentUserRole")).unwrap();
    assert_eq!(records::user_role(&r).unwrap(), 2);
    let seen = server.seen();
    assert_eq!(seen.len(), 2);
    assert!(
        seen.iter()
            .all(|s| s.authenticated_as.as_deref() == Some("CORP\\svc-supctl"))
    );
    assert_eq!(
        seen[0].connection, seen[1].connection,
        "the second call reuses the authenticated connection"
    );
    assert!(server.violations().is_empty(), "{:?}", server.violations());
}

#[test]
fn wrong_password_is_a_typed_401() {
    let server = WsusServer::start(State::default(), Some(PASSWORD));
    let t = connect(&server, "wrong", Duration::from_secs(10));
    let e = t.call(Call::new("GetServerVersion")).unwrap_err();
    match &e {
        WsusError::Unauthorized { operation, excerpt } => {
            assert_eq!(operation, "GetServerVersion");
            assert!(excerpt.contains("401 - Unauthorized"), "{excerpt}");
        }
        other => panic!("{other:?}"),
    }
    assert!(
        !e.to_string().contains("wrong"),
        "the password never appears in errors"
    );
    assert!(server.seen().is_empty());
}

#[test]
fn injected_faults_become_typed_errors() {
    let server = WsusServer::start(State::default(), Some(PASSWORD));
    let t = connect(&server, PASSWORD, Duration::from_millis(700));
    server.inject(Fault::Forbidden);
    let e = t.call(Call::new("GetServerVersion")).unwrap_err();
    assert!(
        matches!(&e, WsusError::Forbidden { excerpt, .. } if excerpt.contains("403")),
        "{e:?}"
    );
    server.inject(Fault::Html500);
    let e = t.call(Call::new("GetCurrentUserRole")).unwrap_err();
    assert!(
        matches!(&e, WsusError::Http { operation, status: 500, html: true, excerpt } if operation == "GetCurrentUserRole" && excerpt == "Runtime Error"),
        "{e:?}"
    );
    server.inject(Fault::Soap(
        "System.UnauthorizedAccessException: Access is denied.".into(),
    ));
    let e = t.call(Call::new("GetSubscription")).unwrap_err();
    assert!(
        matches!(
            &e,
            WsusError::Fault {
                access_denied: true,
                ..
            }
        ),
        "{e:?}"
    );
    server.inject(Fault::Slow(Duration::from_secs(3)));
    let e = t.call(Call::new("GetServerVersion")).unwrap_err();
    assert!(
        matches!(&e, WsusError::Transport { detail, .. } if detail.contains("timed out")),
        "{e:?}"
    );
    // After the timeout a fresh connection authenticates again and works.
    let v = t.call(Call::new("GetServerVersion")).unwrap();
    assert!(records::server_version(&v).is_some());
    assert!(server.violations().is_empty(), "{:?}", server.violations());
}

#[test]
fn typed_records_over_the_wire() {
    let server = WsusServer::start(State::default(), Some(PASSWORD));
    let t = connect(&server, PASSWORD, Duration::from_secs(10));
    let c = records::Configuration::from_response(
        &t.call(Call::new("ExecuteSPGetConfiguration")).unwrap(),
    )
    .unwrap();
    assert_eq!(c.change_number, 100);
    assert_eq!(c.content_location.as_deref(), Some("D:\\WSUS"));
    let s = records::Subscription::from_response(&t.call(Call::new("GetSubscription")).unwrap())
        .unwrap();
    assert_eq!((s.time_of_day, s.per_day), (7200, 1));
    let products = t
        .call(
            Call::new("GetSubscriptionCategories")
                .arg("preferredCulture", "en")
                .arg("retrieveUpdateClassifications", false),
        )
        .unwrap();
    let products = records::subscription_categories(&products).unwrap();
    assert_eq!(products.len(), 1);
    let all = t
        .call(
            Call::new("ExecuteSPGetCategories")
                .arg("preferredCulture", "en")
                .arg("retrieveUpdateClassifications", true)
                .arg("fromSyncDate", "0001-01-01T00:00:00")
                .arg("toSyncDate", "9999-12-31T23:59:59"),
        )
        .unwrap();
    let titles: Vec<_> = records::categories(&all)
        .unwrap()
        .into_iter()
        .map(|c| c.title)
        .collect();
    assert_eq!(titles, ["Critical Updates", "Security Updates"]);
    let updates = t
        .call(
            Call::new("ExecuteSPSearchUpdates")
                .arg("updateScopeXml", "<UpdateScope ApprovedStates=\"-1\" />")
                .arg("preferredCulture", "en")
                .arg("publicationState", 2147483647),
        )
        .unwrap();
    let u = &records::complete_updates("ExecuteSPSearchUpdates", &updates).unwrap()[0];
    assert_eq!(
        (u.revision, u.title.as_str(), u.declined),
        (2, "Contoso Tool 2.1", false)
    );
    let sdp = t
        .call(
            Call::new("ExecuteSPGetSdpXmlForUpdate")
                .arg("updateId", u.id)
                .arg("revisionNumber", u.revision),
        )
        .unwrap();
    assert!(
        records::sdp_xml(&sdp)
            .unwrap()
            .starts_with("<SoftwareDistributionPackage")
    );
    let cert = t.call(Call::new("ExecuteGetSigningCertificate")).unwrap();
    assert_eq!(records::signing_certificate(&cert).unwrap(), None);
    t.call(
        Call::new("ExecuteSPDeclineUpdate")
            .arg("updateId", u.id)
            .arg("adminName", "supctl")
            .arg("failIfReplica", true),
    )
    .unwrap();
    assert!(server.shared.state.lock().unwrap().updates[0].declined);
    assert!(server.violations().is_empty(), "{:?}", server.violations());
}

#[test]
fn the_server_rejects_requests_that_break_the_wsdl() {
    let server = WsusServer::start(State::default(), None);
    let t = Transport::connect(Endpoint {
        url: server.url(),
        credentials: None,
        timeout: Duration::from_secs(10),
        connect_timeout: Duration::from_secs(5),
        ca_certificates: Vec::new(),
        proxy: None,
    })
    .unwrap();
    // Wrong parameter casing (`computerId` vs `ComputerId` bit real clients).
    let e = t
        .call(
            Call::new("ExecuteSPDeclineUpdate")
                .arg("UpdateId", "x")
                .arg("adminName", "a")
                .arg("failIfReplica", false),
        )
        .unwrap_err();
    assert!(matches!(e, WsusError::Fault { .. }), "{e:?}");
    assert_eq!(server.violations().len(), 1, "{:?}", server.violations());
}
