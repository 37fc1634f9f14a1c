//! The logsources a run tallies: the same on the lines path and the record path, on one
//! thread or two, and what each kind of event feeds.

use std::collections::BTreeMap;

use ctem_detect::source::SeenLogsource;
use ctem_detect::{Engine, Mappings, Record, RuleSet};
use serde_json::{Value, json};

fn ls(p: &str, s: Option<&str>, c: Option<&str>) -> SeenLogsource {
    SeenLogsource {
        product: Some(p.into()),
        service: s.map(String::from),
        category: c.map(String::from),
    }
}

/// 3 Sysmon process starts, 2 Security logon failures, 4 Zeek conn lines, 1 event of no
/// known source.
fn events() -> Vec<Value> {
    let mut v = Vec::new();
    for i in 0..3 {
        v.push(
            json!({"Channel": "Microsoft-Windows-Sysmon/Operational", "EventID": 1,
                      "Image": format!("C:\\x{i}.exe")}),
        );
    }
    for _ in 0..2 {
        v.push(json!({"Channel": "Security", "EventID": 4625, "TargetUserName": "bob"}));
    }
    for i in 0..4 {
        v.push(json!({"_path": "conn", "uid": format!("C{i}"), "id.orig_h": "10.0.0.1"}));
    }
    v.push(json!({"message": "hello"}));
    v
}

fn expected() -> BTreeMap<SeenLogsource, u64> {
    BTreeMap::from([
        // every Windows event feeds the product; the logsource table adds service and category
        (ls("windows", None, None), 5),
        (ls("windows", Some("sysmon"), None), 3),
        (ls("windows", None, Some("process_creation")), 3),
        (ls("windows", Some("security"), None), 2),
        (ls("zeek", Some("conn"), None), 4),
    ])
}

fn engine() -> anyhow::Result<Engine> {
    let yaml = "title: t\nid: r-1\nlogsource: {product: windows, category: process_creation}\ndetection:\n  sel:\n    Image|endswith: '.exe'\n  condition: sel\n";
    Ok(Engine::new(RuleSet::from_yaml(yaml)?, Mappings::builtin()?))
}

#[test]
fn every_path_tallies_the_logsources_events_fed() -> anyhow::Result<()> {
    let e = engine()?;
    let text: String = events().iter().map(|v| format!("{v}\n")).collect();
    for threads in [1, 2] {
        let s = e.run_lines(text.as_bytes(), Some("mixed.jsonl"), threads, |_| {})?;
        assert_eq!(s.run.logsources, expected(), "lines, {threads} threads");
        assert_eq!(s.run.unknown_source, 1);
        let recs = events().into_iter().map(Record::new);
        let s = e.run(recs, threads, |_| {});
        assert_eq!(s.logsources, expected(), "records, {threads} threads");
    }
    // one record at a time (`--follow`, the server) gives the same rows
    let mut one: BTreeMap<SeenLogsource, u64> = BTreeMap::new();
    for v in events() {
        for l in e.logsources_of(&Record::new(v)) {
            *one.entry(l).or_default() += 1;
        }
    }
    assert_eq!(one, expected());
    Ok(())
}

#[test]
fn a_seen_logsource_feeds_rules_naming_only_what_it_has() {
    let sysmon = ls("windows", Some("sysmon"), None);
    let rule = |p: Option<&str>, s: Option<&str>, c: Option<&str>| ctem_detect::rule::LogSource {
        product: p.map(String::from),
        service: s.map(String::from),
        category: c.map(String::from),
    };
    assert!(sysmon.feeds(&rule(Some("windows"), None, None)));
    assert!(sysmon.feeds(&rule(Some("windows"), Some("sysmon"), None)));
    assert!(!sysmon.feeds(&rule(Some("windows"), Some("security"), None)));
    assert!(!sysmon.feeds(&rule(Some("windows"), None, Some("process_creation"))));
    assert!(!sysmon.feeds(&rule(Some("linux"), None, None)));
}
