//! The attack graph: nodes are attacker states, edges the moves that change them. The rules
//! that create edges (preconditions -> postconditions) are written down in docs/paths.md;
//! each function here is one rule and names it.
//!
//! Intermediate nodes keep the graph linear in the size of the environment: a host reaches a
//! zone's network position (`Net`), the position reaches each exposure it may exploit
//! (`Exploit`), the exploit gives a privilege on its host (`State`). Without `Net`, every
//! host of a zone would need an edge to every exposure its zone reaches.

use std::collections::HashMap;

use serde::Serialize;

use crate::env::{EnvExposure, Environment, INTERNET, PathsConfig, Selector, Vector};
use crate::graph::{Csr, NodeId};

/// What a node of the attack graph stands for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Node {
    /// Where every path starts.
    Attacker,
    /// The attacker on the internet (also the network position of the `internet` zone).
    Internet,
    /// A phishing mail on its way to the users.
    Phishing,
    /// Packets can be sent from this zone.
    Net { zone: String },
    /// Code execution on an asset (index into `Environment::assets`) as a user or an admin.
    State { asset: usize, admin: bool },
    /// An exposure being exploited (index into `Environment::exposures`).
    Exploit { exposure: usize },
    /// A shared credential of a group, dumped on a host of `zone`.
    Credential { group: String, zone: String },
    /// The shared credential used to log on to hosts of `zone`.
    Logon { group: String, zone: String },
    /// A crown jewel compromised (index into `Environment::assets`).
    Goal { asset: usize },
}

/// Which rule made an edge (docs/paths.md names them the same way).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Rule {
    /// Attacker -> internet / phishing.
    Entry,
    /// Phishing -> user on a workstation.
    Phish,
    /// A host gives its zone's network position.
    Position,
    /// A network position reaches an exposure (zone rules, ports).
    Reach,
    /// A remote exploit gives user on its host.
    RemoteExploit,
    /// A local exploit takes user to admin.
    PrivilegeEscalation,
    /// Admin on a host (or a leaked secret) gives its group's credential.
    CredentialDump,
    /// A credential reaches a zone on an admin port.
    CredentialReach,
    /// The credential logs on to a group member as admin.
    LateralMovement,
    /// Any privilege on a crown jewel.
    Compromise,
}

/// The attack graph of one environment.
#[derive(Debug, Clone)]
pub struct AttackGraph {
    pub nodes: Vec<Node>,
    pub csr: Csr,
    /// The reversed graph (distances to a target).
    pub rev: Csr,
    /// The rule of each CSR edge.
    pub rule: Vec<Rule>,
    pub attacker: NodeId,
    /// `(asset index, goal node)` for each crown jewel.
    pub goals: Vec<(usize, NodeId)>,
    /// `[user, admin]` state nodes of each asset.
    pub states: Vec<[NodeId; 2]>,
    /// The exploit node of each exposure (`u32::MAX` when it has no edge in).
    pub exploits: Vec<NodeId>,
}

struct Builder {
    nodes: Vec<Node>,
    edges: Vec<(NodeId, NodeId, f64)>,
    rules: Vec<Rule>,
    index: HashMap<Node, NodeId>,
}

impl std::hash::Hash for Node {
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        std::mem::discriminant(self).hash(h);
        match self {
            Node::Net { zone } => zone.hash(h),
            Node::State { asset, admin } => (asset, admin).hash(h),
            Node::Exploit { exposure } => exposure.hash(h),
            Node::Credential { group, zone } | Node::Logon { group, zone } => (group, zone).hash(h),
            Node::Goal { asset } => asset.hash(h),
            _ => {}
        }
    }
}

impl Builder {
    fn node(&mut self, n: Node) -> NodeId {
        if let Some(&id) = self.index.get(&n) {
            return id;
        }
        let id = self.nodes.len() as NodeId;
        self.nodes.push(n.clone());
        self.index.insert(n, id);
        id
    }

    /// A node without dedup lookup (states, exploits: created once, in order).
    fn fresh(&mut self, n: Node) -> NodeId {
        let id = self.nodes.len() as NodeId;
        self.nodes.push(n);
        id
    }

    fn edge(&mut self, from: NodeId, to: NodeId, likelihood: f64, rule: Rule) {
        self.edges.push((from, to, -likelihood.ln()));
        self.rules.push(rule);
    }
}

/// Ports allowed from one zone to another: `None` (no route), any port, or a list.
#[derive(Debug, Clone, PartialEq)]
enum Ports {
    Any,
    List(Vec<u16>),
}

/// The zone-to-zone reach table of `[paths]`.
struct Reach {
    zones: Vec<String>,
    table: Vec<Option<Ports>>,
}

