//! `ctem run`: the scheduler without the HTTP server (`ctem serve` runs the same loop on a
//! thread of its own), and `ctem sources`.
//!
//! Each turn of the loop runs the jobs that are due:
//! - every `[[sources]]` entry of kind folder, url, file and feeds, polled every `interval`
//!   (syslog and kafka are the stream receivers' and only their health is shown here);
//! - `[schedule]`: intel refresh (then re-prioritisation when KEV, EPSS or CVE records
//!   changed), the daily KPI snapshot, the review report, each `[[schedule.exports]]`
//!   blocklist, and notifications to `[[notify]]`;
//! - source health: a silent source opens a finding (tool `ctem`, scope `ctem:sources`)
//!   for its owner, closed again when it delivers.
//!
//! Every run is recorded in the store (`ctem sources --runs`). A poll that found nothing is
//! recorded only after a failure (to clear it) and once an hour as a heartbeat, so a folder
//! polled every second does not write a row a second. The periodic jobs are due by their
//! last recorded run, so a restart does not repeat a daily job.

mod health;
mod jobs;
mod notify;
mod smtp;
mod tail;
mod watch;

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use chrono::{DateTime, Utc};
use clap::Args;
use ctem_core::Settings;
use ctem_core::settings::{Source, SourceKind};
use ctem_store::Store;
use ctem_store::runs::JobRun;

use crate::input::Limits;

pub use health::{assess_lines, sources_cmd};

#[derive(Args, Debug)]
pub struct RunArgs {
    /// Run every job that is due once, then exit (what tests and cron use)
    #[arg(long)]
    pub once: bool,
    /// With --once: print the runs as one JSON array on stdout
    #[arg(long)]
    pub json: bool,
}

/// What one job run did.
#[derive(Debug, Default)]
pub struct Outcome {
    pub records: u64,
    pub errors: Vec<String>,
    /// Nothing to do (no new file, 304, not due inside the job).
    pub idle: bool,
}

impl Outcome {
    fn idle() -> Self {
        Outcome {
            idle: true,
            ..Outcome::default()
        }
    }
}

/// How long the loop sleeps between turns.
const TURN: Duration = Duration::from_millis(200);
/// An idle source poll is recorded at most this often (a heartbeat).
const HEARTBEAT: Duration = Duration::from_secs(3600);

/// The scheduler's state between turns.
pub struct Scheduler {
    settings: Settings,
    limits: Limits,
    store: Box<dyn Store>,
    once: bool,
    /// When each source is next polled.
    next: HashMap<String, Instant>,
    /// When each job last recorded an idle run, and whether its last recorded run failed.
    recorded: HashMap<String, (Instant, bool)>,
    tails: HashMap<String, tail::Tail>,
    /// Runs recorded by this process (printed by `--once --json`).
    pub runs: Vec<JobRun>,
    last_health: Option<Instant>,
}

impl Scheduler {
    pub fn new(settings: &Settings, once: bool) -> Result<Self> {
        let store = super::open_store(settings)?;
        Ok(Scheduler {
            limits: Limits::from_settings(&settings.input),
            settings: settings.clone(),
            store,
            once,
            next: HashMap::new(),
            recorded: HashMap::new(),
            tails: HashMap::new(),
            runs: Vec::new(),
            last_health: None,
        })
    }

    /// Runs `f` as job `job` and records it (an idle run only when due a record).
    fn record(&mut self, job: &str, f: impl FnOnce(&mut Self) -> Result<Outcome>) {
        let started = Utc::now();
        let out = f(self).unwrap_or_else(|e| Outcome {
            errors: vec![crate::output::chain(&e)],
            ..Outcome::default()
        });
        let failed = !out.errors.is_empty() && out.records == 0;
        let prev = self.recorded.get(job).copied();
        let keep = self.once
            || !out.idle
            || failed
            || prev.is_none_or(|(at, was_failed)| was_failed || at.elapsed() >= HEARTBEAT);
        if !keep {
            return;
        }
        let run = JobRun {
            id: 0,
            job: job.to_string(),
            started_at: started,
            ended_at: Utc::now(),
            outcome: if failed {
                "failed"
            } else if out.idle {
                "idle"
            } else {
                "ok"
            }
            .into(),
            records: out.records,
            errors: out.errors,
        };
        for e in &run.errors {
            eprintln!("{job}: {}", crate::output::printable(e, 300));
        }
        match self.store.add_run(&run) {
            Ok(id) => {
                self.recorded
                    .insert(job.to_string(), (Instant::now(), failed));
                self.runs.push(JobRun { id, ..run });
            }
            Err(e) => eprintln!("warning: recording the run of {job}: {e}"),
        }
    }

    /// Whether a periodic job last ran `every` ago or more (by its recorded runs).
    fn due(&self, job: &str, every: Option<Duration>) -> bool {
        let Some(every) = every else { return false };
        match self.store.runs(Some(job), 1) {
            Ok(r) => r.first().is_none_or(|r| since(r.ended_at) >= every),
            Err(_) => true,
        }
    }

    /// One turn: every source and job that is due.
    pub fn turn(&mut self) {
        let sources = self.settings.sources.clone();
        for src in &sources {
            let due = self
                .next
                .get(&src.name)
                .is_none_or(|t| *t <= Instant::now());
            if !due || matches!(src.kind, SourceKind::Syslog(_) | SourceKind::Kafka(_)) {
                continue;
            }
            let job = ctem_core::sources::job_name(&src.name);
            self.record(&job, |s| s.poll(src));
            self.next
                .insert(src.name.clone(), Instant::now() + src.interval);
        }
        self.periodic();
        let health_due = self
            .last_health
            .is_none_or(|t| t.elapsed() >= Duration::from_secs(5));
        if self.once || health_due {
            self.last_health = Some(Instant::now());
            if let Err(e) = health::silence(self) {
                eprintln!("warning: source health: {}", crate::output::chain(&e));
            }
        }
        let notify = self.settings.schedule.notify;
        if !self.settings.notify.is_empty() && self.due("notify", notify) {
            self.record("notify", notify::run);
        }
    }

