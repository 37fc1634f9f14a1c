//! The results of prioritisation that every stage stores and reads: a remediation
//! [`Priority`] and an SSVC [`Decision`]. The model that computes them is `ctem-risk`
//! (which re-exports both); they live here so the store can keep them without knowing the
//! model.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Remediation priority, P1 most urgent.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Default,
)]
pub enum Priority {
    /// Critical.
    P1,
    /// High.
    P2,
    /// Medium.
    P3,
    /// Low.
    #[default]
    P4,
}

impl Priority {
    /// `P1` .. `P4`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::P1 => "P1",
            Self::P2 => "P2",
            Self::P3 => "P3",
            Self::P4 => "P4",
        }
    }

    /// `critical`, `high`, `medium` or `low`.
    pub fn label(self) -> &'static str {
        match self {
            Self::P1 => "critical",
            Self::P2 => "high",
            Self::P3 => "medium",
            Self::P4 => "low",
        }
    }

    /// The priority an SSVC decision maps to: Act P1, Attend P2, Track* P3, Track P4.
    pub fn from_ssvc(decision: Decision) -> Self {
        match decision {
            Decision::Act => Self::P1,
            Decision::Attend => Self::P2,
            Decision::TrackStar => Self::P3,
            Decision::Track => Self::P4,
        }
    }

    /// 1 (P1) to 4 (P4).
    pub fn number(self) -> u8 {
        match self {
            Self::P1 => 1,
            Self::P2 => 2,
            Self::P3 => 3,
            Self::P4 => 4,
        }
    }

    /// The priority of [`Priority::number`]; anything above 4 is P4.
    pub fn from_number(n: i64) -> Self {
        match n {
            1 => Self::P1,
            2 => Self::P2,
            3 => Self::P3,
            _ => Self::P4,
        }
    }
}

impl fmt::Display for Priority {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An SSVC decision, from least to most urgent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Decision {
    /// No action now; remediate within standard update timelines.
    #[serde(rename = "track")]
    Track,
    /// Track, with characteristics that call for closer monitoring.
    #[serde(rename = "track*")]
    TrackStar,
    /// Supervisory attention; remediate sooner than standard timelines.
    #[serde(rename = "attend")]
    Attend,
    /// Leadership attention; remediate as soon as possible.
    #[serde(rename = "act")]
    Act,
}

impl Decision {
    /// `Track`, `Track*`, `Attend` or `Act`, as CISA writes them.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Track => "Track",
            Self::TrackStar => "Track*",
            Self::Attend => "Attend",
            Self::Act => "Act",
        }
    }

    /// 0 (Track) to 3 (Act), in urgency order.
    pub fn number(self) -> u8 {
        match self {
            Self::Track => 0,
            Self::TrackStar => 1,
            Self::Attend => 2,
            Self::Act => 3,
        }
    }

    /// The decision of [`Decision::number`]; anything unknown is Track.
    pub fn from_number(n: i64) -> Self {
        match n {
            3 => Self::Act,
            2 => Self::Attend,
            1 => Self::TrackStar,
            _ => Self::Track,
        }
    }
}

impl fmt::Display for Decision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_round_trip() {
        for p in [Priority::P1, Priority::P2, Priority::P3, Priority::P4] {
            assert_eq!(Priority::from_number(i64::from(p.number())), p);
        }
        for d in [
            Decision::Track,
            Decision::TrackStar,
            Decision::Attend,
            Decision::Act,
        ] {
            assert_eq!(Decision::from_number(i64::from(d.number())), d);
        }
        assert_eq!(Priority::from_number(9), Priority::P4);
    }
}
