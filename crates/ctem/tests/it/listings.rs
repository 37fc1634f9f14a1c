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
