//! ATT&CK techniques seen from this environment: which rules detect them, and which
//! exposures, entry points or credentials of the attack graph make them possible here.
//!
//! ATT&CK does not link techniques to CVEs or CWEs, and neither do the stored CVE records
//! (they carry CWEs, not CAPEC or ATT&CK ids). So the link from an exposure to a technique
//! comes from ctem's own graph rules (docs/paths.md, "Techniques"): a remote exploit
//! reachable from the internet is T1190, from inside T1210, a local one T1068, a phishing
//! entry T1566, a shared credential T1078 / T1021 / T1550 / T1003, a leaked secret T1552.
//! Techniques no rule covers are judged by their tactic: execution, persistence or
//! discovery need a foothold; impact needs a path to a crown jewel.

use std::collections::BTreeSet;

use ctem_detect::CompiledRule;
use serde::Serialize;

use crate::build::{AttackGraph, Node, Rule};
use crate::env::{Environment, Vector};
use crate::graph::dijkstra;

/// A detection rule as reports list it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RuleRef {
    pub id: String,
    pub title: String,
    pub level: String,
    /// `product/category/service` of its logsource.
    pub logsource: String,
}

impl RuleRef {
    pub fn of(r: &CompiledRule) -> Self {
        let ls = &r.logsource;
        RuleRef {
            id: r.meta.id.clone(),
            title: r.meta.title.clone(),
            level: r.meta.level.clone(),
            logsource: [&ls.product, &ls.category, &ls.service]
                .iter()
                .map(|x| x.as_deref().unwrap_or("*"))
                .collect::<Vec<_>>()
                .join("/"),
        }
    }
}

/// Whether a rule's tags name technique `id` or one of its sub-techniques
/// (`attack.t1059.001` names T1059.001 and T1059's sub-technique).
pub fn tagged_with(tags: &[String], id: &str) -> bool {
    let want = format!("attack.{}", id.to_ascii_lowercase());
    tags.iter().any(|t| {
        let t = t.to_ascii_lowercase();
        t == want || t.strip_prefix(&want).is_some_and(|r| r.starts_with('.'))
    })
}

/// The ATT&CK technique ids a rule is tagged with, upper case (`T1059.001`).
pub fn technique_tags(tags: &[String]) -> Vec<String> {
    tags.iter()
        .filter_map(|t| {
            let t = t.to_ascii_lowercase();
            let rest = t.strip_prefix("attack.t")?;
            let ok = rest.len() >= 4 && rest[..4].bytes().all(|b| b.is_ascii_digit());
            ok.then(|| format!("T{}", rest.to_ascii_uppercase()))
        })
        .collect()
}

/// Why this environment allows (or does not allow) a technique.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Evidence {
    /// `Some(true)` when the graph has what the technique needs, `Some(false)` when it has
    /// not, `None` when no rule judges this technique.
    pub feasible: Option<bool>,
    /// Which graph rule or tactic decided.
    pub basis: String,
    /// Exposures (ids) that make it possible and an attacker can reach.
    pub exposures: Vec<i64>,
    /// Assets where it applies (entry points, credential holders, crown jewels).
    pub assets: Vec<String>,
}

/// What the attack graph says about technique `id` whose tactics are `tactics` (shortnames,
/// from the ATT&CK store; may be empty).
pub fn evidence(g: &AttackGraph, env: &Environment, id: &str, tactics: &[String]) -> Evidence {
    let (fwd, _) = dijkstra(&g.csr, &[g.attacker]);
    let reached = |n: u32| fwd[n as usize].is_finite();
    let base = id.split('.').next().unwrap_or(id).to_ascii_uppercase();
    let exploits_from = |pred: &dyn Fn(&Node) -> bool, vector: &dyn Fn(Vector) -> bool| {
        let mut xs = BTreeSet::new();
        for u in 0..g.nodes.len() as u32 {
            if !reached(u) || !pred(&g.nodes[u as usize]) {
                continue;
            }
            for e in g.csr.out(u) {
                if let Node::Exploit { exposure } = g.nodes[g.csr.targets[e] as usize]
                    && vector(env.exposures[exposure].vector)
                {
                    xs.insert(env.exposures[exposure].id);
                }
            }
        }
        xs.into_iter().collect::<Vec<_>>()
    };
    let remote = |v: Vector| matches!(v, Vector::Network | Vector::Adjacent);
    let (basis, exposures, assets): (&str, Vec<i64>, Vec<String>) = match base.as_str() {
        "T1190" | "T1133" => (
            "remote_exploit from the internet",
            exploits_from(&|n| matches!(n, Node::Internet), &remote),
            Vec::new(),
        ),
        "T1210" => (
            "remote_exploit from an internal zone",
            exploits_from(&|n| matches!(n, Node::Net { .. }), &remote),
            Vec::new(),
        ),
        "T1068" => (
            "privilege_escalation",
            exploits_from(&|n| matches!(n, Node::State { .. }), &|v| {
                v == Vector::Local
            }),
            Vec::new(),
        ),
        "T1566" | "T1204" => (
            "phish",
            Vec::new(),
            edge_targets(g, env, Rule::Phish, &reached),
        ),
        "T1003" => (
            "credential_dump: admin on a holder of a shared credential",
            exploits_from(&|n| matches!(n, Node::State { .. }), &|v| {
                v == Vector::Credential
            }),
            credential_holders(g, env, &reached),
        ),
        "T1552" => (
            "credential_dump from a leaked secret",
            exploits_from(&|n| matches!(n, Node::State { .. }), &|v| {
                v == Vector::Credential
            }),
            Vec::new(),
        ),
        "T1078" | "T1021" | "T1550" | "T1570" => (
            "lateral_movement with a shared credential",
            exploits_from(&|n| matches!(n, Node::State { .. }), &|v| {
                v == Vector::Credential
            }),
            edge_targets(g, env, Rule::LateralMovement, &reached),
        ),
        _ => {
            let builtin: Vec<String>;
            let tactics = if tactics.is_empty() {
                builtin = builtin_tactic(&base)
                    .into_iter()
                    .map(str::to_string)
                    .collect();
                &builtin[..]
            } else {
                tactics
            };
            return by_tactic(g, env, tactics, &reached);
        }
    };
    Evidence {
        feasible: Some(!exposures.is_empty() || !assets.is_empty()),
        basis: basis.into(),
        exposures,
        assets,
    }
}

