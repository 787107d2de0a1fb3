//! HTTP transport for ApiRemoting30: one kept-alive HTTP/1.1 connection authenticated with
//! NTLM, driven from a dedicated thread.
//!
//! NTLM authenticates the *connection* (reference §3): the 401 → NEGOTIATE → CHALLENGE →
//! AUTHENTICATE exchange must run on one socket, so the client is `http1_only` with at most
//! one idle connection and every call is sequential. The thread owns its own Tokio runtime
//! because `Backend` is synchronous and is called from inside the apply engine's runtime,
//! where blocking on a nested runtime would panic; callers block on a channel instead.
//!
//! Proxies: an `https://` endpoint goes through the configured proxy (if any, and unless
//! the host is in its `no_proxy` list) as a `CONNECT` tunnel, which is one TCP connection
//! end to end, so the connection-bound NTLM survives it. An `http://` endpoint never uses a
//! proxy: a forwarding proxy pools its upstream connections and breaks NTLM. Environment
//! proxy variables are never read here.
//!
//! Extended Protection: over HTTPS the AUTHENTICATE message carries the channel binding of
//! the certificate the server presented on this very connection (`tls-server-end-point`,
//! see [`crate::ntlm::binding`]); over plain HTTP no binding AV pair is sent. Through a
//! proxy tunnel reqwest 0.13 does not report the server certificate (`tls_info` is off for
//! tunnelled connections, seanmonstar/reqwest#2589), so no binding is sent there either: a
//! site with Extended Protection *Required* refuses it, and the 401 says to add the host
//! to `no_proxy`.

use std::path::PathBuf;
use std::sync::mpsc;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;

use crate::error::{Result, WsusError};
use crate::ntlm::{Credentials, authenticate, negotiate, tls_channel_binding};
use crate::soap::{CONTENT_TYPE, Call, Element, decode};

/// Largest answer accepted: a full `ExecuteSPSearchUpdates` on a big server is tens of MB.
pub const MAX_BODY: usize = 256 << 20;

/// Where and how to connect.
#[derive(Debug, Clone)]
pub struct Endpoint {
    /// The server root (`https://wsus01:8531`) or the full `.asmx` URL.
    pub url: String,
    /// `None` sends requests unauthenticated (only useful against test doubles).
    pub credentials: Option<Credentials>,
    /// Idle timeout per read; `ExecuteSPSearchUpdates` can be slow on large servers.
    pub timeout: Duration,
    pub connect_timeout: Duration,
    /// Extra PEM trust roots (the `[http] ca_certificates` of the config).
    pub ca_certificates: Vec<PathBuf>,
    /// The `[http]` proxy; used for `https://` endpoints only (see the module docs).
    pub proxy: Option<ProxySetting>,
}

/// An explicit HTTP proxy and the hosts that bypass it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxySetting {
    /// `http://host:port` (credentials allowed: `http://user:pass@host:port`).
    pub url: String,
    /// Comma-separated hosts, domains (`.corp.example`), IPs or CIDRs that go direct: the
    /// `[http] no_proxy` list, read by the same `reqwest::NoProxy` as the catalog fetcher.
    pub no_proxy: Option<String>,
}

impl Endpoint {
    /// True when the endpoint is `https://` (TLS, channel binding, proxy allowed).
    pub fn is_https(&self) -> bool {
        self.url
            .get(..8)
            .is_some_and(|s| s.eq_ignore_ascii_case("https://"))
    }

    /// The service URL: a bare server root gets `/ApiRemoting30/WebService.asmx` appended.
    pub fn service_url(&self) -> String {
        let u = self.url.trim_end_matches('/');
        if u.to_ascii_lowercase().ends_with(".asmx") {
            u.to_string()
        } else {
            format!("{u}/ApiRemoting30/WebService.asmx")
        }
    }
}

type Job = (Call, mpsc::Sender<Result<Element>>);

/// A handle to the transport thread; dropping it stops the thread.
pub struct Transport {
    jobs: Option<mpsc::Sender<Job>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Transport {
    pub fn connect(endpoint: Endpoint) -> Result<Self> {
        let client = build_client(&endpoint)?;
        let (tx, rx) = mpsc::channel::<Job>();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| WsusError::Config(format!("starting the transport runtime: {e}")))?;
        let thread = std::thread::Builder::new()
            .name("wsus-transport".into())
            .spawn(move || {
                let session = Session { client, endpoint };
                while let Ok((call, reply)) = rx.recv() {
                    let _ = reply.send(rt.block_on(session.exchange(&call)));
                }
            })
            .map_err(|e| WsusError::Config(format!("starting the transport thread: {e}")))?;
        Ok(Transport {
            jobs: Some(tx),
            thread: Some(thread),
        })
    }

