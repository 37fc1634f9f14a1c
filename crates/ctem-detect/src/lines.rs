//! The fast path for JSON lines: [`Engine::run_lines`].
//!
//! The reader (the calling thread) cuts the input into batches of whole lines; worker threads
//! scan each line lazily ([`FlatEvent`]), pick candidate rules with the prefilter and evaluate
//! them; only lines with a hit (or every line, when extra detectors need it) become a
//! `serde_json::Value`. Results come back tagged with their batch number and are emitted in
//! input order, where correlations are fed, so output does not depend on the thread count.

use std::collections::BTreeMap;
use std::io::BufRead;
use std::sync::{Arc, Mutex, mpsc};

use serde::Serialize;
use serde_json::Value;

use crate::engine::{Alert, Engine, Record, RunStats, Scratch};
use crate::error::{Error, Result};
use crate::flat::FlatEvent;
use crate::flat_view::FlatView;

/// Counts of a [`Engine::run_lines`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct LineStats {
    /// Events read and alerts raised.
    #[serde(flatten)]
    pub run: RunStats,
    /// Lines that were not a JSON value (skipped).
    pub bad_lines: u64,
}

/// Lines of one batch and the line number of its first line.
struct Batch {
    text: String,
    first: u64,
}

/// A line with hits: (line number, rule indexes, the event, alerts of extra detectors).
type Hit = (u64, Vec<usize>, Value, Vec<Alert>);

#[derive(Default)]
struct BatchOut {
    hits: Vec<Hit>,
    events: u64,
    bad: u64,
}

const BATCH_LINES: usize = 2048;
const BATCH_BYTES: usize = 4 << 20;

impl Engine {
    /// Runs over JSON lines (one event a line, any shape) on `threads` threads, calling `sink`
    /// with every alert in input order. Flat events are scanned lazily: only fields the rules
    /// name are decoded. `source` labels alerts; `record` is the line number.
    pub fn run_lines<R, F>(
        &self,
        reader: R,
        source: Option<&str>,
        threads: usize,
        mut sink: F,
    ) -> Result<LineStats>
    where
        R: BufRead,
        F: FnMut(Alert),
    {
        let mut stats = LineStats::default();
        let mut reader = reader;
        let mut next_line = 1u64;
        let mut emit = |out: BatchOut, stats: &mut LineStats| {
            stats.run.events += out.events;
            stats.bad_lines += out.bad;
            for (line, hits, event, extra) in out.hits {
                let rec = Record {
                    source: source.map(str::to_string),
                    record: Some(line),
                    event,
                };
                let mut alerts = Vec::new();
                self.emit(&rec, &hits, &mut alerts);
                alerts.extend(extra);
                stats.run.alerts += alerts.len() as u64;
                alerts.into_iter().for_each(&mut sink);
            }
        };
        if threads <= 1 {
            let mut sc = Scratch::new(self);
            while let Some(b) = read_batch(&mut reader, &mut next_line, source)? {
                let out = self.match_batch(&b, source, &mut sc);
                emit(out, &mut stats);
            }
            return Ok(stats);
        }
        let (job_tx, job_rx) = mpsc::sync_channel::<(u64, Batch)>(threads * 2);
        let job_rx = Arc::new(Mutex::new(job_rx));
        let (res_tx, res_rx) = mpsc::channel::<(u64, BatchOut)>();
        std::thread::scope(|s| -> Result<()> {
            for _ in 0..threads {
                let job_rx = Arc::clone(&job_rx);
                let res_tx = res_tx.clone();
                s.spawn(move || {
                    let mut sc = Scratch::new(self);
                    loop {
                        let job = match job_rx.lock() {
                            Ok(rx) => rx.recv(),
                            Err(_) => return,
                        };
                        let Ok((seq, b)) = job else { return };
                        if res_tx
                            .send((seq, self.match_batch(&b, source, &mut sc)))
                            .is_err()
                        {
                            return;
                        }
                    }
                });
            }
            drop(res_tx);
            let mut pending: BTreeMap<u64, BatchOut> = BTreeMap::new();
            let mut next_out = 0u64;
            let mut sent = 0u64;
            let mut drain = |pending: &mut BTreeMap<u64, BatchOut>, stats: &mut LineStats| {
                while let Some(out) = pending.remove(&next_out) {
                    emit(out, stats);
                    next_out += 1;
                }
            };
            let read = loop {
                let b = match read_batch(&mut reader, &mut next_line, source) {
                    Ok(Some(b)) => b,
                    Ok(None) => break Ok(()),
                    Err(e) => break Err(e),
                };
                if job_tx.send((sent, b)).is_err() {
                    break Ok(());
                }
                sent += 1;
                while let Ok((seq, out)) = res_rx.try_recv() {
                    pending.insert(seq, out);
                }
                drain(&mut pending, &mut stats);
            };
            drop(job_tx);
            for (seq, out) in res_rx.iter() {
                pending.insert(seq, out);
                drain(&mut pending, &mut stats);
            }
            read
        })?;
        Ok(stats)
    }

