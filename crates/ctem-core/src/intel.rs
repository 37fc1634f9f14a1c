//! The intelligence import pipeline: one input (a file, a feed, a MISP feed with its event
//! files) parsed by `ctem_intel::import` and stored in one transaction through the store's
//! `IntelStore`, which enriches the exposures the new records touch.

use std::io::Read;

use ctem_intel::misp::ManifestEntry;
use ctem_intel::{IntelImport, IntelKind, Issue};
use ctem_store::Store;
use ctem_store::intel::{AttackObject, IntelBatch, IntelSummary};
use serde::Serialize;

use crate::settings::InputSettings;

const MIB: u64 = 1 << 20;

/// Why an intelligence input was not stored (nothing of it was); the cause is `source()`.
#[derive(Debug, thiserror::Error)]
pub enum IntelError {
    /// A gzip input that cannot be inflated, or inflates past `[input] max_intel_mb`.
    #[error("{name}: gzip")]
    Gzip {
        name: String,
        #[source]
        error: std::io::Error,
    },
    #[error(transparent)]
    Parse(#[from] ctem_intel::Error),
    #[error("{label}: storing")]
    Store {
        label: String,
        #[source]
        error: ctem_store::Error,
    },
    /// An ATT&CK object that could not be kept as JSON (a bug).
    #[error("encoding an ATT&CK object: {0}")]
    Encode(String),
}

/// The summary of one imported input.
#[derive(Debug, Serialize)]
pub struct FileSummary {
    pub file: String,
    pub kind: String,
    /// Records parsed, all types together.
    pub records: usize,
    pub stored: IntelSummary,
    pub issues: Vec<Issue>,
}

/// A reader that fails once more than `cap_mb` MiB came through, naming the `[input]`
/// setting that caps it.
pub struct Capped<R> {
    inner: R,
    left: u64,
    cap_mb: u64,
    setting: &'static str,
}

impl<R: Read> Capped<R> {
    pub fn new(inner: R, cap_mb: u64, setting: &'static str) -> Self {
        Capped {
            inner,
            left: cap_mb.saturating_mul(MIB),
            cap_mb,
            setting,
        }
    }
}

impl<R: Read> Read for Capped<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.left == 0 {
            // one byte more than the cap means the input is larger
            let mut probe = [0u8; 1];
            if self.inner.read(&mut probe)? == 0 {
                return Ok(0);
            }
            return Err(std::io::Error::other(format!(
                "larger than {} MiB once decompressed (the cap is [input] {} in ctem.toml)",
                self.cap_mb, self.setting
            )));
        }
        let want = buf
            .len()
            .min(usize::try_from(self.left).unwrap_or(usize::MAX));
        let n = self.inner.read(&mut buf[..want])?;
        self.left -= n as u64;
        Ok(n)
    }
}

/// Whether `head` starts a gzip stream.
pub fn is_gzip(head: &[u8]) -> bool {
    head.starts_with(&[0x1f, 0x8b])
}

/// `bytes` themselves, or their inflated content when they are gzip (a downloaded feed),
/// at most `[input] max_intel_mb`.
pub fn inflate(bytes: Vec<u8>, limits: &InputSettings) -> std::io::Result<Vec<u8>> {
    if !is_gzip(&bytes) {
        return Ok(bytes);
    }
    let cap = limits.max_intel_mb.saturating_mul(MIB).saturating_add(1);
    let mut out = Vec::new();
    let _ = out.try_reserve_exact(usize::try_from(cap).unwrap_or(usize::MAX));
    Capped::new(
        flate2::read::MultiGzDecoder::new(&bytes[..]),
        limits.max_intel_mb,
        "max_intel_mb",
    )
    .read_to_end(&mut out)?;
    Ok(out)
}

/// The event files a MISP feed's `manifest.json` lists (when `name` is one and the kind
/// allows MISP).
pub fn manifest_entries(
    kind: Option<IntelKind>,
    name: &str,
    bytes: &[u8],
) -> Option<Vec<ManifestEntry>> {
    let is_manifest = name.to_ascii_lowercase().ends_with("manifest.json");
    if !is_manifest || !matches!(kind, None | Some(IntelKind::Misp)) {
        return None;
    }
    ctem_intel::misp::parse_manifest(bytes).ok()
}

