//! Detection coverage from stored data: which ATT&CK techniques have an enabled rule whose
//! logsource detection has seen events of.
//!
//! "Enabled rules" are the rules of the last detection run that stored alerts
//! ([`ctem_store::measure::DetectionRule`]); "seen" logsources are those detection tallied
//! ([`ctem_store::measure::LogsourceSighting`]). A rule is fed when a sighting has each part
//! (product, service, category) its logsource names. A technique in scope is covered when a
//! fed rule is tagged with it or with one of its sub-techniques (a rule for T1059.001 covers
//! T1059; a rule for T1059 does not cover T1059.001).

use std::collections::BTreeSet;

use ctem_store::measure::{DetectionRule, LogsourceSighting, MeasureFacts};
use serde::Serialize;

use crate::kpi::Kpi;

/// The technique ids (`T1059.001`) a rule's tags name (`attack.t1059.001`).
pub fn technique_ids(tags: &[String]) -> Vec<String> {
    let mut out: Vec<String> = tags
        .iter()
        .filter_map(|t| t.strip_prefix("attack."))
        .filter(|id| {
            id.starts_with(['t', 'T']) && id[1..].starts_with(|c: char| c.is_ascii_digit())
        })
        .map(str::to_ascii_uppercase)
        .collect();
    out.sort();
    out.dedup();
    out
}

/// Whether a sighting feeds the rule's logsource.
pub fn fed(rule: &DetectionRule, seen: &[LogsourceSighting]) -> bool {
    seen.iter().any(|s| {
        s.feeds(
            rule.product.as_deref(),
            rule.service.as_deref(),
            rule.category.as_deref(),
        )
    })
}

/// Technique coverage over a scope.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct TechniqueCoverage {
    /// The techniques in scope, sorted.
    pub scope: Vec<String>,
    /// Those with a fed rule.
    pub covered: Vec<String>,
    /// Those with an enabled rule, none of them fed (blind spots with a rule waiting).
    pub unfed: Vec<String>,
    /// Those with no enabled rule at all.
    pub no_rule: Vec<String>,
    /// Whether the scope is the configured `[kpi] techniques` (else: the rules' tags).
    pub configured_scope: bool,
}

/// Coverage of `scope` (empty: every technique an enabled rule is tagged with).
pub fn techniques(f: &MeasureFacts, scope: &[String]) -> TechniqueCoverage {
    let mut tagged: BTreeSet<String> = BTreeSet::new();
    let mut fed_ids: BTreeSet<String> = BTreeSet::new();
    for r in &f.rules {
        let ids = technique_ids(&r.tags);
        let is_fed = fed(r, &f.logsources);
        for id in ids {
            if is_fed {
                fed_ids.insert(id.clone());
            }
            tagged.insert(id);
        }
    }
    let configured_scope = !scope.is_empty();
    let scope: BTreeSet<String> = if configured_scope {
        scope
            .iter()
            .map(|s| s.trim().to_ascii_uppercase())
            .collect()
    } else {
        tagged.clone()
    };
    let has = |set: &BTreeSet<String>, t: &str| {
        set.contains(t)
            || set
                .iter()
                .any(|x| x.strip_prefix(t).is_some_and(|r| r.starts_with('.')))
    };
    let mut c = TechniqueCoverage {
        configured_scope,
        ..Default::default()
    };
    for t in scope {
        if has(&fed_ids, &t) {
            c.covered.push(t.clone());
        } else if has(&tagged, &t) {
            c.unfed.push(t.clone());
        } else {
            c.no_rule.push(t.clone());
        }
        c.scope.push(t);
    }
    c
}

/// The `coverage.techniques` KPI: covered / in scope, with the scope's size as `n`.
pub fn techniques_kpi(f: &MeasureFacts, scope: &[String]) -> Kpi {
    let id = "coverage.techniques";
    let title =
        "ATT&CK techniques with an enabled rule whose log source is seen / techniques in scope";
    let none = |why: &str| Kpi {
        id: id.into(),
        title: title.into(),
        unit: "ratio".into(),
        value: None,
        n: None,
        missing: Some(why.into()),
    };
    if f.rules.is_empty() {
        return none(
            "no enabled rules recorded: run `ctem detect --store --rules DIR` (or with [detect] rules)",
        );
    }
    if f.logsources.is_empty() {
        return none("detection has seen no events: run `ctem detect --store` on event logs");
    }
    let c = techniques(f, scope);
    if c.scope.is_empty() {
        return none(
            "no technique in scope: no enabled rule carries an attack.tNNNN tag and [kpi] techniques is empty",
        );
    }
    let n = c.scope.len() as u64;
    Kpi {
        id: id.into(),
        title: title.into(),
        unit: "ratio".into(),
        value: Some((c.covered.len() as f64 / n as f64 * 1000.0).round() / 1000.0),
        n: Some(n),
        missing: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn technique_ids_read_attack_tags_only() {
        let tags = [
            "attack.execution",
            "attack.t1059.001",
            "attack.T1003",
            "cve.2021-1",
        ]
        .map(String::from);
        assert_eq!(technique_ids(&tags), ["T1003", "T1059.001"]);
    }
}
