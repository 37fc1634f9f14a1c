//! MITRE ATT&CK STIX bundles (2.0 and 2.1; enterprise, ICS, mobile; plain or gzipped).
//!
//! The enterprise bundle is 26 MB, most of it descriptions and citations that ctem does not
//! need. Objects are deserialised into one flat typed struct that borrows from the input and
//! names only the fields read here; serde skips everything else without building a
//! `serde_json::Value` tree. That keeps a full enterprise import to tens of milliseconds.
//!
//! ATT&CK ids come from the `external_references` entry whose `source_name` is `mitre-attack`,
//! `mitre-ics-attack` or `mitre-mobile-attack`. Relationships are kept with both STIX refs and,
//! where the bundle has them, the ATT&CK ids of their ends.

use crate::error::{Error, Result};
use crate::util::{Issue, maybe_gunzip};
use ctem_model::intel::{
    DataComponent, DataSource, Group, Mitigation, Relationship, Software, SoftwareKind, Tactic,
    Technique,
};
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::collections::HashMap;

const FORMAT: &str = "attack";

/// Everything read from one ATT&CK bundle.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct AttackBundle {
    /// `2.0` or `2.1` (bundle-level, else the first object's).
    pub spec_version: Option<String>,
    /// ATT&CK domains seen (`enterprise-attack`, ...).
    pub domains: Vec<String>,
    pub tactics: Vec<Tactic>,
    pub techniques: Vec<Technique>,
    pub mitigations: Vec<Mitigation>,
    pub groups: Vec<Group>,
    pub software: Vec<Software>,
    pub data_sources: Vec<DataSource>,
    pub data_components: Vec<DataComponent>,
    pub relationships: Vec<Relationship>,
    /// Objects of types not kept (campaigns, matrices, identities, ...).
    pub other_objects: usize,
    pub issues: Vec<Issue>,
}

#[derive(Deserialize)]
struct Bundle<'a> {
    #[serde(default, borrow)]
    spec_version: Option<Cow<'a, str>>,
    #[serde(borrow)]
    objects: Vec<Obj<'a>>,
}

#[derive(Deserialize)]
struct ExtRef<'a> {
    #[serde(default, borrow)]
    source_name: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    external_id: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct Phase<'a> {
    #[serde(default, borrow)]
    phase_name: Cow<'a, str>,
}

#[derive(Deserialize)]
struct Obj<'a> {
    #[serde(rename = "type", borrow)]
    kind: Cow<'a, str>,
    #[serde(default, borrow)]
    id: Cow<'a, str>,
    #[serde(default, borrow)]
    spec_version: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    name: Option<Cow<'a, str>>,
    #[serde(default)]
    revoked: Option<bool>,
    #[serde(default)]
    x_mitre_deprecated: Option<bool>,
    #[serde(default)]
    x_mitre_is_subtechnique: Option<bool>,
    #[serde(default, borrow)]
    external_references: Vec<ExtRef<'a>>,
    #[serde(default, borrow)]
    kill_chain_phases: Vec<Phase<'a>>,
    #[serde(default)]
    x_mitre_platforms: Vec<String>,
    #[serde(default)]
    x_mitre_data_sources: Vec<String>,
    #[serde(default)]
    x_mitre_domains: Vec<String>,
    #[serde(default)]
    aliases: Vec<String>,
    #[serde(default)]
    x_mitre_aliases: Vec<String>,
    #[serde(default)]
    labels: Vec<String>,
    #[serde(default, borrow)]
    x_mitre_shortname: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    x_mitre_data_source_ref: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    x_mitre_detection: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    relationship_type: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    source_ref: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    target_ref: Option<Cow<'a, str>>,
}

impl Obj<'_> {
    fn attack_id(&self) -> Option<&str> {
        self.external_references.iter().find_map(|r| {
            let src = r.source_name.as_deref()?;
            (src.starts_with("mitre-") && src.ends_with("attack"))
                .then_some(r.external_id.as_deref())
                .flatten()
        })
    }
    fn name(&self) -> String {
        self.name.as_deref().unwrap_or("").to_string()
    }
    fn revoked(&self) -> bool {
        self.revoked.unwrap_or(false)
    }
    fn deprecated(&self) -> bool {
        self.x_mitre_deprecated.unwrap_or(false)
    }
}

