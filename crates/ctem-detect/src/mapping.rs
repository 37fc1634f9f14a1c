//! Field mappings and log sources, loaded from data files (`mappings/*.yml`, embedded).
//!
//! A [`Shape`] says where a Sigma field lives in one event layout (Windows nested
//! `Event.System` / `Event.EventData`, Winlogbeat ECS, flat). [`Mappings::view`] picks the
//! shape of an event and wraps it in a [`MappedEvent`] that resolves Sigma names, so a rule
//! runs unchanged on every shape. The logsource table turns `product/category/service` into
//! event conditions (Channel, EventID).

use std::borrow::Cow;
use std::collections::HashMap;

use serde_json::Value;

use crate::compile::{CompileOptions, FieldMatcher, compile_item};
use crate::error::{Error, Result};
use crate::event::{Event, FieldValue};
use crate::rule::{FieldItem, LogSource, Scalar};
use crate::source::Sources;

const WINDOWS: &str = include_str!("../mappings/windows.yml");
const LOGSOURCES: &str = include_str!("../mappings/logsources.yml");
const SOURCES: &str = include_str!("../mappings/sources.yml");

/// Where Sigma fields live in one event layout.
#[derive(Debug)]
pub struct Shape {
    pub name: String,
    /// A path whose presence identifies the shape; `None` = fallback shape.
    pub probe: Option<String>,
    pub timestamp: Vec<String>,
    pub record: Vec<String>,
    pub fields: HashMap<String, Vec<String>>,
    pub prefixes: Vec<String>,
    /// Objects whose keys also match with spaces removed (`Threat Name` = `ThreatName`).
    pub loose: Vec<String>,
    /// Other event names of a Sigma field, tried after it (Security 4688 `NewProcessName`
    /// for `Image`).
    pub aliases: HashMap<String, Vec<String>>,
    /// Paths resolved ahead of time for the fields rules use (read-only while matching).
    resolved: crate::flat::FnvMap<String, Vec<String>>,
}

impl Shape {
    /// The candidate paths of a Sigma field: precomputed for known fields, built otherwise.
    pub fn paths(&self, name: &str) -> Cow<'_, [String]> {
        if let Some(p) = self.resolved.get(name) {
            return Cow::Borrowed(p.as_slice());
        }
        Cow::Owned(self.compute(name))
    }

    fn compute(&self, name: &str) -> Vec<String> {
        match self.fields.get(name) {
            Some(p) => p.clone(),
            None => std::iter::once(name)
                .chain(
                    self.aliases
                        .get(name)
                        .into_iter()
                        .flatten()
                        .map(String::as_str),
                )
                .flat_map(|n| self.prefixes.iter().map(move |p| format!("{p}{n}")))
                .collect(),
        }
    }

    /// Resolves the paths of `names` once, so matching never allocates for them.
    pub fn prepare<'a>(&mut self, names: impl IntoIterator<Item = &'a str>) {
        for n in names {
            if !self.resolved.contains_key(n) {
                let p = self.compute(n);
                self.resolved.insert(n.to_string(), p);
            }
        }
    }
}

/// One logsource entry: the conditions that select its events.
#[derive(Debug)]
pub struct LogSourceEntry {
    pub logsource: LogSource,
    /// Alternatives (OR) of ANDed field tests.
    pub when: Vec<Vec<FieldMatcher>>,
    /// When every alternative tests the same fields, each for one or more plain values: those
    /// fields (sorted) and every combination of one value per field, as a one-level event
    /// (`{Channel, EventID}` of each event id). The engine merges the buckets of logsources
    /// that hold on the same combination (see `Engine::new`).
    pub atoms: Option<Atoms>,
}

impl LogSourceEntry {
    /// Whether the entry's `when` holds on `ev` (an event seen through its shape).
    pub fn holds<E: Event + ?Sized>(&self, ev: &E) -> bool {
        self.when
            .iter()
            .any(|alt| alt.iter().all(|f| f.matches(ev)))
    }
}

