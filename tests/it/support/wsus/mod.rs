//! A WSUS ApiRemoting30 test double: HTTP/1.1 (or HTTPS, blocking rustls) on 127.0.0.1 with
//! keep-alive, connection-bound NTLMv2 (it verifies the AUTHENTICATE message against a
//! configured password and, over HTTPS on request, the Extended Protection channel binding
//! of its own certificate), every
//! request checked against the committed operation table, answers in the WSDL's shapes from
//! in-memory state, and injectable faults. Threads per connection, bounded; every read has
//! a timeout, and the server stops when dropped.

pub(crate) mod answers;
pub(crate) mod approvals;
pub(crate) mod calls;
pub(crate) mod categories;
pub(crate) mod contract;
pub(crate) mod history;
mod http;
pub(crate) mod publishing;
pub(crate) mod shape;
pub(crate) mod writes;

use std::collections::VecDeque;
use std::io::{BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use supctl::store::wsus::ntlm::{Authenticate, Challenge, tls_channel_binding};
use supctl::store::wsus::soap::TNS;
use tokio_rustls::rustls;

pub(crate) use answers::State;
pub(crate) use approvals::Counts;
use contract::check;
pub(crate) use contract::operations;
use http::{Request, read_request, respond};

const MAX_CONNECTIONS: usize = 16;
const MAX_BODY: usize = 16 << 20;
const IO_TIMEOUT: Duration = Duration::from_secs(10);

/// A fault the next matching request gets instead of its answer.
#[derive(Debug, Clone)]
pub(crate) enum Fault {
    /// HTTP 403 with an IIS page.
    Forbidden,
    /// HTTP 500 with an ASP.NET HTML error page.
    Html500,
    /// A SOAP fault whose faultstring is this .NET exception chain.
    Soap(String),
    /// Waits this long before answering.
    Slow(Duration),
    /// HTTP 401 without any `WWW-Authenticate` challenge, even on an authenticated
    /// connection: an account that lost its rights. The connection stays authenticated.
    Unauthorized,
}

/// One request as the server saw it.
#[derive(Debug, Clone)]
pub(crate) struct Seen {
    pub connection: usize,
    pub operation: String,
    pub authenticated_as: Option<String>,
    /// The operation changes server state (see `answers::WRITES`).
    pub write: bool,
    /// The server answered 200 (no injected fault, no SOAP fault).
    pub succeeded: bool,
}

pub(crate) struct Shared {
    pub state: Mutex<State>,
    pub password: Option<String>,
    pub faults: Mutex<VecDeque<Fault>>,
    /// Faults for one operation each: (operation, fault), first match fires first.
    pub targeted: Mutex<Vec<(String, Fault)>>,
    pub seen: Mutex<Vec<Seen>>,
    /// Violations of the WSDL contract; tests assert this stays empty.
    pub violations: Mutex<Vec<String>>,
    /// Extended Protection: the `MsvAvChannelBindings` hash every AUTHENTICATE must carry
    /// (`None`: not checked, as IIS with Extended Protection off).
    pub channel_binding: Mutex<Option<[u8; 16]>>,
    /// Channel bindings the AUTHENTICATE messages carried, in order (`None`: no AV pair).
    pub bindings_seen: Mutex<Vec<Option<[u8; 16]>>>,
    table: Vec<(String, Vec<String>)>,
}

/// How the double speaks on its socket.
struct Tls {
    config: Arc<rustls::ServerConfig>,
    /// The end-entity certificate the config presents (DER).
    certificate: Vec<u8>,
}

pub(crate) struct WsusServer {
    pub addr: SocketAddr,
    pub shared: Arc<Shared>,
    tls: Option<Arc<Tls>>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl WsusServer {
    /// Starts a server; with `password`, every connection must authenticate with NTLMv2.
    pub(crate) fn start(state: State, password: Option<&str>) -> WsusServer {
        Self::start_with(state, password, None)
    }

    /// Like [`WsusServer::start`], serving HTTPS with `config` (e.g. `TestCa::server_config`).
    pub(crate) fn start_tls(
        state: State,
        password: Option<&str>,
        config: Arc<rustls::ServerConfig>,
    ) -> WsusServer {
        let certificate = presented_certificate(&config);
        Self::start_with(
            state,
            password,
            Some(Arc::new(Tls {
                config,
                certificate,
            })),
        )
    }

    fn start_with(state: State, password: Option<&str>, tls: Option<Arc<Tls>>) -> WsusServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        listener.set_nonblocking(true).expect("nonblocking");
        let addr = listener.local_addr().expect("addr");
        let shared = Arc::new(Shared {
            state: Mutex::new(state),
            password: password.map(str::to_string),
            faults: Mutex::new(VecDeque::new()),
            targeted: Mutex::new(Vec::new()),
            seen: Mutex::new(Vec::new()),
            violations: Mutex::new(Vec::new()),
            channel_binding: Mutex::new(None),
            bindings_seen: Mutex::new(Vec::new()),
            table: operations(),
        });
        let stop = Arc::new(AtomicBool::new(false));
        let (s, st, t) = (shared.clone(), stop.clone(), tls.clone());
        let thread = std::thread::spawn(move || accept_loop(listener, s, st, t));
        WsusServer {
            addr,
            shared,
            tls,
            stop,
            thread: Some(thread),
        }
    }

    pub(crate) fn url(&self) -> String {
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        format!("{scheme}://{}", self.addr)
    }

    /// The certificate an HTTPS double presents (DER); `None` for plain HTTP.
    pub(crate) fn certificate(&self) -> Option<&[u8]> {
        self.tls.as_ref().map(|t| t.certificate.as_slice())
    }

    /// Extended Protection on: every AUTHENTICATE must carry the channel binding of the
    /// double's own certificate (`tls-server-end-point`), else 401 and the connection closes.
    pub(crate) fn require_channel_binding(&self) {
        let cert = self
            .certificate()
            .expect("channel binding needs an HTTPS double");
        self.expect_channel_binding(tls_channel_binding(cert));
    }

    /// Extended Protection expecting this exact `MsvAvChannelBindings` value (a test can
    /// make it wrong on purpose).
    pub(crate) fn expect_channel_binding(&self, hash: [u8; 16]) {
        *self.shared.channel_binding.lock().unwrap() = Some(hash);
    }

    /// The channel bindings the AUTHENTICATE messages carried, in order.
    pub(crate) fn bindings_seen(&self) -> Vec<Option<[u8; 16]>> {
        self.shared.bindings_seen.lock().unwrap().clone()
    }

    /// The next request (whatever its operation) gets `fault`; faults queue in order.
    pub(crate) fn inject(&self, fault: Fault) {
        self.shared.faults.lock().unwrap().push_back(fault);
    }

    /// The next request for `operation` only gets `fault`; other operations are answered
    /// normally (and do not consume it). Targeted faults win over the general queue.
    pub(crate) fn inject_for(&self, operation: &str, fault: Fault) {
        assert!(
            self.shared.table.iter().any(|(o, _)| o == operation),
            "{operation} is not in the operation table"
        );
        self.shared
            .targeted
            .lock()
            .unwrap()
            .push((operation.to_string(), fault));
    }

    pub(crate) fn seen(&self) -> Vec<Seen> {
        self.shared.seen.lock().unwrap().clone()
    }

    /// Names of the write operations that succeeded, in order.
    pub(crate) fn writes(&self) -> Vec<String> {
        self.seen()
            .into_iter()
            .filter(|s| s.write && s.succeeded)
            .map(|s| s.operation)
            .collect()
    }

    /// The server's state (hold the guard briefly: requests wait on it).
    /// How many updates are locally published (they hold an SDP).
    pub(crate) fn published(&self) -> usize {
        self.state()
            .updates
            .iter()
            .filter(|u| u.sdp.is_some())
            .count()
    }

    pub(crate) fn state(&self) -> MutexGuard<'_, State> {
        self.shared.state.lock().unwrap()
    }

    pub(crate) fn violations(&self) -> Vec<String> {
        self.shared.violations.lock().unwrap().clone()
    }
}

