//! `ctem detect`, `ctem rules check`, `ctem alerts` on the SigmaHQ regression data (real EVTX
//! renderings and real rules, copied in crates/ctem-detect/tests/fixtures).

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

fn regression() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../ctem-detect/tests/fixtures/sigma_regression")
}

fn ctem(dir: &Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_ctem"))
        .arg("--db")
        .arg(dir.join("ctem.db"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run ctem")
}

#[test]
fn detect_fires_every_regression_rule_and_stores_alerts_with_entities() {
    let tmp = tempfile::tempdir().expect("tmp");
    let rules = regression().join("rules");
    let data = regression().join("data");
    let out = ctem(
        tmp.path(),
        &[
            "detect",
            "--rules",
            rules.to_str().expect("path"),
            "--json",
            "--store",
            "--summary",
            "--threads",
            "2",
            data.to_str().expect("path"),
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect();
    let (summary, alerts) = lines.split_last().expect("summary line");
    assert!(summary["events"].as_u64().expect("events") >= 202);
    assert_eq!(summary["alerts"].as_u64(), Some(alerts.len() as u64));
    for a in alerts {
        for k in [
            "rule_id",
            "title",
            "level",
            "tags",
            "timestamp",
            "source",
            "record",
            "event",
        ] {
            assert!(a.get(k).is_some(), "alert lacks {k}: {a}");
        }
    }
    let fired: HashSet<&str> = alerts
        .iter()
        .filter_map(|a| a["rule_id"].as_str())
        .collect();
    let manifest: Value = serde_json::from_str(
        &std::fs::read_to_string(regression().join("MANIFEST.json")).expect("manifest"),
    )
    .expect("json");
    let cases = manifest
        .as_array()
        .or(manifest["cases"].as_array())
        .expect("cases");
    let mut missing = Vec::new();
    for c in cases {
        if let Some(id) = c["id"].as_str().or(c["rule_id"].as_str())
            && !fired.contains(id)
        {
            missing.push(id.to_string());
        }
    }
    assert!(
        missing.is_empty(),
        "regression rules that did not fire: {missing:?}"
    );

    let stored = ctem(tmp.path(), &["alerts", "--json", "--limit", "100000"]);
    assert!(stored.status.success());
    let stored: Vec<Value> = String::from_utf8_lossy(&stored.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("json"))
        .collect();
    assert_eq!(stored.len(), alerts.len());
    assert!(
        stored.iter().all(|a| a["host"].is_string()),
        "Windows events name their computer"
    );
    assert!(stored.iter().any(|a| a["process"].is_string()));
    let high = ctem(
        tmp.path(),
        &["alerts", "--json", "--level", "high", "--limit", "100000"],
    );
    let high = String::from_utf8_lossy(&high.stdout).lines().count();
    assert!(high > 0 && high < stored.len());
}

#[test]
fn rules_check_reports_counts_and_reasons() {
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = tmp.path().join("rules");
    std::fs::create_dir(&dir).expect("mkdir");
    std::fs::write(
        dir.join("ok.yml"),
        "title: t\nid: 11111111-1111-1111-1111-111111111111\nlogsource: {product: windows}\ndetection:\n  sel: {Image|endswith: '\\\\cmd.exe'}\n  condition: sel\n",
    )
    .expect("write");
    std::fs::write(
        dir.join("bad.yml"),
        "title: bad\nlogsource: {product: windows}\ndetection:\n  sel: {Image: x}\n  condition: nosuch\n",
    )
    .expect("write");
    let out = ctem(
        tmp.path(),
        &["rules", "check", "--json", dir.to_str().expect("p")],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v["rules"], 2);
    assert_eq!(v["compiled"], 1);
    let u = &v["unsupported"][0];
    assert!(u["path"].as_str().expect("path").ends_with("bad.yml"));
    assert!(!u["reason"].as_str().expect("reason").is_empty());
    let missing = ctem(tmp.path(), &["rules", "check", "/no/such/dir"]);
    assert_eq!(missing.status.code(), Some(1));
}

#[test]
fn detect_reads_standard_input_and_refuses_missing_rules() {
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = tmp.path().join("rules");
    std::fs::create_dir(&dir).expect("mkdir");
    std::fs::write(
        dir.join("cmd.yml"),
        "title: cmd started\nid: 22222222-2222-2222-2222-222222222222\nlevel: high\nlogsource: {category: process_creation, product: windows}\ndetection:\n  sel: {Image|endswith: '\\\\cmd.exe'}\n  condition: sel\n",
    )
    .expect("write");
    let mut child = Command::new(env!("CARGO_BIN_EXE_ctem"))
        .args(["detect", "--json", "--rules", dir.to_str().expect("p"), "-"])
        .current_dir(tmp.path())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    {
        use std::io::Write;
        let stdin = child.stdin.as_mut().expect("stdin");
        writeln!(stdin, r#"{{"EventID": 1, "Channel": "Microsoft-Windows-Sysmon/Operational", "Image": "C:\\Windows\\System32\\cmd.exe", "Computer": "ws1"}}"#).expect("w");
        writeln!(stdin, r#"{{"EventID": 1, "Channel": "Microsoft-Windows-Sysmon/Operational", "Image": "C:\\Windows\\notepad.exe"}}"#).expect("w");
    }
    let out = child.wait_with_output().expect("wait");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let alerts: Vec<Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("json"))
        .collect();
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0]["rule_id"], "22222222-2222-2222-2222-222222222222");
    assert_eq!(alerts[0]["source"], "stdin");
    let none = ctem(tmp.path(), &["detect", "x.jsonl"]);
    assert_eq!(none.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&none.stderr).contains("no rules"));
}
