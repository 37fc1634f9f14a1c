//! What the scheduler keeps: a record of every job run (start, end, outcome, records,
//! errors), each source's checkpoint (a tailed file's position, a URL's validators), and the
//! content hashes of the files a folder source imported, so a file is imported once.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::Result;

/// One run of a scheduled job (`source:NAME`, `intel`, `kpi_snapshot`, `export:NAME`, ...).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobRun {
    /// Store id; 0 until stored.
    pub id: i64,
    pub job: String,
    pub started_at: DateTime<Utc>,
    pub ended_at: DateTime<Utc>,
    /// `ok` (did its work), `idle` (nothing to do: no new file, 304), or `failed`.
    pub outcome: String,
    /// Records the run brought in (exposures, events, indicators, lines written).
    pub records: u64,
    pub errors: Vec<String>,
}

/// A job's history in short.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct JobHealth {
    pub last_run: Option<JobRun>,
    /// The start of the first run (a source's clock before it ever delivered).
    pub first_run: Option<DateTime<Utc>>,
    /// The end of the last run that did not fail.
    pub last_success: Option<DateTime<Utc>>,
    /// The end of the last run that brought records in.
    pub last_data: Option<DateTime<Utc>>,
    pub runs: u64,
    pub failed: u64,
}

pub trait RunStore {
    /// Records a run; returns its id.
    fn add_run(&mut self, run: &JobRun) -> Result<i64>;
    /// The runs of `job` (every job when `None`), newest first.
    fn runs(&self, job: Option<&str>, limit: usize) -> Result<Vec<JobRun>>;
    fn job_health(&self, job: &str) -> Result<JobHealth>;
    /// Records per day of `job` since `since`, oldest day first (days without runs left out).
    fn job_volume(&self, job: &str, since: DateTime<Utc>) -> Result<Vec<(NaiveDate, u64)>>;
    /// A source's checkpoint, as the source wrote it (JSON).
    fn checkpoint(&self, name: &str) -> Result<Option<String>>;
    fn set_checkpoint(&mut self, name: &str, data: &str) -> Result<()>;
    /// Whether `source` already imported a file with this SHA-256.
    fn file_seen(&self, source: &str, sha256: &str) -> Result<bool>;
    fn mark_file(
        &mut self,
        source: &str,
        sha256: &str,
        path: &str,
        at: DateTime<Utc>,
    ) -> Result<()>;
}
