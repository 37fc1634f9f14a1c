//! The report import pipeline: one opened report, parsed on a second thread while this one
//! writes the prepared records into one store transaction, then followed up (enrichment,
//! priorities, SLA and tickets of what it touched).
//!
//! What a front end does before: find the inputs, spool a pipe or a gzip to a file, and
//! choose the format from the first bytes ([`choose_format`]). The CLI (`ctem import`), the
//! server's import jobs and the scheduler's folder and URL sources all end here.

use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};

use ctem_ingest::Format;
use ctem_model::ImportSummary;
use ctem_store::prepared::{Prepared, Preparer};
use ctem_store::{ScanMeta, Store};
use sha2::{Digest, Sha256};

use crate::settings::{RiskSettings, VANTAGE_FORMATS, Vantage};

/// Why a report was not imported (nothing of it was stored). The cause of a variant is its
/// `source()`, so a front end prints the whole chain and finds a store's busy error in it.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// A file found in a folder whose content no format recognises: skipped, not failed.
    #[error("{0}")]
    Unrecognised(String),
    /// Refused before parsing: binary data, issues under `--strict`.
    #[error("{0}")]
    Refused(String),
    /// An unknown format name, or content no format recognises.
    #[error(transparent)]
    Format(ctem_ingest::Error),
    #[error("as {format}")]
    Parse {
        format: &'static str,
        #[source]
        error: ctem_ingest::Error,
    },
    #[error("storing {format} records")]
    Store {
        format: &'static str,
        #[source]
        error: ctem_store::Error,
    },
    #[error("preparing records")]
    Prepare(#[source] ctem_store::Error),
    /// Opening or committing the import's transaction.
    #[error("writing the import")]
    Commit(#[from] ctem_store::Error),
    #[error("{what}")]
    Io {
        what: &'static str,
        #[source]
        error: std::io::Error,
    },
    #[error("the {0} parser panicked (a bug)")]
    Panicked(&'static str),
}

type Result<T, E = ImportError> = std::result::Result<T, E>;

fn io(what: &'static str) -> impl FnOnce(std::io::Error) -> ImportError {
    move |error| ImportError::Io { what, error }
}

/// What an import is told besides the report.
#[derive(Debug, Clone, Default)]
pub struct ImportOptions {
    /// `--scope`: what the scan speaks for.
    pub scope: Option<String>,
    /// Issues fail the import.
    pub strict: bool,
    /// Where a port scan was taken from: external marks the hosts it reached
    /// internet-facing (port scan formats only, [`VANTAGE_FORMATS`]).
    pub vantage: Vantage,
}

/// What the pipeline reports while it runs.
#[derive(Debug, Clone, PartialEq)]
pub enum Progress<'a> {
    /// A phase ended (for timings).
    Lap(&'a str),
    /// A detail worth a line in timings.
    Note(&'a str),
    /// The follow-up's own report.
    FollowUp(crate::prioritize::Progress<'a>),
}

/// The format of a report: the one named, or the one its first bytes show. `in_folder`: a
/// file found by walking a folder, whose unknown content is [`ImportError::Unrecognised`].
pub fn choose_format(
    head: &[u8],
    detect_name: &str,
    name: &str,
    in_folder: bool,
) -> Result<&'static Format> {
    // every registered format is text: NUL bytes mean binary data (or UTF-16), refused
    // before anything is copied (a gzip of zeros fails here, not at the size cap)
    if head.contains(&0) {
        let why = "binary data (NUL bytes) where a text report was expected; UTF-16 is not \
                   read, convert it to UTF-8";
        return Err(if in_folder && name == "auto" {
            ImportError::Unrecognised(why.into())
        } else {
            ImportError::Refused(why.into())
        });
    }
    if name != "auto" {
        return ctem_ingest::by_name(name).map_err(ImportError::Format);
    }
    match ctem_ingest::detect(head, detect_name) {
        Ok(f) => Ok(f),
        Err(e) if in_folder => Err(ImportError::Unrecognised(e.to_string())),
        Err(e) => Err(ImportError::Format(e)),
    }
}

/// Imports one opened report `file` as `format` in one transaction (the scan is named
/// `label`), then follows it up with `risk`. `position` hears how far the parser read.
#[allow(clippy::too_many_arguments)]
pub fn import_file(
    store: &mut dyn Store,
    file: &mut File,
    format: &'static Format,
    label: String,
    opts: &ImportOptions,
    risk: &RiskSettings,
    position: &(dyn Fn(u64) + Sync),
    report: &mut dyn FnMut(Progress<'_>),
) -> Result<ImportSummary> {
    let size = file.metadata().map(|m| m.len()).unwrap_or(0);
    let meta = ScanMeta {
        tool: format.name.to_string(),
        format: format.name.to_string(),
        scope: opts.scope.clone(),
        file: label,
        sha256: String::new(),
        imported_at: chrono::Utc::now(),
    };
    let mut session = store.begin_import(meta)?;
    // an external port scan reached its hosts from the internet
    let external = opts.vantage == Vantage::External && VANTAGE_FORMATS.contains(&format.name);
    let parsed = parse_into(session.as_mut(), format, file, size, position, external);
    report(Progress::Note(&format!(
        "writer waited for the parser {:.3} s",
        parsed.waited.as_secs_f64()
    )));
    let (outcome, sha) = parsed.produced?;
    if let Some(error) = parsed.store_err {
        return Err(ImportError::Store {
            format: format.name,
            error,
        });
    }
    outcome.map_err(|error| ImportError::Parse {
        format: format.name,
        error,
    })?;
    if opts.strict && parsed.issues > 0 {
        return Err(ImportError::Refused(format!(
            "{} record(s) with issues and --strict is set: nothing imported",
            parsed.issues
        )));
    }
    session.set_sha256(sha);
    report(Progress::Lap("parse and store"));
    let summary = session.commit()?;
    report(Progress::Lap("commit"));
    // enrichment, priorities, SLA and tickets follow the new scan: the exposures it touched
    // (a failure is reported and retried, the import stands)
    if let Some(p) =
        crate::prioritize::follow_up(store, risk, &mut |p| report(Progress::FollowUp(p)))
    {
        report(Progress::Lap("follow-up (enrich, prioritize)"));
        report(Progress::Note(&format!(
            "follow-up detail: {} exposures scored{}, score and write {} ms, tickets {} ms",
            p.scored,
            if p.incremental { " (incremental)" } else { "" },
            p.score_ms,
            p.tickets_ms
        )));
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
    /// How long the writer waited for the parser.
    waited: std::time::Duration,
}

/// Parses `file` on a second thread while this one writes the prepared records into
/// `session`: the parse outcome with the file's SHA-256, the store's error if it failed (its
/// error drops the receiver, which stops the parser at its next send), and the issue count.
fn parse_into(
    session: &mut dyn ctem_store::ImportSession,
    format: &'static Format,
    file: &mut File,
    size: u64,
    position: &(dyn Fn(u64) + Sync),
    external: bool,
) -> Parsed {
    let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<Prepared>>(32);
    std::thread::scope(|scope| {
        let producer = scope.spawn(move || produce(format, file, size, position, tx, external));
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
        let produced = producer
            .join()
            .unwrap_or(Err(ImportError::Panicked(format.name)));
        Parsed {
            produced,
            store_err,
            issues,
            waited,
        }
    })
}

const BATCH: usize = 512;

/// Counts and hashes the bytes a parser reads.
struct Tap<'p, R> {
    inner: R,
    hasher: Sha256,
    read: u64,
    position: &'p (dyn Fn(u64) + Sync),
}

impl<R: Read> Read for Tap<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.read += n as u64;
        (self.position)(self.read);
        Ok(n)
    }
}

/// Parses `file` with `format` and sends prepared records in batches; returns the parse
/// outcome and the SHA-256 of the whole file. `external`: every asset record is marked
/// internet-facing (an external-vantage port scan).
fn produce(
    format: &'static Format,
    file: &mut File,
    size: u64,
    position: &(dyn Fn(u64) + Sync),
    tx: std::sync::mpsc::SyncSender<Vec<Prepared>>,
    external: bool,
) -> Result<(ctem_ingest::Result<()>, String)> {
    let mut preparer = Preparer::new(format.name);
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
            let mut again = file.try_clone().map_err(io("reopen"))?;
            std::thread::scope(|s| -> Result<_> {
                let hasher = s.spawn(move || -> std::io::Result<String> {
                    again.seek(SeekFrom::Start(0))?;
                    let mut h = Sha256::new();
                    std::io::copy(&mut again, &mut h)?;
                    Ok(hex::encode(h.finalize()))
                });
                let res = format.read_slice(mapped.bytes(), &mut |r| {
                    if let ctem_model::Record::Progress { offset } = r {
                        position(offset);
                        mapped.release_before(offset as usize);
                        return Ok(());
                    }
                    sink(r)
                });
                let sha = hasher
                    .join()
                    .map_err(|_| ImportError::Panicked("hashing"))?
                    .map_err(io("read"))?;
                Ok((res, sha))
            })?
        }
        _ => {
            let mut tap = Tap {
                inner: &mut *file,
                hasher: Sha256::new(),
                read: 0,
                position,
            };
            let res = {
                let mut reader = BufReader::with_capacity(256 * 1024, &mut tap);
                format.read(&mut reader, &mut sink)
            };
            // drain what the parser did not read so the hash covers the whole file
            std::io::copy(&mut tap, &mut std::io::sink()).map_err(io("read"))?;
            (res, hex::encode(tap.hasher.finalize()))
        }
    };
    if let Some(e) = prep_err {
        return Err(ImportError::Prepare(e));
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
        let map = unsafe { memmap2::Mmap::map(file) }.map_err(io("map"))?;
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
