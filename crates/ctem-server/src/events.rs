//! `POST /api/v1/events`: NDJSON events through detection, behind a bounded queue.
//!
//! A request is admitted whole or refused whole: when its events would take the queue past
//! its capacity the answer is 429 with `Retry-After`, and the refused events are counted
//! (`ctem_events_refused_total`). Admitted events are counted when received, when detected
//! and, for lines that are not JSON, as bad lines: every event is in exactly one counter,
//! none is dropped silently. A worker thread runs detection and stores the alerts.

use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::AppState;
use crate::error::{ApiError, ApiResult, ErrorBody};

/// Converts an alert of the engine to the stored alert (the binary's `to_model`).
pub type ToAlert = dyn Fn(&ctem_detect::Alert) -> ctem_model::Alert + Send + Sync;

/// Detection as the server runs it: compiled rules and the alert conversion.
pub struct Detector {
    pub engine: ctem_detect::Engine,
    pub to_alert: Box<ToAlert>,
    /// Threads of one detection batch.
    pub threads: usize,
}

/// Event counters for `/metrics`.
#[derive(Default)]
pub struct EventStats {
    pub accepted: AtomicU64,
    pub refused: AtomicU64,
    pub refused_requests: AtomicU64,
    pub detected: AtomicU64,
    pub bad_lines: AtomicU64,
    pub alerts: AtomicU64,
    pub store_errors: AtomicU64,
}

impl EventStats {
    pub(crate) fn render(&self, out: &mut String, queued: u64) {
        let c = |a: &AtomicU64| a.load(Ordering::Relaxed);
        for (name, help, v) in [
            (
                "ctem_events_accepted_total",
                "events admitted to the queue",
                c(&self.accepted),
            ),
            (
                "ctem_events_refused_total",
                "events refused with 429 (queue full)",
                c(&self.refused),
            ),
            (
                "ctem_events_refused_requests_total",
                "requests refused with 429",
                c(&self.refused_requests),
            ),
            (
                "ctem_events_detected_total",
                "events run through detection",
                c(&self.detected),
            ),
            (
                "ctem_events_bad_lines_total",
                "admitted lines that were not JSON",
                c(&self.bad_lines),
            ),
            ("ctem_alerts_total", "alerts raised", c(&self.alerts)),
            (
                "ctem_alert_store_errors_total",
                "alert batches the store refused",
                c(&self.store_errors),
            ),
        ] {
            crate::metrics::write_counter(out, name, help, v);
        }
        let _ = writeln!(
            out,
            "# HELP ctem_events_queued events waiting for detection\n# TYPE ctem_events_queued gauge\nctem_events_queued {queued}"
        );
    }
}

struct Batch {
    bytes: Bytes,
    lines: u64,
}

/// The bounded queue in front of detection.
pub struct EventQueue {
    tx: mpsc::Sender<Batch>,
    queued: Arc<AtomicU64>,
    capacity: u64,
    stats: Arc<EventStats>,
}

impl EventQueue {
    pub(crate) fn start(
        d: Detector,
        capacity: usize,
        db: String,
        open: ctem_store::OpenOptions,
    ) -> Self {
        let (tx, rx) = mpsc::channel::<Batch>();
        let queued = Arc::new(AtomicU64::new(0));
        let stats = Arc::new(EventStats::default());
        let (q, s) = (queued.clone(), stats.clone());
        std::thread::spawn(move || worker(d, rx, q, s, db, open));
        EventQueue {
            tx,
            queued,
            capacity: capacity as u64,
            stats,
        }
    }

    pub fn stats(&self) -> &EventStats {
        &self.stats
    }

    pub fn queued(&self) -> u64 {
        self.queued.load(Ordering::Relaxed)
    }

