use crate::fixture;
use ctem_intel::share::ShareFilter;
use ctem_intel::stix::export::export_stix;
use ctem_intel::stix::parse_stix;
use ctem_model::intel::{Indicator, IndicatorType, Tlp};
use serde_json::Value;

#[test]
fn url_indicator_and_malware_relationship() {
    let b = parse_stix(&fixture("stix/indicator-for-malicious-url.json"), "cti").expect("parses");
    assert_eq!(b.indicators.len(), 1);
    let i = &b.indicators[0];
    assert_eq!(
        (i.kind, i.value.as_str()),
        (IndicatorType::Url, "http://x4z9arb.cn/4712/")
    );
    assert_eq!(
        i.pattern.as_deref(),
        Some("[url:value = 'http://x4z9arb.cn/4712/']")
    );
    assert_eq!(
        i.external_id.as_deref(),
        Some("indicator--d81f86b9-975b-4c0b-875e-810c5ad45a4f")
    );
    assert_eq!(b.software.len(), 1);
    assert_eq!(b.relationships[0].relationship_type, "indicates");
}

#[test]
fn amber_marking_resolves_to_tlp() {
    let b = parse_stix(&fixture("stix/using-marking-definitions.json"), "cti").expect("parses");
    assert_eq!(b.indicators[0].tlp, Some(Tlp::Amber));
    assert_eq!(b.markings.len(), 1);
}

#[test]
fn email_patterns_are_kept_as_patterns_with_a_note() {
    let b = parse_stix(
        &fixture("stix/malicious-email-indicator-with-attachment.json"),
        "cti",
    )
    .expect("parses");
    let patterns: Vec<&Indicator> = b
        .indicators
        .iter()
        .filter(|i| i.kind == IndicatorType::Pattern)
        .collect();
    assert!(!patterns.is_empty());
    for p in patterns {
        let note = p.pattern_note.as_deref().unwrap_or("");
        assert!(note.starts_with("not a simple IOC:"), "{note}");
    }
}

#[test]
fn poisonivy_or_patterns_expand_and_bad_values_are_issues() {
    let b = parse_stix(&fixture("stix/poisonivy.json"), "cti").expect("parses");
    assert!(
        b.indicators
            .iter()
            .any(|i| i.kind == IndicatorType::Domain && i.value == "microsofta.byinter.net")
    );
    assert!(
        b.indicators
            .iter()
            .any(|i| i.kind == IndicatorType::Ipv4 && i.value == "219.90.112.203")
    );
    assert!(
        b.indicators
            .iter()
            .any(|i| i.kind == IndicatorType::Filename && i.value == "CBricksDoc")
    );
    // "domain autuo.xicp.net" has a space: reported, not imported.
    assert!(
        b.issues
            .iter()
            .any(|i| i.message.contains("domain autuo.xicp.net")),
        "{:?}",
        b.issues
    );
    assert!(!b.indicators.iter().any(|i| i.value.contains(' ')));
}

#[test]
fn sightings_and_observed_data() {
    let b = parse_stix(&fixture("stix/sighting-of-observed-data.json"), "cti").expect("parses");
    assert_eq!(b.sightings.len(), 1);
    assert_eq!(b.sightings[0].observed_data_refs.len(), 2);
    assert_eq!(b.observed_data.len(), 2);
    let file = b
        .observed_data
        .iter()
        .flat_map(|o| &o.observables)
        .find(|o| o.kind == "file");
    assert_eq!(
        file.map(|f| f.value.as_str()),
        Some("1717b7fff97d37a1e1a0029d83492de1")
    );
}

#[test]
fn cidr_values_become_cidr_indicators() {
    let b = parse_stix(&fixture("stix/indicators-for-C2-with-COA.json"), "cti").expect("parses");
    let _ = b; // file has C2 IPs; the CIDR case is checked inline below
    let doc = br#"{"type":"bundle","id":"bundle--1","objects":[{"type":"indicator","id":"indicator--1",
      "pattern":"[ipv4-addr:value = '112.64.0.0/15']","pattern_type":"stix","valid_from":"2020-01-01T00:00:00Z"}]}"#;
    let b = parse_stix(doc, "t").expect("parses");
    assert_eq!(b.indicators[0].kind, IndicatorType::Cidr);
}

