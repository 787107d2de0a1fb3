//! The test server itself, driven from a plain synchronous test with raw HTTP/1.1, as the
//! end-to-end tests of the `supctl` binary will use it (no async runtime in the test).

use crate::support;

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::time::Duration;

use support::TestServer;

/// Sends one request and returns (status line, lower-cased head, body).
fn get(server: &TestServer, path: &str, extra: &str) -> (String, String, Vec<u8>) {
    let mut s = TcpStream::connect(server.addr()).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(s, "GET {path} HTTP/1.1\r\nhost: 127.0.0.1\r\n{extra}\r\n").unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let end = raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let head = String::from_utf8(raw[..end].to_vec())
        .unwrap()
        .to_ascii_lowercase();
    let status = head.lines().next().unwrap().to_string();
    (status, head, raw[end + 4..].to_vec())
}

#[test]
fn serves_files_ranges_and_conditionals_to_synchronous_callers() {
    let server = TestServer::start_http([("/f.bin", b"0123456789".to_vec())]);
    let (status, head, body) = get(&server, "/f.bin", "");
    assert_eq!(status, "http/1.1 200 ok");
    assert_eq!(body, b"0123456789");
    let etag = server.etag("/f.bin").unwrap();
    assert!(head.contains(&format!("etag: {etag}")), "{head}");
    assert!(head.contains("last-modified: "), "{head}");

    let (status, head, body) = get(&server, "/f.bin", "range: bytes=4-\r\n");
    assert_eq!(status, "http/1.1 206 partial content");
    assert!(head.contains("content-range: bytes 4-9/10"), "{head}");
    assert_eq!(body, b"456789");

    let stale_if_range = "range: bytes=4-\r\nif-range: \"other\"\r\n";
    let (status, _, body) = get(&server, "/f.bin", stale_if_range);
    assert_eq!(status, "http/1.1 200 ok");
    assert_eq!(body, b"0123456789");

    let (status, head, _) = get(&server, "/f.bin", "range: bytes=10-\r\n");
    assert_eq!(status, "http/1.1 416 range not satisfiable");
    assert!(head.contains("content-range: bytes */10"), "{head}");

    let (status, _, body) = get(&server, "/f.bin", &format!("if-none-match: {etag}\r\n"));
    assert_eq!(status, "http/1.1 304 not modified");
    assert!(body.is_empty());

    server.set_file("/f.bin", b"new".to_vec());
    let (status, _, body) = get(&server, "/f.bin", &format!("if-none-match: {etag}\r\n"));
    assert_eq!(status, "http/1.1 200 ok");
    assert_eq!(body, b"new");

    let (status, _, _) = get(&server, "/missing", "");
    assert_eq!(status, "http/1.1 404 not found");
    let statuses: Vec<u16> = server.requests().iter().map(|r| r.status).collect();
    assert_eq!(statuses, vec![200, 206, 200, 416, 304, 200, 404]);
}

#[test]
fn https_server_writes_its_ca_for_clients() {
    let server = TestServer::start([("/c.cab", b"x".to_vec())]);
    assert!(server.url("/c.cab").starts_with("https://127.0.0.1:"));
    let pem = std::fs::read_to_string(server.ca_pem_path()).unwrap();
    assert!(pem.starts_with("-----BEGIN CERTIFICATE-----"), "{pem}");
    assert_eq!(pem, server.ca().pem());
    assert!(std::fs::metadata(server.ca_der_path()).unwrap().len() > 100);
}
