//! `coverage.techniques` and the correlation share, against values computed by hand from
//! the rules and sightings recorded here.

use chrono::Duration;
use ctem_measure::coverage;
use ctem_measure::kpi::{self, Kpi, KpiConfig};
use ctem_model::{Alert, AlertKind};
use ctem_store::alerts::AlertStore;
use ctem_store::measure::{DetectionRule, LogsourceSighting, MeasureStore};

use crate::fixture::{built, now};

fn rule(id: &str, ls: [Option<&str>; 3], tags: &[&str]) -> DetectionRule {
    DetectionRule {
        rule_id: id.into(),
        title: id.into(),
        product: ls[0].map(String::from),
        service: ls[1].map(String::from),
        category: ls[2].map(String::from),
        tags: tags.iter().map(|t| t.to_string()).collect(),
    }
}

fn seen(ls: [Option<&str>; 3], events: u64) -> LogsourceSighting {
    LogsourceSighting {
        product: ls[0].map(String::from),
        service: ls[1].map(String::from),
        category: ls[2].map(String::from),
        events,
        first_seen: now() - Duration::hours(2),
        last_seen: now() - Duration::hours(1),
    }
}

/// r1 windows process creation (T1059.001), r2 windows security (T1003), r3 linux auditd
/// (T1059.004, T1070), r4 zeek rdp (T1021.001), r5 no technique tag.
pub fn rules() -> Vec<DetectionRule> {
    vec![
        rule(
            "r1",
            [Some("windows"), None, Some("process_creation")],
            &["attack.execution", "attack.t1059.001"],
        ),
        rule(
            "r2",
            [Some("windows"), Some("security"), None],
            &["attack.t1003"],
        ),
        rule(
            "r3",
            [Some("linux"), Some("auditd"), None],
            &["attack.t1059.004", "attack.t1070"],
        ),
        rule(
            "r4",
            [Some("zeek"), Some("rdp"), None],
            &["attack.t1021.001"],
        ),
        rule("r5", [Some("windows"), None, None], &["attack.discovery"]),
    ]
}

/// Sysmon process starts, auditd and Zeek conn logs were seen; no Security channel, no RDP.
pub fn sightings() -> Vec<LogsourceSighting> {
    vec![
        seen([Some("windows"), Some("sysmon"), None], 40),
        seen([Some("windows"), None, Some("process_creation")], 12),
        seen([Some("linux"), Some("auditd"), None], 7),
        seen([Some("zeek"), Some("conn"), None], 900),
    ]
}

fn get<'a>(k: &'a [Kpi], id: &str) -> &'a Kpi {
    k.iter().find(|x| x.id == id).expect("kpi")
}

#[test]
fn technique_coverage_counts_techniques_of_fed_rules_over_the_scope() {
    let mut b = built();
    let cfg = KpiConfig::default();
    // rules but nothing seen: no value, and it says why
    b.store.record_rules(&rules(), now()).unwrap();
    let (_, k) = kpi::current(&b.store, None, now(), &cfg).unwrap();
    let c = get(&k, "coverage.techniques");
    assert_eq!(c.value, None);
    assert!(
        c.missing.as_deref().unwrap().contains("seen no events"),
        "{c:?}"
    );

    b.store.record_logsources(&sightings()).unwrap();
    let (f, k) = kpi::current(&b.store, None, now(), &cfg).unwrap();
    // scope = tagged techniques T1003, T1021.001, T1059.001, T1059.004, T1070 (5);
    // covered: T1059.001 (r1 by the process_creation sighting), T1059.004 and T1070 (r3)
    let c = get(&k, "coverage.techniques");
    assert_eq!((c.value, c.n), (Some(0.6), Some(5)));
    let t = coverage::techniques(&f, &[]);
    assert_eq!(t.covered, ["T1059.001", "T1059.004", "T1070"]);
    assert_eq!(t.unfed, ["T1003", "T1021.001"]);
    assert!(t.no_rule.is_empty());

    // a declared scope: T1059 is covered through its sub-techniques, T1003 has an unfed
    // rule, T1566 no rule at all: 1 of 3
    let scoped = KpiConfig {
        techniques: vec!["T1059".into(), "t1003".into(), "T1566".into()],
        ..KpiConfig::default()
    };
    let (f, k) = kpi::current(&b.store, None, now(), &scoped).unwrap();
    let c = get(&k, "coverage.techniques");
    assert_eq!((c.value, c.n), (Some(0.333), Some(3)));
    let t = coverage::techniques(&f, &scoped.techniques);
    assert_eq!(
        (t.covered, t.unfed, t.no_rule),
        (
            vec!["T1059".to_string()],
            vec!["T1003".to_string()],
            vec!["T1566".to_string()]
        )
    );

    // the Security channel starts flowing: r2 is fed, T1003 covered (4 of 5)
    b.store
        .record_logsources(&[seen([Some("windows"), Some("security"), None], 3)])
        .unwrap();
    let (_, k) = kpi::current(&b.store, None, now(), &cfg).unwrap();
    assert_eq!(get(&k, "coverage.techniques").value, Some(0.8));
}

#[test]
fn correlation_share_reads_the_mark_of_detection() {
    let mut b = built();
    let cfg = KpiConfig::default();
    let (_, k) = kpi::current(&b.store, None, now(), &cfg).unwrap();
    // the fixture's three alerts are single-event ones
    let c = get(&k, "alerts.correlation_share");
    assert_eq!((c.value, c.n), (Some(0.0), Some(3)));
    let corr = Alert {
        id: None,
        rule_id: "brute-force".into(),
        title: "many failed logons".into(),
        level: "high".into(),
        kind: AlertKind::Correlation,
        tags: vec![],
        event_time: Some(now() - Duration::minutes(30)),
        detected_at: now() - Duration::minutes(20),
        source: Some("sec.evtx".into()),
        record: Some(9),
        host: Some("h1".into()),
        user: None,
        process: None,
        event: serde_json::json!({}),
    };
    b.store.store_alerts(&[corr]).unwrap();
    let (_, k) = kpi::current(&b.store, None, now(), &cfg).unwrap();
    let c = get(&k, "alerts.correlation_share");
    assert_eq!((c.value, c.n), (Some(0.25), Some(4)));
}
