//! Synthetic environments for tests and benchmarks: zones in a chain behind a DMZ, a
//! workstation zone open to phishing, exposures with random ports, vectors and
//! likelihoods, credential groups, and crown jewels deep in the chain. Deterministic for a
//! seed (a small xorshift generator, no dependency).

use crate::env::{
    CredentialGroup, EnvAsset, EnvExposure, Environment, PathsConfig, ReachRule, Vector,
};

/// What to generate.
#[derive(Debug, Clone)]
pub struct Spec {
    pub hosts: usize,
    pub zones: usize,
    /// Exposures per host on average.
    pub exposures_per_host: f64,
    pub crown_jewels: usize,
    pub credential_groups: usize,
    pub seed: u64,
}

impl Default for Spec {
    fn default() -> Self {
        Spec {
            hosts: 1000,
            zones: 8,
            exposures_per_host: 2.5,
            crown_jewels: 4,
            credential_groups: 4,
            seed: 1,
        }
    }
}

/// xorshift64*.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    /// Uniform in `0..n`.
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n.max(1) as u64) as usize
    }
    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

const PORTS: [u16; 6] = [22, 80, 443, 445, 3389, 8080];

fn zone(i: usize) -> String {
    match i {
        0 => "dmz".to_string(),
        1 => "corp".to_string(),
        _ => format!("z{i}"),
    }
}

/// Generates an environment and its `[paths]` settings.
pub fn generate(spec: &Spec) -> (Environment, PathsConfig) {
    let mut rng = Rng::new(spec.seed);
    let zones = spec.zones.max(3);
    let mut env = Environment::default();
    add_assets(&mut env, spec, zones, &mut rng);
    add_exposures(&mut env, spec, &mut rng);
    let credentials = (0..spec.credential_groups)
        .map(|g| CredentialGroup {
            name: format!("admins{g}"),
            members: vec![format!("name:h{}*", g + 1)],
        })
        .collect();
    let cfg = PathsConfig {
        reach: reach_rules(zones),
        credentials,
        ..PathsConfig::default()
    };
    (env, cfg)
}

/// Hosts: the first 2% in the DMZ (internet-facing), the rest spread over the other zones
/// (`corp` holds the workstations); crown jewels at the end of the last zone.
fn add_assets(env: &mut Environment, spec: &Spec, zones: usize, rng: &mut Rng) {
    for h in 0..spec.hosts {
        let z = if h < spec.hosts / 50 {
            0
        } else {
            1 + rng.below(zones - 1)
        };
        let ports: Vec<u16> = PORTS.iter().copied().filter(|_| rng.unit() < 0.4).collect();
        let mut tags = Vec::new();
        if z == 1 {
            tags.push("workstation".to_string());
        }
        env.assets.push(EnvAsset {
            id: h as i64 + 1,
            name: format!("h{h}"),
            kind: "host".into(),
            zone: zone(z),
            criticality: Some(1 + rng.below(4) as u8),
            internet_facing: z == 0,
            tags,
            owner: Some(format!("team{}", z % 3)),
            ports,
        });
    }
    // crown jewels: hosts of the last zone
    let last = zone(zones - 1);
    let mut jewels = 0;
    for a in env.assets.iter_mut().rev() {
        if jewels >= spec.crown_jewels {
            break;
        }
        if a.zone == last {
            a.criticality = Some(5);
            jewels += 1;
        }
    }
}

/// Exposures on random hosts: 70% network, 10% adjacent, 20% local.
fn add_exposures(env: &mut Environment, spec: &Spec, rng: &mut Rng) {
    let n_exp = (spec.hosts as f64 * spec.exposures_per_host) as usize;
    for i in 0..n_exp {
        let asset = 1 + rng.below(spec.hosts) as i64;
        let vector = match rng.below(10) {
            0..=6 => Vector::Network,
            7 => Vector::Adjacent,
            _ => Vector::Local,
        };
        let port = (vector != Vector::Local).then(|| PORTS[rng.below(PORTS.len())]);
        let likelihood = 0.02 + 0.9 * rng.unit() * rng.unit();
        env.exposures.push(EnvExposure {
            id: i as i64 + 1,
            asset,
            title: format!("x{i}"),
            cve: None,
            port,
            vector,
            kev: false,
            epss: None,
            exploitability: None,
            severity: "high".into(),
            likelihood,
        });
    }
}

/// internet -> dmz, dmz and corp -> z2, then a chain z2 -> z3 -> ... to the last zone.
fn reach_rules(zones: usize) -> Vec<ReachRule> {
    let mut reach = vec![ReachRule {
        from: "internet".into(),
        to: "dmz".into(),
        ports: vec![80, 443],
    }];
    reach.push(ReachRule {
        from: "dmz".into(),
        to: zone(2),
        ports: vec![443, 8080],
    });
    reach.push(ReachRule {
        from: "corp".into(),
        to: zone(2),
        ports: vec![22, 445, 3389],
    });
    for i in 2..zones - 1 {
        reach.push(ReachRule {
            from: zone(i),
            to: zone(i + 1),
            ports: vec![443, 445, 8080],
        });
    }
    reach
}
