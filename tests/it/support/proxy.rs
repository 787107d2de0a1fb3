//! A tiny counting HTTP proxy: `CONNECT` tunnels (what clients use for https://) and
//! absolute-form forwarding (plain http://). Only 127.0.0.1 / localhost targets are
//! allowed, so a misrouted test can never reach the network. Routes map a public
//! authority (`content.contoso.example:443`) to a local server, so content URLs fixed in
//! signed catalogs reach a test server on a random port.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::AsyncWriteExt as _;
use tokio::net::TcpStream;

use super::{Background, read_head};

/// Longest a tunnel may stay open.
const TUNNEL_LIMIT: Duration = Duration::from_secs(60);

/// The proxy. Stops when dropped.
pub(crate) struct TestProxy {
    background: Background,
    log: Arc<Mutex<Vec<String>>>,
}

/// `host:port` as clients ask for it → the local address that answers instead.
type Routes = Arc<Vec<(String, std::net::SocketAddr)>>;

impl TestProxy {
    pub(crate) fn start() -> TestProxy {
        Self::with_routes(Vec::new())
    }

    /// A proxy that sends requests for each routed authority (`host:port`) to the given
    /// local address; every other target must still be local.
    pub(crate) fn with_routes(routes: Vec<(String, std::net::SocketAddr)>) -> TestProxy {
        let log = Arc::new(Mutex::new(Vec::new()));
        let routes: Routes = Arc::new(routes);
        let l = log.clone();
        let background = Background::start("test-proxy", move |sock| {
            handle(sock, l.clone(), routes.clone())
        });
        TestProxy { background, log }
    }

    /// `http://127.0.0.1:PORT`, for `[http] proxy`.
    pub(crate) fn url(&self) -> String {
        format!("http://{}", self.background.addr())
    }

    /// Request lines received, e.g. `CONNECT 127.0.0.1:4431 HTTP/1.1`.
    pub(crate) fn requests(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }
}

async fn handle(mut client: TcpStream, log: Arc<Mutex<Vec<String>>>, routes: Routes) {
    let Some((head, rest)) = read_head(&mut client).await else {
        return;
    };
    log.lock()
        .unwrap()
        .push(format!("{} {} {}", head.method, head.target, head.version));
    let (authority, forward) = if head.method == "CONNECT" {
        (head.target.clone(), None)
    } else {
        let Ok(url) = reqwest::Url::parse(&head.target) else {
            let _ = client
                .write_all(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n")
                .await;
            return;
        };
        let authority = format!(
            "{}:{}",
            url.host_str().unwrap_or(""),
            url.port_or_known_default().unwrap_or(80)
        );
        let path = match url.query() {
            Some(q) => format!("{}?{q}", url.path()),
            None => url.path().to_string(),
        };
        let mut out = format!("{} {} {}\r\n", head.method, path, head.version);
        for (n, v) in head.headers.iter().filter(|(n, _)| n != "proxy-connection") {
            out.push_str(&format!("{n}: {v}\r\n"));
        }
        out.push_str("\r\n");
        (authority, Some(out))
    };
    let authority = routes
        .iter()
        .find(|(from, _)| from.eq_ignore_ascii_case(&authority))
        .map_or(authority, |(_, to)| to.to_string());
    let host = authority.rsplit_once(':').map_or("", |(h, _)| h);
    if !matches!(host, "127.0.0.1" | "localhost" | "[::1]") {
        let _ = client
            .write_all(b"HTTP/1.1 403 Forbidden\r\ncontent-length: 0\r\n\r\n")
            .await;
        return;
    }
    let Ok(mut upstream) = TcpStream::connect(&authority).await else {
        let _ = client
            .write_all(b"HTTP/1.1 502 Bad Gateway\r\ncontent-length: 0\r\n\r\n")
            .await;
        return;
    };
    match forward {
        None => {
            if client
                .write_all(b"HTTP/1.1 200 Connection Established\r\n\r\n")
                .await
                .is_err()
            {
                return;
            }
        }
        Some(head) => {
            if upstream.write_all(head.as_bytes()).await.is_err() {
                return;
            }
        }
    }
    if !rest.is_empty() && upstream.write_all(&rest).await.is_err() {
        return;
    }
    let _ = tokio::time::timeout(
        TUNNEL_LIMIT,
        tokio::io::copy_bidirectional(&mut client, &mut upstream),
    )
    .await;
}
