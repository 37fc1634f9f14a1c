//! Queries on the attack graph: the most likely paths to each crown jewel, the blast radius
//! of one compromised asset, choke points (a minimum cut and a greedy ranking of fixes) and
//! the per-exposure "on a path to a crown jewel" factor the risk stage can use.

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;

use crate::build::{AttackGraph, Node, Rule};
use crate::cut::{Cut, min_vertex_cut_with};
use crate::env::Environment;
use crate::graph::{Guide, Path, dijkstra, k_shortest};

/// One step of a path as users read it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Step {
    /// The rule that made the edge (`remote_exploit`, `lateral_movement`, ...).
    pub rule: Rule,
    /// What the attacker holds after the step (`web01 (user)`, `credential domain-admin`).
    pub to: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub asset: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exposure: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cve: Option<String>,
    /// Likelihood of this step.
    pub likelihood: f64,
}

/// An attack path to a crown jewel.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AttackPath {
    pub target: String,
    pub target_id: i64,
    /// Product of the step likelihoods.
    pub likelihood: f64,
    pub entry: String,
    pub steps: Vec<Step>,
    /// Exposure ids a fix of which cuts this path.
    pub exposures: Vec<i64>,
    #[serde(skip)]
    pub raw: Path,
}

/// A readable name for a node.
pub fn label(g: &AttackGraph, env: &Environment, n: u32) -> String {
    match &g.nodes[n as usize] {
        Node::Attacker => "attacker".into(),
        Node::Internet => "internet".into(),
        Node::Phishing => "phishing".into(),
        Node::Net { zone } => format!("network {zone}"),
        Node::State { asset, admin } => format!(
            "{} ({})",
            env.assets[*asset].name,
            if *admin { "admin" } else { "user" }
        ),
        Node::Exploit { exposure } => {
            let x = &env.exposures[*exposure];
            format!("exploit {}", x.cve.as_deref().unwrap_or(&x.title))
        }
        Node::Credential { group, zone } => format!("credential {group} ({zone})"),
        Node::Logon { group, zone } => format!("logon {group} in {zone}"),
        Node::Goal { asset } => format!("crown jewel {}", env.assets[*asset].name),
    }
}

/// Turns a raw path into steps: edges that change nothing for the attacker (positions,
/// reach) are folded into the next step.
pub fn describe(g: &AttackGraph, env: &Environment, goal_asset: usize, p: &Path) -> AttackPath {
    let mut steps = Vec::new();
    let mut exposures = Vec::new();
    let mut entry = String::new();
    for (i, &e) in p.edges.iter().enumerate() {
        let rule = g.rule[e as usize];
        let from = p.nodes[i];
        let to = p.nodes[i + 1];
        let like = (-g.csr.weights[e as usize]).exp();
        if rule == Rule::Entry {
            entry = label(g, env, to);
        }
        if matches!(
            rule,
            Rule::Position | Rule::Reach | Rule::Compromise | Rule::Entry
        ) {
            continue;
        }
        let (exposure, cve) = match &g.nodes[from as usize] {
            Node::Exploit { exposure } => {
                let x = &env.exposures[*exposure];
                exposures.push(x.id);
                (Some(x.id), x.cve.clone())
            }
            _ => (None, None),
        };
        let asset = match &g.nodes[to as usize] {
            Node::State { asset, .. } => Some(env.assets[*asset].name.clone()),
            _ => None,
        };
        steps.push(Step {
            rule,
            to: label(g, env, to),
            asset,
            exposure,
            cve,
            likelihood: like,
        });
    }
    let a = &env.assets[goal_asset];
    AttackPath {
        target: a.name.clone(),
        target_id: a.id,
        likelihood: (-p.cost).exp(),
        entry,
        steps,
        exposures,
        raw: p.clone(),
    }
}

