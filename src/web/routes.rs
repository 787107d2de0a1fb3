//! The routes and their handlers: each reads one [`Published`] snapshot and answers from it
//! (updates: from [`super::UpdateSource`], on a blocking thread, since SQLite blocks).

use axum::Router;
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use chrono::Utc;
use serde::Deserialize;

use super::WebState;
use super::pages;
use super::query::UpdatesQuery;
use super::state::{Published, RECENT_RUNS};
use super::updates::{self, Page};
use crate::ids::UpdateId;
use crate::reconcile::status::CatalogStatus;

pub(super) fn router(state: WebState) -> Router {
    Router::new()
        .route("/", get(overview))
        .route("/catalogs/{key}", get(catalog_page))
        .route("/catalogs/{key}/updates/{id}", get(update_page))
        .route("/readyz", get(readyz))
        .route("/api/status", get(api_status))
        .route("/api/runs", get(api_runs))
        .route("/api/updates", get(api_updates))
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
        HeaderValue::from_static(super::CSP),
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

/// A request the handler cannot answer with a page: its status and why, in words.
struct Problem(StatusCode, String);

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        (self.0, self.1).into_response()
    }
}

fn unavailable(why: &str) -> Problem {
    Problem(StatusCode::SERVICE_UNAVAILABLE, why.to_string())
}

fn not_found(what: String) -> Problem {
    Problem(StatusCode::NOT_FOUND, what)
}

const NO_PASS: &str = "no pass has finished yet\n";

/// Ready: start-up done with the lock held, a pass published, and no scope failing for
/// longer than its own interval (one failed sync is retried with backoff; a scope that has
/// not synced for a whole interval is what a load balancer or an alert should see).
async fn readyz(State(s): State<WebState>) -> Response {
    let p = s.read();
    if !p.ready {
        return unavailable("starting or stopping\n").into_response();
    }
    if p.report.is_none() {
        return unavailable(NO_PASS).into_response();
    }
    if let Some(f) = p.stale.first() {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            format!(
                "{} has failed since {} (longer than its interval, {} min); see /api/status\n",
                f.scope,
                f.since.format("%Y-%m-%dT%H:%M:%SZ"),
                f.interval.num_minutes()
            ),
        )
            .into_response();
    }
    (StatusCode::OK, "ready\n").into_response()
}

async fn api_status(State(s): State<WebState>) -> Response {
    match &s.read().report {
        Some(r) => axum::Json(r.as_ref()).into_response(),
        None => unavailable(NO_PASS).into_response(),
    }
}

#[derive(Debug, Deserialize)]
struct RunsQuery {
    limit: Option<usize>,
    /// A scope (`sync`, `catalog.contoso`).
    scope: Option<String>,
}

/// The recent runs, newest first.
async fn api_runs(State(s): State<WebState>, Query(q): Query<RunsQuery>) -> Response {
    let p = s.read();
    let runs: Vec<_> = p
        .runs
        .iter()
        .filter(|r| q.scope.as_deref().is_none_or(|sc| r.scope.as_str() == sc))
        .take(q.limit.unwrap_or(50).min(RECENT_RUNS))
        .collect();
    axum::Json(serde_json::json!({ "runs": runs })).into_response()
}

/// One page of the updates matching the query, marked deselected as `status` counts them.
async fn updates_page(
    p: &Published,
    source: &updates::UpdateSource,
    q: &UpdatesQuery,
) -> Result<Page, Problem> {
    let filter = q
        .filter()
        .map_err(|e| Problem(StatusCode::BAD_REQUEST, format!("{e}\n")))?;
    let (page, per_page) = q.paging();
    let source = source.clone();
    let snapshot = p.snapshot.clone();
    let config = p.config.clone();
    let rows = tokio::task::spawn_blocking(move || {
        let (mut rows, trees) = source.list(&filter, snapshot.as_deref())?;
        if let Some(cfg) = &config {
            crate::plan::deselected::mark_rows(&mut rows, cfg, &trees);
        }
        Ok::<_, crate::store::StoreError>(rows)
    })
    .await
    .map_err(|_| unavailable("the update query stopped\n"))?
    .map_err(|e| {
        tracing::warn!(error = %e, "reading updates for the listener");
        Problem(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("reading updates: {e}\n"),
        )
    })?;
    Ok(updates::page(rows, page, per_page))
}

async fn api_updates(State(s): State<WebState>, Query(q): Query<UpdatesQuery>) -> Response {
    let p = s.read();
    match updates_page(&p, &s.updates, &q).await {
        Ok(page) => axum::Json(page).into_response(),
        Err(e) => e.into_response(),
    }
}

async fn metrics_text(State(s): State<WebState>) -> Response {
    let p = s.read();
    let deliveries = s
        .deliveries
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .as_ref()
        .map(|d| d.snapshot())
        .unwrap_or_default();
    let text = super::metrics::render(
        p.report.as_deref(),
        &p.drift,
        &s.counters,
        &deliveries,
        s.backend,
    );
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        text,
    )
        .into_response()
}

async fn overview(State(s): State<WebState>) -> Response {
    let p = s.read();
    Html(
        pages::overview::render(
            p.report.as_deref(),
            &p.runs,
            &p.drift,
            s.backend,
            p.running,
            Utc::now(),
        )
        .into_string(),
    )
    .into_response()
}

fn catalog_of(p: &Published, key: &str) -> Result<CatalogStatus, Problem> {
    let report = p.report.as_ref().ok_or_else(|| unavailable(NO_PASS))?;
    report
        .catalogs
        .iter()
        .find(|c| c.key == key)
        .cloned()
        .ok_or_else(|| not_found(format!("no catalog `{key}` in the config\n")))
}

async fn catalog_page(
    State(s): State<WebState>,
    Path(key): Path<String>,
    Query(q): Query<UpdatesQuery>,
) -> Result<Html<String>, Problem> {
    let p = s.read();
    let c = catalog_of(&p, &key)?;
    let mut q = q;
    q.catalog = Some(key);
    let page = updates_page(&p, &s.updates, &q).await?;
    // The page's own links carry the filters, not the catalog (it is in the path).
    q.catalog = None;
    Ok(Html(
        pages::catalog::render(&c, &q, &page, s.backend, p.running, Utc::now()).into_string(),
    ))
}

async fn update_page(
    State(s): State<WebState>,
    Path((key, id)): Path<(String, String)>,
) -> Result<Html<String>, Problem> {
    let p = s.read();
    let c = catalog_of(&p, &key)?;
    let id = UpdateId::parse(&id).map_err(|_| {
        Problem(
            StatusCode::BAD_REQUEST,
            format!("`{id}` is not an update ID\n"),
        )
    })?;
    let source = s.updates.clone();
    let snapshot = p.snapshot.clone();
    let found = tokio::task::spawn_blocking(move || source.get(&id, snapshot.as_deref()))
        .await
        .map_err(|_| unavailable("the update query stopped\n"))?
        .map_err(|e| {
            Problem(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("reading the update: {e}\n"),
            )
        })?;
    match found {
        Some((u, description)) if u.catalog.as_str() == c.key => Ok(Html(
            pages::catalog::update(
                &c,
                &u,
                description.as_deref(),
                s.backend,
                p.running,
                Utc::now(),
            )
            .into_string(),
        )),
        _ => Err(not_found(format!(
            "no such update in catalog `{}`\n",
            c.key
        ))),
    }
}
