//! Throughput of the engine over a JSON-lines file, for `bench/detect.sh`.
//!
//! ```text
//! cargo run --release -p ctem-detect --example detect_bench -- \
//!     --rules DIR [--rules DIR]... --events FILE[.gz] [--threads N] [--repeat N] \
//!     [--mode lines|records|parse|scan|file] [--out ALERTS.ndjson] [--cache DIR]
//! ```
//! The file is read (and gunzipped) into memory once, then repeated `--repeat` times. Modes:
//! `lines` is [`Engine::run_lines`] (lazy field extraction, the fast path), `records` decodes
//! every line into a `serde_json::Value` first and uses [`Engine::run`], `parse` only parses
//! every line with serde_json (the ceiling of an engine that builds a `Value` per event),
//! `scan` only runs the lazy line scanner ([`ctem_detect::flat::FlatEvent`]) over every line
//! with the engine's field index (the floor of the lines path: no rule is evaluated).
//! `file` is what `ctem detect --json FILE` does, as a whole process: the file is read (and
//! gunzipped) as it is matched ([`Engine::run_file`]) and every alert is written as one JSON
//! line to `--out` (`/dev/null` by default), the work rsigma does with `--output-format
//! ndjson`. `--cache DIR` loads the rules through the rule cache
//! ([`RuleSet::load_dirs_cached`]).
//! Prints one JSON object: events, seconds, events/s, alerts, rule load time, peak RSS and
//! hits per rule id.

use std::collections::BTreeMap;
use std::io::Read;
use std::time::Instant;

use ctem_detect::{Engine, Mappings, Record, RuleSet};
use serde_json::{Value, json};

/// The allocator of the `ctem` binary, so the figures are those of `ctem detect`.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    if let Err(e) = run() {
        eprintln!("detect_bench: {e}");
        std::process::exit(1);
    }
}

/// The file `left` times over, without copying it.
struct Repeat<'a> {
    data: &'a [u8],
    pos: usize,
    left: usize,
}

impl std::io::Read for Repeat<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        use std::io::BufRead;
        let n = {
            let avail = self.fill_buf()?;
            let n = avail.len().min(buf.len());
            buf[..n].copy_from_slice(&avail[..n]);
            n
        };
        self.consume(n);
        Ok(n)
    }
}

impl std::io::BufRead for Repeat<'_> {
    fn fill_buf(&mut self) -> std::io::Result<&[u8]> {
        if self.pos == self.data.len() && self.left > 0 {
            self.left -= 1;
            self.pos = 0;
        }
        if self.left == 0 && self.pos == 0 {
            return Ok(&[]);
        }
        Ok(&self.data[self.pos..])
    }
    fn consume(&mut self, n: usize) {
        self.pos += n;
    }
}

fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|n| n.parse().ok())
        })
        .unwrap_or(0)
}

