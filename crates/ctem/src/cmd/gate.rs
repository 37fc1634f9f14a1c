//! The CI gate and the export formats of `ctem exposures`.
//!
//! `--fail-on LEVEL` (and `ctem gate --fail-on LEVEL`) prints the listing as usual, then exits
//! with [`GATE_FAILED`] (3) when open or reopened exposures at or above LEVEL remain, as
//! Trivy's `--exit-code` does; `--new-since SCAN` counts only the exposures first seen at or
//! after that scan's import (a pull request's own findings, not the backlog). Exit codes 1
//! and 2 keep their meaning (the work failed, a usage error), so a pipeline can tell "the
//! gate found something" from "the gate could not run".
//!
//! `--format csv|sarif|cyclonedx-vex` writes the same exposures in an exchange format
//! ([`super::export`]); `--format json` is `--json`, `human` the table.

use std::collections::HashMap;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::ValueEnum;
use ctem_model::{Exposure, ExposureStatus, Severity};
use ctem_store::{AssetFilter, ExposureFilter, Store};

use super::list::ExposureQuery;

/// The exit code of a gate that found exposures at or above its level.
pub const GATE_FAILED: u8 = 3;

/// The end of `--help` of the commands with a gate.
pub const EXIT_CODES_HELP: &str = "Examples:
  ctem exposures --severity high
  ctem exposures --status fixed,accepted --json
  ctem exposures --kev --asset web-01
  ctem exposures --fail-on high
  ctem gate --fail-on critical --new-since 12 --format sarif > new.sarif
  ctem exposures --status all --format csv > exposures.csv

Exit codes: 0 success (and the gate passed), 1 the work failed, 2 usage error, 3 the gate \
failed: open exposures at or above --fail-on remain.";

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    /// A table for people (the default)
    Human,
    /// The JSON listing (same as --json)
    Json,
    /// RFC 4180 CSV with a header; cells that a spreadsheet would run as a formula are quoted
    Csv,
    /// SARIF 2.1.0 for GitHub code scanning and other SARIF consumers
    Sarif,
    /// A CycloneDX 1.6 VEX of the triage decisions on package vulnerabilities
    CyclonedxVex,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, ValueEnum)]
pub enum Level {
    Info,
    Low,
    Medium,
    High,
    Critical,
}

impl Level {
    pub fn severity(self) -> Severity {
        match self {
            Level::Info => Severity::Info,
            Level::Low => Severity::Low,
            Level::Medium => Severity::Medium,
            Level::High => Severity::High,
            Level::Critical => Severity::Critical,
        }
    }
}

/// The output and gate flags of `ctem exposures`.
#[derive(clap::Args, Debug, Default)]
pub struct OutputArgs {
    /// Output format: human, json (same as --json), csv, sarif or cyclonedx-vex
    #[arg(long, value_enum)]
    pub format: Option<OutputFormat>,
    /// Exit with code 3 when open exposures at or above this level remain (info, low,
    /// medium, high, critical), after printing the listing
    #[arg(long, value_enum, value_name = "LEVEL")]
    pub fail_on: Option<Level>,
    /// With --fail-on: count only exposures first seen in or after this scan (a scan id of
    /// `ctem scans`)
    #[arg(long, value_name = "SCAN", requires = "fail_on")]
    pub new_since: Option<i64>,
}

/// `ctem gate`: the exposures that fail the gate, listed; exit 3 when there are any.
#[derive(clap::Args, Debug)]
pub struct GateArgs {
    /// Fail (exit 3) on open exposures at or above this level
    #[arg(long, value_enum, value_name = "LEVEL")]
    pub fail_on: Level,
    /// Count only exposures first seen in or after this scan (a scan id of `ctem scans`)
    #[arg(long, value_name = "SCAN")]
    pub new_since: Option<i64>,
    /// Asset id, name or identifier
    #[arg(long)]
    pub asset: Option<String>,
    /// Only exposures reported by this tool
    #[arg(long)]
    pub tool: Option<String>,
    /// Output format: human, json, csv, sarif or cyclonedx-vex
    #[arg(long, value_enum)]
    pub format: Option<OutputFormat>,
    /// One JSON array on stdout (same as --format json)
    #[arg(long)]
    pub json: bool,
}

/// `ctem exposures` with its output and gate flags.
pub fn exposures(
    store: &dyn Store,
    q: ExposureQuery,
    json: bool,
    out: &OutputArgs,
) -> Result<ExitCode> {
    let format = match (out.format, json) {
        (Some(f), _) => f,
        (None, true) => OutputFormat::Json,
        (None, false) => OutputFormat::Human,
    };
    let gate_filter = ExposureFilter {
        min_severity: None,
        statuses: Vec::new(),
        asset: q.asset.clone(),
        cve: q.cve.clone(),
        tool: q.tool.clone(),
        kev: q.kev,
        limit: None,
    };
    let code = match format {
        OutputFormat::Human | OutputFormat::Json => {
            super::list::exposures(store, q, format == OutputFormat::Json)?
        }
        f => {
            let rows = store.exposures(&query_filter(&q)?)?;
            print_export(store, f, rows)?;
            ExitCode::SUCCESS
        }
    };
    if code != ExitCode::SUCCESS {
        return Ok(code);
    }
    match out.fail_on {
        Some(level) => gate(store, gate_filter, level, out.new_since),
        None => Ok(ExitCode::SUCCESS),
    }
}

