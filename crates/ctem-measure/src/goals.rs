//! Goals: targets on KPIs declared in ctem.toml, and where each stands.
//!
//! Status: `met` when the current value satisfies the target; `missed` when it does not and
//! the due date has passed; before the due date, `on_track` when the trend (the slope from
//! the oldest snapshot in the trend window to today's value) projected to the due date
//! satisfies the target, else `at_risk` (also when there is no trend yet, or no due date);
//! `unknown` when the KPI cannot be computed.

use chrono::{DateTime, NaiveDate, Utc};
use ctem_store::measure::Snapshot;
use serde::{Deserialize, Serialize};

use crate::kpi::{Kpi, snapshot_values};
use crate::{Error, Result};

/// One `[[goals]]` entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GoalConfig {
    /// The KPI id (`mttr.critical_days`, `coverage.scanned_assets`).
    pub kpi: String,
    /// `<=`, `<`, `>=`, `>` or `==`.
    pub op: String,
    pub target: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub due: Option<NaiveDate>,
    /// A name for reports; the KPI id and target otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// Checks every goal names a known KPI and a known operator.
pub fn validate(goals: &[GoalConfig]) -> Result<()> {
    let ids = crate::kpi::ids();
    for (i, g) in goals.iter().enumerate() {
        let err = |m: String| Error::Goal {
            index: i + 1,
            kpi: g.kpi.clone(),
            message: m,
        };
        if !ids.contains(&g.kpi) {
            return Err(err(format!("unknown kpi: one of {}", ids.join(", "))));
        }
        if !["<=", "<", ">=", ">", "=="].contains(&g.op.as_str()) {
            return Err(err(format!("unknown op {:?}: <=, <, >=, > or ==", g.op)));
        }
        if !g.target.is_finite() {
            return Err(err("target must be a number".into()));
        }
    }
    Ok(())
}

fn holds(op: &str, v: f64, target: f64) -> bool {
    match op {
        "<=" => v <= target + 1e-9,
        "<" => v < target,
        ">=" => v >= target - 1e-9,
        ">" => v > target,
        _ => (v - target).abs() < 1e-9,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Met,
    OnTrack,
    AtRisk,
    Missed,
    Unknown,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Met => "met",
            Status::OnTrack => "on_track",
            Status::AtRisk => "at_risk",
            Status::Missed => "missed",
            Status::Unknown => "unknown",
        }
    }
}

/// Where one goal stands.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GoalStatus {
    pub goal: GoalConfig,
    pub status: Status,
    pub value: Option<f64>,
    /// Change per week from the trend window's first snapshot to today.
    pub trend_per_week: Option<f64>,
    /// The trend carried to the due date.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub projected: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub missing: Option<String>,
    /// What moves the KPI.
    pub moves: String,
}

/// What changes a KPI, for the goals listing and the report's actions.
pub fn moves(kpi: &str) -> &'static str {
    match kpi.split('.').next().unwrap_or("") {
        "mttd" => {
            "more log sources routed to detection, rules on the techniques seen, faster event shipping"
        }
        "mttr" if kpi == "mttr.hours" => {
            "acknowledge and contain incidents sooner: on-call responders, playbooks"
        }
        "mttr" | "remediate" => {
            "patch the open exposures of that priority: tickets to the owning teams, fewer exceptions"
        }
        "sla" => "work the overdue exposures first (`ctem top`), then those due soonest",
        "open" => "fix or triage open exposures of that priority (`ctem top`, `ctem tickets`)",
        "kev_open" => "patch KEV-listed exposures first, internet-facing ones the same day",
        "surface" => "close unneeded internet-facing services and ports; retire unused assets",
        "coverage" if kpi == "coverage.techniques" => {
            "enable rules for uncovered techniques and onboard their log sources"
        }
        "coverage" => {
            "scan every known asset on a schedule; import the inventory to find the unscanned"
        }
        "incidents" => "prevent repeat incidents: fix the exposures and detections they reveal",
        _ => "",
    }
}

/// Evaluates goals against current KPIs and the snapshot history. `trend_days` bounds the
/// history the trend is read from.
pub fn evaluate(
    goals: &[GoalConfig],
    kpis: &[Kpi],
    snapshots: &[Snapshot],
    now: DateTime<Utc>,
    trend_days: i64,
) -> Result<Vec<GoalStatus>> {
    let today = now.date_naive();
    let mut history = Vec::new();
    for s in snapshots {
        let Ok(day) = NaiveDate::parse_from_str(&s.day, "%Y-%m-%d") else {
            continue;
        };
        if day < today && (today - day).num_days() <= trend_days {
            history.push((day, snapshot_values(s)?));
        }
    }
    let mut out = Vec::new();
    for g in goals {
        let k = kpis.iter().find(|k| k.id == g.kpi);
        let value = k.and_then(|k| k.value);
        let first = history
            .iter()
            .find_map(|(d, m)| m.get(&g.kpi).copied().flatten().map(|v| (*d, v)));
        let slope = match (first, value) {
            (Some((d, v0)), Some(v)) => Some((v - v0) / (today - d).num_days().max(1) as f64),
            _ => None,
        };
        let projected = match (slope, value, g.due) {
            (Some(s), Some(v), Some(due)) if due >= today => {
                Some(v + s * (due - today).num_days() as f64)
            }
            _ => None,
        };
        let status = match value {
            None => Status::Unknown,
            Some(v) if holds(&g.op, v, g.target) => Status::Met,
            Some(_) if g.due.is_some_and(|d| today > d) => Status::Missed,
            Some(_) if projected.is_some_and(|p| holds(&g.op, p, g.target)) => Status::OnTrack,
            Some(_) => Status::AtRisk,
        };
        out.push(GoalStatus {
            goal: g.clone(),
            status,
            value,
            trend_per_week: slope.map(|s| (s * 7.0 * 1000.0).round() / 1000.0),
            projected: projected.map(|p| (p * 1000.0).round() / 1000.0),
            missing: if value.is_none() {
                k.and_then(|k| k.missing.clone())
            } else {
                None
            },
            moves: moves(&g.kpi).to_string(),
        });
    }
    Ok(out)
}
