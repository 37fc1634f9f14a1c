//! The facts an exposure's score is made of, gathered from the store's rows, and how they
//! become the model's input ([`risk_input`]). `ctem explain` fills them from one fully read
//! exposure ([`facts_of`]); the scoring pass from the rows it streams.

use chrono::NaiveDate;
use ctem_model::intel::{Enrichment, RansomwareUse};
use ctem_model::risk::{Decision, Priority};
use ctem_model::{Asset, Exposure, ExposureStatus, Service};
use ctem_risk::{Cvss, NetworkZone, RiskInput, RiskModel, SlaTarget};

/// The facts about one exposure the model reads.
#[derive(Debug, Clone, Copy, Default)]
pub struct Facts<'a> {
    pub severity: ctem_model::Severity,
    pub cvss: Option<&'a CvssFacts>,
    pub fix_available: Option<bool>,
    pub asset: Option<&'a AssetFacts>,
    /// Whether the exposure's port is an open service of its asset (`None`: no port, or
    /// the asset's services were never inventoried).
    pub service_reachable: Option<bool>,
    pub intel: Option<IntelFacts>,
    /// A KEV catalog is stored: a CVE without a KEV entry is known not to be listed.
    pub kev_catalog: bool,
    pub vex_not_affected: bool,
    pub accepted: bool,
}

/// What the model reads from a CVE's threat intelligence: a small copy of [`Enrichment`]
/// (the scoring pass keeps one per exposure detail, close together in memory).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct IntelFacts {
    pub kev: bool,
    /// KEV says known ransomware campaign use.
    pub kev_ransomware_known: bool,
    pub kev_due_date: Option<NaiveDate>,
    pub epss: Option<f64>,
    pub epss_percentile: Option<f64>,
}

impl From<&Enrichment> for IntelFacts {
    fn from(e: &Enrichment) -> Self {
        IntelFacts {
            kev: e.kev,
            kev_ransomware_known: e.kev_ransomware == Some(RansomwareUse::Known),
            kev_due_date: e.kev_due_date,
            epss: e.epss,
            epss_percentile: e.epss_percentile,
        }
    }
}

/// What the model reads from an exposure's CVSS list, parsed once per distinct detail.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct CvssFacts {
    pub base_score: Option<f64>,
    pub automatable: Option<bool>,
    pub technical_impact: Option<ctem_risk::ssvc::TechnicalImpact>,
}

impl CvssFacts {
    /// The best CVSS of a list: the newest version whose vector parses (v3.1, v3.0, v4.0,
    /// v2), else the highest reported score.
    pub fn from_list(list: &[ctem_model::Cvss]) -> Self {
        let rank = |v: &str| match v {
            "3.1" => 0,
            "3.0" => 1,
            "4.0" => 2,
            "2.0" | "2" => 3,
            _ => 4,
        };
        let mut sorted: Vec<&ctem_model::Cvss> = list.iter().collect();
        sorted.sort_by_key(|c| rank(&c.version));
        for c in &sorted {
            if let Some(Ok(parsed)) = c.vector.as_deref().map(Cvss::parse) {
                return CvssFacts {
                    base_score: Some(parsed.base_score()),
                    automatable: Some(parsed.automatable()),
                    technical_impact: Some(parsed.technical_impact()),
                };
            }
        }
        CvssFacts {
            base_score: list
                .iter()
                .filter_map(|c| c.score)
                .filter(|s| s.is_finite())
                .reduce(f64::max),
            ..CvssFacts::default()
        }
    }
}

/// What the model reads from an asset.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AssetFacts {
    pub criticality: Option<u8>,
    pub internet_facing: Option<bool>,
    pub zone: Option<NetworkZone>,
}

impl AssetFacts {
    pub fn of(a: &Asset) -> Self {
        AssetFacts {
            criticality: a.criticality,
            internet_facing: a.internet_facing,
            zone: a.zone.as_deref().and_then(NetworkZone::from_name),
        }
    }
}

