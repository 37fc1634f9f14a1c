//! The conformance suites on PostgreSQL, from the same test list as SQLite
//! (`testsuite::SUITES`), and the PostgreSQL backend's own guarantees: the same schema as
//! SQLite, migrations that run once under concurrent first use, lock waits that end as
//! `unavailable`, both bulk-write paths agreeing.
//!
//! The server comes from `CTEM_TEST_POSTGRES` (a `postgres://` URL; `.ci/run` starts a
//! throwaway one). Unset, the tests print SKIPPED, except in CI (`CI=true`) where they fail.
//! Every case gets a schema of its own (`?schema=`), so the tests run in parallel.

use ctem_store::alerts::AlertStore;
use ctem_store::postgres::{BulkWrite, PgStore};
use ctem_store::sqlite::SqliteStore;
use ctem_store::testsuite_pg::{fresh, open, run_cases, server};
use ctem_store::work::WorkStore;
use ctem_store::{ErrorKind, OpenOptions, testsuite};

/// The cases whose operations PostgreSQL does not offer yet: each must fail with the
/// `unavailable` error naming them (never pass silently, never fail otherwise). None: every
/// case runs on both backends.
const PENDING: &[&str] = &[];

/// Runs one suite of `testsuite::SUITES`.
fn run_suite(suite: &str) {
    let Some(base) = server() else { return };
    let (_, cases) = testsuite::SUITES
        .iter()
        .find(|s| s.0 == suite)
        .expect("suite");
    run_cases(&base, cases, PENDING);
}

#[test]
fn postgres_conformance_store() {
    run_suite("store");
}

#[test]
fn postgres_conformance_intel() {
    run_suite("intel");
}

#[test]
fn postgres_conformance_records() {
    run_suite("records");
}

#[test]
fn postgres_conformance_runs() {
    run_suite("runs");
}

#[test]
fn postgres_conformance_measure() {
    run_suite("measure");
}

#[test]
fn postgres_every_pending_case_exists() {
    let all: Vec<&str> = testsuite::SUITES
        .iter()
        .flat_map(|s| s.1.iter().map(|c| c.0))
        .collect();
    for p in PENDING {
        assert!(all.contains(p), "PENDING names no case {p:?}");
    }
}

#[test]
fn postgres_schema_matches_sqlite() {
    let Some(base) = server() else { return };
    let pg = open(&fresh(&base, "schema"));
    let lite = SqliteStore::in_memory().expect("sqlite");
    let (pg_tables, pg_indexes) = pg.describe().expect("pg");
    let (lite_tables, lite_indexes) = lite.describe().expect("sqlite");
    pg.drop_schema().expect("drop");
    assert_eq!(pg_tables, lite_tables, "tables and columns");
    assert_eq!(pg_indexes, lite_indexes, "indexes");
}

#[test]
fn postgres_first_use_by_many_processes_migrates_once() {
    let Some(base) = server() else { return };
    let url = fresh(&base, "race");
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let url = url.clone();
            std::thread::spawn(move || PgStore::open_with(&url, &OpenOptions::default()))
        })
        .collect();
    let stores: Vec<PgStore> = handles
        .into_iter()
        .map(|h| h.join().expect("thread").expect("every opener succeeds"))
        .collect();
    // every migration applied once, by one opener
    assert_eq!(
        stores[0].count("schema_migrations").expect("count"),
        ctem_store::postgres::schema::MIGRATIONS.len() as i64
    );
    let latest = ctem_store::postgres::schema::MIGRATIONS
        .iter()
        .map(|m| m.0)
        .max()
        .unwrap_or(0);
    assert_eq!(stores[0].schema_version().expect("version"), latest);
    let mut stores = stores.into_iter();
    let first = stores.next().expect("one");
    drop(stores);
    first.drop_schema().expect("drop");
}

#[test]
fn postgres_a_lock_held_past_the_busy_timeout_is_unavailable() {
    let Some(base) = server() else { return };
    let url = fresh(&base, "busy");
    let opts = OpenOptions {
        busy_timeout: std::time::Duration::from_millis(100),
        ..OpenOptions::default()
    };
    let mut a = PgStore::open_with(&url, &opts).expect("a");
    let mut b = PgStore::open_with(&url, &opts).expect("b");
    a.put_team(&ctem_model::work::Team {
        name: "soc".into(),
        description: None,
    })
    .expect("team");
    // another session holds the table past the busy timeout
    let mut holder =
        postgres::Client::connect(base.split('?').next().unwrap_or(&base), postgres::NoTls)
            .expect("connect");
    let mut tx = holder.transaction().expect("begin");
    tx.batch_execute(&format!(
        "LOCK TABLE {}.teams IN ACCESS EXCLUSIVE MODE",
        a.schema()
    ))
    .expect("lock");
    let e = b
        .put_team(&ctem_model::work::Team {
            name: "soc".into(),
            description: Some("x".into()),
        })
        .expect_err("locked");
    assert!(e.is_busy(), "{e}");
    assert_eq!(e.kind(), ErrorKind::Unavailable);
    tx.rollback().expect("release");
    drop(a);
    b.put_team(&ctem_model::work::Team {
        name: "soc".into(),
        description: Some("x".into()),
    })
    .expect("free again");
    b.drop_schema().expect("drop");
}

