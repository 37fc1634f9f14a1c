//! Exposures: one finding on one asset, with its lifecycle and dedup fingerprint.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// What kind of weakness an exposure is. The kind picks the fingerprint recipe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExposureKind {
    Vulnerability,
    Misconfiguration,
    Secret,
    OpenService,
    WeakCredential,
}

impl ExposureKind {
    pub const ALL: [ExposureKind; 5] = [
        ExposureKind::Vulnerability,
        ExposureKind::Misconfiguration,
        ExposureKind::Secret,
        ExposureKind::OpenService,
        ExposureKind::WeakCredential,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ExposureKind::Vulnerability => "vulnerability",
            ExposureKind::Misconfiguration => "misconfiguration",
            ExposureKind::Secret => "secret",
            ExposureKind::OpenService => "open_service",
            ExposureKind::WeakCredential => "weak_credential",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// Severity as the tool reported it, mapped onto one scale.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, Default,
)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    #[default]
    Unknown,
    Info,
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    pub const ALL: [Severity; 6] = [
        Severity::Unknown,
        Severity::Info,
        Severity::Low,
        Severity::Medium,
        Severity::High,
        Severity::Critical,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Unknown => "unknown",
            Severity::Info => "info",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }

    /// Reads the severity words scanners use (case-insensitive): `moderate` is medium,
    /// `informational`, `note` and `none` are info, `negligible` is low. Unknown words give
    /// `None` so a parser can report them.
    pub fn parse(s: &str) -> Option<Self> {
        let s = s.trim();
        let all = [
            ("critical", Severity::Critical),
            ("high", Severity::High),
            ("important", Severity::High),
            ("error", Severity::High),
            ("medium", Severity::Medium),
            ("moderate", Severity::Medium),
            ("warning", Severity::Medium),
            ("low", Severity::Low),
            ("negligible", Severity::Low),
            ("info", Severity::Info),
            ("informational", Severity::Info),
            ("information", Severity::Info),
            ("note", Severity::Info),
            ("none", Severity::Info),
            ("unknown", Severity::Unknown),
        ];
        all.into_iter()
            .find(|(w, _)| s.eq_ignore_ascii_case(w))
            .map(|(_, v)| v)
    }

    /// The qualitative CVSS v3 band of a base score.
    pub fn from_cvss(score: f64) -> Self {
        if score >= 9.0 {
            Severity::Critical
        } else if score >= 7.0 {
            Severity::High
        } else if score >= 4.0 {
            Severity::Medium
        } else if score > 0.0 {
            Severity::Low
        } else {
            Severity::Info
        }
    }
}

/// The longest CVE id accepted: `CVE-YYYY-` and a sequence number of up to 15 digits
/// (today's are 4 to 7).
pub const MAX_CVE_ID_LEN: usize = 24;

/// Whether `s` has the shape of a CVE id, `CVE-YYYY-NNNN` with four or more sequence digits
/// (any case), and is at most [`MAX_CVE_ID_LEN`] bytes.
pub fn is_cve_id(s: &str) -> bool {
    let b = s.as_bytes();
    (13..=MAX_CVE_ID_LEN).contains(&b.len())
        && b[..4].eq_ignore_ascii_case(b"CVE-")
        && b[4..8].iter().all(u8::is_ascii_digit)
        && b[8] == b'-'
        && b[9..].iter().all(u8::is_ascii_digit)
}

/// Where an exposure stands in its lifecycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum ExposureStatus {
    #[default]
    Open,
    Fixed,
    Reopened,
    Accepted,
    FalsePositive,
}

impl ExposureStatus {
    pub const ALL: [ExposureStatus; 5] = [
        ExposureStatus::Open,
        ExposureStatus::Fixed,
        ExposureStatus::Reopened,
        ExposureStatus::Accepted,
        ExposureStatus::FalsePositive,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ExposureStatus::Open => "open",
            ExposureStatus::Fixed => "fixed",
            ExposureStatus::Reopened => "reopened",
            ExposureStatus::Accepted => "accepted",
            ExposureStatus::FalsePositive => "false_positive",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// Open or reopened: somebody still has to act.
    pub fn is_active(self) -> bool {
        matches!(self, ExposureStatus::Open | ExposureStatus::Reopened)
    }
}

/// One change of status, kept as history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StatusChange {
    pub at: DateTime<Utc>,
    pub from: Option<ExposureStatus>,
    pub to: ExposureStatus,
    /// The scan that caused the change, when a scan did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scan_id: Option<i64>,
    pub reason: String,
}

