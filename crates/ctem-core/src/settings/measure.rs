//! `[incidents]`, `[kpi]` and `[[goals]]` (read by ctem-measure) and `[serve]` (read by
//! `ctem serve`).

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

pub use ctem_measure::goals::GoalConfig;
pub use ctem_measure::incidents::{IncidentSettings, IncidentsConfig};
pub use ctem_measure::kpi::KpiConfig;

/// `[serve]`: the server's defaults (flags override them).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServeConfig {
    /// Address to listen on.
    pub listen: Option<String>,
    /// Sigma rule folders for `POST /api/v1/events`.
    pub rules: Vec<PathBuf>,
    /// Events waiting for detection before the server answers 429.
    pub events_queue: Option<usize>,
    /// Threads of a detection batch.
    pub detect_threads: Option<usize>,
}

/// The measurement sections, built.
#[derive(Debug, Clone)]
pub struct MeasureSettings {
    pub incidents: IncidentSettings,
    pub kpi: KpiConfig,
    pub goals: Vec<GoalConfig>,
}

/// Validates `[incidents]` and `[[goals]]`. Errors are `(key, message)`.
pub fn build(
    incidents: IncidentsConfig,
    kpi: KpiConfig,
    goals: Vec<GoalConfig>,
) -> Result<MeasureSettings, Vec<(String, String)>> {
    let mut errors = Vec::new();
    let incidents = incidents
        .build()
        .map_err(|e| errors.push(("incidents".into(), e.to_string())))
        .ok();
    if let Err(e) = ctem_measure::goals::validate(&goals) {
        errors.push(("goals".into(), e.to_string()));
    }
    match incidents {
        Some(incidents) if errors.is_empty() => Ok(MeasureSettings {
            incidents,
            kpi,
            goals,
        }),
        _ => Err(errors),
    }
}
