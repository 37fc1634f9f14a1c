//! Threat-intelligence records: indicators of compromise, the CISA KEV catalog, FIRST EPSS
//! scores, MITRE ATT&CK objects, CVE records and the enrichment an exposure gets from them.
//!
//! Plain serde types with no I/O. The parsers live in `ctem-intel`; the store persists these
//! records as they are. Identifiers from the source are kept (`stix_id`, ATT&CK ids such as
//! `T1059.001`) so a later import of the same feed can be matched against an earlier one.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// What an indicator's value is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IndicatorType {
    Ipv4,
    Ipv6,
    /// An IPv4 or IPv6 network in CIDR notation (`10.0.0.0/8`).
    Cidr,
    Domain,
    Url,
    Email,
    Md5,
    Sha1,
    Sha256,
    Sha512,
    Filename,
    /// A detection pattern (STIX) that is not a simple value; see [`Indicator::pattern_note`].
    Pattern,
}

impl IndicatorType {
    /// Every type, in declaration order.
    pub const ALL: [IndicatorType; 12] = [
        Self::Ipv4,
        Self::Ipv6,
        Self::Cidr,
        Self::Domain,
        Self::Url,
        Self::Email,
        Self::Md5,
        Self::Sha1,
        Self::Sha256,
        Self::Sha512,
        Self::Filename,
        Self::Pattern,
    ];

    /// The snake_case name used in JSON, on the command line and in the store.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ipv4 => "ipv4",
            Self::Ipv6 => "ipv6",
            Self::Cidr => "cidr",
            Self::Domain => "domain",
            Self::Url => "url",
            Self::Email => "email",
            Self::Md5 => "md5",
            Self::Sha1 => "sha1",
            Self::Sha256 => "sha256",
            Self::Sha512 => "sha512",
            Self::Filename => "filename",
            Self::Pattern => "pattern",
        }
    }

    /// True for the four file-hash types.
    pub fn is_hash(self) -> bool {
        matches!(self, Self::Md5 | Self::Sha1 | Self::Sha256 | Self::Sha512)
    }
}

impl fmt::Display for IndicatorType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The error of parsing an unknown name into one of this module's enums.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownName(pub String);

impl fmt::Display for UnknownName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unknown name `{}`", self.0)
    }
}

impl std::error::Error for UnknownName {}

impl FromStr for IndicatorType {
    type Err = UnknownName;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|t| t.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| UnknownName(s.to_string()))
    }
}

/// Traffic Light Protocol (2.0). `TLP:WHITE` (1.0) reads as [`Tlp::Clear`]. Ordered from the
/// most to the least shareable, so `tlp <= Tlp::Amber` means "may leave under amber rules".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Tlp {
    #[serde(rename = "clear", alias = "white")]
    Clear,
    #[serde(rename = "green")]
    Green,
    #[serde(rename = "amber")]
    Amber,
    #[serde(rename = "amber+strict")]
    AmberStrict,
    #[serde(rename = "red")]
    Red,
}

impl Tlp {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Clear => "clear",
            Self::Green => "green",
            Self::Amber => "amber",
            Self::AmberStrict => "amber+strict",
            Self::Red => "red",
        }
    }
}

impl fmt::Display for Tlp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Tlp {
    type Err = UnknownName;
    /// Accepts `amber`, `TLP:AMBER`, `tlp:amber+strict`, `white`, `clear`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim();
        let t = t
            .get(..4)
            .filter(|p| p.eq_ignore_ascii_case("tlp:"))
            .map_or(t, |_| &t[4..]);
        match t.to_ascii_lowercase().as_str() {
            "clear" | "white" => Ok(Self::Clear),
            "green" => Ok(Self::Green),
            "amber" => Ok(Self::Amber),
            "amber+strict" | "amber-strict" => Ok(Self::AmberStrict),
            "red" => Ok(Self::Red),
            _ => Err(UnknownName(s.to_string())),
        }
    }
}

/// One indicator of compromise (or a detection pattern kept whole).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Indicator {
    #[serde(rename = "type")]
    pub kind: IndicatorType,
    /// Normalised value: lower-case domains and hashes, refanged URLs. For `pattern`, the STIX
    /// pattern itself.
    pub value: String,
    /// Where it came from: feed name or file name.
    pub source: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_seen: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_seen: Option<DateTime<Utc>>,
    /// 0-100.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confidence: Option<u8>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_until: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tlp: Option<Tlp>,
    #[serde(default)]
    pub revoked: bool,
    /// Labels and tags (STIX labels and indicator types, MISP tags).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub labels: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// MISP category (`Network activity`, `Payload delivery`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    /// MISP `to_ids`: the producer says it is fit for automatic detection.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to_ids: Option<bool>,
    /// The identifier in the source (STIX id, MISP attribute uuid).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
    /// The original STIX pattern this indicator came from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pattern: Option<String>,
    /// For `pattern` indicators: why the pattern is not a simple IOC.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pattern_note: Option<String>,
}

