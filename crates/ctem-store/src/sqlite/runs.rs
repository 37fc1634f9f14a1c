//! SQLite side of [`crate::runs::RunStore`] (migration 80).

use chrono::{DateTime, NaiveDate, Utc};
use rusqlite::{OptionalExtension, Row, params};

use super::SqliteStore;
use crate::runs::{JobHealth, JobRun, RunStore};
use crate::{Error, Result};

/// Job runs, source checkpoints and the files folder sources imported (range 80-84).
pub(crate) const MIGRATION_80: &str = r#"
CREATE TABLE job_runs (
    id         INTEGER PRIMARY KEY,
    job        TEXT    NOT NULL,
    started_at INTEGER NOT NULL,
    ended_at   INTEGER NOT NULL,
    outcome    TEXT    NOT NULL,
    records    INTEGER NOT NULL,
    errors     TEXT    NOT NULL
);
CREATE INDEX job_runs_job ON job_runs(job, ended_at);
CREATE TABLE source_checkpoints (
    name TEXT PRIMARY KEY,
    data TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE source_files (
    source      TEXT    NOT NULL,
    sha256      TEXT    NOT NULL,
    path        TEXT    NOT NULL,
    imported_at INTEGER NOT NULL,
    PRIMARY KEY (source, sha256)
) WITHOUT ROWID;
"#;

fn ts(t: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(t).unwrap_or_default()
}

const COLS: &str = "id, job, started_at, ended_at, outcome, records, errors";

fn run_from_row(r: &Row<'_>) -> rusqlite::Result<JobRun> {
    let errors: String = r.get(6)?;
    Ok(JobRun {
        id: r.get(0)?,
        job: r.get(1)?,
        started_at: ts(r.get(2)?),
        ended_at: ts(r.get(3)?),
        outcome: r.get(4)?,
        records: r.get::<_, i64>(5)?.max(0) as u64,
        errors: serde_json::from_str(&errors).unwrap_or_else(|_| vec![errors]),
    })
}

impl RunStore for SqliteStore {
    fn add_run(&mut self, run: &JobRun) -> Result<i64> {
        let errors =
            serde_json::to_string(&run.errors).map_err(|e| Error::Invalid(e.to_string()))?;
        self.conn.execute(
            "INSERT INTO job_runs(job, started_at, ended_at, outcome, records, errors)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![
                run.job,
                run.started_at.timestamp_millis(),
                run.ended_at.timestamp_millis(),
                run.outcome,
                run.records as i64,
                errors
            ],
        )?;
        Ok(self.conn.last_insert_rowid())
    }

    fn runs(&self, job: Option<&str>, limit: usize) -> Result<Vec<JobRun>> {
        let mut st = self.conn.prepare(&format!(
            "SELECT {COLS} FROM job_runs WHERE ?1 IS NULL OR job = ?1
             ORDER BY ended_at DESC, id DESC LIMIT ?2"
        ))?;
        let rows = st.query_map(params![job, limit as i64], run_from_row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn job_health(&self, job: &str) -> Result<JobHealth> {
        let last_run = self
            .conn
            .query_row(
                &format!(
                    "SELECT {COLS} FROM job_runs WHERE job = ?1 ORDER BY ended_at DESC, id DESC LIMIT 1"
                ),
                [job],
                run_from_row,
            )
            .optional()?;
        let (first_run, last_success, last_data, runs, failed) = self.conn.query_row(
            "SELECT MIN(started_at), MAX(CASE WHEN outcome <> 'failed' THEN ended_at END),
                    MAX(CASE WHEN records > 0 AND outcome <> 'failed' THEN ended_at END),
                    COUNT(*), COALESCE(SUM(outcome = 'failed'), 0)
             FROM job_runs WHERE job = ?1",
            [job],
            |r| {
                Ok((
                    r.get::<_, Option<i64>>(0)?,
                    r.get::<_, Option<i64>>(1)?,
                    r.get::<_, Option<i64>>(2)?,
                    r.get::<_, i64>(3)?,
                    r.get::<_, i64>(4)?,
                ))
            },
        )?;
        Ok(JobHealth {
            last_run,
            first_run: first_run.map(ts),
            last_success: last_success.map(ts),
            last_data: last_data.map(ts),
            runs: runs.max(0) as u64,
            failed: failed.max(0) as u64,
        })
    }

    fn job_volume(&self, job: &str, since: DateTime<Utc>) -> Result<Vec<(NaiveDate, u64)>> {
        let mut st = self.conn.prepare(
            "SELECT ended_at, records FROM job_runs
             WHERE job = ?1 AND ended_at >= ?2 AND records > 0 ORDER BY ended_at",
        )?;
        let rows = st.query_map(params![job, since.timestamp_millis()], |r| {
            Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?))
        })?;
        let mut out: Vec<(NaiveDate, u64)> = Vec::new();
        for row in rows {
            let (t, n) = row?;
            let day = ts(t).date_naive();
            match out.last_mut() {
                Some((d, sum)) if *d == day => *sum += n.max(0) as u64,
                _ => out.push((day, n.max(0) as u64)),
            }
        }
        Ok(out)
    }

    fn checkpoint(&self, name: &str) -> Result<Option<String>> {
        Ok(self
            .conn
            .query_row(
                "SELECT data FROM source_checkpoints WHERE name = ?1",
                [name],
                |r| r.get(0),
            )
            .optional()?)
    }

    fn set_checkpoint(&mut self, name: &str, data: &str) -> Result<()> {
        self.conn.execute(
            "INSERT INTO source_checkpoints(name, data) VALUES (?1, ?2)
             ON CONFLICT(name) DO UPDATE SET data = excluded.data",
            params![name, data],
        )?;
        Ok(())
    }

    fn file_seen(&self, source: &str, sha256: &str) -> Result<bool> {
        Ok(self
            .conn
            .query_row(
                "SELECT 1 FROM source_files WHERE source = ?1 AND sha256 = ?2",
                params![source, sha256],
                |_| Ok(()),
            )
            .optional()?
            .is_some())
    }

    fn mark_file(
        &mut self,
        source: &str,
        sha256: &str,
        path: &str,
        at: DateTime<Utc>,
    ) -> Result<()> {
        self.conn.execute(
            "INSERT OR IGNORE INTO source_files(source, sha256, path, imported_at)
             VALUES (?1, ?2, ?3, ?4)",
            params![source, sha256, path, at.timestamp_millis()],
        )?;
        Ok(())
    }
}