/// `T1059`, `T1059.001`, `TA0002`, `M1036`, `G0016`, `S0154`, `DS0009`, `C0010`.
pub fn well_formed_id(id: &str) -> bool {
    let digits = |s: &str| s.len() == 4 && s.bytes().all(|b| b.is_ascii_digit());
    let (prefix, rest) = id.split_at(id.find(|c: char| c.is_ascii_digit()).unwrap_or(id.len()));
    match prefix {
        "T" => match rest.split_once('.') {
            Some((a, b)) => digits(a) && b.len() == 3 && b.bytes().all(|c| c.is_ascii_digit()),
            None => digits(rest),
        },
        "TA" | "M" | "G" | "S" | "DS" | "C" => digits(rest),
        _ => false,
    }
}

/// True when the JSON has the marks of ATT&CK (x-mitre objects or mitre-attack references).
pub fn looks_like_attack(head: &[u8]) -> bool {
    let hay = &head[..head.len().min(1 << 20)];
    [
        &b"\"x-mitre-"[..],
        b"\"x_mitre_",
        b"\"mitre-attack\"",
        b"\"mitre-ics-attack\"",
        b"\"mitre-mobile-attack\"",
    ]
    .iter()
    .any(|needle| hay.windows(needle.len()).any(|w| w == *needle))
}

/// Parses an ATT&CK bundle (or a bare JSON array of ATT&CK objects), plain or gzipped.
pub fn parse_attack(bytes: &[u8]) -> Result<AttackBundle> {
    let bytes = maybe_gunzip(bytes)?;
    let first = bytes.iter().find(|b| !b.is_ascii_whitespace()).copied();
    let (spec, objects) = if first == Some(b'[') {
        let objects: Vec<Obj> =
            serde_json::from_slice(&bytes).map_err(|e| Error::json(FORMAT, &e))?;
        (None, objects)
    } else {
        let b: Bundle = serde_json::from_slice(&bytes).map_err(|e| Error::json(FORMAT, &e))?;
        (b.spec_version, b.objects)
    };
    Ok(build(spec, &objects))
}

