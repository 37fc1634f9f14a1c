//! `/metrics`: counters in the Prometheus text format, written by hand (a few atomics; no
//! exporter dependency).

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::extract::{Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::AppState;

/// The server's own counters (event counters live in [`crate::events::EventStats`]).
#[derive(Default)]
pub struct Metrics {
    responses: Mutex<BTreeMap<u16, u64>>,
    authz_refused: AtomicU64,
}

impl Metrics {
    pub(crate) fn refused_authz(&self) {
        self.authz_refused.fetch_add(1, Ordering::Relaxed);
    }

    fn response(&self, status: u16) {
        if let Ok(mut m) = self.responses.lock() {
            *m.entry(status).or_default() += 1;
        }
    }
}

/// Counts every answer by status code.
pub async fn count(State(st): State<AppState>, req: Request, next: Next) -> Response {
    let resp = next.run(req).await;
    st.metrics().response(resp.status().as_u16());
    resp
}

fn counter(out: &mut String, name: &str, help: &str, v: u64) {
    let _ = writeln!(
        out,
        "# HELP {name} {help}\n# TYPE {name} counter\n{name} {v}"
    );
}

/// The Prometheus text of every counter.
pub async fn render(State(st): State<AppState>) -> impl IntoResponse {
    let mut out = String::new();
    let m = st.metrics();
    out.push_str("# HELP ctem_http_responses_total HTTP answers by status code\n");
    out.push_str("# TYPE ctem_http_responses_total counter\n");
    if let Ok(r) = m.responses.lock() {
        for (code, n) in r.iter() {
            let _ = writeln!(out, "ctem_http_responses_total{{code=\"{code}\"}} {n}");
        }
    }
    counter(
        &mut out,
        "ctem_authz_refused_total",
        "requests refused by the role check",
        m.authz_refused.load(Ordering::Relaxed),
    );
    if let Some(q) = st.events() {
        q.stats().render(&mut out, q.queued());
    }
    let jobs = st.jobs().counts();
    out.push_str("# HELP ctem_import_jobs import jobs by status\n# TYPE ctem_import_jobs gauge\n");
    for (status, n) in jobs {
        let _ = writeln!(out, "ctem_import_jobs{{status=\"{status}\"}} {n}");
    }
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], out)
}

pub(crate) fn write_counter(out: &mut String, name: &str, help: &str, v: u64) {
    counter(out, name, help, v);
}
