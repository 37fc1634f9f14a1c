//! The fast path for JSON lines: [`Engine::run_lines`].
//!
//! With one thread, lines are matched where the reader's buffer holds them (a line the buffer
//! cuts is put together first). With more, the reader (the calling thread) copies the input
//! into batches of whole lines; worker threads scan each line lazily ([`FlatEvent`]), pick
//! candidate rules with the prefilter and evaluate them; only lines with a hit (or every
//! line, when extra detectors need it) become a `serde_json::Value`. Results come back tagged with their batch number and are emitted in
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
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct LineStats {
    /// Events read and alerts raised.
    #[serde(flatten)]
    pub run: RunStats,
    /// Lines that were not a JSON value (skipped).
    pub bad_lines: u64,
}

/// Whole lines of one batch (raw bytes; the worker checks UTF-8) and the line number of
/// its first line.
struct Batch {
    bytes: Vec<u8>,
    first: u64,
}

/// A line with hits: (line number, rule indexes, the event, alerts of extra detectors).
pub(crate) type Hit = (u64, Vec<usize>, Value, Vec<Alert>);

#[derive(Default)]
pub(crate) struct BatchOut {
    pub(crate) hits: Vec<Hit>,
    pub(crate) events: u64,
    /// Events of an unknown logsource.
    pub(crate) unknown: u64,
    /// Events per seen logsource.
    pub(crate) seen: crate::seen::SeenCounts,
    pub(crate) bad: u64,
    /// Lines of the batch, empty ones included.
    pub(crate) lines: u64,
}

