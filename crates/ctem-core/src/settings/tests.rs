use std::path::Path;

use super::*;

fn errors(text: &str) -> Vec<SettingError> {
    match Settings::from_toml(text, Some(Path::new("ctem.toml"))) {
        Ok(_) => panic!("settings accepted:\n{text}"),
        Err(SettingsError::Invalid(e)) => e,
        Err(e) => panic!("{e}"),
    }
}

#[test]
fn defaults_build_and_an_empty_file_is_the_defaults() {
    let s = Settings::from_toml("", None).unwrap();
    assert_eq!(s.store.url, "ctem.db");
    assert_eq!(s.store.busy_timeout.as_secs(), 10);
    assert_eq!(s.store.file_mode, 0o600);
    assert!(s.feeds.is_empty() && s.risk.rules.is_none());
    assert_eq!(s.risk.sla, SlaConfig::default());
}

#[test]
fn a_full_file_builds_every_section() {
    let s = Settings::from_toml(
        r#"
[store]
busy_timeout = "5s"
[risk]
policy = "ssvc"
[risk.weights]
kev = 40.0
[risk.sla]
p1_days = 3
[risk.teams.web]
description = "web team"
[[risk.ownership]]
match = "asset_kind"
pattern = "host"
team = "web"
[[risk.integrations]]
name = "hook"
type = "webhook"
url = "http://127.0.0.1:1/x"
[[feeds]]
name = "kev"
url = "https://example.org/kev.json"
kind = "kev"
interval = "6h"
"#,
        None,
    )
    .unwrap();
    assert_eq!(s.store.busy_timeout.as_secs(), 5);
    assert_eq!(s.risk.sla.p1_days, 3);
    assert_eq!(s.risk.teams[0].description.as_deref(), Some("web team"));
    assert_eq!(s.risk.rules.as_ref().unwrap()[0].team, "web");
    assert_eq!(s.risk.integrations[0].name, "hook");
    assert_eq!(s.feeds[0].interval.as_secs(), 6 * 3600);
    assert_eq!(s.feeds[0].kind, Some(ctem_intel::IntelKind::Kev));
}

#[test]
fn an_unknown_section_names_the_closest_one_with_its_line() {
    let e = errors("[store]\nurl = \"x.db\"\n\n[[feed]]\nname = \"a\"\nurl = \"https://a\"\n");
    assert_eq!(e.len(), 1, "{e:?}");
    assert_eq!(e[0].line, Some(4));
    assert_eq!(e[0].file, "ctem.toml");
    assert!(e[0].message.contains("did you mean [[feeds]]?"), "{e:?}");
    let e = errors("[rsik]\npolicy = \"ssvc\"\n");
    assert!(e[0].message.contains("did you mean [risk]?"), "{e:?}");
}

#[test]
fn every_error_of_the_file_is_reported_at_once() {
    let text = r#"
[risk.weights]
kev = "high"
epss = 1.0
sevrity = 2.0

[risk.sla]
p1_days = -1

[[feeds]]
name = "kev"
url = "ftp://example.org/kev.json"
intervl = "6h"

[[feeds]]
name = "epss"
url = "https://example.org/epss.csv"
interval = "soon"
"#;
    let e = errors(text);
    let got: Vec<(Option<usize>, &str)> = e.iter().map(|e| (e.line, e.key.as_str())).collect();
    assert!(got.contains(&(Some(3), "risk.weights.kev")), "{e:#?}");
    assert!(got.contains(&(Some(5), "risk.weights.sevrity")), "{e:#?}");
    assert!(got.contains(&(Some(8), "risk.sla.p1_days")), "{e:#?}");
    assert!(got.contains(&(Some(13), "feeds[0].intervl")), "{e:#?}");
    let typo = e.iter().find(|e| e.key == "feeds[0].intervl").unwrap();
    assert!(typo.message.contains("did you mean `interval`?"), "{typo}");
    let sev = e.iter().find(|e| e.key == "risk.weights.sevrity").unwrap();
    assert!(sev.message.contains("did you mean `severity`?"), "{sev}");
    assert!(got.contains(&(Some(18), "feeds[1].interval")), "{e:#?}");
    let text_all = SettingsError::Invalid(e.clone()).to_string();
    assert!(text_all.starts_with(&format!("{} errors in the settings", e.len())));
    assert!(
        text_all.contains("ctem.toml:3: risk.weights.kev: "),
        "{text_all}"
    );
}

#[test]
fn a_feed_is_checked_even_when_another_section_is_wrong() {
    let e = errors(
        "[[feeds]]\nname = \"kev\"\nurl = \"https://x\"\ntimeout = \"soon\"\n\n[store]\nbusy_timeout = \"x\"\n",
    );
    let keys: Vec<&str> = e.iter().map(|e| e.key.as_str()).collect();
    assert_eq!(
        keys,
        vec!["feeds[0].timeout", "store.busy_timeout"],
        "{e:#?}"
    );
    assert_eq!(e[0].line, Some(4));
    assert_eq!(e[1].line, Some(7));
}

#[test]
fn a_missing_key_is_reported_once_at_its_table() {
    let e = errors("[[feeds]]\nname = \"kev\"\n");
    assert_eq!(e.len(), 1, "{e:#?}");
    assert_eq!(e[0].key, "feeds[0]");
    assert!(e[0].message.contains("missing field `url`"), "{e:?}");
    // a key of the wrong type is not reported a second time as missing
    let e = errors("[[feeds]]\nname = \"kev\"\nurl = 5\n");
    assert_eq!(e.len(), 1, "{e:#?}");
    assert_eq!(e[0].key, "feeds[0].url");
}

