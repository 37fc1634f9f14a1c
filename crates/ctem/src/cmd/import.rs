//! `ctem import`: files, folders (walked recursively, sorted) and standard input, plain or
//! gzip (crate::input reads them, bounded); one transaction per file, a summary per file.
//! A file found in a folder that is not a report ctem reads is skipped with a note, not a
//! failure; a file named on the command line must import.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, anyhow, bail};
use ctem_core::Settings;
use ctem_core::import::{ImportError, ImportOptions, Progress, choose_format, import_file};
use ctem_core::settings::{RiskSettings, VANTAGE_FORMATS, Vantage};
use ctem_model::ImportSummary;
use ctem_store::Store;

use crate::input::{self, Limits, Source};
use crate::output::progress;

pub struct Options {
    pub format: String,
    pub scope: Option<String>,
    pub strict: bool,
    pub progress: bool,
    pub limits: Limits,
    /// Where a port scan was taken from: external marks the hosts it reached
    /// internet-facing (port scan formats only; see `ctem_core::settings::VANTAGE_FORMATS`).
    pub vantage: Vantage,
}

/// Whether `--vantage` means something for `--format NAME` (`auto` is checked per file).
pub fn vantage_applies(format: &str) -> bool {
    format == "auto" || VANTAGE_FORMATS.contains(&format)
}

pub struct FileResult {
    pub file: String,
    pub outcome: Result<ImportSummary>,
}

impl FileResult {
    /// Why a file found in a folder was left alone (it is not a report ctem reads).
    fn skipped(&self) -> Option<String> {
        match &self.outcome {
            Err(e) => match e.downcast_ref::<ImportError>() {
                Some(ImportError::Unrecognised(why)) => Some(why.clone()),
                _ => None,
            },
            Ok(_) => None,
        }
    }
}

/// `ctem import`: files, folders and stdin, one transaction and one summary per file.
pub fn run(settings: &Settings, args: &[PathBuf], opts: &Options, json: bool) -> Result<ExitCode> {
    if opts.format != "auto" {
        ctem_ingest::by_name(&opts.format)?;
    }
    if args.iter().filter(|a| a.as_os_str() == "-").count() > 1 {
        bail!("-: standard input can be read only once");
    }
    let mut store = super::open_store(settings)?;
    // a name that cannot be opened is that file's failure; the others are still imported
    let mut results = Vec::new();
    let mut sources = Vec::new();
    for a in args {
        match input::expand(std::slice::from_ref(a)) {
            Ok(found) => sources.extend(found),
            Err(e) => results.push(FileResult {
                file: a.display().to_string(),
                outcome: Err(e),
            }),
        }
    }
    results.extend(import_sources(
        store.as_mut(),
        &sources,
        opts,
        &settings.risk,
    ));
    if results.iter().any(|r| r.outcome.is_ok()) {
        super::measure::after_change(store.as_mut(), &settings.measure, false);
    }
    print(&results, json, settings.store.busy_timeout);
    let failed = results
        .iter()
        .any(|r| r.outcome.is_err() && r.skipped().is_none());
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// Imports plain files (the demo's).
pub fn import_files(
    store: &mut dyn Store,
    files: &[PathBuf],
    opts: &Options,
    risk: &RiskSettings,
) -> Vec<FileResult> {
    let sources: Vec<Source> = files
        .iter()
        .map(|f| Source {
            path: Some(f.clone()),
            in_folder: false,
        })
        .collect();
    import_sources(store, &sources, opts, risk)
}

/// One uploaded report (`POST /api/v1/imports`): the bytes go to a private temporary file so
/// the same parse paths (memory map, streaming, format detection by content and name) run
/// as for `ctem import FILE`; the scan records `name`. This is the one entry point the
/// server's import jobs call (it moves to ctem-core with the rest of the pipeline).
pub fn import_upload(
    store: &mut dyn Store,
    bytes: &[u8],
    name: &str,
    opts: &Options,
    risk: &RiskSettings,
) -> Result<ImportSummary> {
    // only the base name is kept: it helps format detection and names the scan
    let base = Path::new(name)
        .file_name()
        .and_then(|n| n.to_str())
        .filter(|n| !n.is_empty())
        .unwrap_or("upload");
    let dir = tempfile::Builder::new()
        .prefix("ctem-upload-")
        .tempdir()
        .context("temporary folder for the upload")?;
    let path = dir.path().join(base);
    std::fs::write(&path, bytes).context("writing the upload")?;
    let src = Source {
        path: Some(path),
        in_folder: false,
    };
    import_source(store, &src, opts, false, base.to_string(), risk)
}

/// Imports each source in its own transaction; each is followed up (enrichment,
/// priorities, tickets) with `risk`.
fn import_sources(
    store: &mut dyn Store,
    sources: &[Source],
    opts: &Options,
    risk: &RiskSettings,
) -> Vec<FileResult> {
    let bar = if opts.progress {
        progress::items(sources.len() as u64, "importing".into())
    } else {
        indicatif::ProgressBar::hidden()
    };
    let one = sources.len() == 1;
    let results = sources
        .iter()
        .map(|src| {
            let label = src.label();
            bar.set_message(format!("importing {label}"));
            let outcome = import_source(store, src, opts, one, label.clone(), risk)
                .with_context(|| label.clone());
            bar.inc(1);
            FileResult {
                file: label,
                outcome,
            }
        })
        .collect();
    bar.finish_and_clear();
    results
}

/// One source: spooled (a pipe or a gzip copied to a file), its format chosen from its
/// first bytes, then the core's pipeline (`ctem_core::import::import_file`) with a progress
/// bar for a large file and the phase timings of `CTEM_TIMINGS`.
fn import_source(
    store: &mut dyn Store,
    src: &Source,
    opts: &Options,
    show_bytes: bool,
    label: String,
    risk: &RiskSettings,
) -> Result<ImportSummary> {
    let mut format = None;
    let spooled = input::spool(src, &opts.limits, |head| {
        format = Some(choose_format(
            head,
            &src.detect_name(),
            &opts.format,
            src.in_folder,
        )?);
        Ok(())
    })?;
    let format = format.ok_or_else(|| anyhow!("no format chosen (a bug)"))?;
    let mut file = spooled.file;
    let size = file.metadata().map(|m| m.len()).unwrap_or(0);
    let bar = (opts.progress && show_bytes && size > 8 << 20)
        .then(|| progress::bytes(size, format!("importing {label}")));
    let core = ImportOptions {
        scope: opts.scope.clone(),
        strict: opts.strict,
        vantage: opts.vantage,
    };
    let mut phase = super::Timings::from_env();
    let position = |p: u64| {
        if let Some(b) = &bar {
            b.set_position(p);
        }
    };
    let summary = import_file(
        store,
        &mut file,
        format,
        label,
        &core,
        risk,
        &position,
        &mut |p| match p {
            Progress::Lap(what) => {
                if let Some(b) = &bar {
                    b.finish_and_clear();
                }
                phase.lap(what)
            }
            Progress::Note(what) => phase.note(what),
            Progress::FollowUp(p) => super::risk::report(p),
        },
    )?;
    Ok(summary)
}

#[derive(serde::Serialize)]
struct Failed<'a> {
    file: &'a str,
    error: String,
}