impl Reach {
    fn new(env: &Environment, cfg: &PathsConfig) -> Self {
        let mut zones: Vec<String> = env.zones().into_keys().collect();
        if !zones.iter().any(|z| z == INTERNET) {
            zones.push(INTERNET.into());
        }
        let n = zones.len();
        let mut table = vec![None; n * n];
        for (i, zs) in zones.iter().enumerate() {
            for (j, zt) in zones.iter().enumerate() {
                let mut p: Option<Ports> =
                    (i == j && cfg.intra_zone && zs != INTERNET).then_some(Ports::Any);
                for r in &cfg.reach {
                    let hit = |pat: &str, z: &str| pat == "*" || pat.eq_ignore_ascii_case(z);
                    if !(hit(&r.from, zs) && hit(&r.to, zt)) {
                        continue;
                    }
                    p = match (p, r.ports.is_empty()) {
                        (Some(Ports::Any), _) | (_, true) => Some(Ports::Any),
                        (Some(Ports::List(mut l)), false) => {
                            l.extend(&r.ports);
                            Some(Ports::List(l))
                        }
                        (None, false) => Some(Ports::List(r.ports.clone())),
                    };
                }
                table[i * n + j] = p;
            }
        }
        Reach { zones, table }
    }

    fn zone(&self, z: &str) -> usize {
        self.zones.iter().position(|x| x == z).unwrap_or(0)
    }

    fn get(&self, from: usize, to: usize) -> Option<&Ports> {
        self.table[from * self.zones.len() + to].as_ref()
    }
}

/// Whether `ports` lets a packet reach exposure port `port` on a host with `open` ports; a
/// port-less exposure needs any allowed open port.
fn port_ok(ports: &Ports, port: Option<u16>, open: &[u16]) -> bool {
    match (ports, port) {
        (Ports::Any, _) => true,
        (Ports::List(l), Some(p)) => l.contains(&p),
        (Ports::List(l), None) => open.iter().any(|p| l.contains(p)),
    }
}

impl AttackGraph {
    /// Builds the graph of `env` under `cfg`.
    pub fn build(env: &Environment, cfg: &PathsConfig) -> Self {
        let mut b = Builder {
            nodes: Vec::new(),
            edges: Vec::new(),
            rules: Vec::new(),
            index: HashMap::new(),
        };
        let attacker = b.node(Node::Attacker);
        let internet = b.node(Node::Internet);
        b.index.insert(
            Node::Net {
                zone: INTERNET.into(),
            },
            internet,
        );
        b.edge(attacker, internet, 1.0, Rule::Entry);
        let states: Vec<[NodeId; 2]> = (0..env.assets.len())
            .map(|asset| {
                [
                    b.fresh(Node::State {
                        asset,
                        admin: false,
                    }),
                    b.fresh(Node::State { asset, admin: true }),
                ]
            })
            .collect();
        let reach = Reach::new(env, cfg);
        rule_phishing(&mut b, env, cfg, attacker, &states);
        rule_position(&mut b, env, &states);
        let exploits = rule_exploits(&mut b, env, &reach, &states);
        rule_credentials(&mut b, env, cfg, &reach, &states, &exploits);
        let goals = rule_compromise(&mut b, env, cfg, &states);
        let csr = Csr::from_edges(b.nodes.len(), &b.edges);
        let rule = csr.origin.iter().map(|&o| b.rules[o as usize]).collect();
        let rev = csr.reversed();
        AttackGraph {
            nodes: b.nodes,
            csr,
            rev,
            rule,
            attacker,
            goals,
            states,
            exploits,
        }
    }
}

/// phish: attacker -> phishing (phishing_likelihood) -> user on each workstation.
fn rule_phishing(
    b: &mut Builder,
    env: &Environment,
    cfg: &PathsConfig,
    attacker: NodeId,
    states: &[[NodeId; 2]],
) {
    let sels: Vec<Selector> = cfg
        .phishing
        .iter()
        .filter_map(|s| Selector::parse(s).ok())
        .collect();
    let targets: Vec<usize> = (0..env.assets.len())
        .filter(|&i| sels.iter().any(|s| s.matches(&env.assets[i])))
        .collect();
    if targets.is_empty() {
        return;
    }
    let phishing = b.node(Node::Phishing);
    b.edge(attacker, phishing, cfg.phishing_likelihood, Rule::Entry);
    let admin = usize::from(cfg.phishing_privilege == "admin");
    for i in targets {
        b.edge(phishing, states[i][admin], 1.0, Rule::Phish);
    }
}

/// position: any privilege on a host gives its zone's network position.
fn rule_position(b: &mut Builder, env: &Environment, states: &[[NodeId; 2]]) {
    for (i, a) in env.assets.iter().enumerate() {
        let net = b.node(Node::Net {
            zone: a.zone.clone(),
        });
        b.edge(states[i][0], net, 1.0, Rule::Position);
        b.edge(states[i][1], net, 1.0, Rule::Position);
    }
}

