//! [`crate::runs::RunStore`] on PostgreSQL (the counterpart of `sqlite/runs.rs`, migration
//! 80). Run times are stored in milliseconds, as on SQLite.

use chrono::{DateTime, NaiveDate, Utc};
use postgres::Row;

use super::{PgStore, json};
use crate::Result;
use crate::runs::{JobHealth, JobRun, RunStore};

fn ms(t: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(t).unwrap_or_default()
}

const COLS: &str = "id, job, started_at, ended_at, outcome, records, errors";

fn run_from_row(r: &Row) -> JobRun {
    let errors: String = r.get(6);
    JobRun {
        id: r.get(0),
        job: r.get(1),
        started_at: ms(r.get(2)),
        ended_at: ms(r.get(3)),
        outcome: r.get(4),
        records: r.get::<_, i64>(5).max(0) as u64,
        errors: serde_json::from_str(&errors).unwrap_or_else(|_| vec![errors]),
    }
}

impl RunStore for PgStore {
    fn add_run(&mut self, run: &JobRun) -> Result<i64> {
        let row = self.db().query_one(
            "INSERT INTO job_runs(job, started_at, ended_at, outcome, records, errors)
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
            &[
                &run.job,
                &run.started_at.timestamp_millis(),
                &run.ended_at.timestamp_millis(),
                &run.outcome,
                &i64::try_from(run.records).unwrap_or(i64::MAX),
                &json(&run.errors)?,
            ],
        )?;
        Ok(row.get(0))
    }

    fn runs(&self, job: Option<&str>, limit: usize) -> Result<Vec<JobRun>> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = self.db().query(
            &format!(
                "SELECT {COLS} FROM job_runs WHERE $1::text IS NULL OR job = $1
                 ORDER BY ended_at DESC, id DESC LIMIT $2"
            ),
            &[&job, &limit],
        )?;
        Ok(rows.iter().map(run_from_row).collect())
    }

    fn job_health(&self, job: &str) -> Result<JobHealth> {
        let mut db = self.db();
        let last_run = db
            .query_opt(
                &format!(
                    "SELECT {COLS} FROM job_runs WHERE job = $1
                     ORDER BY ended_at DESC, id DESC LIMIT 1"
                ),
                &[&job],
            )?
            .map(|r| run_from_row(&r));
        let r = db.query_one(
            "SELECT min(started_at), max(CASE WHEN outcome <> 'failed' THEN ended_at END),
                    max(CASE WHEN records > 0 AND outcome <> 'failed' THEN ended_at END),
                    count(*), count(*) FILTER (WHERE outcome = 'failed')
             FROM job_runs WHERE job = $1",
            &[&job],
        )?;
        Ok(JobHealth {
            last_run,
            first_run: r.get::<_, Option<i64>>(0).map(ms),
            last_success: r.get::<_, Option<i64>>(1).map(ms),
            last_data: r.get::<_, Option<i64>>(2).map(ms),
            runs: r.get::<_, i64>(3).max(0) as u64,
            failed: r.get::<_, i64>(4).max(0) as u64,
        })
    }

    fn job_volume(&self, job: &str, since: DateTime<Utc>) -> Result<Vec<(NaiveDate, u64)>> {
        let rows = self.db().query(
            "SELECT ended_at, records FROM job_runs
             WHERE job = $1 AND ended_at >= $2 AND records > 0 ORDER BY ended_at",
            &[&job, &since.timestamp_millis()],
        )?;
        let mut out: Vec<(NaiveDate, u64)> = Vec::new();
        for r in rows {
            let day = ms(r.get(0)).date_naive();
            let n = r.get::<_, i64>(1).max(0) as u64;
            match out.last_mut() {
                Some((d, sum)) if *d == day => *sum += n,
                _ => out.push((day, n)),
            }
        }
        Ok(out)
    }

    fn checkpoint(&self, name: &str) -> Result<Option<String>> {
        Ok(self
            .db()
            .query_opt(
                "SELECT data FROM source_checkpoints WHERE name = $1",
                &[&name],
            )?
            .map(|r| r.get(0)))
    }

    fn set_checkpoint(&mut self, name: &str, data: &str) -> Result<()> {
        self.db().execute(
            "INSERT INTO source_checkpoints(name, data) VALUES ($1, $2)
             ON CONFLICT (name) DO UPDATE SET data = excluded.data",
            &[&name, &data],
        )?;
        Ok(())
    }

    fn file_seen(&self, source: &str, sha256: &str) -> Result<bool> {
        Ok(self
            .db()
            .query_opt(
                "SELECT 1 FROM source_files WHERE source = $1 AND sha256 = $2",
                &[&source, &sha256],
            )?
            .is_some())
    }

    fn mark_file(
        &mut self,
        source: &str,
        sha256: &str,
        path: &str,
        at: DateTime<Utc>,
    ) -> Result<()> {
        self.db().execute(
            "INSERT INTO source_files(source, sha256, path, imported_at)
             VALUES ($1, $2, $3, $4) ON CONFLICT (source, sha256) DO NOTHING",
            &[&source, &sha256, &path, &at.timestamp_millis()],
        )?;
        Ok(())
    }
}
