//! Golden tests: every file under tests/fixtures/<format>/ is detected as <format> by content,
//! parsed, and summarised (counts plus key fields); the summary must equal
//! `<file>.expected.json`. `UPDATE_GOLDEN=1` rewrites the expectations.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use ctem_ingest::{Record, detect, parse_bytes};
use serde_json::{Value, json};

pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// What a golden file records of a parse.
pub fn summarise(records: &[Record]) -> Value {
    let mut assets = Vec::new();
    let mut services = 0;
    let mut packages = 0usize;
    let mut by_kind: BTreeMap<String, usize> = BTreeMap::new();
    let mut by_sev: BTreeMap<String, usize> = BTreeMap::new();
    let mut exposures = Vec::new();
    let mut issues = Vec::new();
    let mut scan = Value::Null;
    for r in records {
        match r {
            Record::ScanInfo {
                tool,
                started_at,
                finished_at,
                ..
            } => {
                if scan.is_null() || tool.is_some() {
                    scan =
                        json!({"tool": tool, "started_at": started_at, "finished_at": finished_at});
                }
            }
            Record::Asset { key, asset } => {
                let mut a = json!({
                    "key": key, "kind": asset.kind, "name": asset.name,
                    "identifiers": asset.identifiers.iter().map(|i| format!("{}={}", i.kind.as_str(), i.value)).collect::<Vec<_>>(),
                    "os": asset.os, "tags": asset.tags,
                });
                // context facts, where a format states them (inventories)
                let facts = json!({
                    "criticality": asset.criticality, "zone": asset.zone,
                    "internet_facing": asset.internet_facing, "owner_team": asset.owner_team,
                    "environment": asset.environment,
                });
                if facts
                    .as_object()
                    .is_some_and(|o| o.values().any(|v| !v.is_null()))
                {
                    a["context"] = facts;
                }
                assets.push(a);
            }
            Record::Service { .. } => services += 1,
            Record::Exposure { asset, exposure: e } => {
                *by_kind.entry(e.kind.as_str().into()).or_default() += 1;
                *by_sev.entry(e.severity.as_str().into()).or_default() += 1;
                if exposures.len() < 12 {
                    exposures.push(json!({
                        "asset": asset, "kind": e.kind, "severity": e.severity, "title": e.title,
                        "cves": e.cves, "advisories": e.advisories, "cwes": e.cwes,
                        "rule_id": e.rule_id, "package": e.package, "location": e.location,
                        "port": e.port, "cvss": e.cvss.len(), "fingerprint": e.fingerprint("golden").to_hex(),
                    }));
                }
            }
            Record::Issue(i) => issues.push(json!({"record": i.record, "message": i.message})),
            Record::Progress { .. } => {}
            Record::Package { .. } => packages += 1,
        }
    }
    let mut v = json!({
        "scan": scan, "assets": assets, "services": services,
        "exposures_by_kind": by_kind, "exposures_by_severity": by_sev,
        "first_exposures": exposures, "issues": issues,
    });
    if packages > 0 {
        v["packages"] = json!(packages);
    }
    v
}

#[test]
fn golden_files_per_format() {
    let update = std::env::var_os("UPDATE_GOLDEN").is_some();
    let mut checked = 0;
    let mut failures = Vec::new();
    for format in ctem_ingest::REGISTRY {
        let dir = fixtures().join(format.name);
        let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| {
                panic!(
                    "{}: every registered format needs golden fixtures: {e}",
                    dir.display()
                )
            })
            .map(|e| e.expect("entry").path())
            .filter(|p| !p.to_string_lossy().ends_with(".expected.json"))
            .collect();
        files.sort();
        assert!(
            files.len() >= 3,
            "{}: at least 3 real files per format",
            format.name
        );
        for f in files {
            let bytes = std::fs::read(&f).expect("read");
            let name = f.file_name().and_then(|n| n.to_str()).unwrap_or("");
            let detected = detect(&bytes, name)
                .unwrap_or_else(|e| panic!("{}: not detected: {e}", f.display()));
            assert_eq!(
                detected.name,
                format.name,
                "{}: detected as {}",
                f.display(),
                detected.name
            );
            let records =
                parse_bytes(detected, &bytes).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
            let got = summarise(&records);
            if format.parse_slice.is_some() {
                // the streaming and the in-memory paths must agree record for record
                let streamed = ctem_ingest::parse_bytes_streaming(detected, &bytes)
                    .unwrap_or_else(|e| panic!("{} (streaming): {e}", f.display()));
                assert_eq!(
                    streamed,
                    records,
                    "{}: streaming and slice parses differ",
                    f.display()
                );
            }
            let expected_path = PathBuf::from(format!("{}.expected.json", f.display()));
            if update {
                std::fs::write(
                    &expected_path,
                    serde_json::to_string_pretty(&got).expect("json") + "\n",
                )
                .expect("write");
            } else {
                let want: Value = serde_json::from_str(
                    &std::fs::read_to_string(&expected_path).unwrap_or_else(|e| {
                        panic!(
                            "{}: {e} (run with UPDATE_GOLDEN=1)",
                            expected_path.display()
                        )
                    }),
                )
                .expect("golden json");
                if want != got {
                    failures.push(f.display().to_string());
                }
            }
            checked += 1;
        }
    }
    assert!(
        failures.is_empty(),
        "golden mismatch (diff with UPDATE_GOLDEN=1 and git diff): {failures:?}"
    );
    assert!(checked >= 12);
}
