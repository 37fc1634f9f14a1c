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
    /// What raised it: one event, or a correlation over many (set by detection itself).
    #[serde(default, skip_serializing_if = "AlertKind::is_event")]
    pub kind: AlertKind,
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

/// What an alert stands for. Detection marks it: a Sigma correlation rule (event count, value
/// count, temporal) raises a `correlation` alert, every other rule, indicator or source
/// alert an `event` one. Incident grouping reads the mark, never tags or rule names.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertKind {
    /// One event matched.
    #[default]
    Event,
    /// A correlation over many events (the last one is kept as the alert's event).
    Correlation,
}

impl AlertKind {
    pub fn is_event(&self) -> bool {
        *self == AlertKind::Event
    }

    /// The name stored and printed (`event`, `correlation`).
    pub fn as_str(&self) -> &'static str {
        match self {
            AlertKind::Event => "event",
            AlertKind::Correlation => "correlation",
        }
    }

    /// The kind of a stored name; anything else is an event alert.
    pub fn from_name(s: &str) -> Self {
        if s == "correlation" {
            AlertKind::Correlation
        } else {
            AlertKind::Event
        }
    }
}
