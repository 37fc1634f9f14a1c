//! Throughput of the engine over EVTX files against the same events as flat JSON lines, for
//! `bench/detect.sh`.
//!
//! ```text
//! cargo run --release -p ctem-detect --example evtx_bench -- \
//!     --rules DIR [--rules DIR]... --evtx FILE_OR_DIR [--evtx ...] [--threads N] \
//!     [--repeat N] [--mode evtx|lines|value]
//! ```
//! Every EVTX file is read into memory first. `evtx` runs [`Engine::run_evtx`] over each file
//! (parse, render, flatten, match); `lines` runs [`Engine::run_lines`] over each file's
//! records already turned into flat JSON lines ([`ctem_detect::decode::evtx_flat_lines`],
//! before the timer): the JSON-lines throughput on the same events; `value` the old path
//! (records decoded into nested `serde_json::Value`s, [`Engine::run`]); `render` only parses,
//! renders and flattens the records (the floor of the EVTX path: no rule is evaluated). Prints one JSON
//! object: events, seconds (wall and CPU), events per second and per CPU-second, alerts.

use std::path::{Path, PathBuf};
use std::time::Instant;

use ctem_detect::{Engine, Mappings, RuleSet};
use serde_json::json;

#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    if let Err(e) = run() {
        eprintln!("evtx_bench: {e}");
        std::process::exit(1);
    }
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

fn files(p: &Path, out: &mut Vec<PathBuf>) {
    if p.is_file() {
        out.push(p.to_path_buf());
        return;
    }
    let Ok(rd) = std::fs::read_dir(p) else { return };
    let mut v: Vec<PathBuf> = rd.filter_map(|e| e.ok().map(|e| e.path())).collect();
    v.sort();
    for q in v {
        if q.is_dir() {
            files(&q, out);
        } else if q
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("evtx"))
        {
            out.push(q);
        }
    }
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let (mut rules, mut inputs) = (Vec::new(), Vec::new());
    let (mut threads, mut repeat, mut mode) = (1usize, 1usize, "evtx".to_string());
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut val = || args.next().ok_or(format!("{a} needs a value"));
        match a.as_str() {
            "--rules" => rules.push(val()?),
            "--evtx" => inputs.push(PathBuf::from(val()?)),
            "--threads" => threads = val()?.parse()?,
            "--repeat" => repeat = val()?.parse()?,
            "--mode" => mode = val()?,
            other => return Err(format!("unknown argument {other}").into()),
        }
    }
    let mut paths = Vec::new();
    inputs.iter().for_each(|p| files(p, &mut paths));
    let data: Vec<(String, Vec<u8>)> = paths
        .iter()
        .map(|p| Ok((p.display().to_string(), std::fs::read(p)?)))
        .collect::<std::io::Result<_>>()?;
    let lines: Vec<Vec<u8>> = if mode == "lines" {
        data.iter()
            .map(|(_, b)| {
                let mut out = Vec::new();
                ctem_detect::decode::evtx_flat_lines(b.clone(), &mut out, |_| {}).map(|_| out)
            })
            .collect::<Result<_, _>>()?
    } else {
        Vec::new()
    };
    let t = Instant::now();
    let set = RuleSet::load_dirs(&rules)?;
    let load = t.elapsed().as_secs_f64();
    let engine = Engine::new(set, Mappings::builtin()?);
    let build = t.elapsed().as_secs_f64() - load;
    let (t, c0) = (Instant::now(), cpu_secs());
    let (mut events, mut alerts) = (0u64, 0u64);
    for _ in 0..repeat {
        for (i, (name, bytes)) in data.iter().enumerate() {
            let (e, a) = match mode.as_str() {
                "evtx" => {
                    let s = engine.run_evtx(bytes.clone(), Some(name), threads, |_| {}, |_| {})?;
                    (s.run.events, s.run.alerts)
                }
                "lines" => {
                    let s = engine.run_lines(lines[i].as_slice(), Some(name), threads, |_| {})?;
                    (s.run.events, s.run.alerts)
                }
                "render" => {
                    let mut out = Vec::new();
                    let n = ctem_detect::decode::evtx_flat_lines(bytes.clone(), &mut out, |_| {})?;
                    (n, 0)
                }
                "value" => {
                    let recs = ctem_detect::decode::decode_bytes(
                        bytes.clone(),
                        ctem_detect::decode::Format::Evtx,
                        Some(name.clone()),
                    )?;
                    let s = engine.run(recs.filter_map(Result::ok), threads, |_| {});
                    (s.events, s.alerts)
                }
                m => return Err(format!("unknown mode {m}").into()),
            };
            events += e;
            alerts += a;
        }
    }
    let secs = t.elapsed().as_secs_f64();
    let cpu = cpu_secs() - c0;
    let out = json!({
        "mode": mode, "threads": threads, "files": data.len(), "events": events,
        "alerts": alerts, "rules_load_seconds": load, "engine_build_seconds": build, "seconds": secs, "cpu_seconds": cpu,
        "events_per_sec": events as f64 / secs.max(1e-9),
        "events_per_cpu_sec": events as f64 / cpu.max(1e-9),
    });
    println!("{out}");
    Ok(())
}
