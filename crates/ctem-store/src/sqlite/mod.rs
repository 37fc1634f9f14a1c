//! The embedded SQLite backend: the default store, zero set-up.

mod alerts;
mod auth;
mod context;
mod exercise;
mod import;
pub(crate) mod intel;
mod measure;
mod measure_facts;
mod measure_seen;
pub mod migrations;
mod overview;
mod query;
mod runs;
mod work;

use std::path::Path;

use rusqlite::{Connection, OptionalExtension};

use crate::{Error, ErrorKind, OpenOptions, Result};

/// A driver error as a store error: busy and locked are `unavailable` (another writer held
/// the store past the busy timeout, [`Error::is_busy`]), constraint violations `conflict`,
/// anything else `internal`.
pub(crate) fn backend_error(e: rusqlite::Error) -> Error {
    use rusqlite::ErrorCode as C;
    let kind = match e.sqlite_error_code() {
        Some(C::DatabaseBusy | C::DatabaseLocked) => ErrorKind::Unavailable,
        Some(C::ConstraintViolation) => ErrorKind::Conflict,
        _ => match e {
            rusqlite::Error::QueryReturnedNoRows => ErrorKind::NotFound,
            _ => ErrorKind::Internal,
        },
    };
    Error::Backend {
        kind,
        message: e.to_string(),
    }
}

// `?` on a driver result inside the backend; the conversion lives here, beside the driver
impl From<rusqlite::Error> for Error {
    fn from(e: rusqlite::Error) -> Self {
        backend_error(e)
    }
}

fn has_migrations_table(conn: &Connection) -> Result<bool> {
    Ok(conn.query_row(
        "SELECT count(*) > 0 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'",
        [],
        |r| r.get(0),
    )?)
}

/// The migrations not applied yet, in order; a store newer than this build is refused.
/// Each is applied once, by its number: a gap left by a migration that lands later is
/// filled then.
fn pending(conn: &Connection) -> Result<Vec<(i64, &'static str)>> {
    let latest = migrations::MIGRATIONS
        .iter()
        .map(|m| m.0)
        .max()
        .unwrap_or(0);
    let applied: std::collections::HashSet<i64> = if has_migrations_table(conn)? {
        let mut st = conn.prepare("SELECT version FROM schema_migrations")?;
        let rows = st.query_map([], |r| r.get(0))?;
        rows.collect::<std::result::Result<_, _>>()?
    } else {
        Default::default()
    };
    if let Some(found) = applied.iter().copied().max().filter(|v| *v > latest) {
        return Err(Error::SchemaTooNew {
            found,
            supported: latest,
        });
    }
    let mut todo: Vec<(i64, &'static str)> = migrations::MIGRATIONS
        .iter()
        .filter(|m| !applied.contains(&m.0))
        .copied()
        .collect();
    todo.sort_by_key(|m| m.0);
    Ok(todo)
}

/// A store in one SQLite file (WAL mode), or in memory for tests.
pub struct SqliteStore {
    pub(crate) conn: Connection,
    /// The checkpoint an import left running (see `SqliteImport::commit`); joined before
    /// the next import and when the store closes.
    pub(crate) checkpointer: Option<std::thread::JoinHandle<()>>,
}

impl Drop for SqliteStore {
    fn drop(&mut self) {
        if let Some(h) = self.checkpointer.take() {
            let _ = h.join();
        }
    }
}

/// Creates the store file with `mode` when it does not exist yet, so the database never
/// exists world-readable (SQLite would create it 0644 less the umask). SQLite creates the
/// `-wal`, `-shm` and `-journal` files with the mode of the database file. The mode is set
/// explicitly after the create, so a umask cannot widen or narrow the configured value; an
/// existing file is left as it is.
fn create_private(path: &Path, mode: u32) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(path)
        {
            Ok(f) => f.set_permissions(std::fs::Permissions::from_mode(mode)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
            Err(e) => Err(e),
        }
    }
    #[cfg(not(unix))]
    {
        let _ = (path, mode);
        Ok(())
    }
}

