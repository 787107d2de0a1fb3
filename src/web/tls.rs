//! HTTPS for the listener (`[web] tls_certificate` + `tls_key`): rustls with aws-lc-rs (the
//! provider the rest of supctl uses), each connection's handshake on a task of its own.
//!
//! `axum::serve` takes plain TCP only, so this is its accept loop with a TLS handshake in
//! between, served by hyper like axum does. Limits and why:
//! - **A handshake has [`HANDSHAKE_TIMEOUT`]**: a peer that connects and says nothing holds a
//!   task and a socket, never the accept loop, and not for long.
//! - **HTTP/1.1 only**, like the plain listener: a status page needs nothing more.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};

use super::WebError;

/// How long a peer has to finish the TLS handshake.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// The server config from a PEM chain and its key; errors name the file and what to do.
pub fn server_config(cert: &Path, key: &Path) -> Result<Arc<rustls::ServerConfig>, WebError> {
    let tls = |path: &Path, reason: String| WebError::Tls {
        path: path.to_path_buf(),
        reason,
    };
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .map_err(|e| tls(cert, e.to_string()))?
        .collect::<Result<_, _>>()
        .map_err(|e| tls(cert, e.to_string()))?;
    if chain.is_empty() {
        return Err(tls(
            cert,
            "no PEM certificate (-----BEGIN CERTIFICATE-----) in it".into(),
        ));
    }
    let private = PrivateKeyDer::from_pem_file(key).map_err(|e| {
        tls(
            key,
            format!("{e}: expected a PEM private key (PKCS#8, PKCS#1 or SEC1)"),
        )
    })?;
    warn_if_readable_by_others(key);
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut cfg = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| tls(cert, e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(chain, private)
        .map_err(|e| tls(key, format!("{e}: is it the key of {}?", cert.display())))?;
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(cfg))
}

/// A key others can read is a key others may have: said, not refused (the admin owns it).
fn warn_if_readable_by_others(key: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        if let Ok(m) = std::fs::metadata(key)
            && m.permissions().mode() & 0o077 != 0
        {
            tracing::warn!(key = %key.display(), "the listener's TLS key is readable by other users: chmod 600 it");
        }
    }
}

/// Accepts TLS connections on `listener` and serves `app` on each, until the runtime stops.
pub async fn serve(listener: tokio::net::TcpListener, cfg: Arc<rustls::ServerConfig>, app: Router) {
    let acceptor = TlsAcceptor::from(cfg);
    loop {
        let (tcp, peer) = match listener.accept().await {
            Ok(c) => c,
            Err(e) => {
                // Out of descriptors, say: wait a little rather than spin.
                tracing::warn!(error = %e, "accepting a connection failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let acceptor = acceptor.clone();
        let app = app.clone();
        tokio::spawn(async move { connection(acceptor, tcp, peer, app).await });
    }
}

async fn connection(
    acceptor: TlsAcceptor,
    tcp: tokio::net::TcpStream,
    peer: SocketAddr,
    app: Router,
) {
    let tls = match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => {
            tracing::debug!(peer = %peer, error = %e, "TLS handshake failed");
            return;
        }
        Err(_) => {
            tracing::debug!(peer = %peer, "TLS handshake timed out");
            return;
        }
    };
    let service = TowerToHyperService::new(app);
    if let Err(e) = hyper::server::conn::http1::Builder::new()
        .serve_connection(TokioIo::new(tls), service)
        .await
    {
        tracing::debug!(peer = %peer, error = %e, "HTTPS connection ended with an error");
    }
}
