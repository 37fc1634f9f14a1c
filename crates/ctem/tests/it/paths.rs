//! `ctem paths`, `chokepoints`, `attack`, `scenario run` and `coverage` on the demo
//! environment (its zones and crown jewel come from examples/demo/ctem.toml), real ATT&CK
//! data (an excerpt of Enterprise v15) and the scenarios of examples/scenarios (EVTX replay).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

use crate::common::Env;

fn examples(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples")
        .join(rel)
}

/// A demo store in a temporary folder, run with the demo's own settings.
struct Demo {
    env: Env,
}

impl Demo {
    fn new() -> Self {
        let env = Env::new();
        let out = Command::new(env!("CARGO_BIN_EXE_ctem"))
            .args(["demo", "--dir", "d"])
            .current_dir(env.dir.path())
            .env_remove("CTEM_CONFIG")
            .env_remove("CTEM_DB")
            .output()
            .expect("demo");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains("8. validate: attack paths"), "{text}");
        assert!(text.contains("best fix: exposure"), "{text}");
        assert!(text.contains("CVE-2021-44228"), "{text}");
        Demo { env }
    }

    fn run(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_ctem"))
            .args(["--db", "d/ctem.db", "--config", "d/ctem.toml"])
            .args(args)
            .current_dir(self.env.dir.path())
            .env_remove("CTEM_CONFIG")
            .env_remove("CTEM_DB")
            .output()
            .expect("run ctem")
    }

    fn json(&self, args: &[&str]) -> Value {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).expect("json")
    }

    /// Exposure id -> its first CVE.
    fn cve_of(&self, id: i64) -> Option<String> {
        let v = self.json(&["exposure", &id.to_string(), "--json"]);
        v["exposure"]["cves"][0].as_str().map(str::to_string)
    }
}

