//! Where an event comes from: the logsource routing table (`mappings/sources.yml`).
//!
//! A Sigma rule names the logsource it was written for (`product: zeek, service: rdp`). Its
//! detection alone says nothing about it: `condition: not selection` holds on every event
//! that lacks the rule's fields, so without routing a Zeek RDP rule fires on every CEF line.
//! Each event is therefore classified once into a [`SourceLs`] (product, services,
//! categories) by the first [`SourceEntry`] that recognises it, and a rule runs only where
//! [`applies`] says its logsource fits. The engine caches the classification with the bucket
//! list of the event (keyed by the values of the fields the table reads), so the routing
//! costs a few field lookups per event and nothing per rule.

use serde::Serialize;
use serde_json::Value;

use crate::error::{Error, Result};
use crate::event::Event;
use crate::rule::LogSource;

/// A product or service name: literal, an event field's text, or the file's log type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Template {
    /// A fixed name.
    Lit(String),
    /// The text of a field (lower-cased; a dotted value also gives its last part).
    Field(String),
    /// The log type the file name ends with (see `file_types`).
    File,
}

/// One entry of the routing table.
#[derive(Debug, Clone)]
pub struct SourceEntry {
    /// A short name (`zeek`, `syslog`), for reports.
    pub name: String,
    /// Fields that must exist.
    pub present: Vec<String>,
    /// Fields whose text must be one of the values (ASCII case ignored).
    pub equals: Vec<(String, Vec<String>)>,
    pub product: Option<Template>,
    /// `None`: any service (the Windows logsource table decides).
    pub services: Option<Vec<Template>>,
    /// `None`: any category (the Windows logsource table decides).
    pub categories: Option<Vec<String>>,
}

/// The logsource of one event.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct SourceLs {
    /// The name of the table entry that recognised it; `None` = unknown source.
    pub entry: Option<String>,
    pub product: Option<String>,
    /// `None`: any service.
    pub services: Option<Vec<String>>,
    /// `None`: any category.
    pub categories: Option<Vec<String>>,
}

impl SourceLs {
    /// Whether no table entry recognised the event.
    pub fn is_unknown(&self) -> bool {
        self.entry.is_none()
    }
}

/// One concrete logsource an event fed, as detection saw it: the product, service and
/// category the routing table and the logsource table gave it (`None`: not named). A rule's
/// logsource is fed by a seen one when each part it names is the same ([`SeenLogsource::feeds`]).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct SeenLogsource {
    pub product: Option<String>,
    pub service: Option<String>,
    pub category: Option<String>,
}

impl SeenLogsource {
    /// Whether events of this logsource feed rules written for `rule`.
    pub fn feeds(&self, rule: &LogSource) -> bool {
        let part = |want: &Option<String>, have: &Option<String>| {
            want.as_ref().is_none_or(|w| have.as_ref() == Some(w))
        };
        part(&rule.product, &self.product)
            && part(&rule.service, &self.service)
            && part(&rule.category, &self.category)
    }
}

/// Whether a rule written for `rule` may run on an event of logsource `src`. An unknown source
/// gets only rules that name no product and no service.
pub fn applies(rule: &LogSource, src: &SourceLs) -> bool {
    if src.is_unknown() {
        return rule.product.is_none() && rule.service.is_none();
    }
    let within = |want: &Option<String>, have: &Option<Vec<String>>| match (want, have) {
        (None, _) | (Some(_), None) => true,
        (Some(w), Some(h)) => h.iter().any(|x| x == w),
    };
    rule.product
        .as_ref()
        .is_none_or(|p| src.product.as_ref() == Some(p))
        && within(&rule.service, &src.services)
        && within(&rule.category, &src.categories)
}

/// The routing table: entries in order, and the log types a file name may end with.
#[derive(Debug, Clone, Default)]
pub struct Sources {
    pub entries: Vec<SourceEntry>,
    /// Log types (`smb_files`, `conn`), longest first.
    pub file_types: Vec<String>,
}

fn serr(message: impl Into<String>) -> Error {
    Error::Mapping {
        name: "sources".into(),
        message: message.into(),
    }
}

fn template(s: &str) -> Template {
    match s.strip_prefix('$') {
        Some("file") => Template::File,
        Some(f) => Template::Field(f.to_string()),
        None => Template::Lit(s.to_ascii_lowercase()),
    }
}

fn text_list(v: &Value) -> Vec<String> {
    match v {
        Value::Array(a) => a.iter().flat_map(text_list).collect(),
        Value::String(s) => vec![s.clone()],
        Value::Null => Vec::new(),
        other => vec![other.to_string()],
    }
}

