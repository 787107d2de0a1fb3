//! The WSUS transport over HTTPS: trust roots from `[http] ca_certificates`, a CONNECT
//! proxy for https:// endpoints only, and Extended Protection (NTLM channel binding).

use crate::support;
use crate::support::wsus as wsus_support;

use supctl::store::wsus::WsusError;
use supctl::store::wsus::ntlm::{Credentials, authenticate, negotiate, tls_channel_binding};
use supctl::store::wsus::records;
use supctl::store::wsus::soap::Call;
use supctl::store::wsus::transport::{Endpoint, ProxySetting, Transport};
use support::{TestCa, TestProxy};
use wsus_support::{State, WsusServer, calls, check_authenticate};

const PASSWORD: &str = "Tls-Pass-1";

fn endpoint(url: String, ca: Option<&TestCa>, proxy: Option<ProxySetting>) -> Endpoint {
    Endpoint {
        ca_certificates: ca.map(TestCa::pem_path).into_iter().collect(),
        proxy,
        ..calls::endpoint(url, PASSWORD)
    }
}

fn proxy(p: &TestProxy, no_proxy: Option<&str>) -> Option<ProxySetting> {
    Some(ProxySetting {
        url: p.url(),
        no_proxy: no_proxy.map(str::to_string),
    })
}

fn https_server(ca: &TestCa) -> WsusServer {
    WsusServer::start_tls(State::default(), Some(PASSWORD), ca.server_config())
}

/// Two calls; both authenticated as the account, on one connection.
fn two_calls_on_one_connection(server: &WsusServer, t: &Transport) {
    let v = t.call(Call::new("GetServerVersion")).unwrap();
    assert_eq!(records::server_version(&v).as_deref(), Some("10.0.20348.1"));
    let r = t.call(Call::new("GetCurrentUserRole")).unwrap();
    assert_eq!(records::user_role(&r).unwrap(), 2);
    let seen = server.seen();
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert!(
        seen.iter()
            .all(|s| s.authenticated_as.as_deref() == Some("CORP\\svc-supctl")),
        "{seen:?}"
    );
    assert_eq!(seen[0].connection, seen[1].connection, "{seen:?}");
    assert!(server.violations().is_empty(), "{:?}", server.violations());
}

#[test]
fn ntlm_over_https_trusting_the_ca_from_ca_certificates() {
    let ca = TestCa::new("wsus-tls");
    let server = https_server(&ca);
    assert!(server.url().starts_with("https://127.0.0.1:"));
    let t = Transport::connect(endpoint(server.url(), Some(&ca), None)).unwrap();
    two_calls_on_one_connection(&server, &t);
    // Even where Extended Protection is off, the client binds to the certificate it saw.
    let expected = tls_channel_binding(server.certificate().unwrap());
    assert_eq!(server.bindings_seen(), [Some(expected)]);
}

#[test]
fn without_the_ca_the_call_fails_as_a_certificate_problem() {
    let ca = TestCa::new("wsus-untrusted");
    let server = https_server(&ca);
    let t = Transport::connect(endpoint(server.url(), None, None)).unwrap();
    let e = t.call(Call::new("GetServerVersion")).unwrap_err();
    match &e {
        WsusError::Transport { operation, detail } => {
            assert_eq!(operation, "GetServerVersion");
            assert!(detail.starts_with("TLS handshake failed"), "{detail}");
            assert!(detail.contains("certificate"), "{detail}");
            assert!(detail.contains("[http] ca_certificates"), "{detail}");
        }
        other => panic!("{other:?}"),
    }
    let text = e.to_string();
    assert!(text.starts_with("WSUS GetServerVersion: TLS"), "{text}");
    assert!(server.seen().is_empty());
}

