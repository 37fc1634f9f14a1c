//! The follow-up of an import (enrichment, prioritisation) is its own step: when it fails
//! the import still succeeds, the failure is reported and recorded, and the next command
//! retries it.

use crate::common::{Env, demo_file};

fn query(db: &str, sql: &str) -> i64 {
    let c = rusqlite::Connection::open(db).expect("open");
    c.query_row(sql, [], |r| r.get(0)).expect("query")
}

#[test]
fn a_failed_follow_up_is_reported_recorded_and_retried_without_failing_the_import() {
    let env = Env::new();
    // a new store with no scan yet (read commands refuse a missing store: a write creates it)
    env.ok(&["teams", "add", "ops"]);
    // every score write fails from now on
    let c = rusqlite::Connection::open(env.db()).expect("open");
    c.execute_batch(
        "CREATE TRIGGER fail_scores BEFORE INSERT ON exposure_risk
         BEGIN SELECT RAISE(ABORT, 'injected failure'); END;",
    )
    .expect("trigger");
    let report = demo_file("trivy-alpine-310.json");
    let out = env.run(&["import", "--json", &report.display().to_string()]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "the import stands: {err}");
    assert!(
        err.contains("follow-up") && err.contains("injected failure"),
        "{err}"
    );
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert!(
        summary[0]["exposures"]["new"].as_u64().unwrap_or(0) > 0,
        "{summary}"
    );
    assert_eq!(query(&env.db(), "SELECT count(*) FROM exposure_risk"), 0);
    assert_eq!(query(&env.db(), "SELECT attempts FROM followup_state"), 1);
    // the next command retries it, and it goes through once the cause is gone
    c.execute_batch("DROP TRIGGER fail_scores").expect("drop");
    env.ok(&["scans", "--json"]);
    assert!(query(&env.db(), "SELECT count(*) FROM exposure_risk") > 0);
    assert_eq!(query(&env.db(), "SELECT attempts FROM followup_state"), 0);
    assert_eq!(
        query(&env.db(), "SELECT count(*) FROM followup_exposures"),
        0
    );
}
