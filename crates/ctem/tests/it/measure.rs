//! `ctem incidents`, `incident --set`, `kpi`, `goals`, `assess`, `review` end to end: the
//! demo's events run through `ctem detect --store` on a store with a real scan.

use crate::common::{Env, demo_file};

const NOW: &str = "2026-12-01T12:00:00Z";

/// A store with the demo's nmap + Nessus scan and the two OTRF LSASS samples detected.
fn detected() -> Env {
    let env = Env::new();
    env.ok(&["import", demo_file("testphp.nessus").to_str().unwrap()]);
    env.ok(&["teams", "user", "rita", "--role", "incident_responder"]);
    env.ok(&["teams", "user", "vic", "--role", "viewer"]);
    let out = env.run_env(
        &[
            "detect",
            "--store",
            "--rules",
            demo_file("rules").to_str().unwrap(),
            demo_file("events").to_str().unwrap(),
        ],
        &[("CTEM_NOW", NOW)],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    env
}

#[test]
fn alerts_become_incidents_with_an_owner_and_states_need_a_responder() {
    let env = detected();
    let list = env.rows(&["incidents", "--json"]);
    assert_eq!(list.len(), 3, "{list:?}");
    let alerts: u64 = list.iter().map(|i| i["alerts"].as_u64().unwrap()).sum();
    assert_eq!(alerts, 25, "every stored alert is in one incident");
    assert!(
        list.iter()
            .all(|i| i["owner"] == "rita" && i["state"] == "new")
    );
    assert!(list.iter().all(|i| i["key_value"] == "WORKSTATION5"));
    // grouping again (ctem incidents runs it) changes nothing
    assert_eq!(env.rows(&["incidents", "--json"]).len(), 3);
    let id = list[0]["id"].as_i64().unwrap().to_string();
    let denied = env.run_env(
        &["incident", &id, "--set", "resolved"],
        &[("CTEM_USER", "vic")],
    );
    assert_eq!(denied.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&denied.stderr).contains("may not change incidents"));
    let ok = env.run_env(
        &["incident", &id, "--set", "contained", "--json"],
        &[("CTEM_USER", "rita"), ("CTEM_NOW", "2026-12-01T13:00:00Z")],
    );
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&ok.stdout).unwrap();
    assert_eq!(v["incident"]["state"], "contained");
    assert_eq!(v["incident"]["contained_at"], "2026-12-01T13:00:00Z");
    assert_eq!(v["history"][0]["actor"], "rita");
    let bad = env.run(&["incident", &id, "--set", "closed"]);
    assert_eq!(bad.status.code(), Some(2), "clap refuses an unknown state");
}

#[test]
fn kpis_say_what_is_missing_and_goals_read_ctem_toml() {
    let env = detected();
    env.run_env(&["kpi", "--snapshot"], &[("CTEM_NOW", NOW)]);
    let k = env.rows(&["kpi", "--json"]);
    let get = |id: &str| k.iter().find(|x| x["id"] == id).cloned().unwrap();
    assert_eq!(get("mttd.hours")["n"], 14, "the alerts with an event time");
    assert!(get("mttd.hours")["value"].as_f64().unwrap() > 0.0);
    // the 13 demo rules name 7 techniques (T1003, T1003.001, T1036, T1218.011, T1588.002,
    // T1685, T1685.005); the OTRF samples feed every logsource they are written for
    // (Sysmon process access, creation, file events; the Security channel)
    assert_eq!(
        (
            get("coverage.techniques")["value"].as_f64(),
            get("coverage.techniques")["n"].as_u64()
        ),
        (Some(1.0), Some(7))
    );
    assert_eq!(get("alerts.correlation_share")["value"].as_f64(), Some(0.0));
    assert!(
        get("kev_open.total")["missing"]
            .as_str()
            .unwrap()
            .contains("KEV")
    );
    std::fs::write(
        env.path("ctem.toml"),
        "[[goals]]\nkpi = \"coverage.scanned_assets\"\nop = \">=\"\ntarget = 0.95\nowner = \"vm\"\ndue = \"2027-03-31\"\n\
         [[goals]]\nkpi = \"coverage.techniques\"\nop = \">=\"\ntarget = 0.6\n",
    )
    .unwrap();
    let g = env.rows(&["goals", "--json"]);
    assert_eq!(g[0]["status"], "met");
    assert_eq!(g[1]["status"], "met");
    std::fs::write(
        env.path("ctem.toml"),
        "[[goals]]\nkpi = \"nope\"\nop = \"<\"\ntarget = 1\n",
    )
    .unwrap();
    let bad = env.run(&["goals"]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("unknown kpi"));
}

#[test]
fn assess_and_review_write_reports_and_a_review_is_recorded() {
    let env = detected();
    let html = env.path("a.html");
    let out = env.run_env(
        &[
            "assess",
            "--format",
            "html",
            "--out",
            html.to_str().unwrap(),
        ],
        &[("CTEM_NOW", NOW)],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(&html).unwrap();
    assert!(text.starts_with("<!DOCTYPE html>") && text.contains("<svg"));
    assert!(!text.contains("<script") && !text.contains("<link"));
    let md = env.ok(&["assess"]);
    assert!(md.contains("## Top actions") && md.contains("## Data sources"));
    let first = env.run_env(&["review"], &[("CTEM_NOW", NOW)]);
    assert!(String::from_utf8_lossy(&first.stdout).contains("First review"));
    let second = env.run_env(&["review"], &[("CTEM_NOW", "2026-12-08T12:00:00Z")]);
    let s = String::from_utf8_lossy(&second.stdout);
    assert!(s.contains("since 2026-12-01 12:00 UTC"), "{s}");
}
