//! Exit codes: 0 success, 1 the work failed, 2 a usage error (clap lists the possible
//! values); and a read never creates a store.

use crate::common::{Env, fixture};

fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn bad_values_are_usage_errors_that_list_the_possible_values() {
    let env = Env::new();
    env.ok(&[
        "import",
        &fixture("trivy/alpine-310.json").display().to_string(),
    ]);
    let cases: &[(&[&str], &str)] = &[
        (&["exposures", "--severity", "bogus"], "critical"),
        (&["exposures", "--status", "open,bogus"], "false_positive"),
        (
            &["share", "blocklist", "--type", "ip", "--format", "bogus"],
            "nftables",
        ),
        (
            &["share", "blocklist", "--type", "bogus", "--format", "csv"],
            "domain",
        ),
        (&["share", "stix", "--max-tlp", "purple"], "amber+strict"),
        (&["share", "stix", "--min-confidence", "101"], "0..=100"),
        (&["share", "stix", "--indicator-type", "bogus"], "sha256"),
        (&["alerts", "--level", "bogus"], "critical"),
        (&["assets", "--kind", "bogus"], "container_image"),
        (&["intel", "import", "--kind", "bogus", "x"], "epss"),
        (&["intel", "indicators", "--type", "bogus"], "ipv4"),
        (&["import", "--format", "bogus", "x.json"], "trivy"),
        (&["detect", "--rules", "r", "--threads", "0", "x"], "0"),
        (&["detect", "--rules", "r", "--input", "bogus", "x"], "evtx"),
        (&["tickets", "--state", "bogus"], "in_progress"),
        (&["tickets", "move", "1", "bogus"], "risk_accepted"),
        (&["teams", "user", "u", "--role", "bogus"], "viewer"),
        (&["teams", "rule", "bogus", "*", "t"], "asset_kind"),
        (
            &["exposure", "1", "--set", "bogus", "--reason", "r"],
            "false_positive",
        ),
        (&["--color", "bogus", "formats"], "never"),
        (&["completions", "tcsh"], "bash"),
        (&["no-such-command"], "subcommand"),
        (&["import"], "FILES"),
    ];
    for (args, listed) in cases {
        let out = env.run(args);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(
            err.contains(listed),
            "{args:?} should name {listed:?}: {err}"
        );
    }
    // the value check runs before anything is read: no store is needed for it
    let fresh = Env::new();
    let out = fresh.run(&["alerts", "--level", "bogus"]);
    assert!(stderr(&out).contains("[possible values: informational, low, medium, high, critical]"));
    assert!(!fresh.path("ctem.db").exists());
}

#[test]
fn good_values_still_work_in_any_case_where_the_words_allow_it() {
    let env = Env::new();
    env.ok(&[
        "import",
        &fixture("trivy/alpine-310.json").display().to_string(),
    ]);
    let all: serde_json::Value = env.json(&["exposures", "--severity", "LOW", "--json"]);
    let high: serde_json::Value = env.json(&["exposures", "--severity", "high", "--json"]);
    assert!(all.as_array().expect("array").len() >= high.as_array().expect("array").len());
    env.ok(&["alerts", "--level", "High"]);
    env.ok(&["exposures", "--status", "open,fixed"]);
}

#[test]
fn a_read_refuses_a_missing_store_and_leaves_no_file() {
    let env = Env::new();
    let reads: &[&[&str]] = &[
        &["exposures"],
        &["exposures", "--json"],
        &["assets"],
        &["scans"],
        &["alerts"],
        &["top"],
        &["explain", "1"],
        &["exposure", "1"],
        &["packages", "1"],
        &["intel", "indicators"],
        &["intel", "enrich"],
        &["share", "stix"],
        &["share", "blocklist", "--type", "ip", "--format", "plain"],
        &["tickets"],
        &["teams", "list"],
        &["prioritize"],
    ];
    for args in reads {
        let mut full = vec!["--db", "typo.db"];
        full.extend_from_slice(args);
        let out = env.bare(&full).output().expect("run");
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {err}");
        assert!(err.contains("typo.db does not exist"), "{args:?}: {err}");
        assert!(
            err.contains("ctem import") && err.contains("ctem demo"),
            "{err}"
        );
        assert!(!env.path("typo.db").exists(), "{args:?} created the store");
        assert!(!env.path("ctem.db").exists(), "{args:?} created a store");
    }
    // sqlite:// spells the same file
    let out = env
        .bare(&["--db", "sqlite://typo.db", "scans"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    assert!(!env.path("typo.db").exists());
    // a write creates the store as before
    env.ok(&[
        "import",
        &fixture("trivy/alpine-310.json").display().to_string(),
    ]);
    assert!(env.path("ctem.db").exists());
    env.ok(&["scans"]);
}

#[test]
fn an_unreachable_postgres_store_is_a_clear_error_without_its_password() {
    let env = Env::new();
    let help = String::from_utf8_lossy(&env.run(&["--help"]).stdout).into_owned();
    assert!(help.contains("postgres://"), "{help}");
    // nothing listens on port 1
    let out = env
        .bare(&["--db", "postgres://u:secret@127.0.0.1:1/ctem", "exposures"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains("cannot open store"), "{err}");
    assert!(!err.contains("secret"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn exit_codes_zero_one_two() {
    let env = Env::new();
    let ok = env.run(&[
        "import",
        &fixture("trivy/alpine-310.json").display().to_string(),
    ]);
    assert_eq!(ok.status.code(), Some(0));
    let missing = env.run(&["import", "no-such-file.json"]);
    assert_eq!(missing.status.code(), Some(1));
    let err = stderr(&missing);
    assert!(
        err.starts_with("error: no-such-file.json: cannot open"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");
    assert_eq!(env.run(&["exposure", "abc"]).status.code(), Some(2));
    assert_eq!(env.run(&["exposure", "99999"]).status.code(), Some(1));
}
