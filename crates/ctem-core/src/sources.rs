//! Source health: whether a declared source delivers as often as it promised.
//!
//! A source's status is read from its recorded runs (`ctem_store::runs`) and its
//! `expect_every`:
//! - `failing`: its last run failed;
//! - `new`: it never delivered and has not been declared long enough to be late;
//! - `flowing`: it delivered within `expect_every` (or declares no expectation);
//! - `late`: overdue by less than a tenth of `expect_every` (the grace that keeps a daily
//!   CI drop a few minutes late from flapping);
//! - `silent`: overdue by more: a finding is opened for its owner and the channel told.

use std::time::Duration;

use chrono::{DateTime, Utc};
use ctem_store::runs::JobHealth;
use serde::Serialize;

/// A source's status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    New,
    Flowing,
    Late,
    Silent,
    Failing,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::New => "new",
            Status::Flowing => "flowing",
            Status::Late => "late",
            Status::Silent => "silent",
            Status::Failing => "failing",
        }
    }
}

/// The job name a source's runs are recorded under.
pub fn job_name(source: &str) -> String {
    format!("source:{source}")
}

/// The status of a source that promised data every `expect` and was first run at
/// `first_run` (the start of its clock when it never delivered).
pub fn status(expect: Option<Duration>, h: &JobHealth, now: DateTime<Utc>) -> Status {
    if h.last_run.as_ref().is_some_and(|r| r.outcome == "failed") {
        return Status::Failing;
    }
    let Some(since) = h.last_data.or(h.first_run) else {
        return Status::New;
    };
    let Some(expect) = expect else {
        return if h.last_data.is_some() {
            Status::Flowing
        } else {
            Status::New
        };
    };
    let age = now
        .signed_duration_since(since)
        .to_std()
        .unwrap_or_default();
    if age <= expect {
        if h.last_data.is_some() {
            Status::Flowing
        } else {
            Status::New
        }
    } else if age <= expect + expect / 10 {
        Status::Late
    } else {
        Status::Silent
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ctem_store::runs::JobRun;

    fn health(first: i64, data: Option<i64>, failed: bool) -> JobHealth {
        let t = |s: i64| DateTime::from_timestamp(s, 0).unwrap();
        JobHealth {
            last_run: Some(JobRun {
                id: 1,
                job: "source:x".into(),
                started_at: t(first),
                ended_at: t(first),
                outcome: if failed { "failed" } else { "ok" }.into(),
                records: 0,
                errors: Vec::new(),
            }),
            first_run: Some(t(first)),
            last_success: data.map(t),
            last_data: data.map(t),
            runs: 1,
            failed: failed as u64,
        }
    }

    #[test]
    fn status_follows_the_promise_with_a_tenth_of_grace() {
        let now = DateTime::from_timestamp(100_000, 0).unwrap();
        let day = Some(Duration::from_secs(10_000));
        assert_eq!(
            status(day, &health(0, Some(95_000), false), now),
            Status::Flowing
        );
        assert_eq!(
            status(day, &health(0, Some(89_500), false), now),
            Status::Late
        );
        assert_eq!(
            status(day, &health(0, Some(80_000), false), now),
            Status::Silent
        );
        assert_eq!(
            status(day, &health(0, Some(99_000), true), now),
            Status::Failing
        );
        // never delivered: new, then late and silent on the clock of its first run
        assert_eq!(status(day, &health(95_000, None, false), now), Status::New);
        assert_eq!(
            status(day, &health(50_000, None, false), now),
            Status::Silent
        );
        assert_eq!(status(None, &health(0, None, false), now), Status::New);
        assert_eq!(status(None, &JobHealth::default(), now), Status::New);
    }
}
