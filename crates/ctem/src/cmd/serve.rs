//! `ctem serve`, `ctem users`, `ctem tokens`, `ctem audit`: the server and its identities.
//!
//! The CLI's changing commands on users, teams and tokens go through the one role check
//! (`ctem_core::roles::change`, which asks `permits` and writes the audit entry):
//! `CTEM_USER` names a user of the store whose role decides; without it the local operator,
//! who owns the store file, may do everything.

use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result, anyhow, bail};
use chrono::{NaiveDate, Utc};
use clap::{Args, Subcommand};
use ctem_core::roles::{Actor, Change};
use ctem_model::ImportSummary;
use ctem_model::work::{Action, Role, User};
use ctem_server::auth::{hash_password, new_secret};
use ctem_server::{AppState, ImportRequest, Importer, ServerConfig};
use ctem_store::Store;

use crate::output::Table;
use ctem_core::Settings;

#[derive(Args, Debug)]
pub struct ServeArgs {
    /// Address to listen on (default: [serve] listen in ctem.toml, else 127.0.0.1:8080)
    #[arg(long)]
    pub listen: Option<String>,
    /// Sigma rule folders for POST /api/v1/events (repeatable; default: [serve] rules)
    #[arg(long)]
    pub rules: Vec<PathBuf>,
}

#[derive(Subcommand, Debug)]
pub enum UsersCommand {
    /// Create or update a user; the password is read from stdin (first line)
    Add {
        /// The user name (what CTEM_USER and the login form name)
        name: String,
        /// The user's role (docs/roles.md)
        #[arg(long, value_parser = clap::builder::PossibleValuesParser::new(["admin", "vulnerability_manager", "threat_analyst", "incident_responder", "it_operations", "viewer"]))]
        role: String,
        /// The user's e-mail address
        #[arg(long)]
        email: Option<String>,
        /// A team the user belongs to (repeatable)
        #[arg(long)]
        team: Vec<String>,
    },
}

#[derive(Subcommand, Debug)]
pub enum TokensCommand {
    /// Create an API token; it is printed once and stored hashed
    Create {
        /// A name for the token (shown in listings and the audit log)
        #[arg(long)]
        name: String,
        /// The role the token acts with (docs/roles.md)
        #[arg(long, value_parser = clap::builder::PossibleValuesParser::new(["admin", "vulnerability_manager", "threat_analyst", "incident_responder", "it_operations", "viewer"]))]
        role: String,
        /// Scope the token to a partner: mdr (alerts) or sharing (TAXII only)
        #[arg(long)]
        partner: Option<String>,
        /// The last day the token works (YYYY-MM-DD)
        #[arg(long)]
        expires: Option<NaiveDate>,
        /// The new token as one JSON object
        #[arg(long)]
        json: bool,
    },
    /// List tokens (never their secrets)
    List {
        /// One JSON array on stdout
        #[arg(long)]
        json: bool,
    },
    /// Revoke a token by id
    Revoke {
        /// The token id (see `ctem tokens list`)
        id: i64,
    },
}

/// The role check and audit entry of a change on the command line (`$CTEM_USER` acts).
fn cli_change<T>(
    store: &mut dyn Store,
    what: &str,
    apply: impl FnOnce(&mut dyn Store, &Actor) -> Result<(T, String)>,
) -> Result<T> {
    let change = Change {
        action: Action::ManageTeams,
        what,
        via: "cli",
    };
    ctem_core::roles::change(store, super::tickets::actor().as_deref(), change, apply)
}

/// The role check of a read that needs one.
fn may_manage(store: &dyn Store) -> Result<()> {
    ctem_core::roles::authorize(
        store,
        super::tickets::actor().as_deref(),
        Action::ManageTeams,
    )?;
    Ok(())
}

pub fn parse_role(role: &str) -> Result<Role> {
    Role::parse(role).ok_or_else(|| {
        anyhow!("unknown role {role:?}: admin, vulnerability_manager, threat_analyst, incident_responder, it_operations, viewer")
    })
}

