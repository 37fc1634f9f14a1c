//! `ctem detect`, `ctem rules check`.

use ctem_core::Settings;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Result, bail};
use ctem_detect::decode::{self, Format};
use ctem_detect::ioc::IocMatcher;
use ctem_detect::{Engine, Mappings, RuleSet};
use ctem_store::intel::IndicatorFilter;
use serde_json::Value;

use crate::cli::DetectArgs;
use crate::output::{Table, cut};

pub fn rules_check(dirs: &[PathBuf], json: bool) -> Result<ExitCode> {
    for d in dirs {
        if !d.exists() {
            bail!("{}: no such file or folder", d.display());
        }
    }
    let report = ctem_detect::rules_check(dirs)?;
    if json {
        crate::output::json_doc(&report);
    } else {
        for u in &report.unsupported {
            outln!("unsupported  {}: {}", u.path, u.reason);
        }
        outln!(
            "{} rules, {} compiled ({:.2}%), {} unsupported",
            report.rules,
            report.compiled,
            if report.rules == 0 {
                100.0
            } else {
                report.compiled as f64 * 100.0 / report.rules as f64
            },
            report.unsupported.len()
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// The first string among `paths` (dotted, into nested objects) in an event.
fn first_str(ev: &Value, paths: &[&str]) -> Option<String> {
    for p in paths {
        let mut cur = ev;
        let mut ok = true;
        for part in p.split('.') {
            match cur.get(part) {
                Some(v) => cur = v,
                None => {
                    ok = false;
                    break;
                }
            }
        }
        if ok {
            match cur {
                Value::String(s) if !s.is_empty() && s != "-" => return Some(s.clone()),
                Value::Number(n) => return Some(n.to_string()),
                _ => {}
            }
        }
    }
    None
}

const HOST: &[&str] = &[
    "Computer",
    "Event.System.Computer",
    "host.name",
    "hostname",
    "agent.name",
    "host",
    "src_ip",
    "id.orig_h",
];
const USER: &[&str] = &[
    "User",
    "TargetUserName",
    "SubjectUserName",
    "Event.EventData.TargetUserName",
    "Event.EventData.SubjectUserName",
    "Event.EventData.User",
    "user.name",
    "data.win.eventdata.targetUserName",
    "srcuser",
    "dstuser",
];
const PROCESS: &[&str] = &[
    "Image",
    "NewProcessName",
    "Event.EventData.Image",
    "Event.EventData.NewProcessName",
    "process.executable",
    "process.name",
    "ProcessName",
];

/// A detection alert as the store keeps it, with the entities found in its event.
pub fn to_model(a: &ctem_detect::Alert, now: chrono::DateTime<chrono::Utc>) -> ctem_model::Alert {
    let event_time = a
        .timestamp
        .as_deref()
        .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.to_utc());
    ctem_model::Alert {
        id: None,
        rule_id: a.rule_id.clone(),
        title: a.title.clone(),
        level: a.level.clone(),
        tags: a.tags.clone(),
        event_time,
        detected_at: now,
        source: a.source.clone(),
        record: a.record,
        host: first_str(&a.event, HOST),
        user: first_str(&a.event, USER),
        process: first_str(&a.event, PROCESS),
        event: a.event.clone(),
    }
}

#[derive(serde::Serialize)]
struct Summary {
    events: u64,
    alerts: u64,
    rules: usize,
    /// The whole run, rule loading included.
    seconds: f64,
    /// Loading and compiling the rules (and the store's indicators).
    load_seconds: f64,
    /// Events over the time spent reading and matching them: rule loading is not included.
    events_per_second: f64,
}

pub fn run(
    settings: &Settings,
    args: DetectArgs,
    limits: &crate::input::Limits,
) -> Result<ExitCode> {
    let db = settings.store.url.as_str();
    let format: Format = args
        .input
        .parse()
        .map_err(|e| anyhow::anyhow!("--input {}: {e}", args.input))?;
    if args.rules.is_empty() {
        bail!("no rules: pass --rules DIR (a folder of Sigma rules)");
    }
    for r in &args.rules {
        if !r.exists() {
            bail!("{}: no such rules folder", r.display());
        }
    }
    let start = Instant::now();
    let loading = crate::output::progress::spinner("loading rules".into());
    let rules = RuleSet::load_dirs(&args.rules)?;
    let n_rules = rules.report.compiled;
    if !rules.report.unsupported.is_empty() {
        eprintln!(
            "{} of {} rules are unsupported (see `ctem rules check`)",
            rules.report.unsupported.len(),
            rules.report.rules
        );
    }
    let mut engine = Engine::new(rules, Mappings::builtin()?);
    engine.add_detector(Box::new(decode::SourceAlerts));
    // the intel store's active indicators are matched too, whenever there is a store
    let mut store = if args.store || Path::new(db.strip_prefix("sqlite://").unwrap_or(db)).exists()
    {
        Some(super::open_store(settings)?)
    } else {
        None
    };
    let now = chrono::Utc::now();
    if let Some(st) = store.as_ref() {
        let indicators = st.indicators(&IndicatorFilter {
            active_at: Some(now),
            ..IndicatorFilter::default()
        })?;
        let matcher = IocMatcher::new(&indicators, now);
        if !matcher.is_empty() {
            eprintln!(
                "matching {} active indicators of the intel store",
                matcher.len()
            );
            engine.add_detector(Box::new(matcher));
        }
    }

    // files named on the command line must decode; files found in folders are skipped with
    // a warning when they are not events (README, rule files, ...)
    let mut files: Vec<(PathBuf, bool)> = Vec::new();
    for f in &args.files {
        if f == "-" {
            files.push((PathBuf::from("-"), true));
            continue;
        }
        if !Path::new(f).exists() {
            bail!("{f}: no such file or folder");
        }
        // folders walked in sorted order, a symbolic-link loop followed once
        let found = crate::input::expand(&[PathBuf::from(f)])?;
        files.extend(
            found
                .into_iter()
                .filter_map(|s| Some((s.path?, !s.in_folder))),
        );
    }
    if args.follow && (files.len() != 1 || files[0].0.as_os_str() == "-") {
        bail!("--follow takes exactly one file");
    }

    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let mut stored: Vec<ctem_model::Alert> = Vec::new();
    let mut table = Table::new(&["TIME", "LEVEL", "RULE", "SOURCE", "HOST"]).paint(1);
    let mut sink = |alert: ctem_detect::Alert| {
        // a closed stdout ends the run quietly (crate::output::stdout)
        if args.json
            && let Err(e) = serde_json::to_writer(&mut out, &alert)
                .map_err(std::io::Error::other)
                .and_then(|_| out.write_all(b"\n"))
                .and_then(|_| if args.follow { out.flush() } else { Ok(()) })
        {
            crate::output::stdout::fail(&e);
        }
        let m = to_model(&alert, now);
        if !args.json {
            let row = vec![
                alert.timestamp.clone().unwrap_or_default(),
                alert.level.clone(),
                cut(&alert.title, 60),
                format!(
                    "{}:{}",
                    alert.source.as_deref().unwrap_or("-"),
                    alert.record.map(|r| r.to_string()).unwrap_or_default()
                ),
                m.host.clone().unwrap_or_default(),
            ];
            if args.follow {
                if let Err(e) = writeln!(out, "{}", row.join("  ")).and_then(|_| out.flush()) {
                    crate::output::stdout::fail(&e);
                }
            } else {
                table.row(row);
            }
        }
        if args.store {
            stored.push(m);
        }
    };
    loading.finish_and_clear();
    let load_secs = start.elapsed().as_secs_f64();
    let threads = args.threads.max(1);
    let mut stats = ctem_detect::RunStats::default();
    if args.follow {
        // one record at a time, alerts as soon as the line is written
        let path = &files[0].0;
        eprintln!("following {} (Ctrl-C to stop)", path.display());
        for r in decode::follow(path, format, std::time::Duration::from_millis(250))? {
            match r {
                Ok(rec) => {
                    stats.events += 1;
                    for a in engine.process_record(&rec) {
                        stats.alerts += 1;
                        sink(a);
                    }
                }
                Err(e) => eprintln!("skipped: {}", crate::output::printable(&e.to_string(), 300)),
            }
        }
    }
    for (f, strict) in &files {
        let name = if f.as_os_str() == "-" {
            "stdin".to_string()
        } else {
            f.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| f.display().to_string())
        };
        let lines = crate::input::open_events(f, format, limits, &name)?;
        let mut lines = crate::output::progress::Reading::new(lines, &name);
        let head = std::io::BufRead::fill_buf(&mut lines)
            .map(<[u8]>::to_vec)
            .unwrap_or_default();
        if format == Format::Jsonl
            || (format == Format::Auto && decode::is_json_lines(&head, format))
        {
            let s = engine.run_lines(lines, Some(&name), threads, &mut sink)?;
            stats.events += s.run.events;
            stats.alerts += s.run.alerts;
            if s.bad_lines > 0 {
                eprintln!("{name}: {} lines were not JSON (skipped)", s.bad_lines);
            }
            continue;
        }
        let records = if f.as_os_str() == "-" {
            decode::stream(lines, format, Some(name.clone()))?
        } else {
            match decode::stream(lines, format, Some(name.clone())) {
                Ok(r) => r,
                Err(e) if !strict => {
                    eprintln!(
                        "skipped {}: {}",
                        f.display(),
                        crate::output::printable(&e.to_string(), 300)
                    );
                    continue;
                }
                Err(e) => return Err(anyhow::Error::new(e).context(f.display().to_string())),
            }
        };
        let file_stats = engine.run(
            records.filter_map(|r| match r {
                Ok(r) => Some(r),
                Err(e) => {
                    eprintln!("skipped: {}", crate::output::printable(&e.to_string(), 300));
                    None
                }
            }),
            threads,
            &mut sink,
        );
        stats.events += file_stats.events;
        stats.alerts += file_stats.alerts;
    }
    if !args.json && !args.follow {
        out.write_all(
            if table.is_empty() {
                "no alerts\n".to_string()
            } else {
                table.render()
            }
            .as_bytes(),
        )?;
    }
    if args.store
        && let Some(store) = store.as_mut()
    {
        store.store_alerts(&stored)?;
    }
    let secs = start.elapsed().as_secs_f64();
    let matching = secs - load_secs;
    let summary = Summary {
        events: stats.events,
        alerts: stats.alerts,
        rules: n_rules,
        seconds: (secs * 1000.0).round() / 1000.0,
        load_seconds: (load_secs * 1000.0).round() / 1000.0,
        events_per_second: if matching > 0.0 {
            (stats.events as f64 / matching).round()
        } else {
            0.0
        },
    };
    if args.summary {
        writeln!(out, "{}", serde_json::to_string(&summary)?)?;
    }
    out.flush()?;
    eprintln!(
        "{} events, {} alerts, {} rules, {:.2} s: rules loaded in {:.2} s, then {} events/s \
         (rule loading not included){}",
        summary.events,
        summary.alerts,
        summary.rules,
        secs,
        load_secs,
        summary.events_per_second,
        if args.store {
            format!("; {} alerts stored", stored.len())
        } else {
            String::new()
        }
    );
    Ok(ExitCode::SUCCESS)
}
