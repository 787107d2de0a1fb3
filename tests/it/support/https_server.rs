//! A small real HTTP/1.1 file server (HTTPS with a test CA, or plain HTTP) that behaves
//! like a vendor CDN: ETag / Last-Modified, conditional GETs (304), byte ranges (206 /
//! 416, `If-Range`), plus fault injection and a request log.
//!
//! ```ignore
//! let server = TestServer::start([("/catalog.cab", cab_bytes)]);
//! server.set_fault("/catalog.cab", Fault::Status { status: 503, retry_after: None }, 2);
//! let url = server.url("/catalog.cab");          // https://127.0.0.1:PORT/catalog.cab
//! let ca = server.ca_pem_path();                  // for [http] ca_certificates
//! assert_eq!(server.requests_for("/catalog.cab").len(), 3);
//! ```

use std::collections::{HashMap, VecDeque};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, DurationRound as _, TimeDelta, Utc};
use sha2::Digest as _;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt as _};

use super::{Background, Head, TestCa, read_head};

/// Misbehaviour injected into the next matching requests of one path.
#[derive(Debug, Clone)]
pub(crate) enum Fault {
    /// Answer with this status (and optional `Retry-After`) instead of the file.
    Status {
        status: u16,
        retry_after: Option<String>,
    },
    /// Send the headers of the normal response but close the connection after this many
    /// body bytes (the client sees a body broken mid-stream).
    CutAfter(usize),
    /// Wait this long before answering (normally afterwards).
    Delay(Duration),
    /// Ignore `Range`: answer 200 with the whole file, like a server without range support.
    IgnoreRange,
    /// Replace the file (new ETag and Last-Modified) just before answering, so a resume's
    /// `If-Range` no longer matches and the server sends 200 with the new content.
    Replace(Vec<u8>),
    /// Omit `Content-Length` and end the body by closing the connection, so the client
    /// cannot know the size in advance.
    NoLength,
    /// Announce this many bytes more than the body has, send the body, close: the client
    /// holds every byte yet sees a broken transfer (its resume then gets a 416).
    OverstateLength(usize),
    /// Answer `302 Found` with this `Location` (e.g. another server's `url()`).
    Redirect(String),
}

/// One request as the server saw it.
#[derive(Debug, Clone)]
pub(crate) struct RequestRecord {
    pub method: String,
    pub path: String,
    /// Header names lower-cased.
    pub headers: Vec<(String, String)>,
    /// Status sent (a cut body still records 200/206).
    pub status: u16,
}

impl RequestRecord {
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }
}

struct Resource {
    body: Arc<Vec<u8>>,
    etag: String,
    last_modified: DateTime<Utc>,
    /// Send ETag / Last-Modified (and honour conditionals and If-Range).
    validators: bool,
}

#[derive(Default)]
struct State {
    files: HashMap<String, Resource>,
    faults: HashMap<String, VecDeque<(Fault, usize)>>,
    log: Vec<RequestRecord>,
    /// Requests being answered now, and the most at once so far.
    in_flight: usize,
    max_in_flight: usize,
}

impl State {
    fn put(&mut self, path: String, body: Vec<u8>) {
        let now = Utc::now()
            .duration_trunc(TimeDelta::seconds(1))
            .expect("truncate to seconds");
        // Last-Modified has one-second resolution: make every version strictly newer.
        let last_modified = match self.files.get(&path) {
            Some(old) if old.last_modified >= now => old.last_modified + TimeDelta::seconds(1),
            _ => now,
        };
        let digest = sha2::Sha256::digest(&body);
        let etag = format!("\"{}\"", hex::encode(&digest[..8]));
        self.files.insert(
            path,
            Resource {
                body: Arc::new(body),
                etag,
                last_modified,
                validators: true,
            },
        );
    }

    fn take_fault(&mut self, path: &str) -> Option<Fault> {
        let queue = self.faults.get_mut(path)?;
        let (fault, left) = queue.front_mut()?;
        let fault = fault.clone();
        *left -= 1;
        if *left == 0 {
            queue.pop_front();
        }
        Some(fault)
    }
}