#[derive(serde::Serialize)]
struct Skipped<'a> {
    file: &'a str,
    skipped: String,
}

/// The summaries: one JSON array (a summary, `{file, error}` or `{file, skipped}` per file),
/// or a line per file; `waited` is the busy timeout, named when a store was locked.
pub fn print(results: &[FileResult], json: bool, waited: std::time::Duration) {
    if json {
        crate::output::json_array(results.iter().map(|r| {
            match (&r.outcome, r.skipped()) {
                (Ok(s), _) => serde_json::to_value(s).unwrap_or_default(),
                (Err(_), Some(why)) => serde_json::to_value(Skipped {
                    file: &r.file,
                    skipped: why,
                })
                .unwrap_or_default(),
                (Err(e), None) => serde_json::to_value(Failed {
                    file: &r.file,
                    error: crate::output::chain_waited(e, Some(waited)),
                })
                .unwrap_or_default(),
            }
        }));
        return;
    }
    for r in results {
        match (&r.outcome, r.skipped()) {
            (Ok(s), _) => print_summary(s),
            (Err(_), Some(why)) => eprintln!("skipped {}: {why}", r.file),
            (Err(e), None) => eprintln!(
                "error: {}",
                crate::output::printable(&crate::output::chain_waited(e, Some(waited)), 4096)
            ),
        }
    }
    if results.is_empty() {
        outln!("no files to import");
    }
}

pub fn print_summary(s: &ImportSummary) {
    let e = &s.exposures;
    outln!(
        "{} ({}): assets {} new, {} merged; exposures {} new, {} unchanged, {} updated, {} fixed, {} reopened; {} services{}",
        s.file,
        s.format,
        s.assets.new,
        s.assets.merged,
        e.new,
        e.unchanged,
        e.updated,
        e.fixed,
        e.reopened,
        s.services,
        if s.issues.is_empty() {
            String::new()
        } else {
            format!("; {} issues", s.issues.len())
        }
    );
    for i in s.issues.iter().take(10) {
        outln!("  issue: {}: {}", i.record, i.message);
    }
    if s.issues.len() > 10 {
        outln!("  ... {} more issues (see --json)", s.issues.len() - 10);
    }
}