/// The `k` most likely paths to each crown jewel (or to `only` when given), jewels in
/// environment order, paths most likely first.
///
/// Yen runs on the reversed graph, from each jewel back to the attacker, with the forward
/// distances from the attacker as its A* heuristic: one Dijkstra serves every jewel, and
/// the spur searches start on the jewel's side, where the graph is narrow (a few exploits
/// and logons per host), instead of fanning out from network positions that reach
/// thousands of exploits.
pub fn top_paths(
    g: &AttackGraph,
    env: &Environment,
    k: usize,
    only: Option<usize>,
) -> Vec<AttackPath> {
    let (h, _) = dijkstra(&g.csr, &[g.attacker]);
    let mut guide = Guide::lazy(&g.rev);
    let mut out = Vec::new();
    for &(asset, goal) in &g.goals {
        if only.is_some_and(|o| o != asset) {
            continue;
        }
        // Yen lists loopless paths of the graph; some are the same attack with detours
        // (admin first, then the same exploit; an exploit of a host already held). Keep a
        // path only when no more likely kept path has the same entry and a subset of its
        // exposures: up to k distinct ways in, from 4k candidates.
        let mut kept: Vec<AttackPath> = Vec::new();
        for p in k_shortest(
            &g.rev,
            &h,
            &mut guide,
            goal,
            g.attacker,
            k.saturating_mul(4),
        ) {
            let a = describe(g, env, asset, &forward(g, p));
            let dominated = kept
                .iter()
                .any(|q| q.entry == a.entry && q.exposures.iter().all(|x| a.exposures.contains(x)));
            if !dominated {
                kept.push(a);
                if kept.len() == k {
                    break;
                }
            }
        }
        out.extend(kept);
    }
    out
}

/// A path found in the reversed graph, turned around.
pub fn forward(g: &AttackGraph, mut p: Path) -> Path {
    p.nodes.reverse();
    p.edges.reverse();
    for e in &mut p.edges {
        *e = g.rev.origin[*e as usize];
    }
    p
}

/// An asset an attacker reaches from a compromised one.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Reached {
    pub asset: String,
    pub asset_id: i64,
    /// Likelihood of reaching any privilege on it.
    pub likelihood: f64,
    /// Likelihood of reaching admin on it, when an attacker can.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub admin_likelihood: Option<f64>,
    pub crown_jewel: bool,
}

/// Everything reachable from admin on asset `from`, most likely first.
pub fn blast_radius(g: &AttackGraph, env: &Environment, from: usize) -> Vec<Reached> {
    let (d, _) = dijkstra(&g.csr, &[g.states[from][1]]);
    let jewels: Vec<usize> = g.goals.iter().map(|(a, _)| *a).collect();
    let mut out: Vec<Reached> = Vec::new();
    for (i, st) in g.states.iter().enumerate() {
        if i == from {
            continue;
        }
        let (du, da) = (d[st[0] as usize], d[st[1] as usize]);
        let best = du.min(da);
        if !best.is_finite() {
            continue;
        }
        out.push(Reached {
            asset: env.assets[i].name.clone(),
            asset_id: env.assets[i].id,
            likelihood: (-best).exp(),
            admin_likelihood: da.is_finite().then(|| (-da).exp()),
            crown_jewel: jewels.contains(&i),
        });
    }
    out.sort_by(|a, b| {
        b.likelihood
            .total_cmp(&a.likelihood)
            .then(a.asset.cmp(&b.asset))
    });
    out
}

/// How likely the most likely attack path through each exposure (by id) to any crown jewel
/// is; exposures on no such path are absent. The risk stage can weigh priorities by it.
pub fn path_factors(g: &AttackGraph, env: &Environment) -> HashMap<i64, f64> {
    let (fwd, _) = dijkstra(&g.csr, &[g.attacker]);
    let goals: Vec<u32> = g.goals.iter().map(|(_, n)| *n).collect();
    let (back, _) = dijkstra(&g.rev, &goals);
    let mut out = HashMap::new();
    for (xi, &n) in g.exploits.iter().enumerate() {
        if n == u32::MAX {
            continue;
        }
        let c = fwd[n as usize] + back[n as usize];
        if c.is_finite() {
            out.insert(env.exposures[xi].id, (-c).exp());
        }
    }
    out
}

