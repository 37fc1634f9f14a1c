//! The CI gate (`--fail-on`, `ctem gate`, exit 3) and the CSV, SARIF and CycloneDX VEX
//! exports of `ctem exposures`.

use std::path::Path;

use serde_json::Value;

use crate::common::{Env, demo_file, fixture, trivy_fixture};

fn import(env: &Env, file: &Path) {
    env.ok(&["import", &file.display().to_string()]);
}

/// Exposures of a JSON listing: one array, or JSON lines.
fn records(stdout: &[u8]) -> Vec<Value> {
    let text = String::from_utf8_lossy(stdout);
    match serde_json::from_str::<Value>(&text) {
        Ok(Value::Array(a)) => a,
        _ => text
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| serde_json::from_str(l).expect("json line"))
            .collect(),
    }
}

#[test]
fn the_gate_exits_3_on_open_exposures_at_or_above_the_level_and_0_otherwise() {
    let env = Env::new();
    // scan 1: an image with one high (and mediums, lows); scan 2, a second later: an image
    // with medium findings only
    import(&env, &trivy_fixture("issue_9170.json"));
    std::thread::sleep(std::time::Duration::from_millis(1100));
    import(&env, &trivy_fixture("alpine-310.json"));

    let out = env.run(&["exposures", "--fail-on", "high"]);
    assert_eq!(out.status.code(), Some(3));
    let listing = String::from_utf8_lossy(&out.stdout);
    assert!(
        listing.contains("SEVERITY"),
        "the listing is printed: {listing}"
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("gate failed: 1 open exposures at or above high"),
        "{err}"
    );
    let high = records(
        &env.run(&["exposures", "--severity", "high", "--json"])
            .stdout,
    );
    assert_eq!(high.len(), 1);

    assert_eq!(
        env.run(&["exposures", "--fail-on", "critical"])
            .status
            .code(),
        Some(0)
    );
    let out = env.run(&["exposures", "--json", "--fail-on", "high"]);
    assert_eq!(out.status.code(), Some(3));
    assert!(
        !records(&out.stdout).is_empty(),
        "JSON listing still printed"
    );

    // only what is new since scan 2: the high is backlog
    let gate = |args: &[&str]| env.run(&[&["gate"], args].concat());
    assert_eq!(
        gate(&["--fail-on", "high", "--new-since", "2"])
            .status
            .code(),
        Some(0)
    );
    assert_eq!(
        gate(&["--fail-on", "high", "--new-since", "1"])
            .status
            .code(),
        Some(3)
    );
    let out = gate(&["--fail-on", "medium", "--new-since", "2", "--json"]);
    assert_eq!(out.status.code(), Some(3));
    let failing = records(&out.stdout);
    let alpine = env.run(&[
        "exposures",
        "--asset",
        "testdata/fixtures/images/alpine-310.tar.gz",
        "--json",
    ]);
    assert_eq!(
        failing.len(),
        records(&alpine.stdout).len(),
        "only scan 2's exposures"
    );
    assert!(failing.iter().all(|e| e["severity"] == "medium"));
    assert_eq!(
        env.run(&["exposures", "--fail-on", "medium", "--new-since", "2"])
            .status
            .code(),
        Some(3)
    );

    // once triaged, the gate passes
    let id = high[0]["id"].as_i64().expect("id").to_string();
    env.ok(&[
        "exposure",
        &id,
        "--set",
        "accepted",
        "--reason",
        "vendor fix in Q3",
    ]);
    assert_eq!(gate(&["--fail-on", "high"]).status.code(), Some(0));

    // bad level: usage error; unknown scan: the work failed
    assert_eq!(gate(&["--fail-on", "severe"]).status.code(), Some(2));
    assert_eq!(
        gate(&["--fail-on", "low", "--new-since", "99"])
            .status
            .code(),
        Some(1)
    );
    assert_eq!(
        env.run(&["exposures", "--new-since", "1"]).status.code(),
        Some(2),
        "needs --fail-on"
    );
}

