//! CVSS v4.0: MacroVector lookup and severity-distance interpolation (FIRST CVSS v4.0
//! specification, section 8, "CVSS v4.0 Scoring").
//!
//! The score is the lookup value of the vector's MacroVector minus the mean, over the
//! equivalence sets (EQs) that have a lower MacroVector, of the available score drop times
//! the proportion of the EQ's depth that separates the vector from the MacroVector's
//! highest-severity vector.

use super::parse::{MetricDef, def, parse_metrics};
use super::v4_table::{
    MAX_EQ1, MAX_EQ2, MAX_EQ3EQ6, MAX_EQ4, MAX_SEVERITY_EQ1, MAX_SEVERITY_EQ2, MAX_SEVERITY_EQ3EQ6,
    MAX_SEVERITY_EQ4, lookup,
};
use crate::error::Result;

const HLN: &[&str] = &["H", "L", "N"];
const XHLN: &[&str] = &["X", "H", "L", "N"];
const XSHLN: &[&str] = &["X", "S", "H", "L", "N"];
const REQ: &[&str] = &["X", "H", "M", "L"];

const DEFS: [MetricDef; 32] = [
    def("AV", &["N", "A", "L", "P"], true),
    def("AC", &["L", "H"], true),
    def("AT", &["N", "P"], true),
    def("PR", &["N", "L", "H"], true),
    def("UI", &["N", "P", "A"], true),
    def("VC", HLN, true),
    def("VI", HLN, true),
    def("VA", HLN, true),
    def("SC", HLN, true),
    def("SI", HLN, true),
    def("SA", HLN, true),
    // 11: threat
    def("E", &["X", "A", "P", "U"], false),
    // 12..=25: environmental
    def("CR", REQ, false),
    def("IR", REQ, false),
    def("AR", REQ, false),
    def("MAV", &["X", "N", "A", "L", "P"], false),
    def("MAC", &["X", "L", "H"], false),
    def("MAT", &["X", "N", "P"], false),
    def("MPR", &["X", "N", "L", "H"], false),
    def("MUI", &["X", "N", "P", "A"], false),
    def("MVC", XHLN, false),
    def("MVI", XHLN, false),
    def("MVA", XHLN, false),
    def("MSC", XHLN, false),
    def("MSI", XSHLN, false),
    def("MSA", XSHLN, false),
    // 26..=31: supplemental (carried, never scored)
    def("S", &["X", "N", "P"], false),
    def("AU", &["X", "N", "Y"], false),
    def("R", &["X", "A", "U", "I"], false),
    def("V", &["X", "D", "C"], false),
    def("RE", &["X", "L", "M", "H"], false),
    def("U", &["X", "Clear", "Green", "Amber", "Red"], false),
];

/// Severity levels of the effective value indices, exactly as the specification's
/// reference implementation writes them (sums of these decide ties, so keep the literals).
const L4: [f64; 4] = [0.0, 0.1, 0.2, 0.3];
const SC_LEVELS: [f64; 3] = [0.1, 0.2, 0.3];

/// Effective values after applying modified metrics and the worst-case defaults (`E:X` is
/// `A`, `CR:X` is `H`): indices into the orders listed in `v4_table.rs`.
#[derive(Debug, Clone, Copy)]
struct Effective {
    av: u8,
    ac: u8,
    at: u8,
    pr: u8,
    ui: u8,
    vc: u8,
    vi: u8,
    va: u8,
    sc: u8,
    /// S H L N: 0 only through MSI:S.
    si: u8,
    sa: u8,
    e: u8,
    cr: u8,
    ir: u8,
    ar: u8,
}

/// A parsed CVSS v4.0 vector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CvssV4 {
    m: [Option<u8>; 32],
}

impl CvssV4 {
    /// The value index of metric `i` of this version's table, `None` when absent.
    pub(crate) fn metric(&self, i: usize) -> Option<u8> {
        self.m[i]
    }

