//! `ctem detect`, `ctem rules check`.

use ctem_core::Settings;
use std::collections::HashSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use ctem_detect::decode::{self, Format};
use ctem_detect::ioc::IocMatcher;
use ctem_detect::{DetectConfig, Engine, RuleSet};
use ctem_store::Store;
use ctem_store::intel::IndicatorFilter;

use crate::cli::DetectArgs;
use crate::output::{Table, cut};

pub fn rules_check(dirs: &[PathBuf], json: bool, cfg: &DetectConfig) -> Result<ExitCode> {
    for d in dirs {
        if !d.exists() {
            bail!("{}: no such file or folder", d.display());
        }
    }
    let mappings = cfg.build()?;
    let report = ctem_detect::rules_check_with(dirs, &mappings)?;
    if json {
        crate::output::json_doc(&report);
    } else {
        for u in &report.unsupported {
            outln!("unsupported  {}: {}", u.path, u.reason);
        }
        for l in report.logsources.iter().filter(|l| !l.fed) {
            outln!(
                "unfed        {}/{}/{}: {} rules, no source feeds it",
                l.product.as_deref().unwrap_or("*"),
                l.service.as_deref().unwrap_or("*"),
                l.category.as_deref().unwrap_or("*"),
                l.rules
            );
        }
        outln!(
            "{} rules, {} compiled ({:.2}%), {} unsupported; {} logsources, {} fed by a source",
            report.rules,
            report.compiled,
            if report.rules == 0 {
                100.0
            } else {
                report.compiled as f64 * 100.0 / report.rules as f64
            },
            report.unsupported.len(),
            report.logsources.len(),
            report.logsources.iter().filter(|l| l.fed).count()
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Files under `p`; each folder is read once whatever links lead to it (a `self -> .` link
/// is followed once), and an unreadable folder is reported, not fatal.
fn walk(p: &Path, out: &mut Vec<PathBuf>, seen: &mut HashSet<PathBuf>) {
    if p.is_dir() {
        let real = std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
        if !seen.insert(real) {
            return;
        }
        let entries = match std::fs::read_dir(p) {
            Ok(rd) => rd,
            Err(e) => {
                eprintln!("skipped {}: {e}", p.display());
                return;
            }
        };
        let mut entries: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
        entries.sort();
        for e in entries {
            walk(&e, out, seen);
        }
    } else {
        let real = std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
        if seen.insert(real) {
            out.push(p.to_path_buf());
        }
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
    /// How the rule cache served this run: `hit`, `written`, `off` or `unwritable`.
    rule_cache: ctem_detect::CacheUse,
    /// Events over the time spent reading and matching them: rule loading is not included.
    events_per_second: f64,
    /// Events whose logsource no routing entry recognised.
    unknown_source: u64,
    /// Inputs that could not be read (each reported on stderr).
    failed_inputs: usize,
    /// Alerts added to the store (`--store`); alerts stored by an earlier run are not.
    #[serde(skip_serializing_if = "Option::is_none")]
    stored: Option<usize>,
}

/// Alerts waiting to be written, in batches of this many (each batch one transaction).
const STORE_BATCH: usize = 512;

/// Writes alerts to the store in small batches as they come (every record's alerts at once
/// with `--follow`), so a long run keeps what it found.
struct AlertWriter<'s> {
    store: Option<&'s mut Box<dyn Store>>,
    pending: Vec<ctem_model::Alert>,
    stored: usize,
    error: Option<anyhow::Error>,
}

impl AlertWriter<'_> {
    fn push(&mut self, a: ctem_model::Alert, now: bool) {
        if self.store.is_none() {
            return;
        }
        self.pending.push(a);
        if now || self.pending.len() >= STORE_BATCH {
            self.flush();
        }
    }

    fn flush(&mut self) {
        let Some(store) = self.store.as_mut() else {
            return;
        };
        if self.pending.is_empty() || self.error.is_some() {
            return;
        }
        match store.store_alerts(&self.pending) {
            Ok(ids) => self.stored += ids.len(),
            Err(e) => self.error = Some(anyhow::Error::new(e).context("storing alerts")),
        }
        self.pending.clear();
    }
}

/// The rule set: `--rules`, else `[detect] rules` of ctem.toml, else none (source alerts and
/// indicators only).
fn load_rules(args: &DetectArgs, cfg: &DetectConfig) -> Result<(RuleSet, ctem_detect::CacheUse)> {
    let dirs = if args.rules.is_empty() {
        &cfg.rules
    } else {
        &args.rules
    };
    for r in dirs {
        if !r.exists() {
            bail!("{}: no such rules folder", r.display());
        }
    }
    if dirs.is_empty() {
        eprintln!("no rules given (--rules or [detect] rules): source alerts and indicators only");
        return Ok((RuleSet::default(), ctem_detect::CacheUse::Off));
    }
    let cache = cfg.rule_cache.as_deref().filter(|_| !args.no_rule_cache);
    let (rules, used) =
        RuleSet::load_dirs_cached(dirs, &ctem_detect::CompileOptions::default(), cache)?;
    if used == ctem_detect::CacheUse::Unwritable
        && let Some(c) = cache
    {
        eprintln!(
            "rule cache {} is not writable: rules are parsed on every run",
            c.display()
        );
    }
    if !rules.report.unsupported.is_empty() {
        eprintln!(
            "{} of {} rules are unsupported (see `ctem rules check`)",
            rules.report.unsupported.len(),
            rules.report.rules
        );
    }
    Ok((rules, used))
}

/// The inputs: named files (which must read), and files found in folders (skipped with a
/// warning when they are not events: README, rule files, ...).
fn inputs(args: &DetectArgs) -> Result<Vec<(PathBuf, bool)>> {
    let mut files: Vec<(PathBuf, bool)> = Vec::new();
    let mut seen = HashSet::new();
    for f in &args.files {
        let p = PathBuf::from(f);
        if f != "-" && p.is_dir() {
            let mut found = Vec::new();
            walk(&p, &mut found, &mut seen);
            files.extend(found.into_iter().map(|f| (f, false)));
        } else {
            files.push((p, true));
        }
    }
    if args.follow && (files.len() != 1 || files[0].0.as_os_str() == "-") {
        bail!("--follow takes exactly one file");
    }
    Ok(files)
}

/// The engine of `detect`: the rules, alerts the sources raise themselves, and the active
/// indicators of the intel store when there is one. Returns it with its compiled rules and
/// what the rule cache did.
pub(crate) fn build_engine(
    args: &DetectArgs,
    cfg: &DetectConfig,
    store: Option<&dyn Store>,
) -> Result<(Engine, usize, ctem_detect::CacheUse)> {
    let (rules, rule_cache) = load_rules(args, cfg)?;
    let n_rules = rules.report.compiled;
    let mut engine = Engine::new(rules, cfg.build()?);
    engine.add_detector(Box::new(decode::SourceAlerts));
    if let Some(st) = store {
        let now = chrono::Utc::now();
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
    Ok((engine, n_rules, rule_cache))
}

pub fn run(
    settings: &Settings,
    args: DetectArgs,
    limits: &crate::input::Limits,
) -> Result<ExitCode> {
    if super::stream::is_stream(&args.input) {
        return super::stream::run(settings, args);
    }
    if args.files.is_empty() {
        crate::cli::usage_error(
            "detect needs event files, - for stdin, or --input syslog://... | kafka://...",
        );
    }
    let db = settings.store.url.as_str();
    let format: Format = args
        .input
        .parse()
        .map_err(|e| anyhow::anyhow!("--input {}: {e}", args.input))?;
    let cfg = &settings.detect;
    let start = Instant::now();
    let loading = crate::output::progress::spinner("loading rules".into());
    // the intel store's active indicators are matched too, whenever there is a store
    let mut store = if args.store || Path::new(db.strip_prefix("sqlite://").unwrap_or(db)).exists()
    {
        Some(super::open_store(settings)?)
    } else {
        None
    };
    let now = chrono::Utc::now();
    let (engine, n_rules, rule_cache) = build_engine(&args, cfg, store.as_deref())?;
    let files = inputs(&args)?;

    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let mut writer = AlertWriter {
        store: if args.store { store.as_mut() } else { None },
        pending: Vec::new(),
        stored: 0,
        error: None,
    };
    let mut table = Table::new(&["TIME", "LEVEL", "RULE", "SOURCE", "HOST"]).paint(1);
    let mut alerts_seen = 0u64;
    let mut sink = |alert: ctem_detect::Alert| {
        alerts_seen += 1;
        // a closed stdout ends the run quietly (crate::output::stdout)
        if args.json
            && let Err(e) = serde_json::to_writer(&mut out, &alert)
                .map_err(std::io::Error::other)
                .and_then(|_| out.write_all(b"\n"))
                .and_then(|_| if args.follow { out.flush() } else { Ok(()) })
        {
            crate::output::stdout::fail(&e);
        }
        let m = alert.to_model(now);
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
        writer.push(m, args.follow);
    };
    loading.finish_and_clear();
    let load_secs = start.elapsed().as_secs_f64();
    let threads = args.threads.max(1);
    let mut stats = ctem_detect::RunStats::default();
    let mut failed = 0usize;
    if args.follow {
        // one record at a time, alerts (and their rows in the store) as soon as the line is
        // written
        let path = &files[0].0;
        eprintln!("following {} (Ctrl-C to stop)", path.display());
        for r in decode::follow(path, format, std::time::Duration::from_millis(250))? {
            match r {
                Ok(rec) => {
                    stats.events += 1;
                    for ls in engine.logsources_of(&rec) {
                        *stats.logsources.entry(ls).or_default() += 1;
                    }
                    for a in engine.process_record(&rec) {
                        stats.alerts += 1;
                        sink(a);
                    }
                }
                Err(e) => eprintln!("skipped: {}", crate::output::printable(&e.to_string(), 300)),
            }
        }
    }
    for (f, named) in &files {
        match run_one(&engine, f, format, threads, limits, &mut sink) {
            Ok(s) => {
                stats.events += s.events;
                stats.alerts += s.alerts;
                stats.unknown_source += s.unknown_source;
                ctem_detect::seen::merge(&mut stats.logsources, s.logsources);
            }
            // a file found in a folder that is not events at all is skipped
            Err(FileError::NotEvents(e)) if !named => {
                let e = crate::output::printable(&format!("{e:#}"), 300);
                eprintln!("skipped {}: {e}", f.display());
            }
            Err(FileError::NotEvents(e) | FileError::Failed(e)) => {
                failed += 1;
                let e = crate::output::printable(&format!("{e:#}"), 300);
                eprintln!("error: {}: {e}", f.display());
            }
        }
    }
    // alerts of a file that failed part-way count too (they were printed and stored)
    stats.alerts = alerts_seen;
    writer.flush();
    if let Some(e) = writer.error.take() {
        return Err(e);
    }
    let stored = writer.stored;
    if args.store
        && let Some(store) = store.as_mut()
    {
        record_seen(store.as_mut(), &engine, &stats, now)?;
        // incidents follow the stored alerts; the day's KPI snapshot is taken once
        super::measure::after_change(store.as_mut(), &settings.measure, true);
    }
    if !args.json && !args.follow {
        let text = if table.is_empty() {
            "no alerts\n".to_string()
        } else {
            table.render()
        };
        if let Err(e) = out.write_all(text.as_bytes()) {
            crate::output::stdout::fail(&e);
        }
    }
    let secs = start.elapsed().as_secs_f64();
    let matching = secs - load_secs;
    let summary = Summary {
        events: stats.events,
        alerts: stats.alerts,
        rules: n_rules,
        seconds: (secs * 1000.0).round() / 1000.0,
        load_seconds: (load_secs * 1000.0).round() / 1000.0,
        rule_cache,
        events_per_second: if matching > 0.0 {
            (stats.events as f64 / matching).round()
        } else {
            0.0
        },
        unknown_source: stats.unknown_source,
        failed_inputs: failed,
        stored: args.store.then_some(stored),
    };
    if args.summary
        && let Err(e) = writeln!(out, "{}", serde_json::to_string(&summary)?)
    {
        crate::output::stdout::fail(&e);
    }
    if let Err(e) = out.flush() {
        crate::output::stdout::fail(&e);
    }
    print_summary(&summary, secs);
    Ok(if failed > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// Keeps what this run saw for the coverage KPI and the gap analysis: the events per
/// logsource (added to earlier runs'), and the loaded rules as the enabled ones (a run
/// without rules keeps the earlier set).
fn record_seen(
    store: &mut dyn Store,
    engine: &Engine,
    stats: &ctem_detect::RunStats,
    started: chrono::DateTime<chrono::Utc>,
) -> Result<()> {
    use ctem_store::measure::{DetectionRule, LogsourceSighting};
    let end = chrono::Utc::now();
    let seen: Vec<LogsourceSighting> = stats
        .logsources
        .iter()
        .map(|(ls, n)| LogsourceSighting {
            product: ls.product.clone(),
            service: ls.service.clone(),
            category: ls.category.clone(),
            events: *n,
            first_seen: started,
            last_seen: end,
        })
        .collect();
    store
        .record_logsources(&seen)
        .context("storing the logsources seen")?;
    if !engine.rules().is_empty() {
        let rules: Vec<DetectionRule> = engine
            .rules()
            .iter()
            .map(|r| DetectionRule {
                rule_id: r.meta.id.clone(),
                title: r.meta.title.clone(),
                product: r.logsource.product.clone(),
                service: r.logsource.service.clone(),
                category: r.logsource.category.clone(),
                tags: r.meta.tags.clone(),
            })
            .collect();
        store
            .record_rules(&rules, started)
            .context("storing the enabled rules")?;
    }
    Ok(())
}

fn print_summary(summary: &Summary, secs: f64) {
    eprintln!(
        "{} events, {} alerts, {} rules, {:.2} s: rules loaded in {:.2} s, then {} events/s \
         (rule loading not included){}",
        summary.events,
        summary.alerts,
        summary.rules,
        secs,
        summary.load_seconds,
        summary.events_per_second,
        match summary.stored {
            Some(n) => format!("; {n} new alerts stored"),
            None => String::new(),
        }
    );
    if summary.unknown_source > 0 {
        eprintln!(
            "{} events came from sources of unknown logsource: only rules that name no product \
             and no service ran on them (see docs/logsources.md)",
            summary.unknown_source
        );
    }
    if summary.failed_inputs > 0 {
        eprintln!(
            "{} inputs could not be read (see above); the others were",
            summary.failed_inputs
        );
    }
}

/// Why one input gave no (or not all its) events.
enum FileError {
    /// It could not be opened or decoded at all.
    NotEvents(anyhow::Error),
    /// It could not be opened, or failed part-way (truncated gzip, read error); its alerts
    /// so far were kept.
    Failed(anyhow::Error),
}

/// Runs one input: JSON lines (named, or found by sniffing) take the lazy path, where only
/// the fields rules name are decoded; other formats are decoded record by record.
fn run_one<F: FnMut(ctem_detect::Alert)>(
    engine: &Engine,
    f: &Path,
    format: Format,
    threads: usize,
    limits: &crate::input::Limits,
    sink: &mut F,
) -> Result<ctem_detect::RunStats, FileError> {
    let name = if f.as_os_str() == "-" {
        "stdin".to_string()
    } else {
        f.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| f.display().to_string())
    };
    // gzip inflated and capped, lines capped (crate::input), progress on a terminal
    let lines = crate::input::open_events(f, format, limits, &name)
        .context("cannot open")
        .map_err(FileError::Failed)?;
    let mut lines = crate::output::progress::Reading::new(lines, &name);
    let head = std::io::BufRead::fill_buf(&mut lines)
        .map(<[u8]>::to_vec)
        .context("cannot read")
        .map_err(FileError::NotEvents)?;
    if format == Format::Jsonl || (format == Format::Auto && decode::is_json_lines(&head, format)) {
        let s = engine
            .run_lines(lines, Some(&name), threads, &mut *sink)
            .map_err(|e| FileError::Failed(e.into()))?;
        if s.bad_lines > 0 {
            eprintln!("{name}: {} lines were not JSON (skipped)", s.bad_lines);
        }
        return Ok(s.run);
    }
    if format == Format::Evtx || (format == Format::Auto && decode::sniff(&head) == Format::Evtx) {
        // the fast EVTX path: chunks parsed, rendered and matched on the worker threads
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(&mut lines, &mut bytes)
            .context("cannot read")
            .map_err(FileError::Failed)?;
        let s = engine
            .run_evtx(bytes, Some(&name), threads, &mut *sink, |e| {
                let e = crate::output::printable(&e.to_string(), 300);
                eprintln!("{name}: skipped: {e}");
            })
            .map_err(|e| FileError::NotEvents(e.into()))?;
        return Ok(s.run);
    }
    let records = decode::stream(lines, format, Some(name.clone()))
        .map_err(|e| FileError::NotEvents(e.into()))?;
    let mut read_error: Option<ctem_detect::Error> = None;
    let stats = engine.run(
        records
            .map_while(|r| match r {
                Ok(r) => Some(Some(r)),
                Err(e @ ctem_detect::Error::Io { .. }) => {
                    read_error = Some(e);
                    None
                }
                Err(e) => {
                    let e = crate::output::printable(&e.to_string(), 300);
                    eprintln!("{name}: skipped: {e}");
                    Some(None)
                }
            })
            .flatten(),
        threads,
        &mut *sink,
    );
    match read_error {
        Some(e) => Err(FileError::Failed(e.into())),
        None => Ok(stats),
    }
}