#[test]
fn csv_quotes_commas_quotes_and_newlines_and_defuses_formulas() {
    let env = Env::new();
    let mut report: Value =
        serde_json::from_slice(&std::fs::read(trivy_fixture("alpine-310.json")).expect("read"))
            .expect("json");
    let hostile = "=HYPERLINK(\"http://evil.example\",\"click, here\")\nsecond \"line\"";
    report["Results"][0]["Vulnerabilities"][0]["Title"] = Value::from(hostile);
    let path = env.path("hostile.json");
    std::fs::write(&path, serde_json::to_vec(&report).expect("json")).expect("write");
    import(&env, &path);
    let out = env.ok(&["exposures", "--format", "csv"]);
    let mut r = csv::Reader::from_reader(out.as_bytes());
    let header: Vec<String> = r
        .headers()
        .expect("header")
        .iter()
        .map(str::to_string)
        .collect();
    assert_eq!(header[0], "id");
    let title_col = header
        .iter()
        .position(|h| h == "title")
        .expect("title column");
    let rows: Vec<csv::StringRecord> = r.records().map(|x| x.expect("record")).collect();
    let listed = records(&env.run(&["exposures", "--json"]).stdout);
    assert_eq!(rows.len(), listed.len());
    let titles: Vec<&str> = rows.iter().map(|x| &x[title_col]).collect();
    assert!(
        titles.contains(&format!("'{hostile}").as_str()),
        "{titles:?}"
    );
    // every row has every column: quoting kept the commas and newline inside the cell
    assert!(rows.iter().all(|x| x.len() == header.len()));
    assert!(out.contains(
        "\"'=HYPERLINK(\"\"http://evil.example\"\",\"\"click, here\"\")\nsecond \"\"line\"\"\""
    ));
}

fn sarif_validator() -> jsonschema::Validator {
    let schema: Value = serde_json::from_slice(
        &std::fs::read(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/fixtures/schemas/sarif-schema-2.1.0.json"),
        )
        .expect("schema"),
    )
    .expect("json");
    jsonschema::options()
        .build(&schema)
        .expect("schema compiles")
}

#[test]
fn sarif_export_validates_and_carries_what_github_code_scanning_reads() {
    let env = Env::new();
    import(&env, &trivy_fixture("kubernetes.json"));
    import(&env, &fixture("openvas/many_vuln.csv"));
    import(&env, &fixture("sarif/gitleaks_7.5.0.sarif"));
    let doc: Value =
        serde_json::from_str(&env.ok(&["exposures", "--format", "sarif"])).expect("json");
    let v = sarif_validator();
    let errors: Vec<String> = v
        .iter_errors(&doc)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");

    assert_eq!(doc["version"], "2.1.0");
    let run = &doc["runs"][0];
    let rules = run["tool"]["driver"]["rules"].as_array().expect("rules");
    let results = run["results"].as_array().expect("results");
    let listed = records(&env.run(&["exposures", "--json"]).stdout);
    assert_eq!(results.len(), listed.len());
    let mut fingerprints = std::collections::HashSet::new();
    let (mut files, mut hosts) = (0, 0);
    for r in results {
        let i = r["ruleIndex"].as_u64().expect("ruleIndex") as usize;
        assert_eq!(rules[i]["id"], r["ruleId"], "{r}");
        assert!(
            rules[i]["properties"]["security-severity"]
                .as_str()
                .is_some()
        );
        assert!(["error", "warning", "note"].contains(&r["level"].as_str().unwrap_or("")));
        assert!(!r["message"]["text"].as_str().unwrap_or("").is_empty());
        // GitHub displays results with a physical location only: every result has one
        let loc = &r["locations"][0];
        let uri = loc["physicalLocation"]["artifactLocation"]["uri"]
            .as_str()
            .expect("uri");
        assert!(!uri.is_empty() && !uri.starts_with('/'), "{r}");
        match loc["logicalLocations"][0]["name"].as_str() {
            // a finding on a host or image: the asset is the artifact and the logical location
            Some(name) => {
                assert_eq!(uri, name.replace(' ', "%20"), "{r}");
                hosts += 1;
            }
            None => files += 1,
        }
        let fp = r["partialFingerprints"]["ctem/v1"]
            .as_str()
            .expect("fingerprint");
        assert!(
            fingerprints.insert(fp.to_string()),
            "fingerprints are unique: {fp}"
        );
    }
    assert!(files > 0 && hosts > 0, "files {files}, hosts {hosts}");
    // the same store exports the same fingerprints (dedup across uploads)
    let again: Value =
        serde_json::from_str(&env.ok(&["exposures", "--format", "sarif"])).expect("json");
    assert_eq!(again["runs"][0]["results"], run["results"]);

    // the validator is not vacuous
    let mut broken = doc.clone();
    broken["runs"][0]["results"][0]["level"] = Value::from("fatal");
    assert!(!v.is_valid(&broken));
    // --format json is --json
    assert_eq!(
        env.ok(&["exposures", "--format", "json"]),
        env.ok(&["exposures", "--json"])
    );
}