/// The fields a logsource tests and one event per combination of their values.
pub type Atoms = (Vec<String>, Vec<Value>);

/// Event shapes plus the logsource table.
#[derive(Debug)]
pub struct Mappings {
    pub shapes: Vec<Shape>,
    pub logsources: Vec<LogSourceEntry>,
    /// Where events come from (see [`crate::source`]).
    pub sources: Sources,
}

fn merr(name: &str, message: impl Into<String>) -> Error {
    Error::Mapping {
        name: name.to_string(),
        message: message.into(),
    }
}

fn strings(v: Option<&Value>) -> Vec<String> {
    match v {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(|x| x.as_str().map(str::to_string))
            .collect(),
        _ => Vec::new(),
    }
}

/// The atoms of a logsource's `when` alternatives (see [`LogSourceEntry::atoms`]): `None`
/// unless every alternative names the same fields, each with scalars or lists of scalars.
fn atoms_of(alts: &[serde_json::Map<String, Value>]) -> Option<Atoms> {
    let first = alts.first()?;
    let mut fields: Vec<String> = first.keys().cloned().collect();
    fields.sort_unstable();
    let mut out = Vec::new();
    for alt in alts {
        let mut keys: Vec<&String> = alt.keys().collect();
        keys.sort_unstable();
        if keys.len() != fields.len() || keys.iter().zip(&fields).any(|(a, b)| *a != b) {
            return None;
        }
        let mut combos = vec![serde_json::Map::new()];
        for (field, v) in alt {
            let values: Vec<&Value> = match v {
                Value::Array(a) => a.iter().collect(),
                other => vec![other],
            };
            if values.is_empty() || values.iter().any(|x| x.is_array() || x.is_object()) {
                return None;
            }
            combos = combos
                .into_iter()
                .flat_map(|c| {
                    values.iter().map(move |x| {
                        let mut c = c.clone();
                        c.insert(field.clone(), (*x).clone());
                        c
                    })
                })
                .collect();
        }
        out.extend(combos.into_iter().map(Value::Object));
    }
    Some((fields, out))
}

fn to_scalar(v: &Value) -> Scalar {
    match v {
        Value::Number(n) => n
            .as_i64()
            .map(Scalar::Int)
            .unwrap_or_else(|| Scalar::Str(n.to_string())),
        Value::Bool(b) => Scalar::Bool(*b),
        Value::Null => Scalar::Null,
        other => Scalar::Str(
            other
                .as_str()
                .map(str::to_string)
                .unwrap_or_else(|| other.to_string()),
        ),
    }
}

/// The `logsources:` entries of a mapping file.
fn parse_logsources(ls_v: &Value) -> Result<Vec<LogSourceEntry>> {
    let mut logsources = Vec::new();
    let opts = CompileOptions::default();
    for e in ls_v
        .get("logsources")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let get = |k: &str| {
            e.get(k)
                .and_then(Value::as_str)
                .map(|s| s.to_ascii_lowercase())
        };
        let logsource = LogSource {
            product: get("product"),
            category: get("category"),
            service: get("service"),
        };
        let mut when = Vec::new();
        let mut alts = Vec::new();
        for alt in e
            .get("when")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let obj = alt
                .as_object()
                .ok_or_else(|| merr("logsources", "`when` entry is not a map"))?;
            alts.push(obj.clone());
            let mut items = Vec::new();
            for (field, v) in obj {
                let values = match v {
                    Value::Array(a) => a.iter().map(to_scalar).collect(),
                    other => vec![to_scalar(other)],
                };
                let item = FieldItem {
                    field: Some(field.clone()),
                    modifiers: Vec::new(),
                    values,
                };
                items.push(compile_item(&item, &opts, "logsources")?);
            }
            when.push(items);
        }
        let atoms = atoms_of(&alts);
        logsources.push(LogSourceEntry {
            logsource,
            when,
            atoms,
        });
    }
    Ok(logsources)
}

