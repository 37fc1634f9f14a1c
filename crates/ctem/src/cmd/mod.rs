//! One module per command.

mod demo;
pub mod detect;
mod export;
mod feeds;
pub mod gate;
pub mod import;
mod integrations;
mod intel;
mod list;
pub mod outbound;
pub mod risk;
pub mod serve;
mod share;
pub mod teams;
pub mod tickets;

use std::process::ExitCode;

use anyhow::{Context, Result};

use crate::cli::{Cli, Command};

pub(crate) use feeds::parse_duration;

pub fn open_store(url: &str) -> Result<Box<dyn ctem_store::Store>> {
    let mut store = ctem_store::open_with(url, &crate::store_config::options())
        .with_context(|| format!("store {}", ctem_model::redact::url(url)))?;
    // a store whose scores a migration reset is re-prioritised once, before any command
    // reads priorities; a failure leaves the command to run on what is stored
    if store.scores_missing().unwrap_or(false)
        && let Err(e) = risk::after_import(store.as_mut())
    {
        eprintln!(
            "warning: re-prioritising the store: {}",
            crate::output::chain(&e)
        );
    }
    Ok(store)
}

pub fn run(cli: Cli) -> Result<ExitCode> {
    // read (and so validated) before any command runs; stages take their sections from it
    let config = crate::config::Config::load(cli.config.as_deref())?;
    risk::set_config(&config);
    crate::store_config::set(&config)?;
    // the URLs of outbound calls are checked when the settings are loaded, not when sent
    feeds::load(&config)?;
    risk::Settings::from_config(&config)?;
    match cli.command {
        Command::Demo { dir, serve, listen } => {
            let dir = dir.unwrap_or_else(demo::default_dir);
            let code = demo::run(Some(dir.clone()))?;
            if serve {
                return serve::demo(&dir, &listen, &config);
            }
            Ok(code)
        }
        Command::Serve(a) => serve::run(&cli.db, &config, a),
        Command::Users(c) => serve::users(&cli.db, c),
        Command::Tokens(c) => serve::tokens(&cli.db, c),
        Command::Audit { json, limit } => serve::audit(&cli.db, json, limit),
        Command::Formats { json } => list::formats(json),
        Command::Import {
            files,
            format,
            scope,
            strict,
            json,
        } => {
            let mut store = open_store(&cli.db)?;
            let opts = import::Options {
                format,
                scope,
                strict,
                progress: true,
            };
            let results = import::import_files(store.as_mut(), &files, &opts);
            import::print(&results, json)?;
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
            let store = open_store(&cli.db)?;
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
            let store = open_store(&cli.db)?;
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
            let store = open_store(&cli.db)?;
            gate::run(store.as_ref(), args)
        }
        Command::Exposure {
            id,
            set,
            reason,
            json,
        } => {
            let mut store = open_store(&cli.db)?;
            if let Some(status) = set {
                let Some(st) = ctem_model::ExposureStatus::parse(&status) else {
                    anyhow::bail!(
                        "unknown status {status:?}: use open, accepted, false_positive or fixed"
                    );
                };
                store.set_status(id, st, reason.as_deref().unwrap_or(""))?;
                risk::after_import(store.as_mut())?;
            }
            list::exposure(store.as_ref(), id, json)
        }
        Command::Cvss { vector, json } => risk::cvss(&vector, json),
        Command::Top { limit, json } => risk::top(&cli.db, limit, json),
        Command::Explain { id, json } => risk::explain(&cli.db, &config, id, json),
        Command::Prioritize { json } => risk::prioritize(&cli.db, &config, json),
        Command::Tickets(a) => tickets::run(&cli.db, &config, a),
        Command::Teams(c) => teams::run(&cli.db, c),
        Command::Detect(args) => detect::run(&cli.db, args),
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
            let store = open_store(&cli.db)?;
            detect::alerts(store.as_ref(), level, rule, host, limit, json)
        }
        Command::Intel(c) => intel::run(&cli.db, &config, c),
        Command::Share(c) => share::run(&cli.db, c),
        Command::Packages { asset, json } => {
            let store = open_store(&cli.db)?;
            list::packages(store.as_ref(), asset, json)
        }
        Command::Scans { json } => {
            let store = open_store(&cli.db)?;
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
