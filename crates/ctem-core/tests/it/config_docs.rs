//! docs/config.md is the reference of every settings key: this test derives the keys from
//! the settings types (a full example serialized) and compares them with the keys the
//! document lists, both ways.

use std::collections::{BTreeMap, BTreeSet};

use ctem_core::settings::{
    ContextConfig, DetectConfig, ExportConfig, FeedConfig, GoalConfig, NotifyConfig,
    OwnershipRuleConfig, PathsConfig, SECTIONS, ScheduleConfig, ServeConfig, SettingsConfig,
    SourceConfig, TargetConfig, TargetKind, TeamConfig, Vantage,
};
use ctem_model::context::ContextRule;
use ctem_paths::env::{AssetContext, CredentialGroup, ReachRule};
use serde_json::Value;

/// The settings with every optional key set and one entry of each list and variant.
fn full_example() -> SettingsConfig {
    let target = |name: &str, kind| TargetConfig {
        name: name.into(),
        kind,
        retries: 3,
        backoff_ms: 500,
        timeout_ms: 10_000,
        allow_insecure_http: false,
    };
    SettingsConfig {
        teams: BTreeMap::from([(
            "NAME".to_string(),
            TeamConfig {
                description: Some("x".into()),
            },
        )]),
        ownership: Some(vec![OwnershipRuleConfig {
            kind: ctem_model::work::RuleKind::AssetKind,
            pattern: "host".into(),
            team: "NAME".into(),
            priority: Some(1),
        }]),
        integrations: vec![
            target("w", TargetKind::Webhook { url: "u".into() }),
            target("s", TargetKind::Slack { url: "u".into() }),
            target(
                "j",
                TargetKind::Jira {
                    base_url: "u".into(),
                    project: "p".into(),
                    email: "e".into(),
                    token_env: "T".into(),
                    issue_type: "Task".into(),
                    transitions: BTreeMap::new(),
                },
            ),
            target(
                "g",
                TargetKind::Github {
                    api_url: "u".into(),
                    repo: "o/r".into(),
                    token_env: "T".into(),
                },
            ),
        ],
        feeds: vec![FeedConfig {
            name: "kev".into(),
            url: "https://x".into(),
            kind: "auto".into(),
            interval: "24h".into(),
            timeout: "60s".into(),
            max_size_mb: 512,
            allow_addresses: vec!["127.0.0.1".into()],
        }],
        context: ContextConfig {
            rules: vec![ContextRule {
                cidr: Some("10.0.0.0/8".into()),
                name: Some("web*".into()),
                tag: Some("t".into()),
                kind: Some("host".into()),
                source: Some("nmap".into()),
                priority: Some(1),
                criticality: Some(4),
                zone: Some("dmz".into()),
                internet_facing: Some(true),
                team: Some("NAME".into()),
            }],
            vantage: Vantage::External,
        },
        paths: PathsConfig {
            reach: vec![ReachRule {
                from: "internet".into(),
                to: "dmz".into(),
                ports: vec![443],
            }],
            credentials: vec![CredentialGroup {
                name: "admins".into(),
                members: vec!["tag:admin".into()],
            }],
            assets: vec![AssetContext {
                matches: "name:web*".into(),
                zone: Some("dmz".into()),
                criticality: Some(4),
                internet_facing: Some(true),
                tags: vec!["web".into()],
                owner: Some("NAME".into()),
            }],
            ..PathsConfig::default()
        },
        detect: DetectConfig {
            rules: vec!["rules".into()],
            mappings: vec!["sources.yml".into()],
            rule_cache: true,
            rule_cache_dir: Some("cache".into()),
        },
        goals: vec![GoalConfig {
            kpi: "mttr.critical_days".into(),
            op: "<=".into(),
            target: 7.0,
            owner: Some("NAME".into()),
            due: chrono::NaiveDate::from_ymd_opt(2027, 3, 31),
            name: Some("patch criticals in a week".into()),
        }],
        serve: ServeConfig {
            listen: Some("127.0.0.1:8080".into()),
            rules: vec!["rules".into()],
            events_queue: Some(100_000),
            detect_threads: Some(2),
        },
        sources: sources(),
        schedule: ScheduleConfig {
            review_dir: Some("reviews".into()),
            ..ScheduleConfig::default()
        },
        exports: vec![ExportConfig {
            name: "postfix".into(),
            kind: "email".into(),
            format: "postfix".into(),
            out: "sender_access".into(),
            every: "1h".into(),
        }],
        notify: vec![
            NotifyConfig {
                name: "soc".into(),
                kind: "slack".into(),
                url: Some("https://hooks.example/x".into()),
                team: Some("NAME".into()),
                events: vec!["p1".into()],
                allow_addresses: vec!["127.0.0.1".into()],
                ..NotifyConfig::default()
            },
            NotifyConfig {
                name: "mail".into(),
                kind: "email".into(),
                smtp: Some("127.0.0.1:25".into()),
                from: Some("ctem@example.org".into()),
                to: vec!["soc@example.org".into()],
                ..NotifyConfig::default()
            },
        ],
        ..SettingsConfig::default()
    }
}

