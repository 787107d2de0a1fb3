//! Helpers for tests that drive the test double through the crate's own client.

use std::time::Duration;

use supctl::store::wsus::WsusError;
use supctl::store::wsus::ntlm::Credentials;
use supctl::store::wsus::records;
use supctl::store::wsus::soap::{Call, Element, TNS, XSI};
use supctl::store::wsus::transport::{Endpoint, Transport};

use super::{State, WsusServer};

pub(crate) const PASSWORD: &str = "S3cret!pass";
pub(crate) const WINDOWS_11: &str = "6407468e-edc7-4ecd-8c32-521f64cee65e";
pub(crate) const CRITICAL: &str = "e6cf1350-c01b-414d-a61f-263d14d133b4";
pub(crate) const SECURITY: &str = "0fa1201d-4330-4fa8-8ae9-b877473b6441";
pub(crate) const CONTOSO: &str = "1f2e3d4c-0000-4000-8000-00000000abcd";
pub(crate) const NEW_ID: &str = "44444444-0000-4000-8000-000000000004";
pub(crate) const DIGEST: &str = "fVV2bJqxya6klq9Mr3LUmubCnAc=";

/// An endpoint for `CORP\\svc-supctl` with `password`: plain, 10 s per read, no proxy.
pub(crate) fn endpoint(url: String, password: &str) -> Endpoint {
    Endpoint {
        url,
        credentials: Some(Credentials {
            user: "svc-supctl".into(),
            domain: "CORP".into(),
            password: password.into(),
        }),
        timeout: Duration::from_secs(10),
        connect_timeout: Duration::from_secs(5),
        ca_certificates: Vec::new(),
        proxy: None,
    }
}

pub(crate) fn start(state: State) -> (WsusServer, Transport) {
    let server = WsusServer::start(state, Some(PASSWORD));
    let t = Transport::connect(endpoint(server.url(), PASSWORD)).unwrap();
    (server, t)
}

pub(crate) fn el(name: &str) -> Element {
    Element::new(Some(TNS), name)
}

pub(crate) fn leaf(name: &str, v: &str) -> Element {
    Element::leaf(Some(TNS), name, v)
}

pub(crate) fn guids(ids: &[&str]) -> Element {
    ids.iter()
        .fold(el("a"), |a, id| a.with_child(leaf("guid", id)))
}

pub(crate) fn strings(items: &[&str]) -> Element {
    items.iter().fold(el("a"), |a, s| {
        a.with_child(leaf("anyType", s).with_attr(Some(XSI), "type", "string"))
    })
}

pub(crate) fn assert_fault(e: &WsusError, needle: &str) {
    match e {
        WsusError::Fault { message, .. } => assert!(message.contains(needle), "{message}"),
        other => panic!("expected a SOAP fault with {needle}, got {other:?}"),
    }
}

pub(crate) fn clean(server: &WsusServer) {
    assert!(server.violations().is_empty(), "{:?}", server.violations());
}

/// The subscription row as the server holds it now.
pub(crate) fn subscription(t: &Transport) -> records::Subscription {
    records::Subscription::from_response(&t.call(Call::new("GetSubscription")).unwrap()).unwrap()
}
