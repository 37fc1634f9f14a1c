//! Store integration tests: the conformance suite on real SQLite (file and memory).

mod listing;
mod postgres;
mod threads;

use ctem_store::sqlite::SqliteStore;
use ctem_store::{Store, testsuite};

#[test]
fn conformance_sqlite_memory() {
    testsuite::run_all(&mut || {
        Box::new(SqliteStore::in_memory().expect("store")) as Box<dyn Store>
    });
}

#[test]
fn conformance_sqlite_file() {
    let dir = tempfile::tempdir().expect("tmp");
    let mut n = 0;
    testsuite::run_all(&mut || {
        n += 1;
        let path = dir.path().join(format!("s{n}.db"));
        Box::new(SqliteStore::open(&path).expect("store")) as Box<dyn Store>
    });
}

#[test]
fn reopening_a_file_store_keeps_data_and_schema() {
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("ctem.db");
    {
        let mut s = SqliteStore::open(&path).expect("open");
        testsuite::CASES[0].1(&mut s);
    }
    let s = SqliteStore::open(&path).expect("reopen");
    let latest = ctem_store::sqlite::migrations::MIGRATIONS
        .iter()
        .map(|m| m.0)
        .max()
        .unwrap_or(0);
    assert_eq!(s.schema_version().expect("v"), latest);
    assert_eq!(s.exposures(&Default::default()).expect("q").len(), 2);
}

#[test]
fn missing_folder_is_a_clear_error() {
    let e = SqliteStore::open("/nonexistent-dir-ctem/x.db")
        .err()
        .expect("error");
    assert!(e.to_string().contains("does not exist"), "{e}");
}

#[test]
fn unknown_url_scheme_is_refused() {
    let e = ctem_store::open("mysql://x").err().expect("error");
    assert!(e.to_string().contains("unsupported store URL"), "{e}");
}

#[test]
fn intel_conformance_sqlite_memory() {
    ctem_store::testsuite_intel::run_all(&mut || {
        Box::new(SqliteStore::in_memory().expect("store")) as Box<dyn Store>
    });
}

#[test]
fn intel_conformance_sqlite_file() {
    let dir = tempfile::tempdir().expect("tmp");
    let mut n = 0;
    ctem_store::testsuite_intel::run_all(&mut || {
        n += 1;
        let path = dir.path().join(format!("i{n}.db"));
        Box::new(SqliteStore::open(&path).expect("store")) as Box<dyn Store>
    });
}

#[test]
fn exercise_conformance_sqlite() {
    let mut s = SqliteStore::in_memory().expect("store");
    ctem_store::exercise::conformance(&mut s);
    let dir = tempfile::tempdir().expect("tmp");
    let mut f = SqliteStore::open(dir.path().join("x.db")).expect("store");
    ctem_store::exercise::conformance(&mut f);
}

#[test]
fn runs_conformance_sqlite_memory() {
    ctem_store::testsuite_runs::run_all(&mut || {
        Box::new(SqliteStore::in_memory().expect("store")) as Box<dyn Store>
    });
}

#[test]
fn measure_conformance_sqlite_memory() {
    ctem_store::testsuite_measure::run_all(&mut || {
        Box::new(SqliteStore::in_memory().expect("store")) as Box<dyn Store>
    });
}

#[test]
fn measure_conformance_sqlite_file() {
    let dir = tempfile::tempdir().expect("tmp");
    let mut n = 0;
    ctem_store::testsuite_measure::run_all(&mut || {
        n += 1;
        let path = dir.path().join(format!("m{n}.db"));
        Box::new(SqliteStore::open(&path).expect("store")) as Box<dyn Store>
    });
}

#[test]
fn records_conformance_sqlite_memory() {
    ctem_store::testsuite_records::run_all(&mut || {
        Box::new(SqliteStore::in_memory().expect("store")) as Box<dyn Store>
    });
}

#[test]
fn records_conformance_sqlite_file() {
    let dir = tempfile::tempdir().expect("tmp");
    let mut n = 0;
    ctem_store::testsuite_records::run_all(&mut || {
        n += 1;
        let path = dir.path().join(format!("r{n}.db"));
        Box::new(SqliteStore::open(&path).expect("store")) as Box<dyn Store>
    });
}
