//! The conformance cases of measurement storage: logsource sightings add up per
//! (product, service, category), the enabled rules are replaced by each run's, and the
//! alert kind detection sets is kept and read back. Run by every backend beside
//! [`crate::testsuite`].

use chrono::{DateTime, TimeZone, Utc};
use ctem_model::{Alert, AlertKind};

use crate::Store;
use crate::alerts::AlertFilter;
use crate::measure::{DetectionRule, LogsourceSighting};

type Case = (&'static str, fn(&mut dyn Store));

/// Every case, by name.
pub const CASES: &[Case] = &[
    ("logsource_sightings_add_up", logsource_sightings_add_up),
    ("enabled_rules_are_replaced", enabled_rules_are_replaced),
    ("alert_kind_is_kept", alert_kind_is_kept),
];

/// Runs every case on a fresh store from `make`.
pub fn run_all(make: &mut dyn FnMut() -> Box<dyn Store>) {
    for (name, case) in CASES {
        let mut store = make();
        eprintln!("measure conformance: {name}");
        case(store.as_mut());
    }
}

fn t(hour: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 5, 1, hour, 0, 0)
        .single()
        .unwrap_or_default()
}

fn seen(
    p: &str,
    s: Option<&str>,
    c: Option<&str>,
    n: u64,
    from: u32,
    to: u32,
) -> LogsourceSighting {
    LogsourceSighting {
        product: Some(p.into()),
        service: s.map(String::from),
        category: c.map(String::from),
        events: n,
        first_seen: t(from),
        last_seen: t(to),
    }
}

fn logsource_sightings_add_up(store: &mut dyn Store) {
    assert!(store.seen_logsources().expect("read").is_empty());
    store
        .record_logsources(&[
            seen("windows", Some("sysmon"), None, 10, 5, 6),
            seen("windows", None, Some("process_creation"), 4, 5, 6),
        ])
        .expect("first run");
    store
        .record_logsources(&[
            seen("windows", Some("sysmon"), None, 3, 2, 3),
            seen("zeek", Some("conn"), None, 7, 8, 9),
        ])
        .expect("second run");
    let got = store.seen_logsources().expect("read");
    assert_eq!(
        got,
        vec![
            seen("windows", None, Some("process_creation"), 4, 5, 6),
            // 10 + 3 events; the earlier run's start is kept as first seen, the later end
            // as last seen
            seen("windows", Some("sysmon"), None, 13, 2, 6),
            seen("zeek", Some("conn"), None, 7, 8, 9),
        ]
    );
    assert!(got[0].feeds(Some("windows"), None, Some("process_creation")));
    assert!(!got[0].feeds(Some("windows"), Some("security"), None));
    assert!(got[2].feeds(None, Some("conn"), None));
}

fn rule(id: &str, tags: &[&str]) -> DetectionRule {
    DetectionRule {
        rule_id: id.into(),
        title: format!("rule {id}"),
        product: Some("windows".into()),
        service: None,
        category: Some("process_creation".into()),
        tags: tags.iter().map(|s| s.to_string()).collect(),
    }
}

fn enabled_rules_are_replaced(store: &mut dyn Store) {
    store
        .record_rules(&[rule("a", &["attack.t1059"]), rule("b", &[])], t(1))
        .expect("first");
    store
        .record_rules(
            &[
                rule("c", &["attack.t1003.001"]),
                rule("a", &["attack.t1059.001"]),
            ],
            t(2),
        )
        .expect("second");
    let got = store.detection_rules().expect("read");
    assert_eq!(
        got,
        vec![
            rule("a", &["attack.t1059.001"]),
            rule("c", &["attack.t1003.001"])
        ]
    );
}

fn alert(rule: &str, kind: AlertKind, record: u64) -> Alert {
    Alert {
        id: None,
        rule_id: rule.into(),
        title: rule.into(),
        level: "high".into(),
        kind,
        tags: vec!["correlation".into()],
        event_time: Some(t(3)),
        detected_at: t(4),
        source: Some("x.evtx".into()),
        record: Some(record),
        host: Some("h".into()),
        user: None,
        process: None,
        event: serde_json::json!({"n": record}),
    }
}

fn alert_kind_is_kept(store: &mut dyn Store) {
    store
        .store_alerts(&[
            alert("single", AlertKind::Event, 1),
            alert("corr", AlertKind::Correlation, 2),
        ])
        .expect("store");
    let mut got: Vec<(String, AlertKind)> = store
        .alerts(&AlertFilter::default())
        .expect("read")
        .into_iter()
        .map(|a| (a.rule_id, a.kind))
        .collect();
    got.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        got,
        vec![
            ("corr".to_string(), AlertKind::Correlation),
            ("single".to_string(), AlertKind::Event)
        ]
    );
    let kinds: Vec<AlertKind> = store
        .ungrouped_alerts()
        .expect("ungrouped")
        .into_iter()
        .map(|a| a.kind)
        .collect();
    assert_eq!(kinds.len(), 2);
    assert!(kinds.contains(&AlertKind::Correlation));
}
