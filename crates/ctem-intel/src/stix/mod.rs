//! STIX 2.0 / 2.1 bundles: indicators (through the pattern parser in [`pattern`]),
//! observed-data, sightings, malware and tools, attack-patterns, relationships and TLP marking
//! definitions; and the STIX 2.1 export in [`export`].
//!
//! An indicator whose pattern is a simple IOC, or an OR of simple IOCs, becomes one
//! [`Indicator`] per value, each keeping the original pattern. Any other STIX pattern is kept
//! whole as an `IndicatorType::Pattern` indicator with a note saying why it is not a simple IOC,
//! so nothing the producer shared is silently dropped. Patterns of another language (`sigma`,
//! `snort`, `yara`) are kept the same way. A pattern that does not parse is an issue.

pub mod export;
pub mod id;
pub mod pattern;

use crate::error::{Error, Result};
use crate::iocs;
use crate::util::{Issue, maybe_gunzip, parse_time};
use ctem_model::intel::{
    Indicator, IndicatorType, Observable, ObservedData, Relationship, Sighting, Software,
    SoftwareKind, Technique, Tlp,
};
use serde::Serialize;
use serde_json::Value;
use std::collections::HashMap;

const FORMAT: &str = "stix";

/// STIX ids of the predefined TLP marking definitions (TLP 1.0 in STIX 2.x, TLP 2.0 from the
/// OASIS extension).
pub const TLP_MARKINGS: [(&str, Tlp); 9] = [
    (
        "marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9",
        Tlp::Clear,
    ),
    (
        "marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da",
        Tlp::Green,
    ),
    (
        "marking-definition--f88d31f6-486f-44da-b317-01333bde0b82",
        Tlp::Amber,
    ),
    (
        "marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed",
        Tlp::Red,
    ),
    (
        "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487",
        Tlp::Clear,
    ),
    (
        "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb",
        Tlp::Green,
    ),
    (
        "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421",
        Tlp::Amber,
    ),
    (
        "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003",
        Tlp::AmberStrict,
    ),
    (
        "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1",
        Tlp::Red,
    ),
];

/// A TLP marking definition found in (or predefined for) a bundle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Marking {
    pub id: String,
    pub tlp: Tlp,
}

/// Everything read from one STIX bundle.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct StixBundle {
    pub spec_version: Option<String>,
    pub indicators: Vec<Indicator>,
    pub sightings: Vec<Sighting>,
    pub observed_data: Vec<ObservedData>,
    /// Malware and tool objects (`id` is the ATT&CK id when referenced, else the STIX id).
    pub software: Vec<Software>,
    pub attack_patterns: Vec<Technique>,
    pub relationships: Vec<Relationship>,
    /// TLP marking definitions defined in the bundle.
    pub markings: Vec<Marking>,
    /// Objects of other types (identities, reports, campaigns, cyber observables, ...).
    pub other_objects: usize,
    pub issues: Vec<Issue>,
}

fn s<'a>(v: &'a Value, k: &str) -> Option<&'a str> {
    v.get(k).and_then(Value::as_str)
}

