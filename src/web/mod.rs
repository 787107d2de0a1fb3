//! The daemon's HTTP listener (`watch --listen ADDR`, `[web] listen`): `/healthz`,
//! `/readyz`, `/api/status` and `/metrics`, on axum and the daemon's own tokio runtime.
//!
//! Rules it keeps:
//! - **Loopback unless told otherwise, and a token for anything else.** Binding a
//!   non-loopback address needs `[web] token_env` (the variable holding a bearer token);
//!   every route but `/healthz` then requires `Authorization: Bearer <token>`. The token is
//!   compared in constant time and never logged.
//! - **Read-only and cheap.** Handlers serve what the daemon published after its last pass
//!   ([`WebState::publish`]); a request never touches the store or delays a pass.
//! - **Strict headers.** Every answer carries a `Content-Security-Policy` that allows nothing
//!   but the page's own content, and `X-Content-Type-Options: nosniff`.

pub mod metrics;

use std::net::SocketAddr;
use std::sync::{Arc, RwLock};

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::reconcile::status::Report;

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
}

/// What the daemon last published, shared with the handlers.
#[derive(Debug, Default)]
struct Published {
    status: Option<serde_json::Value>,
    metrics: String,
    /// The last pass's report said healthy (no failed catalog sync).
    healthy: bool,
    /// Start-up done, config loaded, state lock held.
    ready: bool,
}

/// The listener's shared state: the daemon writes, handlers read.
#[derive(Debug, Clone)]
pub struct WebState {
    inner: Arc<RwLock<Published>>,
    token: Option<Arc<str>>,
    backend: &'static str,
}

impl WebState {
    /// Publishes a status report (after each pass): `/api/status`, `/metrics`, `/readyz`.
    pub fn publish(&self, report: &Report) {
        let status = serde_json::to_value(report).ok();
        let metrics = metrics::render(report, self.backend);
        let mut p = self.inner.write().unwrap_or_else(|e| e.into_inner());
        p.status = status;
        p.metrics = metrics;
        p.healthy = report.healthy;
    }

    /// Start-up is done (`true`), or the daemon is stopping or lost its lock (`false`).
    pub fn set_ready(&self, ready: bool) {
        self.inner.write().unwrap_or_else(|e| e.into_inner()).ready = ready;
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Published> {
        self.inner.read().unwrap_or_else(|e| e.into_inner())
    }
}

/// Binds `addr` (port 0 picks one) and serves until the runtime stops; returns the state to
/// publish into and the bound address. `token` is the bearer token's value, required for a
/// non-loopback address.
pub async fn start(
    addr: SocketAddr,
    token: Option<String>,
    backend: &'static str,
) -> Result<(WebState, SocketAddr), WebError> {
    if !addr.ip().is_loopback() && token.is_none() {
        return Err(WebError::TokenRequired(addr));
    }
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| WebError::Bind { addr, source })?;
    let bound = listener
        .local_addr()
        .map_err(|source| WebError::Bind { addr, source })?;
    let state = WebState {
        inner: Arc::default(),
        token: token.map(Arc::from),
        backend,
    };
    let app = router(state.clone());
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::error!(error = %e, "the HTTP listener stopped");
        }
    });
    Ok((state, bound))
}

fn router(state: WebState) -> Router {
    Router::new()
        .route("/readyz", get(readyz))
        .route("/api/status", get(api_status))
        .route("/metrics", get(metrics_text))
        .route_layer(middleware::from_fn_with_state(state.clone(), authorize))
        .route("/healthz", get(|| async { "ok\n" }))
        .layer(middleware::from_fn(headers))
        .with_state(state)
}

/// Every answer: a strict CSP, no sniffing, no caching of live state.
async fn headers(req: Request, next: Next) -> Response {
    let mut res = next.run(req).await;
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

/// The bearer token, when one is configured.
async fn authorize(State(s): State<WebState>, req: Request, next: Next) -> Response {
    if let Some(token) = &s.token {
        let given = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or("");
        if !constant_time_eq(given.as_bytes(), token.as_bytes()) {
            return (
                StatusCode::UNAUTHORIZED,
                [(header::WWW_AUTHENTICATE, "Bearer")],
                "a bearer token is required\n",
            )
                .into_response();
        }
    }
    next.run(req).await
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Ready: start-up done with the lock held, and the last pass's report healthy.
async fn readyz(State(s): State<WebState>) -> Response {
    let p = s.read();
    match (p.ready, p.status.is_some(), p.healthy) {
        (true, true, true) => (StatusCode::OK, "ready\n").into_response(),
        (false, _, _) => {
            (StatusCode::SERVICE_UNAVAILABLE, "starting or stopping\n").into_response()
        }
        (true, false, _) => (
            StatusCode::SERVICE_UNAVAILABLE,
            "no pass has finished yet\n",
        )
            .into_response(),
        (true, true, false) => (
            StatusCode::SERVICE_UNAVAILABLE,
            "a catalog's last sync failed (see /api/status)\n",
        )
            .into_response(),
    }
}

async fn api_status(State(s): State<WebState>) -> Response {
    match &s.read().status {
        Some(v) => axum::Json(v.clone()).into_response(),
        None => (
            StatusCode::SERVICE_UNAVAILABLE,
            "no pass has finished yet\n",
        )
            .into_response(),
    }
}

async fn metrics_text(State(s): State<WebState>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        s.read().metrics.clone(),
    )
        .into_response()
}
