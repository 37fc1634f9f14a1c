//! Scenarios with real EVTX replay (examples/scenarios, EVTX-ATTACK-SAMPLES) through the
//! SigmaHQ rules shipped beside them, and the Navigator layer of their coverage.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use ctem_detect::{Engine, Mappings, RuleSet};
use ctem_paths::AttackGraph;
use ctem_paths::coverage::{coverage, navigator_layer, validate_layer};
use ctem_paths::scenario::{self, Context, Scenario, read_events};
use ctem_paths::synth::{Spec, generate};

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/scenarios")
}

fn engine_with(extra: &str) -> Engine {
    let mut rs = RuleSet::load_dirs(&[examples().join("rules")]).expect("rules load");
    if !extra.is_empty() {
        rs.add_yaml(extra, "extra.yml", &Default::default());
    }
    assert!(
        rs.report.unsupported.is_empty(),
        "{:?}",
        rs.report.unsupported
    );
    Engine::new(rs, Mappings::builtin().unwrap())
}

/// A rule tagged T1059.001 whose logsource (Linux) no Windows event holds.
const LINUX_RULE: &str = r#"
title: PowerShell on Linux
id: 00000000-0000-4000-8000-000000000001
logsource: {product: linux, category: process_creation}
detection:
  sel: {Image|endswith: /pwsh}
  condition: sel
tags: [attack.execution, attack.t1059.001]
"#;

#[test]
fn phishing_scenario_replays_real_evtx_and_proves_rules() {
    let file = examples().join("phishing-to-ransomware.yml");
    let s = Scenario::load(&file).unwrap();
    let (env, cfg) = generate(&Spec {
        hosts: 200,
        crown_jewels: 2,
        ..Spec::default()
    });
    let g = AttackGraph::build(&env, &cfg);
    let engine = engine_with(LINUX_RULE);
    let tactics = HashMap::new();
    let cx = Context {
        graph: &g,
        env: &env,
        engine: Some(&engine),
        tactics: &tactics,
        replay: None,
    };
    let r = scenario::run(&s, &file, &cx).unwrap();
    assert_eq!(r.steps.len(), 5);
    let ps = &r.steps[1];
    assert_eq!(ps.technique, "T1059.001");
    assert!(ps.events > 0);
    // the Linux rule is tagged but its logsource is not in the data: not detectable
    assert!(ps.rules.iter().any(|r| r.starts_with("00000000")));
    assert!(!ps.detectable.iter().any(|r| r.starts_with("00000000")));
    // "PowerShell Credential Prompt" fires on the recorded script block
    assert_eq!(ps.proven, vec!["ca8b77a9-d499-4095-b793-5d5f330d450e"]);
    // LSASS dump with comsvcs.dll
    assert!(
        r.steps[2]
            .proven
            .contains(&"646ea171-dded-4578-8a4d-65e9822892e3".to_string())
    );
    // phishing needs no events: feasible from the graph, nothing to prove
    assert_eq!(r.steps[0].feasible, Some(true));
    assert!(r.steps[0].proven.is_empty() && r.steps[0].events == 0);
    assert_eq!(r.steps[4].team, "it_operations");
    // every proven rule is detectable, every detectable one is tagged
    for st in &r.steps {
        assert!(
            st.proven.iter().all(|p| st.detectable.contains(p)),
            "{st:?}"
        );
        assert!(st.detectable.iter().all(|d| st.rules.contains(d)));
    }
}

#[test]
fn replay_override_and_a_scenario_without_a_path() {
    let file = examples().join("web-exploit-to-crown-jewel.yml");
    let s = Scenario::load(&file).unwrap();
    // no internet-facing host: T1190 is not feasible
    let (mut env, cfg) = generate(&Spec {
        hosts: 100,
        ..Spec::default()
    });
    for a in &mut env.assets {
        a.internet_facing = false;
    }
    let mut cfg = cfg;
    cfg.reach.retain(|r| r.from != "internet");
    let g = AttackGraph::build(&env, &cfg);
    let engine = engine_with("");
    let tactics = HashMap::new();
    // every step replays the mimikatz log: nothing web-related fires
    let mimikatz = examples().join("events/sysmon_10_lsass_mimikatz_sekurlsa_logonpasswords.evtx");
    let cx = Context {
        graph: &g,
        env: &env,
        engine: Some(&engine),
        tactics: &tactics,
        replay: Some(&mimikatz),
    };
    let r = scenario::run(&s, &file, &cx).unwrap();
    assert_eq!(r.steps[0].technique, "T1190");
    assert_eq!(r.steps[0].feasible, Some(false));
    assert!(r.steps[0].proven.is_empty());
    assert!(
        r.steps
            .iter()
            .all(|s| s.events == r.steps[0].events && s.events > 0)
    );
}

#[test]
fn bad_scenarios_are_refused_with_the_place() {
    let e = Scenario::parse("name: x\nsteps:\n  - technique: 1059\n", "s.yml").unwrap_err();
    assert!(e.to_string().contains("steps[0].technique"), "{e}");
    let e = Scenario::parse("name: x\nsteps: []\n", "s.yml").unwrap_err();
    assert!(e.to_string().contains("no steps"), "{e}");
    let e = Scenario::parse("name: x\nstep: []\n", "s.yml").unwrap_err();
    assert!(e.to_string().starts_with("s.yml"), "{e}");
    let missing = Scenario::parse(
        "name: x\nsteps:\n  - technique: T1059\n    replay: nope.evtx\n",
        "s.yml",
    )
    .unwrap();
    let (env, cfg) = generate(&Spec {
        hosts: 20,
        ..Spec::default()
    });
    let g = AttackGraph::build(&env, &cfg);
    let tactics = HashMap::new();
    let cx = Context {
        graph: &g,
        env: &env,
        engine: None,
        tactics: &tactics,
        replay: None,
    };
    let e = scenario::run(&missing, Path::new("/tmp/s.yml"), &cx).unwrap_err();
    assert!(e.to_string().contains("nope.evtx"), "{e}");
}

#[test]
fn coverage_layer_of_the_scenarios_validates_against_the_format() {
    let engine = engine_with(LINUX_RULE);
    let mut events = Vec::new();
    for f in std::fs::read_dir(examples().join("events")).unwrap() {
        events.extend(read_events(&f.unwrap().path()).unwrap());
    }
    let cov = coverage(&engine, &events, &BTreeMap::new());
    let by: BTreeMap<_, _> = cov.iter().map(|c| (c.technique.as_str(), c)).collect();
    assert_eq!(by["T1003.001"].score, 3, "proven by replay");
    // T1059.001: proven by the credential prompt rule, the Linux rule only present
    assert_eq!(by["T1059.001"].score, 3);
    assert!(by["T1059.001"].rules.len() > by["T1059.001"].logsource_seen.len());
    let layer = navigator_layer("test", &cov);
    assert_eq!(validate_layer(&layer), Vec::<String>::new());
    assert_eq!(layer["versions"]["layer"], "4.5");
    // the checker is strict: broken layers are caught
    let mut bad = layer.clone();
    bad["domain"] = "enterprise".into();
    bad["techniques"][0]["techniqueID"] = "1059".into();
    bad["techniques"][0]["score"] = "high".into();
    bad["gradient"]["maxValue"] = 0.into();
    let errs = validate_layer(&bad);
    assert_eq!(errs.len(), 4, "{errs:?}");
}