/// An import holds the writer lock for its whole transaction: a second import waits (here
/// past its busy timeout: `unavailable`, busy) and, once the first committed, sees its rows
/// (the same host is one asset, merged, not a duplicate).
#[test]
fn postgres_an_import_waits_for_the_writer_lock_and_sees_the_previous_commit() {
    use ctem_model::{Asset, AssetKind, Identifier, IdentifierKind, Record};
    use ctem_store::Store;
    let Some(base) = server() else { return };
    let url = fresh(&base, "importlock");
    let opts = OpenOptions {
        busy_timeout: std::time::Duration::from_millis(200),
        ..OpenOptions::default()
    };
    let mut a = PgStore::open_with(&url, &opts).expect("a");
    let mut b = PgStore::open_with(&url, &opts).expect("b");
    let meta = |file: &str| ctem_store::ScanMeta {
        tool: "nmap".into(),
        format: "nmap".into(),
        scope: None,
        file: file.into(),
        sha256: String::new(),
        imported_at: chrono::Utc::now(),
    };
    let host = || Record::Asset {
        key: 0,
        asset: Asset::new(AssetKind::Host, "web-1")
            .with_identifier(Identifier::new(IdentifierKind::Fqdn, "web-1.example.org")),
    };
    let mut first = a.begin_import(meta("a.xml")).expect("first");
    first.record(host()).expect("asset");
    let e = b
        .begin_import(meta("b.xml"))
        .err()
        .expect("the lock is held");
    assert!(e.is_busy(), "{e}");
    assert_eq!(e.kind(), ErrorKind::Unavailable);
    assert_eq!(first.commit().expect("commit").assets.new, 1);
    let mut second = b.begin_import(meta("b.xml")).expect("free again");
    second.record(host()).expect("asset");
    let summary = second.commit().expect("commit");
    assert_eq!((summary.assets.new, summary.assets.merged), (0, 1));
    assert_eq!(b.count("assets").expect("count"), 1);
    drop(a);
    b.drop_schema().expect("drop");
}

#[test]
fn postgres_copy_and_multi_row_insert_store_the_same_alerts() {
    let Some(base) = server() else { return };
    let alerts: Vec<ctem_model::Alert> = (0..2500u64)
        .map(|i| ctem_model::Alert {
            id: None,
            rule_id: format!("r{}", i % 5),
            title: "t".into(),
            level: ["low", "high"][(i % 2) as usize].into(),
            kind: if i % 5 == 0 {
                ctem_model::AlertKind::Correlation
            } else {
                ctem_model::AlertKind::Event
            },
            tags: vec![],
            event_time: None,
            detected_at: chrono::DateTime::from_timestamp(1_700_000_000 + i as i64, 0)
                .expect("time"),
            source: Some("x.evtx".into()),
            // every event comes five times: 500 alerts
            record: Some(i % 500),
            host: Some(format!("h{}", i % 3)),
            user: None,
            process: None,
            event: serde_json::json!({"i": i}),
        })
        .collect();
    let mut seen = Vec::new();
    for mode in [BulkWrite::Copy, BulkWrite::Insert] {
        let mut s = open(&fresh(&base, "bulk"));
        s.set_bulk_write(mode);
        let ids = s.store_alerts(&alerts).expect("store");
        assert!(
            s.store_alerts(&alerts).expect("again").is_empty(),
            "{mode:?}"
        );
        let rows = s.alerts(&Default::default()).expect("read");
        seen.push((
            ids.len(),
            rows.iter()
                .map(|a| {
                    (
                        a.rule_id.clone(),
                        a.record,
                        a.host.clone(),
                        a.detected_at,
                        a.kind,
                    )
                })
                .collect::<Vec<_>>(),
        ));
        // the kind is stored: rule r0 is a correlation, the others are not
        assert!(
            rows.iter()
                .all(|a| (a.rule_id == "r0") == (a.kind == ctem_model::AlertKind::Correlation)),
            "{mode:?}"
        );
        s.drop_schema().expect("drop");
    }
    assert_eq!(seen[0], seen[1]);
    assert_eq!(seen[0].0, 500);
}

#[test]
fn postgres_a_pool_hands_out_handles_to_threads() {
    let Some(base) = server() else { return };
    let url = fresh(&base, "pool");
    let pool = ctem_store::Pool::new(
        Box::new(ctem_store::pool::UrlConnector {
            url: url.clone(),
            options: OpenOptions::default(),
        }),
        4,
    )
    .expect("pool");
    std::thread::scope(|s| {
        for t in 0..4 {
            let pool = &pool;
            s.spawn(move || {
                let mut h = pool.get().expect("handle");
                h.put_team(&ctem_model::work::Team {
                    name: format!("team{t}"),
                    description: None,
                })
                .expect("write");
            });
        }
    });
    assert!(pool.idle() >= 1 && pool.idle() <= 4, "{}", pool.idle());
    let names: Vec<String> = pool
        .get()
        .expect("handle")
        .teams()
        .expect("teams")
        .into_iter()
        .map(|t| t.name)
        .collect();
    assert_eq!(names, ["team0", "team1", "team2", "team3"]);
    drop(pool);
    open(&url).drop_schema().expect("drop");
}