/// What to write back.
struct Reply {
    delay: Option<Duration>,
    status: u16,
    headers: Vec<(&'static str, String)>,
    body: Vec<u8>,
    /// Close after this many body bytes.
    cut_after: Option<usize>,
    head_only: bool,
    no_length: bool,
    /// Added to the announced Content-Length.
    overstate: usize,
}

/// The file server. Stops when dropped.
pub(crate) struct TestServer {
    background: Background,
    scheme: &'static str,
    ca: Option<Arc<TestCa>>,
    state: Arc<Mutex<State>>,
}

impl TestServer {
    /// HTTPS on 127.0.0.1 with a certificate from a fresh test CA (not trusted by the
    /// platform: clients need [`TestServer::ca_pem_path`]).
    pub(crate) fn start<P: Into<String>, B: Into<Vec<u8>>>(
        files: impl IntoIterator<Item = (P, B)>,
    ) -> TestServer {
        Self::start_inner(files, Some(Arc::new(TestCa::new("supctl"))))
    }

    /// HTTPS with a given CA, e.g. to serve several hosts under one trust root.
    pub(crate) fn start_with_ca<P: Into<String>, B: Into<Vec<u8>>>(
        files: impl IntoIterator<Item = (P, B)>,
        ca: Arc<TestCa>,
    ) -> TestServer {
        Self::start_inner(files, Some(ca))
    }

    /// Plain HTTP, like the many vendors that publish content over http://.
    pub(crate) fn start_http<P: Into<String>, B: Into<Vec<u8>>>(
        files: impl IntoIterator<Item = (P, B)>,
    ) -> TestServer {
        Self::start_inner(files, None)
    }

    fn start_inner<P: Into<String>, B: Into<Vec<u8>>>(
        files: impl IntoIterator<Item = (P, B)>,
        ca: Option<Arc<TestCa>>,
    ) -> TestServer {
        let state = Arc::new(Mutex::new(State::default()));
        {
            let mut s = state.lock().unwrap();
            for (p, b) in files {
                s.put(p.into(), b.into());
            }
        }
        let acceptor = ca
            .as_ref()
            .map(|ca| tokio_rustls::TlsAcceptor::from(ca.server_config()));
        let st = state.clone();
        let background = Background::start("test-https-server", move |sock| {
            let (st, acceptor) = (st.clone(), acceptor.clone());
            async move {
                match acceptor {
                    Some(a) => {
                        let accepted =
                            tokio::time::timeout(super::HEAD_TIMEOUT, a.accept(sock)).await;
                        if let Ok(Ok(tls)) = accepted {
                            serve(tls, st).await;
                        }
                    }
                    None => serve(sock, st).await,
                }
            }
        });
        TestServer {
            background,
            scheme: if ca.is_some() { "https" } else { "http" },
            ca,
            state,
        }
    }