/// About this many bytes of whole lines a batch: large enough that handing batches around
/// costs nothing, small enough that two workers stay busy to the end of a file.
const BATCH_BYTES: usize = 1 << 20;

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
        let mut emit = |out: BatchOut, stats: &mut LineStats| {
            stats.run.events += out.events;
            stats.run.unknown_source += out.unknown;
            crate::seen::merge(&mut stats.run.logsources, out.seen);
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
            // whole lines are matched where the reader holds them; only a line cut by the
            // end of the reader's buffer is put together in `carry`
            let mut sc = Scratch::new(self);
            let mut carry: Vec<u8> = Vec::new();
            let mut first = 1u64;
            loop {
                let avail = reader.fill_buf().map_err(read_error(source))?;
                if avail.is_empty() {
                    if !carry.is_empty() {
                        emit(self.match_batch(&carry, first, source, &mut sc), &mut stats);
                    }
                    return Ok(stats);
                }
                let view = &avail[..avail.len().min(BATCH_BYTES)];
                if carry.is_empty()
                    && let Some(k) = memchr::memrchr(b'\n', view)
                {
                    let out = self.match_batch(&view[..k], first, source, &mut sc);
                    reader.consume(k + 1);
                    first += out.lines;
                    emit(out, &mut stats);
                    continue;
                }
                match memchr::memchr(b'\n', avail) {
                    Some(j) => {
                        carry.extend_from_slice(&avail[..j]);
                        reader.consume(j + 1);
                        let out = self.match_batch(&carry, first, source, &mut sc);
                        carry.clear();
                        first += out.lines;
                        emit(out, &mut stats);
                    }
                    None => {
                        let n = avail.len();
                        carry.extend_from_slice(avail);
                        reader.consume(n);
                    }
                }
            }
        }
        let mut next_line = 1u64;
        let (job_tx, job_rx) = mpsc::sync_channel::<(u64, Batch)>(threads * 2);
        let job_rx = Arc::new(Mutex::new(job_rx));
        let (res_tx, res_rx) = mpsc::channel::<(u64, BatchOut, Vec<u8>)>();
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
                        let out = self.match_batch(&b.bytes, b.first, source, &mut sc);
                        if res_tx.send((seq, out, b.bytes)).is_err() {
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
            // buffers of finished batches, filled again (fresh ones cost page faults)
            let mut spare: Vec<Vec<u8>> = Vec::new();
            let read = loop {
                let mut bytes = spare.pop().unwrap_or_default();
                let b = match fill_batch(&mut reader, &mut bytes, source) {
                    Ok(true) => {
                        let first = next_line;
                        next_line += count_lines(&bytes);
                        Batch { bytes, first }
                    }
                    Ok(false) => break Ok(()),
                    Err(e) => break Err(e),
                };
                if job_tx.send((sent, b)).is_err() {
                    break Ok(());
                }
                sent += 1;
                while let Ok((seq, out, bytes)) = res_rx.try_recv() {
                    pending.insert(seq, out);
                    spare.push(bytes);
                }
                drain(&mut pending, &mut stats);
            };
            drop(job_tx);
            for (seq, out, _) in res_rx.iter() {
                pending.insert(seq, out);
                drain(&mut pending, &mut stats);
            }
            read
        })?;
        Ok(stats)
    }

    /// Runs over a file (or `-` for stdin) of any supported format: JSON lines (also Suricata
    /// and Zeek JSON, gzip or not) take the fast [`Engine::run_lines`] path, EVTX the as fast
    /// [`Engine::run_evtx`], everything else (syslog, Zeek TSV, JSON arrays) is decoded with
    /// [`crate::decode::stream`] and run with [`Engine::run`]. Undecodable records (and
    /// damaged EVTX chunks) are counted in `bad_lines`.
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
        if crate::decode::is_json_lines(&head, sniffed) {
            return self.run_lines(r, Some(&source), threads, sink);
        }
        if sniffed == Format::Evtx {
            let mut bytes = Vec::new();
            r.read_to_end(&mut bytes).map_err(io)?;
            return self.run_evtx(bytes, Some(&source), threads, sink, |_| {});
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

    /// Matches the lines of `bytes` (no final line break), numbered from `first`.
    pub(crate) fn match_batch(
        &self,
        bytes: &[u8],
        first: u64,
        source: Option<&str>,
        sc: &mut Scratch,
    ) -> BatchOut {
        let mut out = BatchOut::default();
        sc.set_file(self, source);
        let unknown_before = sc.unknown;
        let mut flat = FlatEvent::new(&self.index);
        let mut hits = Vec::new();
        let fallback = self.mappings().shapes.len() - 1;
        // lines are split as bytes: `scan_bytes` checks UTF-8 only on lines with non-ASCII
        // bytes, which the string index it builds anyway tells
        let mut start = 0;
        let ends = memchr::memchr_iter(b'\n', bytes).chain(std::iter::once(bytes.len()));
        for (n, end) in ends.enumerate() {
            out.lines += 1;
            let mut raw = &bytes[start..end];
            start = end + 1;
            while let Some(r) = raw.strip_suffix(b"\r") {
                raw = r;
            }
            while let Some(r) = raw.strip_prefix("\u{feff}".as_bytes()) {
                raw = r;
            }
            if raw.trim_ascii().is_empty() {
                continue;
            }
            let line_no = first + n as u64;
            hits.clear();
            let mut value = None;
            let mut lossy = None;
            let flat_ok = match flat.scan_bytes(raw) {
                Some(r) => {
                    r.is_ok()
                        && std::ptr::eq(
                            self.mappings().shape_of(&flat),
                            &self.mappings().shapes[fallback],
                        )
                }
                None => {
                    lossy = Some(String::from_utf8_lossy(raw).into_owned());
                    false
                }
            };
            let line = lossy.as_deref().unwrap_or(flat.line());
            if line.trim().is_empty() {
                continue;
            }
            out.events += 1;
            if flat_ok {
                let view =
                    FlatView::new(&flat, &self.flat_paths, &self.mappings().shapes[fallback]);
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
            // a parsed line goes to the detectors as it is; a scanned one only when one of
            // them wants it (a line becomes a `Value` for them, which costs more than matching)
            let detect = self.has_detectors()
                && match value {
                    Some(_) => true,
                    None => self.detectors_want(&flat),
                };
            if hits.is_empty() && !detect {
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
            if detect {
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
        out.unknown = sc.unknown - unknown_before;
        sc.tally.drain_into(&mut out.seen);
        out
    }
}

/// Fills `buf` (cleared first) with about [`BATCH_BYTES`] of whole lines (a longer line
/// whole), without the final line break; false at the end of the input. The caller's thread
/// only copies bytes (SIMD); splitting, UTF-8 checks and scanning happen on the workers.
fn fill_batch<R: BufRead>(r: &mut R, buf: &mut Vec<u8>, source: Option<&str>) -> Result<bool> {
    buf.clear();
    buf.reserve(BATCH_BYTES + (64 << 10));
    loop {
        let avail = r.fill_buf().map_err(read_error(source))?;
        if avail.is_empty() {
            break;
        }
        if buf.len() < BATCH_BYTES {
            let n = avail.len().min(BATCH_BYTES - buf.len());
            buf.extend_from_slice(&avail[..n]);
            r.consume(n);
        } else {
            // the batch is full: finish the line under way
            match memchr::memchr(b'\n', avail) {
                Some(k) => {
                    buf.extend_from_slice(&avail[..=k]);
                    r.consume(k + 1);
                }
                None => {
                    let n = avail.len();
                    buf.extend_from_slice(avail);
                    r.consume(n);
                }
            }
        }
        if buf.len() >= BATCH_BYTES && buf.last() == Some(&b'\n') {
            break;
        }
    }
    if buf.is_empty() {
        return Ok(false);
    }
    if buf.last() == Some(&b'\n') {
        buf.pop();
    }
    Ok(true)
}

/// The error of a failed read of the input named `source` (`-` when unnamed).
fn read_error(source: Option<&str>) -> impl Fn(std::io::Error) -> Error + '_ {
    move |e| Error::Io {
        path: source.unwrap_or("-").into(),
        source: e,
    }
}

/// The lines of a batch filled by [`fill_batch`] (its final line break is gone, so one more
/// than its line breaks).
fn count_lines(batch: &[u8]) -> u64 {
    memchr::memchr_iter(b'\n', batch).count() as u64 + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Batches cut at line ends only, keep a line longer than a batch whole and number the
    /// lines as the input does (empty lines and a missing final newline included).
    #[test]
    fn batches_keep_whole_lines_and_their_numbers() {
        let long = "x".repeat(BATCH_BYTES * 2 + 7);
        let mut lines: Vec<String> = (0..3000).map(|i| format!("{{\"n\":{i}}}")).collect();
        lines.insert(10, long);
        lines.insert(20, String::new());
        lines.extend((0..6000).map(|i| format!("{{\"pad\":\"{}\"}}", "y".repeat(i % 900))));
        let input = lines.join("\n");
        let mut r = std::io::BufReader::with_capacity(1000, input.as_bytes());
        let mut next = 1u64;
        let mut seen = Vec::new();
        let mut batches = 0;
        // one buffer for every batch, as the single-thread path does
        let mut buf = Vec::new();
        while fill_batch(&mut r, &mut buf, None).expect("reads") {
            batches += 1;
            let text = std::str::from_utf8(&buf).expect("utf-8");
            for (k, l) in text.split('\n').enumerate() {
                assert_eq!(next + k as u64, seen.len() as u64 + 1);
                seen.push(l.to_string());
            }
            next += count_lines(&buf);
        }
        assert!(batches > 3, "{batches}");
        assert_eq!(seen, lines);
        assert_eq!(next, lines.len() as u64 + 1);
    }

    /// An engine with one rule: an `Image` that ends with `\evil.exe`.
    fn evil_engine() -> Engine {
        use crate::{Mappings, RuleSet};
        let set = RuleSet::from_yaml(
            "title: T\nid: t-1\nlogsource: {category: test}\ndetection:\n  sel:\n    Image|endswith: '\\evil.exe'\n  condition: sel\n",
        )
        .expect("rule");
        Engine::new(set, Mappings::builtin().expect("mappings"))
    }

    /// Alerts carry the line number of their line, with one thread (batches numbered as they
    /// are matched, one buffer reused) and with two, over many batches.
    #[test]
    fn alerts_name_their_line_across_batches() {
        let engine = evil_engine();
        let pad = "p".repeat(700);
        let mut want = Vec::new();
        let mut lines = Vec::new();
        for i in 0..6000u64 {
            if i % 997 == 3 {
                lines.push(String::new());
            } else if i % 101 == 7 {
                lines.push(format!(r#"{{"Image":"C:\\x\\evil.exe","n":{i}}}"#));
                want.push(i + 1);
            } else {
                lines.push(format!(r#"{{"Image":"C:\\x\\good.exe","pad":"{pad}"}}"#));
            }
        }
        let text = lines.join("\n");
        assert!(text.len() > 3 * BATCH_BYTES);
        // the whole text in view, a reader whose buffer cuts lines (and holds less than the
        // long ones), and one that hands out seven bytes at a time
        for cap in [usize::MAX, 1000, 7] {
            for threads in [1, 2] {
                let mut got = Vec::new();
                let push = |a: Alert| got.push(a.record.unwrap_or(0));
                if cap == usize::MAX {
                    engine.run_lines(text.as_bytes(), None, threads, push)
                } else {
                    let r = std::io::BufReader::with_capacity(cap, text.as_bytes());
                    engine.run_lines(r, None, threads, push)
                }
                .expect("runs");
                assert_eq!(got, want, "{threads} threads, buffer {cap}");
            }
        }
    }

    /// Lines that are not UTF-8 are read lossily through the `Value` path; a byte-order mark,
    /// carriage returns and blank lines are skipped as before; non-ASCII lines are validated.
    #[test]
    fn odd_bytes_in_lines() {
        let engine = evil_engine();
        let mut input: Vec<u8> = Vec::new();
        input.extend_from_slice(b"{\"Image\":\"C:\\\\x\\\\evil.exe\",\"junk\":\"\xff\xfe\"}\n");
        input.extend_from_slice("\u{feff}{\"Image\":\"C:\\\\x\\\\evil.exe\"}\r\r\n".as_bytes());
        input.extend_from_slice("{\"Image\":\"C:\\\\\u{e9}\\\\evil.exe\"}\n".as_bytes());
        input.extend_from_slice(b"   \t\n");
        input.extend_from_slice(b"{\"Image\":\"C:\\\\x\\\\good.exe\"}\n");
        input.extend_from_slice(b"not json \xfe\n");
        input.extend_from_slice("{\"Image\":\"C:\\\\\u{e9}\\\\evil.exe\"\u{2028}".as_bytes());
        for threads in [1, 2] {
            let mut got = Vec::new();
            let stats = engine
                .run_lines(input.as_slice(), None, threads, |a| {
                    got.push(a.record.unwrap_or(0))
                })
                .expect("runs");
            assert_eq!(got, [1, 2, 3], "{threads} threads");
            assert_eq!(
                (stats.run.events, stats.bad_lines),
                (4, 2),
                "{threads} threads"
            );
        }
    }
}
