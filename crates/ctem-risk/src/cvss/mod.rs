//! CVSS v2.0, v3.0, v3.1 and v4.0 vectors: parsing and scoring.
//!
//! [`Cvss::parse`] gives a typed vector with every score of its version; [`score`] gives the
//! [`CvssScore`] that `ctem cvss --json` prints.

mod parse;
mod v2;
mod v3;
mod v4;
mod v4_table;

pub use v2::CvssV2;
pub use v3::{CvssV3, Minor};
pub use v4::CvssV4;

use crate::error::{Error, Result};
use crate::ssvc::TechnicalImpact;
use serde::{Deserialize, Serialize};

/// A CVSS version this crate scores.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum Version {
    /// CVSS v2.0 (vector without prefix).
    #[serde(rename = "2.0")]
    V2,
    /// CVSS v3.0.
    #[serde(rename = "3.0")]
    V30,
    /// CVSS v3.1.
    #[serde(rename = "3.1")]
    V31,
    /// CVSS v4.0.
    #[serde(rename = "4.0")]
    V40,
}

impl Version {
    /// `2.0`, `3.0`, `3.1` or `4.0`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::V2 => "2.0",
            Self::V30 => "3.0",
            Self::V31 => "3.1",
            Self::V40 => "4.0",
        }
    }
}

/// Qualitative severity rating.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Score 0.0 (v3 / v4 only).
    None,
    /// 0.1-3.9 (v2: 0.0-3.9).
    Low,
    /// 4.0-6.9.
    Medium,
    /// 7.0-8.9 (v2: 7.0-10.0).
    High,
    /// 9.0-10.0 (v3 / v4 only).
    Critical,
}

impl Severity {
    /// The v3.x / v4.0 rating scale.
    pub fn from_score(score: f64) -> Self {
        if score <= 0.0 {
            Self::None
        } else if score < 4.0 {
            Self::Low
        } else if score < 7.0 {
            Self::Medium
        } else if score < 9.0 {
            Self::High
        } else {
            Self::Critical
        }
    }

    /// The v2 rating scale of NVD (low, medium, high).
    pub fn from_v2_score(score: f64) -> Self {
        if score < 4.0 {
            Self::Low
        } else if score < 7.0 {
            Self::Medium
        } else {
            Self::High
        }
    }

    /// Lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Low => "low",
            Self::Medium => "medium",
            Self::High => "high",
            Self::Critical => "critical",
        }
    }
}

/// A parsed vector of any supported version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cvss {
    /// CVSS v2.0.
    V2(CvssV2),
    /// CVSS v3.0 or v3.1.
    V3(CvssV3),
    /// CVSS v4.0.
    V4(CvssV4),
}

impl Cvss {
    /// Parses a vector; the version comes from its `CVSS:x.y/` prefix, v2 when it has none.
    pub fn parse(vector: &str) -> Result<Self> {
        let vector = vector.trim();
        if vector.is_empty() {
            return Err(Error::EmptyVector);
        }
        let Some(rest) = vector.strip_prefix("CVSS:") else {
            return CvssV2::parse(vector).map(Self::V2);
        };
        let (version, body) = rest.split_once('/').unwrap_or((rest, ""));
        match version {
            "3.0" => CvssV3::parse_body(Minor::V30, body).map(Self::V3),
            "3.1" => CvssV3::parse_body(Minor::V31, body).map(Self::V3),
            "4.0" => CvssV4::parse_body(body).map(Self::V4),
            "2.0" => CvssV2::parse(body).map(Self::V2),
            other => Err(Error::UnsupportedVersion {
                version: other.to_owned(),
            }),
        }
    }

    /// The version.
    pub fn version(&self) -> Version {
        match self {
            Self::V2(_) => Version::V2,
            Self::V3(v) if v.minor() == Minor::V30 => Version::V30,
            Self::V3(_) => Version::V31,
            Self::V4(_) => Version::V40,
        }
    }

    /// The base score (for v4.0, the CVSS-B score of the base metrics alone).
    pub fn base_score(&self) -> f64 {
        match self {
            Self::V2(v) => v.base_score(),
            Self::V3(v) => v.base_score(),
            Self::V4(v) => v.base_only().score(),
        }
    }

