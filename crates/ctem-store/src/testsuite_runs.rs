//! Conformance cases of [`crate::runs::RunStore`], run on every backend: job runs and what
//! a job's health reads from them, per-day volume, checkpoints and imported-file hashes.

use chrono::{Duration, TimeZone, Utc};

use crate::Store;
use crate::runs::JobRun;

type Case = fn(&mut dyn Store);

/// Every case, by name.
pub const CASES: &[(&str, Case)] = &[
    ("runs_round_trip_newest_first", runs_round_trip_newest_first),
    (
        "health_reads_success_data_and_failures",
        health_reads_success_data_and_failures,
    ),
    (
        "checkpoints_and_files_are_kept_per_source",
        checkpoints_and_files_are_kept_per_source,
    ),
];

/// Runs every case on a fresh store from `make`.
pub fn run_all(make: &mut dyn FnMut() -> Box<dyn Store>) {
    for (name, case) in CASES {
        let mut store = make();
        eprintln!("runs conformance: {name}");
        case(store.as_mut());
    }
}

fn at(hours: i64) -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 1, 0, 0, 0)
        .single()
        .unwrap_or_default()
        + Duration::hours(hours)
}

fn run(job: &str, hour: i64, outcome: &str, records: u64) -> JobRun {
    JobRun {
        id: 0,
        job: job.into(),
        started_at: at(hour),
        ended_at: at(hour) + Duration::seconds(2),
        outcome: outcome.into(),
        records,
        errors: if outcome == "failed" {
            vec!["GET x: HTTP 500".into()]
        } else {
            Vec::new()
        },
    }
}

fn runs_round_trip_newest_first(s: &mut dyn Store) {
    let a = s.add_run(&run("source:a", 1, "ok", 5)).expect("add");
    let b = s.add_run(&run("intel", 2, "failed", 0)).expect("add");
    assert!(b > a);
    let all = s.runs(None, 10).expect("runs");
    assert_eq!(all.len(), 2);
    assert_eq!(all[0].job, "intel", "newest first");
    assert_eq!(all[0].errors, ["GET x: HTTP 500"]);
    assert_eq!(all[1].records, 5);
    assert_eq!(all[1].ended_at, at(1) + Duration::seconds(2));
    assert_eq!(s.runs(Some("source:a"), 10).expect("runs").len(), 1);
    assert_eq!(s.runs(None, 1).expect("runs").len(), 1);
}

fn health_reads_success_data_and_failures(s: &mut dyn Store) {
    let h = s.job_health("source:a").expect("health");
    assert!(h.last_run.is_none() && h.first_run.is_none() && h.runs == 0);
    s.add_run(&run("source:a", 1, "ok", 5)).expect("add");
    s.add_run(&run("source:a", 25, "idle", 0)).expect("add");
    s.add_run(&run("source:a", 26, "failed", 0)).expect("add");
    s.add_run(&run("source:a", 27, "ok", 7)).expect("add");
    s.add_run(&run("source:b", 30, "ok", 9)).expect("add");
    let h = s.job_health("source:a").expect("health");
    assert_eq!(h.runs, 4);
    assert_eq!(h.failed, 1);
    assert_eq!(h.first_run, Some(at(1)));
    assert_eq!(h.last_data, Some(at(27) + Duration::seconds(2)));
    assert_eq!(h.last_success, Some(at(27) + Duration::seconds(2)));
    assert_eq!(h.last_run.expect("last").records, 7);
    let v = s.job_volume("source:a", at(0)).expect("volume");
    assert_eq!(v, [(at(1).date_naive(), 5), (at(27).date_naive(), 7)]);
    assert_eq!(s.job_volume("source:a", at(2)).expect("volume").len(), 1);
}

fn checkpoints_and_files_are_kept_per_source(s: &mut dyn Store) {
    assert_eq!(s.checkpoint("source:a").expect("cp"), None);
    s.set_checkpoint("source:a", r#"{"ino":1,"offset":10}"#)
        .expect("set");
    s.set_checkpoint("source:a", r#"{"ino":1,"offset":20}"#)
        .expect("set");
    assert_eq!(
        s.checkpoint("source:a").expect("cp").as_deref(),
        Some(r#"{"ino":1,"offset":20}"#)
    );
    assert!(!s.file_seen("a", "abc").expect("seen"));
    s.mark_file("a", "abc", "drop/x.json", at(1)).expect("mark");
    s.mark_file("a", "abc", "drop/copy.json", at(2))
        .expect("mark twice");
    assert!(s.file_seen("a", "abc").expect("seen"));
    assert!(!s.file_seen("b", "abc").expect("seen"), "per source");
}
