//! Content downloads: one-pass digests, resume with Range/If-Range, restarts, size limits,
//! timeouts.

use crate::support;

use std::time::Duration;

use supctl::catalog::fetch::{FetchError, Fetcher};
use supctl::ids::{Sha1, Sha256};
use support::{Fault, TestServer, fetch_settings};

/// Deterministic, non-repeating-looking content.
fn content(len: usize, seed: u32) -> Vec<u8> {
    let mut x = seed.wrapping_mul(2_654_435_761).wrapping_add(1);
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect()
}

fn dir_entries(dir: &std::path::Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .map(|rd| {
            rd.map(|e| e.unwrap().file_name().into_string().unwrap())
                .collect()
        })
        .unwrap_or_default()
}

fn https_fetcher(server: &TestServer) -> (Fetcher, tempfile::TempDir) {
    let cache = tempfile::tempdir().unwrap();
    let f = Fetcher::new(
        fetch_settings(Some(server.ca_pem_path())),
        cache.path().join("cache"),
    )
    .unwrap();
    (f, cache)
}

#[tokio::test]
async fn content_over_http_gets_correct_sha1_and_sha256_and_is_a_temp_file() {
    let body = content(300_000, 1);
    let server = TestServer::start_http([("/bios.exe", body.clone())]);
    let dest = tempfile::tempdir().unwrap();
    let f = Fetcher::new(fetch_settings(None), dest.path().join("c")).unwrap();
    let d = f
        .download(
            &server.url("/bios.exe"),
            dest.path(),
            Some(body.len() as u64),
        )
        .await
        .unwrap();
    assert_eq!(d.size, body.len() as u64);
    assert_eq!(d.sha1, Sha1::of(&body));
    assert_eq!(d.sha256, Sha256::of(&body));
    assert_eq!(d.path.parent(), Some(dest.path()));
    assert_eq!(std::fs::read(&d.path).unwrap(), body);

    // The caller keeps verified content by persisting it...
    let kept = dest.path().join("ABCDEF.exe");
    d.path.persist(&kept).unwrap();
    assert_eq!(std::fs::read(&kept).unwrap(), body);

    // ...and unverified content disappears when dropped.
    let d = f
        .download(&server.url("/bios.exe"), dest.path(), None)
        .await
        .unwrap();
    let temp = d.path.to_path_buf();
    assert!(temp.exists());
    drop(d);
    assert!(!temp.exists());
}

#[tokio::test]
async fn body_cut_mid_stream_resumes_with_range_and_if_range() {
    let body = content(400_000, 2);
    let server = TestServer::start([("/driver.cab", body.clone())]);
    server.set_fault("/driver.cab", Fault::CutAfter(150_000), 1);
    let (f, dir) = https_fetcher(&server);
    let d = f
        .download(
            &server.url("/driver.cab"),
            dir.path(),
            Some(body.len() as u64),
        )
        .await
        .unwrap();
    assert_eq!(d.sha256, Sha256::of(&body));
    assert_eq!(d.sha1, Sha1::of(&body));

    let log = server.requests_for("/driver.cab");
    assert_eq!(log.len(), 2);
    assert_eq!(log[0].header("range"), None);
    let range = log[1].header("range").expect("resume sends Range");
    let offset: u64 = range
        .strip_prefix("bytes=")
        .and_then(|r| r.strip_suffix('-'))
        .and_then(|n| n.parse().ok())
        .expect("bytes=N-");
    assert!(offset > 0 && offset <= 150_000, "{range}");
    assert_eq!(
        log[1].header("if-range"),
        server.etag("/driver.cab").as_deref()
    );
    assert_eq!(log[1].status, 206);
}

#[tokio::test]
async fn full_200_to_a_ranged_request_restarts_cleanly() {
    let body = content(200_000, 3);
    let server = TestServer::start([("/a.msi", body.clone())]);
    server.set_fault("/a.msi", Fault::CutAfter(80_000), 1);
    server.set_fault("/a.msi", Fault::IgnoreRange, 1);
    let (f, dir) = https_fetcher(&server);
    let d = f
        .download(&server.url("/a.msi"), dir.path(), None)
        .await
        .unwrap();
    assert_eq!(d.size, body.len() as u64, "nothing appended twice");
    assert_eq!(d.sha256, Sha256::of(&body));
    let log = server.requests_for("/a.msi");
    assert!(log[1].header("range").is_some());
    assert_eq!(log[1].status, 200);
}