/// remote_exploit, privilege_escalation and the reach edges into each exploit.
fn rule_exploits(
    b: &mut Builder,
    env: &Environment,
    reach: &Reach,
    states: &[[NodeId; 2]],
) -> Vec<NodeId> {
    let at: HashMap<i64, usize> = env
        .assets
        .iter()
        .enumerate()
        .map(|(i, a)| (a.id, i))
        .collect();
    let nets: Vec<NodeId> = reach
        .zones
        .iter()
        .map(|z| b.node(Node::Net { zone: z.clone() }))
        .collect();
    let internet = reach.zone(INTERNET);
    let mut exploits = vec![u32::MAX; env.exposures.len()];
    for (xi, x) in env.exposures.iter().enumerate() {
        let Some(&ai) = at.get(&x.asset) else {
            continue;
        };
        let a = &env.assets[ai];
        let zt = reach.zone(&a.zone);
        let mut from: Vec<NodeId> = Vec::new();
        match x.vector {
            Vector::Network | Vector::Adjacent => {
                for (zs, &net) in nets.iter().enumerate() {
                    let ok = if x.vector == Vector::Adjacent {
                        zs == zt && reach.get(zs, zt).is_some()
                    } else if zs == internet && a.internet_facing {
                        true
                    } else {
                        reach
                            .get(zs, zt)
                            .is_some_and(|p| port_ok(p, x.port, &a.ports))
                    };
                    if ok {
                        from.push(net);
                    }
                }
            }
            Vector::Local | Vector::Credential => from.push(states[ai][0]),
        }
        if from.is_empty() {
            continue;
        }
        let node = b.fresh(Node::Exploit { exposure: xi });
        exploits[xi] = node;
        for f in from {
            b.edge(f, node, 1.0, Rule::Reach);
        }
        add_exploit_outcome(b, x, node, states[ai]);
    }
    exploits
}

fn add_exploit_outcome(b: &mut Builder, x: &EnvExposure, node: NodeId, st: [NodeId; 2]) {
    match x.vector {
        Vector::Network | Vector::Adjacent => {
            b.edge(node, st[0], x.likelihood, Rule::RemoteExploit)
        }
        Vector::Local => b.edge(node, st[1], x.likelihood, Rule::PrivilegeEscalation),
        // a leaked secret: admin on its own host (its group's credential is added by
        // rule_credentials)
        Vector::Credential => b.edge(node, st[1], x.likelihood, Rule::CredentialDump),
    }
}

/// credential_dump, credential_reach and lateral_movement for each credential group.
fn rule_credentials(
    b: &mut Builder,
    env: &Environment,
    cfg: &PathsConfig,
    reach: &Reach,
    states: &[[NodeId; 2]],
    exploits: &[NodeId],
) {
    for g in &cfg.credentials {
        let sels: Vec<Selector> = g
            .members
            .iter()
            .filter_map(|s| Selector::parse(s).ok())
            .collect();
        let members: Vec<usize> = (0..env.assets.len())
            .filter(|&i| sels.iter().any(|s| s.matches(&env.assets[i])))
            .collect();
        let mut zones: Vec<String> = members
            .iter()
            .map(|&i| env.assets[i].zone.clone())
            .collect();
        zones.sort();
        zones.dedup();
        for &i in &members {
            let a = &env.assets[i];
            let cred = b.node(Node::Credential {
                group: g.name.clone(),
                zone: a.zone.clone(),
            });
            b.edge(
                states[i][1],
                cred,
                cfg.lateral_likelihood,
                Rule::CredentialDump,
            );
            let logon = b.node(Node::Logon {
                group: g.name.clone(),
                zone: a.zone.clone(),
            });
            b.edge(logon, states[i][1], 1.0, Rule::LateralMovement);
        }
        let member_of: HashMap<i64, usize> =
            members.iter().map(|&i| (env.assets[i].id, i)).collect();
        for (xi, x) in env.exposures.iter().enumerate() {
            if x.vector != Vector::Credential {
                continue;
            }
            if let Some(&ai) = member_of.get(&x.asset)
                && exploits[xi] != u32::MAX
            {
                let cred = b.node(Node::Credential {
                    group: g.name.clone(),
                    zone: env.assets[ai].zone.clone(),
                });
                b.edge(exploits[xi], cred, x.likelihood, Rule::CredentialDump);
            }
        }
        for zs in &zones {
            for zt in &zones {
                let ok = reach
                    .get(reach.zone(zs), reach.zone(zt))
                    .is_some_and(|p| cfg.admin_ports.iter().any(|&ap| port_ok(p, Some(ap), &[])));
                if ok {
                    let cred = b.node(Node::Credential {
                        group: g.name.clone(),
                        zone: zs.clone(),
                    });
                    let logon = b.node(Node::Logon {
                        group: g.name.clone(),
                        zone: zt.clone(),
                    });
                    b.edge(cred, logon, 1.0, Rule::CredentialReach);
                }
            }
        }
    }
}

/// compromise: any privilege on a crown jewel reaches its goal node.
fn rule_compromise(
    b: &mut Builder,
    env: &Environment,
    cfg: &PathsConfig,
    states: &[[NodeId; 2]],
) -> Vec<(usize, NodeId)> {
    env.crown_jewels(cfg)
        .into_iter()
        .map(|i| {
            let goal = b.fresh(Node::Goal { asset: i });
            b.edge(states[i][0], goal, 1.0, Rule::Compromise);
            b.edge(states[i][1], goal, 1.0, Rule::Compromise);
            (i, goal)
        })
        .collect()
}