impl Drop for WsusServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn accept_loop(
    listener: TcpListener,
    shared: Arc<Shared>,
    stop: Arc<AtomicBool>,
    tls: Option<Arc<Tls>>,
) {
    let live = Arc::new(AtomicUsize::new(0));
    let mut next_id = 0;
    while !stop.load(Ordering::SeqCst) {
        match listener.accept() {
            Ok((stream, _)) if live.load(Ordering::SeqCst) < MAX_CONNECTIONS => {
                next_id += 1;
                let (shared, live, id) = (shared.clone(), live.clone(), next_id);
                let tls = tls.clone();
                live.fetch_add(1, Ordering::SeqCst);
                std::thread::spawn(move || {
                    let _ = accept(stream, id, &shared, tls.as_deref());
                    live.fetch_sub(1, Ordering::SeqCst);
                });
            }
            Ok(_) => {} // over the bound: dropped
            Err(_) => std::thread::sleep(Duration::from_millis(5)),
        }
    }
}

/// Sets the timeouts and, for HTTPS, wraps the socket in a server-side TLS session (the
/// handshake runs on the first read).
fn accept(stream: TcpStream, id: usize, shared: &Shared, tls: Option<&Tls>) -> std::io::Result<()> {
    stream.set_nonblocking(false)?;
    stream.set_read_timeout(Some(IO_TIMEOUT))?;
    stream.set_write_timeout(Some(IO_TIMEOUT))?;
    match tls {
        None => serve(stream, id, shared),
        Some(t) => {
            let conn =
                rustls::ServerConnection::new(t.config.clone()).map_err(std::io::Error::other)?;
            serve(rustls::StreamOwned::new(conn, stream), id, shared)
        }
    }
}