    /// Parses the metrics after the `CVSS:4.0/` prefix.
    pub(crate) fn parse_body(body: &str) -> Result<Self> {
        Ok(Self {
            m: parse_metrics("4.0", body, &DEFS, 1)?,
        })
    }

    fn raw(&self, i: usize) -> u8 {
        self.m[i].unwrap_or(0)
    }

    /// Whether the vector sets a threat metric (E other than X).
    pub fn has_threat(&self) -> bool {
        self.raw(11) != 0
    }

    /// Whether the vector sets an environmental metric other than X.
    pub fn has_environmental(&self) -> bool {
        (12..=25).any(|i| self.raw(i) != 0)
    }

    /// `CVSS-B`, `CVSS-BT`, `CVSS-BE` or `CVSS-BTE`.
    pub fn nomenclature(&self) -> &'static str {
        match (self.has_threat(), self.has_environmental()) {
            (false, false) => "CVSS-B",
            (true, false) => "CVSS-BT",
            (false, true) => "CVSS-BE",
            (true, true) => "CVSS-BTE",
        }
    }

    /// The vector with its threat and environmental metrics cleared.
    pub fn base_only(&self) -> Self {
        let mut m = self.m;
        for v in &mut m[11..=25] {
            *v = None;
        }
        Self { m }
    }

    fn effective(&self) -> Effective {
        // Modified metric `mi` with `X` at index 0 overrides base metric `bi`, whose
        // values are in the same order; `shift` aligns base indices with a wider scale.
        let pick = |mi: usize, bi: usize, shift: u8| match self.raw(mi) {
            0 => self.raw(bi) + shift,
            v => v - 1,
        };
        let or_first = |i: usize| self.raw(i).saturating_sub(1);
        Effective {
            av: pick(15, 0, 0),
            ac: pick(16, 1, 0),
            at: pick(17, 2, 0),
            pr: pick(18, 3, 0),
            ui: pick(19, 4, 0),
            vc: pick(20, 5, 0),
            vi: pick(21, 6, 0),
            va: pick(22, 7, 0),
            sc: pick(23, 8, 0),
            si: pick(24, 9, 1),
            sa: pick(25, 10, 1),
            e: or_first(11),
            cr: or_first(12),
            ir: or_first(13),
            ar: or_first(14),
        }
    }

    /// The CVSS v4.0 score from every metric the vector carries.
    pub fn score(&self) -> f64 {
        score_effective(&self.effective())
    }
}

fn macro_vector(x: &Effective) -> [u8; 6] {
    let eq1 = if x.av == 0 && x.pr == 0 && x.ui == 0 {
        0
    } else if (x.av == 0 || x.pr == 0 || x.ui == 0) && x.av != 3 {
        1
    } else {
        2
    };
    let eq2 = if x.ac == 0 && x.at == 0 { 0 } else { 1 };
    let eq3 = if x.vc == 0 && x.vi == 0 {
        0
    } else if x.vc == 0 || x.vi == 0 || x.va == 0 {
        1
    } else {
        2
    };
    let eq4 = if x.si == 0 || x.sa == 0 {
        0
    } else if x.sc == 0 || x.si == 1 || x.sa == 1 {
        1
    } else {
        2
    };
    let eq5 = x.e;
    let eq6 = if (x.cr == 0 && x.vc == 0) || (x.ir == 0 && x.vi == 0) || (x.ar == 0 && x.va == 0) {
        0
    } else {
        1
    };
    [eq1, eq2, eq3, eq4, eq5, eq6]
}

