//! `ctem pilot FILE`: a sample of a new event source judged before anyone relies on it
//! (ctem_detect::pilot), its alerts written to a scratch store in a temporary folder that
//! is deleted afterwards; the real store is never opened.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use ctem_core::Settings;
use ctem_detect::decode::{self, Format};
use ctem_detect::pilot::{Pilot, PilotReport, Verdict};
use ctem_detect::{Engine, RuleSet};

use crate::output::Table;

#[derive(clap::Args, Debug)]
pub struct PilotArgs {
    /// Sample of the source: an event file (gzip recognised by its content) or - for stdin
    pub file: PathBuf,
    /// Event format, or auto to detect it
    #[arg(long, default_value = "auto")]
    pub format: String,
    /// Sigma rule folders (repeatable; default: [detect] rules of ctem.toml)
    #[arg(long = "rules")]
    pub rules: Vec<PathBuf>,
    /// Records read at most
    #[arg(long, default_value_t = 100_000)]
    pub limit: u64,
    /// The report as one JSON object
    #[arg(long)]
    pub json: bool,
}

#[derive(serde::Serialize)]
struct Output<'a> {
    file: String,
    format: String,
    rules: usize,
    /// Alerts the sample raised (written to the scratch store, then discarded).
    alerts: usize,
    #[serde(flatten)]
    report: &'a PilotReport,
}

pub fn run(
    settings: &Settings,
    args: PilotArgs,
    limits: &crate::input::Limits,
) -> Result<ExitCode> {
    let format: Format = args
        .format
        .parse()
        .map_err(|e| anyhow::anyhow!("--format {}: {e}", args.format))?;
    let dirs = if args.rules.is_empty() {
        &settings.detect.rules
    } else {
        &args.rules
    };
    if dirs.is_empty() {
        bail!("no rules to judge the source against: give --rules DIR or [detect] rules");
    }
    for d in dirs {
        if !d.exists() {
            bail!("{}: no such rules folder", d.display());
        }
    }
    let rules = RuleSet::load_dirs(dirs)?;
    let n_rules = rules.report.compiled;
    let engine = Engine::new(rules, settings.detect.build()?);
    let name = args
        .file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "stdin".into());
    let reader = crate::input::open_events(&args.file, format, limits, &name)
        .with_context(|| format!("{}: cannot open", args.file.display()))?;
    let records = decode::stream(reader, format, Some(name.clone()))
        .with_context(|| format!("{}: cannot decode", args.file.display()))?;

    // the scratch store: a temporary folder, removed when this returns
    let scratch = tempfile::tempdir().context("scratch store")?;
    let mut store = ctem_store::open(&scratch.path().join("pilot.db").display().to_string())
        .context("scratch store")?;
    let mut pilot = Pilot::new(&engine, chrono::Utc::now().timestamp());
    let mut alerts = Vec::new();
    let mut n = 0u64;
    for r in records {
        n += 1;
        if n > args.limit {
            break;
        }
        match r {
            Ok(rec) => {
                pilot.add(&rec);
                alerts.extend(engine.process_record(&rec));
            }
            Err(ctem_detect::Error::Decode {
                record, message, ..
            }) => pilot.reject(&message, record),
            Err(e) => return Err(e).with_context(|| args.file.display().to_string()),
        }
    }
    let now = chrono::Utc::now();
    let models: Vec<ctem_model::Alert> = alerts.iter().map(|a| a.to_model(now)).collect();
    store.store_alerts(&models).context("scratch store")?;
    let report = pilot.finish();
    let out = Output {
        file: args.file.display().to_string(),
        format: args.format.clone(),
        rules: n_rules,
        alerts: alerts.len(),
        report: &report,
    };
    if args.json {
        crate::output::json_doc(&out);
    } else {
        print_human(&out);
    }
    Ok(match report.verdict {
        Verdict::NotUsable => ExitCode::FAILURE,
        _ => ExitCode::SUCCESS,
    })
}

fn print_human(o: &Output<'_>) {
    let r = o.report;
    outln!(
        "{}: {} records, {} parsed, {} rejected; {} rules, {} target this source, {} alerts",
        o.file,
        r.records,
        r.parsed,
        r.rejected,
        o.rules,
        r.rules_targeting,
        o.alerts
    );
    for j in &r.rejections {
        outln!(
            "  rejected x{} (first at record {}): {}",
            j.count,
            j.first_record,
            crate::output::cut(&j.reason, 100)
        );
    }
    outln!("\nlogsource");
    for l in &r.logsources {
        outln!(
            "  {} events: {} (product {}, services {}, categories {})",
            l.events,
            l.entry.as_deref().unwrap_or("unknown source"),
            l.product.as_deref().unwrap_or("-"),
            l.services.as_ref().map_or("any".into(), |s| s.join(",")),
            l.categories.as_ref().map_or("any".into(), |s| s.join(","))
        );
    }
    outln!("\nfields (fill rate)");
    let mut t = Table::new(&["FIELD", "EVENTS", "FILL"]);
    for f in r.fields.iter().take(40) {
        t.row(vec![
            f.field.clone(),
            f.events.to_string(),
            format!("{:.0}%", f.fill_rate * 100.0),
        ]);
    }
    t.print("no fields");
    if r.fields.len() > 40 {
        outln!("  ... {} more (--json lists all)", r.fields.len() - 40);
    }
    outln!("\nblind rules (target this source, read fields it never fills)");
    let mut t = Table::new(&["RULE", "LEVEL", "CAN FIRE", "MISSING FIELDS"]);
    for b in &r.blind_rules {
        t.row(vec![
            crate::output::cut(&b.title, 60),
            b.level.clone(),
            if b.can_fire { "partly" } else { "never" }.into(),
            crate::output::cut(&b.missing_fields.join(", "), 60),
        ]);
    }
    t.print("none");
    let tm = &r.time;
    outln!(
        "\ntime: {} .. {} (span {} s, {} events/h); {} without time, {} in the future (max {} s \
         ahead), {} out of order",
        tm.first.as_deref().unwrap_or("-"),
        tm.last.as_deref().unwrap_or("-"),
        tm.span_seconds.map_or("-".into(), |s| s.to_string()),
        tm.events_per_hour.map_or("-".into(), |s| s.to_string()),
        tm.without_time,
        tm.in_future,
        tm.max_ahead_seconds.unwrap_or(0),
        tm.out_of_order
    );
    let v = match r.verdict {
        Verdict::Ready => "ready",
        Verdict::UsableWithGaps => "usable with gaps",
        Verdict::NotUsable => "not usable",
    };
    outln!("\nverdict: {v}");
    for reason in &r.verdict_reasons {
        outln!("  - {reason}");
    }
}
