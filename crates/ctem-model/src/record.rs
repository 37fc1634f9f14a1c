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
        /// What the report speaks for, which decides what its import may close.
        covers: Coverage,
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

/// What a report speaks for: the store closes, at commit, what the report covers and did not
/// report again (docs/data-model.md, "Lifecycle").
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Coverage {
    /// A scan: it speaks for the assets it reports (or, with `--scope`, the whole scope), so
    /// what it no longer reports there is fixed.
    #[default]
    Assets,
    /// A document of statements (a VEX, a security advisory): it speaks only for the
    /// (product, vulnerability) pairs it states, and closes nothing it does not mention.
    Statements,
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
