//! The scheduler's periodic jobs: intel refresh (and the re-prioritisation it calls for),
//! the daily KPI snapshot, the review report, and blocklist exports.

use std::io::Write;

use anyhow::{Context, Result, anyhow};
use chrono::Utc;
use ctem_core::settings::Export;
use ctem_intel::share::ShareFilter;
use ctem_intel::share::blocklist::{BlocklistFormat, BlocklistType, blocklist};
use ctem_store::intel::IndicatorFilter;
use ctem_store::runs::JobRun;

use super::{Outcome, Scheduler};

/// Refreshes the `[[feeds]]` that are due (those named in `only`, else all); when any
/// changed, priorities follow (recorded as a `reprioritize` run).
pub fn intel(s: &mut Scheduler, only: Option<&[String]>) -> Result<Outcome> {
    let feeds: Vec<_> = s
        .settings
        .feeds
        .iter()
        .filter(|f| only.is_none_or(|o| o.is_empty() || o.contains(&f.name)))
        .cloned()
        .collect();
    if let Some(o) = only
        && let Some(missing) = o.iter().find(|n| !feeds.iter().any(|f| &f.name == *n))
    {
        return Err(anyhow!("no [[feeds]] entry named {missing:?}"));
    }
    let outcomes = crate::cmd::feeds::update(s.store.as_mut(), &feeds, false, &s.limits);
    let mut out = Outcome::idle();
    for o in &outcomes {
        if let Some(e) = &o.error {
            out.errors.push(format!("feed {}: {e}", o.feed));
        }
        if let Some(i) = &o.import {
            out.idle = false;
            out.records += i.records as u64;
        }
    }
    if outcomes.iter().any(|o| o.import.is_some()) {
        let started = Utc::now();
        let p = crate::cmd::risk::follow_up(s.store.as_mut(), &s.settings.risk);
        let run = JobRun {
            id: 0,
            job: "reprioritize".into(),
            started_at: started,
            ended_at: Utc::now(),
            outcome: if p.is_some() { "ok" } else { "failed" }.into(),
            records: p.map_or(0, |p| p.scored),
            errors: Vec::new(),
        };
        if let Ok(id) = s.store.add_run(&run) {
            s.runs.push(JobRun { id, ..run });
        }
    }
    Ok(out)
}

/// The day's KPI snapshot, once a day.
pub fn kpi_snapshot(s: &mut Scheduler) -> Result<Outcome> {
    let now = crate::cmd::measure::now()?;
    let taken = ctem_measure::kpi::daily_snapshot(s.store.as_mut(), now, &s.settings.measure.kpi)?;
    Ok(Outcome {
        records: taken as u64,
        idle: !taken,
        ..Outcome::default()
    })
}

/// The review report, written to `[schedule] review_dir` when set.
pub fn review(s: &mut Scheduler) -> Result<Outcome> {
    let text = crate::cmd::measure::review_report(&s.settings, None, "md")?;
    if let Some(dir) = &s.settings.schedule.review_dir {
        std::fs::create_dir_all(dir).with_context(|| format!("create {}", dir.display()))?;
        let path = dir.join(format!("review-{}.md", Utc::now().format("%Y-%m-%d")));
        write_atomic(&path, &text)?;
    }
    Ok(Outcome {
        records: 1,
        ..Outcome::default()
    })
}

/// Writes `text` to a temporary file beside `path` and renames it over `path`, so a reader
/// (postfix's `postmap`, nft) never sees half a file.
fn write_atomic(path: &std::path::Path, text: &str) -> Result<()> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(std::path::Path::new("."));
    std::fs::create_dir_all(dir).with_context(|| format!("create {}", dir.display()))?;
    let mut tmp = tempfile::Builder::new()
        .prefix(".ctem-")
        .tempfile_in(dir)
        .with_context(|| format!("temporary file in {}", dir.display()))?;
    tmp.write_all(text.as_bytes())
        .with_context(|| format!("write {}", path.display()))?;
    tmp.persist(path)
        .map_err(|e| anyhow!(e.error))
        .with_context(|| format!("write {}", path.display()))?;
    Ok(())
}

/// One `[[schedule.exports]]` blocklist.
pub fn export(s: &mut Scheduler, e: &Export) -> Result<Outcome> {
    let now = Utc::now();
    let all = s.store.indicators(&IndicatorFilter {
        active_at: Some(now),
        ..IndicatorFilter::default()
    })?;
    let kind = BlocklistType::parse(&e.kind).ok_or_else(|| anyhow!("type {:?}", e.kind))?;
    let format =
        BlocklistFormat::parse(&e.format).ok_or_else(|| anyhow!("format {:?}", e.format))?;
    let text = blocklist(&all, kind, format, &ShareFilter::new(now))?;
    write_atomic(&e.out, &text)?;
    let lines = text
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#') && !l.starts_with(';'))
        .count();
    Ok(Outcome {
        records: lines as u64,
        ..Outcome::default()
    })
}
