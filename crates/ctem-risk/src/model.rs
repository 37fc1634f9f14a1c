//! The risk model: exploitation evidence, severity, exposure and asset criticality as a
//! weighted mean, damped by mitigating facts, then mapped to a priority.

use crate::config::{Policy, RiskConfig};
use crate::cvss::Severity;
use crate::ssvc::{self, Decision, Exploitation, MissionWellbeing, SsvcInputs, TechnicalImpact};
use serde::{Deserialize, Serialize};
use std::fmt::Write as _;

/// Where an asset sits in the network.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NetworkZone {
    /// Directly on the internet.
    Internet,
    /// A perimeter network.
    Dmz,
    /// The ordinary internal network.
    Internal,
    /// A segmented, access-controlled zone.
    Restricted,
    /// Air-gapped or otherwise unreachable.
    Isolated,
}

impl NetworkZone {
    /// Reads the free-text zone names assets carry (`internet`, `external`, `public`,
    /// `dmz`, `perimeter`, `internal`, `corp`, `lan`, `restricted`, `pci`, `ot`,
    /// `isolated`, `airgap`...), case-insensitively; `None` for anything else.
    pub fn from_name(name: &str) -> Option<Self> {
        let n = name.trim().to_ascii_lowercase();
        Some(match n.as_str() {
            "internet" | "external" | "public" | "wan" => Self::Internet,
            "dmz" | "perimeter" | "edge" => Self::Dmz,
            "internal" | "corp" | "corporate" | "lan" | "office" | "private" => Self::Internal,
            "restricted" | "pci" | "ot" | "ics" | "secure" | "management" | "mgmt" => {
                Self::Restricted
            }
            "isolated" | "airgap" | "air-gapped" | "airgapped" | "offline" => Self::Isolated,
            _ => return None,
        })
    }
}

/// Everything the model knows about one exposure on one asset. Every field is optional:
/// unknown inputs take the configured assumptions, and the explanation says so.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RiskInput {
    /// Listed in CISA's Known Exploited Vulnerabilities catalog.
    pub kev: Option<bool>,
    /// KEV `knownRansomwareCampaignUse` is `Known`.
    pub kev_ransomware: Option<bool>,
    /// EPSS probability (0-1).
    pub epss_probability: Option<f64>,
    /// EPSS percentile (0-1), shown in the explanation.
    pub epss_percentile: Option<f64>,
    /// A public exploit or proof of concept exists.
    pub exploit_public: Option<bool>,
    /// CVSS base score (0-10), preferred over `scanner_severity`.
    pub cvss_base_score: Option<f64>,
    /// The scanner's own severity.
    pub scanner_severity: Option<Severity>,
    /// The asset is reachable from the internet.
    pub internet_facing: Option<bool>,
    /// The asset's network zone.
    pub network_zone: Option<NetworkZone>,
    /// The vulnerable service is reachable (listening, exposed) on the asset.
    pub service_reachable: Option<bool>,
    /// Asset criticality, 1 (lowest) to 5 (crown jewel).
    pub asset_criticality: Option<u8>,
    /// A VEX statement says `not_affected`.
    pub vex_not_affected: Option<bool>,
    /// The risk was formally accepted.
    pub accepted_risk: Option<bool>,
    /// A fixed version exists.
    pub fix_available: Option<bool>,
    /// SSVC: exploitation can be automated (for example CVSS AV:N/PR:N/UI:N).
    pub automatable: Option<bool>,
    /// SSVC: technical impact; derived from severity (critical is total) when unknown.
    pub technical_impact: Option<TechnicalImpact>,
}

pub use ctem_model::risk::Priority;

/// One factor's part in a score.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Factor {
    /// Stable snake_case name (`kev`, `epss`, `severity`, `vex_not_affected`...).
    pub name: &'static str,
    /// The factor's value: 0-1 for additive factors, 1 or 0 (applies or not) for
    /// mitigations.
    pub value: f64,
    /// The configured weight (additive) or multiplier (mitigation).
    pub weight: f64,
    /// Score points this factor adds (additive) or removes (mitigation, negative); the
    /// contributions add up to the score.
    pub contribution: f64,
    /// Why, in words.
    pub reason: String,
}

/// The result of scoring one input.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RiskScore {
    /// 0-100, one decimal.
    pub score: f64,
    /// The priority under the configured policy.
    pub priority: Priority,
    /// The policy that decided the priority.
    pub policy: Policy,
    /// The SSVC decision for the same input (computed under both policies).
    pub ssvc: Decision,
    /// Whether the KEV floor raised the priority.
    pub kev_floor_applied: bool,
    /// Every factor, additive ones first, then mitigations.
    pub factors: Vec<Factor>,
    /// The facts the model did not know (`kev`, `epss`, `severity`, `exposure`,
    /// `asset_criticality`): unknown context is left out of the score, and supplying it can
    /// move the score either way.
    pub missing: Vec<&'static str>,
}

