//! Storage of threat intelligence (indicators, KEV, EPSS, ATT&CK, CVE records) and exposure
//! enrichment.
//!
//! A part of the [`crate::Store`] contract: every backend implements it (SQLite in
//! `sqlite/intel.rs`).
//!
//! - **One batch, one transaction.** [`IntelStore::import_intel`] writes everything one input
//!   produced (an [`IntelBatch`]) and re-runs the enrichment pass before it commits, so a
//!   failed import writes nothing and a successful one is visible already enriched.
//! - **Re-import updates.** An indicator is keyed by `(type, value, source)`: importing the
//!   same feed again updates confidence, TLP, validity and revocation, keeps the earliest
//!   `first_seen` and the latest `last_seen`, and never duplicates. KEV entries, EPSS scores
//!   and CVE records are keyed by CVE id, ATT&CK objects by STIX id.
//! - **Enrichment per CVE.** The pass ([`IntelStore::enrich_exposures`]) joins the CVEs the
//!   stored exposures name (their first CVE, the indexed `exposures.cve` column) with the KEV,
//!   EPSS and CVE-record tables and keeps one row per CVE; reading an exposure joins that row
//!   into [`ctem_model::Exposure::intel`]. A million exposures share far fewer CVEs, so the
//!   pass stays in the low seconds; the CVE-record description, CWEs and CVSS are given only
//!   for what the exposure itself lacks.

use chrono::{DateTime, Utc};
use ctem_model::intel::{CveRecord, EpssScore, Indicator, IndicatorType, KevEntry, Relationship};
use serde::Serialize;

use crate::Result;

/// One ATT&CK (or other STIX domain) object kept for later stages: technique, tactic,
/// mitigation, group, software, data source or component.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AttackObject {
    pub stix_id: String,
    /// `technique`, `tactic`, `mitigation`, `group`, `software`, `data_source`,
    /// `data_component`.
    pub kind: String,
    /// The ATT&CK id (`T1059.001`), else the STIX id.
    pub id: String,
    pub name: String,
    pub revoked: bool,
    pub deprecated: bool,
    /// The model record as JSON.
    pub data: String,
}

/// Everything one intelligence input produced, written in one transaction.
#[derive(Debug, Clone, Default)]
pub struct IntelBatch {
    /// The file or feed name.
    pub source: String,
    /// The intel kind (`kev`, `epss`, ...).
    pub kind: String,
    pub indicators: Vec<Indicator>,
    pub kev: Vec<KevEntry>,
    pub epss: Vec<EpssScore>,
    pub cves: Vec<CveRecord>,
    pub attack: Vec<AttackObject>,
    pub relationships: Vec<Relationship>,
}

/// What an intel import changed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct IntelSummary {
    pub indicators_new: u64,
    pub indicators_updated: u64,
    pub kev: u64,
    pub epss: u64,
    pub cves: u64,
    pub attack_objects: u64,
    pub relationships: u64,
    /// CVEs of stored exposures with intelligence after the enrichment pass.
    pub enriched_cves: u64,
}

/// Which indicators to list.
#[derive(Debug, Clone, Default)]
pub struct IndicatorFilter {
    pub kind: Option<IndicatorType>,
    pub source: Option<String>,
    /// Only those not revoked and not past `valid_until` at this instant.
    pub active_at: Option<DateTime<Utc>>,
    pub limit: Option<usize>,
}

/// The conditional-GET state of one configured feed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct FeedState {
    pub name: String,
    pub url: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub etag: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_modified: Option<String>,
    /// When it was last fetched (200 or 304).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checked_at: Option<DateTime<Utc>>,
    /// When content last changed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
}

/// Row counts of the intel tables.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct IntelCounts {
    pub indicators: u64,
    pub kev: u64,
    pub epss: u64,
    pub cves: u64,
    pub attack_objects: u64,
    pub relationships: u64,
    pub enriched_cves: u64,
}

/// Storage of threat intelligence and exposure enrichment.
pub trait IntelStore {
    /// Writes one batch and re-runs the enrichment pass, in one transaction.
    fn import_intel(&mut self, batch: IntelBatch) -> Result<IntelSummary>;
    /// Re-computes the enrichment of every stored exposure's CVE; returns how many CVEs have
    /// intelligence. Run after every scan import and every intel import.
    fn enrich_exposures(&mut self) -> Result<u64>;
    /// Indicators, ordered by type and value.
    fn indicators(&self, filter: &IndicatorFilter) -> Result<Vec<Indicator>>;
    /// ATT&CK objects of one kind (all kinds when `None`), ordered by id.
    fn attack_objects(&self, kind: Option<&str>) -> Result<Vec<AttackObject>>;
    /// The relationships (`mitigates`, `detects`, `subtechnique-of`, `uses`, ...) one of
    /// whose ends has the ATT&CK id `attack_id`, ordered by type and ends.
    fn attack_relationships(&self, attack_id: &str) -> Result<Vec<Relationship>>;
    fn feed_state(&self, name: &str) -> Result<Option<FeedState>>;
    fn set_feed_state(&mut self, state: &FeedState) -> Result<()>;
    fn intel_counts(&self) -> Result<IntelCounts>;
}