    /// `https://127.0.0.1:PORT/path` (or http://).
    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}://{}{}", self.scheme, self.background.addr(), path)
    }

    pub(crate) fn addr(&self) -> std::net::SocketAddr {
        self.background.addr()
    }

    /// The test CA's certificate (PEM). Panics for a plain-HTTP server.
    pub(crate) fn ca_pem_path(&self) -> PathBuf {
        self.ca().pem_path()
    }

    /// The test CA's certificate (DER).
    pub(crate) fn ca_der_path(&self) -> PathBuf {
        self.ca().der_path()
    }

    pub(crate) fn ca(&self) -> &Arc<TestCa> {
        self.ca.as_ref().expect("plain-HTTP test server has no CA")
    }

    /// Adds or replaces a file; a new body gets a new ETag and a newer Last-Modified.
    pub(crate) fn set_file(&self, path: &str, body: impl Into<Vec<u8>>) {
        self.state
            .lock()
            .unwrap()
            .put(path.to_string(), body.into());
    }

    /// Serve `path` without ETag and Last-Modified, like a naive server: clients can then
    /// neither revalidate nor resume safely. Lasts until the file is replaced.
    pub(crate) fn without_validators(&self, path: &str) {
        if let Some(r) = self.state.lock().unwrap().files.get_mut(path) {
            r.validators = false;
        }
    }

    /// The current ETag of a file.
    pub(crate) fn etag(&self, path: &str) -> Option<String> {
        self.state
            .lock()
            .unwrap()
            .files
            .get(path)
            .map(|r| r.etag.clone())
    }

    /// Applies `fault` to the next `times` requests for `path` (after faults already queued).
    pub(crate) fn set_fault(&self, path: &str, fault: Fault, times: usize) {
        if times == 0 {
            return;
        }
        self.state
            .lock()
            .unwrap()
            .faults
            .entry(path.to_string())
            .or_default()
            .push_back((fault, times));
    }

    /// Every request so far, in arrival order.
    pub(crate) fn requests(&self) -> Vec<RequestRecord> {
        self.state.lock().unwrap().log.clone()
    }

    /// The most requests this server was answering at the same time (overlap of downloads).
    pub(crate) fn max_in_flight(&self) -> usize {
        self.state.lock().unwrap().max_in_flight
    }

    pub(crate) fn requests_for(&self, path: &str) -> Vec<RequestRecord> {
        self.requests()
            .into_iter()
            .filter(|r| r.path == path)
            .collect()
    }
}

async fn serve<S: AsyncRead + AsyncWrite + Unpin>(mut s: S, state: Arc<Mutex<State>>) {
    let Some((head, _)) = read_head(&mut s).await else {
        return;
    };
    /// Counts the request as in flight until the reply is written (or dropped).
    struct InFlight(Arc<Mutex<State>>);
    impl Drop for InFlight {
        fn drop(&mut self) {
            self.0.lock().unwrap().in_flight -= 1;
        }
    }
    {
        let mut st = state.lock().unwrap();
        st.in_flight += 1;
        st.max_in_flight = st.max_in_flight.max(st.in_flight);
    }
    let _in_flight = InFlight(state.clone());
    let reply = decide(&mut state.lock().unwrap(), &head);
    if let Some(d) = reply.delay {
        tokio::time::sleep(d).await;
    }
    let mut out = format!("HTTP/1.1 {} {}\r\n", reply.status, reason(reply.status));
    for (n, v) in &reply.headers {
        out.push_str(&format!("{n}: {v}\r\n"));
    }
    if !reply.no_length {
        let announced = reply.body.len() + reply.overstate;
        out.push_str(&format!("content-length: {announced}\r\n"));
    }
    out.push_str("connection: close\r\n\r\n");
    if s.write_all(out.as_bytes()).await.is_err() || reply.head_only {
        let _ = s.shutdown().await;
        return;
    }
    match reply
        .cut_after
        .or((reply.overstate > 0).then_some(reply.body.len()))
    {
        Some(k) => {
            // Abrupt close, no TLS close_notify: what a dropped connection looks like.
            let _ = s.write_all(&reply.body[..k.min(reply.body.len())]).await;
            let _ = s.flush().await;
        }
        None => {
            let _ = s.write_all(&reply.body).await;
            let _ = s.shutdown().await;
        }
    }
}

