//! Everything the integration tests share. Here: a real HTTPS (or HTTP) file server with a
//! throwaway CA and fault injection, a counting HTTP proxy, and the way to reach
//! `../shared/fixtures`; the submodules hold the rest (CLI runs, catalogs, the store, the
//! WSUS double, `watch`, the generator, the test kit's workloads). Both run on their own
//! thread with their own Tokio runtime, so they serve equally well to `#[tokio::test]`s
//! and to synchronous tests that drive the `supctl` binary with `assert_cmd`.
//!
//! Everything listens on 127.0.0.1 only, and every wait is bounded.

pub(crate) mod catalog;
pub(crate) mod cli;
pub(crate) mod e2e;
pub(crate) mod generator;
pub(crate) mod https_server;
pub(crate) mod kit;
pub(crate) mod proxy;
pub(crate) mod receiver;
pub(crate) mod signed;
pub(crate) mod store;
pub(crate) mod tls;
pub(crate) mod watch;
pub(crate) mod web;
pub(crate) mod wsus;

pub(crate) use https_server::{Fault, RequestRecord, TestServer};
pub(crate) use proxy::TestProxy;
pub(crate) use tls::TestCa;

use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt as _};
use tokio::net::TcpStream;

/// `../shared/fixtures/<rel>` (the real catalogs, signatures and WSDL the project may read but
/// not copy). Absent, a conformance test says plainly that it skipped; under `CI=true` its
/// absence is a failure, so CI never passes a check it did not run.
pub(crate) fn shared_fixture(rel: &str) -> Option<PathBuf> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/fixtures")
        .join(rel);
    if path.exists() {
        return Some(path);
    }
    assert!(
        std::env::var("CI").map_or(true, |v| v != "true"),
        "{} is absent, and CI=true requires it (CI clones ../shared beside the project)",
        path.display()
    );
    eprintln!("SKIPPED: {} is absent", path.display());
    None
}

/// Longest time a connection may take to send its request head.
pub(crate) const HEAD_TIMEOUT: Duration = Duration::from_secs(10);
const MAX_HEAD: usize = 64 * 1024;

/// An accept loop on 127.0.0.1:0 running on a dedicated thread; stopped and joined on drop.
pub(crate) struct Background {
    addr: SocketAddr,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Background {
    /// Starts the loop; `handle` is called for every accepted connection.
    pub(crate) fn start<F, Fut>(name: &str, handle: F) -> Background
    where
        F: Fn(TcpStream) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let (addr_tx, addr_rx) = std::sync::mpsc::channel();
        let (shutdown, mut stop) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name(name.to_string())
            .spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("test server runtime");
                rt.block_on(async move {
                    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                        .await
                        .expect("bind 127.0.0.1:0");
                    addr_tx
                        .send(listener.local_addr().expect("local addr"))
                        .expect("report address");
                    loop {
                        tokio::select! {
                            _ = &mut stop => break,
                            accepted = listener.accept() => {
                                if let Ok((sock, _)) = accepted {
                                    tokio::spawn(handle(sock));
                                }
                            }
                        }
                    }
                });
                // Dropping the runtime cancels in-flight connections.
            })
            .expect("spawn test server thread");
        let addr = addr_rx
            .recv_timeout(Duration::from_secs(10))
            .expect("test server started");
        Background {
            addr,
            shutdown: Some(shutdown),
            thread: Some(thread),
        }
    }

    pub(crate) fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        if let Some(s) = self.shutdown.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A parsed HTTP/1.1 request head.
#[derive(Debug, Clone)]
pub(crate) struct Head {
    pub method: String,
    pub target: String,
    pub version: String,
    /// Names lower-cased, in arrival order.
    pub headers: Vec<(String, String)>,
}

impl Head {
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Reads a request head (up to the blank line), bounded in size and time. Returns the head
/// and any bytes read past it.
pub(crate) async fn read_head<S: AsyncRead + Unpin>(s: &mut S) -> Option<(Head, Vec<u8>)> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let end = tokio::time::timeout(HEAD_TIMEOUT, async {
        loop {
            if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                return Some(i);
            }
            if buf.len() > MAX_HEAD {
                return None;
            }
            match s.read(&mut chunk).await {
                Ok(0) | Err(_) => return None,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
    })
    .await
    .ok()??;
    let text = std::str::from_utf8(&buf[..end]).ok()?;
    let mut lines = text.split("\r\n");
    let mut parts = lines.next()?.split(' ');
    let (method, target, version) = (parts.next()?, parts.next()?, parts.next()?);
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let rest = buf[end + 4..].to_vec();
    Some((
        Head {
            method: method.to_string(),
            target: target.to_string(),
            version: version.to_string(),
            headers,
        },
        rest,
    ))
}

/// Fetch settings for tests: trust `ca` (if any), fast retries, short timeouts, no bar.
pub(crate) fn fetch_settings(
    ca: Option<std::path::PathBuf>,
) -> supctl::catalog::fetch::HttpSettings {
    supctl::catalog::fetch::HttpSettings {
        ca_certificates: ca.into_iter().collect(),
        retries: 3,
        retry_initial_delay: Duration::from_millis(20),
        timeout: Duration::from_secs(10),
        connect_timeout: Duration::from_secs(5),
        progress: false,
        ..Default::default()
    }
}