/// A CVSS vector and score as a source reported them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Cvss {
    /// `2.0`, `3.0`, `3.1` or `4.0`.
    pub version: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vector: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub score: Option<f64>,
    /// Who scored it (`nvd`, `ghsa`, `redhat`, the scanner).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
}

/// The software package an exposure lives in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Package {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fixed_version: Option<String>,
    /// Package ecosystem or OS family (`npm`, `alpine`, `debian`...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ecosystem: Option<String>,
    /// The lock file or installed path the package was found in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
}

/// Where in code or configuration an exposure is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Location {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<u32>,
    /// A named resource inside the file (k8s object, Terraform resource, URL).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource: Option<String>,
}

/// The dedup key of an exposure on its asset: 16 bytes of SHA-256 over the recipe of
/// [`Exposure::fingerprint`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Fingerprint(pub [u8; 16]);

impl Fingerprint {
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    pub fn from_slice(b: &[u8]) -> Option<Self> {
        <[u8; 16]>::try_from(b).ok().map(Fingerprint)
    }
}

impl Serialize for Fingerprint {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_hex())
    }
}

impl<'de> Deserialize<'de> for Fingerprint {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        let b = hex::decode(&s).map_err(serde::de::Error::custom)?;
        Fingerprint::from_slice(&b).ok_or_else(|| serde::de::Error::custom("fingerprint length"))
    }
}

/// One finding on one asset.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Exposure {
    /// Store id; `None` until stored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub asset_id: Option<i64>,
    pub kind: ExposureKind,
    pub title: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub severity: Severity,
    /// CVE ids, upper case, in report order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cves: Vec<String>,
    /// Other advisory ids (GHSA, OSV, vendor advisories).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub advisories: Vec<String>,
    /// CWE ids as `CWE-79`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cwes: Vec<String>,
    /// The scanner's own rule / plugin / check id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule_id: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cvss: Vec<Cvss>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub package: Option<Package>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<Location>,
    /// The service the exposure is reachable through.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<String>,
    /// What the scanner saw (plugin output, matched line with secrets redacted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evidence: Option<String>,
    /// How to fix it, as the scanner said.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub solution: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub references: Vec<String>,
    /// A stable identity the tool itself provides (SARIF `fingerprints`), used by the
    /// fingerprint instead of the line number when present.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_seen: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_seen: Option<DateTime<Utc>>,
    #[serde(default)]
    pub status: ExposureStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fixed_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub history: Vec<StatusChange>,
    /// What threat intelligence says about the first CVE (KEV, EPSS, CVE record); filled by
    /// the store when it reads the exposure, `None` when nothing is known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub intel: Option<crate::intel::Enrichment>,
}

impl Exposure {
    pub fn new(kind: ExposureKind, title: impl Into<String>, severity: Severity) -> Self {
        Exposure {
            id: None,
            asset_id: None,
            kind,
            title: title.into(),
            description: None,
            severity,
            cves: Vec::new(),
            advisories: Vec::new(),
            cwes: Vec::new(),
            rule_id: None,
            cvss: Vec::new(),
            package: None,
            location: None,
            port: None,
            protocol: None,
            evidence: None,
            solution: None,
            references: Vec::new(),
            tool_key: None,
            first_seen: None,
            last_seen: None,
            status: ExposureStatus::Open,
            fixed_at: None,
            history: Vec::new(),
            intel: None,
        }
    }

    /// Adds a CVE id (upper-cased, deduplicated) or, for any other advisory id, an advisory.
    pub fn add_vuln_id(&mut self, id: &str) {
        let id = id.trim();
        if id.is_empty() {
            return;
        }
        if id.len() > 4 && id[..4].eq_ignore_ascii_case("CVE-") {
            let up = id.to_ascii_uppercase();
            if !self.cves.contains(&up) {
                self.cves.push(up);
            }
        } else if !self.advisories.iter().any(|a| a == id) {
            self.advisories.push(id.to_string());
        }
    }

