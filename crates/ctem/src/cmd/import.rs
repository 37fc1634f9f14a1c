//! `ctem import`: files, folders (walked recursively, sorted) and standard input, plain or
//! gzip (crate::input reads them, bounded); one transaction per file, a summary per file.
//! A file found in a folder that is not a report ctem reads is skipped with a note, not a
//! failure; a file named on the command line must import.

use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, anyhow, bail};
use ctem_core::Settings;
use ctem_core::settings::{RiskSettings, VANTAGE_FORMATS, Vantage};
use ctem_ingest::Format;
use ctem_model::ImportSummary;
use ctem_store::prepared::{Prepared, Preparer};
use ctem_store::{ScanMeta, Store};
use sha2::{Digest, Sha256};

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
            Err(e) => e.downcast_ref::<Unrecognised>().map(|u| u.0.clone()),
            Ok(_) => None,
        }
    }
}

/// A file found in a folder whose content no format recognises: skipped, not failed.
#[derive(Debug)]
struct Unrecognised(String);

impl std::fmt::Display for Unrecognised {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Unrecognised {}

/// Counts and hashes the bytes a parser reads, and moves the progress bar.
struct Tap<R> {
    inner: R,
    hasher: Sha256,
    bar: Option<indicatif::ProgressBar>,
}

impl<R: Read> Read for Tap<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        if let Some(b) = &self.bar {
            b.inc(n as u64);
        }
        Ok(n)
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

/// The format of a report: the one named, or the one its first bytes show.
fn choose_format(src: &Source, head: &[u8], name: &str) -> Result<&'static Format> {
    if name != "auto" {
        return Ok(ctem_ingest::by_name(name)?);
    }
    match ctem_ingest::detect(head, &src.detect_name()) {
        Ok(f) => Ok(f),
        Err(e) if src.in_folder => Err(Unrecognised(e.to_string()).into()),
        Err(e) => Err(e.into()),
    }
}

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
        // every registered format is text: NUL bytes mean binary data (or UTF-16), refused
        // before anything is copied (a gzip of zeros fails here, not at the size cap)
        if head.contains(&0) {
            let why = "binary data (NUL bytes) where a text report was expected; UTF-16 is not \
                       read, convert it to UTF-8";
            return Err(if src.in_folder && opts.format == "auto" {
                Unrecognised(why.into()).into()
            } else {
                anyhow!(why)
            });
        }
        format = Some(choose_format(src, head, &opts.format)?);
        Ok(())
    })?;
    let format = format.ok_or_else(|| anyhow!("no format chosen (a bug)"))?;
    let mut file = spooled.file;
    let size = file.metadata().map(|m| m.len()).unwrap_or(0);
    let bar = (opts.progress && show_bytes && size > 8 << 20)
        .then(|| progress::bytes(size, format!("importing {label}")));
    let meta = ScanMeta {
        tool: format.name.to_string(),
        format: format.name.to_string(),
        scope: opts.scope.clone(),
        file: label,
        sha256: String::new(),
        imported_at: chrono::Utc::now(),
    };
    let mut phase = super::Timings::from_env();
    let mut session = store.begin_import(meta)?;
    // an external port scan reached its hosts from the internet
    let external = opts.vantage == Vantage::External && VANTAGE_FORMATS.contains(&format.name);
    let Parsed {
        produced,
        store_err,
        issues,
    } = parse_into(
        session.as_mut(),
        format,
        &mut file,
        size,
        bar.clone(),
        &phase,
        external,
    );
    let (parsed, sha) = produced?;
    if let Some(b) = &bar {
        b.finish_and_clear();
    }
    if let Some(e) = store_err {
        return Err(anyhow!(e).context(format!("storing {} records", format.name)));
    }
    parsed.with_context(|| format!("as {}", format.name))?;
    if opts.strict && issues > 0 {
        return Err(anyhow!(
            "{issues} record(s) with issues and --strict is set: nothing imported"
        ));
    }
    session.set_sha256(sha);
    phase.lap("parse and store");
    let summary = session.commit()?;
    phase.lap("commit");
    // enrichment, priorities, SLA and tickets follow the new scan: the exposures it touched
    // (a failure is reported and retried, the import stands)
    if let Some(p) = super::risk::follow_up(store, risk) {
        phase.lap("follow-up (enrich, prioritize)");
        phase.note(&format!(
            "follow-up detail: {} exposures scored{}, score and write {} ms, tickets {} ms",
            p.scored,
            if p.incremental { " (incremental)" } else { "" },
            p.score_ms,
            p.tickets_ms
        ));
    }
    Ok(summary)
}

/// What [`parse_into`] ends with.
struct Parsed {
    /// The parse outcome and the file's SHA-256.
    produced: Result<(ctem_ingest::Result<()>, String)>,
    /// The store's error, if writing failed.
    store_err: Option<ctem_store::Error>,
    issues: usize,
}

/// Parses `file` on a second thread while this one writes the prepared records into
/// `session`: the parse outcome with the file's SHA-256, the store's error if it failed (its
/// error drops the receiver, which stops the parser at its next send), and the issue count.
fn parse_into(
    session: &mut dyn ctem_store::ImportSession,
    format: &'static Format,
    file: &mut File,
    size: u64,
    bar: Option<indicatif::ProgressBar>,
    phase: &super::Timings,
    external: bool,
) -> Parsed {
    let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<Prepared>>(32);
    let tool = format.name;
    std::thread::scope(|scope| {
        let producer = scope.spawn(move || produce(format, tool, file, size, bar, tx, external));
        let mut store_err: Option<ctem_store::Error> = None;
        let mut issues = 0usize;
        let mut waited = std::time::Duration::ZERO;
        loop {
            let t = std::time::Instant::now();
            let Ok(batch) = rx.recv() else { break };
            waited += t.elapsed();
            for p in batch {
                if matches!(p, Prepared::Record(ctem_model::Record::Issue(_))) {
                    issues += 1;
                }
                if let Err(e) = session.prepared(p) {
                    store_err = Some(e);
                    break;
                }
            }
            if store_err.is_some() {
                break;
            }
        }
        drop(rx);
        phase.note(&format!(
            "writer waited for the parser {:.3} s",
            waited.as_secs_f64()
        ));
        let produced = producer
            .join()
            .unwrap_or_else(|_| Err(anyhow!("the {} parser panicked (a bug)", format.name)));
        Parsed {
            produced,
            store_err,
            issues,
        }
    })
}

