//! The PostgreSQL backend: the same schema as SQLite (its own migrations, [`schema`]), for a
//! store shared by many processes and machines.
//!
//! - **A synchronous client** (the `postgres` crate): the [`crate::Store`] trait is
//!   synchronous, and a handle is one connection. A server shares a [`crate::Pool`] of them.
//! - **Migrations run once**: every process that opens a store takes a transaction-scoped
//!   advisory lock (`pg_advisory_xact_lock`, keyed by the schema) and reads what is pending
//!   under it, so of many processes opening a new store at once one migrates and the others
//!   find nothing to do.
//! - **A schema per store**: `postgres://HOST/DB?schema=NAME` keeps a store in its own
//!   schema (created on first use), so tests run side by side in one database. Without it
//!   the store lives in `public`.
//! - **Imports serialise on the writer lock** (`import.rs`): the session takes the advisory
//!   lock a prioritisation pass takes before its transaction begins, and applies the
//!   decisions of `ctem_model::lifecycle`, writing new exposures by binary `COPY`.
//! - **Bulk writes** go through `COPY ... FROM STDIN (FORMAT binary)` into a temporary table,
//!   then one `INSERT ... SELECT ... ON CONFLICT`: measured against multi-row `INSERT`s in
//!   `bench/postgres.sh` (see [`alerts`]).

mod alerts;
mod auth;
mod exercise;
mod import;
mod import_assets;
mod intel;
mod measure;
mod measure_facts;
mod measure_seen;
mod reads;
mod risk;
mod runs;
pub mod schema;
mod work;

use std::cell::{RefCell, RefMut};

use postgres::error::SqlState;
use postgres::{Client, NoTls};

pub use alerts::BulkWrite;

use crate::{Error, ErrorKind, OpenOptions, Result};

/// A driver error as a store error: lock timeouts, serialization failures, deadlocks and a
/// lost connection are `unavailable` (repeating later may succeed), constraint violations
/// `conflict`, anything else `internal`. The message is the server's, without the driver's
/// prefix.
pub(crate) fn backend_error(e: postgres::Error) -> Error {
    let kind = match e.code() {
        Some(c)
            if *c == SqlState::LOCK_NOT_AVAILABLE
                || *c == SqlState::T_R_SERIALIZATION_FAILURE
                || *c == SqlState::T_R_DEADLOCK_DETECTED
                || *c == SqlState::QUERY_CANCELED
                || *c == SqlState::ADMIN_SHUTDOWN
                || *c == SqlState::TOO_MANY_CONNECTIONS =>
        {
            ErrorKind::Unavailable
        }
        Some(c) if c.code().starts_with("23") => ErrorKind::Conflict,
        Some(c) if c.code().starts_with("22") => ErrorKind::Invalid,
        Some(_) => ErrorKind::Internal,
        None if e.is_closed() => ErrorKind::Unavailable,
        None => ErrorKind::Internal,
    };
    let message = match e.as_db_error() {
        Some(db) => db.message().to_string(),
        None => e.to_string(),
    };
    Error::Backend { kind, message }
}

// `?` on a driver result inside the backend; the conversion lives here, beside the driver
impl From<postgres::Error> for Error {
    fn from(e: postgres::Error) -> Self {
        backend_error(e)
    }
}

/// A store in one PostgreSQL schema.
pub struct PgStore {
    client: RefCell<Client>,
    schema: String,
    bulk: alerts::BulkWrite,
}

/// Splits `?schema=NAME` off a URL (the driver refuses parameters it does not know).
fn split_schema(url: &str) -> Result<(String, String)> {
    let Some((base, query)) = url.split_once('?') else {
        return Ok((url.to_string(), "public".to_string()));
    };
    let mut schema = "public".to_string();
    let mut rest = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        match pair.strip_prefix("schema=") {
            Some(s) => schema = s.to_string(),
            None => rest.push(pair),
        }
    }
    let ok = !schema.is_empty()
        && schema.len() <= 63
        && schema
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        && !schema.as_bytes()[0].is_ascii_digit();
    if !ok {
        return Err(Error::Invalid(format!(
            "schema {schema:?}: use lower-case letters, digits and _ (at most 63)"
        )));
    }
    let url = if rest.is_empty() {
        base.to_string()
    } else {
        format!("{base}?{}", rest.join("&"))
    };
    Ok((url, schema))
}

impl PgStore {
    /// Connects to the store at `url` (`postgres://USER@HOST:PORT/DB[?schema=NAME]`) and
    /// brings its schema up to date.
    pub fn open_with(url: &str, opts: &OpenOptions) -> Result<Self> {
        let shown = ctem_model::redact::url(url);
        let (conn_url, schema) = split_schema(url)?;
        let client = Client::connect(&conn_url, NoTls).map_err(|e| Error::Open {
            url: shown.clone(),
            message: match e.as_db_error() {
                Some(db) => db.message().to_string(),
                None => e.to_string(),
            },
        })?;
        let store = PgStore {
            client: RefCell::new(client),
            schema,
            bulk: alerts::BulkWrite::default(),
        };
        // a statement waits for another transaction's lock up to the busy timeout, then
        // fails as `unavailable` (the SQLite busy timeout's counterpart)
        let ms = opts.busy_timeout.as_millis().max(1);
        store
            .db()
            .batch_execute(&format!("SET lock_timeout = {ms}"))?;
        store.migrate()?;
        store
            .db()
            .batch_execute(&format!("SET search_path TO {}", store.schema))?;
        Ok(store)
    }