    /// Adds a CWE, accepting `79`, `CWE-79` or `cwe-79`.
    pub fn add_cwe(&mut self, cwe: &str) {
        let c = cwe.trim();
        let num = c
            .strip_prefix("CWE-")
            .or_else(|| c.strip_prefix("cwe-"))
            .unwrap_or(c);
        if num.is_empty() || !num.bytes().all(|b| b.is_ascii_digit()) {
            return;
        }
        let v = format!("CWE-{num}");
        if !self.cwes.contains(&v) {
            self.cwes.push(v);
        }
    }

    /// The id this exposure is best known by: first CVE, else first advisory, else rule id.
    pub fn primary_id(&self) -> Option<&str> {
        self.cves
            .first()
            .or(self.advisories.first())
            .map(String::as_str)
            .or(self.rule_id.as_deref())
    }

    /// The dedup fingerprint of this exposure on its asset (the asset is not part of it: the
    /// store keys exposures by `(asset, fingerprint)`). Recipes, documented in
    /// docs/data-model.md:
    ///
    /// - vulnerability in a package: advisory id (first CVE, else first advisory), package
    ///   name and package path. Tool-independent, so Trivy and Grype reporting the same CVE
    ///   in the same package of the same image give one exposure; the installed version is
    ///   left out so an upgrade that is still vulnerable stays the same exposure.
    /// - vulnerability without a package (network and code scanners): tool, rule id, port,
    ///   and location path plus the tool's own stable key (else line). Plugin ids are what
    ///   these tools report and fix by; the tool is part of the key because rule ids of
    ///   different tools do not compare.
    /// - misconfiguration: tool, rule id, location path and resource.
    /// - secret: tool, rule id, location path, and the tool key (else line).
    /// - open service: protocol and port (any tool).
    /// - weak credential: tool, rule id, protocol and port.
    pub fn fingerprint(&self, tool: &str) -> Fingerprint {
        let mut h = Sha256::new();
        let mut part = |s: &str| {
            h.update(s.as_bytes());
            h.update([0x1f]);
        };
        let loc_path = self
            .location
            .as_ref()
            .and_then(|l| l.path.as_deref())
            .unwrap_or("");
        let line = self
            .location
            .as_ref()
            .and_then(|l| l.line)
            .map(|l| l.to_string())
            .unwrap_or_default();
        let stable = self.tool_key.clone().unwrap_or(line);
        let port = self.port.map(|p| p.to_string()).unwrap_or_default();
        let rule = self.rule_id.as_deref().unwrap_or("");
        part(self.kind.as_str());
        match self.kind {
            ExposureKind::Vulnerability => {
                match (&self.package, self.cves.first().or(self.advisories.first())) {
                    (Some(pkg), Some(adv)) => {
                        part("pkg");
                        part(adv);
                        part(&pkg.name.to_ascii_lowercase());
                        part(pkg.path.as_deref().unwrap_or(""));
                    }
                    _ => {
                        part("rule");
                        part(tool);
                        part(self.primary_id_for_rule());
                        part(&port);
                        part(loc_path);
                        part(&stable);
                    }
                }
            }
            ExposureKind::Misconfiguration => {
                part(tool);
                part(rule);
                part(loc_path);
                part(
                    self.location
                        .as_ref()
                        .and_then(|l| l.resource.as_deref())
                        .unwrap_or(""),
                );
            }
            ExposureKind::Secret => {
                part(tool);
                part(rule);
                part(loc_path);
                part(&stable);
            }
            ExposureKind::OpenService => {
                part(self.protocol.as_deref().unwrap_or("tcp"));
                part(&port);
            }
            ExposureKind::WeakCredential => {
                part(tool);
                part(rule);
                part(self.protocol.as_deref().unwrap_or("tcp"));
                part(&port);
            }
        }
        let d = h.finalize();
        let mut out = [0u8; 16];
        out.copy_from_slice(&d[..16]);
        Fingerprint(out)
    }