    /// Admits a batch whole, or refuses it whole when the queue would overflow.
    fn admit(&self, bytes: Bytes) -> Result<u64, u64> {
        let lines = bytes
            .split(|b| *b == b'\n')
            .filter(|l| l.iter().any(|b| !b.is_ascii_whitespace()))
            .count() as u64;
        let admitted = self
            .queued
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |q| {
                (q + lines <= self.capacity).then_some(q + lines)
            });
        if admitted.is_err() {
            self.stats.refused.fetch_add(lines, Ordering::Relaxed);
            self.stats.refused_requests.fetch_add(1, Ordering::Relaxed);
            return Err(lines);
        }
        self.stats.accepted.fetch_add(lines, Ordering::Relaxed);
        if self.tx.send(Batch { bytes, lines }).is_err() {
            // the worker is gone: give the room back and say so
            self.queued.fetch_sub(lines, Ordering::AcqRel);
            self.stats.accepted.fetch_sub(lines, Ordering::Relaxed);
            self.stats.refused.fetch_add(lines, Ordering::Relaxed);
            return Err(lines);
        }
        Ok(lines)
    }
}

fn worker(
    d: Detector,
    rx: mpsc::Receiver<Batch>,
    queued: Arc<AtomicU64>,
    stats: Arc<EventStats>,
    db: String,
    open: ctem_store::OpenOptions,
) {
    let mut store = None;
    // the logsources seen, written every few seconds and when the queue drains (not per
    // batch: a write per 1,000 events would slow the ingest)
    let mut seen = ctem_detect::seen::SeenCounts::new();
    let mut since = (chrono::Utc::now(), std::time::Instant::now());
    while let Ok(batch) = rx.recv() {
        let mut alerts = Vec::new();
        let run = d.engine.run_lines(
            std::io::Cursor::new(&batch.bytes[..]),
            Some("api"),
            d.threads.max(1),
            |a| alerts.push((d.to_alert)(&a)),
        );
        match run {
            Ok(s) => {
                stats.detected.fetch_add(s.run.events, Ordering::Relaxed);
                stats.bad_lines.fetch_add(s.bad_lines, Ordering::Relaxed);
                ctem_detect::seen::merge(&mut seen, s.run.logsources);
            }
            Err(e) => {
                eprintln!("error: detection of an event batch: {e}");
                stats.bad_lines.fetch_add(batch.lines, Ordering::Relaxed);
            }
        }
        stats
            .alerts
            .fetch_add(alerts.len() as u64, Ordering::Relaxed);
        if !alerts.is_empty() {
            if store.is_none() {
                store = ctem_store::open_shared(&db, &open).ok();
            }
            let saved = store.as_mut().map(|s| s.store_alerts(&alerts));
            if !matches!(saved, Some(Ok(_))) {
                stats.store_errors.fetch_add(1, Ordering::Relaxed);
                store = None;
            }
        }
        let left = queued.fetch_sub(batch.lines, Ordering::AcqRel) - batch.lines;
        if !seen.is_empty() && (left == 0 || since.1.elapsed().as_secs() >= 5) {
            if store.is_none() {
                store = ctem_store::open_shared(&db, &open).ok();
            }
            let now = chrono::Utc::now();
            let rows: Vec<_> = std::mem::take(&mut seen)
                .into_iter()
                .map(|(ls, n)| ctem_store::measure::LogsourceSighting {
                    product: ls.product,
                    service: ls.service,
                    category: ls.category,
                    events: n,
                    first_seen: since.0,
                    last_seen: now,
                })
                .collect();
            if !matches!(
                store.as_mut().map(|s| s.record_logsources(&rows)),
                Some(Ok(()))
            ) {
                stats.store_errors.fetch_add(1, Ordering::Relaxed);
                store = None;
            }
            since = (now, std::time::Instant::now());
        }
    }
}

/// Takes NDJSON events (one JSON object a line) for detection.
#[utoipa::path(post, path = "/api/v1/events",
    request_body(content = String, content_type = "application/x-ndjson"),
    responses((status = 202, body = Object), (status = 429, body = ErrorBody),
        (status = 503, body = ErrorBody)))]
pub async fn post_events(
    State(st): State<AppState>,
    body: Bytes,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let q = st
        .events()
        .ok_or_else(|| ApiError::unavailable("this server has no detection rules configured"))?;
    match q.admit(body) {
        Ok(n) => Ok((StatusCode::ACCEPTED, Json(json!({"accepted": n})))),
        Err(n) => Err(ApiError::too_many(
            format!("the event queue is full: {n} events refused, send them again"),
            1,
        )),
    }
}
