use std::path::Path;
use std::process::Command;

use serde_json::Value;

use crate::common::{Env, demo_file, fixture};

impl Env {
    /// `ctem import --json EXTRA FILES`: the summaries.
    fn import_json(&self, files: &[&Path], extra: &[&str]) -> Value {
        let mut args: Vec<String> = vec!["import".into(), "--json".into()];
        args.extend(extra.iter().map(|s| s.to_string()));
        args.extend(files.iter().map(|f| f.display().to_string()));
        let a: Vec<&str> = args.iter().map(String::as_str).collect();
        self.json(&a)
    }
}

#[test]
fn import_summary_matches_the_cli_contract() {
    let env = Env::new();
    let v = env.import_json(&[&fixture("trivy/alpine-310.json")], &[]);
    let s = &v[0];
    assert_eq!(s["format"], "trivy");
    assert!(
        s["file"]
            .as_str()
            .expect("file")
            .ends_with("alpine-310.json")
    );
    assert_eq!(s["assets"]["new"], 1);
    assert_eq!(s["assets"]["merged"], 0);
    assert_eq!(s["exposures"]["new"], 4);
    for k in ["unchanged", "fixed", "reopened"] {
        assert_eq!(s["exposures"][k], 0, "{k}");
    }
    assert!(s["issues"].as_array().expect("issues").is_empty());
}

#[test]
fn importing_the_same_file_twice_changes_nothing() {
    let env = Env::new();
    let f = fixture("trivy/kubernetes.json");
    let first = env.import_json(&[&f], &[]);
    let before = env.rows(&["exposures", "--status", "all", "--json"]);
    let second = env.import_json(&[&f], &[]);
    assert_eq!(first[0]["exposures"]["new"], 20);
    assert_eq!(second[0]["exposures"]["new"], 0);
    assert_eq!(second[0]["exposures"]["unchanged"], 20);
    assert_eq!(second[0]["exposures"]["fixed"], 0);
    assert_eq!(second[0]["assets"]["new"], 0);
    let after = env.rows(&["exposures", "--status", "all", "--json"]);
    let key = |v: &Vec<Value>| -> Vec<(Value, Value, Value)> {
        v.iter()
            .map(|e| {
                (
                    e["id"].clone(),
                    e["status"].clone(),
                    e["first_seen"].clone(),
                )
            })
            .collect()
    };
    assert_eq!(key(&before), key(&after));
}

#[test]
fn a_later_subset_scan_fixes_what_disappeared_and_a_full_one_reopens_it() {
    let env = Env::new();
    let full = fixture("trivy/kubernetes.json");
    let subset = fixture("trivy/kubernetes_fabricated_subset.json");
    env.import_json(&[&full], &[]);
    let s = env.import_json(&[&subset], &[]);
    assert_eq!(s[0]["exposures"]["unchanged"], 13);
    assert_eq!(s[0]["exposures"]["fixed"], 7);
    let fixed = env.rows(&["exposures", "--status", "fixed", "--json"]);
    assert_eq!(fixed.len(), 7);
    assert!(fixed.iter().all(|e| e["fixed_at"].is_string()));
    let s = env.import_json(&[&full], &[]);
    assert_eq!(s[0]["exposures"]["reopened"], 7);
    let id = fixed[0]["id"].as_i64().expect("id").to_string();
    let one = env.json(&["exposure", &id, "--json"]);
    let path: Vec<&str> = one["exposure"]["history"]
        .as_array()
        .expect("history")
        .iter()
        .map(|h| h["to"].as_str().expect("to"))
        .collect();
    assert_eq!(path, vec!["open", "fixed", "reopened"]);
}

#[test]
fn nmap_and_nessus_views_of_one_host_merge() {
    let env = Env::new();
    let v = env.import_json(
        &[&demo_file("nmap-testphp.xml"), &demo_file("testphp.nessus")],
        &[],
    );
    assert_eq!(v[0]["assets"]["new"], 1);
    assert_eq!(v[1]["assets"]["new"], 0);
    assert_eq!(v[1]["assets"]["merged"], 1);
    let assets = env.json(&["assets", "--json"]);
    assert_eq!(assets.as_array().expect("assets").len(), 1);
    let by_nessus = env.rows(&["exposures", "--tool", "nessus", "--json"]);
    let by_nmap = env.rows(&["exposures", "--tool", "nmap", "--json"]);
    assert_eq!(by_nessus.len(), 1);
    assert_eq!(by_nmap.len(), 3);
    assert_eq!(by_nessus[0]["asset_id"], by_nmap[0]["asset_id"]);
}

