//! Catalog fetching against a real local HTTPS server: conditional-GET cache, https-only
//! rule, retries, `Path` sources, crash-safety of the cache.

use crate::support;

use std::time::{Duration, Instant};

use supctl::catalog::fetch::{CatalogSource, FetchError, Fetcher};
use supctl::ids::Sha256;
use support::{Fault, TestServer, fetch_settings};

fn cab(tag: &str, len: usize) -> Vec<u8> {
    let mut v = format!("MSCF{tag}").into_bytes();
    v.extend((0..len).map(|i| (i * 31 % 251) as u8));
    v
}

fn fetcher(server: &TestServer, cache: &std::path::Path) -> Fetcher {
    Fetcher::new(
        fetch_settings(Some(server.ca_pem_path())),
        cache.to_path_buf(),
    )
    .unwrap()
}

/// Files in the cache directory, sorted.
fn cache_files(dir: &std::path::Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    v.sort();
    v
}

#[tokio::test]
async fn first_fetch_downloads_second_is_304_changed_resource_redownloads() {
    let v1 = cab("v1", 50_000);
    let server = TestServer::start([("/dell.cab", v1.clone())]);
    let cache = tempfile::tempdir().unwrap();
    let f = fetcher(&server, cache.path());
    let src = CatalogSource::Url(server.url("/dell.cab"));

    let first = f.fetch_catalog("dell", &src).await.unwrap();
    assert!(first.changed && !first.from_cache);
    assert_eq!(first.sha256, Sha256::of(&v1));
    assert_eq!(first.size, v1.len() as u64);
    assert_eq!(first.etag, server.etag("/dell.cab"));
    assert!(first.last_modified.is_some());
    assert_eq!(std::fs::read(&first.path).unwrap(), v1);
    assert_eq!(first.path, cache.path().join("dell.cab"));

    let second = f.fetch_catalog("dell", &src).await.unwrap();
    assert!(!second.changed && second.from_cache);
    assert_eq!(second.sha256, first.sha256);
    assert_eq!(second.path, first.path);

    let log = server.requests_for("/dell.cab");
    assert_eq!(log.len(), 2);
    assert_eq!(log[0].status, 200);
    assert_eq!(log[0].header("if-none-match"), None);
    assert_eq!(
        log[1].status, 304,
        "second fetch must be answered from the cache"
    );
    assert_eq!(log[1].header("if-none-match"), first.etag.as_deref());
    assert_eq!(
        log[1].header("if-modified-since"),
        first.last_modified.as_deref()
    );

    let v2 = cab("v2", 60_000);
    server.set_file("/dell.cab", v2.clone());
    let third = f.fetch_catalog("dell", &src).await.unwrap();
    assert!(third.changed && !third.from_cache);
    assert_eq!(third.sha256, Sha256::of(&v2));
    assert_eq!(std::fs::read(&third.path).unwrap(), v2);
    assert_eq!(server.requests_for("/dell.cab")[2].status, 200);

    assert_eq!(cache_files(cache.path()), vec!["dell.cab", "dell.json"]);
}

#[tokio::test]
async fn same_bytes_under_a_new_etag_are_not_reported_as_changed() {
    let body = cab("same", 1000);
    let server = TestServer::start([("/a.cab", body.clone())]);
    let cache = tempfile::tempdir().unwrap();
    let f = fetcher(&server, cache.path());
    let src = CatalogSource::Url(server.url("/a.cab"));
    f.fetch_catalog("a", &src).await.unwrap();
    // A CDN re-upload: same bytes, but the validators no longer match.
    std::fs::write(cache.path().join("a.json"), {
        let mut m: serde_json::Value =
            serde_json::from_slice(&std::fs::read(cache.path().join("a.json")).unwrap()).unwrap();
        m["etag"] = "\"stale\"".into();
        m["last_modified"] = "Mon, 01 Jan 2001 00:00:00 GMT".into();
        serde_json::to_vec(&m).unwrap()
    })
    .unwrap();
    let again = f.fetch_catalog("a", &src).await.unwrap();
    assert!(!again.from_cache, "validators did not match: downloaded");
    assert!(!again.changed, "but the content is the same");
    assert_eq!(server.requests_for("/a.cab")[1].status, 200);
}