#[tokio::test]
async fn resource_changed_between_attempts_yields_the_new_version_only() {
    let old = content(200_000, 4);
    let new = content(180_000, 5);
    let server = TestServer::start([("/b.exe", old)]);
    server.set_fault("/b.exe", Fault::CutAfter(90_000), 1);
    server.set_fault("/b.exe", Fault::Replace(new.clone()), 1);
    let (f, dir) = https_fetcher(&server);
    let d = f
        .download(&server.url("/b.exe"), dir.path(), None)
        .await
        .unwrap();
    assert_eq!(d.sha256, Sha256::of(&new));
    assert_eq!(std::fs::read(&d.path).unwrap(), new);
    let log = server.requests_for("/b.exe");
    assert!(log[1].header("if-range").is_some());
    assert_eq!(log[1].status, 200, "If-Range failed: whole new file");
}

#[tokio::test]
async fn announced_size_over_max_bytes_fails_fast_and_leaves_no_file() {
    let server = TestServer::start_http([("/huge.bin", content(50_000, 6))]);
    let dest = tempfile::tempdir().unwrap();
    let mut s = fetch_settings(None);
    s.max_bytes = 10_000;
    let f = Fetcher::new(s, dest.path().join("c")).unwrap();
    let e = f
        .download(&server.url("/huge.bin"), dest.path(), None)
        .await
        .unwrap_err();
    assert!(
        matches!(
            e,
            FetchError::TooLarge {
                limit: 10_000,
                size: Some(50_000),
                ..
            }
        ),
        "{e:?}"
    );
    assert!(e.to_string().contains("max_bytes"), "{e}");
    assert_eq!(dir_entries(dest.path()), Vec::<String>::new());
    assert_eq!(server.requests().len(), 1, "not retried");
}

#[tokio::test]
async fn unannounced_size_stops_reading_past_max_bytes() {
    let server = TestServer::start_http([("/stream.bin", content(50_000, 7))]);
    server.set_fault("/stream.bin", Fault::NoLength, 1);
    let dest = tempfile::tempdir().unwrap();
    let mut s = fetch_settings(None);
    s.max_bytes = 10_000;
    let f = Fetcher::new(s, dest.path().join("c")).unwrap();
    let e = f
        .download(&server.url("/stream.bin"), dest.path(), None)
        .await
        .unwrap_err();
    assert!(
        matches!(
            e,
            FetchError::TooLarge {
                limit: 10_000,
                size: None,
                ..
            }
        ),
        "{e:?}"
    );
    assert_eq!(dir_entries(dest.path()), Vec::<String>::new());
}

#[tokio::test]
async fn size_other_than_the_catalog_says_is_refused() {
    let server = TestServer::start_http([("/x.exe", content(5000, 8))]);
    let dest = tempfile::tempdir().unwrap();
    let f = Fetcher::new(fetch_settings(None), dest.path().join("c")).unwrap();
    let e = f
        .download(&server.url("/x.exe"), dest.path(), Some(4000))
        .await
        .unwrap_err();
    assert!(
        matches!(
            e,
            FetchError::SizeMismatch {
                expected: 4000,
                actual: 5000,
                ..
            }
        ),
        "{e:?}"
    );
    // Also when the server does not announce the size.
    server.set_fault("/x.exe", Fault::NoLength, 1);
    let e = f
        .download(&server.url("/x.exe"), dest.path(), Some(6000))
        .await
        .unwrap_err();
    assert!(
        matches!(
            e,
            FetchError::SizeMismatch {
                expected: 6000,
                actual: 5000,
                ..
            }
        ),
        "{e:?}"
    );
    assert_eq!(dir_entries(dest.path()), Vec::<String>::new());
}