/// Parses every `(name, bytes)` input and stores them as one batch labelled `label` (the
/// indicators' source), in one transaction.
pub fn import_inputs(
    store: &mut dyn Store,
    label: &str,
    kind: Option<IntelKind>,
    inputs: Vec<(String, Vec<u8>)>,
    limits: &InputSettings,
) -> Result<FileSummary, IntelError> {
    let mut batch = IntelBatch {
        source: label.to_string(),
        ..IntelBatch::default()
    };
    let mut records = 0;
    let mut issues = Vec::new();
    let mut kinds = Vec::new();
    for (name, bytes) in inputs {
        let bytes = inflate(bytes, limits).map_err(|error| IntelError::Gzip {
            name: name.clone(),
            error,
        })?;
        let imp = ctem_intel::import(kind, &bytes, &name)?;
        records += imp.record_count();
        issues.extend(imp.issues().iter().cloned());
        if !kinds.contains(&imp.kind()) {
            kinds.push(imp.kind());
        }
        add_to_batch(&mut batch, imp)?;
    }
    batch.kind = kinds
        .iter()
        .map(|k| k.as_str())
        .collect::<Vec<_>>()
        .join(",");
    let kind = batch.kind.clone();
    let stored = store
        .import_intel(batch)
        .map_err(|error| IntelError::Store {
            label: label.to_string(),
            error,
        })?;
    Ok(FileSummary {
        file: label.to_string(),
        kind,
        records,
        stored,
        issues,
    })
}

/// Whether an import of these kinds moves priorities (KEV, EPSS and CVE records do; ATT&CK,
/// STIX, MISP and IOC lists do not).
pub fn moves_priorities(kind: &str) -> bool {
    kind.split(',').any(|k| matches!(k, "kev" | "epss" | "cve"))
}

fn obj<T: Serialize>(
    kind: &str,
    stix_id: &str,
    id: &str,
    name: &str,
    flags: (bool, bool),
    v: &T,
) -> Result<AttackObject, IntelError> {
    Ok(AttackObject {
        stix_id: stix_id.to_string(),
        kind: kind.to_string(),
        id: id.to_string(),
        name: name.to_string(),
        revoked: flags.0,
        deprecated: flags.1,
        data: serde_json::to_string(v).map_err(|e| IntelError::Encode(e.to_string()))?,
    })
}

macro_rules! push_attack {
    ($b:expr, $kind:literal, $list:expr) => {
        for x in $list {
            let f = (x.revoked, x.deprecated);
            $b.attack
                .push(obj($kind, &x.stix_id, &x.id, &x.name, f, x)?);
        }
    };
}

fn add_to_batch(b: &mut IntelBatch, imp: IntelImport) -> Result<(), IntelError> {
    match imp {
        IntelImport::Kev(c) => b.kev.extend(c.entries),
        IntelImport::Epss(e) => b.epss.extend(e.scores),
        IntelImport::Cve(c) => b.cves.extend(c.records),
        IntelImport::Iocs(p) => b.indicators.extend(p.records),
        IntelImport::Misp(m) => b.indicators.extend(m.indicators),
        IntelImport::Stix(s) => {
            b.indicators.extend(s.indicators);
            push_attack!(b, "technique", &s.attack_patterns);
            push_attack!(b, "software", &s.software);
            b.relationships.extend(s.relationships);
        }
        IntelImport::Attack(a) => {
            push_attack!(b, "tactic", &a.tactics);
            push_attack!(b, "technique", &a.techniques);
            push_attack!(b, "mitigation", &a.mitigations);
            push_attack!(b, "group", &a.groups);
            push_attack!(b, "software", &a.software);
            push_attack!(b, "data_source", &a.data_sources);
            for x in &a.data_components {
                let f = (x.revoked, x.deprecated);
                let id = x.stix_id.as_str();
                b.attack.push(obj("data_component", id, id, &x.name, f, x)?);
            }
            b.relationships.extend(a.relationships);
        }
    }
    Ok(())
}
