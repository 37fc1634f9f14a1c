//! One module per command.

mod attack;
mod context;
mod demo;
mod demo_measure;
pub mod detect;
mod export;
mod feeds;
pub mod gate;
pub mod import;
mod integrations;
mod intel;
mod list;
pub mod measure;
pub mod outbound;
pub mod paths;
pub mod risk;
mod scenario;
pub mod serve;
mod share;
pub mod teams;
pub mod tickets;

use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};

use crate::cli::{Cli, Command};

pub(crate) use feeds::parse_duration;

/// The store of a command that writes: created when it does not exist yet.
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

/// The file of a SQLite store URL (`PATH` or `sqlite://PATH`); `None` for other schemes.
pub fn sqlite_path(url: &str) -> Option<&Path> {
    match url.strip_prefix("sqlite://") {
        Some(p) => Some(Path::new(p)),
        None if url.contains("://") => None,
        None => Some(Path::new(url)),
    }
}

/// The store of a command that reads: refused when it does not exist, so a typo in `--db`
/// is an error instead of an empty store left behind.
pub fn open_existing(url: &str) -> Result<Box<dyn ctem_store::Store>> {
    if let Some(path) = sqlite_path(url)
        && !path.exists()
    {
        bail!(
            "store {url} does not exist: create one with `ctem import FILE...` (or try \
             `ctem demo`), or point --db or $CTEM_DB at an existing store"
        );
    }
    open_store(url)
}