#[test]
fn vex_of_triage_decisions_round_trips_through_the_cyclonedx_parser() {
    let env = Env::new();
    import(&env, &demo_file("cyclonedx-log4j.json"));
    let listed = records(&env.run(&["exposures", "--json"]).stdout);
    let id_of = |cve: &str| {
        listed
            .iter()
            .find(|e| e["cves"][0] == cve)
            .and_then(|e| e["id"].as_i64())
            .unwrap_or_else(|| panic!("{cve}"))
            .to_string()
    };
    env.ok(&[
        "exposure",
        &id_of("CVE-2021-44832"),
        "--set",
        "accepted",
        "--reason",
        "code_not_reachable: JDBC appender not configured",
    ]);
    env.ok(&[
        "exposure",
        &id_of("CVE-2021-45105"),
        "--set",
        "false_positive",
        "--reason",
        "scanner matched the wrong artifact",
    ]);
    env.ok(&[
        "exposure",
        &id_of("CVE-2021-45046"),
        "--set",
        "accepted",
        "--reason",
        "WAF rule until the upgrade",
    ]);
    env.ok(&["share", "vex", "--out", "vex.json"]);
    let bytes = std::fs::read(env.path("vex.json")).expect("vex");
    let doc: Value = serde_json::from_slice(&bytes).expect("json");
    assert_eq!(doc["bomFormat"], "CycloneDX");
    assert_eq!(doc["specVersion"], "1.6");
    let vulns = doc["vulnerabilities"].as_array().expect("vulnerabilities");
    assert_eq!(vulns.len(), listed.len());
    let by_id = |id: &str| vulns.iter().find(|v| v["id"] == id).expect(id);
    let a = &by_id("CVE-2021-44832")["analysis"];
    assert_eq!(a["state"], "not_affected");
    assert_eq!(a["justification"], "code_not_reachable");
    assert_eq!(
        a["detail"],
        "code_not_reachable: JDBC appender not configured"
    );
    assert_eq!(
        by_id("CVE-2021-45105")["analysis"]["state"],
        "false_positive"
    );
    let a = &by_id("CVE-2021-45046")["analysis"];
    assert_eq!(a["state"], "exploitable");
    assert_eq!(a["response"][0], "will_not_fix");
    assert_eq!(by_id("CVE-2021-44228")["analysis"]["state"], "in_triage");
    let pkg = &listed[0]["package"];
    let want_ref = format!(
        "pkg:{}/{}@{}",
        pkg["ecosystem"].as_str().expect("ecosystem"),
        pkg["name"].as_str().expect("name"),
        pkg["version"].as_str().expect("version")
    );
    let refs: Vec<&str> = doc["components"]
        .as_array()
        .expect("components")
        .iter()
        .filter_map(|c| c["bom-ref"].as_str())
        .collect();
    for v in vulns {
        let r = v["affects"][0]["ref"].as_str().expect("ref");
        assert_eq!(r, want_ref);
        assert!(refs.contains(&r), "affects a listed component");
    }

    // ctem's own CycloneDX parser reads it back: the same vulnerabilities in the same
    // package, the not-affected and false-positive decisions as such
    let recs = ctem_ingest::parse_bytes(&ctem_ingest::cyclonedx::FORMAT, &bytes).expect("parses");
    let back: Vec<&ctem_model::Exposure> = recs
        .iter()
        .filter_map(|r| match r {
            ctem_ingest::Record::Exposure { exposure, .. } => Some(exposure.as_ref()),
            _ => None,
        })
        .collect();
    assert_eq!(back.len(), vulns.len());
    let mut ids_back: Vec<String> = back
        .iter()
        .filter_map(|e| e.primary_id().map(str::to_string))
        .collect();
    let mut ids_out: Vec<String> = vulns
        .iter()
        .filter_map(|v| v["id"].as_str().map(str::to_string))
        .collect();
    ids_back.sort();
    ids_out.sort();
    assert_eq!(ids_back, ids_out);
    for e in &back {
        let p = e.package.as_ref().expect("package");
        assert_eq!(Some(p.name.as_str()), pkg["name"].as_str());
        assert_eq!(p.version.as_deref(), pkg["version"].as_str());
    }
    let status_of = |cve: &str| {
        back.iter()
            .find(|e| e.cves.first().map(String::as_str) == Some(cve))
            .expect(cve)
            .status
    };
    assert_eq!(
        status_of("CVE-2021-44832"),
        ctem_model::ExposureStatus::FalsePositive
    );
    assert_eq!(
        status_of("CVE-2021-45105"),
        ctem_model::ExposureStatus::FalsePositive
    );
    assert!(status_of("CVE-2021-44228").is_active());
}
