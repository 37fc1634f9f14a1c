//! The counters every stream source keeps, shared between its threads and whoever reports
//! on it (`ctem sources`, the server's `/metrics`): lock-free atomics, read as a
//! [`Snapshot`].

use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};
use std::time::Instant;

use serde::Serialize;

/// Live counters of one stream source. Every message is in exactly one of: still queued,
/// processed, dropped (queue full), rejected (not a message), or lost before ctem could
/// read it (`kernel_dropped`, UDP only). Nothing leaves the pipeline uncounted.
#[derive(Debug, Default)]
pub struct Counters {
    /// Messages read from the socket / topic.
    pub received: AtomicU64,
    /// Messages run through detection (their alerts delivered).
    pub processed: AtomicU64,
    /// Messages read but not queued because the queue was full (UDP).
    pub dropped: AtomicU64,
    /// Datagrams the kernel dropped because the socket's buffer was full before ctem read
    /// them (UDP; from `/proc/net/udp`, Linux only).
    pub kernel_dropped: AtomicU64,
    /// Frames that are no message: too long, bad octet count, empty.
    pub rejected: AtomicU64,
    /// Messages waiting in the bounded queue now.
    pub queue_depth: AtomicU64,
    /// Times a producer had to wait because the queue was full (TCP, Kafka).
    pub backpressure_waits: AtomicU64,
    /// Alerts raised and delivered.
    pub alerts: AtomicU64,
    /// Open TCP connections.
    pub connections: AtomicU64,
    /// Kafka consumer lag (messages behind the end of the assigned partitions, as the last
    /// statistics said); -1 when unknown.
    pub lag: AtomicI64,
    /// Kafka rebalances seen.
    pub rebalances: AtomicU64,
    /// Kafka offsets commits done (each after its batch's alerts were durable).
    pub commits: AtomicU64,
    /// Kafka partitions assigned now.
    pub partitions: Mutex<Vec<i32>>,
    /// The last error (a failed connection, a failed commit), for status pages.
    pub last_error: Mutex<Option<String>>,
    /// When the first batch started and the last one ended (throughput while busy).
    pub busy: Mutex<Option<(Instant, Instant)>>,
}

/// The counters at one moment; what `ctem sources --json` and `/metrics` print.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Snapshot {
    pub received: u64,
    pub processed: u64,
    pub dropped: u64,
    pub kernel_dropped: u64,
    pub rejected: u64,
    pub queue_depth: u64,
    pub backpressure_waits: u64,
    pub alerts: u64,
    pub connections: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lag: Option<i64>,
    pub rebalances: u64,
    pub commits: u64,
    pub partitions: Vec<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// Seconds from the start of the first batch to the end of the last one.
    pub busy_seconds: f64,
}

impl Counters {
    pub fn new() -> Self {
        Counters {
            lag: AtomicI64::new(-1),
            ..Counters::default()
        }
    }

    /// The counters now (each read on its own: a snapshot of a running source is only
    /// approximately consistent; of a stopped one, exact).
    pub fn snapshot(&self) -> Snapshot {
        let lag = self.lag.load(Relaxed);
        Snapshot {
            received: self.received.load(Relaxed),
            processed: self.processed.load(Relaxed),
            dropped: self.dropped.load(Relaxed),
            kernel_dropped: self.kernel_dropped.load(Relaxed),
            rejected: self.rejected.load(Relaxed),
            queue_depth: self.queue_depth.load(Relaxed),
            backpressure_waits: self.backpressure_waits.load(Relaxed),
            alerts: self.alerts.load(Relaxed),
            connections: self.connections.load(Relaxed),
            lag: (lag >= 0).then_some(lag),
            rebalances: self.rebalances.load(Relaxed),
            commits: self.commits.load(Relaxed),
            partitions: self
                .partitions
                .lock()
                .map(|p| p.clone())
                .unwrap_or_default(),
            last_error: self.last_error.lock().ok().and_then(|e| e.clone()),
            busy_seconds: self
                .busy
                .lock()
                .ok()
                .and_then(|b| *b)
                .map(|(a, b)| b.duration_since(a).as_secs_f64())
                .unwrap_or(0.0),
        }
    }

    /// Notes a batch that started at `start` and ends now.
    pub(crate) fn batch_done(&self, start: Instant) {
        if let Ok(mut b) = self.busy.lock() {
            let first = b.map_or(start, |(f, _)| f);
            *b = Some((first, Instant::now()));
        }
    }

    pub(crate) fn set_error(&self, e: impl ToString) {
        if let Ok(mut g) = self.last_error.lock() {
            *g = Some(e.to_string());
        }
    }
}

impl Snapshot {
    /// Prometheus text exposition of the counters, each with `source="NAME"` (for the
    /// server's `/metrics`).
    pub fn prometheus(&self, source: &str) -> String {
        let name = source.replace(['\\', '"', '\n'], "_");
        let mut out = String::new();
        let mut line = |metric: &str, kind: &str, v: i64| {
            out.push_str(&format!(
                "# TYPE ctem_stream_{metric} {kind}\nctem_stream_{metric}{{source=\"{name}\"}} {v}\n"
            ));
        };
        let c = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
        line("received_total", "counter", c(self.received));
        line("processed_total", "counter", c(self.processed));
        line("dropped_total", "counter", c(self.dropped));
        line("kernel_dropped_total", "counter", c(self.kernel_dropped));
        line("rejected_total", "counter", c(self.rejected));
        line("queue_depth", "gauge", c(self.queue_depth));
        line(
            "backpressure_waits_total",
            "counter",
            c(self.backpressure_waits),
        );
        line("alerts_total", "counter", c(self.alerts));
        line("connections", "gauge", c(self.connections));
        if let Some(lag) = self.lag {
            line("consumer_lag", "gauge", lag);
        }
        line("rebalances_total", "counter", c(self.rebalances));
        line("commits_total", "counter", c(self.commits));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_lag_is_absent_and_prometheus_names_the_source() {
        let c = Counters::new();
        c.received.fetch_add(3, Relaxed);
        c.dropped.fetch_add(1, Relaxed);
        let s = c.snapshot();
        assert_eq!(s.lag, None);
        let text = s.prometheus("edge \"fw\"");
        assert!(text.contains("ctem_stream_received_total{source=\"edge _fw_\"} 3"));
        assert!(text.contains("ctem_stream_dropped_total{source=\"edge _fw_\"} 1"));
        assert!(!text.contains("consumer_lag"));
        c.lag.store(7, Relaxed);
        assert!(
            c.snapshot()
                .prometheus("k")
                .contains("ctem_stream_consumer_lag{source=\"k\"} 7")
        );
    }
}
