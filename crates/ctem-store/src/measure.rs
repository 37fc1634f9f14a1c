//! Storage for measurement: incidents, the facts KPIs are computed from, daily KPI
//! snapshots and review records.
//!
//! A part of the [`crate::Store`] contract (SQLite in `sqlite/measure.rs`). The store returns
//! counts and durations it can aggregate next to the data (a million exposures are never
//! loaded as records); what they mean is decided in `ctem-measure`.

use chrono::{DateTime, Utc};
use ctem_model::{AlertKind, Incident, IncidentState};
use serde::{Deserialize, Serialize};

use crate::Result;

/// An alert not yet grouped into an incident, with the keys grouping reads.
#[derive(Debug, Clone, PartialEq)]
pub struct UngroupedAlert {
    pub id: i64,
    pub rule_id: String,
    pub title: String,
    pub level: String,
    /// Marked by detection: a correlation alert opens an incident of its own.
    pub kind: AlertKind,
    pub tags: Vec<String>,
    /// Event time, or detection time when the event had none.
    pub time: DateTime<Utc>,
    pub detected_at: DateTime<Utc>,
    pub host: Option<String>,
    pub user: Option<String>,
}

/// One grouping pass to write: incidents to insert (`id: None`) or update, and the alerts
/// each takes (`(alert id, index into incidents)`).
#[derive(Debug, Clone, Default)]
pub struct Grouping {
    pub incidents: Vec<Incident>,
    pub links: Vec<(i64, usize)>,
}

/// One state change of an incident.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IncidentEvent {
    pub at: DateTime<Utc>,
    pub from: IncidentState,
    pub to: IncidentState,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub actor: Option<String>,
}

/// Exposure counts of one priority (0 = not prioritised yet, 1..4 = P1..P4).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct PriorityFacts {
    pub priority: u8,
    /// Open or reopened.
    pub open: u64,
    /// Open with a KEV entry.
    pub kev_open: u64,
    /// Open, KEV, on an internet-facing asset.
    pub kev_open_internet: u64,
    /// Open past the SLA due date.
    pub open_overdue: u64,
    /// Open with a due date not yet passed.
    pub open_in_time: u64,
    /// Fixed since the window start: fixed on or before the due date.
    pub fixed_in_time: u64,
    /// Fixed since the window start after the due date.
    pub fixed_late: u64,
    /// First seen since the window start (any status).
    pub new_in_window: u64,
    /// Fixed since the window start.
    pub fixed_in_window: u64,
    /// Seconds from first seen to fixed, of every exposure fixed since the window start.
    pub remediation_secs: Vec<i64>,
}

/// One scanner tool's footprint.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScannerFacts {
    pub tool: String,
    pub scans: u64,
    pub last_import: DateTime<Utc>,
}

/// One stream of alerts (their `source` file or stream).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EventSourceFacts {
    pub source: String,
    pub alerts: u64,
    pub last_detected: DateTime<Utc>,
}

/// An intelligence feed and when it last changed or was checked.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FeedFacts {
    pub name: String,
    pub checked_at: Option<DateTime<Utc>>,
    pub updated_at: Option<DateTime<Utc>>,
}

/// ATT&CK techniques known to the store, per tactic, and those that fired in alerts.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TacticFacts {
    pub tactic: String,
    pub techniques: u64,
    /// Techniques of this tactic named by an alert tag.
    pub alerted: u64,
}

/// A logsource detection saw events of (`ctem detect --store`, the server's event ingest):
/// the product, service and category the routing gave them (`None`: not named), how many
/// events, and when detection first and last saw some.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogsourceSighting {
    pub product: Option<String>,
    pub service: Option<String>,
    pub category: Option<String>,
    pub events: u64,
    pub first_seen: DateTime<Utc>,
    pub last_seen: DateTime<Utc>,
}

impl LogsourceSighting {
    /// Whether these events feed a rule written for this logsource: each part the rule names
    /// is the same here (the rule of `ctem_detect::source::SeenLogsource::feeds`).
    pub fn feeds(
        &self,
        product: Option<&str>,
        service: Option<&str>,
        category: Option<&str>,
    ) -> bool {
        let part = |want: Option<&str>, have: &Option<String>| {
            want.is_none_or(|w| have.as_deref() == Some(w))
        };
        part(product, &self.product)
            && part(service, &self.service)
            && part(category, &self.category)
    }
}

/// A detection rule as the last detection run that stored alerts loaded it: what the
/// technique coverage KPI counts as an enabled rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DetectionRule {
    pub rule_id: String,
    pub title: String,
    pub product: Option<String>,
    pub service: Option<String>,
    pub category: Option<String>,
    pub tags: Vec<String>,
}

