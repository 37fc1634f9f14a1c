//! Scans (imported reports) and the import summary.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::RecordIssue;

/// One imported report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Scan {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<i64>,
    /// The tool that produced the report (`nmap`, `nessus`, `trivy`, or a SARIF driver).
    pub tool: String,
    /// The parser that read it.
    pub format: String,
    /// The lifecycle scope (`--scope`); `default` when none was given.
    pub scope: String,
    /// Whether `scope` was given explicitly: an explicit scope means the report covers all of
    /// it, so exposures of absent assets are closed too (docs/data-model.md).
    pub explicit_scope: bool,
    pub file: String,
    pub sha256: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<DateTime<Utc>>,
    pub imported_at: DateTime<Utc>,
    pub summary: ImportSummary,
}

/// Counts of one import, as `ctem import --json` prints them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportSummary {
    pub file: String,
    pub format: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scan_id: Option<i64>,
    pub assets: AssetCounts,
    pub services: u64,
    /// Packages of the assets' inventories (SBOM components) seen in the report.
    #[serde(default)]
    pub packages: u64,
    pub exposures: ExposureCounts,
    pub issues: Vec<RecordIssue>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AssetCounts {
    pub new: u64,
    pub merged: u64,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExposureCounts {
    pub new: u64,
    pub unchanged: u64,
    /// Seen again with changed details (severity, version, description).
    #[serde(default)]
    pub updated: u64,
    pub fixed: u64,
    pub reopened: u64,
}