impl SqliteStore {
    /// Opens (creating if needed) the store at `path` and brings its schema up to date.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        Self::open_with(path, &OpenOptions::default())
    }

    /// [`SqliteStore::open`] with a busy timeout and the mode of a file it creates.
    pub fn open_with(path: impl AsRef<Path>, opts: &OpenOptions) -> Result<Self> {
        let path = path.as_ref();
        if let Some(dir) = path.parent()
            && !dir.as_os_str().is_empty()
            && !dir.exists()
        {
            return Err(Error::Open {
                url: path.display().to_string(),
                message: format!("folder {} does not exist", dir.display()),
            });
        }
        create_private(path, opts.file_mode).map_err(|e| Error::Open {
            url: path.display().to_string(),
            message: e.to_string(),
        })?;
        let conn = Connection::open(path).map_err(|e| Error::Open {
            url: path.display().to_string(),
            message: e.to_string(),
        })?;
        Self::init(conn, true, opts)
    }

    /// A private in-memory store (tests, benchmarks).
    pub fn in_memory() -> Result<Self> {
        Self::init(
            Connection::open_in_memory()?,
            false,
            &OpenOptions::default(),
        )
    }

    fn init(mut conn: Connection, wal: bool, opts: &OpenOptions) -> Result<Self> {
        // a second writer waits for the first (up to the busy timeout) instead of failing;
        // every transaction takes the write lock when it begins, so a transaction that read
        // first never fails half-way when it comes to write (SQLite cannot wait then)
        conn.busy_timeout(opts.busy_timeout)?;
        conn.set_transaction_behavior(rusqlite::TransactionBehavior::Immediate);
        // a new store gets larger pages (fewer page operations per row in bulk imports and
        // full scans); ignored once the file has any content
        conn.execute_batch("PRAGMA page_size = 16384")?;
        if wal {
            // switching a new file to WAL needs a moment alone with it, and SQLite answers
            // busy at once (no busy handler) when another process is opening it too: retry
            // until the busy timeout
            let started = std::time::Instant::now();
            loop {
                match conn.query_row("PRAGMA journal_mode=WAL", [], |r| r.get::<_, String>(0)) {
                    Err(e)
                        if e.sqlite_error_code() == Some(rusqlite::ErrorCode::DatabaseBusy)
                            && started.elapsed() < opts.busy_timeout =>
                    {
                        std::thread::sleep(std::time::Duration::from_millis(20));
                    }
                    r => {
                        r?;
                        break;
                    }
                }
            }
        }
        conn.execute_batch(
            "PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;
             PRAGMA temp_store=MEMORY;",
        )?;
        // 64 MiB of page cache: a bulk import's indexes stay in memory (a larger cache
        // measured no faster and costs resident memory)
        conn.execute_batch("PRAGMA cache_size=-65536")?;
        let mut s = SqliteStore {
            conn,
            checkpointer: None,
        };
        s.migrate()?;
        Ok(s)
    }

    /// The schema version this store is at.
    pub fn schema_version(&self) -> Result<i64> {
        if !has_migrations_table(&self.conn)? {
            return Ok(0);
        }
        Ok(self
            .conn
            .query_row("SELECT max(version) FROM schema_migrations", [], |r| {
                r.get::<_, Option<i64>>(0)
            })?
            .unwrap_or(0))
    }

    /// Brings the schema up to date. Many processes may open a new store at once: the
    /// migrations run under the write lock (an IMMEDIATE transaction), and what is pending
    /// is read again under it, so exactly one process applies them and the others wait for
    /// the busy timeout, then find nothing to do.
    fn migrate(&mut self) -> Result<()> {
        // the common case, a store already up to date, takes no lock
        if pending(&self.conn)?.is_empty() {
            return Ok(());
        }
        // foreign keys off while tables are rebuilt (dropping the old copy of a table must
        // not cascade into the rows that refer to it), checked once at the end; the pragma
        // cannot change inside a transaction
        self.conn.execute_batch("PRAGMA foreign_keys=OFF")?;
        let applied = (|| -> Result<()> {
            let tx = self
                .conn
                .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            tx.execute_batch(
                "CREATE TABLE IF NOT EXISTS schema_migrations (
                    version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)",
            )?;
            for (version, sql) in pending(&tx)? {
                tx.execute_batch(sql)?;
                tx.execute(
                    "INSERT INTO schema_migrations(version, applied_at) VALUES (?1, ?2)",
                    (version, chrono::Utc::now().timestamp()),
                )?;
            }
            let broken: i64 =
                tx.query_row("SELECT count(*) FROM pragma_foreign_key_check", [], |r| {
                    r.get(0)
                })?;
            if broken > 0 {
                return Err(Error::Corrupt {
                    table: "schema_migrations",
                    message: format!("{broken} rows refer to missing rows after migrating"),
                });
            }
            tx.commit()?;
            Ok(())
        })();
        self.conn.execute_batch("PRAGMA foreign_keys=ON")?;
        applied
    }

    /// The tables of the store with their columns, and the names of its indexes, as sorted
    /// lists (the schema comparison with PostgreSQL, `postgres::PgStore::describe`).
    pub fn describe(&self) -> Result<crate::SchemaShape> {
        let mut st = self.conn.prepare(
            "SELECT m.name, p.name FROM sqlite_master m, pragma_table_info(m.name) p
             WHERE m.type = 'table' ORDER BY 1, 2",
        )?;
        let mut tables: Vec<(String, Vec<String>)> = Vec::new();
        let rows = st.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?;
        for row in rows {
            let (t, c) = row?;
            match tables.last_mut() {
                Some((last, cs)) if *last == t => cs.push(c),
                _ => tables.push((t, vec![c])),
            }
        }
        let mut st = self.conn.prepare(
            "SELECT name FROM sqlite_master WHERE type = 'index'
             AND name NOT LIKE 'sqlite_autoindex%' ORDER BY 1",
        )?;
        let indexes = st
            .query_map([], |r| r.get(0))?
            .collect::<rusqlite::Result<Vec<String>>>()?;
        Ok((tables, indexes))
    }

    /// Whether any row exists in `table` (used by tests and `demo`).
    pub fn count(&self, table: &str) -> Result<i64> {
        if !table.bytes().all(|b| b.is_ascii_lowercase() || b == b'_') {
            return Err(Error::Invalid(format!("table name {table:?}")));
        }
        Ok(self
            .conn
            .query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))
            .optional()?
            .unwrap_or(0))
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn mode(p: &Path) -> u32 {
        std::fs::metadata(p).expect("stat").permissions().mode() & 0o777
    }

    fn write_something(s: &SqliteStore) {
        s.conn
            .execute_batch("CREATE TABLE t(x); INSERT INTO t VALUES (1);")
            .expect("write");
    }

    #[test]
    fn store_files_are_created_private_or_with_the_configured_mode() {
        let dir = tempfile::tempdir().expect("tmp");
        for (name, want) in [("a.db", 0o600), ("b.db", 0o640)] {
            let path = dir.path().join(name);
            let opts = crate::OpenOptions {
                file_mode: want,
                ..Default::default()
            };
            let s = SqliteStore::open_with(&path, &opts).expect("open");
            write_something(&s);
            // while the store is open its WAL and shared-memory files exist
            for suffix in ["", "-wal", "-shm"] {
                let f = dir.path().join(format!("{name}{suffix}"));
                assert_eq!(mode(&f), want, "{}", f.display());
            }
        }
    }

    #[test]
    fn an_existing_store_file_keeps_its_mode() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("c.db");
        drop(SqliteStore::open(&path).expect("create"));
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        let s = SqliteStore::open(&path).expect("reopen");
        write_something(&s);
        assert_eq!(mode(&path), 0o644);
    }

    #[test]
    fn a_lock_held_past_the_busy_timeout_is_a_busy_error() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("d.db");
        let opts = crate::OpenOptions {
            busy_timeout: std::time::Duration::from_millis(50),
            ..Default::default()
        };
        let mut a = SqliteStore::open_with(&path, &opts).expect("open");
        let b = SqliteStore::open_with(&path, &opts).expect("open");
        let tx = a.conn.transaction().expect("tx");
        tx.execute_batch("CREATE TABLE held(x)").expect("write");
        let e: Error = b
            .conn
            .execute_batch("CREATE TABLE other(x)")
            .expect_err("locked")
            .into();
        assert!(e.is_busy(), "{e}");
        assert!(!Error::NotFound("x".into()).is_busy());
    }
}
