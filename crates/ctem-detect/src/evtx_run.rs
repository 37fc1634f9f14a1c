//! The fast path for EVTX files: [`Engine::run_evtx`].
//!
//! The reader (the calling thread) only copies 64 KiB chunks out of the file. Workers parse a
//! chunk with the `evtx` crate, render each record as JSON bytes (its compiled templates),
//! turn them into flat lines ([`crate::evtx_flat`]) and match those as the JSON-lines path
//! does: the lazy line scanner, the prefilter and its value caches. Only a record with a hit
//! is parsed into a `serde_json::Value`, in its nested shape, so alerts carry the event as the
//! decoder gives it. Chunks come back in file order, where correlations are fed.
//! A damaged chunk or record is reported through `issue` and the rest of the file is read.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, mpsc};

use evtx::{EvtxChunkData, EvtxParser, ParserSettings};
use serde_json::Value;

use crate::engine::{Alert, Engine, Record, Scratch};
use crate::error::{Error, Result};
use crate::evtx_flat::flatten;
use crate::lines::{BatchOut, LineStats};

/// The records of one chunk: flat lines (joined by line breaks), the nested JSON of each
/// record, and their record ids.
#[derive(Default)]
struct Rendered {
    flat: Vec<u8>,
    /// Each record's nested JSON, as the evtx crate rendered it (kept, not copied).
    nested: Vec<Vec<u8>>,
    ids: Vec<u64>,
    issues: Vec<Error>,
}

/// What a worker hands back for one chunk.
struct ChunkOut {
    out: BatchOut,
    issues: Vec<Error>,
}

fn evtx_err(record: u64, message: String) -> Error {
    Error::Decode {
        format: "evtx",
        record,
        message,
    }
}

/// The message of a chunk that cannot be read or parsed.
fn damaged(chunk: u64, why: &str) -> Error {
    evtx_err(
        0,
        format!(
            "damaged chunk {chunk} (byte {}): {why}; its records are skipped, the other chunks \
             are read",
            4096 + chunk * 65536
        ),
    )
}

fn chunk_error(e: evtx::err::EvtxError) -> Error {
    match e {
        evtx::err::EvtxError::FailedToParseChunk { chunk_id, source } => {
            damaged(chunk_id, &chain(&*source))
        }
        e => evtx_err(0, chain(&e)),
    }
}

/// An error and its causes, `: `-separated (the evtx crate's own messages are generic).
fn chain(e: &dyn std::error::Error) -> String {
    let mut m = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        m.push_str(": ");
        m.push_str(&c.to_string());
        cause = c.source();
    }
    m
}

impl Rendered {
    fn clear(&mut self) {
        self.flat.clear();
        self.nested.clear();
        self.ids.clear();
        self.issues.clear();
    }

    /// Parses `data` and renders its records.
    fn chunk(&mut self, mut data: EvtxChunkData, settings: &Arc<ParserSettings>) {
        self.clear();
        let number = data.number.unwrap_or(0);
        let mut chunk = match data.parse(Arc::clone(settings)) {
            Ok(c) => c,
            Err(e) => {
                self.issues.push(damaged(number, &chain(&e)));
                return;
            }
        };
        for rec in chunk.iter() {
            let rec = match rec {
                Ok(r) => r,
                Err(e) => {
                    self.issues.push(evtx_err(0, chain(&e)));
                    continue;
                }
            };
            let (id, recovered) = (rec.event_record_id, rec.recovered);
            let json = match rec.into_json_bytes() {
                Ok(j) => j.data,
                // carved records that fail to render are noise (as the evtx crate says)
                Err(_) if recovered => continue,
                Err(e) => {
                    self.issues.push(evtx_err(id, chain(&e)));
                    continue;
                }
            };
            if !flatten(&json, &mut self.flat) {
                self.issues
                    .push(evtx_err(id, "the rendered record is not an event".into()));
                continue;
            }
            self.flat.push(b'\n');
            self.nested.push(json);
            self.ids.push(id);
        }
        self.flat.pop();
    }

    /// The nested JSON of the `i`-th record.
    fn nested(&self, i: usize) -> &[u8] {
        &self.nested[i]
    }
}

