//! Storage of detection alerts.
//!
//! A part of the [`crate::Store`] contract: every backend implements it (SQLite in
//! `sqlite/alerts.rs`).

use ctem_model::Alert;

use crate::Result;

/// Filters for [`AlertStore::alerts`].
#[derive(Debug, Clone, Default)]
pub struct AlertFilter {
    pub rule_id: Option<String>,
    /// Minimum level: informational, low, medium, high, critical.
    pub min_level: Option<String>,
    pub host: Option<String>,
    pub limit: Option<usize>,
}

/// The rank of a Sigma level (unknown words rank lowest).
pub fn level_rank(level: &str) -> i64 {
    match level.to_ascii_lowercase().as_str() {
        "critical" => 4,
        "high" => 3,
        "medium" => 2,
        "low" => 1,
        _ => 0,
    }
}

/// The identity of an alert: its rule plus its event's identity (source, record number,
/// event time; the event itself when it has neither record nor time). Two alerts with the
/// same identity are the same fact, however often the events are run.
pub fn alert_identity(a: &Alert) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    for part in [
        a.rule_id.as_str(),
        a.source.as_deref().unwrap_or(""),
        &a.record.map(|r| r.to_string()).unwrap_or_default(),
        &a.event_time.map(|t| t.to_rfc3339()).unwrap_or_default(),
    ] {
        h.update(part.as_bytes());
        h.update([0x1f]);
    }
    if a.record.is_none() && a.event_time.is_none() {
        h.update(a.event.to_string().as_bytes());
    }
    h.finalize()
        .iter()
        .fold(String::with_capacity(64), |mut s, b| {
            use std::fmt::Write;
            let _ = write!(s, "{b:02x}");
            s
        })
}

/// Storage of detection alerts.
pub trait AlertStore {
    /// Saves alerts in one transaction; an alert whose identity ([`alert_identity`]) is
    /// stored already is skipped. Returns the ids of the alerts it added.
    fn store_alerts(&mut self, alerts: &[Alert]) -> Result<Vec<i64>>;
    /// Alerts, newest detection first.
    fn alerts(&self, filter: &AlertFilter) -> Result<Vec<Alert>>;
}