#[test]
fn plain_http_still_works_sends_no_binding_and_never_uses_the_proxy() {
    let server = WsusServer::start(State::default(), Some(PASSWORD));
    let p = TestProxy::start();
    let t = Transport::connect(endpoint(server.url(), None, proxy(&p, None))).unwrap();
    two_calls_on_one_connection(&server, &t);
    assert_eq!(server.bindings_seen(), [None]);
    assert!(p.requests().is_empty(), "{:?}", p.requests());
}

#[test]
fn https_goes_through_one_connect_tunnel_and_ntlm_survives_it() {
    let ca = TestCa::with_hosts("wsus-proxy", &["wsus01.corp.example"]);
    let server = https_server(&ca);
    let p = TestProxy::with_routes(vec![("wsus01.corp.example:443".into(), server.addr)]);
    let url = "https://wsus01.corp.example".to_string();
    let t = Transport::connect(endpoint(url, Some(&ca), proxy(&p, None))).unwrap();
    two_calls_on_one_connection(&server, &t);
    assert_eq!(
        p.requests(),
        ["CONNECT wsus01.corp.example:443 HTTP/1.1"],
        "one tunnel for the handshake and both calls"
    );
    // reqwest reports no certificate for tunnelled connections: no binding is sent.
    assert_eq!(server.bindings_seen(), [None]);
}

#[test]
fn through_a_proxy_extended_protection_required_is_refused_with_a_hint() {
    let ca = TestCa::with_hosts("wsus-proxy-epa", &["wsus01.corp.example"]);
    let server = https_server(&ca);
    server.require_channel_binding();
    let p = TestProxy::with_routes(vec![("wsus01.corp.example:443".into(), server.addr)]);
    let url = "https://wsus01.corp.example".to_string();
    let t = Transport::connect(endpoint(url, Some(&ca), proxy(&p, None))).unwrap();
    let e = t.call(Call::new("GetServerVersion")).unwrap_err();
    match &e {
        WsusError::Unauthorized { operation, excerpt } => {
            assert_eq!(operation, "GetServerVersion");
            assert!(excerpt.contains("401 - Unauthorized"), "{excerpt}");
            assert!(excerpt.contains("Extended Protection"), "{excerpt}");
            assert!(excerpt.contains("[http] no_proxy"), "{excerpt}");
        }
        other => panic!("{other:?}"),
    }
    assert!(server.seen().is_empty());
    // Direct (the host in no_proxy), the same server accepts the bound client.
    let direct = proxy(&p, Some("127.0.0.1"));
    let t = Transport::connect(endpoint(server.url(), Some(&ca), direct)).unwrap();
    t.call(Call::new("GetServerVersion")).unwrap();
    assert_eq!(p.requests().len(), 1, "{:?}", p.requests());
}

#[test]
fn no_proxy_hosts_connect_directly() {
    let ca = TestCa::new("wsus-no-proxy");
    let server = https_server(&ca);
    let p = TestProxy::start();
    let direct = proxy(&p, Some("example.org, 127.0.0.1"));
    let t = Transport::connect(endpoint(server.url(), Some(&ca), direct)).unwrap();
    t.call(Call::new("GetServerVersion")).unwrap();
    assert!(p.requests().is_empty(), "{:?}", p.requests());
    // The same endpoint without the exclusion is tunnelled.
    let t = Transport::connect(endpoint(server.url(), Some(&ca), proxy(&p, None))).unwrap();
    t.call(Call::new("GetServerVersion")).unwrap();
    assert_eq!(p.requests(), [format!("CONNECT {} HTTP/1.1", server.addr)]);
}

#[test]
fn an_unusable_proxy_url_is_a_config_error() {
    let e = Transport::connect(endpoint(
        "https://wsus01.corp.example".into(),
        None,
        Some(ProxySetting {
            url: "http://[bad".into(),
            no_proxy: None,
        }),
    ))
    .err()
    .expect("a bad proxy URL is refused");
    assert!(
        matches!(&e, WsusError::Config(m) if m.contains("[http] proxy")),
        "{e:?}"
    );
}

