//! What a pass is given and what it reports.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use ctem_model::intel::Enrichment;
use ctem_model::work::{OwnershipRule, Team};
use ctem_risk::{RiskModel, SlaConfig};
use serde::Serialize;

/// Threat intelligence by CVE id, as the prioritisation reads it.
pub trait IntelLookup {
    fn enrichment(&self, cve: &str) -> Option<&Enrichment>;
}

impl IntelLookup for HashMap<String, Enrichment> {
    fn enrichment(&self, cve: &str) -> Option<&Enrichment> {
        self.get(cve)
    }
}

/// Everything a pass needs.
pub struct Prioritize<'a> {
    pub model: &'a RiskModel,
    pub sla: &'a SlaConfig,
    /// KEV and EPSS by CVE; `None` reads the store's own enrichment (the intel stage's
    /// per-CVE rows). Exposures whose CVE has none are scored without intel.
    pub intel: Option<&'a dyn IntelLookup>,
    /// Ownership rules from the configuration file; stored (replacing earlier ones from the
    /// file) before routing. `None` leaves the stored rules as they are.
    pub config_rules: Option<&'a [OwnershipRule]>,
    /// Teams declared in the configuration file (created when missing).
    pub config_teams: &'a [Team],
    /// Context rules from the configuration file (`[[context.rules]]`), applied on top of
    /// the stored asset facts in the documented order (`ctem_model::context`).
    pub context: &'a [ctem_model::context::ContextRule],
    /// Also regroup tickets.
    pub tickets: bool,
    pub now: DateTime<Utc>,
}

/// What a pass did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct PrioritizeSummary {
    /// Exposures scored (every status).
    pub scored: u64,
    /// Open or reopened exposures, by priority P1..P4.
    pub open_by_priority: [u64; 4],
    pub tickets_created: u64,
    pub tickets_updated: u64,
    pub tickets_verified: u64,
    pub tickets_reopened: u64,
    /// Milliseconds spent scoring and storing scores.
    pub score_ms: u64,
    /// Milliseconds spent regrouping tickets.
    pub tickets_ms: u64,
    /// Only the exposures an import or an intelligence change touched were scored (and the
    /// ticket groups they are in); `scored` and `open_by_priority` count those.
    pub incremental: bool,
}