    fn primary_id_for_rule(&self) -> &str {
        self.rule_id
            .as_deref()
            .or(self.cves.first().map(String::as_str))
            .or(self.advisories.first().map(String::as_str))
            .unwrap_or(&self.title)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pkg_vuln(cve: &str, pkg: &str, version: &str) -> Exposure {
        let mut e = Exposure::new(ExposureKind::Vulnerability, cve, Severity::High);
        e.add_vuln_id(cve);
        e.package = Some(Package {
            name: pkg.into(),
            version: Some(version.into()),
            ..Package::default()
        });
        e
    }

    #[test]
    fn package_vulnerabilities_dedup_across_tools_and_versions() {
        let a = pkg_vuln("CVE-2023-0001", "openssl", "1.1.1");
        let b = pkg_vuln("cve-2023-0001", "OpenSSL", "1.1.2");
        assert_eq!(a.fingerprint("trivy"), b.fingerprint("grype"));
        let c = pkg_vuln("CVE-2023-0002", "openssl", "1.1.1");
        assert_ne!(a.fingerprint("trivy"), c.fingerprint("trivy"));
    }

    #[test]
    fn plugin_findings_are_keyed_by_tool_rule_and_port() {
        let mut a = Exposure::new(ExposureKind::Vulnerability, "SSL weak", Severity::Medium);
        a.rule_id = Some("12345".into());
        a.port = Some(443);
        let mut b = a.clone();
        b.port = Some(8443);
        assert_ne!(a.fingerprint("nessus"), b.fingerprint("nessus"));
        assert_ne!(a.fingerprint("nessus"), a.fingerprint("openvas"));
        let mut c = a.clone();
        c.title = "SSL weak ciphers (renamed)".into();
        assert_eq!(a.fingerprint("nessus"), c.fingerprint("nessus"));
    }

    #[test]
    fn code_findings_prefer_tool_key_over_line() {
        let mut a = Exposure::new(ExposureKind::Vulnerability, "sqli", Severity::High);
        a.rule_id = Some("py.sqli".into());
        a.location = Some(Location {
            path: Some("app.py".into()),
            line: Some(10),
            resource: None,
        });
        let mut moved = a.clone();
        moved.location.as_mut().unwrap().line = Some(12);
        assert_ne!(a.fingerprint("sarif"), moved.fingerprint("sarif"));
        a.tool_key = Some("abc".into());
        moved.tool_key = Some("abc".into());
        assert_eq!(a.fingerprint("sarif"), moved.fingerprint("sarif"));
    }

    #[test]
    fn severity_words() {
        assert_eq!(Severity::parse("MODERATE"), Some(Severity::Medium));
        assert_eq!(Severity::parse("None"), Some(Severity::Info));
        assert_eq!(Severity::parse("bogus"), None);
        assert_eq!(Severity::from_cvss(9.8), Severity::Critical);
        assert!(Severity::Critical > Severity::High);
    }

    #[test]
    fn ids_are_normalised() {
        let mut e = Exposure::new(ExposureKind::Vulnerability, "x", Severity::Low);
        e.add_vuln_id("cve-2021-44228");
        e.add_vuln_id("CVE-2021-44228");
        e.add_vuln_id("GHSA-jfh8-c2jp-5v3q");
        e.add_cwe("502");
        e.add_cwe("CWE-502");
        e.add_cwe("NVD-CWE-Other");
        assert_eq!(e.cves, vec!["CVE-2021-44228"]);
        assert_eq!(e.advisories, vec!["GHSA-jfh8-c2jp-5v3q"]);
        assert_eq!(e.cwes, vec!["CWE-502"]);
        assert_eq!(e.primary_id(), Some("CVE-2021-44228"));
    }

    #[test]
    fn cve_ids_are_checked_by_shape_and_length() {
        assert!(is_cve_id("CVE-2021-44228"));
        assert!(is_cve_id("cve-2024-1234567"));
        assert!(!is_cve_id("CVE-2021-123"));
        assert!(!is_cve_id("CVE-21-44228"));
        assert!(!is_cve_id("CVE-2021-4422x"));
        assert!(!is_cve_id(&format!("CVE-2021-{}", "1".repeat(50))));
    }

    #[test]
    fn fingerprint_hex_round_trips_through_serde() {
        let f = pkg_vuln("CVE-1", "p", "1").fingerprint("t");
        let s = serde_json::to_string(&f).unwrap();
        let back: Fingerprint = serde_json::from_str(&s).unwrap();
        assert_eq!(f, back);
    }
}