/// Per-EQ severity distances of `x` from the first highest-severity vector of its
/// MacroVector that it does not exceed: (eq1, eq2, eq3eq6, eq4).
fn severity_distances(x: &Effective, mv: [u8; 6]) -> (f64, f64, f64, f64) {
    let l = |i: u8| L4[usize::from(i)];
    let [eq1, eq2, eq3, eq4, _, eq6] = mv.map(usize::from);
    let mut last = (0.0, 0.0, 0.0, 0.0);
    for m1 in MAX_EQ1[eq1] {
        for m2 in MAX_EQ2[eq2] {
            for m3 in MAX_EQ3EQ6[eq3][eq6] {
                let m4 = MAX_EQ4[eq4];
                let d = [
                    l(x.av) - l(m1[0]),
                    l(x.pr) - l(m1[1]),
                    l(x.ui) - l(m1[2]),
                    l(x.ac) - l(m2[0]),
                    l(x.at) - l(m2[1]),
                    l(x.vc) - l(m3[0]),
                    l(x.vi) - l(m3[1]),
                    l(x.va) - l(m3[2]),
                    SC_LEVELS[usize::from(x.sc)] - SC_LEVELS[usize::from(m4[0])],
                    l(x.si) - l(m4[1]),
                    l(x.sa) - l(m4[2]),
                    l(x.cr) - l(m3[3]),
                    l(x.ir) - l(m3[4]),
                    l(x.ar) - l(m3[5]),
                ];
                last = (
                    d[0] + d[1] + d[2],
                    d[3] + d[4],
                    d[5] + d[6] + d[7] + d[11] + d[12] + d[13],
                    d[8] + d[9] + d[10],
                );
                if d.iter().all(|&v| v >= 0.0) {
                    return last;
                }
            }
        }
    }
    last
}

fn score_effective(x: &Effective) -> f64 {
    if x.vc == 2 && x.vi == 2 && x.va == 2 && x.sc == 2 && x.si == 3 && x.sa == 3 {
        return 0.0;
    }
    let mv = macro_vector(x);
    let Some(value) = lookup(mv) else {
        // Every reachable MacroVector is in the table; be safe rather than panic.
        return 0.0;
    };
    let [e1, e2, e3, e4, e5, e6] = mv;
    let lower_eq3eq6 = match (e3, e6) {
        (0, 0) => {
            let left = lookup([e1, e2, e3, e4, e5, 1]);
            let right = lookup([e1, e2, 1, e4, e5, e6]);
            match (left, right) {
                (Some(l), Some(r)) if l > r => Some(l),
                _ => right,
            }
        }
        (1, 0) => lookup([e1, e2, e3, e4, e5, 1]),
        _ => lookup([e1, e2, e3 + 1, e4, e5, e6]),
    };
    let (d1, d2, d36, d4) = severity_distances(x, mv);
    let step = 0.1;
    let parts = [
        (
            lookup([e1 + 1, e2, e3, e4, e5, e6]),
            d1,
            MAX_SEVERITY_EQ1[usize::from(e1)] * step,
        ),
        (
            lookup([e1, e2 + 1, e3, e4, e5, e6]),
            d2,
            MAX_SEVERITY_EQ2[usize::from(e2)] * step,
        ),
        (
            lower_eq3eq6,
            d36,
            MAX_SEVERITY_EQ3EQ6[usize::from(e3)][usize::from(e6)] * step,
        ),
        (
            lookup([e1, e2, e3, e4 + 1, e5, e6]),
            d4,
            MAX_SEVERITY_EQ4[usize::from(e4)] * step,
        ),
        // EQ5 has depth 0: it counts in the mean but never moves the score.
        (lookup([e1, e2, e3, e4, e5 + 1, e6]), 0.0, 1.0),
    ];
    let mut n = 0u32;
    let mut sum = 0.0;
    for (lower, distance, depth) in parts {
        if let Some(lower) = lower {
            n += 1;
            sum += (value - lower) * (distance / depth);
        }
    }
    let mean = if n == 0 { 0.0 } else { sum / f64::from(n) };
    let v = (value - mean).clamp(0.0, 10.0);
    // Half up at one decimal, with the spec calculator's 1e-6 tolerance so that a true
    // x.x5 computed as x.x4999... in binary rounds up as in decimal.
    ((v + 1e-6) * 10.0).round() / 10.0
}
