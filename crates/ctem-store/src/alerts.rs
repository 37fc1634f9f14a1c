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

/// Storage of detection alerts.
pub trait AlertStore {
    /// Saves alerts in one transaction; returns their ids.
    fn store_alerts(&mut self, alerts: &[Alert]) -> Result<Vec<i64>>;
    /// Alerts, newest detection first.
    fn alerts(&self, filter: &AlertFilter) -> Result<Vec<Alert>>;
}
