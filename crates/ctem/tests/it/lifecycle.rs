//! What an import may close: a clean rescan (an empty file, `null`) closes what its scope no
//! longer reports; a VEX document or advisory decides only the pairs it states.

use serde_json::Value;

use crate::common::{Env, fixture};

/// The exposures listing, whichever JSON shape it prints (one array, or JSON lines).
fn exposures(env: &Env, args: &[&str]) -> Vec<Value> {
    let mut all = vec!["exposures", "--json"];
    all.extend_from_slice(args);
    let out = env.ok(&all);
    if out.trim_start().starts_with('[') {
        serde_json::from_str::<Vec<Value>>(&out).expect("json array")
    } else {
        out.lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| serde_json::from_str(l).expect("json line"))
            .collect()
    }
}

/// `(first CVE or advisory, asset id, status)` of every exposure, sorted.
fn statuses(env: &Env) -> Vec<(String, i64, String)> {
    let mut v: Vec<_> = exposures(env, &["--status", "all"])
        .iter()
        .map(|e| {
            let id = e["cves"][0]
                .as_str()
                .or(e["advisories"][0].as_str())
                .unwrap_or("")
                .to_string();
            let asset = e["asset_id"].as_i64().expect("asset_id");
            (id, asset, e["status"].as_str().expect("status").to_string())
        })
        .collect();
    v.sort();
    v
}

fn write(env: &Env, name: &str, body: &str) -> String {
    let p = env.path(name);
    std::fs::write(&p, body).expect("write");
    p.display().to_string()
}

#[test]
fn an_empty_nuclei_rescan_with_a_scope_closes_what_it_no_longer_reports() {
    let env = Env::new();
    let first = fixture("nuclei/many_findings.json").display().to_string();
    env.ok(&["import", "--scope", "web", "--format", "nuclei", &first]);
    let open = exposures(&env, &["--status", "active"]);
    assert!(open.len() > 3, "{} open", open.len());
    // nuclei writes an empty file when it finds nothing
    let empty = write(&env, "e.jsonl", "");
    let summary = env.json(&[
        "import", "--json", "--scope", "web", "--format", "nuclei", &empty,
    ]);
    assert_eq!(
        summary[0]["exposures"]["fixed"].as_u64(),
        Some(open.len() as u64),
        "{summary}"
    );
    assert!(exposures(&env, &["--status", "active"]).is_empty());
    let fixed = exposures(&env, &["--status", "fixed"]);
    assert_eq!(fixed.len(), open.len());
}

#[test]
fn an_empty_file_without_format_is_refused_with_a_hint_to_pass_format() {
    let env = Env::new();
    let empty = write(&env, "e.jsonl", "");
    let out = env.run(&["import", &empty]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--format"), "{err}");
    // the file name may say which tool wrote it
    let named = write(&env, "nuclei-results.jsonl", "");
    env.ok(&["import", &named]);
}

#[test]
fn a_trivy_report_of_null_is_a_clean_rescan() {
    let env = Env::new();
    let first = fixture("trivy/alpine-310.json").display().to_string();
    env.ok(&["import", "--scope", "img", &first]);
    let open = exposures(&env, &["--status", "active"]).len();
    assert!(open > 0);
    let null = write(&env, "legacy_no_vuln.json", "null\n");
    env.ok(&["import", "--scope", "img", "--format", "trivy", &null]);
    assert_eq!(exposures(&env, &["--status", "fixed"]).len(), open);
}

#[test]
fn a_second_advisory_does_not_mark_the_first_advisorys_cves_fixed() {
    let env = Env::new();
    let many = fixture("csaf/csaf_many_vuln.json").display().to_string();
    let one = fixture("csaf/csaf_one_vuln.json").display().to_string();
    env.ok(&["import", &many]);
    let before = statuses(&env);
    env.ok(&["import", &one]);
    let after = statuses(&env);
    // everything the first advisory said stands; the second only adds its own statement
    for row in &before {
        assert!(after.contains(row), "{row:?} changed: {after:?}");
    }
    assert_eq!(after.len(), before.len() + 1);
    let of = |status: &str| before.iter().filter(|r| r.2 == status).count();
    // CVE-2026-10002: known_affected on one product, known_not_affected on one, fixed on
    // one, under_investigation on one; EXAMPLE-2026-0002-B known_affected
    assert_eq!(of("fixed"), 1, "{before:?}");
    assert_eq!(of("false_positive"), 1, "{before:?}");
    assert_eq!(of("open"), 3, "{before:?}");
}

#[test]
fn openvex_fixed_and_not_affected_statements_are_not_open_exposures() {
    let env = Env::new();
    let many = fixture("openvex/openvex_many_vuln.json")
        .display()
        .to_string();
    env.ok(&["import", &many]);
    let got: Vec<(String, String)> = statuses(&env)
        .into_iter()
        .map(|(id, _, st)| (id, st))
        .collect();
    let want = [
        ("CVE-2024-10001", "false_positive"),
        ("CVE-2024-10002", "open"),
        ("CVE-2024-10003", "fixed"),
        ("CVE-2024-10004", "open"),
        ("CVE-2024-10005", "false_positive"),
        ("CVE-2024-10006", "false_positive"),
    ]
    .map(|(a, b)| (a.to_string(), b.to_string()));
    assert_eq!(got, want);
    // the justification is the reason in the history
    let e = exposures(&env, &["--cve", "CVE-2024-10005", "--status", "all"]);
    let id = e[0]["id"].as_i64().expect("id").to_string();
    let shown = env.ok(&["exposure", &id]);
    assert!(
        shown.contains("inline_mitigations_already_exist"),
        "{shown}"
    );
    // a later document about one of the products changes nothing else
    let one = fixture("openvex/openvex_one_vuln.json")
        .display()
        .to_string();
    env.ok(&["import", &one]);
    let again: Vec<(String, String)> = statuses(&env)
        .into_iter()
        .map(|(id, _, st)| (id, st))
        .collect();
    assert_eq!(again, want);
}
