//! STIX 2.1 bundle export of indicators (`ctem share stix`).
//!
//! Each simple indicator becomes an `indicator` SDO with the equivalent one-comparison pattern;
//! a `pattern` indicator is exported with its own pattern when that pattern parses. Ids are
//! deterministic UUIDv5s as STIX 2.1 defines them ([`super::id`]): an indicator's over its
//! `pattern`, `pattern_type` and `x_ctem_source` (the feed it came from, a custom property the
//! object carries), ctem's identity over its `name` and `identity_class`, the bundle over the
//! ids it holds and its time; so the same indicator keeps the same STIX id across exports and
//! consumers can deduplicate. TLP markings
//! use the predefined TLP marking definitions, which are included in the bundle.

use super::id::stix_id;
use super::pattern::{self, quote};
use crate::share::ShareFilter;
use chrono::{DateTime, SecondsFormat, Utc};
use ctem_model::intel::{Indicator, IndicatorType, Tlp};
use serde_json::{Map, Value, json};

fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// The STIX pattern equivalent to a simple indicator, or the indicator's own pattern.
pub fn pattern_for(i: &Indicator) -> Option<String> {
    let path = match i.kind {
        IndicatorType::Ipv4 => "ipv4-addr:value",
        IndicatorType::Ipv6 => "ipv6-addr:value",
        IndicatorType::Cidr if i.value.contains(':') => "ipv6-addr:value",
        IndicatorType::Cidr => "ipv4-addr:value",
        IndicatorType::Domain => "domain-name:value",
        IndicatorType::Url => "url:value",
        IndicatorType::Email => "email-addr:value",
        IndicatorType::Md5 => "file:hashes.MD5",
        IndicatorType::Sha1 => "file:hashes.'SHA-1'",
        IndicatorType::Sha256 => "file:hashes.'SHA-256'",
        IndicatorType::Sha512 => "file:hashes.'SHA-512'",
        IndicatorType::Filename => "file:name",
        IndicatorType::Pattern => {
            return pattern::parse_pattern(&i.value)
                .is_ok()
                .then(|| i.value.clone());
        }
    };
    Some(format!("[{path} = {}]", quote(&i.value)))
}

fn tlp_marking(t: Tlp) -> (&'static str, Value) {
    let v1 = |id: &'static str, name: &str, tlp: &str| {
        (
            id,
            json!({"type": "marking-definition", "spec_version": "2.1", "id": id,
                   "created": "2017-01-20T00:00:00.000Z", "definition_type": "tlp",
                   "name": name, "definition": {"tlp": tlp}}),
        )
    };
    match t {
        Tlp::Clear => v1(
            "marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9",
            "TLP:WHITE",
            "white",
        ),
        Tlp::Green => v1(
            "marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da",
            "TLP:GREEN",
            "green",
        ),
        Tlp::Amber => v1(
            "marking-definition--f88d31f6-486f-44da-b317-01333bde0b82",
            "TLP:AMBER",
            "amber",
        ),
        Tlp::Red => v1(
            "marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed",
            "TLP:RED",
            "red",
        ),
        Tlp::AmberStrict => {
            let id = "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003";
            (
                id,
                json!({"type": "marking-definition", "spec_version": "2.1", "id": id,
                       "created": "2022-10-01T00:00:00.000Z", "name": "TLP:AMBER+STRICT",
                       "extensions": {"extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d":
                           {"extension_type": "property-extension", "tlp_2_0": "amber+strict"}}}),
            )
        }
    }
}

/// Writes the indicators `filter` lets out as a pretty-printed STIX 2.1 bundle. `now` (from
/// the filter) is the bundle's `created` time and the `valid_from` of indicators without a
/// first-seen time.
pub fn export_stix(indicators: &[Indicator], filter: &ShareFilter) -> String {
    let now = ts(filter.now);
    let identity_id = stix_id(
        "identity",
        &[("name", json!("ctem")), ("identity_class", json!("system"))],
    );
    let mut objects = vec![json!({
        "type": "identity", "spec_version": "2.1", "id": identity_id,
        "created": "2024-01-01T00:00:00.000Z", "modified": "2024-01-01T00:00:00.000Z",
        "name": "ctem", "identity_class": "system",
    })];
    let mut markings: Vec<Tlp> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    let mut body = Vec::new();
    for i in filter.apply(indicators) {
        let Some(pat) = pattern_for(i) else { continue };
        let id = stix_id(
            "indicator",
            &[
                ("pattern", json!(pat)),
                ("pattern_type", json!("stix")),
                ("x_ctem_source", json!(i.source)),
            ],
        );
        if !seen.insert(id.clone()) {
            continue;
        }
        let valid_from = i.first_seen.unwrap_or(filter.now);
        let mut o = Map::new();
        o.insert("type".into(), json!("indicator"));
        o.insert("spec_version".into(), json!("2.1"));
        o.insert("id".into(), json!(id));
        o.insert("created_by_ref".into(), json!(identity_id));
        o.insert("created".into(), json!(now));
        o.insert("modified".into(), json!(now));
        o.insert("name".into(), json!(format!("{} {}", i.kind, i.value)));
        if let Some(d) = &i.description {
            o.insert("description".into(), json!(d));
        }
        o.insert("indicator_types".into(), json!(["malicious-activity"]));
        o.insert("pattern".into(), json!(pat));
        o.insert("pattern_type".into(), json!("stix"));
        o.insert("valid_from".into(), json!(ts(valid_from)));
        o.insert("x_ctem_source".into(), json!(i.source));
        if let Some(u) = i.valid_until.filter(|u| *u > valid_from) {
            o.insert("valid_until".into(), json!(ts(u)));
        }
        if let Some(c) = i.confidence {
            o.insert("confidence".into(), json!(c.min(100)));
        }
        let labels: Vec<&String> = i.labels.iter().filter(|l| !l.is_empty()).collect();
        if !labels.is_empty() {
            o.insert("labels".into(), json!(labels));
        }
        if let Some(t) = i.tlp {
            o.insert("object_marking_refs".into(), json!([tlp_marking(t).0]));
            if !markings.contains(&t) {
                markings.push(t);
            }
        }
        body.push(Value::Object(o));
    }
    markings.sort();
    objects.extend(markings.into_iter().map(|t| tlp_marking(t).1));
    objects.extend(body);
    let ids: Vec<Value> = objects.iter().map(|o| o["id"].clone()).collect();
    let bundle_id = stix_id(
        "bundle",
        &[("created", json!(now)), ("object_refs", json!(ids))],
    );
    let bundle = json!({
        "type": "bundle",
        "id": bundle_id,
        "objects": objects,
    });
    serde_json::to_string_pretty(&bundle).unwrap_or_default()
}