impl Sources {
    /// Parses a routing file (`sources:` and `file_types:`; see `mappings/sources.yml`).
    pub fn from_yaml(text: &str) -> Result<Self> {
        let v: Value = serde_saphyr::from_str(text).map_err(|e| serr(e.to_string()))?;
        let mut out = Sources::default();
        for (i, e) in v
            .get("sources")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .enumerate()
        {
            let obj = e
                .as_object()
                .ok_or_else(|| serr(format!("entry {i} is not a map")))?;
            let name = obj
                .get("name")
                .and_then(Value::as_str)
                .ok_or_else(|| serr(format!("entry {i} has no name")))?
                .to_string();
            let present = obj.get("present").map(text_list).unwrap_or_default();
            let equals = obj
                .get("equals")
                .and_then(Value::as_object)
                .map(|m| {
                    m.iter()
                        .map(|(k, v)| {
                            let vals = text_list(v);
                            (
                                k.clone(),
                                vals.iter().map(|s| s.to_ascii_lowercase()).collect(),
                            )
                        })
                        .collect()
                })
                .unwrap_or_default();
            if present.is_empty() && obj.get("equals").is_none() {
                return Err(serr(format!("entry {i} ({name}) tests no field")));
            }
            out.entries.push(SourceEntry {
                name,
                present,
                equals,
                product: obj.get("product").and_then(Value::as_str).map(template),
                services: obj
                    .get("services")
                    .map(|v| text_list(v).iter().map(|s| template(s)).collect()),
                categories: obj.get("categories").map(|v| {
                    text_list(v)
                        .iter()
                        .map(|s| s.to_ascii_lowercase())
                        .collect()
                }),
            });
        }
        if let Some(ft) = v.get("file_types").and_then(Value::as_object) {
            for list in ft.values() {
                out.file_types.extend(text_list(list));
            }
        }
        out.file_types.sort_by_key(|t| std::cmp::Reverse(t.len()));
        Ok(out)
    }

    /// Puts the entries and log types of `other` before these (extra files win).
    pub fn extend_front(&mut self, other: Sources) {
        let mut entries = other.entries;
        entries.append(&mut self.entries);
        self.entries = entries;
        self.file_types.extend(other.file_types);
        self.file_types.sort_by_key(|t| std::cmp::Reverse(t.len()));
        self.file_types.dedup();
    }

    /// The fields the table reads, each with whether its value matters (`true`) or only its
    /// presence (the engine keys its per-thread cache by these).
    pub fn fields(&self) -> Vec<(String, bool)> {
        let mut out: Vec<(String, bool)> = Vec::new();
        let mut add = |f: &str, value: bool| match out.iter_mut().find(|(n, _)| n == f) {
            Some((_, v)) => *v |= value,
            None => out.push((f.to_string(), value)),
        };
        for e in &self.entries {
            e.present.iter().for_each(|f| add(f, false));
            e.equals.iter().for_each(|(f, _)| add(f, true));
            let ts = e.product.iter().chain(e.services.iter().flatten());
            for t in ts {
                if let Template::Field(f) = t {
                    add(f, true);
                }
            }
        }
        out
    }

    /// What the classification of an event reads, entry by entry: the fields that must be
    /// present, the fields whose values it compares or copies, and whether the entry decides
    /// once its fields are present (it has no `equals`). A cache key made of what is read in
    /// this order, up to the first deciding entry whose fields are present, determines the
    /// classification: a Windows event's key is the presence of `Channel`, nothing more.
    pub fn plan(&self) -> Vec<(Vec<String>, Vec<String>, bool)> {
        self.entries
            .iter()
            .map(|e| {
                let mut values: Vec<String> = e.equals.iter().map(|(f, _)| f.clone()).collect();
                for t in e.product.iter().chain(e.services.iter().flatten()) {
                    if let Template::Field(f) = t {
                        values.push(f.clone());
                    }
                }
                (e.present.clone(), values, e.equals.is_empty())
            })
            .collect()
    }

    /// The log type a file name ends with (`otrf-apt29-day1-SCRANTON_conn.log` -> `conn`).
    pub fn file_type(&self, file: Option<&str>) -> Option<&str> {
        let name = file?.rsplit(['/', '\\']).next()?.to_ascii_lowercase();
        let mut stem = name.as_str();
        for ext in [".gz", ".log", ".json", ".jsonl", ".ndjson", ".txt", ".tsv"] {
            stem = stem.strip_suffix(ext).unwrap_or(stem);
        }
        self.file_types
            .iter()
            .find(|t| {
                stem.strip_suffix(t.as_str())
                    .is_some_and(|rest| rest.is_empty() || rest.ends_with(['_', '-', '.']))
            })
            .map(String::as_str)
    }

