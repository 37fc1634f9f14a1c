//! The fast EVTX path ([`Engine::run_evtx`]: records rendered, flattened and matched as JSON
//! lines on the worker threads) against the `Value` path (records decoded into nested
//! `serde_json::Value`s and matched through the `windows_nested` shape), on every EVTX file
//! of the corpus with all Windows rules and the Hayabusa correlations.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use ctem_detect::decode::{Format, decode_bytes};
use ctem_detect::{Alert, Engine, Mappings, RuleSet};

use super::shared;

fn evtx_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<PathBuf> = rd.filter_map(|e| e.ok().map(|e| e.path())).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            evtx_files(&p, out);
        } else if p
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("evtx"))
        {
            out.push(p);
        }
    }
}

/// (rule, record) -> count, and the events of each alert by (rule, record) (first one).
type Hits = BTreeMap<(String, u64), usize>;

fn key(a: &Alert) -> (String, u64) {
    (a.rule_id.clone(), a.record.unwrap_or(0))
}

#[test]
fn evtx_fast_path_matches_value_path_rule_by_rule() -> anyhow::Result<()> {
    let Some(root) = shared() else { return Ok(()) };
    let set = RuleSet::load_dirs(&[
        root.join("sigma/rules/windows"),
        root.join("sigma/correlation-hayabusa"),
    ])?;
    let engine = Engine::new(set, Mappings::builtin()?);
    let mut files = Vec::new();
    evtx_files(&root.join("events"), &mut files);
    assert!(files.len() > 300, "{} EVTX files", files.len());
    let (mut events, mut alerts, mut issues) = (0u64, 0u64, 0u64);
    for f in &files {
        let bytes = std::fs::read(f)?;
        let name = f.file_name().map(|n| n.to_string_lossy().into_owned());
        let mut by_value = Hits::new();
        let mut value_events = BTreeMap::new();
        let mut n_value = 0u64;
        let Ok(recs) = decode_bytes(bytes.clone(), Format::Evtx, name.clone()) else {
            continue;
        };
        engine.reset_correlations();
        let s1 = engine.run(recs.filter_map(Result::ok), 1, |a| {
            value_events.entry(key(&a)).or_insert(a.event.clone());
            *by_value.entry(key(&a)).or_default() += 1;
            n_value += 1;
        });
        for threads in [1, 2] {
            let mut by_fast = Hits::new();
            let mut probs = Vec::new();
            engine.reset_correlations();
            let s2 = engine.run_evtx(
                bytes.clone(),
                name.as_deref(),
                threads,
                |a| {
                    if threads == 1 {
                        // the alert carries the nested event, as the Value path's does
                        if let Some(e) = value_events.get(&key(&a)) {
                            assert_eq!(e, &a.event, "{} {:?}", f.display(), key(&a));
                        }
                    }
                    *by_fast.entry(key(&a)).or_default() += 1;
                },
                |e| probs.push(e.to_string()),
            )?;
            assert_eq!(s1.events, s2.run.events, "{}", f.display());
            assert_eq!(by_value, by_fast, "{} ({threads} threads)", f.display());
            if threads == 1 {
                issues += probs.len() as u64;
            }
        }
        events += s1.events;
        alerts += s1.alerts;
    }
    println!(
        "corpus: {} EVTX files, {events} events, {alerts} alerts, the same on both paths \
         ({issues} damaged chunks or records reported)",
        files.len()
    );
    assert!(events > 10_000 && alerts > 1_000);
    Ok(())
}

/// A damaged chunk is one issue on the fast path too, and its neighbours are matched.
#[test]
fn evtx_fast_path_reports_a_damaged_chunk_and_reads_the_rest() -> anyhow::Result<()> {
    let Some(root) = shared() else { return Ok(()) };
    let mut bytes = std::fs::read(root.join("events/logs/windows_evtx/ocsf-raw-sysmon.evtx"))?;
    let chunk3 = 4096 + 3 * 65536;
    bytes[chunk3..chunk3 + 8].copy_from_slice(b"XXXXXXXX");
    let engine = Engine::new(RuleSet::default(), Mappings::builtin()?);
    for threads in [1, 2] {
        let mut issues = Vec::new();
        let s = engine.run_evtx(
            bytes.clone(),
            None,
            threads,
            |_| {},
            |e| issues.push(e.to_string()),
        )?;
        println!("corpus: chunk 3 damaged, fast path: {s:?}, issues {issues:?}");
        assert_eq!(s.run.events, 358 - 43);
        assert!(issues.iter().any(|e| e.contains("chunk 3")), "{issues:?}");
        assert_eq!(s.bad_lines, issues.len() as u64);
    }
    Ok(())
}
