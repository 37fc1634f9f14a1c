//! # ctem-server: `ctem serve`, the team's shared picture
//!
//! An axum router over the store: the REST API under `/api/v1/`, its OpenAPI document
//! (`/openapi.json`, generated from the handlers by utoipa) with a small viewer embedded in
//! the binary (`/api/docs`, no CDN), `/healthz`, `/metrics` (Prometheus text) and TAXII 2.1
//! under `/taxii2/`.
//!
//! ## Design choices
//! - **A thin shell.** Handlers parse a request, call the store (or a pipeline the binary
//!   hands in, [`Importer`]) and shape the answer. Domain errors know nothing of HTTP;
//!   [`error::ApiError`] maps their kinds to status codes and the one error body.
//! - **A synchronous store in `spawn_blocking`.** The store is synchronous (SQLite in
//!   process); [`AppState::store`] runs a closure on a pooled handle on the blocking pool,
//!   so a slow query never stalls the async workers.
//! - **One role check, one route table.** [`routes::RULES`] names the action of docs/roles.md
//!   every protected route needs; one middleware looks the matched route up and asks
//!   [`auth::authorize`], which asks `ctem_model::work::permits`. A protected route missing
//!   from the table is refused (fail closed), and a test walks the whole table for every
//!   role.
//! - **Keyset pagination.** A cursor names the last row of a page (`(severity, id)` for
//!   exposures), so page N is one index range scan, fast at a million rows.
//! - **One function per view, two renderings.** The measure and validate stages
//!   ([`api_measure`], [`api_validate`]) expose `*_now` functions that call ctem-measure,
//!   ctem-paths and `ctem_core::validate::Model` exactly as the CLI does; the JSON routes and
//!   the dashboard pages ([`pages_measure`], [`pages_validate`]) both render what those return,
//!   so a page never disagrees with its API route. Charts and the attack-path graph are
//!   hand-written SVG ([`svg`]): no script, no library, a `<title>` on every mark.
//! - **Secrets stored as hashes.** Passwords as argon2id PHC strings; tokens and session ids
//!   are 256-bit random values stored as SHA-256, shown once.

pub mod api;
pub mod api_measure;
pub mod api_validate;
pub mod auth;
pub mod dashboard;
pub mod error;
pub mod events;
pub mod jobs;
pub mod metrics;
pub mod openapi;
pub mod pages_measure;
pub mod pages_validate;
pub mod routes;
pub mod svg;
pub mod taxii;
pub mod web;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::Router;
use ctem_model::ImportSummary;
use ctem_store::{OpenOptions, Store};

use crate::error::{ApiError, ApiResult};

/// The scanner-report import pipeline, handed in by the binary (it lives in the CLI today
/// and moves to ctem-core): bytes of one report in, the import summary out.
pub trait Importer: Send + Sync {
    fn import(&self, req: ImportRequest) -> Result<ImportSummary, String>;
}

/// One uploaded report.
#[derive(Debug, Clone)]
pub struct ImportRequest {
    pub db: String,
    /// A name for the scan record (`upload` unless the client names it).
    pub file_name: String,
    pub bytes: Vec<u8>,
    /// A format name or `auto`.
    pub format: String,
    pub scope: Option<String>,
}

/// What `ctem serve` runs with.
pub struct ServerConfig {
    /// The store URL.
    pub db: String,
    pub open: OpenOptions,
    pub importer: Option<Arc<dyn Importer>>,
    /// Detection for `POST /api/v1/events`; `None` answers 503.
    pub detector: Option<events::Detector>,
    /// Events waiting for detection before the server answers 429.
    pub events_queue: usize,
    /// The settings the measure and validate routes read: `[incidents]`, `[kpi]`,
    /// `[[goals]]` and `[paths]`.
    pub settings: ctem_core::Settings,
}

impl ServerConfig {
    pub fn new(db: impl Into<String>) -> Self {
        ServerConfig {
            db: db.into(),
            open: OpenOptions::default(),
            importer: None,
            detector: None,
            events_queue: 100_000,
            settings: ctem_core::Settings::default(),
        }
    }
}

/// Shared by every handler.
#[derive(Clone)]
pub struct AppState(Arc<Inner>);

struct Inner {
    db: String,
    open: OpenOptions,
    pool: Mutex<Vec<Box<dyn Store + Send>>>,
    metrics: metrics::Metrics,
    jobs: jobs::Jobs,
    importer: Option<Arc<dyn Importer>>,
    events: Option<events::EventQueue>,
    settings: ctem_core::Settings,
}

/// Idle store handles kept for reuse.
const POOL_IDLE: usize = 16;

impl AppState {
    /// Opens the store once (creating and migrating it) and builds the state.
    pub fn new(cfg: ServerConfig) -> Result<Self, ctem_store::Error> {
        let first = ctem_store::open_shared(&cfg.db, &cfg.open)?;
        let metrics = metrics::Metrics::default();
        let events = cfg.detector.map(|d| {
            events::EventQueue::start(d, cfg.events_queue, cfg.db.clone(), cfg.open.clone())
        });
        Ok(AppState(Arc::new(Inner {
            db: cfg.db,
            open: cfg.open,
            pool: Mutex::new(vec![first]),
            metrics,
            jobs: jobs::Jobs::default(),
            importer: cfg.importer,
            events,
            settings: cfg.settings,
        })))
    }

    pub fn metrics(&self) -> &metrics::Metrics {
        &self.0.metrics
    }

    pub(crate) fn jobs(&self) -> &jobs::Jobs {
        &self.0.jobs
    }

    pub(crate) fn importer(&self) -> Option<Arc<dyn Importer>> {
        self.0.importer.clone()
    }

    pub(crate) fn events(&self) -> Option<&events::EventQueue> {
        self.0.events.as_ref()
    }

    /// The settings of the measure and validate routes.
    pub fn settings(&self) -> &ctem_core::Settings {
        &self.0.settings
    }

    pub(crate) fn db(&self) -> &str {
        &self.0.db
    }

    fn take(&self) -> ApiResult<Box<dyn Store + Send>> {
        let pooled = self.0.pool.lock().ok().and_then(|mut p| p.pop());
        match pooled {
            Some(s) => Ok(s),
            None => Ok(ctem_store::open_shared(&self.0.db, &self.0.open)?),
        }
    }

    fn give_back(&self, s: Box<dyn Store + Send>) {
        if let Ok(mut p) = self.0.pool.lock()
            && p.len() < POOL_IDLE
        {
            p.push(s);
        }
    }

    /// Runs `f` on a pooled store handle on the blocking pool.
    pub async fn store<T, F>(&self, f: F) -> ApiResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut dyn Store) -> ApiResult<T> + Send + 'static,
    {
        let me = self.clone();
        tokio::task::spawn_blocking(move || {
            let mut s = me.take()?;
            let out = f(s.as_mut());
            me.give_back(s);
            out
        })
        .await
        .map_err(ApiError::internal)?
    }
}

/// The whole application: API, OpenAPI, metrics, health, TAXII.
pub fn router(state: AppState) -> Router {
    let protected = routes::protected().route_layer(axum::middleware::from_fn_with_state(
        state.clone(),
        routes::authz,
    ));
    Router::new()
        .merge(protected)
        .merge(routes::public())
        .fallback(routes::not_found)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            metrics::count,
        ))
        .with_state(state)
}

/// Serves `router(state)` on `listener` until the process ends.
pub async fn serve(listener: tokio::net::TcpListener, state: AppState) -> std::io::Result<()> {
    axum::serve(
        listener,
        router(state).into_make_service_with_connect_info::<SocketAddr>(),
    )
    .await
}