/// One source of each kind, every key of its kind set.
fn sources() -> Vec<SourceConfig> {
    let base = |name: &str, kind: &str| SourceConfig {
        name: name.into(),
        kind: kind.into(),
        format: "auto".into(),
        scope: Some("ci".into()),
        owner: Some("NAME".into()),
        expect_every: Some("1d".into()),
        interval: Some("5s".into()),
        ..SourceConfig::default()
    };
    vec![
        SourceConfig {
            path: Some("drop".into()),
            done: Some("drop/done".into()),
            ..base("f", "folder")
        },
        SourceConfig {
            url: Some("https://x/report.json".into()),
            timeout: Some("30s".into()),
            max_size_mb: Some(64),
            allow_addresses: vec!["127.0.0.1".into()],
            ..base("u", "url")
        },
        SourceConfig {
            path: Some("eve.json".into()),
            rules: vec!["rules".into()],
            ..base("t", "file")
        },
        SourceConfig {
            feeds: vec!["kev".into()],
            ..base("i", "feeds")
        },
        SourceConfig {
            listen: Some("tcp://127.0.0.1:5514".into()),
            protocol: Some("tcp".into()),
            framing: Some("auto".into()),
            queue_size: Some(1000),
            ..base("s", "syslog")
        },
        SourceConfig {
            brokers: vec!["127.0.0.1:9092".into()],
            topic: Some("events".into()),
            group: Some("ctem".into()),
            queue_size: Some(1000),
            ..base("k", "kafka")
        },
    ]
}

fn walk(v: &Value, path: &str, out: &mut BTreeSet<String>) {
    match v {
        Value::Object(m) if !m.is_empty() => {
            for (k, v) in m {
                walk(v, &format!("{path}.{k}"), out);
            }
        }
        Value::Array(a) if a.iter().any(Value::is_object) => {
            for v in a {
                walk(v, path, out);
            }
        }
        _ => {
            out.insert(path.to_string());
        }
    }
}

/// Every key of the settings types, as `section.key` (`risk.weights.kev`, `feeds.url`).
fn schema_keys() -> BTreeSet<String> {
    let example = serde_json::to_value(full_example()).expect("serializes");
    let mut keys = BTreeSet::new();
    for section in SECTIONS {
        let field = section.rsplit('.').next().unwrap_or(section);
        let v = &example[field];
        assert!(
            !v.is_null(),
            "section {section} is not a field of SettingsConfig"
        );
        // a sub-section read on its own is not a key of its parent
        let mut own = BTreeSet::new();
        walk(v, section, &mut own);
        keys.extend(own);
    }
    for sub in SECTIONS.iter().filter(|s| s.contains('.')) {
        keys.retain(|k| k != sub);
    }
    keys
}

/// The keys docs/config.md lists: `## [section]` headings, then `| \`key\` |` rows.
fn documented_keys() -> BTreeSet<String> {
    let text =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/config.md"))
            .expect("docs/config.md");
    let mut keys = BTreeSet::new();
    let mut section = None;
    for line in text.lines() {
        if let Some(h) = line.strip_prefix("## ") {
            let h = h.trim().trim_matches('`');
            section = h
                .strip_prefix("[[")
                .and_then(|s| s.strip_suffix("]]"))
                .or_else(|| h.strip_prefix('[').and_then(|s| s.strip_suffix(']')))
                .map(str::to_string);
        } else if let (Some(s), Some(row)) = (&section, line.strip_prefix("| `"))
            && let Some((key, _)) = row.split_once('`')
        {
            keys.insert(format!("{s}.{key}"));
        }
    }
    keys
}

#[test]
fn docs_config_lists_every_settings_key_and_no_other() {
    let schema = schema_keys();
    let docs = documented_keys();
    let undocumented: Vec<_> = schema.difference(&docs).collect();
    let unknown: Vec<_> = docs.difference(&schema).collect();
    assert!(
        undocumented.is_empty() && unknown.is_empty(),
        "keys missing from docs/config.md: {undocumented:?}\n\
         keys in docs/config.md the settings do not have: {unknown:?}"
    );
}

#[test]
fn the_full_example_reads_back_as_valid_settings() {
    // the example is a valid file: every key the test derives is one the reader accepts
    let example = full_example();
    let text = toml_text(&serde_json::to_value(&example).expect("serializes"));
    ctem_core::Settings::from_toml(&text, None).unwrap_or_else(|e| panic!("{e}\n{text}"));
}

/// The example as a settings file, each section under its own path.
fn toml_text(v: &Value) -> String {
    let mut root = serde_json::Map::new();
    for section in SECTIONS.iter().rev() {
        let field = section.rsplit('.').next().unwrap_or(section);
        let mut value = v[field].clone();
        if let Value::Object(m) = &mut value {
            m.retain(|_, x| !x.is_null());
        }
        let mut parts: Vec<&str> = section.split('.').collect();
        let last = parts.pop().unwrap_or(section);
        let mut table = &mut root;
        for p in parts {
            table = table
                .entry(p)
                .or_insert_with(|| Value::Object(Default::default()))
                .as_object_mut()
                .expect("a table");
        }
        table.insert(last.to_string(), value);
    }
    toml_of(&Value::Object(root))
}

/// A tiny TOML writer for the example (inline tables; enough for these values).
fn toml_of(v: &Value) -> String {
    let Value::Object(m) = v else { unreachable!() };
    m.iter()
        .map(|(k, v)| format!("{k} = {}\n", inline(v)))
        .collect()
}

fn inline(v: &Value) -> String {
    match v {
        Value::Object(m) => format!(
            "{{ {} }}",
            m.iter()
                .map(|(k, v)| format!("{k} = {}", inline(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Value::Array(a) => format!("[{}]", a.iter().map(inline).collect::<Vec<_>>().join(", ")),
        other => other.to_string(),
    }
}