#[test]
fn a_broken_file_fails_with_its_name_and_writes_nothing() {
    let env = Env::new();
    env.import_json(&[&fixture("trivy/alpine-310.json")], &[]);
    let bytes = std::fs::read(fixture("nessus/nessus_was_many_vuln.xml")).expect("read");
    let broken = env.dir.path().join("broken.nessus");
    std::fs::write(&broken, &bytes[..bytes.len() * 2 / 3]).expect("write");
    let out = env.run(&["import", &broken.display().to_string()]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("broken.nessus") && err.contains("byte"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "one line: {err}");
    let scans = env.json(&["scans", "--json"]);
    assert_eq!(
        scans.as_array().expect("scans").len(),
        1,
        "only the good import"
    );
    assert_eq!(
        env.rows(&["exposures", "--json"]).len(),
        4,
        "stored data untouched"
    );
}

#[test]
fn strict_mode_refuses_files_with_bad_records() {
    let env = Env::new();
    let f = fixture("trivy/legacy_trivy_mix.json");
    let out = env.run(&["import", "--strict", &f.display().to_string()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--strict"));
    assert!(
        env.json(&["scans", "--json"])
            .as_array()
            .expect("scans")
            .is_empty()
    );
    let v = env.import_json(&[&f], &[]);
    assert_eq!(v[0]["issues"][0]["record"], "[0].Vulnerabilities[0]");
}

#[test]
fn usage_errors_and_unknown_values_exit_2_and_refused_files_exit_1() {
    let env = Env::new();
    assert_eq!(env.run(&["import"]).status.code(), Some(2));
    assert_eq!(env.run(&["no-such-command"]).status.code(), Some(2));
    let out = env.run(&["exposures", "--severity", "bogus"]);
    assert_eq!(out.status.code(), Some(2));
    let out = env.run(&["import", "--format", "nope", "x.json"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("possible values"));
    let html = fixture("refused/alpine-310.html");
    let out = env.run(&["import", &html.display().to_string()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("HTML page"));
}

#[test]
fn exposure_filters() {
    let env = Env::new();
    env.import_json(
        &[
            &fixture("trivy/all_statuses.json"),
            &fixture("nmap/issue4406.xml"),
            &fixture("sarif/gitleaks_7.5.0.sarif"),
        ],
        &["--scope", "lab"],
    );
    let all = env.rows(&["exposures", "--json"]);
    let medium_up = env.rows(&["exposures", "--severity", "medium", "--json"]);
    assert!(medium_up.len() < all.len() && !medium_up.is_empty());
    assert!(medium_up.iter().all(|e| ["medium", "high", "critical"].contains(&e["severity"].as_str().expect("sev"))));
    let cve = env.rows(&["exposures", "--cve", "cve-2011-3374", "--json"]);
    assert_eq!(cve.len(), 1);
    // gitleaks reports 8 results: the same 4 secrets (file and line) in two commits each,
    // which is 4 secrets to rotate
    let secrets = env.rows(&["exposures", "--tool", "Gitleaks", "--json"]);
    assert_eq!(secrets.len(), 4);
    assert!(secrets.iter().all(|e| e["kind"] == "secret"));
    let limited = env.rows(&["exposures", "--limit", "3", "--json"]);
    assert_eq!(limited.len(), 3);
    let host = env.rows(&["exposures", "--asset", "10.250.195.71", "--json"]);
    assert_eq!(host.len(), 33);
    let scans = env.json(&["scans", "--json"]);
    assert!(
        scans
            .as_array()
            .expect("scans")
            .iter()
            .all(|s| s["scope"] == "lab" && s["sha256"].as_str().is_some_and(|h| h.len() == 64))
    );
}

#[test]
fn formats_lists_the_registry() {
    let env = Env::new();
    let v = env.json(&["formats", "--json"]);
    let names: Vec<&str> = v
        .as_array()
        .expect("list")
        .iter()
        .map(|f| f["name"].as_str().expect("name"))
        .collect();
    for n in ["nmap", "nessus", "trivy", "sarif"] {
        assert!(names.contains(&n), "{n}");
    }
}

#[test]
fn demo_builds_a_fresh_store_and_reports() {
    let env = Env::new();
    let out = Command::new(env!("CARGO_BIN_EXE_ctem"))
        .args(["demo", "--dir", "d"])
        .current_dir(env.dir.path())
        .output()
        .expect("demo");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("as one asset"), "{text}");
    // the rehearsal the dashboard's scenarios page shows: a run and an exercise
    assert!(
        text.contains("rehearse: scenario \"Demo rehearsal, web server to crown jewel\": 4 steps"),
        "{text}"
    );
    assert!(text.contains("1 proven by replay"), "{text}");
    assert!(text.contains("exercise #1 opened: 4 tasks"), "{text}");
    assert!(env.dir.path().join("d/ctem.db").exists());
    // a second run into the same folder refuses instead of mixing data
    let again = Command::new(env!("CARGO_BIN_EXE_ctem"))
        .args(["demo", "--dir", "d"])
        .current_dir(env.dir.path())
        .output()
        .expect("demo");
    assert_eq!(again.status.code(), Some(1));
}

#[test]
fn accepting_an_exposure_by_hand_is_kept_explained_and_lowers_its_risk() {
    let env = Env::new();
    env.import_json(&[&fixture("trivy/alpine-310.json")], &[]);
    let before = env.json(&["explain", "1", "--json"]);
    let usage = env.run(&["exposure", "1", "--set", "accepted"]);
    assert_eq!(usage.status.code(), Some(2), "--set needs --reason");
    let out = env.run(&["exposure", "1", "--set", "bogus", "--reason", "x"]);
    assert_eq!(out.status.code(), Some(2), "a bad status is a usage error");
    let v = env.json(&[
        "exposure",
        "1",
        "--set",
        "accepted",
        "--reason",
        "compensating WAF rule",
        "--json",
    ]);
    assert_eq!(v["exposure"]["status"], "accepted");
    let last = v["exposure"]["history"]
        .as_array()
        .expect("history")
        .last()
        .cloned();
    assert_eq!(
        last.as_ref().map(|h| h["reason"].clone()),
        Some("compensating WAF rule".into())
    );
    let after = env.json(&["explain", "1", "--json"]);
    assert!(
        after["risk"]["score"].as_f64() < before["risk"]["score"].as_f64(),
        "{} -> {}",
        before["risk"]["score"],
        after["risk"]["score"]
    );
    // a re-import keeps the decision
    let s = env.import_json(&[&fixture("trivy/alpine-310.json")], &[]);
    assert_eq!(s[0]["exposures"]["unchanged"], 4);
    assert_eq!(
        env.json(&["exposure", "1", "--json"])["exposure"]["status"],
        "accepted"
    );
}

#[test]
fn sbom_components_become_the_package_inventory_of_their_asset() {
    let env = Env::new();
    let f = fixture("spdx/julia-spdx.json.golden");
    let v = env.import_json(&[&f], &["--format", "spdx"]);
    assert_eq!(v[0]["packages"], 5);
    let assets = env.json(&["assets", "--json"]);
    let id = assets[0]["id"].as_i64().expect("id").to_string();
    let pkgs = env.json(&["packages", &id, "--json"]);
    let names: Vec<&str> = pkgs
        .as_array()
        .expect("list")
        .iter()
        .map(|p| p["name"].as_str().expect("name"))
        .collect();
    // the SBOM lists B 1.9.0 twice (two SPDX ids): one package of the inventory
    assert_eq!(
        names,
        vec!["A", "B", "Manifest.toml", "testdata/fixtures/repo/julia"]
    );
    // a second import of the same SBOM adds nothing
    env.import_json(&[&f], &["--format", "spdx"]);
    assert_eq!(
        env.json(&["packages", &id, "--json"])
            .as_array()
            .map(Vec::len),
        Some(4)
    );
    assert_eq!(env.run(&["packages", "999"]).status.code(), Some(1));
}
