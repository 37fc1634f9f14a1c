//! Preparing exposures for storage: everything an import does to a record that needs no
//! database (fingerprint, content hash, splitting into shared detail and instance, JSON
//! encoding). Backend-neutral, and cheap to run on another thread than the one that writes:
//! the CLI prepares on a parser thread while the store writes on the main one.

use std::hash::Hasher;

use ctem_model::{AssetKey, Exposure, ExposureKind, Record, Severity};
use sha2::{Digest, Sha256};

use crate::fx::{Fx, FxMap};
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
    /// The detail's JSON, on the first exposure of a report with this detail only (the
    /// store remembers it by `detail_hash`; later ones carry `None`).
    pub detail_json: Option<String>,
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
    details: DetailCache,
}

impl Preparer {
    /// `tool`: the format's tool name until the report names its own.
    pub fn new(tool: &str) -> Self {
        Preparer {
            tool: tool.to_string(),
            details: DetailCache::default(),
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

/// The details seen in one report: most findings of a large report share their detail (one
/// CVE on many assets), so each distinct detail is hashed with SHA-256 and encoded as JSON
/// once, and its JSON travels to the store once. A detail is looked up by its fields written
/// one after the other (length-prefixed, see `walk_detail`): a fast hash of those bytes finds
/// the entry and comparing the bytes confirms it (one contiguous comparison, where comparing
/// the structures field by field chased a dozen cold pointers). Two details under one fast
/// hash (a collision) are both correct: the second is simply not remembered.
#[derive(Debug, Clone, Default)]
struct DetailCache {
    by_hash: FxMap<u64, Cached>,
    /// The fields of the detail being resolved.
    buf: Vec<u8>,
    /// About the memory the entries hold.
    bytes: usize,
}

#[derive(Debug, Clone)]
struct Cached {
    fields: Box<[u8]>,
    hash: [u8; 16],
}

/// Memory for the details remembered per report; past this the cache is cleared and refilled
/// (a report of a million distinct details must not keep them all; after a clear a detail's
/// JSON is sent again, which the store accepts). 32 MiB holds the 20,000 details of the
/// benchmark report several times over.
const DETAIL_CACHE_BYTES: usize = 32 << 20;

impl DetailCache {
    /// The content address of `d`, and its JSON unless this report sent it already.
    fn resolve(&mut self, d: &Detail) -> Result<([u8; 16], Option<String>)> {
        let mut buf = std::mem::take(&mut self.buf);
        buf.clear();
        walk_detail(d, &mut |b| buf.extend_from_slice(b));
        let mut h = Fx::default();
        h.write(&buf);
        let key = h.finish();
        let out = match self.by_hash.get(&key) {
            Some(c) if *c.fields == *buf => (c.hash, None),
            Some(_) => (fields_hash(&buf), Some(to_json(d)?)),
            None => {
                let hash = fields_hash(&buf);
                if self.bytes >= DETAIL_CACHE_BYTES {
                    self.by_hash.clear();
                    self.bytes = 0;
                }
                self.bytes += buf.len() + 64;
                self.by_hash.insert(
                    key,
                    Cached {
                        fields: buf.as_slice().into(),
                        hash,
                    },
                );
                (hash, Some(to_json(d)?))
            }
        };
        self.buf = buf;
        Ok(out)
    }
}

/// Prepares one exposure found by `tool` on the report's asset `asset`.
pub fn prepare_exposure(tool: &str, asset: AssetKey, e: Exposure) -> Result<PreparedExposure> {
    prepare_with(tool, asset, e, &mut DetailCache::default())
}

fn prepare_with(
    tool: &str,
    asset: AssetKey,
    mut e: Exposure,
    details: &mut DetailCache,
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
    let (kind, severity, cve) = (e.kind, e.severity, e.cves.first().cloned());
    // the package's name and versions go to their own columns, the rest to the instance
    let (pkg_name, pkg_version, fixed_version, pkg_rest) = match e.package.take() {
        Some(p) => (
            Some(p.name),
            p.version,
            p.fixed_version,
            (p.ecosystem.is_some() || p.path.is_some()).then_some(PackageRest {
                ecosystem: p.ecosystem,
                path: p.path,
            }),
        ),
        None => (None, None, None, None),
    };
    let (detail, mut instance) = split(e);
    instance.pkg = pkg_rest;
    let (detail_hash, detail_json) = details.resolve(&detail)?;
    let content_hash = content_hash(
        &detail_hash,
        severity,
        pkg_version.as_deref(),
        fixed_version.as_deref(),
    );
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

/// A hash of what makes an exposure "updated" when it changes between scans: its detail
/// (title, description, identifiers, CVSS, references), severity and package versions.
pub(crate) fn content_hash(
    detail: &[u8; 16],
    severity: Severity,
    version: Option<&str>,
    fixed: Option<&str>,
) -> [u8; 8] {
    let mut h = Sha256::new();
    h.update(b"content-v2");
    h.update(detail);
    h.update([severity as u8]);
    for v in [version, fixed] {
        let v = v.unwrap_or("");
        h.update((v.len() as u64).to_le_bytes());
        h.update(v.as_bytes());
    }
    let d = h.finalize();
    let mut out = [0u8; 8];
    out.copy_from_slice(&d[..8]);
    out
}

/// Feeds every field of a detail to `f`, each length-prefixed (an unambiguous encoding).
fn walk_detail(d: &Detail, f: &mut dyn FnMut(&[u8])) {
    fn text(f: &mut dyn FnMut(&[u8]), s: &str) {
        f(&(s.len() as u64).to_le_bytes());
        f(s.as_bytes());
    }
    fn opt(f: &mut dyn FnMut(&[u8]), s: Option<&str>) {
        match s {
            None => f(&[0]),
            Some(s) => {
                f(&[1]);
                text(f, s);
            }
        }
    }
    fn list(f: &mut dyn FnMut(&[u8]), l: &[String]) {
        f(&(l.len() as u64).to_le_bytes());
        for s in l {
            text(f, s);
        }
    }
    text(f, &d.title);
    opt(f, d.description.as_deref());
    list(f, &d.cves);
    list(f, &d.advisories);
    list(f, &d.cwes);
    opt(f, d.rule_id.as_deref());
    f(&(d.cvss.len() as u64).to_le_bytes());
    for c in &d.cvss {
        text(f, &c.version);
        opt(f, c.vector.as_deref());
        match c.score {
            None => f(&[0]),
            Some(x) => {
                f(&[1]);
                f(&x.to_bits().to_le_bytes());
            }
        }
        opt(f, c.source.as_deref());
    }
    list(f, &d.references);
}

/// The content address of a detail: SHA-256 over its fields.
#[cfg(test)]
fn detail_hash(d: &Detail) -> [u8; 16] {
    let mut buf = Vec::new();
    walk_detail(d, &mut |b| buf.extend_from_slice(b));
    fields_hash(&buf)
}

/// The content address of a detail from its fields (as `walk_detail` writes them).
fn fields_hash(fields: &[u8]) -> [u8; 16] {
    let mut h = Sha256::new();
    h.update(b"detail-v2");
    h.update(fields);
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

#[cfg(test)]
mod tests {
    use ctem_model::{Exposure, ExposureKind, Record, Severity};

    use super::*;

    fn vuln(cve: &str, host_pkg: &str, reference: &str) -> Record {
        let mut e = Exposure::new(
            ExposureKind::Vulnerability,
            format!("{cve}: overflow"),
            Severity::High,
        );
        e.add_vuln_id(cve);
        e.references.push(reference.into());
        e.package = Some(ctem_model::Package {
            name: host_pkg.into(),
            version: Some("1.0".into()),
            ..Default::default()
        });
        Record::Exposure {
            asset: 0,
            exposure: Box::new(e),
        }
    }

    fn prepared(p: &mut Preparer, r: Record) -> PreparedExposure {
        match p.prepare(r).expect("prepare") {
            Prepared::Exposure(e) => *e,
            Prepared::Record(_) => panic!("not an exposure"),
        }
    }

    #[test]
    fn equal_details_share_one_encoding_and_different_ones_do_not() {
        let mut p = Preparer::new("trivy");
        let a = prepared(&mut p, vuln("CVE-2024-1", "openssl", "https://a"));
        let b = prepared(&mut p, vuln("CVE-2024-1", "zlib", "https://a"));
        let c = prepared(&mut p, vuln("CVE-2024-1", "openssl", "https://b"));
        assert_eq!(a.detail_hash, b.detail_hash);
        assert!(a.detail_json.is_some());
        assert_eq!(b.detail_json, None, "the JSON travels once");
        assert_ne!(a.detail_hash, c.detail_hash);
        assert!(
            c.detail_json
                .as_deref()
                .is_some_and(|j| j.contains("https://b"))
        );
        // the cache changes nothing: a fresh preparer gives the same addresses
        let fresh = prepare_exposure("trivy", 0, {
            let Record::Exposure { exposure, .. } = vuln("CVE-2024-1", "zlib", "https://a") else {
                unreachable!()
            };
            *exposure
        })
        .expect("prepare");
        assert_eq!(fresh.detail_hash, b.detail_hash);
        assert_eq!(fresh.detail_json, a.detail_json);
        assert_eq!(fresh.content_hash, b.content_hash);
    }

    /// Two details under one fast hash (a collision) are told apart by comparison.
    #[test]
    fn a_fast_hash_collision_returns_the_right_detail() {
        let d = |t: &str| Detail {
            title: t.into(),
            description: None,
            cves: vec![],
            advisories: vec![],
            cwes: vec![],
            rule_id: None,
            cvss: vec![],
            references: vec![],
        };
        let (a, b) = (d("first"), d("second"));
        let mut cache = DetailCache::default();
        let fields = |d: &Detail| {
            let mut buf = Vec::new();
            walk_detail(d, &mut |x| buf.extend_from_slice(x));
            buf
        };
        let mut h = Fx::default();
        h.write(&fields(&a));
        // plant `b` under `a`'s key, as a colliding entry would be
        cache.by_hash.insert(
            h.finish(),
            Cached {
                fields: fields(&b).into(),
                hash: detail_hash(&b),
            },
        );
        for _ in 0..2 {
            let (hash, json) = cache.resolve(&a).expect("resolve");
            assert_eq!(hash, detail_hash(&a));
            assert!(json.is_some_and(|j| j.contains("first")), "sent each time");
        }
        assert_eq!(cache.by_hash.len(), 1);
    }
}