/// `ctem gate`.
pub fn run(store: &dyn Store, a: GateArgs) -> Result<ExitCode> {
    let filter = ExposureFilter {
        asset: a.asset,
        tool: a.tool,
        ..Default::default()
    };
    let failing = failing(store, filter.clone(), a.fail_on, a.new_since)?;
    let format = match (a.format, a.json) {
        (Some(f), _) => f,
        (None, true) => OutputFormat::Json,
        (None, false) => OutputFormat::Human,
    };
    match format {
        OutputFormat::Json => {
            let mut w = std::io::stdout().lock();
            serde_json::to_writer(&mut w, &failing)?;
            std::io::Write::write_all(&mut w, b"\n")?;
        }
        OutputFormat::Human => {
            let names = asset_names(store)?;
            let mut t = crate::output::Table::new(&["ID", "SEVERITY", "STATUS", "ASSET", "TITLE"]);
            for e in &failing {
                t.row(vec![
                    e.id.unwrap_or_default().to_string(),
                    e.severity.as_str().into(),
                    e.status.as_str().into(),
                    e.asset_id
                        .and_then(|i| names.get(&i).cloned())
                        .unwrap_or_default(),
                    crate::output::cut(&e.title, 70),
                ]);
            }
            t.print("no open exposures at or above the gate's level");
        }
        f => print_export(store, f, failing.clone())?,
    }
    Ok(verdict(&failing, a.fail_on, a.new_since))
}

fn query_filter(q: &ExposureQuery) -> Result<ExposureFilter> {
    let min_severity = match &q.severity {
        Some(s) => Some(Severity::parse(s).with_context(|| {
            format!("unknown severity {s:?}: use info, low, medium, high or critical")
        })?),
        None => None,
    };
    Ok(ExposureFilter {
        min_severity,
        statuses: super::list::statuses(&q.status)?,
        asset: q.asset.clone(),
        cve: q.cve.clone(),
        tool: q.tool.clone(),
        kev: q.kev,
        limit: q.limit,
    })
}

fn print_export(store: &dyn Store, f: OutputFormat, rows: Vec<Exposure>) -> Result<()> {
    let names = asset_names(store)?;
    let mut w = std::io::BufWriter::new(std::io::stdout().lock());
    match f {
        OutputFormat::Csv => super::export::csv(&mut w, &rows, &names)?,
        OutputFormat::Sarif => super::export::sarif(&mut w, &rows, &names)?,
        OutputFormat::CyclonedxVex => {
            let rows = super::export::with_history(store, rows)?;
            super::export::vex(&mut w, &rows, &names)?
        }
        OutputFormat::Human | OutputFormat::Json => unreachable!("listed by list::exposures"),
    }
    std::io::Write::flush(&mut w)?;
    Ok(())
}

/// `ctem share vex`: the VEX of every package vulnerability (all statuses: the decisions
/// are the point), of one asset or all.
pub fn vex_text(store: &dyn Store, asset: Option<String>) -> Result<String> {
    let rows = store.exposures(&ExposureFilter {
        asset,
        ..Default::default()
    })?;
    let rows = super::export::with_history(store, rows)?;
    let mut out = Vec::new();
    super::export::vex(&mut out, &rows, &asset_names(store)?)?;
    Ok(String::from_utf8(out)?)
}

pub(crate) fn asset_names(store: &dyn Store) -> Result<HashMap<i64, String>> {
    Ok(store
        .assets(&AssetFilter::default())?
        .into_iter()
        .filter_map(|r| Some((r.asset.id?, r.asset.name)))
        .collect())
}

/// The active exposures at or above `level`, first seen in or after scan `since`.
fn failing(
    store: &dyn Store,
    mut filter: ExposureFilter,
    level: Level,
    since: Option<i64>,
) -> Result<Vec<Exposure>> {
    filter.min_severity = Some(level.severity());
    filter.statuses = vec![ExposureStatus::Open, ExposureStatus::Reopened];
    filter.limit = None;
    let mut rows = store.exposures(&filter)?;
    if let Some(id) = since {
        let Some(scan) = store.scans()?.into_iter().find(|s| s.id == Some(id)) else {
            bail!("--new-since {id}: no such scan (see ctem scans)");
        };
        // first_seen is stored in whole seconds
        let from = scan.imported_at.timestamp();
        rows.retain(|e| e.first_seen.is_some_and(|f| f.timestamp() >= from));
    }
    Ok(rows)
}

fn gate(
    store: &dyn Store,
    filter: ExposureFilter,
    level: Level,
    since: Option<i64>,
) -> Result<ExitCode> {
    let rows = failing(store, filter, level, since)?;
    Ok(verdict(&rows, level, since))
}

/// Exit 3 with a line on stderr naming what failed, or 0.
fn verdict(rows: &[Exposure], level: Level, since: Option<i64>) -> ExitCode {
    if rows.is_empty() {
        return ExitCode::SUCCESS;
    }
    let ids: Vec<String> = rows
        .iter()
        .take(20)
        .filter_map(|e| e.id.map(|i| i.to_string()))
        .collect();
    eprintln!(
        "gate failed: {} open exposures at or above {}{} (ids {}{})",
        rows.len(),
        level.severity().as_str(),
        since
            .map(|s| format!(" first seen since scan {s}"))
            .unwrap_or_default(),
        ids.join(", "),
        if rows.len() > ids.len() { ", ..." } else { "" }
    );
    ExitCode::from(GATE_FAILED)
}
