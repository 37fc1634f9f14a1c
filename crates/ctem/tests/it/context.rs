//! Asset context end to end: the demo's inventory puts the Log4Shell mitigation on the
//! crown jewel first, inventory imports and context rules with their sources in
//! `ctem assets --json`, external-vantage scans, KEV status in `explain`, and `top` without
//! informational findings.

use serde_json::Value;

use crate::common::{Env, demo_file};

fn asset<'a>(assets: &'a Value, name: &str) -> &'a Value {
    assets
        .as_array()
        .expect("array")
        .iter()
        .find(|a| a["name"] == name)
        .unwrap_or_else(|| panic!("{name} not listed: {assets:#}"))
}

#[test]
fn demo_top_is_the_log4shell_mitigation_on_the_crown_jewel_at_p1() {
    let env = Env::new();
    // the demo builds the store the other commands read: the env's own ctem.db
    let out = env.ok(&["demo", "--dir", &env.dir.path().display().to_string()]);
    assert!(out.contains("never scanned"), "{out}");
    let run = |args: &[&str]| -> Value { env.json(args) };
    let top = run(&["top", "--json"]);
    let first = &top[0];
    assert_eq!(
        first["action"], "mitigate log4j-core (no fixed version)",
        "{top:#}"
    );
    assert_eq!(first["priority"], "P1");
    assert_eq!(first["kev"], 2);
    // the crown jewel: the inventory made the log4j application criticality 5, internet-facing
    let assets = run(&["assets", "--json"]);
    let app = asset(
        &assets,
        "./configuration/.m2/repository/org/apache/logging/log4j/log4j-core/2.13.2",
    );
    assert_eq!(app["facts"]["criticality"]["value"], 5);
    assert_eq!(app["facts"]["criticality"]["source"], "inventory");
    assert_eq!(app["facts"]["internet_facing"]["value"], true);
    assert!(
        app["tags"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t == "crown-jewel")
    );
    let db_host = asset(&assets, "payments-db.corp.example");
    assert_eq!(db_host["never_scanned"], true);
    assert_eq!(app["never_scanned"], false);
    // explain on Log4Shell: P1, KEV read from the catalog, nothing about the context missing
    let log4shell = env.rows(&["exposures", "--cve", "CVE-2021-44228", "--json"]);
    let id = log4shell[0]["id"].as_i64().expect("id");
    let x = run(&["explain", &id.to_string(), "--json"]);
    assert_eq!(x["risk"]["priority"], "P1", "{x:#}");
    assert_eq!(x["input"]["kev"], true);
    let missing: Vec<&str> = x["missing"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["fact"].as_str().unwrap())
        .collect();
    assert!(
        !missing.contains(&"asset_criticality") && !missing.contains(&"exposure"),
        "{missing:?}"
    );
    // a finding without a CVE (the SARIF taint results) has no KEV or EPSS to supply
    let all = env.rows(&["exposures", "--json"]);
    let no_cve = all
        .iter()
        .find(|e| e["cves"].as_array().is_none_or(|a| a.is_empty()) && e["port"].is_null())
        .expect("a finding without a CVE");
    let x = run(&["explain", &no_cve["id"].to_string(), "--json"]);
    let facts: Vec<&str> = x["missing"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["fact"].as_str().unwrap())
        .collect();
    assert!(
        !facts.contains(&"epss") && !facts.contains(&"kev"),
        "{facts:?}"
    );
}

#[test]
fn explain_reads_kev_status_from_the_stored_catalog_and_lists_missing_facts() {
    let env = Env::new();
    env.ok(&["import", demo_file("nmap-testphp.xml").to_str().unwrap()]);
    let exposures = env.rows(&["exposures", "--cve", "CVE-2021-23017", "--json"]);
    let id = exposures[0]["id"].as_i64().expect("id").to_string();
    let before = env.ok(&["explain", &id]);
    assert!(before.contains("KEV status unknown"), "{before}");
    assert!(before.contains("ctem intel import"), "{before}");
    env.ok(&["intel", "import", demo_file("kev.json").to_str().unwrap()]);
    // regression: with the catalog stored, a CVE it does not list is "not in KEV"
    let after = env.ok(&["explain", &id]);
    assert!(after.contains("not in CISA KEV"), "{after}");
    assert!(!after.contains("KEV status unknown"), "{after}");
    let x = env.json(&["explain", &id, "--json"]);
    assert_eq!(x["input"]["kev"], false);
    let missing: Vec<&str> = x["missing"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["fact"].as_str().unwrap())
        .collect();
    assert_eq!(missing, ["epss", "exposure", "asset_criticality"], "{x:#}");
    let how = x["missing"][2]["how"].as_str().unwrap();
    assert!(how.contains("--format inventory"), "{how}");
    assert!(after.contains("missing facts"), "{after}");
}

