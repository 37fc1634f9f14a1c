//! SSVC: CISA's Stakeholder-Specific Vulnerability Categorization decision tree.
//!
//! Four decision points (exploitation, automatable, technical impact, mission and
//! well-being) give one of four decisions: Track, Track*, Attend, Act. The tree is the one
//! CISA publishes in its SSVC guide (2022); `docs/risk-model.md` prints all 36 leaves.

use serde::{Deserialize, Serialize};

/// Present state of exploitation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Exploitation {
    /// No evidence of exploitation and no public proof of concept.
    None,
    /// A public proof of concept or a well-known method of exploitation.
    Poc,
    /// Reliable evidence of exploitation in the wild (for example a KEV listing).
    Active,
}

/// Whether the technical impact is partial or total.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TechnicalImpact {
    /// Limited control over, or information exposure from, the affected component.
    Partial,
    /// Total control of the component's behaviour or total disclosure of its information.
    Total,
}

/// Combined mission prevalence and public well-being impact.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MissionWellbeing {
    /// Minimal mission prevalence and minimal well-being impact.
    Low,
    /// Mission support, or material well-being impact.
    Medium,
    /// Mission essential, or irreversible well-being impact.
    High,
}

impl MissionWellbeing {
    /// Derives the decision point from ctem's asset criticality (1 lowest, 5 crown jewel):
    /// 1-2 low, 3 medium, 4-5 high. An unknown criticality is medium: SSVC has no
    /// "unknown" value and asks for the reasonable assumption instead.
    pub fn from_criticality(criticality: Option<u8>) -> Self {
        match criticality {
            Some(0..=2) => Self::Low,
            Some(3) | None => Self::Medium,
            Some(_) => Self::High,
        }
    }
}

/// The decision points of one vulnerability on one asset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct SsvcInputs {
    /// State of exploitation.
    pub exploitation: Exploitation,
    /// Whether an attacker can reliably automate steps 1-4 of the kill chain.
    pub automatable: bool,
    /// Technical impact of exploitation.
    pub technical_impact: TechnicalImpact,
    /// Mission and well-being impact.
    pub mission_wellbeing: MissionWellbeing,
}

pub use ctem_model::risk::Decision;

/// Walks CISA's tree: exploitation, then automatable, then technical impact, then mission
/// and well-being (`pick` chooses the leaf for low / medium / high).
pub fn decide(inputs: &SsvcInputs) -> Decision {
    use Decision::{Act, Attend, Track, TrackStar};
    use Exploitation as E;
    use TechnicalImpact as T;
    let m = inputs.mission_wellbeing;
    match (
        inputs.exploitation,
        inputs.automatable,
        inputs.technical_impact,
    ) {
        (E::None, false, T::Partial) => Track,
        (E::None, false, T::Total) => pick(m, Track, Track, TrackStar),
        (E::None, true, _) => pick(m, Track, Track, Attend),
        (E::Poc, false, T::Partial) => pick(m, Track, Track, TrackStar),
        (E::Poc, true, T::Partial) => pick(m, Track, Track, Attend),
        (E::Poc, _, T::Total) => pick(m, Track, TrackStar, Attend),
        (E::Active, false, T::Partial) => pick(m, Track, Track, Attend),
        (E::Active, false, T::Total) => pick(m, Track, Attend, Act),
        (E::Active, true, T::Partial) => pick(m, Attend, Attend, Act),
        (E::Active, true, T::Total) => pick(m, Attend, Act, Act),
    }
}

fn pick(m: MissionWellbeing, low: Decision, medium: Decision, high: Decision) -> Decision {
    match m {
        MissionWellbeing::Low => low,
        MissionWellbeing::Medium => medium,
        MissionWellbeing::High => high,
    }
}