/// Targeted structural checks against the STIX 2.1 JSON schemas (not a full JSON Schema
/// validator): `required` properties of core + object schemas, `type` enums, the identifier
/// and timestamp regexes, and that every pattern parses.
#[test]
fn exported_bundle_passes_schema_checks() {
    let mut all = Vec::new();
    for f in [
        "stix/poisonivy.json",
        "stix/using-marking-definitions.json",
        "stix/malicious-email-indicator-with-attachment.json",
    ] {
        all.extend(parse_stix(&fixture(f), "cti").expect("parses").indicators);
    }
    let mut red = Indicator::new(IndicatorType::Domain, "red.example", "t");
    red.tlp = Some(Tlp::Red);
    let mut green = Indicator::new(IndicatorType::Sha256, "a".repeat(64), "t");
    green.tlp = Some(Tlp::Green);
    green.confidence = Some(90);
    all.push(red);
    all.push(green);
    let out = export_stix(&all, &ShareFilter::new(chrono::Utc::now()));
    let v: Value = serde_json::from_str(&out).expect("json");
    assert!(!out.contains("red.example"));
    let schema = |rel: &str| -> Value {
        let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/stix-schemas")
            .join(rel);
        serde_json::from_slice(
            &std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display())),
        )
        .expect("schema json")
    };
    let pattern_of =
        |s: &Value| regex::Regex::new(s["pattern"].as_str().expect("pattern")).expect("regex");
    let id_re = pattern_of(&schema("common/identifier.json"));
    let ts_re = pattern_of(&schema("common/timestamp.json"));
    let required = |s: &Value| -> Vec<String> {
        let mut r: Vec<String> = s["required"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|x| x.as_str().map(String::from))
            .collect();
        for part in s["allOf"].as_array().into_iter().flatten() {
            r.extend(
                part["required"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|x| x.as_str().map(String::from)),
            );
        }
        r
    };
    let bundle = schema("common/bundle.json");
    for k in required(&bundle) {
        assert!(v.get(&k).is_some(), "bundle lacks {k}");
    }
    assert!(id_re.is_match(v["id"].as_str().expect("id")));
    let core = required(&schema("common/core.json"));
    let objects = v["objects"].as_array().expect("objects");
    let mut kinds = std::collections::BTreeSet::new();
    for o in objects {
        let t = o["type"].as_str().expect("type");
        kinds.insert(t.to_string());
        let s = match t {
            "indicator" => schema("sdos/indicator.json"),
            "identity" => schema("sdos/identity.json"),
            "marking-definition" => schema("common/marking-definition.json"),
            other => panic!("unexpected type {other}"),
        };
        let mut req = required(&s);
        if t != "marking-definition" {
            req.extend(core.iter().cloned());
        }
        for k in &req {
            assert!(o.get(k).is_some(), "{t} lacks required {k}: {o}");
        }
        assert!(id_re.is_match(o["id"].as_str().expect("id")), "{}", o["id"]);
        assert!(
            o["id"]
                .as_str()
                .is_some_and(|id| id.starts_with(&format!("{t}--")))
        );
        for k in ["created", "modified", "valid_from", "valid_until"] {
            if let Some(x) = o.get(k) {
                assert!(ts_re.is_match(x.as_str().expect("ts")), "{k} = {x}");
            }
        }
        if t == "indicator" {
            ctem_intel::stix::pattern::parse_pattern(o["pattern"].as_str().expect("pattern"))
                .expect("pattern parses");
            if let Some(c) = o.get("confidence") {
                assert!(c.as_u64().is_some_and(|c| c <= 100));
            }
        }
    }
    assert_eq!(
        kinds.into_iter().collect::<Vec<_>>(),
        vec!["identity", "indicator", "marking-definition"]
    );
    // round trip: what we export imports back to the same values
    let back = parse_stix(out.as_bytes(), "rt").expect("re-import");
    assert!(
        back.indicators
            .iter()
            .any(|i| i.kind == IndicatorType::Sha256
                && i.tlp == Some(Tlp::Green)
                && i.confidence == Some(90))
    );
    assert!(
        back.indicators
            .iter()
            .any(|i| i.value == "microsofta.byinter.net")
    );
}