/// A fix in the choke-point ranking.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Fix {
    pub exposure: i64,
    pub title: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cve: Option<String>,
    pub asset: String,
    /// Paths (of those enumerated) this fix cuts that earlier fixes left.
    pub paths_cut: usize,
    /// Sum of the likelihoods of those paths.
    pub risk_removed: f64,
}

/// The choke-point answer.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Chokepoints {
    /// Exposure ids of a minimum cut: fixing all of them cuts every path to every crown
    /// jewel; `None` when some path uses no exposure (see `uncuttable`).
    pub min_cut: Option<Vec<i64>>,
    /// Paths that use no exposure (a fix of exposures cannot cut them).
    pub uncuttable: usize,
    /// Paths enumerated for the ranking.
    pub paths: usize,
    pub ranking: Vec<Fix>,
}

/// A minimum cut of exposures and a greedy ranking of fixes over the `k` most likely paths
/// of each crown jewel (each pick removes the most remaining path likelihood).
pub fn chokepoints(g: &AttackGraph, env: &Environment, k: usize, top: usize) -> Chokepoints {
    let paths = top_paths(g, env, k, None);
    chokepoints_of(g, env, &paths, top)
}

/// [`chokepoints`] over paths already found.
pub fn chokepoints_of(
    g: &AttackGraph,
    env: &Environment,
    paths: &[AttackPath],
    top: usize,
) -> Chokepoints {
    let mut cuttable = vec![false; g.nodes.len()];
    for &n in &g.exploits {
        if n != u32::MAX {
            cuttable[n as usize] = true;
        }
    }
    let goals: Vec<u32> = g.goals.iter().map(|(_, n)| *n).collect();
    let min_cut = match min_vertex_cut_with(&g.csr, &g.rev, &cuttable, &[g.attacker], &goals) {
        Cut::Nodes(ns) => {
            let mut ids: Vec<i64> = ns
                .iter()
                .filter_map(|&n| match g.nodes[n as usize] {
                    Node::Exploit { exposure } => Some(env.exposures[exposure].id),
                    _ => None,
                })
                .collect();
            ids.sort_unstable();
            Some(ids)
        }
        Cut::Uncuttable => None,
    };
    let uncuttable = paths.iter().filter(|p| p.exposures.is_empty()).count();
    let ranking = greedy(env, paths, top);
    Chokepoints {
        min_cut,
        uncuttable,
        paths: paths.len(),
        ranking,
    }
}

/// Greedy set cover over the enumerated paths, weighted by path likelihood.
pub fn greedy(env: &Environment, paths: &[AttackPath], top: usize) -> Vec<Fix> {
    let mut by_exposure: BTreeMap<i64, Vec<usize>> = BTreeMap::new();
    for (i, p) in paths.iter().enumerate() {
        let mut xs = p.exposures.clone();
        xs.sort_unstable();
        xs.dedup();
        for x in xs {
            by_exposure.entry(x).or_default().push(i);
        }
    }
    let mut alive = vec![true; paths.len()];
    let mut out = Vec::new();
    while out.len() < top {
        let mut best: Option<(i64, f64, usize)> = None;
        for (&x, ps) in &by_exposure {
            let live: Vec<usize> = ps.iter().copied().filter(|&i| alive[i]).collect();
            let risk: f64 = live.iter().map(|&i| paths[i].likelihood).sum();
            if live.is_empty() {
                continue;
            }
            let better = match best {
                None => true,
                Some((_, r, c)) => {
                    risk > r + 1e-12 || ((risk - r).abs() <= 1e-12 && live.len() > c)
                }
            };
            if better {
                best = Some((x, risk, live.len()));
            }
        }
        let Some((x, risk, count)) = best else { break };
        for &i in &by_exposure[&x] {
            alive[i] = false;
        }
        let e = env.exposures.iter().find(|e| e.id == x);
        let asset = e
            .and_then(|e| env.assets.iter().find(|a| a.id == e.asset))
            .map(|a| a.name.clone())
            .unwrap_or_default();
        out.push(Fix {
            exposure: x,
            title: e.map(|e| e.title.clone()).unwrap_or_default(),
            cve: e.and_then(|e| e.cve.clone()),
            asset,
            paths_cut: count,
            risk_removed: risk,
        });
    }
    out
}