    fn periodic(&mut self) {
        let sched = self.settings.schedule.clone();
        if !self.settings.feeds.is_empty() && self.due("intel", sched.intel) {
            self.record("intel", |s| jobs::intel(s, None));
        }
        if self.due("kpi_snapshot", sched.kpi_snapshot) {
            self.record("kpi_snapshot", jobs::kpi_snapshot);
        }
        if self.due("review", sched.review) {
            self.record("review", jobs::review);
        }
        for e in &sched.exports {
            let job = format!("export:{}", e.name);
            if self.due(&job, Some(e.every)) {
                self.record(&job, |s| jobs::export(s, e));
            }
        }
    }

    fn poll(&mut self, src: &Source) -> Result<Outcome> {
        match &src.kind {
            SourceKind::Folder { path, done } => watch::folder(self, src, path, done.as_deref()),
            SourceKind::Url {
                url,
                timeout,
                max_size,
                allow_addresses,
            } => watch::url(self, src, url, *timeout, *max_size, allow_addresses),
            SourceKind::File { path, rules } => tail::poll(self, src, path, rules),
            SourceKind::Feeds { feeds } => jobs::intel(self, Some(feeds)),
            SourceKind::Syslog(_) | SourceKind::Kafka(_) => Ok(Outcome::idle()),
        }
    }
}

fn since(t: DateTime<Utc>) -> Duration {
    Utc::now()
        .signed_duration_since(t)
        .to_std()
        .unwrap_or_default()
}

/// Runs the scheduler until `stop` is set (`ctem serve` runs it on a thread).
pub fn run_until(settings: &Settings, stop: &AtomicBool) -> Result<()> {
    let mut s = Scheduler::new(settings, false)?;
    while !stop.load(Ordering::Relaxed) {
        s.turn();
        std::thread::sleep(TURN);
    }
    Ok(())
}

/// `ctem serve`: the scheduler on a thread of its own; set the flag to stop it.
pub fn spawn(settings: &Settings) -> (Arc<AtomicBool>, std::thread::JoinHandle<()>) {
    let stop = Arc::new(AtomicBool::new(false));
    let (flag, settings) = (stop.clone(), settings.clone());
    let handle = std::thread::spawn(move || {
        if let Err(e) = run_until(&settings, &flag) {
            eprintln!("error: scheduler: {}", crate::output::chain(&e));
        }
    });
    (stop, handle)
}

/// Checks the URLs of the sources and channels when the settings are loaded (ctem-core
/// checked the rest).
pub fn check(settings: &Settings) -> Result<()> {
    for src in &settings.sources {
        if let SourceKind::Url {
            url,
            allow_addresses,
            ..
        } = &src.kind
        {
            let what = format!("[[sources]] {}", src.name);
            super::outbound::check_scheme(url, &format!("{what}: url")).context("settings")?;
            watch::policy(allow_addresses, &what).context("settings")?;
        }
    }
    for ch in &settings.notify {
        if let Some(url) = &ch.url {
            let what = format!("[[notify]] {}", ch.name);
            super::outbound::check_scheme(url, &format!("{what}: url")).context("settings")?;
            watch::policy(&ch.allow_addresses, &what).context("settings")?;
        }
    }
    Ok(())
}

/// `ctem run [--once]`.
pub fn run(settings: &Settings, args: RunArgs) -> Result<ExitCode> {
    check(settings)?;
    if args.once {
        let mut s = Scheduler::new(settings, true)?;
        s.turn();
        let failed = s.runs.iter().any(|r| r.outcome == "failed");
        if args.json {
            crate::output::json_array(&s.runs);
        } else {
            for r in &s.runs {
                outln!("{}: {} ({} records)", r.job, r.outcome, r.records);
            }
        }
        return Ok(if failed {
            ExitCode::from(1)
        } else {
            ExitCode::SUCCESS
        });
    }
    let stop = Arc::new(AtomicBool::new(false));
    on_signal(stop.clone())?;
    eprintln!(
        "running {} source(s) and the scheduled jobs (Ctrl-C or SIGTERM to stop)",
        settings.sources.len()
    );
    run_until(settings, &stop)?;
    eprintln!("stopped");
    Ok(ExitCode::SUCCESS)
}

/// Sets `stop` on SIGINT or SIGTERM (a tokio runtime on a thread of its own waits for them).
fn on_signal(stop: Arc<AtomicBool>) -> Result<()> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()?;
    std::thread::spawn(move || {
        rt.block_on(async {
            use tokio::signal::unix::{SignalKind, signal};
            let (Ok(mut int), Ok(mut term)) = (
                signal(SignalKind::interrupt()),
                signal(SignalKind::terminate()),
            ) else {
                return;
            };
            tokio::select! {
                _ = int.recv() => {}
                _ = term.recv() => {}
            }
            stop.store(true, Ordering::Relaxed);
        });
    });
    Ok(())
}

/// The rule folders of a tailed file: its own, else `[detect] rules`.
fn rule_dirs(s: &Scheduler, rules: &[PathBuf]) -> Vec<PathBuf> {
    if rules.is_empty() {
        s.settings.detect.rules.clone()
    } else {
        rules.to_vec()
    }
}