/// Full JSON Schema validation of an exported bundle against the OASIS STIX 2.1 schemas
/// (copied in tests/fixtures/stix-schemas): the bundle's indicators against
/// `sdos/indicator.json`, which pulls in the common schemas through `$ref`. References are
/// resolved from the local copies, never fetched.
#[test]
fn exported_indicators_validate_against_the_stix_json_schemas() {
    struct Local;
    impl jsonschema::Retrieve for Local {
        fn retrieve(
            &self,
            uri: &jsonschema::Uri<String>,
        ) -> Result<Value, Box<dyn std::error::Error + Send + Sync>> {
            let s = uri.as_str();
            let rel = s
                .split("/schemas/")
                .nth(1)
                .ok_or_else(|| format!("not a STIX schema URI: {s}"))?;
            let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/fixtures/stix-schemas")
                .join(rel);
            Ok(serde_json::from_slice(&std::fs::read(&p)?)?)
        }
    }
    let base = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/stix-schemas");
    let load = |rel: &str| -> Value {
        serde_json::from_slice(&std::fs::read(base.join(rel)).expect("schema")).expect("json")
    };
    let mut all = Vec::new();
    for f in [
        "stix/poisonivy.json",
        "stix/malicious-email-indicator-with-attachment.json",
    ] {
        all.extend(parse_stix(&fixture(f), "cti").expect("parses").indicators);
    }
    let mut green = Indicator::new(IndicatorType::Sha256, "b".repeat(64), "t");
    green.tlp = Some(Tlp::Green);
    all.push(green);
    let out = export_stix(&all, &ShareFilter::new(chrono::Utc::now()));
    let bundle: Value = serde_json::from_str(&out).expect("json");
    let validator = |rel: &str| {
        jsonschema::options()
            .with_retriever(Local)
            .build(&load(rel))
            .unwrap_or_else(|e| panic!("{rel}: {e}"))
    };
    let indicator = validator("sdos/indicator.json");
    let identity = validator("sdos/identity.json");
    let marking = validator("common/marking-definition.json");
    let mut checked = 0;
    for o in bundle["objects"].as_array().expect("objects") {
        let v = match o["type"].as_str() {
            Some("indicator") => &indicator,
            Some("identity") => &identity,
            Some("marking-definition") => &marking,
            _ => continue,
        };
        let errors: Vec<String> = v.iter_errors(o).map(|e| e.to_string()).collect();
        assert!(errors.is_empty(), "{}: {errors:?}", o["id"]);
        checked += 1;
    }
    assert!(checked > 3, "{checked}");
    // the validator is not vacuous: a broken indicator fails
    let mut broken = bundle["objects"]
        .as_array()
        .and_then(|a| a.iter().find(|o| o["type"] == "indicator"))
        .cloned()
        .expect("an indicator");
    broken["id"] = Value::String("indicator--not-a-uuid".into());
    assert!(!indicator.is_valid(&broken));
}

#[test]
fn exported_ids_are_uuid_v5_over_the_contributing_properties() {
    use ctem_intel::stix::id::stix_id;
    let at = chrono::DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z")
        .expect("time")
        .to_utc();
    let export = |source: &str| -> Value {
        let i = Indicator::new(IndicatorType::Ipv4, "198.51.100.7", source);
        serde_json::from_str(&export_stix(&[i], &ShareFilter::new(at))).expect("json")
    };
    let a = export("feed-a");
    assert_eq!(
        a,
        export("feed-a"),
        "the same export twice is the same bundle"
    );
    let mut ids = vec![a["id"].as_str().expect("bundle id").to_string()];
    for o in a["objects"].as_array().expect("objects") {
        ids.push(o["id"].as_str().expect("id").to_string());
    }
    for id in &ids {
        let uuid = id.split_once("--").expect("TYPE--UUID").1;
        assert_eq!(&uuid[14..15], "5", "{id}: a version-5 UUID");
        assert!("89ab".contains(&uuid[19..20]), "{id}: the RFC 4122 variant");
    }
    let ind = a["objects"]
        .as_array()
        .expect("objects")
        .iter()
        .find(|o| o["type"] == "indicator")
        .expect("indicator");
    // anyone can recompute the id from the object's own properties
    let recomputed = stix_id(
        "indicator",
        &[
            ("pattern", ind["pattern"].clone()),
            ("pattern_type", ind["pattern_type"].clone()),
            ("x_ctem_source", ind["x_ctem_source"].clone()),
        ],
    );
    assert_eq!(ind["id"].as_str(), Some(recomputed.as_str()));
    let other = export("feed-b");
    let other_ind = other["objects"]
        .as_array()
        .expect("objects")
        .iter()
        .find(|o| o["type"] == "indicator")
        .expect("indicator");
    assert_ne!(
        ind["id"], other_ind["id"],
        "another source is another indicator"
    );
}
