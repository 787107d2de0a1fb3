//! The daemon's HTTP listener (`watch --listen ADDR`, `[web] listen`): the status pages
//! (`/`, `/catalogs/{key}`, `/catalogs/{key}/updates/{id}`), the API (`/api/status`,
//! `/api/runs`, `/api/updates`), `/metrics`, `/healthz` and `/readyz`, on axum and the
//! daemon's own tokio runtime, over HTTP or HTTPS (`[web] tls_certificate`, `tls_key`).
//!
//! Rules it keeps:
//! - **Loopback unless told otherwise, and a token for anything else.** Binding a
//!   non-loopback address needs `[web] token_env` (the variable holding a bearer token);
//!   every route but `/healthz` then requires `Authorization: Bearer <token>`. The token is
//!   compared in constant time and never logged.
//! - **Read-only and cheap.** Handlers serve what the daemon published after its last pass
//!   ([`WebState::publish`]); a request never waits for a pass. Updates are the one thing
//!   read on demand, from the embedded server's own indexes ([`updates`]).
//! - **Strict headers.** Every answer carries a `Content-Security-Policy` that allows nothing
//!   but the page's own content, and `X-Content-Type-Options: nosniff`.

pub mod metrics;
pub mod pages;
pub mod query;
mod routes;
pub mod state;
pub mod tls;
pub mod updates;

use std::net::SocketAddr;
use std::path::PathBuf;

pub use state::{StaleFailure, WebState};
pub use updates::UpdateSource;

/// The strictest policy that still lets a server-rendered page show itself.
pub const CSP: &str = "default-src 'none'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// Why the listener could not start.
#[derive(Debug, thiserror::Error)]
pub enum WebError {
    #[error(
        "listening on {0} (not loopback) needs a token: set [web] token_env to the name of a variable holding one"
    )]
    TokenRequired(SocketAddr),
    #[error("the variable {0} named by [web] token_env is not set or empty")]
    TokenMissing(String),
    #[error("binding {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("[web] TLS: {}: {reason}", path.display())]
    Tls { path: PathBuf, reason: String },
}

/// How to start the listener.
pub struct Listen {
    pub addr: SocketAddr,
    /// The bearer token's value, required for a non-loopback address.
    pub token: Option<String>,
    /// The certificate chain and key to serve HTTPS with.
    pub tls: Option<(PathBuf, PathBuf)>,
    pub backend: &'static str,
    pub updates: UpdateSource,
}

/// Binds (port 0 picks one) and serves until the runtime stops; returns the state to publish
/// into and the URL it listens on (`http://HOST:PORT` or `https://...`).
pub async fn start(l: Listen) -> Result<(WebState, String), WebError> {
    let addr = l.addr;
    if !addr.ip().is_loopback() && l.token.is_none() {
        return Err(WebError::TokenRequired(addr));
    }
    let tls = l
        .tls
        .as_ref()
        .map(|(cert, key)| tls::server_config(cert, key))
        .transpose()?;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| WebError::Bind { addr, source })?;
    let bound = listener
        .local_addr()
        .map_err(|source| WebError::Bind { addr, source })?;
    let state = WebState::new(l.token, l.backend, l.updates);
    let app = routes::router(state.clone());
    let url = match tls {
        Some(cfg) => {
            tokio::spawn(tls::serve(listener, cfg, app));
            format!("https://{bound}")
        }
        None => {
            tokio::spawn(async move {
                if let Err(e) = axum::serve(listener, app).await {
                    tracing::error!(error = %e, "the HTTP listener stopped");
                }
            });
            format!("http://{bound}")
        }
    };
    Ok((state, url))
}