/// CPU seconds (user + system) of the whole process so far, from `/proc/self/stat`.
fn cpu_secs() -> f64 {
    let ticks = std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|s| {
            let rest = s.rsplit_once(')')?.1.to_string();
            let f: Vec<u64> = rest
                .split_whitespace()
                .skip(11)
                .take(2)
                .filter_map(|x| x.parse().ok())
                .collect();
            Some(f.iter().sum::<u64>())
        })
        .unwrap_or(0);
    ticks as f64 / 100.0
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let mut rules = Vec::new();
    let mut events = None;
    let mut threads = 1usize;
    let mut repeat = 1usize;
    let mut mode = "lines".to_string();
    let mut out_path: Option<String> = None;
    let mut cache: Option<std::path::PathBuf> = None;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut val = || args.next().ok_or(format!("{a} needs a value"));
        match a.as_str() {
            "--rules" => rules.push(val()?),
            "--events" => events = Some(val()?),
            "--threads" => threads = val()?.parse()?,
            "--repeat" => repeat = val()?.parse()?,
            "--mode" => mode = val()?,
            "--out" => out_path = Some(val()?),
            "--cache" => cache = Some(std::path::PathBuf::from(val()?)),
            other => return Err(format!("unknown argument {other}").into()),
        }
    }
    let events = events.ok_or("--events FILE is required")?;
    let mut raw = Vec::new();
    if mode != "file" {
        std::fs::File::open(&events)?.read_to_end(&mut raw)?;
    }
    let mut data = ctem_detect::decode::gunzip_if_needed(raw)?;
    if data.last() != Some(&b'\n') {
        data.push(b'\n');
    }

    let t = Instant::now();
    let c0 = cpu_secs();
    let (set, cache_use) =
        RuleSet::load_dirs_cached(&rules, &Default::default(), cache.as_deref())?;
    let n_rules = set.rules.len();
    let engine = Engine::new(set, Mappings::builtin()?);
    let compile_secs = t.elapsed().as_secs_f64();
    let compile_cpu = cpu_secs() - c0;

    let mut hits: BTreeMap<String, u64> = BTreeMap::new();
    let t = Instant::now();
    let c0 = cpu_secs();
    let (n_events, alerts) = match mode.as_str() {
        "lines" => {
            let input = Repeat {
                data: &data,
                pos: 0,
                left: repeat,
            };
            let s = engine.run_lines(input, Some("bench"), threads, |a| {
                *hits.entry(a.rule_id).or_default() += 1;
            })?;
            (s.run.events, s.run.alerts)
        }
        "records" => {
            let text = std::str::from_utf8(&data)?;
            let recs = std::iter::repeat_n(text, repeat)
                .flat_map(str::lines)
                .filter_map(|l| serde_json::from_str::<Value>(l).ok())
                .map(Record::new);
            let s = engine.run(recs, threads, |a| {
                *hits.entry(a.rule_id).or_default() += 1;
            });
            (s.events, s.alerts)
        }
        "parse" => {
            let text = std::str::from_utf8(&data)?;
            let mut n = 0u64;
            for l in std::iter::repeat_n(text, repeat).flat_map(str::lines) {
                if let Ok(v) = serde_json::from_str::<Value>(l) {
                    n += u64::from(v.is_object());
                }
            }
            (n, 0)
        }
        "scan" => {
            let text = std::str::from_utf8(&data)?;
            let mut flat = ctem_detect::flat::FlatEvent::new(engine.field_index());
            let mut n = 0u64;
            for l in std::iter::repeat_n(text, repeat).flat_map(str::lines) {
                n += u64::from(flat.scan(l).is_ok());
            }
            (n, 0)
        }
        "file" => {
            use std::io::Write;
            let out = std::fs::File::create(out_path.as_deref().unwrap_or("/dev/null"))?;
            let mut w = std::io::BufWriter::with_capacity(1 << 16, out);
            let mut failed = None;
            let s = engine.run_file(&events, ctem_detect::decode::Format::Auto, threads, |a| {
                *hits.entry(a.rule_id.clone()).or_default() += 1;
                let line = serde_json::to_string(&a).unwrap_or_default();
                if let Err(e) = writeln!(w, "{line}") {
                    failed = Some(e);
                }
            })?;
            w.flush()?;
            if let Some(e) = failed {
                return Err(e.into());
            }
            (s.run.events, s.run.alerts)
        }
        other => return Err(format!("unknown mode {other}").into()),
    };
    let secs = t.elapsed().as_secs_f64();
    let cpu = cpu_secs() - c0;
    let out = json!({
        "mode": mode,
        "threads": threads,
        "rules": n_rules,
        "compile_secs": compile_secs,
        "compile_cpu_secs": compile_cpu,
        "rule_cache": cache_use,
        "events": n_events,
        "secs": secs,
        "events_per_sec": n_events as f64 / secs.max(1e-9),
        "cpu_secs": cpu,
        "events_per_cpu_sec": n_events as f64 / cpu.max(1e-9),
        "alerts": alerts,
        "peak_rss_kib": peak_rss_kib(),
        "hits": hits,
    });
    println!("{out}");
    Ok(())
}
