//! IOC matching on real events and on indicators the intel crate parses from real files
//! (part of the `corpus` target: it needs the shared fixtures).

use std::path::PathBuf;

use chrono::Utc;
use ctem_detect::decode::{Format, open};
use ctem_detect::{Engine, IocMatcher, Mappings, Record, RuleSet};
use ctem_model::intel::{Indicator, IndicatorType};
use serde_json::Value;

use super::shared;

fn strings(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::String(s) => out.push(s.clone()),
        Value::Array(a) => a.iter().for_each(|x| strings(x, out)),
        Value::Object(o) => o.values().for_each(|x| strings(x, out)),
        _ => {}
    }
}

/// Runs the matcher as an engine detector over a real file and returns (records, alerts).
fn run(path: PathBuf, format: Format, m: IocMatcher) -> anyhow::Result<(Vec<Record>, usize)> {
    let records: Vec<Record> = open(&path, format)?.filter_map(Result::ok).collect();
    let mut engine = Engine::new(RuleSet::default(), Mappings::builtin()?);
    engine.add_detector(Box::new(m));
    let mut alerts = Vec::new();
    engine.run(records.clone(), 2, |a| alerts.push(a));
    for a in &alerts {
        assert!(a.rule_id.starts_with("ioc:"), "{}", a.rule_id);
        assert!(a.source.is_some() && a.record.is_some());
    }
    Ok((records, alerts.len()))
}

#[test]
fn suricata_ip_indicator_hits_every_event_naming_it() -> anyhow::Result<()> {
    let Some(root) = shared() else { return Ok(()) };
    let path = root.join("events/logs/suricata_eve/beats-eve-small.log");
    let ip = "192.168.253.112";
    let mut cidr = Indicator::new(IndicatorType::Cidr, "192.168.253.0/24", "test-feed");
    cidr.confidence = Some(30);
    let m = IocMatcher::new(
        &[Indicator::new(IndicatorType::Ipv4, ip, "test-feed"), cidr],
        Utc::now(),
    );
    let (records, alerts) = run(path, Format::Suricata, m)?;
    let mut with_ip = 0;
    let mut in_net = 0;
    for r in &records {
        let mut s = Vec::new();
        strings(&r.event, &mut s);
        with_ip += usize::from(s.iter().any(|x| x == ip));
        in_net += usize::from(s.iter().any(|x| x.starts_with("192.168.253.")));
    }
    assert!(with_ip > 0, "fixture names {ip}");
    assert_eq!(alerts, with_ip + in_net);
    Ok(())
}

#[test]
fn zeek_dns_domain_indicator_hits_subdomains() -> anyhow::Result<()> {
    let Some(root) = shared() else { return Ok(()) };
    let path = root.join("events/logs/zeek_json/otrf-apt29-day1-NASHUA_dns.log");
    let m = IocMatcher::new(
        &[Indicator::new(
            IndicatorType::Domain,
            "dmevals.local",
            "test-feed",
        )],
        Utc::now(),
    );
    let (records, alerts) = run(path, Format::Zeek, m)?;
    let expected = records
        .iter()
        .filter(|r| {
            let mut s = Vec::new();
            strings(&r.event, &mut s);
            s.iter().any(|x| {
                let x = x.to_ascii_lowercase();
                x == "dmevals.local" || x.ends_with(".dmevals.local")
            })
        })
        .count();
    assert!(expected > 0);
    assert_eq!(alerts, expected);
    Ok(())
}

#[test]
fn stix_indicators_from_apt1_report_match_and_expire() -> anyhow::Result<()> {
    let Some(root) = shared() else { return Ok(()) };
    let path =
        root.join("threat-intel/stix2.1/cti-stix2-json-schemas-examples/threat-reports/apt1.json");
    let bundle = ctem_intel::stix::parse_stix(&std::fs::read(path)?, "apt1.json")?;
    let m = IocMatcher::new(&bundle.indicators, Utc::now());
    let domains: Vec<&Indicator> = bundle
        .indicators
        .iter()
        .filter(|i| i.kind == IndicatorType::Domain && !i.revoked)
        .collect();
    assert!(!domains.is_empty(), "apt1 has domain indicators");
    let d = &domains[0].value;
    let ev = serde_json::json!({"query": format!("www.{d}"), "src": "10.1.1.1"});
    let hits = m.matches(&ev);
    assert!(
        hits.iter().any(|&i| &m.indicators()[i].value == d),
        "{d} not matched"
    );
    // every indicator expired a second from now matches nothing
    let later = Utc::now() + chrono::Duration::days(365 * 100);
    let expiring: Vec<Indicator> = bundle
        .indicators
        .iter()
        .cloned()
        .map(|mut i| {
            i.valid_until = Some(Utc::now());
            i
        })
        .collect();
    assert!(IocMatcher::new(&expiring, later).matches(&ev).is_empty());
    Ok(())
}
