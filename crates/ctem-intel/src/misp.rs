//! MISP events (JSON) and MISP feed manifests.
//!
//! An event file may be `{"Event": {...}}`, a bare event object, a list of either, or a
//! search response `{"response": [...]}`. Attributes, including those inside MISP objects,
//! become indicators when their type is an indicator type (`ip-dst`, `domain`, `url`,
//! `email-src`, `md5`, `filename|sha256`, ...); composite types (`domain|ip`, `ip-dst|port`,
//! `filename|md5`) yield one indicator per usable part. Other attributes (`text`, `comment`,
//! `vulnerability`, ...) are counted, not reported. `tlp:*` tags set the TLP (attribute tag
//! first, else the event's); all tags become labels. A feed is a `manifest.json` listing
//! event uuids; [`parse_manifest`] returns the event file names for the caller to read.

use crate::error::{Error, Result};
use crate::iocs;
use crate::util::{Issue, maybe_gunzip, parse_time, parse_unix};
use ctem_model::intel::{Indicator, IndicatorType, Tlp};
use serde::Serialize;
use serde_json::Value;

const FORMAT: &str = "misp";

/// Summary of one MISP event.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MispEvent {
    pub uuid: Option<String>,
    pub info: String,
    pub date: Option<String>,
    pub tlp: Option<Tlp>,
    pub tags: Vec<String>,
    pub attributes: usize,
}

/// Everything read from one MISP event file.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct MispImport {
    pub events: Vec<MispEvent>,
    pub indicators: Vec<Indicator>,
    /// Attributes whose type is not an indicator type (text, comment, ...).
    pub skipped_attributes: usize,
    pub issues: Vec<Issue>,
}

/// One event listed in a feed manifest.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ManifestEntry {
    pub uuid: String,
    /// `<uuid>.json`, relative to the manifest.
    pub file: String,
    pub info: String,
    pub tlp: Option<Tlp>,
}

fn s<'a>(v: &'a Value, k: &str) -> Option<&'a str> {
    v.get(k).and_then(Value::as_str)
}

fn truthy(v: Option<&Value>) -> Option<bool> {
    match v? {
        Value::Bool(b) => Some(*b),
        Value::String(s) => Some(matches!(s.as_str(), "1" | "true" | "True")),
        Value::Number(n) => Some(n.as_i64() != Some(0)),
        _ => None,
    }
}

fn tags(v: &Value) -> Vec<String> {
    v.get("Tag")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|t| s(t, "name"))
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

fn tlp_of(tags: &[String]) -> Option<Tlp> {
    tags.iter()
        .filter(|t| t.to_ascii_lowercase().starts_with("tlp:"))
        .filter_map(|t| t.parse::<Tlp>().ok())
        .max()
}

/// True when the JSON looks like a MISP event (or list of them).
pub fn looks_like_misp(v: &Value) -> bool {
    let first = match v {
        Value::Array(a) => a.first(),
        Value::Object(m) => match m.get("response") {
            Some(Value::Array(a)) => a.first(),
            _ => Some(v),
        },
        _ => None,
    };
    first.is_some_and(|e| {
        e.get("Event").is_some_and(Value::is_object)
            || (e.get("info").is_some()
                && (e.get("Attribute").is_some() || e.get("Object").is_some()))
            || (e.get("Attribute").is_some_and(Value::is_array) && e.get("Object").is_some())
    })
}

/// Parses a MISP event file. `source` is recorded on each indicator.
pub fn parse_misp(bytes: &[u8], source: &str) -> Result<MispImport> {
    let bytes = maybe_gunzip(bytes)?;
    let v: Value = serde_json::from_slice(&bytes).map_err(|e| Error::json(FORMAT, &e))?;
    let list: Vec<&Value> = match &v {
        Value::Array(a) => a.iter().collect(),
        Value::Object(m) => match m.get("response") {
            Some(Value::Array(a)) => a.iter().collect(),
            _ => vec![&v],
        },
        _ => Vec::new(),
    };
    let events: Vec<&Value> = list
        .into_iter()
        .map(|e| e.get("Event").unwrap_or(e))
        .filter(|e| {
            e.get("Attribute").is_some() || e.get("Object").is_some() || e.get("info").is_some()
        })
        .collect();
    if events.is_empty() && is_manifest(&v) {
        return Err(Error::unsupported(
            FORMAT,
            "this is a feed manifest.json: import the event files it lists (see misp::parse_manifest)",
        ));
    }
    if events.is_empty() {
        return Err(Error::field(
            FORMAT,
            "Event",
            "missing: no MISP event (Event, Attribute or info) in the input",
        ));
    }
    let mut out = MispImport::default();
    for (n, e) in events.into_iter().enumerate() {
        event(e, n, source, &mut out);
    }
    Ok(out)
}

