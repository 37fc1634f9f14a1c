//! Incidents: alerts grouped by what they concern (a host, a user, a correlation), with a
//! severity, an owner from the incident-responder role, a state and the time of each state.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Where an incident stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IncidentState {
    New,
    Acknowledged,
    Contained,
    Resolved,
    FalsePositive,
}

impl IncidentState {
    pub const ALL: [IncidentState; 5] = [
        IncidentState::New,
        IncidentState::Acknowledged,
        IncidentState::Contained,
        IncidentState::Resolved,
        IncidentState::FalsePositive,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            IncidentState::New => "new",
            IncidentState::Acknowledged => "acknowledged",
            IncidentState::Contained => "contained",
            IncidentState::Resolved => "resolved",
            IncidentState::FalsePositive => "false_positive",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|x| x.as_str() == s || x.as_str().replace('_', "-") == s)
    }

    /// Resolved or false positive: no alert joins it any more.
    pub fn is_closed(self) -> bool {
        matches!(self, IncidentState::Resolved | IncidentState::FalsePositive)
    }
}

impl std::fmt::Display for IncidentState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An incident as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Incident {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<i64>,
    /// What grouped its alerts: `host`, `user`, `correlation` or `rule`.
    pub key_kind: String,
    /// The host, user or rule id.
    pub key_value: String,
    pub title: String,
    /// The highest level of its alerts (`informational` .. `critical`).
    pub severity: String,
    pub state: IncidentState,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    /// Alerts grouped into it.
    pub alerts: u64,
    /// The earliest event time of its alerts (the detection time when an event has none).
    pub first_event: DateTime<Utc>,
    /// The latest alert time: the grouping window runs from here.
    pub last_event: DateTime<Utc>,
    /// When its first alert was detected (the incident opened).
    pub detected_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acknowledged_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contained_at: Option<DateTime<Utc>>,
    /// When it was resolved or marked a false positive.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolved_at: Option<DateTime<Utc>>,
}
