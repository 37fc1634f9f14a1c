//! The engine API: alert JSON shape, threads, correlation wiring, extra detectors.

use std::path::PathBuf;

use ctem_detect::{Alert, Detector, Engine, Mappings, Record, RuleSet};
use serde_json::{Value, json};

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/sigma_regression")
}

fn all_events() -> anyhow::Result<Vec<Record>> {
    let data = fixtures().join("data");
    let mut files = Vec::new();
    let mut stack = vec![data];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(d)? {
            let p = e?.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "json") {
                files.push(p);
            }
        }
    }
    files.sort();
    let mut out = Vec::new();
    for f in files {
        let name = f.file_name().map(|n| n.to_string_lossy().into_owned());
        let recs = ctem_detect::decode::decode_bytes(
            std::fs::read(&f)?,
            ctem_detect::decode::Format::Jsonl,
            name,
        )?;
        for r in recs {
            out.push(r?);
        }
    }
    Ok(out)
}

#[test]
fn alert_serialises_to_the_cli_shape() -> anyhow::Result<()> {
    let set = RuleSet::from_yaml(
        "title: Whoami\nid: r-1\nlevel: high\ntags: [attack.t1033]\nlogsource: {product: windows, category: process_creation}\ndetection:\n  sel:\n    Image|endswith: '\\whoami.exe'\n  condition: sel\n",
    )?;
    let engine = Engine::new(set, Mappings::builtin()?);
    let ev = json!({"Event": {"System": {"EventID": 1, "Channel": "Microsoft-Windows-Sysmon/Operational",
        "EventRecordID": 123, "TimeCreated": {"#attributes": {"SystemTime": "2024-05-01T10:00:00Z"}}},
        "EventData": {"Image": "C:\\Windows\\System32\\whoami.exe"}}});
    let rec = Record {
        source: Some("file.evtx".into()),
        record: None,
        event: ev.clone(),
    };
    let alerts = engine.process_record(&rec);
    assert_eq!(alerts.len(), 1);
    let v = serde_json::to_value(&alerts[0])?;
    assert_eq!(
        v,
        json!({"rule_id": "r-1", "title": "Whoami", "level": "high", "tags": ["attack.t1033"],
               "timestamp": "2024-05-01T10:00:00Z", "source": "file.evtx", "record": 123, "event": ev})
    );
    // a Sysmon event of another category does not reach the rule
    let mut other = ev.clone();
    other["Event"]["System"]["EventID"] = json!(3);
    assert!(engine.process(&other).is_empty());
    Ok(())
}

#[test]
fn two_threads_give_the_same_alerts_in_the_same_order() -> anyhow::Result<()> {
    let rules = RuleSet::load_dirs(&[fixtures().join("rules")])?;
    assert!(
        rules.report.unsupported.is_empty(),
        "{:?}",
        rules.report.unsupported
    );
    let engine = Engine::new(rules, Mappings::builtin()?);
    let events = all_events()?;
    let mut one: Vec<Alert> = Vec::new();
    let s1 = engine.run(events.clone(), 1, |a| one.push(a));
    let mut two: Vec<Alert> = Vec::new();
    let s2 = engine.run(events, 2, |a| two.push(a));
    assert_eq!(s1, s2);
    assert!(
        one.len() >= 202,
        "every case raises at least its own alert: {}",
        one.len()
    );
    assert_eq!(one, two);
    Ok(())
}

struct Always;

impl Detector for Always {
    fn name(&self) -> &str {
        "always"
    }
    fn detect(&self, record: &Record, out: &mut Vec<Alert>) {
        out.push(Alert {
            rule_id: "ioc:1".into(),
            title: "ioc".into(),
            level: "low".into(),
            tags: Vec::new(),
            timestamp: None,
            source: record.source.clone(),
            record: record.record,
            event: Value::Null,
        });
    }
}

#[test]
fn extra_detectors_run_beside_sigma() -> anyhow::Result<()> {
    let mut engine = Engine::new(RuleSet::default(), Mappings::builtin()?);
    engine.add_detector(Box::new(Always));
    engine.add_detector(Box::new(ctem_detect::decode::SourceAlerts));
    let suricata = json!({"event_type": "alert", "timestamp": "t", "alert": {"gid": 1, "signature_id": 2024833,
        "signature": "ET POLICY x", "severity": 1, "metadata": {"mitre_technique_id": ["T1071"]}}});
    let alerts = engine.process(&suricata);
    assert_eq!(alerts.len(), 2);
    let s = alerts
        .iter()
        .find(|a| a.rule_id == "suricata:1:2024833")
        .expect("source alert");
    assert_eq!(
        (s.level.as_str(), s.tags.clone()),
        ("high", vec!["attack.t1071".to_string()])
    );
    Ok(())
}

#[test]
fn correlation_chain_silences_base_rule_and_fires_once() -> anyhow::Result<()> {
    let yaml = "title: failed\nname: failed_login\nid: b-1\nlogsource: {product: windows, service: security}\ndetection:\n  sel:\n    EventID: 4625\n  condition: sel\n---\ntitle: many failed\nid: c-1\nname: many_failed\ncorrelation:\n  type: event_count\n  rules: [failed_login]\n  group-by: [TargetUserName]\n  timespan: 1m\n  condition: {gte: 3}\n---\ntitle: chained\nid: c-2\ncorrelation:\n  type: event_count\n  rules: [many_failed]\n  timespan: 1h\n  condition: {gte: 2}\n";
    let engine = Engine::new(RuleSet::from_yaml(yaml)?, Mappings::builtin()?);
    let ev = |s: u32, user: &str| {
        json!({"Channel": "Security", "EventID": 4625, "TargetUserName": user,
               "TimeCreated_SystemTime": format!("2024-05-01T10:00:{s:02}Z")})
    };
    let mut ids = Vec::new();
    for (i, u) in ["a", "a", "b", "a", "a", "a", "a"].iter().enumerate() {
        ids.extend(
            engine
                .process(&ev(i as u32, u))
                .into_iter()
                .map(|a| a.rule_id),
        );
    }
    assert_eq!(
        ids,
        vec!["c-1", "c-1", "c-2"],
        "base rule silent; 6 of user a -> two bursts -> chain"
    );
    Ok(())
}