impl Mappings {
    /// The built-in Windows shapes (nested, ECS, flat) and logsource table.
    pub fn builtin() -> Result<Self> {
        Self::from_yaml(WINDOWS, LOGSOURCES)
    }

    /// Mappings from a shapes file and a logsources file (same schema as the built-in ones).
    pub fn from_yaml(shapes_yaml: &str, logsources_yaml: &str) -> Result<Self> {
        let shapes_v: Value =
            serde_saphyr::from_str(shapes_yaml).map_err(|e| merr("shapes", e.to_string()))?;
        let ls_v: Value = serde_saphyr::from_str(logsources_yaml)
            .map_err(|e| merr("logsources", e.to_string()))?;
        let aliases: HashMap<String, Vec<String>> = shapes_v
            .get("aliases")
            .and_then(Value::as_object)
            .map(|m| {
                m.iter()
                    .map(|(k, v)| (k.clone(), strings(Some(v))))
                    .collect()
            })
            .unwrap_or_default();
        let mut shapes = Vec::new();
        for s in shapes_v
            .get("shapes")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let name = s
                .get("name")
                .and_then(Value::as_str)
                .ok_or_else(|| merr("shapes", "shape without name"))?;
            let fields = s
                .get("fields")
                .and_then(Value::as_object)
                .map(|m| {
                    m.iter()
                        .map(|(k, v)| (k.clone(), strings(Some(v))))
                        .collect()
                })
                .unwrap_or_default();
            shapes.push(Shape {
                name: name.to_string(),
                probe: s.get("probe").and_then(Value::as_str).map(str::to_string),
                timestamp: strings(s.get("timestamp")),
                record: strings(s.get("record")),
                fields,
                prefixes: strings(s.get("prefixes")),
                loose: strings(s.get("loose")),
                aliases: aliases.clone(),
                resolved: Default::default(),
            });
        }
        if shapes.is_empty() {
            return Err(merr("shapes", "no shapes"));
        }
        let logsources = parse_logsources(&ls_v)?;
        Ok(Mappings {
            shapes,
            logsources,
            sources: Sources::from_yaml(SOURCES)?,
        })
    }

    /// Adds the entries of an extra mapping file (from `ctem.toml`): its `sources:` routing
    /// entries and `logsources:` table entries are tried before the built-in ones.
    pub fn extend_yaml(&mut self, text: &str) -> Result<()> {
        let v: Value =
            serde_saphyr::from_str(text).map_err(|e| merr("logsources", e.to_string()))?;
        let mut extra = parse_logsources(&v)?;
        extra.append(&mut self.logsources);
        self.logsources = extra;
        self.sources.extend_front(Sources::from_yaml(text)?);
        Ok(())
    }

    /// Prepares every shape for the given field names (see [`Shape::prepare`]).
    pub fn prepare<'a>(&mut self, names: impl IntoIterator<Item = &'a str> + Clone) {
        for s in &mut self.shapes {
            s.prepare(names.clone());
        }
    }

    /// Every event path any shape may read for `names`, plus probes, timestamps, record
    /// numbers and the first segment of each dotted path.
    pub fn all_paths<'a>(&self, names: impl IntoIterator<Item = &'a str> + Clone) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for s in &self.shapes {
            for n in names.clone() {
                out.extend(s.paths(n).iter().cloned());
            }
            out.extend(s.probe.iter().cloned());
            out.extend(s.timestamp.iter().cloned());
            out.extend(s.record.iter().cloned());
        }
        let heads: Vec<String> = out
            .iter()
            .filter_map(|p| p.split_once('.').map(|(h, _)| h.to_string()))
            .collect();
        out.extend(heads);
        out.sort_unstable();
        out.dedup();
        out
    }

    /// The index of the logsource entry for a rule's logsource, if any.
    pub fn logsource_index(&self, ls: &LogSource) -> Option<usize> {
        let eq = |a: &Option<String>, b: &Option<String>| a == b;
        self.logsources
            .iter()
            .position(|e| {
                eq(&e.logsource.product, &ls.product)
                    && eq(&e.logsource.category, &ls.category)
                    && eq(&e.logsource.service, &ls.service)
            })
            .or_else(|| {
                // a rule naming both category and service: use the category entry
                self.logsources.iter().position(|e| {
                    ls.category.is_some()
                        && e.logsource.service.is_none()
                        && eq(&e.logsource.category, &ls.category)
                        && eq(&e.logsource.product, &ls.product)
                })
            })
    }

    /// The shape an event has: the first whose probe exists, else the last.
    pub fn shape_of<E: Event + ?Sized>(&self, ev: &E) -> &Shape {
        self.shapes
            .iter()
            .find(|s| s.probe.as_deref().is_none_or(|p| ev.field(p).is_some()))
            .unwrap_or(&self.shapes[self.shapes.len() - 1])
    }

    /// Wraps an event so Sigma field names resolve through its shape.
    pub fn view<'e, E: Event + ?Sized>(&'e self, ev: &'e E) -> MappedEvent<'e, E> {
        MappedEvent {
            inner: ev,
            shape: self.shape_of(ev),
        }
    }
}

