//! Scores every vector of the Red Hat `cvss` test suite and requires the expected scores.

use ctem_risk::Cvss;
use std::path::PathBuf;

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/cvss")
}

/// Parses `(a, b, c)`, `(a,)` or `a` into numbers, `None` for Python's `None`.
fn expected(text: &str) -> Vec<Option<f64>> {
    text.trim()
        .trim_start_matches('(')
        .trim_end_matches(')')
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| match s {
            "None" => None,
            n => Some(
                n.parse::<f64>()
                    .unwrap_or_else(|e| panic!("bad number {n:?}: {e}")),
            ),
        })
        .collect()
}

/// Returns (checked, failures).
fn check_file(name: &str) -> (usize, Vec<String>) {
    let path = fixtures().join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
    let mut failures = Vec::new();
    let mut n = 0;
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        n += 1;
        let (vector, want) = line.split_once(" - ").unwrap_or_else(|| panic!("{line}"));
        let want = expected(want);
        let got = match Cvss::parse(vector) {
            Ok(Cvss::V2(v)) => vec![
                Some(v.base_score()),
                v.has_temporal().then(|| v.temporal_score()),
                v.has_environmental().then(|| v.environmental_score()),
            ],
            Ok(Cvss::V3(v)) => vec![
                Some(v.base_score()),
                Some(v.temporal_score()),
                Some(v.environmental_score()),
            ],
            Ok(Cvss::V4(v)) => vec![Some(v.score())],
            Err(e) => {
                failures.push(format!("{name}: {vector}: {e}"));
                continue;
            }
        };
        if got != want {
            failures.push(format!("{name}: {vector}: want {want:?} got {got:?}"));
        }
    }
    (n, failures)
}

#[test]
fn every_redhat_vector_scores_as_expected() {
    let files = [
        "vectors_calculator2",
        "vectors_calculator3",
        "vectors_cvsslib2",
        "vectors_cvsslib3",
        "vectors_security4",
        "vectors_simple2",
        "vectors_simple3",
        "vectors_simple31",
        "vectors_simple4",
        "vectors_threat4",
    ];
    let mut total = 0;
    let mut failures = Vec::new();
    for f in files {
        let (n, fails) = check_file(f);
        total += n;
        failures.extend(fails);
    }
    let shown: Vec<_> = failures.iter().take(40).collect();
    assert!(
        failures.is_empty(),
        "{} of {total} vectors wrong:\n{shown:#?}",
        failures.len()
    );
    assert_eq!(total, 7091, "every fixture line is checked");
}