pub fn run(cli: Cli) -> Result<ExitCode> {
    crate::output::color::init(cli.color);
    match cli.command {
        // commands that need neither settings nor a store
        Command::Completions { shell } => return completions(shell),
        Command::Man { command } => return man(command.as_deref()),
        Command::Formats { json } => return list::formats(json),
        _ => {}
    }
    // read (and so validated) before any command runs; stages take their sections from it
    let config = crate::config::Config::load(cli.config.as_deref())?;
    let limits = crate::input::Limits::from_config(&config)?;
    risk::set_config(&config);
    crate::store_config::set(&config)?;
    // the URLs of outbound calls are checked when the settings are loaded, not when sent
    feeds::load(&config)?;
    risk::Settings::from_config(&config)?;
    measure::set_config(&config)?;
    let db = cli.db.as_str();
    match cli.command {
        Command::Completions { .. } | Command::Man { .. } | Command::Formats { .. } => {
            unreachable!("handled above")
        }
        Command::Demo { dir, serve, listen } => {
            let dir = dir.unwrap_or_else(demo::default_dir);
            let code = demo::run(Some(dir.clone()))?;
            if serve {
                return serve::demo(&dir, &listen, &config);
            }
            Ok(code)
        }
        Command::Serve(a) => serve::run(db, &config, a),
        Command::Users(c) => serve::users(db, c),
        Command::Tokens(c) => serve::tokens(db, c),
        Command::Audit { json, limit } => serve::audit(db, json, limit),
        Command::Import {
            files,
            format,
            scope,
            strict,
            vantage,
            json,
        } => {
            if vantage.is_some() && !import::vantage_applies(&format) {
                anyhow::bail!(
                    "--vantage applies to port scans ({}), not --format {format}",
                    crate::config::VANTAGE_FORMATS.join(", ")
                );
            }
            let opts = import::Options {
                format,
                scope,
                strict,
                progress: true,
                limits,
                vantage: vantage.unwrap_or(config.context()?.vantage),
            };
            import::run(db, &files, &opts, json)
        }
        Command::Assets {
            kind,
            search,
            tag,
            limit,
            json,
        } => {
            let store = open_existing(db)?;
            let rules = context::rules(store.as_ref(), &config.context()?.rules)?;
            list::assets(store.as_ref(), &rules, kind, search, tag, limit, json)
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
            let q = list::ExposureQuery {
                severity,
                status,
                asset,
                cve,
                tool,
                kev,
                limit,
            };
            gate::exposures(open_existing(db)?.as_ref(), q, json, &output)
        }
        Command::Gate(args) => gate::run(open_existing(db)?.as_ref(), args),
        Command::Exposure {
            id,
            set,
            reason,
            json,
        } => {
            let mut store = open_existing(db)?;
            if let Some(status) = set {
                list::set_status(store.as_mut(), id, &status, reason.as_deref())?;
            }
            list::exposure(store.as_ref(), id, json)
        }
        Command::Cvss { vector, json } => risk::cvss(&vector, json),
        Command::Top { limit, json } => risk::top(db, limit, json),
        Command::Explain { id, json } => risk::explain(db, &config, id, json),
        Command::Prioritize { json } => risk::prioritize(db, &config, json),
        Command::Tickets(a) => tickets::run(db, &config, a),
        Command::Teams(c) => teams::run(db, c),
        Command::Detect(args) => detect::run(db, args, &config, &limits),
        Command::Rules(crate::cli::RulesCommand::Check { dirs, json }) => {
            detect::rules_check(&dirs, json, &config)
        }
        Command::Alerts {
            level,
            rule,
            host,
            limit,
            json,
        } => list::alerts(open_existing(db)?.as_ref(), level, rule, host, limit, json),
        Command::Intel(c) => intel::run(db, &config, &limits, c),
        Command::Share(c) => share::run(db, c),
        Command::Packages { asset, json } => {
            list::packages(open_existing(db)?.as_ref(), asset, json)
        }
        Command::Scans { json } => list::scans(open_existing(db)?.as_ref(), json),
        // --- validation (crates/ctem-paths) ---
        Command::Attack(crate::cli::AttackCommand::Techniques {
            tactic,
            rules,
            json,
        }) => attack::list(&cli.db, tactic, &rules, json),
        Command::Attack(crate::cli::AttackCommand::Show { id, rules, json }) => {
            attack::show(&cli.db, &config, &id, &rules, json)
        }
        Command::Paths {
            to,
            from,
            top,
            json,
        } => paths::paths(
            &cli.db,
            &config,
            paths::PathsArgs {
                to,
                from,
                top,
                json,
            },
        ),
        Command::Chokepoints { top, paths, json } => {
            paths::chokepoints(&cli.db, &config, top, paths, json)
        }
        Command::Scenario(crate::cli::ScenarioCommand::Run {
            file,
            rules,
            replay,
            exercise,
            json,
        }) => {
            let opts = scenario::RunOptions {
                rules: &rules,
                replay: replay.as_deref(),
                exercise,
                json,
            };
            scenario::run(&cli.db, &config, &file, &opts)
        }
        Command::Exercise(c) => scenario::exercise(&cli.db, c),
        Command::Coverage {
            rules,
            replay,
            scenario,
            navigator,
            json,
        } => scenario::coverage(
            &cli.db,
            &rules,
            &replay,
            &scenario,
            navigator.as_deref(),
            json,
        ),
        // --- end of validation ---
        Command::Incidents { json } => measure::incidents(db, json),
        Command::Incident { id, set, json } => measure::incident(db, id, set, json),
        Command::Kpi {
            json,
            since,
            snapshot,
        } => measure::kpi(db, json, since, snapshot),
        Command::Goals { json } => measure::goals(db, json),
        Command::Assess { format, out } => measure::assess_cmd(db, &format, out.as_ref()),
        Command::Review { since, format, out } => {
            measure::review_cmd(db, since, &format, out.as_ref())
        }
    }
}

/// `ctem completions SHELL`: the script on stdout.
fn completions(shell: clap_complete::Shell) -> Result<ExitCode> {
    use clap::CommandFactory;
    let mut cmd = Cli::command();
    let mut buf = Vec::new();
    clap_complete::generate(shell, &mut cmd, "ctem", &mut buf);
    let mut out = crate::output::Stdout::new();
    out.bytes(&buf);
    out.finish();
    Ok(ExitCode::SUCCESS)
}

/// `ctem man [COMMAND]`: the manual page (roff) of ctem, or of one of its commands, on
/// stdout.
fn man(command: Option<&str>) -> Result<ExitCode> {
    use clap::CommandFactory;
    let cmd = Cli::command();
    let page = match command {
        None => cmd,
        Some(name) => {
            let Some(sub) = cmd.find_subcommand(name) else {
                bail!("no command {name:?}: see `ctem --help`");
            };
            // the page of `ctem import` is ctem-import(1), as git and cargo name theirs
            sub.clone()
                .name(format!("ctem-{name}"))
                .version(env!("CARGO_PKG_VERSION"))
        }
    };
    let mut buf = Vec::new();
    clap_mangen::Man::new(page)
        .render(&mut buf)
        .context("rendering the manual page")?;
    let mut out = crate::output::Stdout::new();
    out.bytes(&buf);
    out.finish();
    Ok(ExitCode::SUCCESS)
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