    /// SSVC "automatable" as commonly read from CVSS: reachable over the network without
    /// privileges or user interaction (v3 / v4 `AV:N/PR:N/UI:N`; v2 `AV:N/AC:L/Au:N`).
    pub fn automatable(&self) -> bool {
        match self {
            Self::V2(v) => {
                v.metric(0) == Some(2) && v.metric(1) == Some(2) && v.metric(2) == Some(2)
            }
            Self::V3(v) => {
                v.metric(0) == Some(0) && v.metric(2) == Some(0) && v.metric(3) == Some(0)
            }
            Self::V4(v) => {
                v.metric(0) == Some(0) && v.metric(3) == Some(0) && v.metric(4) == Some(0)
            }
        }
    }

    /// SSVC technical impact as commonly read from CVSS: total when confidentiality and
    /// integrity impacts are both high (v2 complete; v4 on the vulnerable system).
    pub fn technical_impact(&self) -> TechnicalImpact {
        let total = match self {
            Self::V2(v) => v.metric(3) == Some(2) && v.metric(4) == Some(2),
            Self::V3(v) => v.metric(5) == Some(0) && v.metric(6) == Some(0),
            Self::V4(v) => v.metric(5) == Some(0) && v.metric(6) == Some(0),
        };
        if total {
            TechnicalImpact::Total
        } else {
            TechnicalImpact::Partial
        }
    }

    /// The single most specific score: environmental when present, else temporal when
    /// present, else base (v2 / v3); the v4.0 score from every metric carried.
    pub fn overall_score(&self) -> f64 {
        match self {
            Self::V2(v) if v.has_environmental() => v.environmental_score(),
            Self::V2(v) if v.has_temporal() => v.temporal_score(),
            Self::V2(v) => v.base_score(),
            Self::V3(v) if v.has_environmental() => v.environmental_score(),
            Self::V3(v) if v.has_temporal() => v.temporal_score(),
            Self::V3(v) => v.base_score(),
            Self::V4(v) => v.score(),
        }
    }
}

/// The score of one vector, serialised as `ctem cvss --json` prints it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CvssScore {
    /// The vector as given (trimmed).
    pub vector: String,
    /// `2.0`, `3.0`, `3.1` or `4.0`.
    pub version: Version,
    /// The base score (v4.0: CVSS-B from the base metrics alone).
    pub base_score: f64,
    /// The rating of `base_score` (v4.0: of `score`).
    pub severity: Severity,
    /// v2 / v3: present when the vector carries a temporal metric.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub temporal_score: Option<f64>,
    /// v2 / v3: present when the vector carries an environmental metric.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub environmental_score: Option<f64>,
    /// v4.0: the score from every metric the vector carries.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub score: Option<f64>,
    /// v4.0: `CVSS-B`, `CVSS-BT`, `CVSS-BE` or `CVSS-BTE`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nomenclature: Option<&'static str>,
}

/// Parses and scores a CVSS v2.0 / v3.0 / v3.1 / v4.0 vector.
///
/// ```
/// let s = ctem_risk::score("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H").unwrap();
/// assert_eq!(s.base_score, 9.8);
/// assert_eq!(s.severity, ctem_risk::Severity::Critical);
/// ```
pub fn score(vector: &str) -> Result<CvssScore> {
    let cvss = Cvss::parse(vector)?;
    let vector = vector.trim().to_owned();
    let version = cvss.version();
    let base_score = cvss.base_score();
    Ok(match &cvss {
        Cvss::V2(v) => CvssScore {
            vector,
            version,
            base_score,
            severity: Severity::from_v2_score(base_score),
            temporal_score: v.has_temporal().then(|| v.temporal_score()),
            environmental_score: v.has_environmental().then(|| v.environmental_score()),
            score: None,
            nomenclature: None,
        },
        Cvss::V3(v) => CvssScore {
            vector,
            version,
            base_score,
            severity: Severity::from_score(base_score),
            temporal_score: v.has_temporal().then(|| v.temporal_score()),
            environmental_score: v.has_environmental().then(|| v.environmental_score()),
            score: None,
            nomenclature: None,
        },
        Cvss::V4(v) => {
            let s = v.score();
            CvssScore {
                vector,
                version,
                base_score,
                severity: Severity::from_score(s),
                temporal_score: None,
                environmental_score: None,
                score: Some(s),
                nomenclature: Some(v.nomenclature()),
            }
        }
    })
}
