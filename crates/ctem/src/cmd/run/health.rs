//! Source health: `ctem sources`, and the finding a silent source opens for its owner.
//!
//! The findings are one scan of tool `ctem` in scope `ctem:sources`: each silent source is
//! an asset (`source:NAME`, owned by the source's owner) with a misconfiguration exposure.
//! The scan is imported again whenever the set of silent sources changes; its scope speaks
//! for every source, so a source that delivers again has its finding fixed by the ordinary
//! lifecycle. The gap analysis (`ctem assess`) lists each declared source with its status.

use std::process::ExitCode;

use anyhow::Result;
use chrono::{DateTime, Duration as Days, NaiveDate, Utc};
use ctem_core::Settings;
use ctem_core::settings::Source;
use ctem_core::sources::{Status, job_name, status};
use ctem_model::{Asset, AssetKind, Exposure, ExposureKind, Record, Severity};
use ctem_store::runs::{JobHealth, JobRun};
use ctem_store::{ScanMeta, Store};
use serde::Serialize;

use super::Scheduler;
use crate::output::Table;

/// The scope of the silent-source findings.
pub const SCOPE: &str = "ctem:sources";
/// The checkpoint holding the silent set last imported.
const SILENT_KEY: &str = "ctem:silent";

/// One source as `ctem sources` shows it.
#[derive(Debug, Serialize)]
pub struct SourceHealth {
    pub name: String,
    pub kind: &'static str,
    pub status: Status,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expect_every: Option<String>,
    pub last_success: Option<DateTime<Utc>>,
    pub last_data: Option<DateTime<Utc>>,
    /// Records over the last 7 days.
    pub records: u64,
    /// Records dropped by a stream receiver (its checkpoint's `dropped`).
    pub dropped: u64,
    pub runs: u64,
    pub failed_runs: u64,
    /// The last run's errors.
    pub errors: Vec<String>,
    /// Records per day over the last 7 days.
    pub volume: Vec<Volume>,
}

#[derive(Debug, Serialize)]
pub struct Volume {
    pub day: NaiveDate,
    pub records: u64,
}

fn humantime(d: std::time::Duration) -> String {
    let s = d.as_secs();
    match s {
        0 => "0s".into(),
        _ if s.is_multiple_of(86400) => format!("{}d", s / 86400),
        _ if s.is_multiple_of(3600) => format!("{}h", s / 3600),
        _ if s.is_multiple_of(60) => format!("{}m", s / 60),
        _ => format!("{s}s"),
    }
}

/// The health of every declared source.
pub fn health(
    store: &dyn Store,
    sources: &[Source],
    now: DateTime<Utc>,
) -> Result<Vec<SourceHealth>> {
    let week = now - Days::days(7);
    let mut out = Vec::new();
    for src in sources {
        let job = job_name(&src.name);
        let h: JobHealth = store.job_health(&job)?;
        let volume: Vec<Volume> = store
            .job_volume(&job, week)?
            .into_iter()
            .map(|(day, records)| Volume { day, records })
            .collect();
        let dropped = store
            .checkpoint(&job)?
            .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
            .and_then(|v| v.get("dropped").and_then(serde_json::Value::as_u64))
            .unwrap_or(0);
        out.push(SourceHealth {
            name: src.name.clone(),
            kind: src.kind.name(),
            status: status(src.expect_every, &h, now),
            owner: src.owner.clone(),
            expect_every: src.expect_every.map(humantime),
            last_success: h.last_success,
            last_data: h.last_data,
            records: volume.iter().map(|v| v.records).sum(),
            dropped,
            runs: h.runs,
            failed_runs: h.failed,
            errors: h.last_run.map(|r| r.errors).unwrap_or_default(),
            volume,
        });
    }
    Ok(out)
}

/// The finding of a silent source.
fn finding(src: &Source, h: &SourceHealth) -> [Record; 2] {
    let mut asset = Asset::new(AssetKind::Application, format!("source:{}", src.name));
    asset.owner_team = src.owner.clone();
    asset.tags = vec!["ctem-source".into(), format!("kind:{}", src.kind.name())];
    let last = h.last_data.map_or("never".to_string(), |t| {
        t.format("%Y-%m-%d %H:%M UTC").to_string()
    });
    let mut e = Exposure::new(
        ExposureKind::Misconfiguration,
        format!("source {} is silent", src.name),
        Severity::Medium,
    );
    e.rule_id = Some("ctem-source-silent".into());
    e.description = Some(format!(
        "the {} source {} promised data every {}; last data: {last}",
        src.kind.name(),
        src.name,
        h.expect_every.as_deref().unwrap_or("-"),
    ));
    e.solution =
        Some("check the job that feeds it (CI drop, URL, log shipper) and `ctem sources`".into());
    [
        Record::Asset { key: 0, asset },
        Record::Exposure {
            asset: 0,
            exposure: Box::new(e),
        },
    ]
}

