//! Alerts raised by the source itself: Suricata EVE `alert` events and Wazuh / OSSEC JSON
//! alerts become [`Alert`]s with signature, severity and ATT&CK tags where present.

use serde_json::Value;

use crate::engine::{Alert, Detector, Record};
use crate::event::{Event, FieldValue};

/// Detector that passes through alerts raised by the event source.
#[derive(Debug, Clone, Copy, Default)]
pub struct SourceAlerts;

impl Detector for SourceAlerts {
    fn name(&self) -> &str {
        "source_alerts"
    }
    fn detect(&self, record: &Record, out: &mut Vec<Alert>) {
        if let Some(a) = source_alert(record) {
            out.push(a);
        }
    }
    /// Only a Suricata `alert` event or a record with a top-level `rule` (Wazuh) can be one.
    fn wants(&self, event: &dyn Event) -> bool {
        matches!(event.field("event_type"), Some(FieldValue::Str(t)) if t == "alert")
            || event.field("rule").is_some()
    }
}

fn s(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// ATT&CK technique ids (`T1110`, `T1110.003`) as Sigma tags (`attack.t1110.003`).
fn attack_tags<'a>(ids: impl Iterator<Item = &'a Value>) -> Vec<String> {
    let mut tags: Vec<String> = ids
        .filter_map(Value::as_str)
        .filter(|t| t.len() > 1 && (t.starts_with('T') || t.starts_with('t')))
        .map(|t| format!("attack.{}", t.to_ascii_lowercase()))
        .collect();
    tags.sort();
    tags.dedup();
    tags
}

fn list<'a>(v: Option<&'a Value>) -> Box<dyn Iterator<Item = &'a Value> + 'a> {
    match v {
        Some(Value::Array(a)) => Box::new(a.iter()),
        Some(other) => Box::new(std::iter::once(other)),
        None => Box::new(std::iter::empty()),
    }
}

/// The alert a record carries, if it is a Suricata or Wazuh alert.
pub fn source_alert(record: &Record) -> Option<Alert> {
    let ev = &record.event;
    if ev.get("event_type").and_then(Value::as_str) == Some("alert") {
        let a = ev.get("alert")?;
        let level = match a.get("severity").and_then(Value::as_u64) {
            Some(1) => "high",
            Some(2) => "medium",
            Some(3) => "low",
            _ => "informational",
        };
        let md = a.get("metadata");
        let ids = list(md.and_then(|m| m.get("mitre_technique_id")));
        return Some(Alert {
            rule_id: format!(
                "suricata:{}:{}",
                a.get("gid").and_then(s).unwrap_or_else(|| "1".into()),
                a.get("signature_id").and_then(s).unwrap_or_default()
            ),
            title: a.get("signature").and_then(s).unwrap_or_default(),
            level: level.into(),
            kind: Default::default(),
            tags: attack_tags(ids),
            timestamp: ev.get("timestamp").and_then(s),
            source: record.source.clone(),
            record: record.record,
            event: ev.clone(),
        });
    }
    let rule = ev.get("rule")?;
    let wazuh_level = rule.get("level").and_then(Value::as_u64)?;
    rule.get("description")?;
    let level = match wazuh_level {
        13.. => "critical",
        10..=12 => "high",
        7..=9 => "medium",
        4..=6 => "low",
        _ => "informational",
    };
    Some(Alert {
        rule_id: format!("wazuh:{}", rule.get("id").and_then(s).unwrap_or_default()),
        title: rule.get("description").and_then(s).unwrap_or_default(),
        level: level.into(),
        kind: Default::default(),
        tags: attack_tags(list(rule.get("mitre").and_then(|m| m.get("id")))),
        timestamp: ev.get("timestamp").and_then(s),
        source: record.source.clone(),
        record: record.record,
        event: ev.clone(),
    })
}