#[test]
fn demo_paths_chokepoints_and_blast_radius() {
    let d = Demo::new();
    let paths = d.json(&["paths", "--top", "3", "--json"]);
    let paths = paths.as_array().unwrap();
    assert!(!paths.is_empty());
    // all to the log4j application, the one crown jewel, most likely first
    assert!(
        paths
            .iter()
            .all(|p| p["target"].as_str().unwrap().contains("log4j"))
    );
    let l: Vec<f64> = paths
        .iter()
        .map(|p| p["likelihood"].as_f64().unwrap())
        .collect();
    assert!(l.windows(2).all(|w| w[0] >= w[1]), "{l:?}");
    // the top path ends with the KEV-listed log4shell exploit
    let last = paths[0]["steps"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_eq!(last["cve"], "CVE-2021-44228");
    let entries: Vec<&str> = paths.iter().map(|p| p["entry"].as_str().unwrap()).collect();
    assert!(
        entries.contains(&"internet") && entries.contains(&"phishing"),
        "{entries:?}"
    );

    let c = d.json(&["chokepoints", "--json"]);
    let cut: Vec<i64> = c["min_cut"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_i64().unwrap())
        .collect();
    let mut cves: Vec<String> = cut.iter().filter_map(|&id| d.cve_of(id)).collect();
    cves.sort();
    // every path ends with a network exploit of log4j-core: the cut is those four CVEs
    assert_eq!(
        cves,
        [
            "CVE-2021-44228",
            "CVE-2021-44832",
            "CVE-2021-45046",
            "CVE-2021-45105"
        ]
    );
    let best = &c["ranking"][0];
    assert_eq!(best["cve"], "CVE-2021-44228");
    assert!(best["paths_cut"].as_u64().unwrap() >= 2);

    // ctem explain shows the factor: the best fix is on a path, the repository's exposure not
    let id = best["exposure"].as_i64().unwrap().to_string();
    let e = d.json(&["explain", &id, "--json"]);
    assert_eq!(e["attack_path"]["on_path_to_crown_jewel"], true);
    let top = paths[0]["likelihood"].as_f64().unwrap();
    assert!((e["attack_path"]["likelihood"].as_f64().unwrap() - top).abs() < 1e-9);
    // the repository (asset 4) is in a zone nobody reaches
    let listing = d.json(&["exposures", "--asset", "4", "--json"]);
    let rid = listing[0]["id"].as_i64().unwrap().to_string();
    assert_eq!(
        d.json(&["explain", &rid, "--json"])["attack_path"]["on_path_to_crown_jewel"],
        false
    );

    let r = d.json(&["paths", "--from", "testphp.vulnweb.com", "--json"]);
    let reached = r["reached"].as_array().unwrap();
    let jewel = reached
        .iter()
        .find(|x| x["crown_jewel"] == true)
        .expect("the jewel is reached");
    assert!(jewel["likelihood"].as_f64().unwrap() > 0.9, "{jewel}");

    // --to a non-jewel, and an unknown asset, are errors naming it
    let out = d.run(&["paths", "--to", "192.168.0.1"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a crown jewel"));
    let out = d.run(&["paths", "--from", "nope"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("no asset named \"nope\""));
}

#[test]
fn a_store_without_crown_jewels_says_how_to_name_them() {
    let env = Env::new();
    env.ok(&[
        "import",
        &examples("demo/nmap-testphp.xml").display().to_string(),
    ]);
    let out = env.run(&["paths"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no crown jewels"));
    // a bad [paths] section names the field
    std::fs::write(env.path("bad.toml"), "[paths]\nlateral_likelihood = 2.0\n").unwrap();
    let out = env.run(&[
        "--config",
        &env.path("bad.toml").display().to_string(),
        "paths",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("lateral_likelihood"));
}

#[test]
fn attack_techniques_and_show_with_rules_and_mitigations() {
    let env = Env::new();
    let bundle = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/attack/enterprise-attack-v15-excerpt.json");
    env.ok(&["intel", "import", &bundle.display().to_string()]);
    let rules = examples("scenarios/rules").display().to_string();
    let list = env.json(&[
        "attack",
        "techniques",
        "--tactic",
        "credential-access",
        "--rules",
        &rules,
        "--json",
    ]);
    let ids: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["T1003", "T1003.001"]);
    // two rules of examples/scenarios/rules are tagged T1003.001 (LSASS access, comsvcs dump)
    assert_eq!(list[1]["rules"], 2);
    let out = env.run(&["attack", "techniques", "--tactic", "nonsense"]);
    assert_eq!(out.status.code(), Some(1));

    let t = env.json(&["attack", "show", "T1059.001", "--rules", &rules, "--json"]);
    assert_eq!(t["name"], "PowerShell");
    assert_eq!(t["tactics"], serde_json::json!(["Execution"]));
    assert!(t["detection"].as_str().unwrap().contains("PowerShell"));
    assert!(
        t["data_sources"]
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d.as_str().unwrap().contains("Script"))
    );
    let mits: Vec<&str> = t["mitigations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert!(
        mits.contains(&"M1042") && mits.contains(&"M1045"),
        "{mits:?}"
    );
    let rule_ids: Vec<&str> = t["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert!(
        rule_ids.contains(&"ca8b77a9-d499-4095-b793-5d5f330d450e"),
        "{rule_ids:?}"
    );
    assert!(t["intel_links"].as_str().unwrap().starts_with("none"));
    let text = String::from_utf8(env.run(&["attack", "show", "T1059.001"]).stdout).unwrap();
    assert!(
        text.contains("mitigations:") && text.contains("pass --rules DIR"),
        "{text}"
    );
    let out = env.run(&["attack", "show", "T9999"]);
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn scenarios_on_the_demo_and_the_coverage_layer() {
    let d = Demo::new();
    let rules = examples("scenarios/rules").display().to_string();
    let file = examples("scenarios/phishing-to-ransomware.yml")
        .display()
        .to_string();
    let r = d.json(&["scenario", "run", &file, "--rules", &rules, "--json"]);
    assert_eq!(r["name"], "Phishing to ransomware");
    let steps = r["steps"].as_array().unwrap();
    assert_eq!(steps.len(), 5);
    for s in steps {
        for key in ["technique", "feasible", "detectable", "proven", "team"] {
            assert!(s.get(key).is_some(), "{key} missing in {s}");
        }
    }
    // the demo's workstation is a phishing entry; its users are local admins, and the DMZ
    // host shares their credential: every step is feasible
    assert!(steps.iter().all(|s| s["feasible"] == true), "{steps:?}");
    assert_eq!(
        steps[1]["proven"],
        serde_json::json!(["ca8b77a9-d499-4095-b793-5d5f330d450e"])
    );
    assert_eq!(
        steps[0]["evidence"]["assets"],
        serde_json::json!(["192.168.0.1"])
    );
    assert_eq!(steps[4]["team"], "it_operations");
    // the demo rehearsed its own scenario (a run and an exercise); this run is recorded too,
    // newest first, with the report the command printed
    let store = ctem_store::open(&d.env.path("d/ctem.db").display().to_string()).unwrap();
    let runs = store.scenario_runs(10).unwrap();
    assert_eq!(runs.len(), 2);
    assert_eq!(runs[0].name, "Phishing to ransomware");
    assert_eq!(runs[0].exercise_id, None);
    let stored: Value = serde_json::from_str(&runs[0].report).unwrap();
    assert_eq!(stored["steps"], r["steps"]);
    let demo_run: Value = serde_json::from_str(&runs[1].report).unwrap();
    let x = runs[1].exercise_id.expect("the demo opened an exercise");
    let tasks = store.exercise(x).unwrap().unwrap().tasks;
    assert_eq!(tasks.len(), 4);
    assert_eq!(tasks[3].team, "it_operations");
    // the demo's LSASS step is proven by its replay through the demo's rules
    assert!(
        !demo_run["steps"][1]["proven"]
            .as_array()
            .unwrap()
            .is_empty(),
        "{demo_run}"
    );
    drop(store);

    let layer = d.env.path("layer.json");
    let out = d.run(&[
        "coverage",
        "--rules",
        &rules,
        "--scenario",
        &file,
        "--scenario",
        &examples("scenarios/credential-theft-lateral.yml")
            .display()
            .to_string(),
        "--navigator",
        &layer.display().to_string(),
        "--json",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let cov: Value = serde_json::from_slice(&out.stdout).unwrap();
    let t1003 = cov
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["technique"] == "T1003.001")
        .unwrap();
    assert_eq!(t1003["score"], 3);
    let layer: Value = serde_json::from_str(&std::fs::read_to_string(&layer).unwrap()).unwrap();
    assert_eq!(
        ctem_paths::coverage::validate_layer(&layer),
        Vec::<String>::new()
    );
    assert_eq!(layer["versions"]["layer"], "4.5");
    let ids: Vec<&str> = layer["techniques"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["techniqueID"].as_str().unwrap())
        .collect();
    assert!(
        ids.contains(&"T1003.001") && ids.contains(&"T1021.003"),
        "{ids:?}"
    );

    // a scenario naming a missing replay file fails with its name
    std::fs::write(
        d.env.path("s.yml"),
        "name: x\nsteps:\n  - technique: T1059\n    replay: gone.evtx\n",
    )
    .unwrap();
    let out = d.run(&["scenario", "run", "s.yml", "--rules", &rules]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("gone.evtx"));
}

#[test]
fn a_scenario_opens_an_exercise_whose_tasks_record_ack_and_completion() {
    let d = Demo::new();
    let file = examples("scenarios/phishing-to-ransomware.yml")
        .display()
        .to_string();
    let r = d.json(&["scenario", "run", &file, "--exercise", "--json"]);
    let id = r["exercise"]["id"].as_i64().unwrap().to_string();
    let tasks = r["exercise"]["tasks"].as_array().unwrap();
    assert_eq!(tasks.len(), 5);
    assert_eq!(tasks[4]["team"], "it_operations");
    assert_eq!(
        tasks[4]["response"],
        "isolate the affected network segment and bring the backups online"
    );
    assert!(tasks.iter().all(|t| t.get("acked_at").is_none()));

    let t = d.json(&["exercise", "ack", &id, "2", "--json"]);
    assert!(t["acked_at"].is_string() && t.get("completed_at").is_none());
    // completing acknowledges too
    let t = d.json(&["exercise", "complete", &id, "5", "--json"]);
    assert_eq!(t["acked_at"], t["completed_at"]);
    // the same event twice, an unknown task: errors
    let out = d.run(&["exercise", "ack", &id, "2"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("already acknowledged"));
    let out = d.run(&["exercise", "complete", &id, "9"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("not found"));

    let x = d.json(&["exercise", "show", &id, "--json"]);
    let acked: Vec<i64> = x["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t.get("acked_at").is_some())
        .map(|t| t["step"].as_i64().unwrap())
        .collect();
    assert_eq!(acked, [2, 5]);
    // this one and the demo's own rehearsal
    let all = d.json(&["exercise", "list", "--json"]);
    assert_eq!(all.as_array().unwrap().len(), 2);

    // the acting user needs work_exercises, as in the server (docs/roles.md)
    let as_user = |user: &str| {
        Command::new(env!("CARGO_BIN_EXE_ctem"))
            .args(["--db", "d/ctem.db", "--config", "d/ctem.toml"])
            .args(["exercise", "ack", &id, "1"])
            .current_dir(d.env.dir.path())
            .env("CTEM_USER", user)
            .env_remove("CTEM_CONFIG")
            .env_remove("CTEM_DB")
            .output()
            .expect("run ctem")
    };
    let out = as_user("nobody");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("nobody"));
    let out = as_user("rita");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