impl RiskScore {
    /// A human-readable explanation listing every factor, one a line.
    pub fn explain(&self) -> String {
        let mut out = String::new();
        let by = match self.policy {
            Policy::RiskScore => "risk score",
            Policy::Ssvc => "ssvc",
        };
        let _ = writeln!(
            out,
            "risk {:.1}/100, priority {} ({}) by {by} policy; SSVC {}",
            self.score,
            self.priority,
            self.priority.label(),
            self.ssvc
        );
        if self.kev_floor_applied {
            let _ = writeln!(
                out,
                "  priority raised to the KEV floor (exploited in the wild, or SSVC Act)"
            );
        }
        for f in &self.factors {
            let _ = writeln!(
                out,
                "  {:<18} {:>+6.1}  (value {:.2}, weight {}) {}",
                f.name, f.contribution, f.value, f.weight, f.reason
            );
        }
        out
    }
}

/// Receives factors while scoring; the fast path discards them without building reasons.
trait Sink {
    fn factor(&mut self, name: &'static str, v: f64, w: f64, c: f64, why: impl FnOnce() -> String);
}

struct Discard;

impl Sink for Discard {
    #[inline(always)]
    fn factor(&mut self, _: &'static str, _: f64, _: f64, _: f64, _: impl FnOnce() -> String) {}
}

impl Sink for Vec<Factor> {
    fn factor(&mut self, name: &'static str, v: f64, w: f64, c: f64, why: impl FnOnce() -> String) {
        self.push(Factor {
            name,
            value: v,
            weight: w,
            contribution: c,
            reason: why(),
        });
    }
}

/// The runtime model built from a [`RiskConfig`].
#[derive(Debug, Clone)]
pub struct RiskModel {
    config: RiskConfig,
    total_weight: f64,
}

impl Default for RiskModel {
    fn default() -> Self {
        Self::new(RiskConfig::default())
    }
}

/// Whether anything is known about where the asset sits: internet-facing, zone, or a
/// service known not to be reachable.
fn exposure_known(input: &RiskInput) -> bool {
    input.internet_facing.is_some()
        || input.network_zone.is_some()
        || input.service_reachable == Some(false)
}

fn reachability(b: Option<bool>) -> &'static str {
    match b {
        Some(true) => "yes",
        Some(false) => "no",
        None => "unknown (no service inventory, or not service-bound)",
    }
}

fn known(b: Option<bool>) -> &'static str {
    match b {
        Some(true) => "yes",
        Some(false) => "no",
        None => "unknown",
    }
}

impl RiskModel {
    pub(crate) fn new(config: RiskConfig) -> Self {
        let w = &config.weights;
        let total_weight = w.kev
            + w.kev_ransomware
            + w.epss
            + w.exploit_public
            + w.severity
            + w.exposure
            + w.criticality;
        Self {
            config,
            total_weight,
        }
    }

    /// The configuration the model was built from.
    pub fn config(&self) -> &RiskConfig {
        &self.config
    }

    /// Scores one input with its full explanation.
    pub fn score(&self, input: &RiskInput) -> RiskScore {
        let mut factors = Vec::with_capacity(10);
        let (score, priority, ssvc, kev_floor_applied) = self.eval(input, &mut factors);
        RiskScore {
            score,
            priority,
            policy: self.config.policy,
            ssvc,
            kev_floor_applied,
            factors,
            missing: Self::missing(input),
        }
    }

    /// Scores one input without building the explanation: the same score and priority as
    /// [`RiskModel::score`], for re-scoring a whole store.
    pub fn quick(&self, input: &RiskInput) -> (f64, Priority) {
        let (score, priority, _, _) = self.eval(input, &mut Discard);
        (score, priority)
    }

