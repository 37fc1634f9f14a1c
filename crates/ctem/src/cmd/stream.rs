//! `ctem detect --input syslog://... | kafka://...`: a stream source in the foreground
//! (ctem-stream), alerts printed and, with `--store`, stored batch by batch; for Kafka the
//! offsets are committed only after that.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};

use anyhow::Result;
use ctem_core::Settings;
use ctem_stream::{Counters, Snapshot, Stop};

use crate::cli::DetectArgs;

/// Whether `--input` names a stream rather than a format.
pub fn is_stream(input: &str) -> bool {
    input.starts_with("syslog://") || input.starts_with("kafka://")
}

pub fn run(settings: &Settings, args: DetectArgs) -> Result<ExitCode> {
    if !args.files.is_empty() {
        crate::cli::usage_error("a stream --input takes no event files");
    }
    if args.follow {
        crate::cli::usage_error("--follow is for files; a stream is followed anyway");
    }
    let db = settings.store.url.as_str();
    let mut store = if args.store || Path::new(db.strip_prefix("sqlite://").unwrap_or(db)).exists()
    {
        Some(super::open_store(settings)?)
    } else {
        None
    };
    let (engine, n_rules, _) =
        super::detect::build_engine(&args, &settings.detect, store.as_deref())?;
    let json = args.json;
    let mut stored = 0usize;
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let keep = if args.store { store.as_mut() } else { None };
    let mut keep = keep;
    let mut sink = |alerts: &[ctem_detect::Alert]| -> Result<(), String> {
        // durable first (the store's transaction), then shown
        if let Some(st) = keep.as_mut() {
            let now = chrono::Utc::now();
            let models: Vec<ctem_model::Alert> = alerts.iter().map(|a| a.to_model(now)).collect();
            stored += st.store_alerts(&models).map_err(|e| e.to_string())?.len();
        }
        for a in alerts {
            let line = if json {
                serde_json::to_string(a).map_err(|e| e.to_string())?
            } else {
                format!(
                    "{}  {}  {}  {}:{}",
                    a.timestamp.as_deref().unwrap_or("-"),
                    a.level,
                    crate::output::cut(&a.title, 60),
                    a.source.as_deref().unwrap_or("-"),
                    a.record.map(|r| r.to_string()).unwrap_or_default()
                )
            };
            if let Err(e) = writeln!(out, "{line}") {
                crate::output::stdout::fail(&e);
            }
        }
        if let Err(e) = out.flush() {
            crate::output::stdout::fail(&e);
        }
        Ok(())
    };
    let start = Instant::now();
    let snap = if args.input.starts_with("kafka://") {
        run_kafka(&args, &engine, &mut sink)?
    } else {
        let mut cfg = ctem_stream::SyslogConfig::new(args.input.parse()?);
        cfg.threads = args.threads.max(1);
        if let Some(q) = args.queue {
            cfg.queue = q;
        }
        let l = cfg.build()?;
        eprintln!(
            "listening on {} with {n_rules} rules (source {}); stop with Ctrl-C{}",
            args.input,
            l.label(),
            idle_note(&args)
        );
        let _watch = watch(l.counters(), l.stopper(), args.exit_idle);
        l.run(&engine, &mut sink)?
    };
    if args.store
        && let Some(st) = store.as_mut()
    {
        super::measure::after_change(st.as_mut(), &settings.measure, true);
    }
    report(&args, &snap, start.elapsed(), args.store.then_some(stored))?;
    Ok(ExitCode::SUCCESS)
}

fn idle_note(args: &DetectArgs) -> String {
    match args.exit_idle {
        Some(s) => format!(" (or {s} s without a message)"),
        None => String::new(),
    }
}

#[cfg(feature = "kafka")]
fn run_kafka(
    args: &DetectArgs,
    engine: &ctem_detect::Engine,
    sink: &mut dyn ctem_stream::AlertSink,
) -> Result<Snapshot> {
    let Some(group) = args.group.as_deref() else {
        crate::cli::usage_error("--input kafka://... needs --group G");
    };
    let mut cfg = ctem_stream::KafkaConfig::from_url(&args.input, group)?;
    cfg.alerts_topic = args.alerts_topic.clone();
    cfg.threads = args.threads.max(1);
    if let Some(q) = args.queue {
        cfg.batch = q;
    }
    if !args.store && cfg.alerts_topic.is_none() {
        eprintln!(
            "warning: neither --store nor --alerts-topic: offsets are committed once alerts \
             are printed"
        );
    }
    let src = cfg.build()?;
    eprintln!(
        "consuming {} in group {group}; stop with Ctrl-C{}",
        args.input,
        idle_note(args)
    );
    let _watch = watch(src.counters(), src.stopper(), args.exit_idle);
    Ok(src.run(engine, sink)?)
}

#[cfg(not(feature = "kafka"))]
fn run_kafka(
    _: &DetectArgs,
    _: &ctem_detect::Engine,
    _: &mut dyn ctem_stream::AlertSink,
) -> Result<Snapshot> {
    anyhow::bail!("this ctem was built without Kafka (cargo feature kafka)")
}

/// Stops the source after `idle` seconds without a new message (none: never). The thread
/// ends with the process.
fn watch(c: Arc<Counters>, stop: Stop, idle: Option<f64>) -> Option<std::thread::JoinHandle<()>> {
    let idle = Duration::from_secs_f64(idle?.max(0.0));
    Some(std::thread::spawn(move || {
        let mut last = c.received.load(Relaxed);
        let mut since = Instant::now();
        while !stop.is_stopped() {
            std::thread::sleep(Duration::from_millis(50));
            let now = c.received.load(Relaxed);
            if now != last {
                (last, since) = (now, Instant::now());
            } else if since.elapsed() >= idle {
                stop.stop();
            }
        }
    }))
}

#[derive(serde::Serialize)]
struct StreamSummary<'a> {
    #[serde(flatten)]
    counters: &'a Snapshot,
    seconds: f64,
    events_per_second: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    stored: Option<usize>,
}

fn report(args: &DetectArgs, s: &Snapshot, took: Duration, stored: Option<usize>) -> Result<()> {
    let secs = took.as_secs_f64();
    let summary = StreamSummary {
        counters: s,
        seconds: (secs * 1000.0).round() / 1000.0,
        // while busy: from the first batch to the end of the last
        events_per_second: if s.busy_seconds > 0.0 {
            (s.processed as f64 / s.busy_seconds).round()
        } else {
            0.0
        },
        stored,
    };
    if args.summary {
        let mut out = std::io::stdout().lock();
        if let Err(e) = writeln!(out, "{}", serde_json::to_string(&summary)?) {
            crate::output::stdout::fail(&e);
        }
    }
    eprintln!(
        "{} received, {} processed, {} dropped (queue full), {} dropped by the kernel, {} \
         rejected, {} alerts{} in {:.2} s",
        s.received,
        s.processed,
        s.dropped,
        s.kernel_dropped,
        s.rejected,
        s.alerts,
        match stored {
            Some(n) => format!(" ({n} new stored)"),
            None => String::new(),
        },
        secs
    );
    if let Some(e) = &s.last_error {
        eprintln!("last error: {e}");
    }
    if s.dropped > 0 || s.kernel_dropped > 0 {
        eprintln!(
            "warning: {} messages were dropped: raise --queue, add --threads, or send over TCP",
            s.dropped + s.kernel_dropped
        );
    }
    Ok(())
}