impl Indicator {
    /// An indicator with every optional field empty.
    pub fn new(kind: IndicatorType, value: impl Into<String>, source: impl Into<String>) -> Self {
        Self {
            kind,
            value: value.into(),
            source: source.into(),
            first_seen: None,
            last_seen: None,
            confidence: None,
            valid_until: None,
            tlp: None,
            revoked: false,
            labels: Vec::new(),
            description: None,
            category: None,
            to_ids: None,
            external_id: None,
            pattern: None,
            pattern_note: None,
        }
    }

    /// Not revoked and not past `valid_until` at `now`.
    pub fn is_active(&self, now: DateTime<Utc>) -> bool {
        !self.revoked && self.valid_until.is_none_or(|until| until > now)
    }
}

/// CISA KEV `knownRansomwareCampaignUse`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RansomwareUse {
    Known,
    Unknown,
}

/// One entry of the CISA Known Exploited Vulnerabilities catalog.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KevEntry {
    pub cve_id: String,
    pub vendor_project: String,
    pub product: String,
    pub vulnerability_name: String,
    pub date_added: NaiveDate,
    pub short_description: String,
    pub required_action: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub due_date: Option<NaiveDate>,
    /// Absent in older catalogs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub known_ransomware_campaign_use: Option<RansomwareUse>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub notes: String,
    /// Absent in older catalogs.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cwes: Vec<String>,
}

/// One FIRST EPSS score.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpssScore {
    pub cve_id: String,
    /// Probability of exploitation activity in the next 30 days, 0-1.
    pub epss: f64,
    /// 0-1.
    pub percentile: f64,
    /// The `score_date` of the file it came from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date: Option<NaiveDate>,
}

/// An ATT&CK tactic (`TA0001`, shortname `initial-access`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tactic {
    pub id: String,
    pub stix_id: String,
    pub name: String,
    pub shortname: String,
    #[serde(default)]
    pub domains: Vec<String>,
    #[serde(default)]
    pub revoked: bool,
    #[serde(default)]
    pub deprecated: bool,
}

/// An ATT&CK technique or sub-technique (or a STIX attack-pattern without ATT&CK id, whose `id`
/// is then its STIX id).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Technique {
    /// `T1059` or `T1059.001`.
    pub id: String,
    pub stix_id: String,
    pub name: String,
    /// Tactic shortnames from the kill chain phases (`execution`).
    #[serde(default)]
    pub tactics: Vec<String>,
    #[serde(default)]
    pub is_subtechnique: bool,
    /// The parent technique id of a sub-technique.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<String>,
    #[serde(default)]
    pub revoked: bool,
    #[serde(default)]
    pub deprecated: bool,
    #[serde(default)]
    pub platforms: Vec<String>,
    /// `Data Source: Data Component` strings as ATT&CK lists them.
    #[serde(default)]
    pub data_sources: Vec<String>,
    /// `enterprise-attack`, `ics-attack`, `mobile-attack`.
    #[serde(default)]
    pub domains: Vec<String>,
    /// ATT&CK's detection notes (`x_mitre_detection`; absent from ATT&CK 18 bundles, which
    /// moved detection into detection strategies).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detection: Option<String>,
}

/// An ATT&CK mitigation (course-of-action), `M1036`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Mitigation {
    pub id: String,
    pub stix_id: String,
    pub name: String,
    #[serde(default)]
    pub revoked: bool,
    #[serde(default)]
    pub deprecated: bool,
}

/// An ATT&CK group (intrusion-set), `G0016`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Group {
    pub id: String,
    pub stix_id: String,
    pub name: String,
    #[serde(default)]
    pub aliases: Vec<String>,
    #[serde(default)]
    pub revoked: bool,
    #[serde(default)]
    pub deprecated: bool,
}

/// Whether a piece of software is malware or a (dual-use) tool.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SoftwareKind {
    Malware,
    Tool,
}

/// ATT&CK software (`S0154`) or a STIX malware / tool object (then `id` is its STIX id).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Software {
    pub id: String,
    pub stix_id: String,
    pub name: String,
    pub kind: SoftwareKind,
    #[serde(default)]
    pub aliases: Vec<String>,
    #[serde(default)]
    pub platforms: Vec<String>,
    /// STIX `malware_types` / `tool_types` / 2.0 `labels`.
    #[serde(default)]
    pub types: Vec<String>,
    #[serde(default)]
    pub revoked: bool,
    #[serde(default)]
    pub deprecated: bool,
}

