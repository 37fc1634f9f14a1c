//! Running the conformance suites on PostgreSQL: the server comes from
//! `CTEM_TEST_POSTGRES` (a `postgres://` URL; `.ci/run` starts a throwaway one). Unset, a
//! test prints SKIPPED, except in CI (`CI=true`) where it fails. Every case gets a schema of
//! its own (`?schema=`), so tests run in parallel on one database.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicU32, Ordering};

use crate::postgres::PgStore;
use crate::{OpenOptions, Store};

/// A conformance case: its name and its body over a fresh store.
pub type Case = (&'static str, fn(&mut dyn Store));

/// What a case of a PostgreSQL-pending operation fails with.
pub const NOT_YET: &str = "not available on PostgreSQL stores yet";

/// The server's URL, or `None` (after printing SKIPPED) outside CI.
pub fn server() -> Option<String> {
    match std::env::var("CTEM_TEST_POSTGRES") {
        Ok(u) if !u.trim().is_empty() => Some(u),
        _ => {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "CTEM_TEST_POSTGRES is not set: in CI the PostgreSQL tests must run \
                 (.ci/run starts a server)"
            );
            eprintln!("SKIPPED: set CTEM_TEST_POSTGRES=postgres://USER@HOST:PORT/DB to run");
            None
        }
    }
}

/// A URL for a schema no other test uses.
pub fn fresh(base: &str, tag: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let tag: String = tag
        .chars()
        .filter(char::is_ascii_lowercase)
        .take(20)
        .collect();
    let schema = format!(
        "t_{tag}_{}_{}_{nanos}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    );
    let sep = if base.contains('?') { '&' } else { '?' };
    format!("{base}{sep}schema={schema}")
}

/// Opens a store at `url` (with the default options).
pub fn open(url: &str) -> PgStore {
    PgStore::open_with(url, &OpenOptions::default()).expect("open the PostgreSQL store")
}

fn panic_text(p: Box<dyn std::any::Any + Send>) -> String {
    p.downcast_ref::<String>()
        .cloned()
        .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_default()
}

/// Runs `cases` on PostgreSQL, each on a fresh schema dropped afterwards. A case named in
/// `pending` must fail with [`NOT_YET`] (an operation PostgreSQL does not offer yet): it may
/// neither pass silently nor fail otherwise. Every failure is reported at once.
pub fn run_cases(base: &str, cases: &[Case], pending: &[&str]) {
    let mut failures = Vec::new();
    for (name, case) in cases {
        let mut store = open(&fresh(base, name));
        eprintln!("conformance (postgres): {name}");
        let outcome = catch_unwind(AssertUnwindSafe(|| case(&mut store)));
        match (outcome, pending.contains(name)) {
            (Ok(()), false) => {}
            (Ok(()), true) => failures.push(format!("{name}: passes now, take it off PENDING")),
            (Err(p), true) => {
                let text = panic_text(p);
                // the error as displayed, or as `expect` prints it
                if !text.contains(NOT_YET) && !text.contains("NotAvailable {") {
                    failures.push(format!("{name}: pending, but failed otherwise: {text}"));
                }
            }
            (Err(p), false) => failures.push(format!("{name}: {}", panic_text(p))),
        }
        store.drop_schema().expect("drop the test schema");
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Copies every row of a SQLite store into an empty PostgreSQL store of the same schema
/// (the rows the migration seeded are replaced), so a domain pass can run on both backends
/// from one state while PostgreSQL has no import yet. Identity counters continue after the
/// copied ids.
pub fn copy_from_sqlite(lite: &crate::sqlite::SqliteStore, pg: &PgStore) {
    let (tables, _) = lite.describe().expect("sqlite schema");
    let mut db = pg.db();
    // tables are copied in name order: foreign keys are checked by the copy's source, not
    // here (the test server's user is a superuser)
    db.batch_execute("SET session_replication_role = replica")
        .expect("replica role");
    for (table, _) in tables.iter().filter(|t| t.0 != "schema_migrations") {
        let cols = db
            .query(
                "SELECT column_name::text, data_type::text FROM information_schema.columns
                 WHERE table_schema = $1 AND table_name = $2 ORDER BY ordinal_position",
                &[&pg.schema(), table],
            )
            .expect("pg columns");
        let names: Vec<String> = cols.iter().map(|r| r.get::<_, String>(0)).collect();
        let quoted: Vec<String> = names.iter().map(|n| format!("\"{n}\"")).collect();
        let casts: Vec<String> = cols
            .iter()
            .enumerate()
            .map(|(i, r)| match r.get::<_, &str>(1) {
                "bytea" => format!("decode(${}::text, 'hex')", i + 1),
                t => format!("${}::text::{t}", i + 1),
            })
            .collect();
        db.execute(&format!("DELETE FROM {table}"), &[])
            .expect("empty");
        let insert = format!(
            "INSERT INTO {table} ({}) VALUES ({})",
            quoted.join(", "),
            casts.join(", ")
        );
        let mut st = lite
            .conn
            .prepare(&format!("SELECT {} FROM {table}", quoted.join(", ")))
            .expect("sqlite select");
        let mut rows = st.query([]).expect("sqlite rows");
        while let Some(r) = rows.next().expect("sqlite row") {
            use rusqlite::types::ValueRef as V;
            let vals: Vec<Option<String>> = (0..names.len())
                .map(|i| match r.get_ref(i).expect("value") {
                    V::Null => None,
                    V::Integer(n) => Some(n.to_string()),
                    V::Real(f) => Some(format!("{f:?}")),
                    V::Text(t) => Some(String::from_utf8_lossy(t).into_owned()),
                    V::Blob(b) => Some(b.iter().map(|x| format!("{x:02x}")).collect()),
                })
                .collect();
            let args: Vec<&(dyn postgres::types::ToSql + Sync)> = vals
                .iter()
                .map(|v| v as &(dyn postgres::types::ToSql + Sync))
                .collect();
            db.execute(&insert, &args).expect("pg insert");
        }
        if names.iter().any(|n| n == "id") {
            db.execute(
                &format!(
                    "SELECT setval(pg_get_serial_sequence($1, 'id'),
                            (SELECT coalesce(max(id), 0) + 1 FROM {table}), false)
                     WHERE pg_get_serial_sequence($1, 'id') IS NOT NULL"
                ),
                &[&format!("{}.{table}", pg.schema())],
            )
            .expect("identity");
        }
    }
    db.batch_execute("SET session_replication_role = origin")
        .expect("origin role");
}
