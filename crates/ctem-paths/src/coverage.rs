//! Detection coverage by ATT&CK technique, proven rather than counted: for each technique,
//! the rules tagged with it, those whose logsource the given events hold, and those that
//! really fired when the events were replayed. Written as an ATT&CK Navigator layer
//! (format 4.5) with a score per technique: 1 rules present, 2 logsource seen, 3 proven.

use std::collections::{BTreeMap, BTreeSet};

use ctem_detect::{Engine, Record};
use serde::Serialize;

use crate::scenario::logsources_seen;
use crate::technique::technique_tags;

/// Coverage of one technique.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TechniqueCoverage {
    pub technique: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub name: String,
    pub rules: Vec<String>,
    pub logsource_seen: Vec<String>,
    pub proven: Vec<String>,
    /// 0 nothing, 1 rules present, 2 a rule's logsource seen, 3 proven by replay.
    pub score: u8,
}

/// Coverage of every technique a loaded rule is tagged with (named from `names` when the
/// ATT&CK store has them), over `events`.
pub fn coverage(
    engine: &Engine,
    events: &[Record],
    names: &BTreeMap<String, String>,
) -> Vec<TechniqueCoverage> {
    let seen = logsources_seen(engine, events);
    let mut fired: BTreeSet<String> = BTreeSet::new();
    for rec in events {
        for a in engine.process_record(rec) {
            fired.insert(a.rule_id);
        }
    }
    let mut by: BTreeMap<String, TechniqueCoverage> = BTreeMap::new();
    for (i, r) in engine.rules().iter().enumerate() {
        let mut ids = technique_tags(&r.meta.tags);
        ids.sort();
        ids.dedup();
        for t in ids {
            let c = by.entry(t.clone()).or_insert_with(|| TechniqueCoverage {
                name: names.get(&t).cloned().unwrap_or_default(),
                technique: t,
                rules: Vec::new(),
                logsource_seen: Vec::new(),
                proven: Vec::new(),
                score: 0,
            });
            c.rules.push(r.meta.id.clone());
            let proven = fired.contains(&r.meta.id);
            if seen[i] || proven {
                c.logsource_seen.push(r.meta.id.clone());
            }
            if proven {
                c.proven.push(r.meta.id.clone());
            }
        }
    }
    by.into_values()
        .map(|mut c| {
            c.score = if !c.proven.is_empty() {
                3
            } else if !c.logsource_seen.is_empty() {
                2
            } else {
                u8::from(!c.rules.is_empty())
            };
            c
        })
        .collect()
}

/// The ATT&CK Navigator layer (format 4.5) of a coverage table.
pub fn navigator_layer(name: &str, cov: &[TechniqueCoverage]) -> serde_json::Value {
    let techniques: Vec<serde_json::Value> = cov
        .iter()
        .map(|c| {
            serde_json::json!({
                "techniqueID": c.technique,
                "score": c.score,
                "comment": format!(
                    "{} rules present, {} with logsource seen, {} proven by replay",
                    c.rules.len(), c.logsource_seen.len(), c.proven.len()
                ),
                "enabled": true,
                "metadata": [
                    {"name": "rules", "value": c.rules.len().to_string()},
                    {"name": "logsource seen", "value": c.logsource_seen.len().to_string()},
                    {"name": "proven", "value": c.proven.join(", ")},
                ],
                "showSubtechniques": false,
            })
        })
        .collect();
    serde_json::json!({
        "name": name,
        "versions": {"navigator": "5.1.0", "layer": "4.5"},
        "domain": "enterprise-attack",
        "description": "ctem detection coverage: 1 rules present, 2 logsource seen in the data, 3 proven by replay",
        "sorting": 3,
        "hideDisabled": false,
        "techniques": techniques,
        "gradient": {"colors": ["#ff6666", "#ffe766", "#8ec843"], "minValue": 0, "maxValue": 3},
        "legendItems": [
            {"label": "rules present", "color": "#ff6666"},
            {"label": "logsource seen", "color": "#ffe766"},
            {"label": "proven by replay", "color": "#8ec843"}
        ],
    })
}

