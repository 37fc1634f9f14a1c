//! Preparing exposures for storage: everything an import does to a record that needs no
//! database (fingerprint, content hash, splitting into shared detail and instance, JSON
//! encoding). Backend-neutral, and cheap to run on another thread than the one that writes:
//! the CLI prepares on a parser thread while the store writes on the main one.

use ctem_model::{AssetKey, Exposure, ExposureKind, Record, Severity};
use sha2::{Digest, Sha256};

use crate::{Error, Result};

/// An exposure ready to be written.
#[derive(Debug, Clone)]
pub struct PreparedExposure {
    pub asset: AssetKey,
    pub fingerprint: [u8; 16],
    pub content_hash: [u8; 8],
    pub kind: ExposureKind,
    pub severity: Severity,
    pub cve: Option<String>,
    pub rule_id: Option<String>,
    pub title: String,
    pub pkg_name: Option<String>,
    pub pkg_version: Option<String>,
    pub fixed_version: Option<String>,
    pub port: Option<u16>,
    pub detail_json: String,
    pub detail_hash: [u8; 16],
    pub instance_json: String,
    /// A status the report itself decides (a VEX `not_affected` statement): applied to this
    /// exposure and to the matching stored one, with the reason.
    pub decided: Option<(ctem_model::ExposureStatus, String)>,
}

/// A parser record after preparation: exposures prepared, everything else as it was.
#[derive(Debug, Clone)]
pub enum Prepared {
    Record(Record),
    Exposure(Box<PreparedExposure>),
}

/// Prepares the records of one report. It follows the report's `ScanInfo` tool, which
/// fingerprints depend on.
#[derive(Debug, Clone)]
pub struct Preparer {
    tool: String,
}

impl Preparer {
    /// `tool`: the format's tool name until the report names its own.
    pub fn new(tool: &str) -> Self {
        Preparer {
            tool: tool.to_string(),
        }
    }

    pub fn prepare(&mut self, r: Record) -> Result<Prepared> {
        match r {
            Record::Exposure { asset, exposure } => Ok(Prepared::Exposure(Box::new(
                prepare_exposure(&self.tool, asset, *exposure)?,
            ))),
            Record::ScanInfo {
                tool: Some(ref t), ..
            } => {
                self.tool = t.clone();
                Ok(Prepared::Record(r))
            }
            other => Ok(Prepared::Record(other)),
        }
    }
}

/// Prepares one exposure found by `tool` on the report's asset `asset`.
pub fn prepare_exposure(tool: &str, asset: AssetKey, e: Exposure) -> Result<PreparedExposure> {
    let fingerprint = e.fingerprint(tool).0;
    let decided = (e.status != ctem_model::ExposureStatus::Open).then(|| {
        let why = e
            .solution
            .as_deref()
            .and_then(|s| s.lines().next())
            .unwrap_or("decided by the report");
        (e.status, format!("{tool}: {why}"))
    });
    let content_hash = content_hash(&e);
    let (kind, severity, cve) = (e.kind, e.severity, e.cves.first().cloned());
    let (pkg_name, pkg_version, fixed_version) = match &e.package {
        Some(p) => (
            Some(p.name.clone()),
            p.version.clone(),
            p.fixed_version.clone(),
        ),
        None => (None, None, None),
    };
    let (detail, instance) = split(e);
    let detail_json = to_json(&detail)?;
    let d = Sha256::digest(detail_json.as_bytes());
    let mut detail_hash = [0u8; 16];
    detail_hash.copy_from_slice(&d[..16]);
    Ok(PreparedExposure {
        asset,
        fingerprint,
        content_hash,
        kind,
        severity,
        cve,
        rule_id: detail.rule_id,
        title: detail.title,
        pkg_name,
        pkg_version,
        fixed_version,
        port: instance.port,
        detail_json,
        detail_hash,
        instance_json: to_json(&instance)?,
        decided,
    })
}

/// A hash of the details that make an exposure "updated" when they change between scans.
pub(crate) fn content_hash(e: &Exposure) -> [u8; 8] {
    let mut h = Sha256::new();
    h.update(e.title.as_bytes());
    h.update([0, e.severity as u8]);
    if let Some(p) = &e.package {
        h.update(p.version.as_deref().unwrap_or("").as_bytes());
        h.update([0]);
        h.update(p.fixed_version.as_deref().unwrap_or("").as_bytes());
    }
    h.update([0]);
    h.update(e.description.as_deref().unwrap_or("").as_bytes());
    for c in &e.cvss {
        h.update([0]);
        h.update(c.vector.as_deref().unwrap_or("").as_bytes());
        h.update(c.score.unwrap_or(-1.0).to_le_bytes());
    }
    let d = h.finalize();
    let mut out = [0u8; 8];
    out.copy_from_slice(&d[..8]);
    out
}

/// The shared part of an exposure (see `exposure_details`).
#[derive(serde::Serialize, serde::Deserialize)]
pub(crate) struct Detail {
    pub title: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cves: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub advisories: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cwes: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule_id: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cvss: Vec<ctem_model::Cvss>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub references: Vec<String>,
}

/// The per-finding part of an exposure (the `instance` column).
#[derive(serde::Serialize, serde::Deserialize, Default)]
pub(crate) struct Instance {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub package: Option<ctem_model::Package>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<ctem_model::Location>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evidence: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub solution: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_key: Option<String>,
}

/// Splits an exposure into its shared detail and its instance.
pub(crate) fn split(e: Exposure) -> (Detail, Instance) {
    (
        Detail {
            title: e.title,
            description: e.description,
            cves: e.cves,
            advisories: e.advisories,
            cwes: e.cwes,
            rule_id: e.rule_id,
            cvss: e.cvss,
            references: e.references,
        },
        Instance {
            package: e.package,
            location: e.location,
            port: e.port,
            protocol: e.protocol,
            evidence: e.evidence,
            solution: e.solution,
            tool_key: e.tool_key,
        },
    )
}

pub(crate) fn to_json<T: serde::Serialize>(v: &T) -> Result<String> {
    serde_json::to_string(v).map_err(|e| Error::Invalid(e.to_string()))
}
