//! VEX documents and advisories: the status of each statement decides its exposure's, and a
//! document speaks only for the pairs it states.

use ctem_ingest::{Record, by_name, parse_bytes};
use ctem_model::{Coverage, ExposureStatus as S};

use crate::golden::fixtures;

/// The document's coverage and `(first id, status)` of each exposure, in report order.
fn read(format: &str, rel: &str) -> (Coverage, Vec<(String, S)>) {
    let bytes = std::fs::read(fixtures().join(rel)).expect("read");
    let records = parse_bytes(by_name(format).expect("format"), &bytes).expect(rel);
    let mut covers = None;
    let mut out = Vec::new();
    for r in records {
        match r {
            Record::ScanInfo { covers: c, .. } => covers = Some(c),
            Record::Exposure { exposure, .. } => {
                let id = exposure.primary_id().unwrap_or_default().to_string();
                out.push((id, exposure.status));
            }
            _ => {}
        }
    }
    (covers.expect("a ScanInfo record"), out)
}

#[test]
fn csaf_fixed_and_known_not_affected_products_are_not_open() {
    let (covers, got) = read("csaf", "csaf/csaf_many_vuln.json");
    assert_eq!(covers, Coverage::Statements);
    let want = [
        ("CVE-2026-10002", S::Open),          // known_affected
        ("CVE-2026-10002", S::Open),          // under_investigation
        ("CVE-2026-10002", S::FalsePositive), // known_not_affected
        ("CVE-2026-10002", S::Fixed),         // fixed
        ("EXAMPLE-2026-0002-B", S::Open),     // known_affected
    ]
    .map(|(a, b)| (a.to_string(), b));
    assert_eq!(got, want);
}

#[test]
fn openvex_statuses_decide_the_exposures() {
    let (covers, got) = read("openvex", "openvex/openvex_many_vuln.json");
    assert_eq!(covers, Coverage::Statements);
    let want = [
        ("CVE-2024-10001", S::FalsePositive), // not_affected
        ("CVE-2024-10002", S::Open),          // affected
        ("CVE-2024-10003", S::Fixed),         // fixed
        ("CVE-2024-10004", S::Open),          // under_investigation
        ("CVE-2024-10005", S::FalsePositive), // not_affected
        ("CVE-2024-10006", S::FalsePositive), // not_affected
    ]
    .map(|(a, b)| (a.to_string(), b));
    assert_eq!(got, want);
}

#[test]
fn a_cyclonedx_vex_speaks_for_its_statements_and_a_scan_bom_for_its_subject() {
    let (covers, got) = read("cyclonedx", "vex/cyclonedx-case-12-vex.json");
    assert_eq!(covers, Coverage::Statements);
    let statuses: Vec<S> = got.iter().map(|(_, s)| *s).collect();
    // not_affected, exploitable, not_affected
    assert_eq!(statuses, [S::FalsePositive, S::Open, S::FalsePositive]);
    // a BOM with its components (here with `in_triage` analyses) is a scan of its subject
    let (covers, got) = read("cyclonedx", "cyclonedx/log4j.json");
    assert_eq!(covers, Coverage::Assets);
    assert!(!got.is_empty() && got.iter().all(|(_, s)| *s == S::Open));
}

#[test]
fn a_resolved_cyclonedx_analysis_closes_its_exposure() {
    let doc = br#"{"bomFormat":"CycloneDX","specVersion":"1.5","components":[
        {"bom-ref":"pkg:npm/lodash@4.17.21","name":"lodash","version":"4.17.21"}],
      "vulnerabilities":[{"id":"CVE-2021-23337","analysis":{"state":"resolved"},
        "affects":[{"ref":"pkg:npm/lodash@4.17.21"}]}]}"#;
    let records = parse_bytes(by_name("cyclonedx").expect("cyclonedx"), doc).expect("parses");
    let statuses: Vec<S> = records
        .iter()
        .filter_map(|r| match r {
            Record::Exposure { exposure, .. } => Some(exposure.status),
            _ => None,
        })
        .collect();
    assert_eq!(statuses, [S::Fixed]);
}
