//! The SigmaHQ regression suite: every case's rule must match its sample exactly
//! `match_count` times (at least once where the count is null).

use std::path::PathBuf;

use ctem_detect::{Engine, Mappings, RuleSet};
use serde_json::Value;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/sigma_regression")
}

/// Reads concatenated JSON documents.
fn events(path: &std::path::Path) -> anyhow::Result<Vec<Value>> {
    let text = std::fs::read_to_string(path)?;
    let mut out = Vec::new();
    for v in serde_json::Deserializer::from_str(&text).into_iter::<Value>() {
        out.push(v?);
    }
    Ok(out)
}

/// Runs one case; returns the number of events the case's rule matched.
fn run_case(case: &Value) -> anyhow::Result<usize> {
    let rule_file = root()
        .join("rules")
        .join(case["rule_file"].as_str().unwrap_or_default());
    let rules = RuleSet::load_dirs(&[&rule_file])?;
    anyhow::ensure!(
        rules.report.unsupported.is_empty(),
        "rule does not compile: {:?}",
        rules.report.unsupported
    );
    let engine = Engine::new(rules, Mappings::builtin()?);
    let id = case["rule_id"].as_str().unwrap_or_default();
    let data = root()
        .join("data")
        .join(case["json"].as_str().unwrap_or_default());
    let mut n = 0;
    for ev in events(&data)? {
        n += engine
            .process(&ev)
            .iter()
            .filter(|a| a.rule_id == id)
            .count();
    }
    Ok(n)
}

#[path = "../common/stale.rs"]
mod stale;
use stale::UPSTREAM_COUNT_STALE;

#[test]
fn sigma_regression_suite_matches_expected_counts() -> anyhow::Result<()> {
    let manifest: Vec<Value> =
        serde_json::from_str(&std::fs::read_to_string(root().join("MANIFEST.json"))?)?;
    assert_eq!(manifest.len(), 202);
    let mut failures = Vec::new();
    for case in &manifest {
        let file = case["rule_file"].as_str().unwrap_or_default();
        let stale = UPSTREAM_COUNT_STALE
            .iter()
            .find(|(f, _, _)| file.ends_with(f));
        let want = stale.map(|(_, n, _)| *n).or(case["match_count"].as_u64());
        let got = run_case(case);
        let ok = match (&got, want) {
            (Ok(g), Some(w)) => *g as u64 == w,
            (Ok(g), None) => *g >= 1,
            (Err(_), _) => false,
        };
        if !ok {
            failures.push(format!(
                "{} want {:?} got {:?}",
                case["rule_file"], want, got
            ));
        }
    }
    let passed = manifest.len() - failures.len();
    println!(
        "sigma regression: {passed}/{} cases pass ({} with a documented stale upstream count)",
        manifest.len(),
        UPSTREAM_COUNT_STALE.len()
    );
    for f in &failures {
        println!("  FAIL {f}");
    }
    assert!(
        failures.is_empty(),
        "{passed}/{} pass; failures:\n{}",
        manifest.len(),
        failures.join("\n")
    );
    Ok(())
}