fn event(e: &Value, n: usize, source: &str, out: &mut MispImport) {
    let etags = tags(e);
    let etlp = tlp_of(&etags);
    let info = s(e, "info").unwrap_or("").to_string();
    let mut count = 0;
    let mut attrs: Vec<(String, &Value)> = Vec::new();
    for (i, a) in e
        .get("Attribute")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        attrs.push((format!("Event[{n}].Attribute[{i}]"), a));
    }
    for (j, o) in e
        .get("Object")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        for (i, a) in o
            .get("Attribute")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .enumerate()
        {
            attrs.push((format!("Event[{n}].Object[{j}].Attribute[{i}]"), a));
        }
    }
    for (at, a) in attrs {
        count += 1;
        let (Some(kind), Some(value)) = (s(a, "type"), s(a, "value")) else {
            out.issues
                .push(Issue::new(at, "attribute without type or value"));
            continue;
        };
        let parts = split_type(kind, value);
        if parts.is_empty() {
            out.skipped_attributes += 1;
            continue;
        }
        let mut atags = tags(a);
        let tlp = tlp_of(&atags).or(etlp);
        atags.extend(etags.iter().cloned());
        for (t, raw) in parts {
            let Some(v) = iocs::validate(t, raw) else {
                out.issues.push(Issue::new(
                    at.clone(),
                    format!("{kind} value `{raw}` is not a valid {t}"),
                ));
                continue;
            };
            let t = match t {
                IndicatorType::Ipv4 | IndicatorType::Ipv6 => iocs::ip_kind(&v),
                t => t,
            };
            let mut ind = Indicator::new(t, v, source);
            ind.category = s(a, "category").map(str::to_string);
            ind.to_ids = truthy(a.get("to_ids"));
            ind.revoked = truthy(a.get("deleted")).unwrap_or(false);
            ind.external_id = s(a, "uuid").map(str::to_string);
            ind.description = s(a, "comment")
                .filter(|c| !c.is_empty())
                .map(str::to_string)
                .or_else(|| (!info.is_empty()).then(|| info.clone()));
            ind.first_seen = s(a, "first_seen").and_then(parse_time);
            ind.last_seen =
                s(a, "last_seen")
                    .and_then(parse_time)
                    .or_else(|| match a.get("timestamp") {
                        Some(Value::String(t)) => t.parse().ok().and_then(parse_unix),
                        Some(Value::Number(t)) => t.as_i64().and_then(parse_unix),
                        _ => None,
                    });
            ind.tlp = tlp;
            ind.labels = atags.clone();
            out.indicators.push(ind);
        }
    }
    out.events.push(MispEvent {
        uuid: s(e, "uuid").map(str::to_string),
        info,
        date: s(e, "date").map(str::to_string),
        tlp: etlp,
        tags: etags,
        attributes: count,
    });
}

/// The indicator types carried by a MISP attribute type, with the matching value parts.
fn split_type<'a>(kind: &str, value: &'a str) -> Vec<(IndicatorType, &'a str)> {
    use IndicatorType as T;
    let one = |k: &str| -> Option<IndicatorType> {
        Some(match k {
            "ip-src" | "ip-dst" | "ip" => T::Ipv4, // refined by value below
            "domain" | "hostname" => T::Domain,
            "url" => T::Url,
            "email" | "email-src" | "email-dst" | "email-reply-to" | "target-email" => T::Email,
            "md5" => T::Md5,
            "sha1" => T::Sha1,
            "sha256" => T::Sha256,
            "sha512" => T::Sha512,
            "filename" => T::Filename,
            _ => return None,
        })
    };
    let fix_ip = |t: IndicatorType, v: &str| {
        if t == T::Ipv4 && v.contains(':') {
            T::Ipv6
        } else {
            t
        }
    };
    match kind.split_once('|') {
        None => one(kind)
            .map(|t| vec![(fix_ip(t, value), value)])
            .unwrap_or_default(),
        Some((a, b)) => {
            let Some((va, vb)) = value.split_once('|') else {
                return Vec::new();
            };
            let mut out = Vec::new();
            if let Some(t) = one(a) {
                out.push((fix_ip(t, va), va));
            }
            if let Some(t) = one(b) {
                out.push((fix_ip(t, vb), vb));
            }
            out
        }
    }
}

