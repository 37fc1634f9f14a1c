//! The store in a multi-threaded front end: handles move between threads, a pool is shared,
//! a second writer waits, a reader never blocks an import, and errors say their kind.

use std::time::{Duration, Instant};

use chrono::Utc;
use ctem_model::{
    Asset, AssetKind, Exposure, ExposureKind, Identifier, IdentifierKind, Record, Severity,
};
use ctem_store::pool::UrlConnector;
use ctem_store::sqlite::SqliteStore;
use ctem_store::{ErrorKind, ExposureFilter, OpenOptions, Pool, ScanMeta, Store};

fn send_sync<T: Send + Sync>() {}
fn send<T: Send>() {}

#[test]
fn handles_are_send_and_the_pool_is_send_and_sync() {
    send::<Box<dyn Store>>();
    send::<SqliteStore>();
    send_sync::<Pool>();
}

fn meta(tool: &str) -> ScanMeta {
    ScanMeta {
        tool: tool.into(),
        format: tool.into(),
        scope: None,
        file: format!("{tool}.json"),
        sha256: tool.into(),
        imported_at: Utc::now(),
    }
}

/// One host `ip` with `n` distinct CVEs.
fn report(ip: &str, n: usize) -> Vec<Record> {
    let asset =
        Asset::new(AssetKind::Host, ip).with_identifier(Identifier::new(IdentifierKind::Ipv4, ip));
    let mut out = vec![Record::Asset { key: 0, asset }];
    for i in 0..n {
        let mut e = Exposure::new(
            ExposureKind::Vulnerability,
            format!("cve {i}"),
            Severity::High,
        );
        e.add_vuln_id(&format!("CVE-2024-{:04}", 1000 + i));
        out.push(Record::Exposure {
            asset: 0,
            exposure: Box::new(e),
        });
    }
    out
}

fn import(store: &mut dyn Store, tool: &str, records: Vec<Record>) -> ctem_store::Result<()> {
    let mut s = store.begin_import(meta(tool))?;
    for r in records {
        s.record(r)?;
    }
    s.commit().map(|_| ())
}

#[test]
fn threads_share_a_pool_and_their_writes_wait_for_each_other() {
    let dir = tempfile::tempdir().expect("tmp");
    let url = dir.path().join("ctem.db").display().to_string();
    let pool = Pool::new(
        Box::new(UrlConnector {
            url,
            options: OpenOptions::default(),
        }),
        4,
    )
    .expect("pool");
    std::thread::scope(|s| {
        for t in 0..4 {
            let pool = &pool;
            s.spawn(move || {
                let mut store = pool.get().expect("handle");
                for round in 0..3 {
                    let ip = format!("10.0.{t}.{round}");
                    import(&mut *store, &format!("tool{t}"), report(&ip, 20)).expect("import");
                }
            });
        }
    });
    let store = pool.get().expect("handle");
    assert_eq!(store.scans().expect("scans").len(), 12);
    // without a scope a scan speaks for its own host only: all 12 hosts keep their exposures
    let open = store.exposures(&ExposureFilter::default()).expect("q");
    assert_eq!(open.len(), 12 * 20);
    assert!(pool.idle() >= 1);
}

#[test]
fn a_writer_held_past_the_busy_timeout_fails_as_unavailable_and_waits_otherwise() {
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("ctem.db");
    let short = OpenOptions {
        busy_timeout: Duration::from_millis(200),
        ..OpenOptions::default()
    };
    let mut a = SqliteStore::open(&path).expect("a");
    let mut b = SqliteStore::open_with(&path, &short).expect("b");
    let session = a.begin_import(meta("first")).expect("begin");
    let start = Instant::now();
    let e = import(&mut b, "second", report("10.0.0.2", 1)).expect_err("locked");
    assert_eq!(e.kind(), ErrorKind::Unavailable, "{e}");
    assert!(
        start.elapsed() >= Duration::from_millis(150),
        "it waited first"
    );
    drop(session);
    // with the first writer gone the second one goes through
    import(&mut b, "second", report("10.0.0.2", 1)).expect("import");
}

#[test]
fn a_long_reader_never_blocks_an_import() {
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("ctem.db");
    let mut store = SqliteStore::open(&path).expect("store");
    import(&mut store, "seed", report("10.0.0.1", 5)).expect("seed");
    // a reader holding a snapshot open, as a long listing does
    let reader = rusqlite::Connection::open(&path).expect("reader");
    reader.execute_batch("BEGIN").expect("begin");
    let n: i64 = reader
        .query_row("SELECT count(*) FROM exposures", [], |r| r.get(0))
        .expect("read");
    assert_eq!(n, 5);
    let start = Instant::now();
    import(&mut store, "next", report("10.0.0.9", 5)).expect("import while reading");
    assert!(start.elapsed() < Duration::from_secs(5));
    let still: i64 = reader
        .query_row("SELECT count(*) FROM exposures", [], |r| r.get(0))
        .expect("read");
    assert_eq!(still, 5, "the reader keeps its snapshot");
}

#[test]
fn errors_have_a_kind() {
    let mut store = SqliteStore::in_memory().expect("store");
    let e = store
        .set_status(999, ctem_model::ExposureStatus::Accepted, "x")
        .expect_err("no such exposure");
    assert_eq!(e.kind(), ErrorKind::NotFound, "{e}");
    let e = ctem_store::open("mysql://x").err().expect("refused");
    assert_eq!(e.kind(), ErrorKind::Invalid);
    let e = SqliteStore::open("/nonexistent-dir-ctem/x.db")
        .err()
        .expect("error");
    assert_eq!(e.kind(), ErrorKind::Unavailable);
}
