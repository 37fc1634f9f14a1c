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
pub mod pilot;
pub mod risk;
pub mod run;
mod scenario;
pub mod serve;
mod share;
pub mod stream;
pub mod teams;
pub mod tickets;

use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use ctem_core::Settings;

use crate::cli::{Cli, Command};

/// The store of a command that writes: created when it does not exist yet.
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
pub fn open_existing(settings: &Settings) -> Result<Box<dyn ctem_store::Store>> {
    let url = &settings.store.url;
    if let Some(path) = sqlite_path(url)
        && !path.exists()
    {
        bail!(
            "store {url} does not exist: create one with `ctem import FILE...` (or try \
             `ctem demo`), or point --db or $CTEM_DB at an existing store"
        );
    }
    open_store(settings)
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
    // a locked store is reported with how long this command waited for it; a closed pipe
    // stays itself (main ends quietly on it)
    dispatch(cli, &settings).map_err(|e| {
        if crate::output::stdout::is_broken_pipe(&e) {
            e
        } else {
            anyhow::anyhow!(crate::output::chain_waited(&e, Some(waited)))
        }
    })
}

fn dispatch(cli: Cli, settings: &Settings) -> Result<ExitCode> {
    let limits = crate::input::Limits::from_settings(&settings.input);
    match cli.command {
        Command::Completions { .. } | Command::Man { .. } | Command::Formats { .. } => {
            unreachable!("handled above")
        }
        Command::Demo { dir, serve, listen } => {
            let dir = dir.unwrap_or_else(demo::default_dir);
            let code = demo::run(Some(dir.clone()), settings)?;
            if serve {
                return serve::demo(&dir, &listen, settings);
            }
            Ok(code)
        }
        Command::Serve(a) => serve::run(settings, a),
        Command::Run(a) => run::run(settings, a),
        Command::Sources { runs, limit, json } => run::sources_cmd(settings, json, runs, limit),
        Command::Users(c) => serve::users(settings, c),
        Command::Tokens(c) => serve::tokens(settings, c),
        Command::Audit { json, limit } => serve::audit(settings, json, limit),
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
                    ctem_core::settings::VANTAGE_FORMATS.join(", ")
                );
            }
            let opts = import::Options {
                format,
                scope,
                strict,
                progress: true,
                limits,
                vantage: vantage.unwrap_or(settings.vantage),
            };
            import::run(settings, &files, &opts, json)
        }
        Command::Assets {
            kind,
            search,
            tag,
            limit,
            json,
        } => {
            let store = open_existing(settings)?;
            let rules = context::rules(store.as_ref(), &settings.risk.context)?;
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
            gate::exposures(open_existing(settings)?.as_ref(), q, json, &output)
        }
        Command::Gate(args) => gate::run(open_existing(settings)?.as_ref(), args),
        Command::Exposure {
            id,
            set,
            reason,
            json,
        } => {
            let mut store = open_existing(settings)?;
            if let Some(status) = set {
                list::set_status(
                    store.as_mut(),
                    &settings.risk,
                    id,
                    &status,
                    reason.as_deref(),
                )?;
            }
            list::exposure(store.as_ref(), id, json)
        }
        Command::Cvss { vector, json } => risk::cvss(&vector, json),
        Command::Top { limit, json } => risk::top(settings, limit, json),
        Command::Explain { id, json } => risk::explain(settings, id, json),
        Command::Prioritize { json } => risk::prioritize(settings, json),
        Command::Tickets(a) => tickets::run(settings, a),
        Command::Teams(c) => teams::run(settings, c),
        Command::Detect(args) => detect::run(settings, args, &limits),
        Command::Pilot(args) => pilot::run(settings, args, &limits),
        Command::Rules(crate::cli::RulesCommand::Check { dirs, json }) => {
            detect::rules_check(&dirs, json, &settings.detect)
        }
        Command::Alerts {
            level,
            rule,
            host,
            limit,
            json,
        } => list::alerts(
            open_existing(settings)?.as_ref(),
            level,
            rule,
            host,
            limit,
            json,
        ),
        Command::Intel(c) => intel::run(settings, &limits, c),
        Command::Share(c) => share::run(settings, c),
        Command::Packages { asset, json } => {
            list::packages(open_existing(settings)?.as_ref(), asset, json)
        }
        Command::Scans { json } => list::scans(open_existing(settings)?.as_ref(), json),
        // --- validation (crates/ctem-paths) ---
        Command::Attack(crate::cli::AttackCommand::Techniques {
            tactic,
            rules,
            json,
        }) => attack::list(settings, tactic, &rules, json),
        Command::Attack(crate::cli::AttackCommand::Show { id, rules, json }) => {
            attack::show(settings, &id, &rules, json)
        }
        Command::Paths {
            to,
            from,
            top,
            json,
        } => paths::paths(
            settings,
            paths::PathsArgs {
                to,
                from,
                top,
                json,
            },
        ),
        Command::Chokepoints { top, paths, json } => paths::chokepoints(settings, top, paths, json),
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
            scenario::run(settings, &file, &opts)
        }
        Command::Exercise(c) => scenario::exercise(settings, c),
        Command::Coverage {
            rules,
            replay,
            scenario,
            navigator,
            json,
        } => scenario::coverage(
            settings,
            &rules,
            &replay,
            &scenario,
            navigator.as_deref(),
            json,
        ),
        // --- end of validation ---
        Command::Incidents { json } => measure::incidents(settings, json),
        Command::Incident { id, set, json } => measure::incident(settings, id, set, json),
        Command::Kpi {
            json,
            since,
            snapshot,
        } => measure::kpi(settings, json, since, snapshot),
        Command::Goals { json } => measure::goals(settings, json),
        Command::Assess { format, out } => measure::assess_cmd(settings, &format, out.as_ref()),
        Command::Review { since, format, out } => {
            measure::review_cmd(settings, since, &format, out.as_ref())
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
