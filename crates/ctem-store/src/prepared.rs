//! Preparing exposures for storage: everything an import does to a record that needs no
//! database (fingerprint, content hash, splitting into shared detail and instance, JSON
//! encoding). Backend-neutral, and cheap to run on another thread than the one that writes:
//! the CLI prepares on a parser thread while the store writes on the main one.

use std::collections::HashMap;
use std::sync::Arc;

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
    /// Shared by every exposure of a report with the same detail (encoded once).
    pub detail_json: Arc<str>,
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
    /// The JSON of details seen in this report, by content hash: most findings of a large
    /// report share their detail (one CVE on many assets), so it is encoded once.
    details: HashMap<[u8; 16], Arc<str>>,
}

/// Details remembered per report; past this the memory is cleared and refilled (a report of
/// a million distinct details must not keep them all).
const DETAIL_CACHE: usize = 1 << 16;

impl Preparer {
    /// `tool`: the format's tool name until the report names its own.
    pub fn new(tool: &str) -> Self {
        Preparer {
            tool: tool.to_string(),
            details: HashMap::new(),
        }
    }

    pub fn prepare(&mut self, r: Record) -> Result<Prepared> {
        match r {
            Record::Exposure { asset, exposure } => Ok(Prepared::Exposure(Box::new(prepare_with(
                &self.tool,
                asset,
                *exposure,
                &mut self.details,
            )?))),
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
    prepare_with(tool, asset, e, &mut HashMap::new())
}

fn prepare_with(
    tool: &str,
    asset: AssetKey,
    e: Exposure,
    details: &mut HashMap<[u8; 16], Arc<str>>,
) -> Result<PreparedExposure> {
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
    let detail_hash = detail_hash(&detail);
    let detail_json = match details.get(&detail_hash) {
        Some(json) => Arc::clone(json),
        None => {
            let json: Arc<str> = to_json(&detail)?.into();
            if details.len() >= DETAIL_CACHE {
                details.clear();
            }
            details.insert(detail_hash, Arc::clone(&json));
            json
        }
    };
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

/// The content address of a detail: SHA-256 over its fields, each length-prefixed (no JSON
/// encoding needed to know whether a detail was seen before).
fn detail_hash(d: &Detail) -> [u8; 16] {
    fn text(h: &mut Sha256, s: &str) {
        h.update((s.len() as u64).to_le_bytes());
        h.update(s.as_bytes());
    }
    fn opt(h: &mut Sha256, s: Option<&str>) {
        match s {
            None => h.update([0]),
            Some(s) => {
                h.update([1]);
                text(h, s);
            }
        }
    }
    fn list(h: &mut Sha256, l: &[String]) {
        h.update((l.len() as u64).to_le_bytes());
        for s in l {
            text(h, s);
        }
    }
    let mut h = Sha256::new();
    h.update(b"detail-v2");
    text(&mut h, &d.title);
    opt(&mut h, d.description.as_deref());
    list(&mut h, &d.cves);
    list(&mut h, &d.advisories);
    list(&mut h, &d.cwes);
    opt(&mut h, d.rule_id.as_deref());
    h.update((d.cvss.len() as u64).to_le_bytes());
    for c in &d.cvss {
        text(&mut h, &c.version);
        opt(&mut h, c.vector.as_deref());
        match c.score {
            None => h.update([0]),
            Some(x) => {
                h.update([1]);
                h.update(x.to_bits().to_le_bytes());
            }
        }
        opt(&mut h, c.source.as_deref());
    }
    list(&mut h, &d.references);
    let d = h.finalize();
    let mut out = [0u8; 16];
    out.copy_from_slice(&d[..16]);
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

/// The per-finding part of an exposure (the `instance` column). The package's name, version
/// and fixed version live in their own columns; `pkg` keeps the rest.
#[derive(serde::Serialize, serde::Deserialize, Default)]
pub(crate) struct Instance {
    /// The whole package, as rows written before the `pkg_*` columns were the source hold it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub package: Option<ctem_model::Package>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pkg: Option<PackageRest>,
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

/// What the `instance` column keeps of a package beside the `pkg_*` columns.
#[derive(serde::Serialize, serde::Deserialize, Default)]
pub(crate) struct PackageRest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ecosystem: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
}

impl Instance {
    /// The package, from the `pkg_*` columns and what this instance keeps.
    pub(crate) fn package(
        &mut self,
        name: Option<String>,
        version: Option<String>,
        fixed_version: Option<String>,
    ) -> Option<ctem_model::Package> {
        if let Some(p) = self.package.take() {
            return Some(p);
        }
        let rest = self.pkg.take().unwrap_or_default();
        Some(ctem_model::Package {
            name: name?,
            version,
            fixed_version,
            ecosystem: rest.ecosystem,
            path: rest.path,
        })
    }
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
            package: None,
            pkg: e.package.and_then(|p| {
                (p.ecosystem.is_some() || p.path.is_some()).then_some(PackageRest {
                    ecosystem: p.ecosystem,
                    path: p.path,
                })
            }),
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