    /// The facts of `input` the model does not know, by factor name.
    pub fn missing(input: &RiskInput) -> Vec<&'static str> {
        let mut out = Vec::new();
        if input.kev.is_none() {
            out.push("kev");
        }
        if input.epss_probability.is_none() {
            out.push("epss");
        }
        if input.cvss_base_score.is_none() && input.scanner_severity.is_none() {
            out.push("severity");
        }
        if !exposure_known(input) {
            out.push("exposure");
        }
        if input.asset_criticality.is_none() {
            out.push("asset_criticality");
        }
        out
    }

    /// Whether the vulnerable service is known not to be reachable: the scanner inventory
    /// shows it closed, or the asset sits in an isolated zone.
    pub fn known_unreachable(input: &RiskInput) -> bool {
        input.service_reachable == Some(false) || input.network_zone == Some(NetworkZone::Isolated)
    }

    /// The SSVC decision points this model derives from an input.
    pub fn ssvc_inputs(&self, input: &RiskInput) -> SsvcInputs {
        let exploitation = if input.kev == Some(true) {
            Exploitation::Active
        } else if input.exploit_public == Some(true) {
            Exploitation::Poc
        } else {
            Exploitation::None
        };
        let technical_impact = input.technical_impact.unwrap_or_else(|| {
            if self.severity_value(input).0 >= 0.9 {
                TechnicalImpact::Total
            } else {
                TechnicalImpact::Partial
            }
        });
        SsvcInputs {
            exploitation,
            automatable: input.automatable.unwrap_or(false),
            technical_impact,
            mission_wellbeing: MissionWellbeing::from_criticality(input.asset_criticality),
        }
    }

    /// Severity value 0-1 and where it came from.
    fn severity_value(&self, input: &RiskInput) -> (f64, &'static str) {
        if let Some(s) = input.cvss_base_score.filter(|s| s.is_finite()) {
            return (s.clamp(0.0, 10.0) / 10.0, "cvss");
        }
        match input.scanner_severity {
            Some(Severity::Critical) => (0.95, "scanner"),
            Some(Severity::High) => (0.8, "scanner"),
            Some(Severity::Medium) => (0.55, "scanner"),
            Some(Severity::Low) => (0.2, "scanner"),
            Some(Severity::None) => (0.0, "scanner"),
            None => (self.config.assumptions.severity, "assumed"),
        }
    }

    /// Exposure value 0-1, `None` when nothing is known about it (left out of the score).
    fn exposure_value(&self, input: &RiskInput) -> Option<f64> {
        if !exposure_known(input) {
            return None;
        }
        let a = &self.config.assumptions;
        let base = match (input.internet_facing, input.network_zone) {
            (Some(true), _) | (_, Some(NetworkZone::Internet)) => a.zone_internet,
            (_, Some(NetworkZone::Dmz)) => a.zone_dmz,
            (_, Some(NetworkZone::Internal)) => a.zone_internal,
            (_, Some(NetworkZone::Restricted)) => a.zone_restricted,
            (_, Some(NetworkZone::Isolated)) => a.zone_isolated,
            (Some(false), None) => a.zone_internal,
            (None, None) => a.exposure,
        };
        Some(if input.service_reachable == Some(false) {
            base * a.unreachable
        } else {
            base
        })
    }

    /// Score, priority, SSVC decision and whether the KEV floor applied.
    fn eval(&self, input: &RiskInput, sink: &mut impl Sink) -> (f64, Priority, Decision, bool) {
        let raw = self.additive(input, sink);
        let raw = self.mitigate(input, raw, sink);
        let score = ((raw * 10.0).round() / 10.0).clamp(0.0, 100.0);
        let vex = input.vex_not_affected == Some(true);
        let accepted = input.accepted_risk == Some(true);
        let decision = ssvc::decide(&self.ssvc_inputs(input));
        let mut priority = match self.config.policy {
            Policy::RiskScore => self.priority_of(score),
            Policy::Ssvc if vex || accepted => Priority::P4,
            Policy::Ssvc => Priority::from_ssvc(decision),
        };
        let floor = if Self::known_unreachable(input) {
            self.config.kev_floor_unreachable
        } else {
            self.config.kev_floor
        };
        let exploited = input.kev == Some(true) || decision == Decision::Act;
        let floor_applied = exploited && !vex && !accepted && priority > floor;
        if floor_applied {
            priority = floor;
        }
        (score, priority, decision, floor_applied)
    }

    /// The weighted mean of the additive factors, in points (0-100).
    fn additive(&self, input: &RiskInput, sink: &mut impl Sink) -> f64 {
        let w = &self.config.weights;
        let exposure = self.exposure_value(input);
        let crit = input
            .asset_criticality
            .map(|c| f64::from(c.clamp(1, 5) - 1) / 4.0);
        // unknown context is neutral: its weight leaves the mean
        let mut total = self.total_weight;
        if exposure.is_none() {
            total -= w.exposure;
        }
        if crit.is_none() {
            total -= w.criticality;
        }
        let points = if total > 0.0 { 100.0 / total } else { 0.0 };
        let mut score = 0.0;
        let mut add = |sink: &mut _, name, v: f64, weight: f64, why: &dyn Fn() -> String| {
            let c = v * weight * points;
            score += c;
            Sink::factor(sink, name, v, weight, c, why);
        };

        let kev = f64::from(u8::from(input.kev == Some(true)));
        add(sink, "kev", kev, w.kev, &|| match input.kev {
            Some(true) => "listed in CISA KEV: exploited in the wild".into(),
            Some(false) => "not in CISA KEV".into(),
            None => "KEV status unknown".into(),
        });
        let ransomware = f64::from(u8::from(input.kev_ransomware == Some(true)));
        add(
            sink,
            "kev_ransomware",
            ransomware,
            w.kev_ransomware,
            &|| {
                format!(
                    "known ransomware campaign use: {}",
                    known(input.kev_ransomware)
                )
            },
        );
        let epss = input
            .epss_probability
            .filter(|p| p.is_finite())
            .map_or(0.0, |p| p.clamp(0.0, 1.0));
        add(
            sink,
            "epss",
            epss,
            w.epss,
            &|| match (input.epss_probability, input.epss_percentile) {
                (Some(p), Some(q)) => format!("EPSS probability {p:.3} (percentile {q:.3})"),
                (Some(p), None) => format!("EPSS probability {p:.3}"),
                _ => "no EPSS score".into(),
            },
        );
        let exploit = f64::from(u8::from(input.exploit_public == Some(true)));
        add(sink, "exploit_public", exploit, w.exploit_public, &|| {
            format!(
                "public exploit or proof of concept: {}",
                known(input.exploit_public)
            )
        });
        let (sev, source) = self.severity_value(input);
        add(sink, "severity", sev, w.severity, &|| match source {
            "cvss" => format!(
                "CVSS base score {:.1}",
                input.cvss_base_score.unwrap_or(0.0)
            ),
            "scanner" => format!(
                "scanner severity {}",
                input.scanner_severity.map_or("unknown", Severity::as_str)
            ),
            _ => "severity unknown, assumed".into(),
        });
        let exposure_weight = if exposure.is_some() { w.exposure } else { 0.0 };
        add(
            sink,
            "exposure",
            exposure.unwrap_or(0.0),
            exposure_weight,
            &|| {
                let zone = input.network_zone.map_or("unknown".to_owned(), |z| {
                    format!("{z:?}").to_ascii_lowercase()
                });
                let facts = format!(
                    "internet-facing {}, zone {zone}, service reachable {}",
                    known(input.internet_facing),
                    reachability(input.service_reachable)
                );
                if exposure.is_some() {
                    facts
                } else {
                    format!("{facts}: unknown, left out of the score (neutral)")
                }
            },
        );
        let crit_weight = if crit.is_some() { w.criticality } else { 0.0 };
        add(
            sink,
            "asset_criticality",
            crit.unwrap_or(0.0),
            crit_weight,
            &|| {
                input.asset_criticality.map_or_else(
                    || "asset criticality unknown, left out of the score (neutral)".into(),
                    |c| format!("asset criticality {c} of 5"),
                )
            },
        );

        score
    }

    /// Applies the mitigating facts' multipliers to `score`. "No fixed version" is listed
    /// but changes nothing: it decides the action (mitigate), not the urgency.
    fn mitigate(&self, input: &RiskInput, mut score: f64, sink: &mut impl Sink) -> f64 {
        let m = &self.config.mitigations;
        let vex = input.vex_not_affected == Some(true);
        let accepted = input.accepted_risk == Some(true);
        let no_fix = input.fix_available == Some(false);
        for (name, applies, mult, yes, no) in [
            (
                "vex_not_affected",
                vex,
                m.vex_not_affected,
                "VEX: not affected",
                "no VEX not_affected statement",
            ),
            (
                "accepted_risk",
                accepted,
                m.accepted_risk,
                "risk accepted",
                "risk not accepted",
            ),
            (
                "no_fix_available",
                no_fix,
                1.0,
                "no fixed version yet: the action is to mitigate, the urgency is unchanged",
                "a fix is available or unknown",
            ),
        ] {
            let before = score;
            // "no fix" multiplies by 1: it is listed for the explanation only
            if applies {
                score *= mult;
            }
            sink.factor(
                name,
                f64::from(u8::from(applies)),
                mult,
                score - before,
                || (if applies { yes } else { no }).to_owned(),
            );
        }
        score
    }

    fn priority_of(&self, score: f64) -> Priority {
        let t = &self.config.thresholds;
        if score >= t.p1 {
            Priority::P1
        } else if score >= t.p2 {
            Priority::P2
        } else if score >= t.p3 {
            Priority::P3
        } else {
            Priority::P4
        }
    }
}