/// Checks a layer against the 4.5 format strictly: required fields, types, allowed values;
/// returns every problem found.
pub fn validate_layer(v: &serde_json::Value) -> Vec<String> {
    use serde_json::Value;
    let mut errs = Vec::new();
    let mut need = |ok: bool, msg: &str| {
        if !ok {
            errs.push(msg.to_string());
        }
    };
    let Some(o) = v.as_object() else {
        return vec!["layer is not an object".into()];
    };
    need(
        o.get("name").is_some_and(Value::is_string),
        "name: required string",
    );
    need(
        o.get("domain")
            .and_then(Value::as_str)
            .is_some_and(|d| ["enterprise-attack", "mobile-attack", "ics-attack"].contains(&d)),
        "domain: one of enterprise-attack, mobile-attack, ics-attack",
    );
    if let Some(ver) = o.get("versions") {
        need(
            ver.get("layer").and_then(Value::as_str) == Some("4.5"),
            "versions.layer: must be \"4.5\"",
        );
        let nav = ver.get("navigator").and_then(Value::as_str).unwrap_or("");
        let parts: Vec<u32> = nav.split('.').filter_map(|p| p.parse().ok()).collect();
        need(
            parts.len() == 3 && parts >= vec![4, 9, 0],
            "versions.navigator: at least 4.9.0",
        );
    }
    if let Some(s) = o.get("sorting") {
        need(s.as_u64().is_some_and(|s| s <= 3), "sorting: 0-3");
    }
    for key in [
        "hideDisabled",
        "showTacticRowBackground",
        "selectTechniquesAcrossTactics",
    ] {
        if let Some(b) = o.get(key) {
            need(b.is_boolean(), &format!("{key}: boolean"));
        }
    }
    if let Some(g) = o.get("gradient") {
        let colors = g.get("colors").and_then(Value::as_array);
        need(
            colors.is_some_and(|c| c.len() >= 2 && c.iter().all(is_color)),
            "gradient.colors: two or more #rrggbb",
        );
        let (lo, hi) = (
            g.get("minValue").and_then(Value::as_f64),
            g.get("maxValue").and_then(Value::as_f64),
        );
        need(
            matches!((lo, hi), (Some(l), Some(h)) if h > l),
            "gradient: minValue < maxValue",
        );
    }
    if let Some(items) = o.get("legendItems") {
        let ok = items.as_array().is_some_and(|a| {
            a.iter().all(|i| {
                i.get("label").is_some_and(Value::is_string)
                    && i.get("color").is_some_and(Value::is_string)
            })
        });
        need(ok, "legendItems: each needs label and color");
    }
    match o.get("techniques") {
        None => {}
        Some(Value::Array(ts)) => {
            for (i, t) in ts.iter().enumerate() {
                check_technique(i, t, &mut errs);
            }
        }
        Some(_) => errs.push("techniques: array".into()),
    }
    errs
}

fn is_color(v: &serde_json::Value) -> bool {
    v.as_str().is_some_and(|s| {
        s.len() == 7 && s.starts_with('#') && s[1..].bytes().all(|b| b.is_ascii_hexdigit())
    })
}

fn check_technique(i: usize, t: &serde_json::Value, errs: &mut Vec<String>) {
    use serde_json::Value;
    let id = t.get("techniqueID").and_then(Value::as_str).unwrap_or("");
    let digits = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_digit());
    let ok = id
        .strip_prefix('T')
        .is_some_and(|r| match r.split_once('.') {
            Some((a, b)) => digits(a, 4) && digits(b, 3),
            None => digits(r, 4),
        });
    if !ok {
        errs.push(format!(
            "techniques[{i}].techniqueID: T#### or T####.### (got {id:?})"
        ));
    }
    let typed = [
        ("tactic", Value::is_string as fn(&Value) -> bool),
        ("comment", Value::is_string),
        ("enabled", Value::is_boolean),
        ("score", Value::is_number),
        ("color", Value::is_string),
        ("showSubtechniques", Value::is_boolean),
        ("metadata", Value::is_array),
        ("links", Value::is_array),
    ];
    for (k, f) in typed {
        if let Some(v) = t.get(k)
            && !f(v)
        {
            errs.push(format!("techniques[{i}].{k}: wrong type"));
        }
    }
    if let Some(Value::Array(md)) = t.get("metadata") {
        for m in md {
            let divider = m.get("divider").is_some_and(Value::is_boolean);
            let pair = m.get("name").is_some_and(Value::is_string)
                && m.get("value").is_some_and(Value::is_string);
            if !(divider || pair) {
                errs.push(format!(
                    "techniques[{i}].metadata: name and value strings, or a divider"
                ));
            }
        }
    }
    if let Some(o) = t.as_object() {
        for k in o.keys() {
            let known = [
                "techniqueID",
                "tactic",
                "comment",
                "enabled",
                "score",
                "color",
                "metadata",
                "links",
                "showSubtechniques",
            ];
            if !known.contains(&k.as_str()) {
                errs.push(format!("techniques[{i}]: unknown field {k}"));
            }
        }
    }
}
