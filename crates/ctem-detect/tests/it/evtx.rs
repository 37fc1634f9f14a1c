//! The fast EVTX path ([`Engine::run_evtx`]) against the `Value` path on the EVTX samples of
//! the repository (`examples/scenarios/events`, EVTX-ATTACK-SAMPLES) with the 202 regression
//! rules and a correlation: the same alerts, rule by rule and record by record, on one thread
//! and two, each carrying the nested event as the decoder gives it.

use std::collections::BTreeMap;
use std::path::Path;

use ctem_detect::decode::{Format, decode_bytes};
use ctem_detect::{Alert, Engine, Mappings, RuleSet};

const CORRELATION: &str = "title: many process starts\nid: corr-1\ncorrelation:\n  type: event_count\n  rules: [any_process]\n  group-by: [Computer]\n  timespan: 1h\n  condition: {gte: 3}\n---\ntitle: any process\nid: base-1\nname: any_process\nlogsource: {category: process_creation, product: windows}\ndetection:\n  sel:\n    Image|endswith: '.exe'\n  condition: sel\n";

fn engine() -> Engine {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/sigma_regression/rules");
    let mut set = RuleSet::load_dirs(&[dir]).expect("rules");
    set.add_yaml(CORRELATION, "correlation.yml", &Default::default());
    Engine::new(set, Mappings::builtin().expect("mappings"))
}

type Seen = BTreeMap<(String, u64), Vec<Alert>>;

#[test]
fn evtx_fast_path_raises_the_alerts_of_the_value_path() {
    let engine = engine();
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/scenarios/events");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("samples")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "evtx"))
        .collect();
    files.sort();
    assert!(files.len() >= 8, "{files:?}");
    let mut total = 0;
    let mut rules = std::collections::BTreeSet::new();
    for f in &files {
        let bytes = std::fs::read(f).expect("read");
        let mut by_value = Seen::new();
        engine.reset_correlations();
        let recs = decode_bytes(bytes.clone(), Format::Evtx, Some("f".into())).expect("decodes");
        let s1 = engine.run(recs.filter_map(Result::ok), 1, |a| {
            by_value
                .entry((a.rule_id.clone(), a.record.unwrap_or(0)))
                .or_default()
                .push(a)
        });
        for threads in [1, 2] {
            let mut by_fast = Seen::new();
            let mut issues = Vec::new();
            engine.reset_correlations();
            let s2 = engine
                .run_evtx(
                    bytes.clone(),
                    Some("f"),
                    threads,
                    |a| {
                        by_fast
                            .entry((a.rule_id.clone(), a.record.unwrap_or(0)))
                            .or_default()
                            .push(a)
                    },
                    |e| issues.push(e.to_string()),
                )
                .expect("runs");
            assert!(issues.is_empty(), "{}: {issues:?}", f.display());
            assert_eq!(s2.run.events, s1.events, "{}", f.display());
            assert_eq!(by_fast, by_value, "{} ({threads} threads)", f.display());
        }
        total += s1.alerts;
        rules.extend(by_value.keys().map(|(r, _)| r.clone()));
    }
    assert!(total >= 8, "{total} alerts");
    // regression rules and the correlation both fired
    assert!(rules.contains("corr-1") && rules.len() >= 3, "{rules:?}");
}

/// A file that is not EVTX is an error of the call; a damaged chunk is an issue, not an error
/// (the corpus test damages one chunk of many and counts the records of the others).
#[test]
fn evtx_fast_path_reports_damaged_chunks() {
    let engine = engine();
    assert!(
        engine
            .run_evtx(b"not evtx".to_vec(), None, 1, |_| {}, |_| {})
            .is_err()
    );
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/scenarios/events");
    let path = dir.join("LM_sysmon_psexec_smb_meterpreter.evtx");
    let bytes = std::fs::read(&path).expect("read");
    let whole = engine
        .run_evtx(bytes.clone(), None, 1, |_| {}, |_| {})
        .expect("runs");
    assert!(whole.run.events > 0 && whole.bad_lines == 0, "{whole:?}");
    let mut damaged = bytes;
    damaged[4096..4104].copy_from_slice(b"XXXXXXXX");
    for threads in [1, 2] {
        let mut issues = Vec::new();
        let s = engine
            .run_evtx(
                damaged.clone(),
                None,
                threads,
                |_| {},
                |e| issues.push(e.to_string()),
            )
            .expect("runs");
        assert!(
            issues.iter().any(|e| e.contains("damaged chunk 0")),
            "{issues:?}"
        );
        assert_eq!(s.run.events, 0, "{s:?}");
        assert_eq!(s.bad_lines, issues.len() as u64);
    }
}