    /// Runs over a file (or `-` for stdin) of any supported format: JSON lines (also Suricata
    /// and Zeek JSON, gzip or not) take the fast [`Engine::run_lines`] path, everything else
    /// (EVTX, syslog, Zeek TSV, JSON arrays) is decoded with [`crate::decode::stream`] and
    /// run with [`Engine::run`]. Undecodable records are counted in `bad_lines`.
    pub fn run_file<F>(
        &self,
        path: impl AsRef<std::path::Path>,
        format: crate::decode::Format,
        threads: usize,
        mut sink: F,
    ) -> Result<LineStats>
    where
        F: FnMut(Alert),
    {
        use crate::decode::Format;
        use std::io::Read;
        let path = path.as_ref();
        let (source, reader): (String, Box<dyn Read + Send>) = if path == std::path::Path::new("-")
        {
            ("-".to_string(), Box::new(std::io::stdin()))
        } else {
            let file = std::fs::File::open(path).map_err(|source| Error::Io {
                path: path.to_path_buf(),
                source,
            })?;
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            (name, Box::new(file))
        };
        let mut r: Box<dyn BufRead + Send> =
            Box::new(std::io::BufReader::with_capacity(1 << 16, reader));
        let io = |e: std::io::Error| Error::Io {
            path: path.to_path_buf(),
            source: e,
        };
        if r.fill_buf().map_err(io)?.starts_with(&[0x1f, 0x8b]) {
            r = Box::new(std::io::BufReader::with_capacity(
                1 << 16,
                flate2::read::MultiGzDecoder::new(r),
            ));
        }
        let head = r.fill_buf().map_err(io)?.to_vec();
        let sniffed = match format {
            Format::Auto => crate::decode::sniff(&head),
            f => f,
        };
        let text = String::from_utf8_lossy(&head);
        let first = text.trim_start_matches('\u{feff}').trim_start();
        let json_lines = matches!(sniffed, Format::Jsonl | Format::Suricata | Format::Zeek)
            && first.starts_with('{')
            && first
                .split_once('\n')
                .is_some_and(|(l, _)| l.trim_end().ends_with('}'));
        if json_lines {
            return self.run_lines(r, Some(&source), threads, sink);
        }
        let mut bad = 0;
        let records = crate::decode::stream(r, sniffed, Some(source))?.filter_map(|x| match x {
            Ok(r) => Some(r),
            Err(_) => {
                bad += 1;
                None
            }
        });
        let run = self.run(records, threads, &mut sink);
        Ok(LineStats {
            run,
            bad_lines: bad,
        })
    }

    fn match_batch(&self, b: &Batch, source: Option<&str>, sc: &mut Scratch) -> BatchOut {
        let mut out = BatchOut::default();
        let mut flat = FlatEvent::new(&self.index);
        let mut hits = Vec::new();
        let fallback = self.mappings().shapes.len() - 1;
        for (n, line) in b.text.split('\n').enumerate() {
            let line = line.trim_end_matches('\r').trim_start_matches('\u{feff}');
            if line.trim().is_empty() {
                continue;
            }
            out.events += 1;
            let line_no = b.first + n as u64;
            hits.clear();
            let mut value = None;
            let flat_ok = flat.scan(line).is_ok()
                && std::ptr::eq(
                    self.mappings().shape_of(&flat),
                    &self.mappings().shapes[fallback],
                );
            if flat_ok {
                let view = FlatView {
                    flat: &flat,
                    paths: &self.flat_paths,
                    shape: &self.mappings().shapes[fallback],
                };
                self.match_view(&view, sc, &mut hits);
            } else {
                // nested shapes and odd lines: the full Value path
                let Ok(v) = serde_json::from_str::<Value>(line) else {
                    out.events -= 1;
                    out.bad += 1;
                    continue;
                };
                self.match_view(&self.mappings().view(&v), sc, &mut hits);
                value = Some(v);
            }
            if hits.is_empty() && !self.has_detectors() {
                continue;
            }
            let event = match value {
                Some(v) => v,
                None => match flat.to_value() {
                    Ok(v) => v,
                    Err(_) => {
                        out.events -= 1;
                        out.bad += 1;
                        continue;
                    }
                },
            };
            let mut extra = Vec::new();
            if self.has_detectors() {
                let rec = Record {
                    source: source.map(str::to_string),
                    record: Some(line_no),
                    event,
                };
                self.run_detectors(&rec, &mut extra);
                if hits.is_empty() && extra.is_empty() {
                    continue;
                }
                out.hits.push((line_no, hits.clone(), rec.event, extra));
            } else {
                out.hits.push((line_no, hits.clone(), event, extra));
            }
        }
        out
    }
}

/// Reads up to [`BATCH_LINES`] whole lines (or about [`BATCH_BYTES`]).
fn read_batch<R: BufRead>(
    r: &mut R,
    next_line: &mut u64,
    source: Option<&str>,
) -> Result<Option<Batch>> {
    let mut buf = Vec::with_capacity(BATCH_BYTES.min(1 << 20));
    let first = *next_line;
    let mut lines = 0;
    while lines < BATCH_LINES && buf.len() < BATCH_BYTES {
        let n = r.read_until(b'\n', &mut buf).map_err(|e| Error::Io {
            path: source.unwrap_or("-").into(),
            source: e,
        })?;
        if n == 0 {
            break;
        }
        lines += 1;
    }
    if lines == 0 {
        return Ok(None);
    }
    *next_line += lines as u64;
    if buf.last() == Some(&b'\n') {
        buf.pop();
    }
    let text = match String::from_utf8(buf) {
        Ok(t) => t,
        Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
    };
    Ok(Some(Batch { text, first }))
}