fn build(spec: Option<Cow<'_, str>>, objects: &[Obj<'_>]) -> AttackBundle {
    let mut out = AttackBundle {
        spec_version: spec.map(Cow::into_owned).or_else(|| {
            objects
                .iter()
                .find_map(|o| o.spec_version.as_deref().map(str::to_string))
        }),
        ..AttackBundle::default()
    };
    let ids: HashMap<&str, &str> = objects
        .iter()
        .filter_map(|o| Some((o.id.as_ref(), o.attack_id()?)))
        .collect();
    for (i, o) in objects.iter().enumerate() {
        for d in &o.x_mitre_domains {
            if !out.domains.contains(d) {
                out.domains.push(d.clone());
            }
        }
        let needs_id = matches!(
            o.kind.as_ref(),
            "x-mitre-tactic"
                | "attack-pattern"
                | "course-of-action"
                | "intrusion-set"
                | "malware"
                | "tool"
                | "x-mitre-data-source"
        );
        let id = o.attack_id().map(str::to_string);
        if needs_id && id.is_none() {
            out.issues.push(Issue::new(
                format!("objects[{i}] {}", o.id),
                format!("{} without an ATT&CK external id, skipped", o.kind),
            ));
            continue;
        }
        let id = id.unwrap_or_default();
        if needs_id && !well_formed_id(&id) {
            out.issues.push(Issue::new(
                format!("objects[{i}] {}", o.id),
                format!("malformed ATT&CK id `{id}`, kept as given"),
            ));
        }
        let stix_id = o.id.to_string();
        match o.kind.as_ref() {
            "x-mitre-tactic" => out.tactics.push(Tactic {
                id,
                stix_id,
                name: o.name(),
                shortname: o.x_mitre_shortname.as_deref().unwrap_or("").to_string(),
                domains: o.x_mitre_domains.clone(),
                revoked: o.revoked(),
                deprecated: o.deprecated(),
            }),
            "attack-pattern" => {
                let is_sub = o.x_mitre_is_subtechnique.unwrap_or(false) || id.contains('.');
                out.techniques.push(Technique {
                    parent: is_sub
                        .then(|| id.split_once('.').map(|(p, _)| p.to_string()))
                        .flatten(),
                    id,
                    stix_id,
                    name: o.name(),
                    tactics: o
                        .kill_chain_phases
                        .iter()
                        .map(|p| p.phase_name.to_string())
                        .collect(),
                    is_subtechnique: is_sub,
                    revoked: o.revoked(),
                    deprecated: o.deprecated(),
                    platforms: o.x_mitre_platforms.clone(),
                    data_sources: o.x_mitre_data_sources.clone(),
                    domains: o.x_mitre_domains.clone(),
                    detection: o
                        .x_mitre_detection
                        .as_deref()
                        .map(str::trim)
                        .filter(|d| !d.is_empty())
                        .map(str::to_string),
                })
            }
            "course-of-action" => out.mitigations.push(Mitigation {
                id,
                stix_id,
                name: o.name(),
                revoked: o.revoked(),
                deprecated: o.deprecated(),
            }),
            "intrusion-set" => out.groups.push(Group {
                id,
                stix_id,
                name: o.name(),
                aliases: o.aliases.clone(),
                revoked: o.revoked(),
                deprecated: o.deprecated(),
            }),
            "malware" | "tool" => out.software.push(Software {
                id,
                stix_id,
                name: o.name(),
                kind: if o.kind == "tool" {
                    SoftwareKind::Tool
                } else {
                    SoftwareKind::Malware
                },
                aliases: o.x_mitre_aliases.clone(),
                platforms: o.x_mitre_platforms.clone(),
                types: o.labels.clone(),
                revoked: o.revoked(),
                deprecated: o.deprecated(),
            }),
            "x-mitre-data-source" => out.data_sources.push(DataSource {
                id,
                stix_id,
                name: o.name(),
                platforms: o.x_mitre_platforms.clone(),
                revoked: o.revoked(),
                deprecated: o.deprecated(),
            }),
            "x-mitre-data-component" => out.data_components.push(DataComponent {
                stix_id,
                name: o.name(),
                data_source: o
                    .x_mitre_data_source_ref
                    .as_deref()
                    .map(|r| ids.get(r).copied().unwrap_or(r).to_string()),
                revoked: o.revoked(),
                deprecated: o.deprecated(),
            }),
            "relationship" => {
                let (Some(rt), Some(src), Some(dst)) =
                    (&o.relationship_type, &o.source_ref, &o.target_ref)
                else {
                    out.issues.push(Issue::new(
                        format!("objects[{i}] {}", o.id),
                        "relationship without relationship_type, source_ref or target_ref",
                    ));
                    continue;
                };
                out.relationships.push(Relationship {
                    relationship_type: rt.to_string(),
                    source_id: ids.get(src.as_ref()).map(|s| s.to_string()),
                    target_id: ids.get(dst.as_ref()).map(|s| s.to_string()),
                    source_ref: src.to_string(),
                    target_ref: dst.to_string(),
                    revoked: o.revoked(),
                    deprecated: o.deprecated(),
                });
            }
            _ => out.other_objects += 1,
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subtechnique_gets_parent_and_relationship_ids_resolve() {
        let doc = br#"{"type":"bundle","id":"bundle--1","spec_version":"2.0","objects":[
          {"type":"attack-pattern","id":"attack-pattern--a","name":"PowerShell","x_mitre_is_subtechnique":true,
           "external_references":[{"source_name":"mitre-attack","external_id":"T1059.001"}],
           "kill_chain_phases":[{"kill_chain_name":"mitre-attack","phase_name":"execution"}]},
          {"type":"intrusion-set","id":"intrusion-set--g","name":"APT\u0032","revoked":true,
           "external_references":[{"source_name":"mitre-attack","external_id":"G0001"}]},
          {"type":"relationship","id":"relationship--r","relationship_type":"uses",
           "source_ref":"intrusion-set--g","target_ref":"attack-pattern--a"},
          {"type":"malware","id":"malware--x","name":"no id"}]}"#;
        let b = parse_attack(doc).expect("parses");
        assert_eq!(b.techniques[0].parent.as_deref(), Some("T1059"));
        assert_eq!(b.techniques[0].tactics, vec!["execution"]);
        assert_eq!(b.groups[0].name, "APT2");
        assert!(b.groups[0].revoked);
        assert_eq!(b.relationships[0].source_id.as_deref(), Some("G0001"));
        assert_eq!(b.relationships[0].target_id.as_deref(), Some("T1059.001"));
        assert_eq!(b.issues.len(), 1);
    }

    #[test]
    fn non_bundle_json_is_refused() {
        let err = parse_attack(br#"{"id":"x","collections":[]}"#).expect_err("refused");
        assert!(err.to_string().contains("objects"), "{err}");
    }
}
