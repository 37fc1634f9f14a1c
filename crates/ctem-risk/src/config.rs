//! The risk model's configuration: weights, multipliers, thresholds, policy. Every field has
//! a default, so an empty TOML document is a valid configuration.

use crate::error::{Error, Result};
use crate::model::{Priority, RiskModel};
use serde::{Deserialize, Serialize};

/// Which result decides the priority.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Policy {
    /// The 0-100 risk score against `thresholds` (default).
    #[default]
    RiskScore,
    /// The SSVC decision: Act P1, Attend P2, Track* P3, Track P4.
    Ssvc,
}

/// Weights of the additive factors; the score is their weighted mean times 100, so only
/// their ratios matter.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Weights {
    /// Listed in CISA KEV.
    pub kev: f64,
    /// KEV says known ransomware campaign use.
    pub kev_ransomware: f64,
    /// EPSS probability of exploitation in the next 30 days.
    pub epss: f64,
    /// A public exploit or proof of concept exists.
    pub exploit_public: f64,
    /// CVSS base score / 10, or the scanner's severity.
    pub severity: f64,
    /// Internet-facing, network zone, reachable service.
    pub exposure: f64,
    /// Asset criticality 1-5.
    pub criticality: f64,
}

impl Default for Weights {
    fn default() -> Self {
        Self {
            kev: 25.0,
            kev_ransomware: 5.0,
            epss: 15.0,
            exploit_public: 5.0,
            severity: 25.0,
            exposure: 15.0,
            criticality: 15.0,
        }
    }
}

/// Multipliers (0-1) applied to the weighted score by mitigating facts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Mitigations {
    /// A VEX statement says the product is not affected.
    pub vex_not_affected: f64,
    /// The risk was formally accepted.
    pub accepted_risk: f64,
    /// Ignored (kept so older files still load): "no fix available" changes the action
    /// (mitigate instead of upgrade), never the urgency.
    #[serde(skip_serializing)]
    pub no_fix_available: Option<f64>,
}

impl Default for Mitigations {
    fn default() -> Self {
        Self {
            vex_not_affected: 0.05,
            accepted_risk: 0.3,
            no_fix_available: None,
        }
    }
}

/// Lowest score of each priority under the `risk_score` policy (below `p3` is P4).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Thresholds {
    /// Lowest P1 score.
    pub p1: f64,
    /// Lowest P2 score.
    pub p2: f64,
    /// Lowest P3 score.
    pub p3: f64,
}

impl Default for Thresholds {
    fn default() -> Self {
        Self {
            p1: 70.0,
            p2: 50.0,
            p3: 30.0,
        }
    }
}

/// Values (0-1) assumed when an input is unknown, and the exposure of each network zone.
/// Unknown exposure and criticality are not assumed: they are left out of the weighted
/// mean (neutral). `exposure` is read only for a service known not to be reachable on an
/// asset whose zone is unknown; `criticality` is accepted for older files and unused.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Assumptions {
    /// Severity value when neither a CVSS score nor a scanner severity is known.
    pub severity: f64,
    /// Exposure value when neither internet-facing nor zone is known.
    pub exposure: f64,
    /// Criticality value when the asset's criticality is unknown (0.5 is criticality 3).
    pub criticality: f64,
    /// Exposure of an internet-facing asset, or of zone `internet`.
    pub zone_internet: f64,
    /// Exposure of zone `dmz`.
    pub zone_dmz: f64,
    /// Exposure of zone `internal`.
    pub zone_internal: f64,
    /// Exposure of zone `restricted`.
    pub zone_restricted: f64,
    /// Exposure of zone `isolated`.
    pub zone_isolated: f64,
    /// Factor applied to exposure when the vulnerable service is known not to be reachable.
    pub unreachable: f64,
}

impl Default for Assumptions {
    fn default() -> Self {
        Self {
            severity: 0.5,
            exposure: 0.5,
            criticality: 0.5,
            zone_internet: 1.0,
            zone_dmz: 0.8,
            zone_internal: 0.5,
            zone_restricted: 0.3,
            zone_isolated: 0.1,
            unreachable: 0.4,
        }
    }
}

/// The whole risk model configuration, as read from `[risk]` TOML.
///
/// ```
/// let config = ctem_risk::RiskConfig::from_toml("policy = \"ssvc\"\n[weights]\nkev = 40.0\n").unwrap();
/// assert_eq!(config.weights.kev, 40.0);
/// assert_eq!(config.weights.severity, 25.0, "unset fields keep their defaults");
/// let model = config.build().unwrap();
/// # let _ = model;
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RiskConfig {
    /// Which result decides the priority.
    pub policy: Policy,
    /// Additive factor weights.
    pub weights: Weights,
    /// Mitigating-fact multipliers.
    pub mitigations: Mitigations,
    /// Priority thresholds of the risk score.
    pub thresholds: Thresholds,
    /// Values assumed for unknown inputs and per network zone.
    pub assumptions: Assumptions,
    /// Lowest priority of a KEV-listed item (or an SSVC "Act") that no mitigating fact
    /// applies to, on an asset not known to be unreachable (`P1` by default; `P4` disables
    /// the floor).
    pub kev_floor: Priority,
    /// The same floor when the vulnerable service is known not to be reachable or the asset
    /// sits in an isolated zone (`P2` by default).
    pub kev_floor_unreachable: Priority,
}

impl Default for RiskConfig {
    fn default() -> Self {
        Self {
            policy: Policy::default(),
            weights: Weights::default(),
            mitigations: Mitigations::default(),
            thresholds: Thresholds::default(),
            assumptions: Assumptions::default(),
            kev_floor: Priority::P1,
            kev_floor_unreachable: Priority::P2,
        }
    }
}

impl RiskConfig {
    /// Reads a configuration from TOML text.
    pub fn from_toml(text: &str) -> Result<Self> {
        toml::from_str(text).map_err(|e| Error::Config {
            message: e.to_string().trim().to_owned(),
        })
    }

    /// Validates and builds the runtime model.
    pub fn build(self) -> Result<RiskModel> {
        let w = &self.weights;
        let weights = [
            w.kev,
            w.kev_ransomware,
            w.epss,
            w.exploit_public,
            w.severity,
            w.exposure,
            w.criticality,
        ];
        if weights.iter().any(|x| !x.is_finite() || *x < 0.0) {
            return config_err("weights must be finite and not negative");
        }
        if weights.iter().sum::<f64>() <= 0.0 {
            return config_err("at least one weight must be positive");
        }
        let m = &self.mitigations;
        let a = &self.assumptions;
        let unit = [
            m.vex_not_affected,
            m.accepted_risk,
            a.severity,
            a.exposure,
            a.criticality,
            a.zone_internet,
            a.zone_dmz,
            a.zone_internal,
            a.zone_restricted,
            a.zone_isolated,
            a.unreachable,
        ];
        if unit.iter().any(|x| !(0.0..=1.0).contains(x)) {
            return config_err("mitigations and assumptions must be between 0 and 1");
        }
        let t = &self.thresholds;
        if !(t.p1 >= t.p2 && t.p2 >= t.p3 && t.p3 >= 0.0 && t.p1 <= 100.0) {
            return config_err("thresholds must satisfy 100 >= p1 >= p2 >= p3 >= 0");
        }
        Ok(RiskModel::new(self))
    }
}

fn config_err<T>(message: &str) -> Result<T> {
    Err(Error::Config {
        message: message.to_owned(),
    })
}