    pub(crate) fn db(&self) -> RefMut<'_, Client> {
        self.client.borrow_mut()
    }

    /// How bulk writes reach the server (the benchmark compares both).
    pub fn set_bulk_write(&mut self, bulk: BulkWrite) {
        self.bulk = bulk;
    }

    /// The schema this store lives in.
    pub fn schema(&self) -> &str {
        &self.schema
    }

    /// The schema version this store is at.
    pub fn schema_version(&self) -> Result<i64> {
        let row = self
            .db()
            .query_one("SELECT max(version) FROM schema_migrations", &[])?;
        Ok(row.get::<_, Option<i64>>(0).unwrap_or(0))
    }

    /// Brings the schema up to date, once: the pending migrations are read and applied
    /// under an advisory lock held to the end of the transaction.
    fn migrate(&self) -> Result<()> {
        let latest = schema::MIGRATIONS.iter().map(|m| m.0).max().unwrap_or(0);
        let mut db = self.db();
        let mut tx = db.transaction()?;
        tx.execute(
            "SELECT pg_advisory_xact_lock(hashtext('ctem migrations ' || $1))",
            &[&self.schema],
        )?;
        tx.batch_execute(&format!(
            "CREATE SCHEMA IF NOT EXISTS {s}; SET LOCAL search_path TO {s};
             CREATE TABLE IF NOT EXISTS schema_migrations (
                version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL)",
            s = self.schema
        ))?;
        let applied: std::collections::HashSet<i64> = tx
            .query("SELECT version FROM schema_migrations", &[])?
            .iter()
            .map(|r| r.get(0))
            .collect();
        if let Some(found) = applied.iter().copied().max().filter(|v| *v > latest) {
            return Err(Error::SchemaTooNew {
                found,
                supported: latest,
            });
        }
        // list order (schema.rs): 70 is the base the later counterparts build on
        for (version, sql) in schema::MIGRATIONS
            .iter()
            .filter(|m| !applied.contains(&m.0))
        {
            tx.batch_execute(sql)?;
            tx.execute(
                "INSERT INTO schema_migrations(version, applied_at) VALUES ($1, $2)",
                &[version, &chrono::Utc::now().timestamp()],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    /// How many rows `table` has (tests, benchmarks).
    pub fn count(&self, table: &str) -> Result<i64> {
        if !table.bytes().all(|b| b.is_ascii_lowercase() || b == b'_') {
            return Err(Error::Invalid(format!("table name {table:?}")));
        }
        let row = self
            .db()
            .query_one(&format!("SELECT count(*) FROM {table}"), &[])?;
        Ok(row.get(0))
    }

    /// Drops this store's schema with everything in it (tests).
    pub fn drop_schema(self) -> Result<()> {
        if self.schema == "public" {
            return Err(Error::Invalid("the public schema is not dropped".into()));
        }
        self.db()
            .batch_execute(&format!("DROP SCHEMA {} CASCADE", self.schema))?;
        Ok(())
    }

    /// The tables of the store with their columns, and the names of its indexes, as
    /// sorted lists (the schema comparison with SQLite).
    pub fn describe(&self) -> Result<crate::SchemaShape> {
        let mut db = self.db();
        let cols = db.query(
            "SELECT table_name::text, column_name::text FROM information_schema.columns
             WHERE table_schema = $1 ORDER BY 1, 2",
            &[&self.schema],
        )?;
        let mut tables: Vec<(String, Vec<String>)> = Vec::new();
        for r in cols {
            let (t, c): (String, String) = (r.get(0), r.get(1));
            match tables.last_mut() {
                Some((last, cs)) if *last == t => cs.push(c),
                _ => tables.push((t, vec![c])),
            }
        }
        let idx = db.query(
            "SELECT indexname::text FROM pg_indexes WHERE schemaname = $1
             AND indexname NOT LIKE '%_pkey' AND indexname NOT LIKE '%_key' ORDER BY 1",
            &[&self.schema],
        )?;
        Ok((tables, idx.iter().map(|r| r.get(0)).collect()))
    }
}

/// Seconds since the epoch as a time (0 for a value out of range, as SQLite reads it).
pub(crate) fn ts(t: i64) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_timestamp(t, 0).unwrap_or_default()
}

/// A JSON text of a stored value; a value that does not serialise is invalid input.
pub(crate) fn json<T: serde::Serialize + ?Sized>(v: &T) -> Result<String> {
    serde_json::to_string(v).map_err(|e| Error::Invalid(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_schema_parameter_is_split_off_and_checked() {
        let (u, s) = split_schema("postgres://u@h:5/db?schema=t_1&sslmode=disable").unwrap();
        assert_eq!(
            (u.as_str(), s.as_str()),
            ("postgres://u@h:5/db?sslmode=disable", "t_1")
        );
        let (u, s) = split_schema("postgres://u@h/db").unwrap();
        assert_eq!((u.as_str(), s.as_str()), ("postgres://u@h/db", "public"));
        assert!(split_schema("postgres://h/db?schema=a;drop").is_err());
        assert!(split_schema("postgres://h/db?schema=9a").is_err());
    }
}
