//! Issue 13 #4, offline downloads, through the real binary against real local servers:
//! unreachable hosts (refused, DNS, a proxy that cannot reach the host) fail once and fast,
//! later files of such a host fail at once naming the first error, a 503 is retried,
//! `[http] concurrency` files download at once, and progress shows off a terminal.

use crate::support;

use std::time::{Duration, Instant};

use support::e2e::*;
use support::{Fault, TestProxy};

/// A port nothing listens on (reserved, then freed).
fn closed_port() -> std::net::SocketAddr {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    drop(l);
    addr
}

/// The site's config with `[http] retries` and `concurrency` replaced.
fn config(site: &Site, retries: u32, concurrency: u32, body: &str) -> String {
    site.config("", body)
        .replace("retries = 1\n", &format!("retries = {retries}\n"))
        .replace(
            "concurrency = 2\n",
            &format!("concurrency = {concurrency}\n"),
        )
}

/// The quickstart catalog with every update's content staged (4 updates, 5 files).
fn stage_all(url: &str) -> String {
    format!(
        "{}\n{}",
        catalog("contoso", url, "stage = \"all\""),
        approve_content()
    )
}

const FILES: [&str; 5] = [
    "contoso-tool-1.0.exe",
    "contoso-tool-1.1.exe",
    "contoso-agent-2.3_x64.exe",
    "contoso-agent-2.3_x86.exe",
    "contoso-bios-1.07.exe",
];

#[test]
fn an_unreachable_content_host_is_tried_once_and_fails_fast() {
    // The proxy routes the content host to a port nothing listens on: it refuses the tunnel.
    let mut site = Site::new();
    site.proxy = TestProxy::with_routes(vec![(format!("{CONTENT_HOST}:443"), closed_port())]);
    let url = site.serve_catalog("/contoso-v3.cab", &quickstart_cab());
    // Five retries each, as the default config has: an offline site once spent minutes here.
    let cfg = site.write("supctl", &config(&site, 5, 1, &stage_all(&url)));

    let t = Instant::now();
    let r = run(&cfg, &["apply", "--auto-approve"]);
    let took = t.elapsed();
    assert_eq!(r.code, 1, "{}", r.all());
    assert!(took < Duration::from_secs(15), "took {took:?}\n{}", r.all());
    let tunnels = site
        .proxy
        .requests()
        .iter()
        .filter(|l| l.starts_with(&format!("CONNECT {CONTENT_HOST}:443")))
        .count();
    assert_eq!(tunnels, 1, "{:?}", site.proxy.requests());
    assert!(
        r.all().contains(&format!(
            "would not open a connection to {CONTENT_HOST}:443"
        )),
        "{}",
        r.all()
    );
    assert!(
        r.all().contains(&format!(
            "not tried, because {CONTENT_HOST}:443 was found unreachable earlier in this run"
        )),
        "{}",
        r.all()
    );
    assert!(!r.all().contains("retrying"), "{}", r.all());
    // Metadata was published; nothing was staged.
    assert_eq!(site.snapshot().updates.len(), 4);
}

#[test]
fn a_refused_catalog_port_fails_at_once() {
    let site = Site::new();
    let url = format!("https://{}/contoso-v3.cab", closed_port());
    let body = catalog("contoso", &url, "");
    // No proxy: the connection itself is refused.
    let text = config(&site, 5, 2, &body).replace(&format!("proxy = {:?}\n", site.proxy.url()), "");
    let cfg = site.write("supctl", &text);
    let t = Instant::now();
    let r = run(&cfg, &["plan"]);
    assert_eq!(r.code, 1, "{}", r.all());
    assert!(t.elapsed() < Duration::from_secs(10), "{:?}", t.elapsed());
    assert!(r.all().contains("connection refused"), "{}", r.all());
    assert!(!r.all().contains("retrying"), "{}", r.all());
}

#[test]
fn a_name_that_does_not_resolve_is_not_retried() {
    let site = Site::new();
    // `.invalid` never resolves (RFC 6761).
    let body = catalog("contoso", "https://catalog.supctl-test.invalid/c.cab", "");
    let text = config(&site, 5, 2, &body).replace(&format!("proxy = {:?}\n", site.proxy.url()), "");
    let cfg = site.write("supctl", &text);
    let t = Instant::now();
    let r = run(&cfg, &["plan"]);
    assert_eq!(r.code, 1, "{}", r.all());
    assert!(
        r.all()
            .contains("cannot resolve catalog.supctl-test.invalid:443"),
        "{}",
        r.all()
    );
    assert!(!r.all().contains("retrying"), "{}", r.all());
    assert!(t.elapsed() < Duration::from_secs(20), "{:?}", t.elapsed());
}

#[test]
fn a_busy_server_is_retried_and_the_download_succeeds() {
    let site = Site::new();
    let url = site.serve_catalog("/contoso-v3.cab", &quickstart_cab());
    site.serve_content(&quickstart_content());
    site.server.set_fault(
        "/contoso-tool-1.0.exe",
        Fault::Status {
            status: 503,
            retry_after: None,
        },
        1,
    );
    let cfg = site.write("supctl", &config(&site, 2, 2, &stage_all(&url)));
    let r = run(&cfg, &["apply", "--auto-approve"]);
    assert_eq!(r.code, 0, "{}", r.all());
    assert_eq!(site.server.requests_for("/contoso-tool-1.0.exe").len(), 2);
    assert_eq!(site.downloads_of("contoso-tool-1.0.exe"), 1);
    assert!(
        r.stderr.contains(&format!(
            "retrying https://{CONTENT_HOST}/contoso-tool-1.0.exe"
        )),
        "{}",
        r.stderr
    );
}

/// Applies the stage-all config with every file answered after a delay; returns the most
/// requests the server answered at once.
fn overlap(concurrency: u32) -> usize {
    let site = Site::new();
    let url = site.serve_catalog("/contoso-v3.cab", &quickstart_cab());
    site.serve_content(&quickstart_content());
    for f in FILES {
        site.server.set_fault(
            &format!("/{f}"),
            Fault::Delay(Duration::from_millis(800)),
            1,
        );
    }
    let cfg = site.write("supctl", &config(&site, 1, concurrency, &stage_all(&url)));
    let r = run(&cfg, &["apply", "--auto-approve"]);
    assert_eq!(r.code, 0, "{}", r.all());
    for f in FILES {
        assert_eq!(site.downloads_of(f), 1, "{f}");
    }
    site.server.max_in_flight()
}

#[test]
fn concurrency_files_download_at_once() {
    // Five files of four updates (the agent has two): all five at once, not one per update.
    assert_eq!(overlap(5), 5);
    // And never more than the limit.
    assert_eq!(overlap(2), 2);
}

#[test]
fn progress_shows_a_line_per_file_off_a_terminal() {
    let site = Site::new();
    let url = site.serve_catalog("/contoso-v3.cab", &quickstart_cab());
    site.serve_content(&quickstart_content());
    let cfg = site.write("supctl", &config(&site, 1, 2, &stage_all(&url)));
    let r = run(&cfg, &["apply", "--auto-approve"]);
    assert_eq!(r.code, 0, "{}", r.all());
    for f in FILES {
        assert!(
            r.stderr.contains(&format!("] downloaded {f} (")),
            "{f}:\n{}",
            r.stderr
        );
    }
    assert!(r.stderr.contains("[5/5] downloaded "), "{}", r.stderr);
    assert!(
        r.stderr
            .contains("content: 5 of 5 files done (5 downloaded, 0 failed)"),
        "{}",
        r.stderr
    );
}