#[tokio::test]
async fn torn_cache_new_cab_old_metadata_is_not_trusted() {
    let server = TestServer::start([("/hp.cab", cab("v1", 2000))]);
    let cache = tempfile::tempdir().unwrap();
    let f = fetcher(&server, cache.path());
    let src = CatalogSource::Url(server.url("/hp.cab"));
    f.fetch_catalog("hp", &src).await.unwrap();
    // Simulate a crash between the CAB rename and the metadata rename.
    std::fs::write(cache.path().join("hp.cab"), b"MSCF something else").unwrap();
    let again = f.fetch_catalog("hp", &src).await.unwrap();
    let log = server.requests_for("/hp.cab");
    assert_eq!(
        log[1].header("if-none-match"),
        None,
        "no conditional on a torn cache"
    );
    assert_eq!(log[1].status, 200);
    assert_eq!(std::fs::read(&again.path).unwrap(), cab("v1", 2000));
}

#[tokio::test]
async fn a_new_url_for_the_same_key_is_fetched_unconditionally() {
    let server = TestServer::start([("/old.cab", cab("x", 100)), ("/new.cab", cab("x", 100))]);
    let cache = tempfile::tempdir().unwrap();
    let f = fetcher(&server, cache.path());
    f.fetch_catalog("k", &CatalogSource::Url(server.url("/old.cab")))
        .await
        .unwrap();
    let r = f
        .fetch_catalog("k", &CatalogSource::Url(server.url("/new.cab")))
        .await
        .unwrap();
    assert!(!r.from_cache);
    assert_eq!(
        server.requests_for("/new.cab")[0].header("if-none-match"),
        None
    );
}

#[tokio::test]
async fn http_catalog_url_is_rejected_before_any_request() {
    let server = TestServer::start_http([("/c.cab", cab("x", 10))]);
    let cache = tempfile::tempdir().unwrap();
    let f = Fetcher::new(fetch_settings(None), cache.path().to_path_buf()).unwrap();
    let url = server.url("/c.cab");
    let e = f
        .fetch_catalog("c", &CatalogSource::Url(url.clone()))
        .await
        .unwrap_err();
    assert!(matches!(e, FetchError::InsecureCatalogUrl { .. }), "{e:?}");
    assert!(e.to_string().contains(&url), "{e}");
    assert!(server.requests().is_empty());
}

#[tokio::test]
async fn service_unavailable_twice_then_success() {
    let body = cab("v1", 10_000);
    let server = TestServer::start([("/c.cab", body.clone())]);
    let fault = Fault::Status {
        status: 503,
        retry_after: None,
    };
    server.set_fault("/c.cab", fault, 2);
    let cache = tempfile::tempdir().unwrap();
    let r = fetcher(&server, cache.path())
        .fetch_catalog("c", &CatalogSource::Url(server.url("/c.cab")))
        .await
        .unwrap();
    assert_eq!(r.sha256, Sha256::of(&body));
    let statuses: Vec<u16> = server.requests().iter().map(|r| r.status).collect();
    assert_eq!(statuses, vec![503, 503, 200]);
}

#[tokio::test]
async fn retry_after_is_respected() {
    let server = TestServer::start([("/c.cab", cab("v1", 100))]);
    let fault = Fault::Status {
        status: 429,
        retry_after: Some("1".into()),
    };
    server.set_fault("/c.cab", fault, 1);
    let cache = tempfile::tempdir().unwrap();
    let started = Instant::now();
    fetcher(&server, cache.path())
        .fetch_catalog("c", &CatalogSource::Url(server.url("/c.cab")))
        .await
        .unwrap();
    // The backoff alone would wait ~20-40 ms.
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(server.requests().len(), 2);
}

#[tokio::test]
async fn persistent_5xx_gives_up_after_the_retry_budget() {
    let server = TestServer::start([("/c.cab", cab("v1", 100))]);
    let fault = Fault::Status {
        status: 500,
        retry_after: None,
    };
    server.set_fault("/c.cab", fault, 100);
    let cache = tempfile::tempdir().unwrap();
    let e = fetcher(&server, cache.path())
        .fetch_catalog("c", &CatalogSource::Url(server.url("/c.cab")))
        .await
        .unwrap_err();
    assert!(
        matches!(&e, FetchError::GaveUp { attempts: 4, last, .. }
            if matches!(**last, FetchError::Status { status: 500, .. })),
        "{e:?}"
    );
    assert_eq!(server.requests().len(), 4, "1 try + 3 retries");
    assert_eq!(
        cache_files(cache.path()),
        Vec::<String>::new(),
        "nothing half-written"
    );
}