fn read_password() -> Result<String> {
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .context("reading the password from stdin")?;
    let pw = line.trim_end_matches(['\n', '\r']).to_string();
    if pw.is_empty() {
        bail!(
            "no password on stdin: pipe it in, e.g. `printf '%s\\n' \"$PW\" | ctem users add ...`"
        );
    }
    Ok(pw)
}

pub fn users(settings: &Settings, c: UsersCommand) -> Result<ExitCode> {
    let mut store = super::open_store(settings)?;
    match c {
        UsersCommand::Add {
            name,
            role,
            email,
            team,
        } => {
            let role = cli_change(store.as_mut(), "users.add", |store, _| {
                let role = parse_role(&role)?;
                let pw = read_password()?;
                let phc = hash_password(&pw).map_err(|e| anyhow!(e))?;
                store.put_user(&User {
                    name: name.clone(),
                    email,
                    role,
                    teams: team,
                })?;
                store.set_password(&name, &phc)?;
                Ok((role, format!("user {name}")))
            })?;
            outln!("user {name} saved ({role}) with a password");
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub fn tokens(settings: &Settings, c: TokensCommand) -> Result<ExitCode> {
    let mut store = super::open_store(settings)?;
    match c {
        TokensCommand::Create {
            name,
            role,
            partner,
            expires,
            json,
        } => {
            let (id, secret) = cli_change(store.as_mut(), "tokens.create", |store, who| {
                let role = parse_role(&role)?;
                let partner = ctem_server::api::parse_partner(partner.as_deref())
                    .map_err(|e| anyhow!(e.message))?;
                let (t, secret) =
                    ctem_server::api::mint_token(&name, role, partner, expires, &who.name);
                let id = store.add_token(&t)?;
                Ok(((id, secret), format!("token {id}")))
            })?;
            if json {
                let v = serde_json::json!({"id": id, "name": name, "role": role, "token": secret});
                outln!("{v}");
            } else {
                outln!("token {id} ({name}, {role}); shown once, keep it now:\n{secret}");
            }
        }
        TokensCommand::List { json } => {
            may_manage(store.as_ref())?;
            let all = store.tokens()?;
            if json {
                outln!("{}", serde_json::to_string(&all)?);
                return Ok(ExitCode::SUCCESS);
            }
            let mut t = Table::new(&["id", "name", "role", "partner", "expires", "revoked"]);
            for x in &all {
                t.row(vec![
                    x.id.to_string(),
                    x.name.clone(),
                    x.role.clone(),
                    x.partner.clone().unwrap_or_default(),
                    x.expires_at.map(|e| e.to_rfc3339()).unwrap_or_default(),
                    x.revoked_at.map(|e| e.to_rfc3339()).unwrap_or_default(),
                ]);
            }
            out!("{}", t.render());
        }
        TokensCommand::Revoke { id } => {
            cli_change(store.as_mut(), "tokens.revoke", |store, _| {
                store.revoke_token(id, Utc::now())?;
                Ok(((), format!("token {id}")))
            })?;
            outln!("token {id} revoked");
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub fn audit(settings: &Settings, json: bool, limit: Option<usize>) -> Result<ExitCode> {
    let store = super::open_store(settings)?;
    may_manage(store.as_ref())?;
    let mut all = store.audit_log(None, None)?;
    if let Some(l) = limit {
        let skip = all.len().saturating_sub(l);
        all.drain(..skip);
    }
    if json {
        outln!("{}", serde_json::to_string(&all)?);
        return Ok(ExitCode::SUCCESS);
    }
    let mut t = Table::new(&["when", "who", "via", "from", "what", "target"]);
    for e in &all {
        t.row(vec![
            e.at.to_rfc3339(),
            e.actor.clone(),
            e.via.clone(),
            e.remote.clone().unwrap_or_default(),
            e.action.clone(),
            e.target.clone(),
        ]);
    }
    out!("{}", t.render());
    Ok(ExitCode::SUCCESS)
}

/// The import pipeline as the server's upload jobs run it.
struct CliImporter {
    settings: Settings,
}

impl Importer for CliImporter {
    fn import(&self, req: ImportRequest) -> Result<ImportSummary, String> {
        let run = || -> Result<ImportSummary> {
            let mut settings = self.settings.clone();
            settings.store.url = req.db.clone();
            let mut store = super::open_store(&settings)?;
            let opts = super::import::Options {
                format: req.format.clone(),
                scope: req.scope.clone(),
                strict: false,
                progress: false,
                limits: crate::input::Limits::from_settings(&settings.input),
                vantage: settings.vantage,
            };
            super::import::import_upload(
                store.as_mut(),
                &req.bytes,
                &req.file_name,
                &opts,
                &settings.risk,
            )
        };
        run().map_err(|e| crate::output::chain(&e))
    }
}

fn detector(
    rules: &[PathBuf],
    threads: usize,
    mappings: ctem_detect::Mappings,
) -> Result<ctem_server::events::Detector> {
    for r in rules {
        if !r.exists() {
            bail!("{}: no such rules folder", r.display());
        }
    }
    let set = ctem_detect::RuleSet::load_dirs(rules)?;
    eprintln!(
        "events: {} of {} rules compiled",
        set.report.compiled, set.report.rules
    );
    let mut engine = ctem_detect::Engine::new(set, mappings);
    engine.add_detector(Box::new(ctem_detect::decode::SourceAlerts));
    Ok(ctem_server::events::Detector {
        engine,
        to_alert: Box::new(|a| a.to_model(Utc::now())),
        threads,
    })
}

pub fn run(settings: &Settings, a: ServeArgs) -> Result<ExitCode> {
    let db = settings.store.url.as_str();
    let s = settings.serve.clone();
    let listen = a
        .listen
        .or(s.listen)
        .unwrap_or_else(|| "127.0.0.1:8080".into());
    let rules = if a.rules.is_empty() { s.rules } else { a.rules };
    let mut cfg = ServerConfig::new(db);
    cfg.open = ctem_store::OpenOptions {
        busy_timeout: settings.store.busy_timeout,
        file_mode: settings.store.file_mode,
    };
    cfg.importer = Some(Arc::new(CliImporter {
        settings: settings.clone(),
    }));
    if !rules.is_empty() {
        cfg.detector = Some(detector(
            &rules,
            s.detect_threads.unwrap_or(2),
            settings.detect.build()?,
        )?);
    }
    if let Some(q) = s.events_queue {
        cfg.events_queue = q;
    }
    start(settings, &listen, cfg)
}

fn start(settings: &Settings, listen: &str, cfg: ServerConfig) -> Result<ExitCode> {
    // opened once first: created, migrated and re-prioritised when needed
    drop(super::open_store(settings)?);
    let state = AppState::new(cfg).context("opening the store for the server")?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    rt.block_on(async {
        let l = tokio::net::TcpListener::bind(listen)
            .await
            .with_context(|| format!("listen on {listen}"))?;
        eprintln!(
            "ctem serve: http://{} (API /api/v1/, docs /api/docs)",
            l.local_addr()?
        );
        ctem_server::serve(l, state).await.context("serving")
    })?;
    Ok(ExitCode::SUCCESS)
}

/// `ctem demo --serve`: a demo admin with a fresh password (printed once), then the server.
pub fn demo(dir: &Path, listen: &str, settings: &Settings) -> Result<ExitCode> {
    let mut settings = settings.clone();
    settings.store.url = dir.join("ctem.db").display().to_string();
    let mut store = super::open_store(&settings)?;
    let password = new_secret("")[..20].to_string();
    let phc = hash_password(&password).map_err(|e| anyhow!(e))?;
    store.put_user(&User {
        name: "demo-admin".into(),
        email: None,
        role: Role::Admin,
        teams: Vec::new(),
    })?;
    store.set_password("demo-admin", &phc)?;
    drop(store);
    outln!("\ndemo admin: demo-admin  password (shown once): {password}");
    outln!("open http://{listen}/ and sign in");
    run(
        &settings,
        ServeArgs {
            listen: Some(listen.to_string()),
            rules: Vec::new(),
        },
    )
}
