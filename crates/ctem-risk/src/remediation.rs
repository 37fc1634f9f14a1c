//! Remediation grouping for `ctem top`: one action per package ("upgrade openssl to
//! 3.0.13") covering every open exposure it fixes, ordered by urgency first: the highest
//! priority the action closes, then how many KEV-listed exposures it closes, then the risk it
//! removes, then how many exposures it closes. Volume never beats urgency: a thousand P3
//! cookie-flag findings rank below one P1.

use crate::model::Priority;
use crate::version;
use serde::Serialize;
use std::cmp::Ordering;
use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};

/// A small multiplicative hasher (the Fx hash of rustc): grouping hashes a million short
/// strings, where SipHash's DoS resistance buys nothing (keys come from our own store).
#[derive(Default)]
struct FxHasher(u64);

impl Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        const K: u64 = 0x51_7c_c1_b7_27_22_0a_95;
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            self.0 = (self.0.rotate_left(5) ^ u64::from_le_bytes(w)).wrapping_mul(K);
        }
        for &b in chunks.remainder() {
            self.0 = (self.0.rotate_left(5) ^ u64::from(b)).wrapping_mul(K);
        }
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

type Fx = BuildHasherDefault<FxHasher>;

/// One open exposure, as the store hands it over (borrowed: grouping copies only what
/// the groups keep).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OpenExposure<'a> {
    /// Package name as the scanner reported it.
    pub package: &'a str,
    /// Installed version.
    pub installed_version: &'a str,
    /// Fixed version(s); scanners such as Trivy list one per release branch,
    /// comma-separated ("1.1.1w, 3.0.13").
    pub fixed_version: Option<&'a str>,
    /// The affected asset.
    pub asset_id: &'a str,
    /// The exposure's risk score (0-100).
    pub risk_score: f64,
    /// Listed in CISA KEV.
    pub kev: bool,
    /// The exposure's priority.
    pub priority: Priority,
}

/// One remediation action and what it removes.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RemediationGroup {
    /// What to do, in words: `upgrade openssl to 3.0.13`, or `mitigate openssl (no fixed
    /// version)`.
    pub action: String,
    /// The package.
    pub package: String,
    /// The version to upgrade to: the highest version any exposure of the group needs;
    /// `None` when no fix exists.
    pub target_version: Option<String>,
    /// The highest priority (most urgent) among the exposures the action closes.
    pub priority: Priority,
    /// Distinct assets touched.
    pub assets: usize,
    /// Exposures removed.
    pub exposures: usize,
    /// Of which KEV-listed.
    pub kev: usize,
    /// Sum of the removed exposures' risk scores.
    pub risk_removed: f64,
    /// The highest single risk score in the group.
    pub max_risk: f64,
}

/// The fixed version an exposure needs: among the listed candidates, the lowest one above
/// the installed version (the fix on the installed branch); the highest candidate when
/// none is above it.
pub fn needed_fix<'a>(installed: &str, fixed: &'a str) -> Option<&'a str> {
    let candidates = fixed
        .split([',', ' ', '|'])
        .map(str::trim)
        .filter(|v| !v.is_empty());
    let mut best_above: Option<&str> = None;
    let mut highest: Option<&str> = None;
    for c in candidates {
        if highest.is_none_or(|h| version::compare(c, h) == Ordering::Greater) {
            highest = Some(c);
        }
        if version::compare(c, installed) == Ordering::Greater
            && best_above.is_none_or(|b| version::compare(c, b) == Ordering::Less)
        {
            best_above = Some(c);
        }
    }
    best_above.or(highest)
}

struct Acc<'a> {
    target: Option<&'a str>,
    assets: HashSet<&'a str, Fx>,
    exposures: usize,
    kev: usize,
    risk: f64,
    max_risk: f64,
    priority: Priority,
}

/// Groups open exposures by remediation action and orders them with [`urgency_order`].
pub fn group_remediations(exposures: &[OpenExposure<'_>]) -> Vec<RemediationGroup> {
    let mut groups: HashMap<(&str, bool), Acc<'_>, Fx> = HashMap::default();
    for e in exposures {
        let fix = e
            .fixed_version
            .and_then(|f| needed_fix(e.installed_version, f));
        let acc = groups
            .entry((e.package, fix.is_some()))
            .or_insert_with(|| Acc {
                target: None,
                assets: HashSet::default(),
                exposures: 0,
                kev: 0,
                risk: 0.0,
                max_risk: 0.0,
                priority: Priority::P4,
            });
        acc.priority = acc.priority.min(e.priority);
        if let Some(f) = fix
            && acc
                .target
                .is_none_or(|t| version::compare(f, t) == Ordering::Greater)
        {
            acc.target = Some(f);
        }
        acc.assets.insert(e.asset_id);
        acc.exposures += 1;
        acc.kev += usize::from(e.kev);
        let risk = if e.risk_score.is_finite() {
            e.risk_score
        } else {
            0.0
        };
        acc.risk += risk;
        acc.max_risk = acc.max_risk.max(risk);
    }
    let mut out: Vec<RemediationGroup> = groups
        .into_iter()
        .map(|((package, _), acc)| RemediationGroup {
            action: match acc.target {
                Some(t) => format!("upgrade {package} to {t}"),
                None => format!("mitigate {package} (no fixed version)"),
            },
            package: package.to_owned(),
            target_version: acc.target.map(str::to_owned),
            priority: acc.priority,
            assets: acc.assets.len(),
            exposures: acc.exposures,
            kev: acc.kev,
            risk_removed: acc.risk,
            max_risk: acc.max_risk,
        })
        .collect();
    out.sort_by(urgency_order);
    out
}

/// The order of `ctem top` (docs/risk-model.md): the highest priority closed (P1 first),
/// then KEV-listed exposures closed, then risk removed, then exposures closed (more first);
/// package and action names break the remaining ties so the order is stable.
pub fn urgency_order(a: &RemediationGroup, b: &RemediationGroup) -> Ordering {
    a.priority
        .cmp(&b.priority)
        .then(b.kev.cmp(&a.kev))
        .then(b.risk_removed.total_cmp(&a.risk_removed))
        .then(b.exposures.cmp(&a.exposures))
        .then_with(|| a.package.cmp(&b.package))
        .then_with(|| a.action.cmp(&b.action))
}
