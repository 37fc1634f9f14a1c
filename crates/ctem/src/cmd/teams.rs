//! `ctem teams`: teams, users and their roles, ownership rules.

use ctem_core::Settings;
use std::process::ExitCode;

use anyhow::{Result, anyhow};
use clap::Subcommand;
use ctem_model::work::{OwnershipRule, Role, RuleKind, Team, User};

use crate::output::Table;

#[derive(Subcommand, Debug)]
pub enum TeamsCommand {
    /// List teams, users and ownership rules
    List {
        /// One JSON object on stdout: {"teams", "users", "rules"}
        #[arg(long)]
        json: bool,
    },
    /// Create or update a team
    Add {
        /// The team's name
        name: String,
        /// What the team looks after
        #[arg(long)]
        description: Option<String>,
    },
    /// Create or update a user with a role and teams
    User {
        /// The user's name
        name: String,
        /// The user's role
        #[arg(long, value_parser = crate::cli::choice(Role::ALL.map(|r| r.as_str())))]
        role: String,
        /// The user's e-mail address
        #[arg(long)]
        email: Option<String>,
        /// A team the user belongs to (repeatable)
        #[arg(long)]
        team: Vec<String>,
    },
    /// Route assets to a team: MATCH is tag, zone, name, repository or asset_kind; PATTERN a
    /// glob (`*`, `?`). Rules are tried by priority, then the most specific first (a name
    /// before a tag before an asset kind), then in the order added (docs/risk-model.md)
    Rule {
        /// What the pattern is matched against
        #[arg(name = "MATCH", value_parser = crate::cli::choice(RuleKind::ALL.map(|k| k.as_str())))]
        kind: String,
        /// A glob: `*` any text, `?` one character
        pattern: String,
        /// The team that owns what matches
        team: String,
        /// Tried before rules of a lower priority (default 0), whatever their specificity
        #[arg(long, allow_hyphen_values = true)]
        priority: Option<i64>,
    },
    /// Remove an ownership rule by id
    Unrule {
        /// The rule id (see `ctem teams list`)
        id: i64,
    },
}

pub fn run(settings: &Settings, c: TeamsCommand) -> Result<ExitCode> {
    // listing or removing needs an existing store; adding creates one
    let mut store = match c {
        TeamsCommand::List { .. } | TeamsCommand::Unrule { .. } => super::open_existing(settings)?,
        _ => super::open_store(settings)?,
    };
    let target = match &c {
        // reading needs no role
        TeamsCommand::List { .. } => return apply(store.as_mut(), c),
        TeamsCommand::Add { name, .. } => format!("team {name}"),
        TeamsCommand::User { name, .. } => format!("user {name}"),
        TeamsCommand::Rule { pattern, team, .. } => format!("rule {pattern} -> {team}"),
        TeamsCommand::Unrule { id } => format!("rule {id}"),
    };
    let what = match &c {
        TeamsCommand::List { .. } | TeamsCommand::Add { .. } => "teams.add",
        TeamsCommand::User { .. } => "teams.user",
        TeamsCommand::Rule { .. } => "teams.rule",
        TeamsCommand::Unrule { .. } => "teams.unrule",
    };
    // every change goes through the one role check, which writes the audit entry
    let change = ctem_core::roles::Change {
        action: ctem_model::work::Action::ManageTeams,
        what,
        via: "cli",
    };
    let actor = super::tickets::actor();
    ctem_core::roles::change(store.as_mut(), actor.as_deref(), change, |store, _| {
        Ok::<_, anyhow::Error>((apply(store, c)?, target))
    })
}

fn apply(store: &mut dyn ctem_store::Store, c: TeamsCommand) -> Result<ExitCode> {
    match c {
        TeamsCommand::List { json } => {
            let teams = store.teams()?;
            let users = store.users()?;
            let rules = store.rules()?;
            if json {
                let v = serde_json::json!({"teams": teams, "users": users, "rules": rules});
                crate::output::json_doc(&v);
                return Ok(ExitCode::SUCCESS);
            }
            let mut t = Table::new(&["team", "description", "members"]);
            for team in &teams {
                let members: Vec<&str> = users
                    .iter()
                    .filter(|u| u.teams.contains(&team.name))
                    .map(|u| u.name.as_str())
                    .collect();
                t.row(vec![
                    team.name.clone(),
                    team.description.clone().unwrap_or_default(),
                    members.join(", "),
                ]);
            }
            t.print("no teams: add one with `ctem teams add NAME`");
            let mut u = Table::new(&["user", "role", "email", "teams"]);
            for x in &users {
                u.row(vec![
                    x.name.clone(),
                    x.role.to_string(),
                    x.email.clone().unwrap_or_default(),
                    x.teams.join(", "),
                ]);
            }
            outln!();
            u.print("no users: add one with `ctem teams user NAME --role ROLE`");
            let mut r = Table::new(&["rule", "match", "pattern", "team"]);
            for x in &rules {
                r.row(vec![
                    x.id.unwrap_or_default().to_string(),
                    x.kind.as_str().into(),
                    x.pattern.clone(),
                    x.team.clone(),
                ]);
            }
            outln!();
            r.print("no ownership rules: add one with `ctem teams rule MATCH PATTERN TEAM`");
        }
        TeamsCommand::Add { name, description } => {
            store.put_team(&Team {
                name: name.clone(),
                description,
            })?;
            outln!("team {name} saved");
        }
        TeamsCommand::User {
            name,
            role,
            email,
            team,
        } => {
            let role = super::serve::parse_role(&role)?;
            store.put_user(&User {
                name: name.clone(),
                email,
                role,
                teams: team,
            })?;
            outln!("user {name} saved ({role})");
        }
        TeamsCommand::Rule {
            kind,
            pattern,
            team,
            priority,
        } => {
            let kind = RuleKind::parse(&kind).ok_or_else(|| {
                anyhow!("unknown match {kind:?}: tag, zone, name, repository, asset_kind")
            })?;
            let id = store.add_rule(&OwnershipRule {
                id: None,
                position: 0,
                kind,
                pattern,
                team,
                priority,
            })?;
            outln!("rule {id} added (takes effect at the next import or `ctem tickets sync`)");
        }
        TeamsCommand::Unrule { id } => {
            store.remove_rule(id)?;
            outln!("rule {id} removed");
        }
    }
    Ok(ExitCode::SUCCESS)
}
