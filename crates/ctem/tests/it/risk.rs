//! `ctem cvss`, `explain`, `top`, SSVC policy, SLA and the demo, end to end on real reports
//! (examples/demo, the Trivy fixtures) and real KEV / EPSS files.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::common::{Env, demo_file, trivy_fixture};

impl Env {
    pub fn import(&self, files: &[PathBuf]) {
        let mut args = vec!["import".to_string(), "--json".into()];
        args.extend(files.iter().map(|f| f.display().to_string()));
        let a: Vec<&str> = args.iter().map(String::as_str).collect();
        self.ok(&a);
    }

    pub fn intel(&self, files: &[PathBuf]) {
        let mut args = vec!["intel".to_string(), "import".into(), "--json".into()];
        args.extend(files.iter().map(|f| f.display().to_string()));
        let a: Vec<&str> = args.iter().map(String::as_str).collect();
        self.ok(&a);
    }

    /// Every exposure of the store (`exposures --status all --json`, one object a line).
    pub fn exposures(&self) -> Vec<Value> {
        self.rows(&["exposures", "--status", "all", "--json"])
    }

    pub fn explain(&self, id: i64) -> Value {
        self.json(&["explain", &id.to_string(), "--json"])
    }
}

/// The demo's scanner reports plus the log4j SBOM, then KEV and the EPSS excerpt.
fn demo_store() -> Env {
    let env = Env::new();
    env.import(&[
        demo_file("trivy-alpine-310.json"),
        demo_file("nmap-vulners.xml"),
        demo_file("testphp.nessus"),
        demo_file("cyclonedx-log4j.json"),
    ]);
    env.intel(&[demo_file("kev.json"), demo_file("epss-excerpt.csv")]);
    env
}

fn id_of(e: &Value) -> i64 {
    e["id"].as_i64().expect("id")
}

fn has_cve(e: &Value, cve: &str) -> bool {
    e["cves"]
        .as_array()
        .is_some_and(|a| a.iter().any(|c| c == cve))
}

/// The KEV due date of a CVE, read from the KEV file itself.
fn kev_due(cve: &str) -> String {
    let kev: Value =
        serde_json::from_slice(&std::fs::read(demo_file("kev.json")).expect("kev")).expect("json");
    kev["vulnerabilities"]
        .as_array()
        .expect("vulnerabilities")
        .iter()
        .find(|v| v["cveID"] == cve)
        .and_then(|v| v["dueDate"].as_str())
        .expect("listed")
        .to_string()
}

fn prio_rank(p: &Value) -> u8 {
    match p.as_str().expect("priority") {
        "P1" => 1,
        "P2" => 2,
        "P3" => 3,
        "P4" => 4,
        other => panic!("priority {other}"),
    }
}

