//! The commands on a PostgreSQL store (`--db postgres://...`): the same answers as on
//! SQLite for detection alerts, incidents, intelligence, teams and listings, imports
//! (alone and three processes at once) leaving the same store. The
//! server comes from `CTEM_TEST_POSTGRES` (SKIPPED when unset outside CI, a failure in CI);
//! each test uses a schema of its own.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use ctem_store::testsuite_pg::{fresh, open, server};
use serde_json::Value;

use crate::common::{Env, demo_file};
use crate::concurrency;

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

/// Imports of overlapping scans, then the same reports again (unchanged) and one with a
/// finding gone, leave the same assets, exposures and tickets as on SQLite; a broken report
/// is an error that stores nothing.
#[test]
fn imports_give_the_same_store_on_postgres_as_on_sqlite() {
    let Some(base) = server() else { return };
    let pg = fresh(&base, "cliimport");
    let dir = tempfile::tempdir().expect("tmp");
    let lite = dir.path().join("lite.db");
    let broken = dir.path().join("broken.json");
    std::fs::write(&broken, "{\"SchemaVersion\": 2, \"Results\": [").expect("write");
    let reports = concurrency::reports();
    for db in [lite.as_os_str(), OsStr::new(&pg)] {
        let out = concurrency::ctem(db)
            .arg("import")
            .arg(&broken)
            .output()
            .expect("run");
        assert!(!out.status.success(), "a broken report is refused");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!err.contains("panicked"), "{err}");
        assert_eq!(
            concurrency::snapshot(db),
            Vec::<String>::new(),
            "nothing stored"
        );
        for r in reports.iter().chain(&reports) {
            let out = concurrency::ctem(db)
                .arg("import")
                .arg(r)
                .output()
                .expect("run");
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
    let expected = concurrency::snapshot(lite.as_os_str());
    assert!(expected.iter().any(|l| l.starts_with("exposure")));
    assert!(expected.iter().any(|l| l.starts_with("ticket")));
    assert_eq!(concurrency::snapshot(OsStr::new(&pg)), expected);
    open(&pg).drop_schema().expect("drop");
}

/// Issue 12 point 6: three `ctem import` processes of overlapping scans started at once on
/// one PostgreSQL store leave the store that the same imports leave one after another: no
/// duplicate asset, exposure or ticket, no lost update (the writer lock serialises them).
#[test]
fn three_imports_at_once_on_postgres_match_one_after_another() {
    let Some(base) = server() else { return };
    let sequential = fresh(&base, "seq");
    for r in concurrency::reports() {
        let out = concurrency::ctem(OsStr::new(&sequential))
            .arg("import")
            .arg(&r)
            .output()
            .expect("run");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let expected = concurrency::snapshot(OsStr::new(&sequential));
    assert!(expected.iter().any(|l| l.starts_with("ticket")));
    open(&sequential).drop_schema().expect("drop");
    for round in 0..5 {
        // a store that does not exist yet: the migrations race too
        let db = fresh(&base, "atonce");
        let children: Vec<_> = concurrency::reports()
            .iter()
            .map(|r| {
                concurrency::ctem(OsStr::new(&db))
                    .arg("import")
                    .arg(r)
                    .stdout(Stdio::null())
                    .stderr(Stdio::piped())
                    .spawn()
                    .expect("spawn")
            })
            .collect();
        for c in children {
            let out = c.wait_with_output().expect("wait");
            assert!(
                out.status.success(),
                "round {round}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        assert_eq!(
            concurrency::snapshot(OsStr::new(&db)),
            expected,
            "round {round}"
        );
        open(&db).drop_schema().expect("drop");
    }
}

/// `ctem demo` on an empty PostgreSQL store: every stage runs on it, and a second demo on
/// the same store is refused (the demo builds a fresh store).
#[test]
fn the_demo_runs_on_an_empty_postgres_store() {
    let Some(base) = server() else { return };
    let env = Env::new();
    let pg = fresh(&base, "demo");
    let dir = tempfile::tempdir().expect("tmp");
    let run = |sub: &str| {
        env.bare(&["--db", &pg, "demo", "--dir"])
            .arg(dir.path().join(sub))
            .output()
            .expect("run ctem")
    };
    let out = run("a");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("nmap and nessus saw"), "{text}");
    assert!(text.contains(&format!("ctem --db {pg} top")), "{text}");
    let exposures = env
        .bare(&["--db", &pg, "exposures", "--json"])
        .output()
        .expect("run ctem");
    let list: Value = serde_json::from_slice(&exposures.stdout).expect("json");
    assert!(list.as_array().is_some_and(|a| a.len() >= 20), "{list}");
    let again = run("b");
    assert!(!again.status.success());
    assert!(
        String::from_utf8_lossy(&again.stderr).contains("already holds scans"),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
    open(&pg).drop_schema().expect("drop");
}