#[tokio::test]
async fn a_stalled_server_times_out_and_the_retry_succeeds() {
    let body = content(1000, 9);
    let server = TestServer::start_http([("/slow.exe", body.clone())]);
    server.set_fault("/slow.exe", Fault::Delay(Duration::from_secs(3)), 1);
    let dest = tempfile::tempdir().unwrap();
    let mut s = fetch_settings(None);
    s.timeout = Duration::from_millis(500);
    let f = Fetcher::new(s, dest.path().join("c")).unwrap();
    let d = f
        .download(&server.url("/slow.exe"), dest.path(), None)
        .await
        .unwrap();
    assert_eq!(d.sha256, Sha256::of(&body));
    assert_eq!(server.requests().len(), 2);
}

#[tokio::test]
async fn unsupported_content_scheme_is_refused() {
    let dest = tempfile::tempdir().unwrap();
    let f = Fetcher::new(fetch_settings(None), dest.path().join("c")).unwrap();
    let e = f
        .download("ftp://127.0.0.1/x.exe", dest.path(), None)
        .await
        .unwrap_err();
    assert!(matches!(e, FetchError::InvalidUrl { .. }), "{e:?}");
}

#[tokio::test]
async fn resume_after_every_byte_arrived_gets_416_and_completes() {
    let body = content(70_000, 10);
    let server = TestServer::start([("/c.exe", body.clone())]);
    server.set_fault("/c.exe", Fault::OverstateLength(10), 1);
    let (f, dir) = https_fetcher(&server);
    // No expected size: the overstated Content-Length would (rightly) fail fast against it.
    let d = f
        .download(&server.url("/c.exe"), dir.path(), None)
        .await
        .unwrap();
    assert_eq!(d.size, body.len() as u64);
    assert_eq!(d.sha256, Sha256::of(&body));
    let log = server.requests_for("/c.exe");
    assert_eq!(log.len(), 2);
    assert_eq!(
        log[1].header("range"),
        Some(format!("bytes={}-", body.len()).as_str())
    );
    assert_eq!(log[1].status, 416);
}

#[tokio::test]
async fn an_unexplained_416_restarts_from_zero() {
    let body = content(120_000, 11);
    let server = TestServer::start([("/d.exe", body.clone())]);
    server.set_fault("/d.exe", Fault::CutAfter(60_000), 1);
    let fault = Fault::Status {
        status: 416,
        retry_after: None,
    };
    server.set_fault("/d.exe", fault, 1);
    let (f, dir) = https_fetcher(&server);
    let d = f
        .download(&server.url("/d.exe"), dir.path(), None)
        .await
        .unwrap();
    assert_eq!(d.sha256, Sha256::of(&body));
    let log = server.requests_for("/d.exe");
    let ranges: Vec<Option<&str>> = log.iter().map(|r| r.header("range")).collect();
    assert_eq!(log.len(), 3);
    assert!(ranges[1].is_some() && ranges[2].is_none(), "{ranges:?}");
    assert_eq!(log[2].status, 200);
}

#[tokio::test]
async fn without_validators_a_broken_transfer_restarts_instead_of_splicing() {
    let body = content(150_000, 12);
    let server = TestServer::start_http([("/e.exe", body.clone())]);
    server.without_validators("/e.exe");
    server.set_fault("/e.exe", Fault::CutAfter(50_000), 1);
    let dest = tempfile::tempdir().unwrap();
    let f = Fetcher::new(fetch_settings(None), dest.path().join("c")).unwrap();
    let d = f
        .download(&server.url("/e.exe"), dest.path(), None)
        .await
        .unwrap();
    assert_eq!(d.sha256, Sha256::of(&body));
    let log = server.requests_for("/e.exe");
    assert_eq!(log.len(), 2);
    assert_eq!(
        log[1].header("range"),
        None,
        "no If-Range validator: no resume"
    );
    assert_eq!(log[1].status, 200);
}

#[tokio::test]
async fn content_may_be_redirected_to_plain_http() {
    let body = content(5000, 13);
    let tls = TestServer::start([("/x.exe", b"unused".to_vec())]);
    let plain = TestServer::start_http([("/cdn/x.exe", body.clone())]);
    tls.set_fault("/x.exe", Fault::Redirect(plain.url("/cdn/x.exe")), 1);
    let (f, dir) = https_fetcher(&tls);
    let d = f
        .download(&tls.url("/x.exe"), dir.path(), None)
        .await
        .unwrap();
    assert_eq!(d.sha256, Sha256::of(&body));
}