/// The tactic of common techniques, for stores without the ATT&CK bundle.
fn builtin_tactic(base: &str) -> Option<&'static str> {
    Some(match base {
        "T1059" | "T1047" | "T1053" | "T1569" | "T1203" => "execution",
        "T1505" | "T1543" | "T1547" | "T1136" => "persistence",
        "T1548" | "T1134" | "T1055" => "privilege-escalation",
        "T1027" | "T1218" | "T1562" | "T1070" | "T1036" => "defense-evasion",
        "T1033" | "T1082" | "T1087" | "T1069" | "T1018" | "T1057" => "discovery",
        "T1560" | "T1005" | "T1114" => "collection",
        "T1071" | "T1105" | "T1572" => "command-and-control",
        "T1041" | "T1048" | "T1567" => "exfiltration",
        "T1486" | "T1485" | "T1490" | "T1489" | "T1491" | "T1529" => "impact",
        _ => return None,
    })
}

/// Assets holding a shared credential where the attacker reaches admin.
fn credential_holders(
    g: &AttackGraph,
    env: &Environment,
    reached: &dyn Fn(u32) -> bool,
) -> Vec<String> {
    let mut out = BTreeSet::new();
    for (i, st) in g.states.iter().enumerate() {
        if !reached(st[1]) {
            continue;
        }
        let holds = g.csr.out(st[1]).any(|e| g.rule[e] == Rule::CredentialDump);
        if holds {
            out.insert(env.assets[i].name.clone());
        }
    }
    out.into_iter().collect()
}

/// Assets entered (as `to` of an edge of `rule`) by a reachable edge.
fn edge_targets(
    g: &AttackGraph,
    env: &Environment,
    rule: Rule,
    reached: &dyn Fn(u32) -> bool,
) -> Vec<String> {
    let mut out = BTreeSet::new();
    for u in 0..g.nodes.len() as u32 {
        if !reached(u) {
            continue;
        }
        for e in g.csr.out(u) {
            if g.rule[e] == rule
                && let Node::State { asset, .. } = g.nodes[g.csr.targets[e] as usize]
            {
                out.insert(env.assets[asset].name.clone());
            }
        }
    }
    out.into_iter().collect()
}

fn by_tactic(
    g: &AttackGraph,
    env: &Environment,
    tactics: &[String],
    reached: &dyn Fn(u32) -> bool,
) -> Evidence {
    let footholds: Vec<String> = g
        .states
        .iter()
        .enumerate()
        .filter(|(_, s)| reached(s[0]) || reached(s[1]))
        .map(|(i, _)| env.assets[i].name.clone())
        .collect();
    if tactics.iter().any(|t| t == "impact") {
        let jewels: Vec<String> = g
            .goals
            .iter()
            .filter(|(_, n)| reached(*n))
            .map(|(a, _)| env.assets[*a].name.clone())
            .collect();
        return Evidence {
            feasible: Some(!jewels.is_empty()),
            basis: "impact: a path reaches a crown jewel".into(),
            exposures: Vec::new(),
            assets: jewels,
        };
    }
    if tactics.is_empty() {
        return Evidence {
            feasible: None,
            basis: "no graph rule and no tactic known for this technique (import ATT&CK)".into(),
            exposures: Vec::new(),
            assets: Vec::new(),
        };
    }
    Evidence {
        feasible: Some(!footholds.is_empty()),
        basis: format!("{}: needs a foothold on an asset", tactics.join(", ")),
        exposures: Vec::new(),
        assets: footholds,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_name_techniques_and_their_subtechniques() {
        let tags = vec![
            "attack.execution".to_string(),
            "attack.t1059.001".to_string(),
        ];
        assert!(tagged_with(&tags, "T1059.001"));
        assert!(tagged_with(&tags, "T1059"));
        assert!(!tagged_with(&tags, "T1059.003"));
        assert!(!tagged_with(&tags, "T105"));
        assert_eq!(technique_tags(&tags), vec!["T1059.001"]);
    }
}
