//! The domain's conformance suites (`ctem_core::testsuite`) on SQLite, in memory and in
//! files (the file store scores on two threads past a size, and reads by path).

use ctem_core::testsuite;
use ctem_store::Store;
use ctem_store::sqlite::SqliteStore;

fn memory() -> Box<dyn Store> {
    Box::new(SqliteStore::in_memory().expect("store"))
}

/// Stores in files of a temporary folder, a new one per call.
fn files(dir: &tempfile::TempDir) -> impl FnMut() -> Box<dyn Store> + '_ {
    let mut n = 0;
    move || {
        n += 1;
        let path = dir.path().join(format!("s{n}.db"));
        Box::new(SqliteStore::open(&path).expect("store")) as Box<dyn Store>
    }
}

#[test]
fn work_conformance_sqlite() {
    testsuite::work::run_all(&mut memory);
    let dir = tempfile::tempdir().expect("tmp");
    testsuite::work::run_all(&mut files(&dir));
}

#[test]
fn context_conformance_sqlite() {
    testsuite::context::run_all(&mut memory);
    let dir = tempfile::tempdir().expect("tmp");
    testsuite::context::run_all(&mut files(&dir));
}

#[test]
fn follow_up_conformance_sqlite() {
    let dir = tempfile::tempdir().expect("tmp");
    testsuite::followup::run_all(&mut files(&dir));
}
