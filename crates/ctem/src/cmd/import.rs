//! `ctem import`: one transaction per file, a summary per file.

use std::fs::File;
use std::io::{BufReader, IsTerminal, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow};
use ctem_core::settings::RiskSettings;
use ctem_ingest::{Format, PROBE_BYTES};
use ctem_model::ImportSummary;
use ctem_store::prepared::{Prepared, Preparer};
use ctem_store::{ScanMeta, Store};
use sha2::{Digest, Sha256};

pub struct Options {
    pub format: String,
    pub scope: Option<String>,
    pub strict: bool,
    pub progress: bool,
}

pub struct FileResult {
    pub file: String,
    pub outcome: Result<ImportSummary>,
}

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

pub fn import_files(
    store: &mut dyn Store,
    files: &[PathBuf],
    opts: &Options,
    risk: &RiskSettings,
) -> Vec<FileResult> {
    files
        .iter()
        .map(|f| FileResult {
            file: f.display().to_string(),
            outcome: import_file(store, f, opts, risk).with_context(|| f.display().to_string()),
        })
        .collect()
}

fn choose_format(file: &mut File, path: &Path, name: &str) -> Result<&'static Format> {
    if name != "auto" {
        return Ok(ctem_ingest::by_name(name)?);
    }
    let mut head = Vec::with_capacity(PROBE_BYTES);
    file.by_ref()
        .take(PROBE_BYTES as u64)
        .read_to_end(&mut head)
        .context("read")?;
    file.seek(SeekFrom::Start(0)).context("seek")?;
    let fname = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    Ok(ctem_ingest::detect(&head, fname)?)
}

pub fn import_file(
    store: &mut dyn Store,
    path: &Path,
    opts: &Options,
    risk: &RiskSettings,
) -> Result<ImportSummary> {
    if opts.format != "auto" {
        ctem_ingest::by_name(&opts.format)?;
    }
    let mut file = File::open(path).context("cannot open")?;
    let size = file.metadata().map(|m| m.len()).unwrap_or(0);
    let format = choose_format(&mut file, path, &opts.format)?;
    let bar = (opts.progress && size > 8 << 20 && std::io::stderr().is_terminal()).then(|| {
        let b = indicatif::ProgressBar::new(size);
        b.set_style(
            indicatif::ProgressStyle::with_template(
                "{msg} [{bar:40}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        b.set_message(format!("importing {}", path.display()));
        b
    });
    let meta = ScanMeta {
        tool: format.name.to_string(),
        format: format.name.to_string(),
        scope: opts.scope.clone(),
        file: path.display().to_string(),
        sha256: String::new(),
        imported_at: chrono::Utc::now(),
    };
    let mut phase = super::Timings::from_env();
    let mut session = store.begin_import(meta)?;
    // Two threads: this one parses and prepares records (fingerprints, hashes, JSON), the
    // calling one writes them to the store. A store error drops the receiver, which stops the
    // parser at its next send.
    let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<Prepared>>(32);
    let producer_bar = bar.clone();
    let tool = format.name;
    let (produced, store_err, issues) = std::thread::scope(|scope| {
        let producer =
            scope.spawn(move || produce(format, tool, &mut file, size, producer_bar, tx));
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
        (produced, store_err, issues)
    });
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

const BATCH: usize = 512;

/// Parses `file` with `format` and sends prepared records in batches; returns the parse
/// outcome and the SHA-256 of the whole file.
fn produce(
    format: &'static Format,
    tool: &str,
    file: &mut File,
    size: u64,
    bar: Option<indicatif::ProgressBar>,
    tx: std::sync::mpsc::SyncSender<Vec<Prepared>>,
) -> Result<(ctem_ingest::Result<()>, String)> {
    let mut preparer = Preparer::new(tool);
    let mut batch: Vec<Prepared> = Vec::with_capacity(BATCH);
    let mut prep_err: Option<ctem_store::Error> = None;
    let mut sink = |r: ctem_model::Record| -> ctem_ingest::Result<()> {
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
        Some(parse_slice) if size > 0 => {
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
                let res = parse_slice(mapped.bytes(), &mut |r| {
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
                (format.parse)(&mut reader, &mut sink)
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

/// Prints the summaries; `waited` is the busy timeout, named when a store was locked.
pub fn print(results: &[FileResult], json: bool, waited: std::time::Duration) -> Result<()> {
    if json {
        let mut out = Vec::new();
        for r in results {
            out.push(match &r.outcome {
                Ok(s) => serde_json::to_value(s)?,
                Err(e) => serde_json::to_value(Failed {
                    file: &r.file,
                    error: crate::output::chain_waited(e, Some(waited)),
                })?,
            });
        }
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        for r in results {
            match &r.outcome {
                Ok(s) => print_summary(s),
                Err(e) => eprintln!("error: {}", crate::output::chain_waited(e, Some(waited))),
            }
        }
    }
    Ok(())
}

pub fn print_summary(s: &ImportSummary) {
    let e = &s.exposures;
    println!(
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
        println!("  issue: {}: {}", i.record, i.message);
    }
    if s.issues.len() > 10 {
        println!("  ... {} more issues (see --json)", s.issues.len() - 10);
    }
}