impl Engine {
    /// Runs over the bytes of an EVTX file on `threads` threads, calling `sink` with every
    /// alert in record order and `issue` with every damaged chunk or record (the others are
    /// still read). Records are matched as flat lines (see the module); alerts carry the
    /// nested event and the EVTX record id. `bad_lines` counts the issues.
    pub fn run_evtx<F, W>(
        &self,
        bytes: Vec<u8>,
        source: Option<&str>,
        threads: usize,
        mut sink: F,
        mut issue: W,
    ) -> Result<LineStats>
    where
        F: FnMut(Alert),
        W: FnMut(Error),
    {
        let settings = ParserSettings::new().num_threads(1).indent(false);
        let mut parser = EvtxParser::from_buffer(bytes)
            .map_err(|e| evtx_err(0, e.to_string()))?
            .with_configuration(settings.clone());
        let settings = Arc::new(settings);
        let mut stats = LineStats::default();
        let mut emit = |c: ChunkOut, stats: &mut LineStats| {
            stats.bad_lines += c.issues.len() as u64;
            c.issues.into_iter().for_each(&mut issue);
            let out = c.out;
            stats.run.events += out.events;
            stats.run.unknown_source += out.unknown;
            for (id, hits, event, extra) in out.hits {
                let rec = Record {
                    source: source.map(str::to_string),
                    record: Some(id),
                    event,
                };
                let mut alerts = Vec::new();
                self.emit(&rec, &hits, &mut alerts);
                alerts.extend(extra);
                stats.run.alerts += alerts.len() as u64;
                alerts.into_iter().for_each(&mut sink);
            }
        };
        let threads = threads.max(1);
        if threads == 1 {
            let mut sc = Scratch::new(self);
            let mut r = Rendered::default();
            for chunk in parser.chunks() {
                let out = match chunk {
                    Ok(data) => self.match_chunk(data, &settings, &mut r, source, &mut sc),
                    Err(e) => ChunkOut {
                        out: BatchOut::default(),
                        issues: vec![chunk_error(e)],
                    },
                };
                emit(out, &mut stats);
            }
            return Ok(stats);
        }
        let (job_tx, job_rx) = mpsc::sync_channel::<(u64, EvtxChunkData)>(threads * 2);
        let job_rx = Arc::new(Mutex::new(job_rx));
        let (res_tx, res_rx) = mpsc::channel::<(u64, ChunkOut)>();
        std::thread::scope(|s| {
            for _ in 0..threads {
                let job_rx = Arc::clone(&job_rx);
                let res_tx = res_tx.clone();
                let settings = Arc::clone(&settings);
                s.spawn(move || {
                    let mut sc = Scratch::new(self);
                    let mut r = Rendered::default();
                    loop {
                        let job = match job_rx.lock() {
                            Ok(rx) => rx.recv(),
                            Err(_) => return,
                        };
                        let Ok((seq, data)) = job else { return };
                        let out = self.match_chunk(data, &settings, &mut r, source, &mut sc);
                        if res_tx.send((seq, out)).is_err() {
                            return;
                        }
                    }
                });
            }
            drop(res_tx);
            let mut pending: BTreeMap<u64, ChunkOut> = BTreeMap::new();
            let mut next_out = 0u64;
            let mut seq = 0u64;
            let mut drain = |pending: &mut BTreeMap<u64, ChunkOut>, stats: &mut LineStats| {
                while let Some(out) = pending.remove(&next_out) {
                    emit(out, stats);
                    next_out += 1;
                }
            };
            for chunk in parser.chunks() {
                match chunk {
                    Ok(data) => {
                        if job_tx.send((seq, data)).is_err() {
                            break;
                        }
                    }
                    // in order with the chunks around it
                    Err(e) => {
                        let out = ChunkOut {
                            out: BatchOut::default(),
                            issues: vec![chunk_error(e)],
                        };
                        pending.insert(seq, out);
                    }
                }
                seq += 1;
                while let Ok((n, out)) = res_rx.try_recv() {
                    pending.insert(n, out);
                }
                drain(&mut pending, &mut stats);
            }
            drop(job_tx);
            for (n, out) in res_rx.iter() {
                pending.insert(n, out);
                drain(&mut pending, &mut stats);
            }
            drain(&mut pending, &mut stats);
        });
        Ok(stats)
    }

    /// Parses, renders and matches one chunk; hits carry their record id and nested event.
    fn match_chunk(
        &self,
        data: EvtxChunkData,
        settings: &Arc<ParserSettings>,
        r: &mut Rendered,
        source: Option<&str>,
        sc: &mut Scratch,
    ) -> ChunkOut {
        r.chunk(data, settings);
        let mut out = if r.ids.is_empty() {
            BatchOut::default()
        } else {
            self.match_batch(&r.flat, 1, source, sc)
        };
        for (line, _, event, extra) in &mut out.hits {
            let i = (*line - 1) as usize;
            let id = r.ids[i];
            // the nested event as the decoder gives it; the flat one should it not parse
            if let Ok(v) = serde_json::from_slice::<Value>(r.nested(i)) {
                *event = v;
                for a in extra.iter_mut() {
                    a.event = event.clone();
                }
            }
            for a in extra.iter_mut() {
                a.record = Some(id);
            }
            *line = id;
        }
        ChunkOut {
            out,
            issues: std::mem::take(&mut r.issues),
        }
    }
}

/// The records of an EVTX file as flat JSON lines, the ones the fast path matches (see
/// [`crate::evtx_flat`]), each ending with a line break; damaged chunks and records go to
/// `issue`. Returns the number of lines. For benchmarks, and for tools that read flat JSON
/// lines only.
pub fn evtx_flat_lines<W: FnMut(Error)>(
    bytes: Vec<u8>,
    out: &mut Vec<u8>,
    mut issue: W,
) -> Result<u64> {
    let settings = ParserSettings::new().num_threads(1).indent(false);
    let mut parser = EvtxParser::from_buffer(bytes)
        .map_err(|e| evtx_err(0, e.to_string()))?
        .with_configuration(settings.clone());
    let settings = Arc::new(settings);
    let mut r = Rendered::default();
    let mut n = 0;
    for chunk in parser.chunks() {
        match chunk {
            Ok(data) => {
                r.chunk(data, &settings);
                r.issues.drain(..).for_each(&mut issue);
                if !r.ids.is_empty() {
                    out.extend_from_slice(&r.flat);
                    out.push(b'\n');
                    n += r.ids.len() as u64;
                }
            }
            Err(e) => issue(chunk_error(e)),
        }
    }
    Ok(n)
}