/// The end-entity certificate `config` presents, learned the way a client does: an
/// in-memory TLS handshake against it (the client accepts any certificate; it only looks).
fn presented_certificate(config: &Arc<rustls::ServerConfig>) -> Vec<u8> {
    use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
    use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
    use rustls::{DigitallySignedStruct, SignatureScheme};

    #[derive(Debug)]
    struct Look(Arc<rustls::crypto::CryptoProvider>);
    impl ServerCertVerifier for Look {
        fn verify_server_cert(
            &self,
            _: &CertificateDer<'_>,
            _: &[CertificateDer<'_>],
            _: &ServerName<'_>,
            _: &[u8],
            _: UnixTime,
        ) -> Result<ServerCertVerified, rustls::Error> {
            Ok(ServerCertVerified::assertion())
        }
        fn verify_tls12_signature(
            &self,
            m: &[u8],
            c: &CertificateDer<'_>,
            d: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, rustls::Error> {
            rustls::crypto::verify_tls12_signature(
                m,
                c,
                d,
                &self.0.signature_verification_algorithms,
            )
        }
        fn verify_tls13_signature(
            &self,
            m: &[u8],
            c: &CertificateDer<'_>,
            d: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, rustls::Error> {
            rustls::crypto::verify_tls13_signature(
                m,
                c,
                d,
                &self.0.signature_verification_algorithms,
            )
        }
        fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
            self.0.signature_verification_algorithms.supported_schemes()
        }
    }

    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let client_config = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(Look(provider)))
        .with_no_client_auth();
    let name = ServerName::try_from("localhost").expect("server name");
    let mut client = rustls::ClientConnection::new(Arc::new(client_config), name).expect("client");
    let mut server = rustls::ServerConnection::new(config.clone()).expect("server");
    for _ in 0..16 {
        let mut buf = Vec::new();
        while client.wants_write() {
            client.write_tls(&mut buf).expect("client TLS out");
        }
        let mut rd = &buf[..];
        while !rd.is_empty() {
            server.read_tls(&mut rd).expect("server TLS in");
            server.process_new_packets().expect("server handshake");
        }
        buf.clear();
        while server.wants_write() {
            server.write_tls(&mut buf).expect("server TLS out");
        }
        let mut rd = &buf[..];
        while !rd.is_empty() {
            client.read_tls(&mut rd).expect("client TLS in");
            client.process_new_packets().expect("client handshake");
        }
        if !client.is_handshaking()
            && let Some(chain) = client.peer_certificates()
        {
            return chain[0].to_vec();
        }
    }
    panic!("the in-memory TLS handshake did not finish")
}

/// The NTLM verdict on an AUTHENTICATE message: the user, or why it is refused.
pub(crate) fn check_authenticate(
    shared: &Shared,
    token: &[u8],
    password: &str,
    server_challenge: &[u8; 8],
) -> Result<String, String> {
    let a = Authenticate::parse(token).map_err(|e| e.0)?;
    if !a.verify(password, server_challenge) {
        return Err("the NTLMv2 response does not match the password".into());
    }
    let carried = a.channel_bindings().map_err(|e| e.0)?;
    shared.bindings_seen.lock().unwrap().push(carried);
    if let Some(expected) = *shared.channel_binding.lock().unwrap()
        && carried != Some(expected)
    {
        return Err(format!(
            "Extended Protection: channel binding {:?}, expected {}",
            carried.map(hex::encode),
            hex::encode(expected)
        ));
    }
    Ok(format!("{}\\{}", a.domain, a.user))
}

/// One connection (plain or TLS): NTLM state lives here, as in IIS.
fn serve<S: Read + Write>(stream: S, id: usize, shared: &Shared) -> std::io::Result<()> {
    let mut r = BufReader::new(stream);
    let mut user: Option<String> = None;
    let mut challenge: Option<[u8; 8]> = None;
    let unauthorized = "<html><head><title>401 - Unauthorized: Access is denied due to invalid credentials.</title></head></html>";
    while let Some(req) = read_request(&mut r) {
        if let (Some(password), None) = (&shared.password, &user) {
            let token = req
                .header("authorization")
                .and_then(|a| {
                    a.strip_prefix("NTLM ")
                        .or_else(|| a.strip_prefix("Negotiate "))
                })
                .and_then(|t| B64.decode(t.trim()).ok());
            match (token, challenge) {
                (Some(t), None) if t.get(8) == Some(&1) => {
                    let server_challenge = [0x5a, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, id as u8];
                    challenge = Some(server_challenge);
                    let c = Challenge {
                        flags: 0xa289_8205,
                        server_challenge,
                        target_info: answers::target_info(),
                        timestamp: Some(0x01da_0000_0000_0000),
                    };
                    let h = format!("NTLM {}", B64.encode(c.to_bytes()));
                    respond(
                        r.get_mut(),
                        "401 Unauthorized",
                        &[("WWW-Authenticate", h)],
                        "text/html",
                        unauthorized,
                    )?;
                    continue;
                }
                (Some(t), Some(sc)) if t.get(8) == Some(&3) => {
                    match check_authenticate(shared, &t, password, &sc) {
                        Ok(u) => user = Some(u),
                        Err(_) => {
                            respond(
                                r.get_mut(),
                                "401 Unauthorized",
                                &[],
                                "text/html",
                                unauthorized,
                            )?;
                            return Ok(()); // IIS closes after a failed AUTHENTICATE
                        }
                    }
                }
                _ => {
                    let offers = vec![
                        ("WWW-Authenticate", "Negotiate".to_string()),
                        ("WWW-Authenticate", "NTLM".to_string()),
                    ];
                    respond(
                        r.get_mut(),
                        "401 Unauthorized",
                        &offers,
                        "text/html",
                        unauthorized,
                    )?;
                    continue;
                }
            }
        }
        let (status, ctype, body) = handle(&req, id, user.clone(), shared);
        respond(r.get_mut(), status, &[], ctype, &body)?;
    }
    Ok(())
}

const HTML_500: &str = "<!DOCTYPE html><html><head><title>Runtime Error</title></head><body><h1>Server Error in '/ApiRemoting30' Application.</h1><p>Client found response content type of 'text/html'</p></body></html>";
const HTML_401: &str = "<html><head><title>401 - Unauthorized: Access is denied due to invalid credentials.</title></head></html>";
const HTML_403: &str = "<html><head><title>403 - Forbidden: Access is denied.</title></head><body>403.4 SSL required</body></html>";

fn handle(
    req: &Request,
    id: usize,
    user: Option<String>,
    shared: &Shared,
) -> (&'static str, &'static str, String) {
    let xml = "text/xml; charset=utf-8";
    let (op, params) = match check(req, &shared.table) {
        Ok(v) => v,
        Err(v) => {
            shared.violations.lock().unwrap().push(v.clone());
            return (
                "500 Internal Server Error",
                xml,
                answers::fault(&format!("System.ArgumentException: {v}")),
            );
        }
    };
    let index = {
        let mut seen = shared.seen.lock().unwrap();
        seen.push(Seen {
            connection: id,
            operation: op.clone(),
            authenticated_as: user.clone(),
            write: answers::is_write(&op),
            succeeded: false,
        });
        seen.len() - 1
    };
    let targeted = {
        let mut t = shared.targeted.lock().unwrap();
        t.iter().position(|(o, _)| *o == op).map(|i| t.remove(i).1)
    };
    let fault = targeted.or_else(|| shared.faults.lock().unwrap().pop_front());
    match fault {
        Some(Fault::Forbidden) => return ("403 Forbidden", "text/html", HTML_403.into()),
        Some(Fault::Unauthorized) => return ("401 Unauthorized", "text/html", HTML_401.into()),
        Some(Fault::Html500) => return ("500 Internal Server Error", "text/html", HTML_500.into()),
        Some(Fault::Soap(msg)) => {
            return ("500 Internal Server Error", xml, answers::fault(&msg));
        }
        Some(Fault::Slow(d)) => std::thread::sleep(d),
        None => {}
    }
    let mut state = shared.state.lock().unwrap();
    let mut violations = Vec::new();
    let answer = state.answer(&op, &params, user.as_deref(), &mut violations);
    drop(state);
    shared.violations.lock().unwrap().extend(violations);
    match answer {
        Ok(inner) => {
            shared.seen.lock().unwrap()[index].succeeded = true;
            (
                "200 OK",
                xml,
                answers::envelope(&format!(
                    r#"<{op}Response xmlns="{TNS}">{inner}</{op}Response>"#
                )),
            )
        }
        Err(msg) => ("500 Internal Server Error", xml, answers::fault(&msg)),
    }
}