#[tokio::test]
async fn not_found_is_permanent_and_names_the_url() {
    let server = TestServer::start([("/c.cab", cab("v1", 100))]);
    let cache = tempfile::tempdir().unwrap();
    let url = server.url("/moved.cab");
    let e = fetcher(&server, cache.path())
        .fetch_catalog("c", &CatalogSource::Url(url.clone()))
        .await
        .unwrap_err();
    assert!(matches!(e, FetchError::Status { status: 404, .. }), "{e:?}");
    assert!(e.to_string().contains(&url), "{e}");
    assert_eq!(server.requests().len(), 1, "4xx is not retried");
}

#[tokio::test]
async fn path_source_is_copied_hashed_and_change_detected() {
    let src_dir = tempfile::tempdir().unwrap();
    let file = src_dir.path().join("lenovo.cab");
    std::fs::write(&file, cab("v1", 3000)).unwrap();
    let cache = tempfile::tempdir().unwrap();
    let f = Fetcher::new(fetch_settings(None), cache.path().to_path_buf()).unwrap();
    let src = CatalogSource::Path(file.clone());

    let first = f.fetch_catalog("lenovo", &src).await.unwrap();
    assert!(first.changed && !first.from_cache);
    assert_eq!(first.sha256, Sha256::of(&cab("v1", 3000)));
    assert_eq!(first.path, cache.path().join("lenovo.cab"));
    assert_eq!(std::fs::read(&first.path).unwrap(), cab("v1", 3000));

    let second = f.fetch_catalog("lenovo", &src).await.unwrap();
    assert!(!second.changed && second.from_cache);

    std::fs::write(&file, cab("v2", 3000)).unwrap();
    let third = f.fetch_catalog("lenovo", &src).await.unwrap();
    assert!(third.changed && !third.from_cache);
    assert_eq!(std::fs::read(&third.path).unwrap(), cab("v2", 3000));
    assert_eq!(cache_files(cache.path()), vec!["lenovo.cab", "lenovo.json"]);

    let missing = CatalogSource::Path(src_dir.path().join("nope.cab"));
    let e = f.fetch_catalog("lenovo", &missing).await.unwrap_err();
    assert!(e.to_string().contains("nope.cab"), "{e}");
    assert_eq!(
        std::fs::read(&third.path).unwrap(),
        cab("v2", 3000),
        "cache kept"
    );
}

#[tokio::test]
async fn path_source_over_the_size_limit_leaves_the_cache_alone() {
    let src_dir = tempfile::tempdir().unwrap();
    let file = src_dir.path().join("big.cab");
    std::fs::write(&file, vec![0u8; 5000]).unwrap();
    let cache = tempfile::tempdir().unwrap();
    let mut s = fetch_settings(None);
    s.max_bytes = 4096;
    let f = Fetcher::new(s, cache.path().to_path_buf()).unwrap();
    let e = f
        .fetch_catalog("big", &CatalogSource::Path(file))
        .await
        .unwrap_err();
    assert!(
        matches!(e, FetchError::TooLarge { limit: 4096, .. }),
        "{e:?}"
    );
    assert_eq!(cache_files(cache.path()), Vec::<String>::new());
}

#[tokio::test]
async fn unsafe_keys_are_refused() {
    let cache = tempfile::tempdir().unwrap();
    let f = Fetcher::new(fetch_settings(None), cache.path().to_path_buf()).unwrap();
    let e = f
        .fetch_catalog("../evil", &CatalogSource::Path("x.cab".into()))
        .await
        .unwrap_err();
    assert!(matches!(e, FetchError::InvalidKey { .. }), "{e:?}");
}

#[tokio::test]
async fn a_catalog_redirected_to_plain_http_is_refused() {
    let tls = TestServer::start([("/c.cab", cab("v1", 10))]);
    let plain = TestServer::start_http([("/c.cab", cab("v1", 10))]);
    tls.set_fault("/c.cab", Fault::Redirect(plain.url("/c.cab")), 1);
    let cache = tempfile::tempdir().unwrap();
    let e = fetcher(&tls, cache.path())
        .fetch_catalog("c", &CatalogSource::Url(tls.url("/c.cab")))
        .await
        .unwrap_err();
    assert!(matches!(e, FetchError::InsecureCatalogUrl { .. }), "{e:?}");
    assert!(e.to_string().contains(&plain.url("/c.cab")), "{e}");
    assert_eq!(cache_files(cache.path()), Vec::<String>::new());
}