#[test]
fn an_unknown_sub_section_suggests_the_sub_sections_too() {
    let e = errors("[risk.slas]\np1_days = 3\n");
    assert!(e[0].message.contains("did you mean `sla`?"), "{e:?}");
}

#[test]
fn an_unknown_integration_key_or_type_is_an_error() {
    let e = errors("[[risk.integrations]]\nname = \"a\"\ntype = \"webhok\"\nurl = \"http://x\"\n");
    assert!(e[0].message.contains("did you mean `webhook`?"), "{e:?}");
    let e = errors(
        "[[risk.integrations]]\nname = \"a\"\ntype = \"webhook\"\nurl = \"http://x\"\nurll = 1\n",
    );
    assert!(e[0].message.contains("urll"), "{e:?}");
    assert_eq!(e[0].key, "risk.integrations[0]");
}

#[test]
fn model_validation_errors_name_the_section() {
    let e = errors("[risk.thresholds]\np1 = 10.0\np2 = 50.0\n");
    assert_eq!(e[0].key, "risk");
    assert_eq!(e[0].line, Some(1));
}

#[test]
fn a_syntax_error_has_its_line() {
    let e = errors("[store]\nurl = \n");
    assert_eq!(e[0].line, Some(2), "{e:?}");
}

#[test]
fn flags_override_the_environment_which_overrides_the_file() {
    let dir = std::env::temp_dir().join(format!("ctem-core-settings-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("ctem.toml");
    std::fs::write(&file, "[store]\nurl = \"from-file.db\"\n").unwrap();
    let path = file.display().to_string();
    let env = |k: &str| match k {
        "CTEM_CONFIG" => Some(path.clone()),
        "CTEM_DB" => Some("from-env.db".to_string()),
        _ => None,
    };
    let s = Settings::load(&Flags::default(), env).unwrap();
    assert_eq!(s.store.url, "from-env.db");
    assert_eq!(s.source.as_deref(), Some(file.as_path()));
    let flags = Flags {
        config: None,
        db: Some("from-flag.db".into()),
    };
    assert_eq!(
        Settings::load(&flags, env).unwrap().store.url,
        "from-flag.db"
    );
    let only_file = |k: &str| (k == "CTEM_CONFIG").then(|| path.clone());
    assert_eq!(
        Settings::load(&Flags::default(), only_file)
            .unwrap()
            .store
            .url,
        "from-file.db"
    );
    let missing = Flags {
        config: Some(dir.join("nope.toml")),
        db: None,
    };
    let e = Settings::load(&missing, |_| None).unwrap_err().to_string();
    assert!(e.contains("nope.toml"), "{e}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn context_input_and_paths_sections_build() {
    let s = Settings::from_toml(
        r#"
[context]
vantage = "external"
[[context.rules]]
name = "web*"
criticality = 4
[input]
max_line_kb = 64
[paths]
lateral_likelihood = 0.25
[[paths.reach]]
from = "internet"
to = "dmz"
ports = [443]
"#,
        None,
    )
    .unwrap();
    assert_eq!(s.vantage, Vantage::External);
    assert_eq!(s.risk.context[0].criticality, Some(4));
    assert_eq!(s.input.max_line_kb, 64);
    assert_eq!(s.input.max_intel_mb, 128);
    assert_eq!(s.paths.lateral_likelihood, 0.25);
    assert_eq!(s.paths.reach[0].ports, vec![443]);
    let d = Settings::default();
    assert_eq!(d.vantage, Vantage::Internal);
    assert_eq!(d.input, InputConfig::default());
    assert_eq!(d.paths, PathsConfig::default());
}

#[test]
fn context_input_and_paths_errors_name_file_line_and_key() {
    let e = errors(
        "[[context.rules]]\nname = \"a\"\ncriticality = 4\n[[context.rules]]\ncidr = \"10.0.0.0/99\"\nzone = \"dmz\"\n\
         [input]\nmax_decompressed_mb = 0\n[paths]\nlateral_likelihood = 2.0\n[context]\nvantag = \"external\"\n",
    );
    let text: Vec<String> = e.iter().map(ToString::to_string).collect();
    let has = |s: &str| text.iter().any(|t| t.contains(s));
    assert!(
        has("ctem.toml:4: context.rules[1]: context rule 2"),
        "{text:?}"
    );
    assert!(has("not an IP network"), "{text:?}");
    assert!(
        has("ctem.toml:8: input.max_decompressed_mb: every [input] limit must be at least 1"),
        "{text:?}"
    );
    assert!(
        has("ctem.toml:10: paths.lateral_likelihood: 2 is not a likelihood"),
        "{text:?}"
    );
    assert!(has("did you mean `vantage`?"), "{text:?}");
    // the section is read once: a typo in [[paths.reach]] is named with its line too
    let e = errors("[[paths.reach]]\nfrom = \"a\"\nto = \"b\"\nport = [1]\n");
    assert_eq!(e[0].line, Some(4), "{e:?}");
    assert!(e[0].message.contains("did you mean `ports`?"), "{e:?}");
}

#[test]
fn detect_section_builds_and_names_a_typo() {
    let s = Settings::from_toml(
        "[detect]\nrules = [\"/opt/sigma\"]\nmappings = [\"acme.yml\"]\n",
        None,
    )
    .unwrap();
    assert_eq!(s.detect.rules, vec![std::path::PathBuf::from("/opt/sigma")]);
    assert_eq!(s.detect.mappings.len(), 1);
    assert!(Settings::default().detect.rules.is_empty());
    let e = errors("[detect]\nrule = [\"x\"]\n");
    assert_eq!((e[0].line, e[0].key.as_str()), (Some(2), "detect.rule"));
    assert!(e[0].message.contains("did you mean `rules`?"), "{e:?}");
}