const BATCH: usize = 512;

/// Parses `file` with `format` and sends prepared records in batches; returns the parse
/// outcome and the SHA-256 of the whole file. `external`: every asset record is marked
/// internet-facing (an external-vantage port scan).
fn produce(
    format: &'static Format,
    tool: &str,
    file: &mut File,
    size: u64,
    bar: Option<indicatif::ProgressBar>,
    tx: std::sync::mpsc::SyncSender<Vec<Prepared>>,
    external: bool,
) -> Result<(ctem_ingest::Result<()>, String)> {
    let mut preparer = Preparer::new(tool);
    let mut batch: Vec<Prepared> = Vec::with_capacity(BATCH);
    let mut prep_err: Option<ctem_store::Error> = None;
    let mut sink = |mut r: ctem_model::Record| -> ctem_ingest::Result<()> {
        if external && let ctem_model::Record::Asset { asset, .. } = &mut r {
            asset.internet_facing = Some(true);
        }
        match preparer.prepare(r) {
            Ok(p) => batch.push(p),
            Err(e) => {
                prep_err = Some(e);
                return Err(ctem_ingest::Error::Aborted);
            }
        }
        if batch.len() >= BATCH {
            let full = std::mem::replace(&mut batch, Vec::with_capacity(BATCH));
            tx.send(full).map_err(|_| ctem_ingest::Error::Aborted)?;
        }
        Ok(())
    };
    let (res, sha) = match format.parse_slice {
        Some(_) if size > 0 => {
            let mapped = Mapped::new(file)?;
            // the file's SHA-256 is read on its own thread, through read() rather than the
            // map, so its pages do not count as resident memory
            let mut again = file.try_clone().context("reopen")?;
            std::thread::scope(|s| -> Result<_> {
                let hasher = s.spawn(move || -> std::io::Result<String> {
                    again.seek(SeekFrom::Start(0))?;
                    let mut h = Sha256::new();
                    std::io::copy(&mut again, &mut h)?;
                    Ok(hex::encode(h.finalize()))
                });
                let res = format.read_slice(mapped.bytes(), &mut |r| {
                    if let ctem_model::Record::Progress { offset } = r {
                        if let Some(b) = &bar {
                            b.set_position(offset);
                        }
                        mapped.release_before(offset as usize);
                        return Ok(());
                    }
                    sink(r)
                });
                let sha = hasher
                    .join()
                    .map_err(|_| anyhow!("the hashing thread panicked (a bug)"))?
                    .context("read")?;
                Ok((res, sha))
            })?
        }
        _ => {
            let mut tap = Tap {
                inner: &mut *file,
                hasher: Sha256::new(),
                bar: bar.clone(),
            };
            let res = {
                let mut reader = BufReader::with_capacity(256 * 1024, &mut tap);
                format.read(&mut reader, &mut sink)
            };
            // drain what the parser did not read so the hash covers the whole file
            std::io::copy(&mut tap, &mut std::io::sink()).context("read")?;
            (res, hex::encode(tap.hasher.finalize()))
        }
    };
    if let Some(e) = prep_err {
        return Err(anyhow!(e).context("preparing records"));
    }
    if res.is_ok() && !batch.is_empty() {
        // a closed channel means the store failed: its error is reported by the caller
        let _ = tx.send(batch);
    }
    Ok((res, sha))
}

/// A read-only memory map of a report, for parsers with an in-memory path. Pages behind the
/// parser are handed back to the kernel as it goes, so resident memory stays bounded however
/// large the file is.
struct Mapped {
    map: memmap2::Mmap,
    released: std::cell::Cell<usize>,
}

const RELEASE_STEP: usize = 32 << 20;

impl Mapped {
    fn new(file: &File) -> Result<Self> {
        // SAFETY: the map is read-only and private; ctem never writes the file. A file
        // truncated by another process while mapped would fault: the same risk every
        // mmap-based reader takes for speed, documented in docs/architecture.md.
        let map = unsafe { memmap2::Mmap::map(file) }.context("map")?;
        let _ = map.advise(memmap2::Advice::Sequential);
        Ok(Mapped {
            map,
            released: std::cell::Cell::new(0),
        })
    }

    fn bytes(&self) -> &[u8] {
        &self.map
    }

    /// Drops the resident pages before `offset` (rounded down to a page). Offsets only grow
    /// within one pass; a smaller one starts a new pass.
    fn release_before(&self, offset: usize) {
        if offset < self.released.get() {
            // a parser making a second pass starts again from the top
            self.released.set(0);
        }
        let start = self.released.get();
        let end = offset.min(self.map.len()) & !4095;
        if end < start + RELEASE_STEP {
            return;
        }
        // SAFETY: MADV_DONTNEED on a private read-only file mapping only drops resident
        // pages; a later read of that range faults them in again from the file, unchanged.
        let _ = unsafe {
            self.map
                .unchecked_advise_range(memmap2::UncheckedAdvice::DontNeed, start, end - start)
        };
        self.released.set(end);
    }
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
