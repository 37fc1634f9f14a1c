//! What a parser emits while it streams through a report.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{Asset, Exposure, Service};

/// A parser-local handle for an asset: the n-th asset record of this report. The store maps it
/// to a stored asset id when it resolves the asset's identity.
pub type AssetKey = u32;

/// One record of a parsed report. Parsers emit them in order: an asset before anything that
/// refers to its key.
#[derive(Debug, Clone, PartialEq)]
pub enum Record {
    /// Facts about the report as a whole.
    ScanInfo {
        /// The tool that produced the report when it is not the format's own name (SARIF
        /// runs name their driver, e.g. `semgrep`).
        tool: Option<String>,
        started_at: Option<DateTime<Utc>>,
        finished_at: Option<DateTime<Utc>>,
    },
    Asset {
        key: AssetKey,
        asset: Asset,
    },
    Service {
        asset: AssetKey,
        service: Service,
    },
    Exposure {
        asset: AssetKey,
        exposure: Box<Exposure>,
    },
    /// A software package installed in an asset (SBOM components), with or without known
    /// vulnerabilities: the asset's package inventory.
    Package {
        asset: AssetKey,
        package: crate::Package,
    },
    /// A record the parser skipped, and why.
    Issue(RecordIssue),
    /// How far into the input the parser is (bytes), emitted now and then by parsers that
    /// read from memory, for progress display and for releasing mapped pages behind it.
    Progress {
        offset: u64,
    },
}

/// A problem with one record of an otherwise readable report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordIssue {
    /// Where in the report: a JSON path (`Results[3].Vulnerabilities[7]`), an XML element
    /// path with its index, or `line N`.
    pub record: String,
    pub message: String,
}

impl RecordIssue {
    pub fn new(record: impl Into<String>, message: impl Into<String>) -> Self {
        RecordIssue {
            record: record.into(),
            message: message.into(),
        }
    }
}