/// An event seen through a [`Shape`].
pub struct MappedEvent<'e, E: ?Sized> {
    pub inner: &'e E,
    pub shape: &'e Shape,
}

impl<E: Event + ?Sized> MappedEvent<'_, E> {
    /// The first present value among `paths`, as text.
    pub fn first_text(&self, paths: &[String]) -> Option<String> {
        paths.iter().find_map(|p| {
            self.inner
                .field(p)
                .and_then(|v| v.as_text().map(|t| t.into_owned()))
        })
    }
}

impl<E: Event + ?Sized> Event for MappedEvent<'_, E> {
    fn field(&self, name: &str) -> Option<FieldValue<'_>> {
        self.shape
            .paths(name)
            .iter()
            .find_map(|p| self.inner.field(p))
            .or_else(|| {
                self.shape
                    .loose
                    .iter()
                    .find_map(|o| self.inner.field_loose(o, name))
            })
    }
    fn keywords(&self, visit: &mut dyn FnMut(&str) -> bool) -> bool {
        self.inner.keywords(visit)
    }
    fn field_loose(&self, parent: &str, name: &str) -> Option<FieldValue<'_>> {
        self.inner.field_loose(parent, name)
    }
    fn verbatim(&self) -> Option<&str> {
        self.inner.verbatim()
    }
    fn verbatim_ascii(&self) -> Option<bool> {
        self.inner.verbatim_ascii()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Atoms: one event per combination of values; none when alternatives name other fields
    /// or a value is not a scalar.
    #[test]
    fn logsource_atoms() {
        let alts = |v: Value| -> Vec<serde_json::Map<String, Value>> {
            v.as_array()
                .into_iter()
                .flatten()
                .filter_map(|a| a.as_object().cloned())
                .collect()
        };
        let (fields, atoms) = atoms_of(&alts(json!([
            {"Channel": "Sysmon", "EventID": [12, 13]},
            {"Channel": "Security", "EventID": 4688}
        ])))
        .expect("atoms");
        assert_eq!(fields, ["Channel", "EventID"]);
        assert_eq!(
            atoms,
            [
                json!({"Channel": "Sysmon", "EventID": 12}),
                json!({"Channel": "Sysmon", "EventID": 13}),
                json!({"Channel": "Security", "EventID": 4688}),
            ]
        );
        assert!(atoms_of(&alts(json!([{"Channel": "a"}, {"EventID": 1}]))).is_none());
        assert!(atoms_of(&alts(json!([{"Channel": "a", "EventID": [[1]]}]))).is_none());
        assert!(atoms_of(&alts(json!([{"Channel": "a", "EventID": []}]))).is_none());
        assert!(atoms_of(&[]).is_none());
        // the built-in table: registry_event holds on three Sysmon event ids
        let m = Mappings::builtin().expect("mappings");
        let reg = m
            .logsources
            .iter()
            .find(|e| e.logsource.category.as_deref() == Some("registry_event"))
            .expect("registry_event");
        assert_eq!(reg.atoms.as_ref().map(|(_, a)| a.len()), Some(3));
    }

    #[test]
    fn one_name_resolves_on_every_shape() {
        let m = Mappings::builtin().expect("builtin mappings");
        let nested = json!({"Event": {"System": {"EventID": 1, "Channel": "C",
            "Provider": {"#attributes": {"Name": "P"}}}, "EventData": {"Image": "x.exe"}}});
        let ecs = json!({"winlog": {"event_id": "1", "channel": "C", "provider_name": "P",
            "event_data": {"Image": "x.exe"}}});
        let flat = json!({"EventID": 1, "Channel": "C", "SourceName": "P", "Image": "x.exe"});
        for ev in [&nested, &ecs, &flat] {
            let v = m.view(ev);
            assert_eq!(
                v.field("Image")
                    .and_then(|x| x.as_text().map(|t| t.into_owned()))
                    .as_deref(),
                Some("x.exe")
            );
            assert_eq!(v.field("EventID").and_then(|x| x.as_number()), Some(1.0));
            assert_eq!(
                v.field("Provider_Name")
                    .and_then(|x| x.as_text().map(|t| t.into_owned()))
                    .as_deref(),
                Some("P")
            );
        }
        assert_eq!(m.shape_of(&nested).name, "windows_nested");
        assert_eq!(m.shape_of(&ecs).name, "windows_ecs");
        assert_eq!(m.shape_of(&flat).name, "windows_flat");
    }

    #[test]
    fn security_4688_fields_answer_to_sysmon_names() {
        let m = Mappings::builtin().expect("builtin mappings");
        let text = |v: &MappedEvent<'_, Value>, n: &str| {
            v.field(n).and_then(|x| x.as_text().map(|t| t.into_owned()))
        };
        let flat = json!({"Channel": "Security", "EventID": 4688,
            "NewProcessName": "C:\\x\\a.exe", "ParentProcessName": "C:\\x\\p.exe"});
        let nested = json!({"Event": {"System": {"EventID": 4688, "Channel": "Security"},
            "EventData": {"NewProcessName": "C:\\x\\a.exe",
                          "ParentProcessName": "C:\\x\\p.exe"}}});
        for ev in [&flat, &nested] {
            let v = m.view(ev);
            assert_eq!(text(&v, "Image").as_deref(), Some("C:\\x\\a.exe"));
            assert_eq!(text(&v, "ParentImage").as_deref(), Some("C:\\x\\p.exe"));
        }
        // Sysmon's own name wins when both are present
        let both = json!({"Image": "sysmon.exe", "NewProcessName": "other.exe"});
        assert_eq!(text(&m.view(&both), "Image").as_deref(), Some("sysmon.exe"));
    }

    #[test]
    fn logsource_table_finds_categories() {
        let m = Mappings::builtin().expect("builtin mappings");
        let ls = LogSource {
            product: Some("windows".into()),
            category: Some("process_creation".into()),
            service: None,
        };
        let i = m.logsource_index(&ls).expect("entry");
        let e = &m.logsources[i];
        let ev = json!({"Channel": "Microsoft-Windows-Sysmon/Operational", "EventID": 1});
        let view = m.view(&ev);
        assert!(e.holds(&view));
        let ev2 = json!({"Channel": "Microsoft-Windows-Sysmon/Operational", "EventID": 3});
        let view2 = m.view(&ev2);
        assert!(!e.holds(&view2));
    }
}
