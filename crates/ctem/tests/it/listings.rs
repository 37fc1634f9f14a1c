//! Every listing prints ONE compact JSON array with --json (`[]` when empty), the same
//! field has the same name everywhere (an alert's `timestamp`), and human output of an
//! empty listing says so.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::common::{Env, fixture, intel_fixture};

/// The SigmaHQ regression data (real rules and events) of crates/ctem-detect.
pub fn regression() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../ctem-detect/tests/fixtures/sigma_regression")
}

/// A store with exposures, scans, assets, tickets, indicators and alerts from real files.
pub fn populated() -> Env {
    let env = Env::new();
    env.ok(&[
        "import",
        &fixture("trivy/kubernetes.json").display().to_string(),
    ]);
    env.ok(&[
        "intel",
        "import",
        &intel_fixture("stix/indicator-for-c2-ip-address.json")
            .display()
            .to_string(),
    ]);
    let rules = regression().join("rules");
    let data = regression().join("data");
    env.ok(&[
        "detect",
        "--store",
        "--rules",
        rules.to_str().expect("path"),
        data.to_str().expect("path"),
    ]);
    env
}

/// An existing store with nothing in it.
fn empty() -> Env {
    let env = Env::new();
    env.ok(&["teams", "add", "ops"]);
    env
}

/// The listings, each with its --json flag, and what its human output says when empty.
const LISTINGS: &[(&[&str], &str)] = &[
    (&["assets"], "no assets match"),
    (&["exposures"], "no exposures match"),
    (&["exposures", "--status", "all"], "no exposures match"),
    (&["scans"], "no scans yet"),
    (&["alerts"], "no alerts match"),
    (&["intel", "indicators"], "no indicators match"),
    (&["top"], "no open exposures"),
    (&["tickets"], "no tickets match"),
];

fn with_json<'a>(args: &[&'a str]) -> Vec<&'a str> {
    let mut v = args.to_vec();
    v.push("--json");
    v
}

/// Stdout must be one line holding one compact JSON array.
fn one_array(env: &Env, args: &[&str]) -> Vec<Value> {
    let out = env.ok(args);
    assert!(out.ends_with('\n'), "{args:?}: no final newline");
    assert_eq!(
        out.lines().count(),
        1,
        "{args:?}: not one compact line: {out:.300}"
    );
    let v: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{args:?}: {e}"));
    v.as_array()
        .unwrap_or_else(|| panic!("{args:?}: not an array"))
        .clone()
}

#[test]
fn every_listing_is_one_compact_array_or_empty_brackets() {
    let empty = empty();
    for (args, _) in LISTINGS {
        let out = empty.ok(&with_json(args));
        assert_eq!(out, "[]\n", "{args:?}");
    }
    let full = populated();
    for (args, _) in LISTINGS {
        let rows = one_array(&full, &with_json(args));
        if *args != ["tickets"] && *args != ["top"] {
            assert!(!rows.is_empty(), "{args:?}: empty on a populated store");
        }
        assert!(rows.iter().all(Value::is_object), "{args:?}");
    }
    assert!(!one_array(&full, &["formats", "--json"]).is_empty());
    let import = one_array(
        &full,
        &[
            "import",
            "--json",
            &fixture("trivy/alpine-310.json").display().to_string(),
        ],
    );
    assert_eq!(import.len(), 1);
}

#[test]
fn empty_listings_say_so_in_human_output() {
    let env = empty();
    for (args, says) in LISTINGS {
        let out = env.ok(args);
        assert!(out.contains(says), "{args:?}: {out:?}");
    }
}