    /// Sends one call and waits for its decoded `<OperationResponse>`.
    pub fn call(&self, call: Call) -> Result<Element> {
        let op = call.operation;
        let gone = || WsusError::Transport {
            operation: op.to_string(),
            detail: "the transport thread stopped".into(),
        };
        let (tx, rx) = mpsc::channel();
        self.jobs
            .as_ref()
            .ok_or_else(gone)?
            .send((call, tx))
            .map_err(|_| gone())?;
        rx.recv().map_err(|_| gone())?
    }
}

impl Drop for Transport {
    fn drop(&mut self) {
        self.jobs.take();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn build_client(e: &Endpoint) -> Result<reqwest::Client> {
    let mut b = reqwest::Client::builder()
        .user_agent(concat!("supctl/", env!("CARGO_PKG_VERSION")))
        .http1_only()
        .pool_max_idle_per_host(1)
        .no_proxy()
        .tls_info(true)
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(e.connect_timeout)
        .read_timeout(e.timeout);
    if let (Some(p), true) = (&e.proxy, e.is_https()) {
        // `Proxy::https` intercepts https:// URLs only, and always as a CONNECT tunnel.
        let proxy = reqwest::Proxy::https(p.url.as_str())
            .map_err(|err| WsusError::Config(format!("[http] proxy is not usable: {err}")))?
            .no_proxy(
                p.no_proxy
                    .as_deref()
                    .and_then(reqwest::NoProxy::from_string),
            );
        b = b.proxy(proxy);
    }
    let mut roots = Vec::new();
    for path in &e.ca_certificates {
        let bytes = std::fs::read(path)
            .map_err(|err| WsusError::Config(format!("reading {}: {err}", path.display())))?;
        roots.extend(
            reqwest::Certificate::from_pem_bundle(&bytes).map_err(|err| {
                WsusError::Config(format!("{} is not a PEM bundle: {err}", path.display()))
            })?,
        );
    }
    if !roots.is_empty() {
        b = b.tls_certs_merge(roots);
    }
    b.build()
        .map_err(|err| WsusError::Config(format!("building the HTTP client: {err}")))
}

struct Session {
    client: reqwest::Client,
    endpoint: Endpoint,
}

struct Answer {
    status: u16,
    content_type: String,
    challenges: Vec<String>,
    body: String,
    /// The end-entity certificate of the TLS connection that answered (DER).
    peer_certificate: Option<Vec<u8>>,
}

impl Session {
    async fn exchange(&self, call: &Call) -> Result<Element> {
        let op = call.operation;
        let body = call.envelope();
        let mut answer = self.send(call, &body, None).await?;
        let mut unbound_tls = false;
        if answer.status == 401
            && let Some(creds) = &self.endpoint.credentials
        {
            (answer, unbound_tls) = self
                .handshake(call, &body, creds, &answer.challenges)
                .await?;
        }
        decode(op, answer.status, &answer.content_type, &answer.body).map_err(|e| match e {
            WsusError::Unauthorized { operation, excerpt } if unbound_tls => {
                WsusError::Unauthorized {
                    operation,
                    excerpt: format!(
                        "{excerpt} (sent without an Extended Protection channel binding: \
                         through a proxy supctl cannot see the server certificate; if the \
                         WSUS site requires Extended Protection, add its host to [http] no_proxy)"
                    ),
                }
            }
            e => e,
        })
    }

    /// The NTLM exchange on the connection that just answered 401. The flag is true when
    /// the exchange ran over TLS without a channel binding (no certificate reported).
    async fn handshake(
        &self,
        call: &Call,
        body: &str,
        creds: &Credentials,
        offered: &[String],
    ) -> Result<(Answer, bool)> {
        let op = call.operation;
        let ntlm_err = |detail: String| WsusError::Ntlm {
            operation: op.to_string(),
            detail,
        };
        let scheme = ["NTLM", "Negotiate"]
            .into_iter()
            .find(|s| offered.iter().any(|o| o.eq_ignore_ascii_case(s)))
            .ok_or_else(|| {
                ntlm_err(format!(
                    "the server offers no NTLM or Negotiate authentication (WWW-Authenticate: {})",
                    offered.join(", ")
                ))
            })?;
        let type1 = negotiate();
        let header = format!("{scheme} {}", B64.encode(&type1));
        let second = self.send(call, body, Some(header)).await?;
        if second.status != 401 {
            return Ok((second, false));
        }
        let prefix = format!("{scheme} ");
        let token = second
            .challenges
            .iter()
            .find_map(|c| c.get(prefix.len()..).filter(|_| c.len() > prefix.len() && c[..prefix.len()].eq_ignore_ascii_case(&prefix)))
            .ok_or_else(|| ntlm_err("the server sent no NTLM challenge after NEGOTIATE (is the connection kept alive?)".into()))?;
        let type2 = B64
            .decode(token.trim())
            .map_err(|e| ntlm_err(format!("the challenge is not base64: {e}")))?;
        let mut client_challenge = [0u8; 8];
        aws_lc_rs::rand::fill(&mut client_challenge)
            .map_err(|_| ntlm_err("no randomness for the client challenge".into()))?;
        // Extended Protection: bind to the certificate of the connection that sent the
        // challenge, the one the AUTHENTICATE message goes out on (none through a proxy
        // tunnel: reqwest does not report it there).
        let binding = second.peer_certificate.as_deref().map(tls_channel_binding);
        let unbound_tls = self.endpoint.is_https() && binding.is_none();
        let type3 = authenticate(
            creds,
            &type1,
            &type2,
            client_challenge,
            filetime_now(),
            binding,
        )
        .map_err(|e| ntlm_err(e.0))?;
        let answer = self
            .send(call, body, Some(format!("{scheme} {}", B64.encode(type3))))
            .await?;
        Ok((answer, unbound_tls))
    }

    async fn send(&self, call: &Call, body: &str, auth: Option<String>) -> Result<Answer> {
        let op = call.operation;
        let transport = |e: reqwest::Error| WsusError::Transport {
            operation: op.to_string(),
            detail: describe(&e),
        };
        let mut req = self
            .client
            .post(self.endpoint.service_url())
            .header("Content-Type", CONTENT_TYPE)
            .header("SOAPAction", call.soap_action())
            .body(body.to_string());
        if let Some(a) = auth {
            req = req.header("Authorization", a);
        }
        let mut resp = req.send().await.map_err(transport)?;
        let status = resp.status().as_u16();
        let peer_certificate = resp
            .extensions()
            .get::<reqwest::tls::TlsInfo>()
            .and_then(|i| i.peer_certificate())
            .map(<[u8]>::to_vec);
        let header = |name| {
            resp.headers()
                .get_all(name)
                .iter()
                .filter_map(|v| v.to_str().ok().map(str::to_string))
                .collect::<Vec<_>>()
        };
        let challenges = header(reqwest::header::WWW_AUTHENTICATE);
        let content_type = header(reqwest::header::CONTENT_TYPE).join(",");
        // Read the whole body (bounded) so the connection goes back to the pool for the next
        // leg of the handshake.
        let mut bytes = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(transport)? {
            if bytes.len() + chunk.len() > MAX_BODY {
                return Err(WsusError::malformed(
                    op,
                    format!("the answer exceeds {} MiB", MAX_BODY >> 20),
                ));
            }
            bytes.extend_from_slice(&chunk);
        }
        Ok(Answer {
            status,
            content_type,
            challenges,
            body: String::from_utf8_lossy(&bytes).into_owned(),
            peer_certificate,
        })
    }
}

/// Now as a Windows FILETIME (100 ns ticks since 1601-01-01).
fn filetime_now() -> u64 {
    let unix = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    (unix.as_secs() + 11_644_473_600) * 10_000_000 + u64::from(unix.subsec_nanos() / 100)
}

/// The rustls error in `e`, looking through `io::Error`s (tokio-rustls nests them, and
/// `io::Error::source` skips the error it wraps).
fn rustls_error<'a>(e: &'a (dyn std::error::Error + 'static)) -> Option<&'a rustls::Error> {
    let mut cur: &(dyn std::error::Error + 'static) = e;
    for _ in 0..4 {
        if let Some(r) = cur.downcast_ref::<rustls::Error>() {
            return Some(r);
        }
        cur = cur.downcast_ref::<std::io::Error>()?.get_ref()?;
    }
    None
}

/// What went wrong, for a person: TLS failures say so (and what to do about an untrusted
/// certificate) before the error chain.
fn describe(e: &reqwest::Error) -> String {
    let mut chain = String::new();
    let mut tls: Option<&rustls::Error> = None;
    let mut src = std::error::Error::source(e);
    while let Some(inner) = src {
        chain.push_str(&format!(": {inner}"));
        tls = tls.or_else(|| rustls_error(inner));
        src = inner.source();
    }
    let head = match tls {
        Some(rustls::Error::InvalidCertificate(_)) => {
            "TLS handshake failed: the server's certificate is not accepted (if an internal CA \
             issued it, add that CA to [http] ca_certificates)"
        }
        Some(_) => "TLS handshake failed",
        None if e.is_timeout() => "timed out",
        None if e.is_connect() => "could not connect",
        None => return format!("{e}{chain}"),
    };
    format!("{head}{chain}")
}
