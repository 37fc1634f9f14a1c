//! Alerts: a detection that fired on an event, from ctem's own rules (Sigma, IOCs) or raised
//! by a source (IDS, EDR), kept for incidents and MTTD.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// A stored alert with the entities it concerns.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<i64>,
    /// Sigma rule id, `ioc:<type>:<value>`, or the source's signature id.
    pub rule_id: String,
    pub title: String,
    /// `informational`, `low`, `medium`, `high`, `critical`.
    pub level: String,
    /// ATT&CK and other tags (`attack.t1003.001`).
    #[serde(default)]
    pub tags: Vec<String>,
    /// When the event happened, as the event says. Named `timestamp` in JSON, as in a
    /// `ctem detect` alert (the same field has one name everywhere); `event_time` is still read.
    #[serde(
        rename = "timestamp",
        alias = "event_time",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub event_time: Option<DateTime<Utc>>,
    /// When ctem detected it.
    pub detected_at: DateTime<Utc>,
    /// File or stream the event came from, and its record number there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub record: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub process: Option<String>,
    /// The matched event.
    pub event: serde_json::Value,
}