fn strings(v: &Value, k: &str) -> Vec<String> {
    v.get(k)
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

fn time(v: &Value, k: &str) -> Option<chrono::DateTime<chrono::Utc>> {
    s(v, k).and_then(parse_time)
}

/// The objects of a bundle (or of a bare JSON array of STIX objects).
pub(crate) fn objects(v: &Value) -> Result<&[Value]> {
    match v {
        Value::Array(a) => Ok(a),
        Value::Object(m) => match m.get("objects") {
            Some(Value::Array(a)) => Ok(a),
            Some(_) => Err(Error::field(FORMAT, "objects", "not an array")),
            None if s(v, "id").is_some_and(|id| id.contains("--")) && s(v, "type").is_some() => {
                Ok(std::slice::from_ref(v))
            }
            None => Err(Error::field(
                FORMAT,
                "objects",
                "missing: not a STIX bundle",
            )),
        },
        _ => Err(Error::field(
            FORMAT,
            "objects",
            "input is not a JSON object or array",
        )),
    }
}

/// The TLP a marking-definition object carries, if it is one.
fn marking_tlp(o: &Value) -> Option<Tlp> {
    if let Some(t) = o.get("definition").and_then(|d| s(d, "tlp")) {
        return t.parse().ok();
    }
    if let Some(ext) = o.get("extensions").and_then(Value::as_object) {
        for e in ext.values() {
            if let Some(t) = s(e, "tlp_2_0").or_else(|| s(e, "tlp")) {
                return t.parse().ok();
            }
        }
    }
    s(o, "name")
        .filter(|n| n.to_ascii_uppercase().starts_with("TLP:"))
        .and_then(|n| n.parse().ok())
}

/// Parses a STIX 2.0 / 2.1 bundle (plain or gzipped). `source` is recorded on each indicator.
pub fn parse_stix(bytes: &[u8], source: &str) -> Result<StixBundle> {
    let bytes = maybe_gunzip(bytes)?;
    let v: Value = serde_json::from_slice(&bytes).map_err(|e| Error::json(FORMAT, &e))?;
    let objs = objects(&v)?;
    let mut out = StixBundle {
        spec_version: s(&v, "spec_version")
            .or_else(|| objs.iter().find_map(|o| s(o, "spec_version")))
            .map(str::to_string),
        ..StixBundle::default()
    };
    let mut tlp: HashMap<String, Tlp> = TLP_MARKINGS
        .iter()
        .map(|(id, t)| (id.to_string(), *t))
        .collect();
    let mut scos: HashMap<&str, &Value> = HashMap::new();
    for o in objs {
        let (Some(kind), Some(id)) = (s(o, "type"), s(o, "id")) else {
            continue;
        };
        if kind == "marking-definition" {
            if let Some(t) = marking_tlp(o) {
                tlp.insert(id.to_string(), t);
                out.markings.push(Marking {
                    id: id.to_string(),
                    tlp: t,
                });
            }
        } else if o.get("value").is_some() || o.get("hashes").is_some() {
            scos.insert(id, o);
        }
    }
    for (i, o) in objs.iter().enumerate() {
        read_object(o, i, source, &tlp, &scos, &mut out);
    }
    Ok(out)
}

/// Reads one bundle object into `out`.
fn read_object(
    o: &Value,
    i: usize,
    source: &str,
    tlp: &HashMap<String, Tlp>,
    scos: &HashMap<&str, &Value>,
    out: &mut StixBundle,
) {
    let Some(kind) = s(o, "type") else {
        out.issues
            .push(Issue::new(format!("objects[{i}]"), "object without `type`"));
        return;
    };
    let id = s(o, "id").unwrap_or("");
    let at = || format!("objects[{i}] {id}");
    match kind {
        "indicator" => indicator(o, source, tlp, out, at()),
        "sighting" => match s(o, "sighting_of_ref") {
            Some(of) => out.sightings.push(Sighting {
                stix_id: id.to_string(),
                sighting_of_ref: of.to_string(),
                observed_data_refs: strings(o, "observed_data_refs"),
                where_sighted_refs: strings(o, "where_sighted_refs"),
                count: o.get("count").and_then(Value::as_u64),
                first_seen: time(o, "first_seen"),
                last_seen: time(o, "last_seen"),
            }),
            None => out
                .issues
                .push(Issue::new(at(), "sighting without sighting_of_ref")),
        },
        "observed-data" => out.observed_data.push(observed(o, id, scos)),
        "malware" | "tool" => {
            let mut types = strings(
                o,
                if kind == "tool" {
                    "tool_types"
                } else {
                    "malware_types"
                },
            );
            types.extend(strings(o, "labels"));
            out.software.push(Software {
                id: attack_id(o).unwrap_or(id).to_string(),
                stix_id: id.to_string(),
                name: s(o, "name").unwrap_or("").to_string(),
                kind: if kind == "tool" {
                    SoftwareKind::Tool
                } else {
                    SoftwareKind::Malware
                },
                aliases: strings(o, "aliases"),
                platforms: strings(o, "x_mitre_platforms"),
                types,
                revoked: o.get("revoked").and_then(Value::as_bool).unwrap_or(false),
                deprecated: false,
            })
        }
        "attack-pattern" => out.attack_patterns.push(Technique {
            id: attack_id(o).unwrap_or(id).to_string(),
            stix_id: id.to_string(),
            name: s(o, "name").unwrap_or("").to_string(),
            tactics: o
                .get("kill_chain_phases")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(|p| s(p, "phase_name"))
                        .map(str::to_string)
                        .collect()
                })
                .unwrap_or_default(),
            is_subtechnique: attack_id(o).is_some_and(|a| a.contains('.')),
            parent: None,
            revoked: o.get("revoked").and_then(Value::as_bool).unwrap_or(false),
            deprecated: false,
            platforms: Vec::new(),
            data_sources: Vec::new(),
            domains: Vec::new(),
            detection: None,
        }),
        "relationship" => match (
            s(o, "relationship_type"),
            s(o, "source_ref"),
            s(o, "target_ref"),
        ) {
            (Some(rt), Some(src), Some(dst)) => out.relationships.push(Relationship {
                relationship_type: rt.to_string(),
                source_ref: src.to_string(),
                target_ref: dst.to_string(),
                source_id: None,
                target_id: None,
                revoked: o.get("revoked").and_then(Value::as_bool).unwrap_or(false),
                deprecated: false,
            }),
            _ => out.issues.push(Issue::new(
                at(),
                "relationship without type, source_ref or target_ref",
            )),
        },
        _ => out.other_objects += 1,
    }
}