    /// Classifies an event seen through its shape; `file` is its file name.
    pub fn classify<E: Event + ?Sized>(&self, ev: &E, file: Option<&str>) -> SourceLs {
        let text = |f: &str| {
            ev.field(f)
                .and_then(|v| v.as_text().map(|t| t.to_ascii_lowercase()))
        };
        // `equals` holds when the field's text, or one element of a list, is a value
        let is_one_of = |f: &str, vals: &[String]| match ev.field(f) {
            Some(crate::event::FieldValue::List(items)) => items.iter().any(|x| {
                x.as_text()
                    .is_some_and(|t| vals.contains(&t.to_ascii_lowercase()))
            }),
            Some(v) => v
                .as_text()
                .is_some_and(|t| vals.contains(&t.to_ascii_lowercase())),
            None => false,
        };
        for e in &self.entries {
            if !e.present.iter().all(|f| ev.field(f).is_some()) {
                continue;
            }
            let eq = e.equals.iter().all(|(f, vals)| is_one_of(f, vals));
            if !eq {
                continue;
            }
            let names = |t: &Template| -> Vec<String> {
                match t {
                    Template::Lit(s) => vec![s.clone()],
                    Template::File => self
                        .file_type(file)
                        .map(|s| vec![s.to_string()])
                        .unwrap_or_default(),
                    Template::Field(f) => match text(f) {
                        Some(t) => match t.rsplit_once('.') {
                            Some((_, last)) if !last.is_empty() => {
                                vec![t.clone(), last.to_string()]
                            }
                            _ => vec![t],
                        },
                        None => Vec::new(),
                    },
                }
            };
            return SourceLs {
                entry: Some(e.name.clone()),
                product: e.product.as_ref().and_then(|t| names(t).into_iter().next()),
                services: e
                    .services
                    .as_ref()
                    .map(|ts| ts.iter().flat_map(names).collect()),
                categories: e.categories.clone(),
            };
        }
        SourceLs::default()
    }