fn is_manifest(v: &Value) -> bool {
    v.as_object().is_some_and(|m| {
        !m.is_empty()
            && m.iter()
                .all(|(k, e)| k.len() >= 32 && e.get("info").is_some())
    })
}

/// Parses a MISP feed `manifest.json` (an object keyed by event uuid).
pub fn parse_manifest(bytes: &[u8]) -> Result<Vec<ManifestEntry>> {
    let v: Value = serde_json::from_slice(bytes).map_err(|e| Error::json(FORMAT, &e))?;
    let map = match &v {
        Value::Object(m) => m,
        Value::Array(a) if a.first().is_some_and(|c| c.get("filename").is_some()) => {
            return Err(Error::unsupported(
                FORMAT,
                "this manifest lists galaxy clusters, not events; there is nothing to import",
            ));
        }
        _ => {
            return Err(Error::field(
                FORMAT,
                "manifest",
                "not an object keyed by event uuid",
            ));
        }
    };
    let mut out = Vec::new();
    for (uuid, entry) in map {
        if !entry.is_object() || uuid.len() < 32 {
            return Err(Error::field(
                FORMAT,
                uuid.as_str(),
                "manifest entry is not an event (expected uuid -> {info, ...})",
            ));
        }
        let etags = tags(entry);
        out.push(ManifestEntry {
            uuid: uuid.clone(),
            file: format!("{uuid}.json"),
            info: s(entry, "info").unwrap_or("").to_string(),
            tlp: tlp_of(&etags),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn composite_and_object_attributes_with_tlp_tags() {
        let doc = br#"{"Event":{"info":"x","uuid":"e1","Tag":[{"name":"tlp:green"}],
          "Attribute":[{"type":"domain|ip","value":"evil.example|198.51.100.1","category":"Network activity","to_ids":"1"},
                       {"type":"text","value":"hello"},
                       {"type":"ip-dst","value":"not-an-ip"}],
          "Object":[{"Attribute":[{"type":"sha256","value":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
                                   "Tag":[{"name":"tlp:red"}],"to_ids":true}]}]}}"#;
        let m = parse_misp(doc, "m").expect("parses");
        let got: Vec<_> = m.indicators.iter().map(|i| (i.kind, i.tlp)).collect();
        assert_eq!(
            got,
            vec![
                (IndicatorType::Domain, Some(Tlp::Green)),
                (IndicatorType::Ipv4, Some(Tlp::Green)),
                (IndicatorType::Sha256, Some(Tlp::Red)),
            ]
        );
        assert_eq!(m.indicators[0].to_ids, Some(true));
        assert_eq!(
            m.indicators[0].category.as_deref(),
            Some("Network activity")
        );
        assert_eq!(m.skipped_attributes, 1);
        assert_eq!(m.issues.len(), 1);
        assert_eq!(m.issues[0].record, "Event[0].Attribute[2]");
    }

    #[test]
    fn manifest_lists_event_files_and_refuses_cluster_manifests() {
        let m = parse_manifest(br#"{"5a1f3b5e-0000-4000-8000-000000000001":{"info":"e","Tag":[{"name":"tlp:white"}]}}"#)
            .expect("parses");
        assert_eq!(m[0].file, "5a1f3b5e-0000-4000-8000-000000000001.json");
        assert_eq!(m[0].tlp, Some(Tlp::Clear));
        let err = parse_manifest(br#"[{"name":"c","filename":"feed/clusters/x.json"}]"#)
            .expect_err("refused");
        assert!(err.to_string().contains("galaxy clusters"));
    }
}