/// Everything KPIs and reports are computed from, read in one pass per table.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct MeasureFacts {
    /// Alerts detected since the window start that carry an event time, and the sum of
    /// their delays (detected at - event time), in seconds.
    pub alerts_timed: u64,
    pub alerts_delay_secs: i64,
    /// Alerts detected since the window start without an event time.
    pub alerts_untimed: u64,
    /// Correlation alerts (marked by detection) detected since the window start.
    pub alerts_correlation: u64,
    /// Every stored alert.
    pub alerts_total: u64,
    /// KEV catalogue entries loaded (0: KEV KPIs cannot be computed).
    pub kev_entries: u64,
    /// Per priority, 0..=4.
    pub priorities: Vec<PriorityFacts>,
    pub assets: u64,
    /// Assets last seen by a scan at or after the scan cutoff.
    pub assets_recent: u64,
    /// Assets with an internet-facing flag set (true or false).
    pub assets_exposure_known: u64,
    pub assets_internet_facing: u64,
    pub assets_without_owner: u64,
    /// Assets no scan has ever reported (only an inventory named them).
    pub assets_never_scanned: u64,
    /// Open services on internet-facing assets, and their distinct (protocol, port) pairs.
    pub internet_services: u64,
    pub internet_ports: u64,
    /// Every incident (few: they are loaded whole).
    pub incidents: Vec<Incident>,
    pub scanners: Vec<ScannerFacts>,
    /// Filled by [`MeasureStore::source_facts`] (the assessment), empty otherwise.
    pub event_sources: Vec<EventSourceFacts>,
    pub feeds: Vec<FeedFacts>,
    pub tactics: Vec<TacticFacts>,
    /// Logsources detection saw, by product, service, category.
    pub logsources: Vec<LogsourceSighting>,
    /// The enabled rules (of the last detection run that stored alerts).
    pub rules: Vec<DetectionRule>,
}

/// One day's KPI values as JSON, keyed by date (`YYYY-MM-DD`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    pub day: String,
    pub taken_at: DateTime<Utc>,
    pub data: String,
}

/// A review that happened.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReviewRecord {
    pub id: i64,
    pub at: DateTime<Utc>,
    pub since: Option<DateTime<Utc>>,
    /// The review's own summary (KPI values and goal statuses) as JSON.
    pub data: String,
}

/// Storage for measurement.
pub trait MeasureStore {
    /// Alerts not in any incident, oldest first (by event time, then id).
    fn ungrouped_alerts(&self) -> Result<Vec<UngroupedAlert>>;
    /// Incidents not resolved nor false positive.
    fn open_incidents(&self) -> Result<Vec<Incident>>;
    /// Writes a grouping pass in one transaction; returns the ids of its incidents.
    fn save_grouping(&mut self, g: &Grouping) -> Result<Vec<i64>>;
    /// Every incident, newest first.
    fn incidents(&self) -> Result<Vec<Incident>>;
    fn incident(&self, id: i64) -> Result<Option<Incident>>;
    /// The ids of an incident's alerts.
    fn incident_alert_ids(&self, id: i64) -> Result<Vec<i64>>;
    fn incident_events(&self, id: i64) -> Result<Vec<IncidentEvent>>;
    /// Moves an incident to `state`, stamping the state's time (kept when set before).
    fn set_incident_state(
        &mut self,
        id: i64,
        state: IncidentState,
        at: DateTime<Utc>,
        actor: Option<&str>,
    ) -> Result<Incident>;
    /// The facts for KPIs: windowed ones from `since` (alerts, fixes), SLA against `today`,
    /// assets counted recent when seen at or after `scan_cutoff`.
    fn measure_facts(
        &self,
        since: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
        scan_cutoff: DateTime<Utc>,
    ) -> Result<MeasureFacts>;
    /// Adds what only the assessment reads (alert streams, feeds, ATT&CK tactics): grouped
    /// reads over every alert that KPIs do not need.
    fn source_facts(&self, f: &mut MeasureFacts) -> Result<()>;
    /// Writes the day's snapshot; an existing one is kept unless `replace`. True if written.
    fn put_snapshot(&mut self, snap: &Snapshot, replace: bool) -> Result<bool>;
    /// Whether a snapshot of `day` exists (the cheap check of the daily hook).
    fn has_snapshot(&self, day: &str) -> Result<bool>;
    /// Every snapshot, oldest first.
    fn snapshots(&self) -> Result<Vec<Snapshot>>;
    fn add_review(
        &mut self,
        at: DateTime<Utc>,
        since: Option<DateTime<Utc>>,
        data: &str,
    ) -> Result<i64>;
    fn last_review(&self) -> Result<Option<ReviewRecord>>;
    /// Adds one detection run's sightings: events are summed per (product, service,
    /// category), the first sighting keeps the earliest time and the last the latest.
    fn record_logsources(&mut self, seen: &[LogsourceSighting]) -> Result<()>;
    /// Every logsource detection saw, ordered by product, service, category.
    fn seen_logsources(&self) -> Result<Vec<LogsourceSighting>>;
    /// Replaces the enabled rules with the rules of a detection run (`at`: its time).
    fn record_rules(&mut self, rules: &[DetectionRule], at: DateTime<Utc>) -> Result<()>;
    /// The enabled rules, by rule id.
    fn detection_rules(&self) -> Result<Vec<DetectionRule>>;
}