fn attack_id(o: &Value) -> Option<&str> {
    o.get("external_references")?
        .as_array()?
        .iter()
        .find_map(|r| {
            let src = s(r, "source_name")?;
            (src.starts_with("mitre-") && src.ends_with("attack"))
                .then(|| s(r, "external_id"))
                .flatten()
        })
}

fn observable(o: &Value) -> Option<Observable> {
    let kind = s(o, "type")?.to_string();
    let value = s(o, "value")
        .map(str::to_string)
        .or_else(|| {
            o.get("hashes")
                .and_then(Value::as_object)
                .and_then(|h| h.values().find_map(Value::as_str))
                .map(str::to_string)
        })
        .or_else(|| s(o, "name").map(str::to_string))?;
    Some(Observable { kind, value })
}

fn observed(o: &Value, id: &str, scos: &HashMap<&str, &Value>) -> ObservedData {
    let mut observables: Vec<Observable> = o
        .get("objects")
        .and_then(Value::as_object)
        .map(|m| m.values().filter_map(observable).collect())
        .unwrap_or_default();
    for r in strings(o, "object_refs") {
        if let Some(obs) = scos.get(r.as_str()).and_then(|v| observable(v)) {
            observables.push(obs);
        }
    }
    ObservedData {
        stix_id: id.to_string(),
        first_observed: time(o, "first_observed"),
        last_observed: time(o, "last_observed"),
        number_observed: o
            .get("number_observed")
            .and_then(Value::as_u64)
            .unwrap_or(0),
        observables,
    }
}

fn indicator(
    o: &Value,
    source: &str,
    tlp: &HashMap<String, Tlp>,
    out: &mut StixBundle,
    at: String,
) {
    let Some(pat) = s(o, "pattern") else {
        out.issues.push(Issue::new(at, "indicator without pattern"));
        return;
    };
    let mut base = Indicator::new(IndicatorType::Pattern, pat, source);
    base.external_id = s(o, "id").map(str::to_string);
    base.first_seen = time(o, "valid_from");
    base.valid_until = time(o, "valid_until");
    base.confidence = o
        .get("confidence")
        .and_then(Value::as_u64)
        .and_then(|c| u8::try_from(c.min(100)).ok());
    base.revoked = o.get("revoked").and_then(Value::as_bool).unwrap_or(false);
    base.labels = strings(o, "labels");
    base.labels.extend(strings(o, "indicator_types"));
    base.description = s(o, "description")
        .or_else(|| s(o, "name"))
        .map(str::to_string);
    base.tlp = strings(o, "object_marking_refs")
        .iter()
        .filter_map(|m| tlp.get(m).copied())
        .max();
    base.pattern = Some(pat.to_string());
    let lang = s(o, "pattern_type").unwrap_or("stix");
    if lang != "stix" {
        base.pattern_note = Some(format!("pattern_type `{lang}` is not a STIX pattern"));
        out.indicators.push(base);
        return;
    }
    let parsed = match pattern::parse_pattern(pat) {
        Ok(p) => p,
        Err(e) => {
            out.issues
                .push(Issue::new(at, format!("{e}, indicator skipped")));
            return;
        }
    };
    match pattern::simple_iocs(&parsed) {
        Ok(values) => {
            for (kind, raw) in values {
                match iocs::validate(kind, &raw) {
                    Some(v) => {
                        let kind = match kind {
                            IndicatorType::Ipv4 | IndicatorType::Ipv6 => iocs::ip_kind(&v),
                            k => k,
                        };
                        let mut ind = base.clone();
                        ind.kind = kind;
                        ind.value = v;
                        out.indicators.push(ind);
                    }
                    None => out.issues.push(Issue::new(
                        at.clone(),
                        format!("value `{raw}` is not a valid {kind}, skipped"),
                    )),
                }
            }
        }
        Err(why) => {
            base.pattern_note = Some(format!("not a simple IOC: {why}"));
            out.indicators.push(base);
        }
    }
}
