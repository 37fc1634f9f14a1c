//! Re-scoring and grouping a million exposures (target: re-scoring under one second).

use criterion::{Criterion, criterion_group, criterion_main};
use ctem_risk::{NetworkZone, OpenExposure, RiskConfig, RiskInput, Severity, group_remediations};
use std::hint::black_box;

const N: usize = 1_000_000;

/// A small deterministic generator (xorshift) so runs are comparable.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn maybe(&mut self) -> Option<bool> {
        match self.below(3) {
            0 => None,
            1 => Some(false),
            _ => Some(true),
        }
    }
}

fn inputs() -> Vec<RiskInput> {
    let mut r = Rng(0x9e37_79b9_7f4a_7c15);
    let zones = [
        NetworkZone::Internet,
        NetworkZone::Dmz,
        NetworkZone::Internal,
        NetworkZone::Restricted,
        NetworkZone::Isolated,
    ];
    (0..N)
        .map(|_| RiskInput {
            kev: Some(r.below(50) == 0),
            kev_ransomware: Some(r.below(200) == 0),
            epss_probability: Some(r.below(10_000) as f64 / 10_000.0),
            epss_percentile: Some(r.below(10_000) as f64 / 10_000.0),
            exploit_public: r.maybe(),
            cvss_base_score: (r.below(4) != 0).then(|| r.below(101) as f64 / 10.0),
            scanner_severity: Some(Severity::High),
            internet_facing: r.maybe(),
            network_zone: Some(zones[r.below(5) as usize]),
            service_reachable: r.maybe(),
            asset_criticality: Some(1 + r.below(5) as u8),
            vex_not_affected: Some(r.below(100) == 0),
            accepted_risk: Some(r.below(100) == 0),
            fix_available: r.maybe(),
            ..RiskInput::default()
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let model = RiskConfig::default()
        .build()
        .expect("default config is valid");
    let inputs = inputs();
    let mut group = c.benchmark_group("risk");
    group.sample_size(10);
    group.bench_function("rescore_1m_quick", |b| {
        b.iter(|| {
            let mut p1 = 0usize;
            for i in &inputs {
                let (s, p) = model.quick(black_box(i));
                p1 += usize::from(p == ctem_risk::Priority::P1) + usize::from(s > 100.0);
            }
            p1
        })
    });
    group.bench_function("score_with_explanation_100k", |b| {
        b.iter(|| {
            inputs[..N / 10]
                .iter()
                .map(|i| model.score(black_box(i)).factors.len())
                .sum::<usize>()
        })
    });

    let mut r = Rng(42);
    let names: Vec<String> = (0..2_000).map(|i| format!("pkg{i}")).collect();
    let versions: Vec<String> = (0..50)
        .map(|i| format!("1.{}.{}", i / 10, i % 10))
        .collect();
    let assets: Vec<String> = (0..20_000).map(|i| format!("asset-{i}")).collect();
    let scores: Vec<(f64, _)> = inputs.iter().map(|i| model.quick(i)).collect();
    let open: Vec<OpenExposure<'_>> = (0..N)
        .map(|i| OpenExposure {
            package: &names[r.below(2_000) as usize],
            installed_version: &versions[r.below(25) as usize],
            fixed_version: (r.below(10) != 0).then(|| versions[25 + r.below(25) as usize].as_str()),
            asset_id: &assets[r.below(20_000) as usize],
            risk_score: scores[i].0,
            kev: inputs[i].kev == Some(true),
            priority: scores[i].1,
        })
        .collect();
    group.bench_function("group_1m", |b| {
        b.iter(|| group_remediations(black_box(&open)).len())
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