#[test]
fn a_wrong_password_over_direct_https_is_a_plain_401() {
    let ca = TestCa::new("wsus-wrong");
    let server = https_server(&ca);
    server.require_channel_binding();
    let mut e = endpoint(server.url(), Some(&ca), None);
    e.credentials.as_mut().unwrap().password = "wrong".into();
    let err = Transport::connect(e)
        .unwrap()
        .call(Call::new("GetServerVersion"))
        .unwrap_err();
    assert!(
        matches!(&err, WsusError::Unauthorized { excerpt, .. } if !excerpt.contains("Extended Protection")),
        "{err:?}"
    );
}

#[test]
fn extended_protection_accepts_the_bound_client() {
    let ca = TestCa::new("wsus-epa");
    let server = https_server(&ca);
    server.require_channel_binding();
    let t = Transport::connect(endpoint(server.url(), Some(&ca), None)).unwrap();
    two_calls_on_one_connection(&server, &t);
}

#[test]
fn extended_protection_refuses_a_binding_to_another_certificate() {
    let ca = TestCa::new("wsus-epa-other");
    let server = https_server(&ca);
    // The server expects the binding of a certificate the client never saw (as when a
    // TLS-intercepting device sits in between).
    let other = https_server(&TestCa::new("elsewhere"));
    server.expect_channel_binding(tls_channel_binding(other.certificate().unwrap()));
    let t = Transport::connect(endpoint(server.url(), Some(&ca), None)).unwrap();
    let e = t.call(Call::new("GetServerVersion")).unwrap_err();
    assert!(
        matches!(&e, WsusError::Unauthorized { operation, .. } if operation == "GetServerVersion"),
        "{e:?}"
    );
    assert!(server.seen().is_empty());
    let own = tls_channel_binding(server.certificate().unwrap());
    assert_eq!(server.bindings_seen(), [Some(own)]);
}

/// The double's verdict on AUTHENTICATE messages built with a given binding.
#[test]
fn the_double_checks_the_binding_in_the_authenticate_message() {
    let ca = TestCa::new("wsus-epa-unit");
    let server = https_server(&ca);
    let own = tls_channel_binding(server.certificate().unwrap());
    let other = https_server(&TestCa::new("other"));
    let wrong = tls_channel_binding(other.certificate().unwrap());
    assert_ne!(own, wrong);
    let creds = Credentials {
        user: "svc-supctl".into(),
        domain: "CORP".into(),
        password: PASSWORD.into(),
    };
    let sc = [9, 8, 7, 6, 5, 4, 3, 2];
    let challenge = supctl::store::wsus::ntlm::Challenge {
        flags: 0xa289_8205,
        server_challenge: sc,
        target_info: wsus_support::answers::target_info(),
        timestamp: Some(0x01da_0000_0000_0000),
    }
    .to_bytes();
    let n = negotiate();
    let type3 = |cb| authenticate(&creds, &n, &challenge, [1; 8], 0, cb).unwrap();
    let shared = &server.shared;
    // Extended Protection off: any binding (or none) is accepted.
    for cb in [None, Some(own), Some(wrong)] {
        assert_eq!(
            check_authenticate(shared, &type3(cb), PASSWORD, &sc).as_deref(),
            Ok("CORP\\svc-supctl")
        );
    }
    server.require_channel_binding();
    assert!(check_authenticate(shared, &type3(Some(own)), PASSWORD, &sc).is_ok());
    let refused = check_authenticate(shared, &type3(Some(wrong)), PASSWORD, &sc).unwrap_err();
    assert!(refused.contains("Extended Protection"), "{refused}");
    assert!(check_authenticate(shared, &type3(None), PASSWORD, &sc).is_err());
    // The password is still checked first.
    let bad = check_authenticate(shared, &type3(Some(own)), "other", &sc).unwrap_err();
    assert!(bad.contains("password"), "{bad}");
}
