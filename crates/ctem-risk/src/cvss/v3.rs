//! CVSS v3.0 and v3.1: the equations of the specification documents, section 7, with the
//! integer-based `Roundup` of v3.1 appendix A (used for v3.0 too: on real inputs it gives the
//! same result as the exact decimal `ceil` that v3.0 specifies, without float artefacts).

use super::parse::{MetricDef, def, parse_metrics, roundup};
use crate::error::Result;

const CIA: &[&str] = &["H", "L", "N"];
const MCIA: &[&str] = &["X", "H", "L", "N"];
const REQ: &[&str] = &["X", "L", "M", "H"];

const DEFS: [MetricDef; 22] = [
    def("AV", &["N", "A", "L", "P"], true),
    def("AC", &["L", "H"], true),
    def("PR", &["N", "L", "H"], true),
    def("UI", &["N", "R"], true),
    def("S", &["U", "C"], true),
    def("C", CIA, true),
    def("I", CIA, true),
    def("A", CIA, true),
    def("E", &["X", "U", "P", "F", "H"], false),
    def("RL", &["X", "O", "T", "W", "U"], false),
    def("RC", &["X", "U", "R", "C"], false),
    def("CR", REQ, false),
    def("IR", REQ, false),
    def("AR", REQ, false),
    def("MAV", &["X", "N", "A", "L", "P"], false),
    def("MAC", &["X", "L", "H"], false),
    def("MPR", &["X", "N", "L", "H"], false),
    def("MUI", &["X", "N", "R"], false),
    def("MS", &["X", "U", "C"], false),
    def("MC", MCIA, false),
    def("MI", MCIA, false),
    def("MA", MCIA, false),
];

const W_AV: [f64; 4] = [0.85, 0.62, 0.55, 0.2];
const W_AC: [f64; 2] = [0.77, 0.44];
const W_PR_U: [f64; 3] = [0.85, 0.62, 0.27];
const W_PR_C: [f64; 3] = [0.85, 0.68, 0.5];
const W_UI: [f64; 2] = [0.85, 0.62];
const W_CIA: [f64; 3] = [0.56, 0.22, 0.0];
const W_E: [f64; 5] = [1.0, 0.91, 0.94, 0.97, 1.0];
const W_RL: [f64; 5] = [1.0, 0.95, 0.96, 0.97, 1.0];
const W_RC: [f64; 4] = [1.0, 0.92, 0.96, 1.0];
const W_REQ: [f64; 4] = [1.0, 0.5, 1.0, 1.5];

/// The two minor versions of CVSS v3, which differ in the environmental equation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Minor {
    /// CVSS v3.0.
    V30,
    /// CVSS v3.1.
    V31,
}

/// A parsed CVSS v3.0 or v3.1 vector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CvssV3 {
    minor: Minor,
    m: [Option<u8>; 22],
}

impl CvssV3 {
    /// The value index of metric `i` of this version's table, `None` when absent.
    pub(crate) fn metric(&self, i: usize) -> Option<u8> {
        self.m[i]
    }

    /// Parses the metrics after the `CVSS:3.x/` prefix.
    pub(crate) fn parse_body(minor: Minor, body: &str) -> Result<Self> {
        let version = match minor {
            Minor::V30 => "3.0",
            Minor::V31 => "3.1",
        };
        Ok(Self {
            minor,
            m: parse_metrics(version, body, &DEFS, 1)?,
        })
    }

    /// The minor version.
    pub fn minor(&self) -> Minor {
        self.minor
    }

    /// Index of the value of metric `i`; `X` and absent are both 0 for optional metrics.
    fn idx(&self, i: usize) -> usize {
        usize::from(self.m[i].unwrap_or(0))
    }

    /// Modified base metric `mi` (index of `M..`) falling back on base metric `bi`:
    /// returns the index in the base metric's value list.
    fn modified(&self, mi: usize, bi: usize) -> usize {
        match self.idx(mi) {
            0 => self.idx(bi),
            v => v - 1,
        }
    }

    /// Whether the vector carries any temporal metric.
    pub fn has_temporal(&self) -> bool {
        self.m[8..11].iter().any(Option::is_some)
    }

    /// Whether the vector carries any environmental metric.
    pub fn has_environmental(&self) -> bool {
        self.m[11..22].iter().any(Option::is_some)
    }

    fn temporal_factor(&self) -> f64 {
        W_E[self.idx(8)] * W_RL[self.idx(9)] * W_RC[self.idx(10)]
    }

    /// The base score.
    pub fn base_score(&self) -> f64 {
        let changed = self.idx(4) == 1;
        let iss = 1.0
            - (1.0 - W_CIA[self.idx(5)]) * (1.0 - W_CIA[self.idx(6)]) * (1.0 - W_CIA[self.idx(7)]);
        let impact = if changed {
            7.52 * (iss - 0.029) - 3.25 * (iss - 0.02).powi(15)
        } else {
            6.42 * iss
        };
        let pr = if changed { W_PR_C } else { W_PR_U };
        let exploitability =
            8.22 * W_AV[self.idx(0)] * W_AC[self.idx(1)] * pr[self.idx(2)] * W_UI[self.idx(3)];
        if impact <= 0.0 {
            0.0
        } else if changed {
            roundup((1.08 * (impact + exploitability)).min(10.0))
        } else {
            roundup((impact + exploitability).min(10.0))
        }
    }

    /// The temporal score (equal to the base score when no temporal metric is set).
    pub fn temporal_score(&self) -> f64 {
        roundup(self.base_score() * self.temporal_factor())
    }

    /// The environmental score, computed even when no environmental metric is set (for
    /// v3.1 it may then differ from the temporal score for a changed scope, per the spec).
    pub fn environmental_score(&self) -> f64 {
        let changed = self.modified(18, 4) == 1;
        let req = |i: usize| W_REQ[self.idx(i)];
        let miss = (1.0
            - (1.0 - req(11) * W_CIA[self.modified(19, 5)])
                * (1.0 - req(12) * W_CIA[self.modified(20, 6)])
                * (1.0 - req(13) * W_CIA[self.modified(21, 7)]))
        .min(0.915);
        let impact = match (changed, self.minor) {
            (false, _) => 6.42 * miss,
            (true, Minor::V30) => 7.52 * (miss - 0.029) - 3.25 * (miss - 0.02).powi(15),
            (true, Minor::V31) => 7.52 * (miss - 0.029) - 3.25 * (miss * 0.9731 - 0.02).powi(13),
        };
        let pr = if changed { W_PR_C } else { W_PR_U };
        let exploitability = 8.22
            * W_AV[self.modified(14, 0)]
            * W_AC[self.modified(15, 1)]
            * pr[self.modified(16, 2)]
            * W_UI[self.modified(17, 3)];
        if impact <= 0.0 {
            return 0.0;
        }
        let base = if changed {
            roundup((1.08 * (impact + exploitability)).min(10.0))
        } else {
            roundup((impact + exploitability).min(10.0))
        };
        roundup(base * self.temporal_factor())
    }
}