#[test]
fn an_alert_has_one_time_field_in_detect_and_in_alerts() {
    let env = Env::new();
    let rules = regression().join("rules");
    let data = regression().join("data");
    let out = env.ok(&[
        "detect",
        "--store",
        "--json",
        "--rules",
        rules.to_str().expect("path"),
        data.to_str().expect("path"),
    ]);
    let streamed: Vec<Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).expect("one alert a line"))
        .collect();
    let listed = one_array(&env, &["alerts", "--json", "--limit", "100000"]);
    assert_eq!(streamed.len(), listed.len());
    let with_time = |v: &[Value]| v.iter().filter(|a| a["timestamp"].is_string()).count();
    assert!(with_time(&streamed) > 0);
    assert_eq!(with_time(&streamed), with_time(&listed));
    assert!(listed.iter().all(|a| a.get("event_time").is_none()));
    for a in &listed {
        if let Some(t) = a["timestamp"].as_str() {
            assert!(chrono_like(t), "{t}");
        }
    }
}

/// `YYYY-MM-DDTHH:MM:SS...`
fn chrono_like(t: &str) -> bool {
    let b = t.as_bytes();
    b.len() >= 19 && b[4] == b'-' && b[7] == b'-' && b[10] == b'T' && b[13] == b':'
}

#[test]
fn colour_only_when_asked_and_never_in_json() {
    let env = populated();
    let plain = env.ok(&["exposures"]);
    assert!(!plain.contains('\u{1b}'), "auto colours a pipe");
    let always = env.ok(&["--color", "always", "exposures"]);
    assert!(always.contains("\u{1b}["), "{always:.300}");
    let json = env.ok(&["--color", "always", "exposures", "--json"]);
    assert!(!json.contains('\u{1b}'));
    let out = env.run_env(&["--color", "auto", "exposures"], &[("NO_COLOR", "1")]);
    assert!(!String::from_utf8_lossy(&out.stdout).contains('\u{1b}'));
}

/// Runs ctem and returns the peak of its anonymous resident memory (`RssAnon`: the heap,
/// not the pages of the store file SQLite maps), in KiB.
fn run_anon_peak(env: &Env, args: &[&str]) -> (std::process::Output, u64) {
    crate::common::run_sampled(env, args, "RssAnon:")
}

/// A Trivy report of one image with `n` distinct package vulnerabilities.
fn big_trivy(n: usize) -> String {
    let vulns: Vec<Value> = (0..n)
        .map(|i| {
            serde_json::json!({
                "VulnerabilityID": format!("CVE-2099-{:05}", i),
                "PkgName": format!("pkg-{i}"),
                "InstalledVersion": "1.0.0",
                "FixedVersion": "1.0.1",
                "Severity": "HIGH",
                "Title": format!("a made-up flaw number {i} with a title long enough to weigh something"),
                "Description": "x".repeat(3000),
            })
        })
        .collect();
    serde_json::json!({
        "SchemaVersion": 2,
        "ArtifactName": "registry.example/app:1",
        "ArtifactType": "container_image",
        "Results": [{"Target": "registry.example/app:1 (debian 12)", "Class": "os-pkgs",
                     "Type": "debian", "Vulnerabilities": vulns}],
    })
    .to_string()
}

#[test]
fn exposures_json_is_streamed_in_bounded_memory() {
    let env = Env::new();
    let report = env.path("big.json");
    let n = 30_000;
    std::fs::write(&report, big_trivy(n)).expect("report");
    env.ok(&["import", &report.display().to_string()]);
    let (small, small_peak) = run_anon_peak(&env, &["exposures", "--json", "--limit", "10"]);
    assert!(small.status.success());
    let (all, all_peak) = run_anon_peak(&env, &["exposures", "--json"]);
    assert!(
        all.status.success(),
        "{}",
        String::from_utf8_lossy(&all.stderr)
    );
    let v: Value = serde_json::from_slice(&all.stdout).expect("one JSON array");
    assert_eq!(v.as_array().map(Vec::len), Some(n));
    // the listing is over 90 MiB of JSON: collected first, the exposures alone would weigh
    // more than that; streamed, the whole listing costs what ten rows cost plus at most
    // SQLite's page cache (cache_size, 64 MiB)
    assert!(all.stdout.len() > 90 << 20, "{} bytes", all.stdout.len());
    assert!(
        all_peak < small_peak + 80 * 1024,
        "peak {all_peak} KiB for the whole listing, {small_peak} KiB for ten rows"
    );
}