/// An ATT&CK data source, `DS0009`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DataSource {
    pub id: String,
    pub stix_id: String,
    pub name: String,
    #[serde(default)]
    pub platforms: Vec<String>,
    #[serde(default)]
    pub revoked: bool,
    #[serde(default)]
    pub deprecated: bool,
}

/// An ATT&CK data component (`Process Creation`), part of a data source.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DataComponent {
    pub stix_id: String,
    pub name: String,
    /// The data source's ATT&CK id when the bundle has it, else its STIX id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_source: Option<String>,
    #[serde(default)]
    pub revoked: bool,
    #[serde(default)]
    pub deprecated: bool,
}

/// A STIX relationship (`uses`, `mitigates`, `subtechnique-of`, `detects`, `indicates`, ...).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Relationship {
    pub relationship_type: String,
    pub source_ref: String,
    pub target_ref: String,
    /// ATT&CK id of the source when known (`G0016`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_id: Option<String>,
    #[serde(default)]
    pub revoked: bool,
    #[serde(default)]
    pub deprecated: bool,
}

/// A STIX sighting: something (an indicator, malware, ...) was seen.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sighting {
    pub stix_id: String,
    pub sighting_of_ref: String,
    #[serde(default)]
    pub observed_data_refs: Vec<String>,
    #[serde(default)]
    pub where_sighted_refs: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_seen: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_seen: Option<DateTime<Utc>>,
}

/// One observable inside STIX observed-data, reduced to a type and a value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Observable {
    /// STIX cyber-observable type (`ipv4-addr`, `file`, ...).
    #[serde(rename = "type")]
    pub kind: String,
    /// The value, or for files the first hash / name found.
    pub value: String,
}

/// STIX observed-data: raw observations, not a claim of maliciousness.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ObservedData {
    pub stix_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_observed: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_observed: Option<DateTime<Utc>>,
    #[serde(default)]
    pub number_observed: u64,
    #[serde(default)]
    pub observables: Vec<Observable>,
}

/// One CVSS metric as a source published it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CvssMetric {
    /// `2.0`, `3.0`, `3.1`, `4.0`.
    pub version: String,
    pub vector: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_score: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub severity: Option<String>,
    /// Who scored it: CNA short name, ADP name, or NVD source (`nvd@nist.gov`).
    pub source: String,
}

/// A CVE description in one language.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Description {
    pub lang: String,
    pub value: String,
}

/// A CVE record from CVE JSON 5.x or the NVD API 2.0.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CveRecord {
    pub id: String,
    /// `PUBLISHED`, `REJECTED` (CVE 5) or the NVD `vulnStatus`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub published: Option<DateTime<Utc>>,
    #[serde(default)]
    pub descriptions: Vec<Description>,
    /// `CWE-79`, deduplicated, in source order.
    #[serde(default)]
    pub cwes: Vec<String>,
    #[serde(default)]
    pub cvss: Vec<CvssMetric>,
}

impl CveRecord {
    /// The English description, else the first one.
    pub fn description(&self) -> Option<&str> {
        self.descriptions
            .iter()
            .find(|d| d.lang.to_ascii_lowercase().starts_with("en"))
            .or_else(|| self.descriptions.first())
            .map(|d| d.value.as_str())
    }
}

/// What the intel stage adds to an exposure about one CVE.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Enrichment {
    pub cve_id: String,
    #[serde(default)]
    pub kev: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kev_date_added: Option<NaiveDate>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kev_due_date: Option<NaiveDate>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kev_ransomware: Option<RansomwareUse>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub epss: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub epss_percentile: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub epss_date: Option<NaiveDate>,
    /// Filled only when the caller said the exposure lacks one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cwes: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cvss: Vec<CvssMetric>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tlp_parses_prefixed_and_legacy_names() {
        assert_eq!("TLP:WHITE".parse::<Tlp>(), Ok(Tlp::Clear));
        assert_eq!("tlp:amber+strict".parse::<Tlp>(), Ok(Tlp::AmberStrict));
        assert_eq!("red".parse::<Tlp>(), Ok(Tlp::Red));
        assert!("tlp:purple".parse::<Tlp>().is_err());
        assert!(Tlp::Green < Tlp::Amber && Tlp::Amber < Tlp::AmberStrict);
    }

    #[test]
    fn indicator_type_round_trips_through_its_name() {
        for t in IndicatorType::ALL {
            assert_eq!(t.as_str().parse::<IndicatorType>(), Ok(t));
            let json = serde_json::to_string(&t).unwrap_or_default();
            assert_eq!(json, format!("\"{}\"", t.as_str()));
        }
    }
}