fn decide(state: &mut State, head: &Head) -> Reply {
    let path = head.target.split('?').next().unwrap_or("").to_string();
    let mut reply = Reply {
        delay: None,
        status: 200,
        headers: Vec::new(),
        body: Vec::new(),
        cut_after: None,
        head_only: head.method == "HEAD",
        no_length: false,
        overstate: 0,
    };
    let mut ignore_range = false;
    match state.take_fault(&path) {
        Some(Fault::Status {
            status,
            retry_after,
        }) => {
            reply.status = status;
            if let Some(ra) = retry_after {
                reply.headers.push(("retry-after", ra));
            }
            reply.body = b"injected fault\n".to_vec();
        }
        Some(Fault::CutAfter(k)) => reply.cut_after = Some(k),
        Some(Fault::Delay(d)) => reply.delay = Some(d),
        Some(Fault::IgnoreRange) => ignore_range = true,
        Some(Fault::Replace(body)) => state.put(path.clone(), body),
        Some(Fault::NoLength) => reply.no_length = true,
        Some(Fault::OverstateLength(n)) => reply.overstate = n,
        Some(Fault::Redirect(location)) => {
            reply.status = 302;
            reply.headers.push(("location", location));
        }
        None => {}
    }
    if reply.status == 200 {
        serve_file(state, head, &path, ignore_range, &mut reply);
    }
    state.log.push(RequestRecord {
        method: head.method.clone(),
        path,
        headers: head.headers.clone(),
        status: reply.status,
    });
    reply
}

fn serve_file(state: &State, head: &Head, path: &str, ignore_range: bool, reply: &mut Reply) {
    if !matches!(head.method.as_str(), "GET" | "HEAD") {
        reply.status = 405;
        return;
    }
    let Some(res) = state.files.get(path) else {
        reply.status = 404;
        reply.body = b"not found\n".to_vec();
        return;
    };
    let last_modified = res
        .last_modified
        .format("%a, %d %b %Y %H:%M:%S GMT")
        .to_string();
    reply.headers.push(("accept-ranges", "bytes".into()));
    reply
        .headers
        .push(("content-type", "application/octet-stream".into()));
    if res.validators {
        reply.headers.push(("etag", res.etag.clone()));
        reply.headers.push(("last-modified", last_modified.clone()));
    }
    let conditionals = if res.validators {
        (
            head.header("if-none-match"),
            head.header("if-modified-since"),
        )
    } else {
        (None, None)
    };
    let not_modified = match conditionals {
        (Some(inm), _) => inm
            .split(',')
            .any(|t| t.trim() == res.etag || t.trim() == "*"),
        (None, Some(ims)) => DateTime::parse_from_rfc2822(ims)
            .is_ok_and(|since| res.last_modified <= since.with_timezone(&Utc)),
        (None, None) => false,
    };
    if not_modified {
        reply.status = 304;
        return;
    }

    let len = res.body.len() as u64;
    let range = head.header("range").filter(|_| !ignore_range);
    let if_range_ok = head
        .header("if-range")
        .is_none_or(|v| res.validators && (v == res.etag || v == last_modified));
    if let (Some(range), true) = (range, if_range_ok) {
        match parse_range(range, len) {
            Some(Ok((first, last))) => {
                reply.status = 206;
                reply
                    .headers
                    .push(("content-range", format!("bytes {first}-{last}/{len}")));
                reply.body = res.body[first as usize..=last as usize].to_vec();
                return;
            }
            Some(Err(())) => {
                reply.status = 416;
                reply
                    .headers
                    .push(("content-range", format!("bytes */{len}")));
                return;
            }
            None => {} // unparseable or multi-range: ignore, send everything
        }
    }
    reply.body = res.body.as_ref().clone();
}

/// `bytes=N-` or `bytes=N-M` → Ok(inclusive range), Err = unsatisfiable, None = ignore.
fn parse_range(v: &str, len: u64) -> Option<Result<(u64, u64), ()>> {
    let spec = v.trim().strip_prefix("bytes=")?;
    if spec.contains(',') {
        return None;
    }
    let (a, b) = spec.split_once('-')?;
    let first: u64 = a.trim().parse().ok()?;
    let last = if b.trim().is_empty() {
        len.saturating_sub(1)
    } else {
        b.trim().parse::<u64>().ok()?.min(len.saturating_sub(1))
    };
    if first >= len || last < first {
        return Some(Err(()));
    }
    Some(Ok((first, last)))
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        206 => "Partial Content",
        302 => "Found",
        304 => "Not Modified",
        404 => "Not Found",
        405 => "Method Not Allowed",
        416 => "Range Not Satisfiable",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Status",
    }
}
