//! Trust roots and proxies: the two settings corporate networks always need.

use crate::support;

use supctl::catalog::fetch::{CatalogSource, FetchError, Fetcher};
use supctl::ids::Sha256;
use support::{TestProxy, TestServer, fetch_settings};

#[tokio::test]
async fn untrusted_certificate_fails_with_advice_and_works_with_the_ca() {
    let server = TestServer::start([("/c.cab", b"MSCF catalog".to_vec())]);
    let src = CatalogSource::Url(server.url("/c.cab"));
    let cache = tempfile::tempdir().unwrap();

    let plain = Fetcher::new(fetch_settings(None), cache.path().to_path_buf()).unwrap();
    let e = plain.fetch_catalog("c", &src).await.unwrap_err();
    assert!(matches!(e, FetchError::Tls { .. }), "{e:?}");
    let msg = e.to_string();
    assert!(msg.contains(&server.url("/c.cab")), "{msg}");
    assert!(msg.contains("[http] ca_certificates"), "{msg}");
    assert!(
        server.requests().is_empty(),
        "no request got through the handshake"
    );

    let trusting = Fetcher::new(
        fetch_settings(Some(server.ca_pem_path())),
        cache.path().to_path_buf(),
    )
    .unwrap();
    let r = trusting.fetch_catalog("c", &src).await.unwrap();
    assert_eq!(r.sha256, Sha256::of(b"MSCF catalog"));
}

#[tokio::test]
async fn der_encoded_ca_certificates_work_too() {
    let server = TestServer::start([("/x.exe", b"content".to_vec())]);
    let dest = tempfile::tempdir().unwrap();
    let f = Fetcher::new(
        fetch_settings(Some(server.ca_der_path())),
        dest.path().join("c"),
    )
    .unwrap();
    let d = f
        .download(&server.url("/x.exe"), dest.path(), None)
        .await
        .unwrap();
    assert_eq!(d.sha256, Sha256::of(b"content"));
}

#[tokio::test]
async fn configured_proxy_is_used_for_https_and_http() {
    let tls = TestServer::start([("/c.cab", b"MSCF via proxy".to_vec())]);
    let plain = TestServer::start_http([("/x.exe", b"content via proxy".to_vec())]);
    let proxy = TestProxy::start();
    let mut s = fetch_settings(Some(tls.ca_pem_path()));
    s.proxy = Some(proxy.url());
    let dir = tempfile::tempdir().unwrap();
    let f = Fetcher::new(s, dir.path().join("cache")).unwrap();

    let r = f
        .fetch_catalog("c", &CatalogSource::Url(tls.url("/c.cab")))
        .await
        .unwrap();
    assert_eq!(r.sha256, Sha256::of(b"MSCF via proxy"));
    let d = f
        .download(&plain.url("/x.exe"), dir.path(), None)
        .await
        .unwrap();
    assert_eq!(d.sha256, Sha256::of(b"content via proxy"));

    let seen = proxy.requests();
    assert!(
        seen.contains(&format!("CONNECT {} HTTP/1.1", tls.addr())),
        "{seen:?}"
    );
    assert!(
        seen.contains(&format!("GET {} HTTP/1.1", plain.url("/x.exe"))),
        "{seen:?}"
    );
    assert_eq!(tls.requests().len(), 1);
    assert_eq!(plain.requests().len(), 1);
}

#[tokio::test]
async fn no_proxy_hosts_bypass_the_proxy() {
    let server = TestServer::start_http([("/x.exe", b"direct".to_vec())]);
    let proxy = TestProxy::start();
    let mut s = fetch_settings(None);
    s.proxy = Some(proxy.url());
    s.no_proxy = Some("127.0.0.1".into());
    let dir = tempfile::tempdir().unwrap();
    let f = Fetcher::new(s, dir.path().join("c")).unwrap();
    f.download(&server.url("/x.exe"), dir.path(), None)
        .await
        .unwrap();
    assert!(proxy.requests().is_empty(), "{:?}", proxy.requests());
    assert_eq!(server.requests().len(), 1);
}

#[tokio::test]
async fn unreachable_proxy_is_named_in_the_error() {
    let server = TestServer::start_http([("/x.exe", b"x".to_vec())]);
    // Reserve a port, then free it so nothing listens there.
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead_url = format!("http://user:secret@{}", dead.local_addr().unwrap());
    drop(dead);
    let mut s = fetch_settings(None);
    s.proxy = Some(dead_url);
    s.retries = 1;
    let dir = tempfile::tempdir().unwrap();
    let f = Fetcher::new(s, dir.path().join("c")).unwrap();
    let e = f
        .download(&server.url("/x.exe"), dir.path(), None)
        .await
        .unwrap_err();
    let msg = e.to_string();
    // A refused connection is not retried: the proxy is down for this run.
    assert!(
        matches!(&e, FetchError::Unreachable { proxy: Some(_), .. }),
        "{e:?}"
    );
    assert!(
        msg.contains("through proxy http://user:***@127.0.0.1"),
        "{msg}"
    );
    assert!(!msg.contains("secret"), "{msg}");
    assert!(server.requests().is_empty());
}
