//! CVSS v2.0: base, temporal and environmental equations of the v2 guide, section 3.2.

use super::parse::{MetricDef, def, parse_metrics, round1_half_up};
use crate::error::Result;

const V: &str = "2.0";
const ND_E: &[&str] = &["ND", "U", "POC", "F", "H"];
const ND_RL: &[&str] = &["ND", "OF", "TF", "W", "U"];
const ND_RC: &[&str] = &["ND", "UC", "UR", "C"];
const CIA: &[&str] = &["N", "P", "C"];
const REQ: &[&str] = &["ND", "L", "M", "H"];

const DEFS: [MetricDef; 14] = [
    def("AV", &["L", "A", "N"], true),
    def("AC", &["H", "M", "L"], true),
    def("Au", &["M", "S", "N"], true),
    def("C", CIA, true),
    def("I", CIA, true),
    def("A", CIA, true),
    def("E", ND_E, false),
    def("RL", ND_RL, false),
    def("RC", ND_RC, false),
    def("CDP", &["ND", "N", "L", "LM", "MH", "H"], false),
    def("TD", &["ND", "N", "L", "M", "H"], false),
    def("CR", REQ, false),
    def("IR", REQ, false),
    def("AR", REQ, false),
];

const W_AV: [f64; 3] = [0.395, 0.646, 1.0];
const W_AC: [f64; 3] = [0.35, 0.61, 0.71];
const W_AU: [f64; 3] = [0.45, 0.56, 0.704];
const W_CIA: [f64; 3] = [0.0, 0.275, 0.660];
const W_E: [f64; 5] = [1.0, 0.85, 0.90, 0.95, 1.0];
const W_RL: [f64; 5] = [1.0, 0.87, 0.90, 0.95, 1.0];
const W_RC: [f64; 4] = [1.0, 0.90, 0.95, 1.0];
const W_CDP: [f64; 6] = [0.0, 0.0, 0.1, 0.3, 0.4, 0.5];
const W_TD: [f64; 5] = [1.0, 0.0, 0.25, 0.75, 1.0];
const W_REQ: [f64; 4] = [1.0, 0.5, 1.0, 1.51];

/// A parsed CVSS v2.0 vector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CvssV2 {
    m: [Option<u8>; 14],
}

impl CvssV2 {
    /// The value index of metric `i` of this version's table, `None` when absent.
    pub(crate) fn metric(&self, i: usize) -> Option<u8> {
        self.m[i]
    }

    /// Parses a v2 vector such as `AV:N/AC:L/Au:N/C:P/I:P/A:P`, optionally in parentheses.
    pub fn parse(vector: &str) -> Result<Self> {
        let body = vector
            .strip_prefix('(')
            .and_then(|v| v.strip_suffix(')'))
            .unwrap_or(vector);
        Ok(Self {
            m: parse_metrics(V, body, &DEFS, 0)?,
        })
    }

    fn idx(&self, i: usize) -> usize {
        usize::from(self.m[i].unwrap_or(0))
    }

    /// Whether the vector carries any temporal metric.
    pub fn has_temporal(&self) -> bool {
        self.m[6..9].iter().any(Option::is_some)
    }

    /// Whether the vector carries any environmental metric.
    pub fn has_environmental(&self) -> bool {
        self.m[9..14].iter().any(Option::is_some)
    }

    fn base_with_impact(&self, impact: f64) -> f64 {
        let exploitability = 20.0 * W_AV[self.idx(0)] * W_AC[self.idx(1)] * W_AU[self.idx(2)];
        let f = if impact == 0.0 { 0.0 } else { 1.176 };
        round1_half_up(((0.6 * impact) + (0.4 * exploitability) - 1.5) * f)
    }

    fn temporal_factor(&self) -> f64 {
        W_E[self.idx(6)] * W_RL[self.idx(7)] * W_RC[self.idx(8)]
    }

    /// The base score.
    pub fn base_score(&self) -> f64 {
        let (c, i, a) = (W_CIA[self.idx(3)], W_CIA[self.idx(4)], W_CIA[self.idx(5)]);
        let impact = 10.41 * (1.0 - (1.0 - c) * (1.0 - i) * (1.0 - a));
        self.base_with_impact(impact)
    }

    /// The temporal score (equal to the base score when no temporal metric is set).
    pub fn temporal_score(&self) -> f64 {
        round1_half_up(self.base_score() * self.temporal_factor())
    }

    /// The environmental score.
    pub fn environmental_score(&self) -> f64 {
        let (c, i, a) = (W_CIA[self.idx(3)], W_CIA[self.idx(4)], W_CIA[self.idx(5)]);
        let (cr, ir, ar) = (
            W_REQ[self.idx(11)],
            W_REQ[self.idx(12)],
            W_REQ[self.idx(13)],
        );
        let adjusted_impact =
            (10.41 * (1.0 - (1.0 - c * cr) * (1.0 - i * ir) * (1.0 - a * ar))).min(10.0);
        let adjusted_base = self.base_with_impact(adjusted_impact);
        let adjusted_temporal = round1_half_up(adjusted_base * self.temporal_factor());
        let cdp = W_CDP[self.idx(9)];
        let td = W_TD[self.idx(10)];
        round1_half_up((adjusted_temporal + (10.0 - adjusted_temporal) * cdp) * td)
    }
}
