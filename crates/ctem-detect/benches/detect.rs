//! Rule compile time and evaluation throughput over OTRF Windows events with all SigmaHQ
//! Windows rules. Skips (with a message) when ../shared/fixtures is absent.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ctem_detect::{Engine, Mappings, Record, RuleSet};

fn shared() -> Option<PathBuf> {
    let p = std::env::var_os("CTEM_SHARED_FIXTURES")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures")
        });
    p.is_dir().then_some(p)
}

fn bench(c: &mut Criterion) {
    let Some(root) = shared() else {
        eprintln!("bench: shared fixtures absent; skipping");
        return;
    };
    let rules_dir = root.join("sigma/rules/windows");
    let events_file = root.join("events/jsonl/otrf-windows-100k.flat.jsonl.gz");
    if !rules_dir.is_dir() || !events_file.is_file() {
        eprintln!(
            "bench: {} or {} absent; skipping",
            rules_dir.display(),
            events_file.display()
        );
        return;
    }
    let t = Instant::now();
    let set = match RuleSet::load_dirs(&[&rules_dir]) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("bench: cannot load rules: {e}");
            return;
        }
    };
    eprintln!(
        "bench: loaded and compiled {} windows rules in {:.2?}",
        set.rules.len(),
        t.elapsed()
    );
    let mut g = c.benchmark_group("detect");
    g.sample_size(10).measurement_time(Duration::from_secs(10));
    g.bench_function("load_compile_windows_rules", |b| {
        b.iter(|| {
            RuleSet::load_dirs(&[&rules_dir])
                .map(|s| s.rules.len())
                .unwrap_or(0)
        })
    });
    let Ok(mappings) = Mappings::builtin() else {
        return;
    };
    let engine = Engine::new(set, mappings);
    let events: Vec<Record> =
        match ctem_detect::decode::open(&events_file, ctem_detect::decode::Format::Jsonl) {
            Ok(r) => r.filter_map(Result::ok).take(20_000).collect(),
            Err(e) => {
                eprintln!("bench: cannot read events: {e}");
                return;
            }
        };
    g.throughput(Throughput::Elements(events.len() as u64));
    for threads in [1, 2] {
        g.bench_function(format!("evaluate_20k_events_{threads}_threads"), |b| {
            b.iter(|| engine.run(events.iter().cloned(), threads, |_| {}).alerts)
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