    /// The names of the entries that can give an event the logsource `ls` (for `rules check`):
    /// an entry feeds it when some event it recognises may run a rule of `ls`. Field and file
    /// templates may give any name.
    pub fn feeders(&self, ls: &LogSource) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        if ls.product.is_none() && ls.service.is_none() {
            out.push("unknown".into());
        }
        for e in &self.entries {
            let may = |t: &Template, want: &str| match t {
                Template::Lit(s) => s == want,
                Template::Field(_) | Template::File => true,
            };
            let product = match (&ls.product, &e.product) {
                (None, _) => true,
                (Some(p), Some(t)) => may(t, p),
                (Some(_), None) => false,
            };
            let service = match (&ls.service, &e.services) {
                (None, _) | (Some(_), None) => true,
                (Some(s), Some(ts)) => ts.iter().any(|t| may(t, s)),
            };
            let category = match (&ls.category, &e.categories) {
                (None, _) | (Some(_), None) => true,
                (Some(c), Some(cs)) => cs.contains(c),
            };
            if product && service && category && !out.contains(&e.name) {
                out.push(e.name.clone());
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Mappings;
    use serde_json::json;

    fn ls(p: Option<&str>, s: Option<&str>, c: Option<&str>) -> LogSource {
        LogSource {
            product: p.map(str::to_string),
            service: s.map(str::to_string),
            category: c.map(str::to_string),
        }
    }

    #[test]
    fn events_are_classified_by_content_and_file_name() {
        let m = Mappings::builtin().expect("mappings");
        let s = &m.sources;
        let c = |v: Value, f: Option<&str>| s.classify(&m.view(&v), f);
        let zeek = c(json!({"_path": "rdp", "uid": "C1", "ts": 1.0}), None);
        assert_eq!(zeek.product.as_deref(), Some("zeek"));
        assert_eq!(zeek.services, Some(vec!["rdp".to_string()]));
        let by_file = c(
            json!({"uid": "C1", "ts": 1.0}),
            Some("otrf-apt29-day1-SCRANTON_smb_files.log"),
        );
        assert_eq!(by_file.services, Some(vec!["smb_files".to_string()]));
        let win = c(json!({"Channel": "Security", "EventID": 4624}), None);
        assert_eq!(win.product.as_deref(), Some("windows"));
        assert_eq!(win.services, None);
        let cef = c(
            json!({"cef": {"vendor": "Forcepoint", "product": "Web"}}),
            None,
        );
        assert_eq!(cef.product.as_deref(), Some("forcepoint"));
        let sshd = c(json!({"app_name": "sshd", "format": "rfc3164"}), None);
        assert_eq!(
            sshd.services,
            Some(vec!["sshd".into(), "auth".into(), "syslog".into()])
        );
        let trail = c(
            json!({"eventSource": "s3.amazonaws.com", "eventName": "X"}),
            None,
        );
        assert_eq!(trail.product.as_deref(), Some("aws"));
        assert!(c(json!({"foo": 1}), Some("x.log")).is_unknown());
    }

    /// The Zeek RDP rule (`product: zeek, service: rdp`) runs on Zeek RDP events only; an
    /// unknown source runs only rules that name no product or service.
    #[test]
    fn rules_apply_only_to_their_logsource() {
        let m = Mappings::builtin().expect("mappings");
        let rdp = ls(Some("zeek"), Some("rdp"), None);
        let classify = |v: Value| m.sources.classify(&m.view(&v), None);
        let zeek_rdp = classify(json!({"_path": "rdp", "uid": "C"}));
        let zeek_conn = classify(json!({"_path": "conn", "uid": "C"}));
        let cef = classify(json!({"cef": {"vendor": "Forcepoint", "product": "Web"}}));
        let unknown = SourceLs::default();
        assert!(applies(&rdp, &zeek_rdp));
        assert!(!applies(&rdp, &zeek_conn));
        assert!(!applies(&rdp, &cef));
        assert!(!applies(&rdp, &unknown));
        let proxy = ls(None, None, Some("proxy"));
        assert!(applies(&proxy, &unknown));
        assert!(!applies(&proxy, &zeek_conn));
        let crontab = ls(Some("linux"), None, Some("file_event"));
        let sysmon = classify(json!({"Channel": "Microsoft-Windows-Sysmon/Operational"}));
        assert!(!applies(&crontab, &sysmon));
        assert!(applies(&ls(Some("windows"), Some("x"), None), &sysmon));
        assert!(applies(&ls(None, None, None), &unknown));
    }

    /// ECS-native and OCSF process starts run the process_creation rules of their OS, with
    /// Sigma's field names mapped to theirs.
    #[test]
    fn ecs_and_ocsf_process_starts_run_process_creation_rules() {
        use crate::{Engine, RuleSet};
        let rules = RuleSet::from_yaml(concat!(
            "title: whoami\nid: w\nlogsource: {product: windows, category: process_creation}\n",
            "detection:\n  sel:\n    Image|endswith: '\\whoami.exe'\n    CommandLine|contains: '/all'\n  condition: sel\n",
            "---\ntitle: crontab\nid: c\nlogsource: {product: linux, category: process_creation}\n",
            "detection:\n  sel:\n    Image|endswith: '/crontab'\n  condition: sel\n",
        ))
        .expect("rules");
        let engine = Engine::new(rules, Mappings::builtin().expect("mappings"));
        let ecs = |os: &str, exe: &str| {
            json!({"@timestamp": "2024-01-01T00:00:00Z", "ecs": {"version": "8.11.0"},
                "event": {"category": ["process"], "type": ["start"], "module": "endpoint"},
                "host": {"os": {"type": os}, "name": "h1"},
                "process": {"executable": exe, "command_line": format!("{exe} /all")}})
        };
        let ids = |v: Value| -> Vec<String> {
            engine.process(&v).into_iter().map(|a| a.rule_id).collect()
        };
        assert_eq!(
            ids(ecs("windows", "C:\\Windows\\System32\\whoami.exe")),
            ["w"]
        );
        assert_eq!(ids(ecs("linux", "/usr/bin/crontab")), ["c"]);
        assert!(ids(ecs("linux", "C:\\Windows\\System32\\whoami.exe")).is_empty());
        let ocsf = json!({"class_uid": 1007, "activity_id": 1, "device": {"os": {"type": "Windows"}},
            "process": {"file": {"path": "C:\\Windows\\System32\\whoami.exe"},
                        "cmd_line": "whoami /all"}});
        assert_eq!(ids(ocsf), ["w"]);
    }

    #[test]
    fn feeders_name_the_entries_that_give_a_logsource() {
        let m = Mappings::builtin().expect("mappings");
        let f = m.sources.feeders(&ls(Some("zeek"), Some("http"), None));
        assert!(f.contains(&"zeek".to_string()), "{f:?}");
        assert!(!f.contains(&"windows".to_string()), "{f:?}");
        assert!(
            m.sources
                .feeders(&ls(Some("okta"), Some("okta"), None))
                .iter()
                .all(|n| n == "ecs" || n == "cef"),
        );
        assert!(
            m.sources
                .feeders(&ls(None, None, Some("proxy")))
                .contains(&"unknown".to_string())
        );
    }
}
