//! Import benchmark: a synthetic Trivy report (20,000 vulnerabilities over 200 assets) parsed,
//! deduplicated and committed to a fresh SQLite store, against `serde_json::from_slice` into a
//! `serde_json::Value` of the same bytes, in the same run. The ratio is what matters; the
//! full-size run (1,000,000 findings, peak RSS) is bench/import.sh.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ctem_store::sqlite::SqliteStore;
use ctem_store::{ScanMeta, Store};

#[path = "common/trivy_gen.rs"]
mod trivy_gen;

const VULNS: usize = 20_000;

fn import(bytes: &[u8]) -> u64 {
    let mut store = SqliteStore::in_memory().expect("store");
    let format = ctem_ingest::by_name("trivy").expect("trivy");
    let mut session = store
        .begin_import(ScanMeta {
            tool: "trivy".into(),
            format: "trivy".into(),
            scope: None,
            file: "bench.json".into(),
            sha256: String::new(),
            imported_at: chrono::Utc::now(),
        })
        .expect("begin");
    let parse = format.parse_slice.expect("in-memory trivy parser");
    parse(bytes, &mut |r| {
        session.record(r).map_err(|_| ctem_ingest::Error::Aborted)
    })
    .expect("parse");
    session.commit().expect("commit").exposures.new
}

fn bench(c: &mut Criterion) {
    let mut bytes = Vec::new();
    trivy_gen::write_report(&mut bytes, VULNS, VULNS / 100).expect("generate");
    assert_eq!(import(&bytes), VULNS as u64);
    let mut g = c.benchmark_group("trivy_20k");
    g.sample_size(10);
    g.throughput(Throughput::Elements(VULNS as u64));
    g.bench_function("ctem_import_sqlite_memory", |b| b.iter(|| import(&bytes)));
    g.bench_function("serde_json_value_parse", |b| {
        b.iter(|| {
            let v: serde_json::Value = serde_json::from_slice(&bytes).expect("json");
            std::hint::black_box(v)
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