/// Opens or closes the silent-source findings when the set of silent sources changed.
pub fn silence(s: &mut Scheduler) -> Result<()> {
    let now = Utc::now();
    let sources = s.settings.sources.clone();
    let all = health(s.store.as_ref(), &sources, now)?;
    let silent: Vec<(&Source, &SourceHealth)> = sources
        .iter()
        .zip(&all)
        .filter(|(_, h)| h.status == Status::Silent)
        .collect();
    let names: Vec<&str> = silent.iter().map(|(s, _)| s.name.as_str()).collect();
    let key = serde_json::to_string(&names)?;
    let before = s.store.checkpoint(SILENT_KEY)?;
    if before.as_deref() == Some(key.as_str()) || (before.is_none() && names.is_empty()) {
        return Ok(());
    }
    let started = Utc::now();
    let meta = ScanMeta {
        tool: "ctem".into(),
        format: "ctem".into(),
        scope: Some(SCOPE.into()),
        file: "source health".into(),
        sha256: String::new(),
        imported_at: now,
    };
    let mut session = s.store.begin_import(meta)?;
    for (i, (src, h)) in silent.iter().enumerate() {
        for mut r in finding(src, h) {
            match &mut r {
                Record::Asset { key, .. } => *key = i as u32,
                Record::Exposure { asset, .. } => *asset = i as u32,
                _ => {}
            }
            session.record(r)?;
        }
    }
    session.commit()?;
    s.store.set_checkpoint(SILENT_KEY, &key)?;
    crate::cmd::risk::follow_up(s.store.as_mut(), &s.settings.risk);
    let run = JobRun {
        id: 0,
        job: "source_health".into(),
        started_at: started,
        ended_at: Utc::now(),
        outcome: "ok".into(),
        records: names.len() as u64,
        errors: Vec::new(),
    };
    let id = s.store.add_run(&run)?;
    s.runs.push(JobRun { id, ..run });
    Ok(())
}

/// `ctem sources [--json] [--runs]`.
pub fn sources_cmd(settings: &Settings, json: bool, runs: bool, limit: usize) -> Result<ExitCode> {
    let store = crate::cmd::open_existing(settings)?;
    if runs {
        let list = store.runs(None, limit)?;
        if json {
            crate::output::json_array(&list);
            return Ok(ExitCode::SUCCESS);
        }
        let mut t = Table::new(&[
            "ID", "JOB", "STARTED", "SECONDS", "OUTCOME", "RECORDS", "ERRORS",
        ]);
        for r in list {
            let secs = (r.ended_at - r.started_at).num_milliseconds() as f64 / 1000.0;
            t.row(vec![
                r.id.to_string(),
                r.job,
                r.started_at.format("%Y-%m-%d %H:%M:%S").to_string(),
                format!("{secs:.3}"),
                r.outcome,
                r.records.to_string(),
                r.errors.join("; "),
            ]);
        }
        t.print("no runs recorded (ctem run or ctem serve records them)");
        return Ok(ExitCode::SUCCESS);
    }
    let list = health(store.as_ref(), &settings.sources, Utc::now())?;
    if json {
        crate::output::json_array(&list);
        return Ok(ExitCode::SUCCESS);
    }
    let mut t = Table::new(&[
        "SOURCE",
        "KIND",
        "STATUS",
        "LAST DATA",
        "7 DAYS",
        "OWNER",
        "ERRORS",
    ]);
    for h in list {
        let stream = matches!(h.kind, "syslog" | "kafka");
        t.row(vec![
            h.name,
            h.kind.into(),
            h.status.as_str().into(),
            h.last_data
                .map(|t| t.format("%Y-%m-%d %H:%M").to_string())
                .unwrap_or_else(|| "never".into()),
            if stream && h.dropped > 0 {
                format!("{} ({} dropped)", h.records, h.dropped)
            } else {
                h.records.to_string()
            },
            h.owner.unwrap_or_default(),
            crate::output::cut(&h.errors.join("; "), 60),
        ]);
    }
    t.print("no sources declared: add [[sources]] to ctem.toml (docs/config.md)");
    Ok(ExitCode::SUCCESS)
}

/// The declared sources as the gap analysis lists them.
pub fn assess_lines(
    store: &dyn Store,
    sources: &[Source],
) -> Result<Vec<ctem_measure::report::assess::SourceLine>> {
    Ok(health(store, sources, Utc::now())?
        .into_iter()
        .map(|h| ctem_measure::report::assess::SourceLine {
            kind: format!("declared source ({})", h.kind),
            name: h.name,
            last: h.last_data,
            status: h.status.as_str().into(),
        })
        .collect())
}