#[test]
fn cvss_json_for_v31_v2_temporal_and_v40_and_an_error_naming_the_metric() {
    let env = Env::new();
    let v = env.json(&[
        "cvss",
        "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
        "--json",
    ]);
    assert_eq!(v["version"], "3.1");
    assert_eq!(v["base_score"], 9.8);
    assert_eq!(v["severity"], "critical");
    assert_eq!(v["vector"], "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H");
    // v2 with temporal metrics: base 10.0, temporal 10 * 0.85 * 0.87 * 0.9 = 6.7
    let v = env.json(&[
        "cvss",
        "AV:N/AC:L/Au:N/C:C/I:C/A:C/E:U/RL:OF/RC:UC",
        "--json",
    ]);
    assert_eq!(v["version"], "2.0");
    assert_eq!(v["base_score"], 10.0);
    assert_eq!(v["temporal_score"], 6.7);
    // v4.0 with a threat metric: CVSS-BT (FIRST calculator: 9.3 base, 8.9 with E:P)
    let v = env.json(&[
        "cvss",
        "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N/E:P",
        "--json",
    ]);
    assert_eq!(v["version"], "4.0");
    assert_eq!(v["base_score"], 9.3);
    assert_eq!(v["score"], 8.9);
    assert_eq!(v["nomenclature"], "CVSS-BT");
    assert_eq!(v["severity"], "high");
    let v = env.json(&[
        "cvss",
        "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N",
        "--json",
    ]);
    assert_eq!(v["score"], 9.3);
    assert_eq!(v["nomenclature"], "CVSS-B");
    // malformed: a value AV does not allow; exit 1, one line naming the metric
    let out = env.run(&[
        "cvss",
        "CVSS:3.1/AV:Q/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("AV"), "{err}");
    assert!(out.stdout.is_empty());
    // missing base metric
    let out = env.run(&["cvss", "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("A"), "{err}");
}

#[test]
fn explain_log4j_is_kev_listed_highest_with_every_factor_and_kev_capped_sla() {
    let env = demo_store();
    let all = env.exposures();
    assert!(all.len() >= 16, "{}", all.len());
    let log4j = all
        .iter()
        .find(|e| has_cve(e, "CVE-2021-44228"))
        .expect("log4shell imported from the SBOM");
    let x = env.explain(id_of(log4j));
    assert_eq!(x["cve"], "CVE-2021-44228");
    assert_eq!(x["input"]["kev"], true);
    assert_eq!(x["input"]["cvss_base_score"], 10.0);
    let risk = &x["risk"];
    // every factor of the model, with its weight, contributions adding up to the score
    let factors = risk["factors"].as_array().expect("factors");
    let names: Vec<&str> = factors
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "kev",
            "kev_ransomware",
            "epss",
            "exploit_public",
            "severity",
            "exposure",
            "asset_criticality",
            "vex_not_affected",
            "accepted_risk",
            "no_fix_available"
        ]
    );
    for f in factors {
        assert!(f["weight"].as_f64().is_some(), "{f}");
        assert!(!f["reason"].as_str().unwrap().is_empty(), "{f}");
    }
    let weight = |n: &str| factors.iter().find(|f| f["name"] == n).unwrap()["weight"].as_f64();
    assert_eq!(weight("kev"), Some(25.0));
    assert_eq!(weight("epss"), Some(15.0));
    let sum: f64 = factors
        .iter()
        .map(|f| f["contribution"].as_f64().unwrap())
        .sum();
    let score = risk["score"].as_f64().unwrap();
    assert!((sum - score).abs() < 0.06, "{sum} vs {score}");
    assert!(
        factors.iter().find(|f| f["name"] == "kev").unwrap()["contribution"].as_f64() > Some(0.0)
    );
    // the EPSS excerpt's probability for log4shell
    assert!(x["input"]["epss_probability"].as_f64() > Some(0.9));
    // highest score and priority of the store
    let mut best_other = 0.0f64;
    for e in &all {
        let o = env.explain(id_of(e));
        assert!(
            prio_rank(&o["risk"]["priority"]) >= prio_rank(&risk["priority"]),
            "{o}"
        );
        if id_of(e) != id_of(log4j) {
            best_other = best_other.max(o["risk"]["score"].as_f64().unwrap());
        }
    }
    assert!(score >= best_other, "{score} < {best_other}");
    // SLA: opened today, capped by the KEV due date (in the past), so breached
    let sla = &x["sla"];
    assert_eq!(sla["due"], kev_due("CVE-2021-44228"));
    assert_eq!(sla["capped_by_kev"], true);
    assert_eq!(sla["breached"], true);
    assert_eq!(sla["days_open"], 0);
    assert!(sla["days_left"].as_i64() < Some(0));
    // the human explanation lists the factors too
    let text = env.ok(&["explain", &id_of(log4j).to_string()]);
    for n in [
        "kev",
        "epss",
        "severity",
        "asset_criticality",
        "weight 25",
        "capped by the KEV",
    ] {
        assert!(text.contains(n), "{n}: {text}");
    }
    // the log4j ticket carries the KEV due date, breached
    let tickets = env.json(&["tickets", "--json"]);
    let t = tickets
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["package"] == "log4j-core")
        .expect("log4j ticket");
    assert_eq!(t["due"], kev_due("CVE-2021-44228"));
    assert_eq!(t["breached"], true);
    assert!(t["kev"].as_u64() >= Some(2), "{t}");
    assert_eq!(t["priority"], risk["priority"]);
}

#[test]
fn vex_not_affected_lowers_the_score_and_leaves_top() {
    let env = Env::new();
    env.import(&[Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../ctem-ingest/tests/fixtures/openvex/openvex-demo2.json")]);
    let all = env.exposures();
    // same package, same asset, no CVSS or intel: one not_affected, one fixed (not a VEX
    // not_affected: its score is not lowered)
    let libssl = |cve: &str| {
        all.iter()
            .find(|e| has_cve(e, cve) && e["package"]["name"] == "libssl3")
            .map(id_of)
            .expect(cve)
    };
    let plain = env.explain(libssl("CVE-2023-2975"));
    let vex = env.explain(libssl("CVE-2023-3446"));
    assert_eq!(vex["input"]["vex_not_affected"], true);
    assert_eq!(plain["input"]["vex_not_affected"], false);
    let s_plain = plain["risk"]["score"].as_f64().unwrap();
    let s_vex = vex["risk"]["score"].as_f64().unwrap();
    assert!(
        (s_vex - (s_plain * 0.05)).abs() < 0.11,
        "{s_vex} vs {s_plain}"
    );
    let f = vex["risk"]["factors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == "vex_not_affected")
        .unwrap()
        .clone();
    assert!(f["contribution"].as_f64() < Some(0.0), "{f}");
    assert_eq!(vex["risk"]["priority"], "P4");
    // nothing of libssl3 is left to act on: the document states every CVE of it `fixed`
    // (closed) or `not_affected` (false positive), so `top` has no group for it
    let top = env.json(&["top", "--json"]);
    assert!(
        top.as_array()
            .unwrap()
            .iter()
            .all(|g| g["package"] != "libssl3"),
        "{top}"
    );
    let open_libssl = all
        .iter()
        .filter(|e| e["package"]["name"] == "libssl3")
        .filter(|e| e["status"] == "open")
        .count();
    assert_eq!(open_libssl, 0);
}

#[test]
fn ssvc_policy_from_ctem_toml_sets_the_decision_and_the_priority() {
    let env = demo_store();
    let all = env.exposures();
    let log4j = id_of(all.iter().find(|e| has_cve(e, "CVE-2021-44228")).unwrap());
    let default = env.explain(log4j);
    assert_eq!(default["risk"]["policy"], "risk_score");
    std::fs::write(
        env.dir.path().join("ctem.toml"),
        "[risk]\npolicy = \"ssvc\"\n[risk.sla]\nact_days = 3\n",
    )
    .unwrap();
    let expect_prio = |d: &str| match d {
        "act" => "P1",
        "attend" => "P2",
        "track_star" => "P3",
        "track" => "P4",
        other => panic!("ssvc decision {other}"),
    };
    let mut decisions = BTreeSet::new();
    for e in &all {
        let x = env.explain(id_of(e));
        let risk = &x["risk"];
        assert_eq!(risk["policy"], "ssvc");
        let d = risk["ssvc"].as_str().unwrap().to_string();
        if e["status"] == "open" && x["input"]["vex_not_affected"] == false {
            assert_eq!(risk["priority"], expect_prio(&d), "{x}");
        }
        // SLA per SSVC outcome (act_days from [risk.sla]), opened today, unless KEV caps it
        if x["sla"]["capped_by_kev"] == false {
            let days = match d.as_str() {
                "act" => 3,
                "attend" => 30,
                "track_star" => 90,
                _ => 180,
            };
            assert_eq!(x["sla"]["days_left"], days, "{x}");
            assert_eq!(x["sla"]["breached"], false);
        }
        decisions.insert(d);
    }
    assert!(decisions.len() >= 2, "{decisions:?}");
    // log4shell: active exploitation, automatable, total impact, medium mission -> Act
    let x = env.explain(log4j);
    assert_eq!(x["ssvc_inputs"]["exploitation"], "active");
    assert_eq!(x["risk"]["ssvc"], "act");
    assert_eq!(x["risk"]["priority"], "P1");
    let text = env.ok(&["explain", &log4j.to_string()]);
    assert!(text.contains("SSVC Act"), "{text}");
    // tickets follow the policy after a sync: the log4j ticket is P1
    env.ok(&["tickets", "sync"]);
    let tickets = env.json(&["tickets", "--json"]);
    let t = tickets
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["package"] == "log4j-core")
        .unwrap();
    assert_eq!(t["priority"], "P1");
}

#[test]
fn top_groups_a_real_trivy_report_by_remediation_ordered_by_risk_removed() {
    let env = Env::new();
    env.import(&[trivy_fixture("kubernetes.json")]);
    let all = env.exposures();
    // expected groups from the stored exposures: (package or title, has a fix)
    #[derive(Default, Debug)]
    struct G {
        assets: BTreeSet<i64>,
        exposures: u64,
        risk: f64,
    }
    let mut expected: BTreeMap<(String, bool), G> = BTreeMap::new();
    for e in &all {
        let (name, fix) = match e["package"].as_object() {
            Some(p) => (
                p["name"].as_str().unwrap().to_string(),
                p.get("fixed_version")
                    .and_then(Value::as_str)
                    .is_some_and(|f| !f.is_empty()),
            ),
            None => (e["title"].as_str().unwrap().to_string(), false),
        };
        let g = expected.entry((name, fix)).or_default();
        g.assets.insert(e["asset_id"].as_i64().unwrap());
        g.exposures += 1;
        g.risk += env.explain(id_of(e))["risk"]["score"].as_f64().unwrap();
    }
    let top = env.json(&["top", "--json"]);
    let top = top.as_array().unwrap();
    assert_eq!(top.len(), expected.len(), "{top:?}");
    for g in top {
        let action = g["action"].as_str().unwrap();
        let key = match g["target_version"].as_str() {
            Some(v) => {
                assert_eq!(
                    action,
                    format!("upgrade {} to {v}", g["package"].as_str().unwrap())
                );
                (g["package"].as_str().unwrap().to_string(), true)
            }
            None if action.starts_with("mitigate ") => {
                (g["package"].as_str().unwrap().to_string(), false)
            }
            None => (action.trim_start_matches("remediate ").to_string(), false),
        };
        let e = expected
            .get(&key)
            .unwrap_or_else(|| panic!("{key:?} not expected"));
        assert_eq!(g["exposures"].as_u64(), Some(e.exposures), "{key:?}");
        assert_eq!(g["assets"].as_u64(), Some(e.assets.len() as u64), "{key:?}");
        assert!(
            (g["risk_removed"].as_f64().unwrap() - e.risk).abs() < 0.2,
            "{key:?}"
        );
    }
    // the fixed and unfixed apt vulnerabilities are separate actions
    assert!(top.iter().any(|g| g["action"] == "upgrade apt to 1.8.2.2"));
    assert!(
        top.iter()
            .any(|g| g["action"] == "mitigate apt (no fixed version)")
    );
    // bsdutils: 2 CVEs on 2 workloads, the most risk removed
    assert_eq!(top[0]["package"], "bsdutils");
    assert_eq!(top[0]["exposures"], 4);
    assert_eq!(top[0]["assets"], 2);
    let removed: Vec<f64> = top
        .iter()
        .map(|g| g["risk_removed"].as_f64().unwrap())
        .collect();
    assert!(removed.windows(2).all(|w| w[0] >= w[1]), "{removed:?}");
    // --limit and the human sentence
    assert_eq!(
        env.json(&["top", "--json", "--limit", "2"])
            .as_array()
            .unwrap()
            .len(),
        2
    );
    let text = env.ok(&["top"]);
    assert!(
        text.contains(
            "mitigate bsdutils (no fixed version) on 2 assets: closes 4 exposures, 0 in KEV"
        ),
        "{text}"
    );
}

#[test]
fn demo_prints_top_tickets_for_two_teams_and_an_explanation() {
    let env = Env::new();
    let dir = env.dir.path().join("demo");
    let out = env.ok(&["demo", "--dir", &dir.display().to_string()]);
    let top = out
        .find("what to fix first (ctem top)")
        .expect("top section");
    let tickets = out
        .find("tickets per owning team")
        .expect("tickets section");
    let why = out.find("why (ctem explain").expect("explanation");
    assert!(top < tickets && tickets < why, "{out}");
    let section = &out[top..tickets];
    assert!(section.contains("   1. "), "{section}");
    assert!(section.contains(" in KEV"), "{section}");
    for team in ["it_operations", "platform"] {
        let line = out[tickets..why]
            .lines()
            .find(|l| l.trim_start().starts_with(&format!("{team}:")))
            .unwrap_or_else(|| panic!("{team}: {out}"));
        let n: u64 = line
            .split_whitespace()
            .nth(1)
            .and_then(|n| n.parse().ok())
            .unwrap_or(0);
        assert!(n > 0, "{line}");
    }
    let explanation = &out[why..];
    for f in ["kev", "epss", "severity", "SLA: due"] {
        assert!(explanation.contains(f), "{f}: {explanation}");
    }
}

/// A store whose scores were reset (as migration 21 does) is re-prioritised when a command
/// opens it, so `top` and `explain` read the same as before the reset.
#[test]
fn a_store_whose_scores_were_reset_is_reprioritised_when_opened() {
    let env = Env::new();
    env.import(&[trivy_fixture("kubernetes.json")]);
    let before = env.json(&["top", "--json"]);
    assert!(!before.as_array().expect("list").is_empty());
    {
        let c = rusqlite::Connection::open(env.db()).expect("open store");
        let n = c
            .execute("DELETE FROM exposure_risk", [])
            .expect("reset scores");
        assert!(n > 0);
    }
    assert_eq!(env.json(&["top", "--json"]), before);
}