#[test]
fn inventory_and_rules_set_facts_with_their_sources_and_vantage_marks_internet_facing() {
    let env = Env::new();
    std::fs::write(
        env.path("ctem.toml"),
        "[[context.rules]]\nkind = \"host\"\ncriticality = 2\nzone = \"internal\"\n\
         [[context.rules]]\nname = \"testphp*\"\ncriticality = 4\n\
         [[context.rules]]\ncidr = \"10.20.0.0/16\"\nteam = \"payments\"\n",
    )
    .unwrap();
    let nmap = demo_file("nmap-testphp.xml");
    // --vantage applies to port scans only
    let bad = env.run(&[
        "import",
        "--vantage",
        "external",
        "--format",
        "trivy",
        nmap.to_str().unwrap(),
    ]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("--vantage applies to port scans"),
        "{bad:?}"
    );
    env.ok(&["import", "--vantage", "external", nmap.to_str().unwrap()]);
    std::fs::write(
        env.path("cmdb.csv"),
        "Name,IP,Owner,Criticality,Cost Center\n\
         payments-db,10.20.0.15,,5,CC-7\n\
         testphp.vulnweb.com,,web,,\n",
    )
    .unwrap();
    let s = env.json(&["import", "--json", "cmdb.csv"]);
    assert_eq!(s[0]["format"], "inventory");
    assert_eq!(s[0]["assets"]["new"], 1);
    assert_eq!(s[0]["assets"]["merged"], 1);
    let assets = env.json(&["assets", "--json"]);
    let web = asset(&assets, "testphp.vulnweb.com");
    let f = &web["facts"];
    // the specific name rule beats the broad kind rule written before it
    assert_eq!(f["criticality"]["value"], 4);
    assert_eq!(f["criticality"]["source"], "rule");
    assert_eq!(f["criticality"]["rule"], "name testphp*");
    assert_eq!(f["zone"]["value"], "internal");
    assert_eq!(f["internet_facing"]["value"], true);
    assert_eq!(f["internet_facing"]["source"], "scanner");
    assert_eq!(f["team"]["value"], "web");
    assert_eq!(f["team"]["source"], "inventory");
    assert_eq!(f["environment"]["source"], "default");
    let db = asset(&assets, "payments-db");
    assert_eq!(db["never_scanned"], true);
    assert_eq!(db["facts"]["criticality"]["value"], 5);
    assert_eq!(db["facts"]["criticality"]["source"], "inventory");
    assert_eq!(db["facts"]["team"]["value"], "payments");
    assert_eq!(db["facts"]["team"]["rule"], "cidr 10.20.0.0/16");
    assert!(
        db["tags"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t == "cost center:CC-7")
    );
    // an internal rescan does not undo what the external one saw
    env.ok(&["import", nmap.to_str().unwrap()]);
    let assets = env.json(&["assets", "--json"]);
    assert_eq!(
        asset(&assets, "testphp.vulnweb.com")["facts"]["internet_facing"]["value"],
        true
    );
    // a bad rule is an error naming it
    std::fs::write(
        env.path("ctem.toml"),
        "[[context.rules]]\nname = \"x\"\ncriticality = 9\n",
    )
    .unwrap();
    let out = env.run(&["assets"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("context rule 1") && err.contains("criticality 9"),
        "{err}"
    );
}

#[test]
fn top_leaves_out_informational_findings() {
    let env = Env::new();
    env.ok(&["import", demo_file("nmap-testphp.xml").to_str().unwrap()]);
    // nmap alone: open ports (info) and vulners CVEs
    let exposures = env.rows(&["exposures", "--json"]);
    assert!(exposures.iter().any(|e| e["severity"] == "info"));
    let top = env.json(&["top", "--json", "--limit", "1000"]);
    for g in top.as_array().unwrap() {
        assert!(
            !g["action"].as_str().unwrap().contains("open port"),
            "{g:#}"
        );
    }
}