fn risk_severity(s: ctem_model::Severity) -> Option<ctem_risk::Severity> {
    use ctem_model::Severity as M;
    use ctem_risk::Severity as R;
    match s {
        M::Unknown => None,
        M::Info => Some(R::None),
        M::Low => Some(R::Low),
        M::Medium => Some(R::Medium),
        M::High => Some(R::High),
        M::Critical => Some(R::Critical),
    }
}

/// Fills the model's input from the facts.
pub fn risk_input(f: &Facts<'_>) -> RiskInput {
    let cvss = f.cvss.copied().unwrap_or_default();
    let a = f.asset.cloned().unwrap_or_default();
    let listed = f.intel.is_some_and(|i| i.kev);
    RiskInput {
        kev: if listed || f.kev_catalog {
            Some(listed)
        } else {
            None
        },
        kev_ransomware: f.intel.filter(|i| i.kev).map(|i| i.kev_ransomware_known),
        epss_probability: f.intel.and_then(|i| i.epss),
        epss_percentile: f.intel.and_then(|i| i.epss_percentile),
        exploit_public: f.intel.filter(|i| i.kev).map(|_| true),
        cvss_base_score: cvss.base_score,
        scanner_severity: risk_severity(f.severity),
        internet_facing: a.internet_facing,
        network_zone: a.zone,
        service_reachable: f.service_reachable,
        asset_criticality: a.criticality,
        vex_not_affected: Some(f.vex_not_affected),
        accepted_risk: Some(f.accepted),
        fix_available: f.fix_available,
        automatable: cvss.automatable,
        technical_impact: cvss.technical_impact,
    }
}

/// Whether the scanner's solution text carries a VEX `not_affected` analysis (CycloneDX,
/// OpenVEX and CSAF parsers write it there).
pub fn vex_not_affected(e: &Exposure) -> bool {
    e.solution
        .as_deref()
        .is_some_and(|s| s.contains("not_affected"))
}

/// The facts of one fully read exposure (`ctem explain`); `kev_catalog` says whether a KEV
/// catalog is stored.
pub fn facts_of<'a>(
    e: &'a Exposure,
    cvss: &'a CvssFacts,
    asset: Option<&'a AssetFacts>,
    services: &[Service],
    kev_catalog: bool,
) -> Facts<'a> {
    Facts {
        severity: e.severity,
        cvss: Some(cvss),
        fix_available: e
            .package
            .as_ref()
            .map(|p| p.fixed_version.as_deref().is_some_and(|v| !v.is_empty())),
        asset,
        // no service inventory: reachability unknown, not "no"
        service_reachable: e.port.filter(|_| !services.is_empty()).map(|p| {
            services
                .iter()
                .any(|s| s.port == p && s.state.eq_ignore_ascii_case("open"))
        }),
        intel: e.intel.as_ref().map(IntelFacts::from),
        kev_catalog,
        vex_not_affected: vex_not_affected(e),
        accepted: e.status == ExposureStatus::Accepted,
    }
}

/// The SLA target of a scored exposure under the model's policy.
pub fn sla_target(model: &RiskModel, priority: Priority, ssvc: Decision) -> SlaTarget {
    match model.config().policy {
        ctem_risk::Policy::RiskScore => SlaTarget::Priority(priority),
        ctem_risk::Policy::Ssvc => SlaTarget::Ssvc(ssvc),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cvss_facts_prefer_a_parsable_v31_vector() {
        let list = vec![
            ctem_model::Cvss {
                version: "2.0".into(),
                vector: Some("AV:N/AC:L/Au:N/C:P/I:P/A:P".into()),
                score: Some(7.5),
                source: None,
            },
            ctem_model::Cvss {
                version: "3.1".into(),
                vector: Some("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H".into()),
                score: Some(9.8),
                source: None,
            },
        ];
        let f = CvssFacts::from_list(&list);
        assert_eq!(f.base_score, Some(9.8));
        assert_eq!(f.automatable, Some(true));
        let bad = vec![ctem_model::Cvss {
            version: "3.1".into(),
            vector: Some("garbage".into()),
            score: Some(6.1),
            source: None,
        }];
        assert_eq!(CvssFacts::from_list(&bad).base_score, Some(6.1));
    }
}
