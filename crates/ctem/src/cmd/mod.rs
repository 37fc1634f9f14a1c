//! One module per command.

mod demo;
mod detect;
mod export;
mod feeds;
pub mod gate;
pub mod import;
mod integrations;
mod intel;
mod list;
pub mod outbound;
pub mod risk;
mod share;
pub mod teams;
pub mod tickets;

use std::process::ExitCode;

use anyhow::{Context, Result};
use ctem_core::Settings;

use crate::cli::{Cli, Command};

/// Opens the store the settings name.
pub fn open_store(settings: &Settings) -> Result<Box<dyn ctem_store::Store>> {
    let url = &settings.store.url;
    let options = ctem_store::OpenOptions {
        busy_timeout: settings.store.busy_timeout,
        file_mode: settings.store.file_mode,
    };
    let mut store = ctem_store::open_with(url, &options)
        .with_context(|| format!("store {}", ctem_model::redact::url(url)))?;
    // a store whose scores a migration reset is re-prioritised once, and the follow-up of
    // an earlier change that failed or was cut short is retried, before any command reads
    // priorities; a failure leaves the command to run on what is stored
    if let Err(e) =
        ctem_core::prioritize::retry_pending(store.as_mut(), &settings.risk, &mut risk::report)
    {
        eprintln!(
            "warning: re-prioritising the store: {}",
            crate::output::chain(&anyhow::Error::new(e))
        );
    }
    Ok(store)
}

pub fn run(cli: Cli) -> Result<ExitCode> {
    // built (and so validated) before any command runs; commands take what they need from it
    let flags = ctem_core::settings::Flags {
        config: cli.config.clone(),
        db: cli.db.clone(),
    };
    let settings = Settings::load(&flags, |k| std::env::var(k).ok())?;
    // the URLs of outbound calls are checked when the settings are loaded, not when sent
    feeds::check_all(&settings.feeds)?;
    integrations::check_all(&settings.risk.integrations)?;
    let waited = settings.store.busy_timeout;
    // a locked store is reported with how long this command waited for it
    dispatch(cli, &settings)
        .map_err(|e| anyhow::anyhow!(crate::output::chain_waited(&e, Some(waited))))
}

fn dispatch(cli: Cli, settings: &Settings) -> Result<ExitCode> {
    match cli.command {
        Command::Demo { dir } => demo::run(dir, settings),
        Command::Formats { json } => list::formats(json),
        Command::Import {
            files,
            format,
            scope,
            strict,
            json,
        } => {
            let mut store = open_store(settings)?;
            let opts = import::Options {
                format,
                scope,
                strict,
                progress: true,
            };
            let results = import::import_files(store.as_mut(), &files, &opts, &settings.risk);
            import::print(&results, json, settings.store.busy_timeout)?;
            Ok(if results.iter().all(|r| r.outcome.is_ok()) {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
        Command::Assets {
            kind,
            search,
            tag,
            limit,
            json,
        } => {
            let store = open_store(settings)?;
            list::assets(store.as_ref(), kind, search, tag, limit, json)
        }
        Command::Exposures {
            severity,
            status,
            asset,
            cve,
            tool,
            kev,
            limit,
            json,
            output,
        } => {
            let store = open_store(settings)?;
            let q = list::ExposureQuery {
                severity,
                status,
                asset,
                cve,
                tool,
                kev,
                limit,
            };
            gate::exposures(store.as_ref(), q, json, &output)
        }
        Command::Gate(args) => {
            let store = open_store(settings)?;
            gate::run(store.as_ref(), args)
        }
        Command::Exposure {
            id,
            set,
            reason,
            json,
        } => {
            let mut store = open_store(settings)?;
            if let Some(status) = set {
                let Some(st) = ctem_model::ExposureStatus::parse(&status) else {
                    anyhow::bail!(
                        "unknown status {status:?}: use open, accepted, false_positive or fixed"
                    );
                };
                ctem_core::roles::authorize(
                    store.as_ref(),
                    tickets::actor().as_deref(),
                    ctem_model::work::Action::TriageExposures,
                )?;
                store.set_status(id, st, reason.as_deref().unwrap_or(""))?;
                risk::follow_up(store.as_mut(), &settings.risk);
            }
            list::exposure(store.as_ref(), id, json)
        }
        Command::Cvss { vector, json } => risk::cvss(&vector, json),
        Command::Top { limit, json } => risk::top(settings, limit, json),
        Command::Explain { id, json } => risk::explain(settings, id, json),
        Command::Prioritize { json } => risk::prioritize(settings, json),
        Command::Tickets(a) => tickets::run(settings, a),
        Command::Teams(c) => teams::run(settings, c),
        Command::Detect(args) => detect::run(settings, args),
        Command::Rules(crate::cli::RulesCommand::Check { dirs, json }) => {
            detect::rules_check(&dirs, json)
        }
        Command::Alerts {
            level,
            rule,
            host,
            limit,
            json,
        } => {
            let store = open_store(settings)?;
            detect::alerts(store.as_ref(), level, rule, host, limit, json)
        }
        Command::Intel(c) => intel::run(settings, c),
        Command::Share(c) => share::run(settings, c),
        Command::Packages { asset, json } => {
            let store = open_store(settings)?;
            list::packages(store.as_ref(), asset, json)
        }
        Command::Scans { json } => {
            let store = open_store(settings)?;
            list::scans(store.as_ref(), json)
        }
    }
}

/// Wall time of the phases of a long command, printed on stderr when `CTEM_TIMINGS` is set
/// (for benchmarks and for users asking where the time goes).
pub struct Timings {
    last: Option<std::time::Instant>,
}

impl Timings {
    pub fn from_env() -> Self {
        Self {
            last: std::env::var_os("CTEM_TIMINGS").map(|_| std::time::Instant::now()),
        }
    }

    pub fn note(&self, what: &str) {
        if self.last.is_some() {
            eprintln!("timing: {what}");
        }
    }

    pub fn lap(&mut self, phase: &str) {
        if let Some(last) = self.last.as_mut() {
            eprintln!("timing: {phase}: {:.3} s", last.elapsed().as_secs_f64());
            *last = std::time::Instant::now();
        }
    }
}
