//! The commands on a PostgreSQL store (`--db postgres://...`): the same answers as on
//! SQLite for detection alerts, incidents, intelligence, teams and listings, and an
//! `unavailable` error (never a panic) for what PostgreSQL does not offer yet (import). The
//! server comes from `CTEM_TEST_POSTGRES` (SKIPPED when unset outside CI, a failure in CI);
//! each test uses a schema of its own.

use std::path::{Path, PathBuf};

use ctem_store::testsuite_pg::{fresh, open, server};
use serde_json::Value;

use crate::common::{Env, demo_file};

fn regression() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../ctem-detect/tests/fixtures/sigma_regression")
}

/// Runs the same commands on a SQLite store and on a PostgreSQL store; returns both
/// stdouts of each command.
fn both(env: &Env, pg: &str, runs: &[&[&str]]) -> Vec<(String, String)> {
    let lite = env.db();
    runs.iter()
        .map(|args| {
            let out = |db: &str| {
                let mut full = vec!["--db", db];
                full.extend_from_slice(args);
                let o = env.bare(&full).output().expect("run ctem");
                assert!(
                    o.status.success(),
                    "{db} {args:?}: {}",
                    String::from_utf8_lossy(&o.stderr)
                );
                String::from_utf8(o.stdout).expect("utf8")
            };
            (out(&lite), out(pg))
        })
        .collect()
}

/// A command's output with the `detected_at` times of alerts and incidents taken out
/// (each store's alerts come from a detect run of their own); text stays as it is.
fn without_detection_time(out: &str) -> Value {
    fn strip(v: &mut Value) {
        match v {
            Value::Object(m) => {
                m.remove("detected_at");
                m.values_mut().for_each(strip);
            }
            Value::Array(a) => a.iter_mut().for_each(strip),
            _ => {}
        }
    }
    let mut v = serde_json::from_str(out).unwrap_or_else(|_| Value::String(out.to_string()));
    strip(&mut v);
    v
}

#[test]
fn commands_give_the_same_answers_on_postgres_as_on_sqlite() {
    let Some(base) = server() else { return };
    let env = Env::new();
    let pg = fresh(&base, "cli");
    let rules = regression().join("rules");
    let data = regression().join("data");
    let kev = demo_file("kev.json");
    let (rules, data, kev) = (
        rules.to_str().expect("path"),
        data.to_str().expect("path"),
        kev.to_str().expect("path"),
    );
    let outs = both(
        &env,
        &pg,
        &[
            &[
                "detect",
                "--rules",
                rules,
                "--store",
                "--threads",
                "1",
                data,
            ],
            &["alerts", "--json", "--limit", "1000"],
            &["incidents", "--json"],
            &["intel", "import", kev],
            &["teams", "add", "ops"],
            &["teams", "user", "alice", "--role", "admin", "--team", "ops"],
            &["teams", "list", "--json"],
            &["assets", "--json"],
            &["exposures", "--json"],
            &["scans", "--json"],
        ],
    );
    let alerts: Value = serde_json::from_str(&outs[1].1).expect("alerts json");
    assert!(
        alerts.as_array().is_some_and(|a| a.len() >= 200),
        "the regression data gives 200+ alerts: {}",
        outs[1].1.len()
    );
    for (i, (lite, pg)) in outs.iter().enumerate().skip(1) {
        // every command but detect (whose summary carries timings); the detection times
        // are of two runs
        assert_eq!(
            without_detection_time(lite),
            without_detection_time(pg),
            "command #{i}: SQLite (left) and PostgreSQL (right) differ"
        );
    }
    open(&pg).drop_schema().expect("drop");
}

#[test]
fn import_on_postgres_is_an_unavailable_error_not_a_panic() {
    let Some(base) = server() else { return };
    let env = Env::new();
    let pg = fresh(&base, "cliimport");
    let report = crate::common::trivy_fixture("alpine-310.json");
    let out = env
        .bare(&["--db", &pg, "import", report.to_str().expect("path")])
        .output()
        .expect("run ctem");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("import is not available on PostgreSQL stores yet"),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");
    // nothing of the refused import is stored
    let scans = env
        .bare(&["--db", &pg, "scans", "--json"])
        .output()
        .expect("run ctem");
    assert_eq!(String::from_utf8_lossy(&scans.stdout).trim(), "[]");
    open(&pg).drop_schema().expect("drop");
}
