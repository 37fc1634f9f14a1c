//! `ctem tickets`: list, sync, show, assign, move, comment, push remediation tickets.

use std::process::ExitCode;

use anyhow::{Result, anyhow};
use clap::{Args, Subcommand};
use ctem_core::roles::Change;
use ctem_model::work::{Action, TicketState};
use ctem_store::work::TicketFilter;

use crate::output::{Table, cut};
use ctem_core::Settings;

#[derive(Args, Debug)]
pub struct TicketsArgs {
    #[command(subcommand)]
    pub command: Option<TicketsCommand>,
    /// Only this team's tickets
    #[arg(long)]
    pub team: Option<String>,
    /// States (comma-separated); active is open or in progress
    #[arg(long, default_value = "active", value_delimiter = ',', value_parser = ticket_states())]
    pub state: Vec<String>,
    /// Only tickets assigned to this user
    #[arg(long)]
    pub assignee: Option<String>,
    /// At most this many
    #[arg(long)]
    pub limit: Option<usize>,
    /// One JSON array on stdout
    #[arg(long)]
    pub json: bool,
}

#[derive(Subcommand, Debug)]
pub enum TicketsCommand {
    /// Re-score exposures and regroup tickets now (imports do it themselves)
    Sync {
        /// The summary as one JSON object
        #[arg(long)]
        json: bool,
    },
    /// One ticket with its exposures and history
    Show {
        /// The ticket id
        id: i64,
        /// One JSON object on stdout
        #[arg(long)]
        json: bool,
    },
    /// Assign a ticket to a user
    Assign {
        /// The ticket id
        id: i64,
        /// The user (see `ctem teams list`)
        user: String,
        /// The ticket as one JSON object
        #[arg(long)]
        json: bool,
    },
    /// Move a ticket (risk_accepted needs --until)
    Move {
        /// The ticket id
        id: i64,
        /// The new state
        #[arg(value_parser = crate::cli::choice(["open", "in_progress", "resolved", "risk_accepted"]))]
        state: String,
        /// Expiry of a risk acceptance (YYYY-MM-DD)
        #[arg(long, value_parser = date_arg)]
        until: Option<chrono::NaiveDate>,
        /// The ticket as one JSON object
        #[arg(long)]
        json: bool,
    },
    /// Add a comment
    Comment {
        /// The ticket id
        id: i64,
        /// The comment
        text: String,
    },
    /// Send tickets to the integrations configured in ctem.toml ([[risk.integrations]])
    Push {
        /// Only this ticket
        #[arg(long)]
        id: Option<i64>,
        /// The outcomes as one JSON array
        #[arg(long)]
        json: bool,
    },
}

/// `--until`: a date, checked by clap (a bad one is a usage error).
fn date_arg(s: &str) -> Result<chrono::NaiveDate, String> {
    super::risk::date(s).map_err(|e| e.to_string())
}

/// The acting user of this command: `$CTEM_USER`.
pub fn actor() -> Option<String> {
    std::env::var("CTEM_USER").ok().filter(|u| !u.is_empty())
}

fn ticket_states() -> clap::builder::PossibleValuesParser {
    crate::cli::choice(
        TicketState::ALL
            .map(|s| s.as_str())
            .into_iter()
            .chain(["active", "all"]),
    )
}

/// The states `--state` names (checked by clap): `all` is every state (an empty filter).
fn states(names: &[String]) -> Result<Vec<TicketState>> {
    let mut out = Vec::new();
    for n in names {
        match n.as_str() {
            "all" => return Ok(Vec::new()),
            "active" => out.extend([TicketState::Open, TicketState::InProgress]),
            x => out
                .push(TicketState::parse(x).ok_or_else(|| anyhow!("unknown ticket state {x:?}"))?),
        }
    }
    Ok(out)
}

pub fn run(settings: &Settings, a: TicketsArgs) -> Result<ExitCode> {
    let mut store = super::open_existing(settings)?;
    let actor = actor();
    // a change of tickets needs a role that works tickets; accepting a risk needs its own;
    // the role check writes the change to the audit log
    let (action, what, target) = match &a.command {
        None | Some(TicketsCommand::Show { .. }) => {
            return command(settings, store.as_mut(), a, None);
        }
        Some(TicketsCommand::Move { state, id, .. })
            if TicketState::parse(state) == Some(TicketState::RiskAccepted) =>
        {
            (Action::AcceptRisk, "tickets.move", format!("ticket {id}"))
        }
        Some(TicketsCommand::Move { id, .. }) => {
            (Action::WorkTickets, "tickets.move", format!("ticket {id}"))
        }
        Some(TicketsCommand::Assign { id, .. }) => (
            Action::WorkTickets,
            "tickets.assign",
            format!("ticket {id}"),
        ),
        Some(TicketsCommand::Comment { id, .. }) => (
            Action::WorkTickets,
            "tickets.comment",
            format!("ticket {id}"),
        ),
        Some(TicketsCommand::Push { id, .. }) => (
            Action::WorkTickets,
            "tickets.push",
            id.map_or("tickets".into(), |i| format!("ticket {i}")),
        ),
        Some(TicketsCommand::Sync { .. }) => {
            (Action::WorkTickets, "tickets.sync", "tickets".into())
        }
    };
    let change = Change {
        action,
        what,
        via: "cli",
    };
    ctem_core::roles::change(store.as_mut(), actor.as_deref(), change, |store, _| {
        Ok::<_, anyhow::Error>((command(settings, store, a, actor.as_deref())?, target))
    })
}

/// One `ctem tickets` command, its role checked.
fn command(
    settings: &Settings,
    store: &mut dyn ctem_store::Store,
    a: TicketsArgs,
    actor: Option<&str>,
) -> Result<ExitCode> {
    let print_one = |t: &ctem_model::work::Ticket, json: bool| -> Result<()> {
        if json {
            outln!("{}", serde_json::to_string(t)?);
        } else {
            outln!(
                "ticket #{} [{}] {} ({}), {} exposures on {} assets, assignee {}",
                t.id,
                t.state,
                t.action,
                t.team,
                t.exposures,
                t.assets,
                t.assignee.as_deref().unwrap_or("-")
            );
        }
        Ok(())
    };
    match a.command {
        None => {
            let f = TicketFilter {
                team: a.team,
                states: states(&a.state)?,
                assignee: a.assignee,
                limit: a.limit,
            };
            let list = store.tickets(&f)?;
            if a.json {
                crate::output::json_array(&list);
                return Ok(ExitCode::SUCCESS);
            }
            let mut t = Table::new(&[
                "id",
                "team",
                "state",
                "prio",
                "action",
                "assets",
                "exposures",
                "kev",
                "risk",
                "due",
                "assignee",
            ])
            .paint(3);
            for x in &list {
                t.row(vec![
                    x.id.to_string(),
                    x.team.clone(),
                    x.state.to_string(),
                    x.priority.clone(),
                    cut(&x.action, 50),
                    x.assets.to_string(),
                    x.exposures.to_string(),
                    x.kev.to_string(),
                    format!("{:.1}", x.risk),
                    x.due.map_or("-".into(), |d| {
                        format!("{d}{}", if x.breached { " BREACHED" } else { "" })
                    }),
                    x.assignee.clone().unwrap_or_else(|| "-".into()),
                ]);
            }
            t.print("no tickets match");
        }
        Some(TicketsCommand::Sync { json }) => {
            return super::risk::prioritize_in(settings, store, json);
        }
        Some(TicketsCommand::Show { id, json }) => {
            let t = store
                .ticket(id)?
                .ok_or_else(|| anyhow!("ticket {id} not found"))?;
            let exposures = store.ticket_exposures(id)?;
            let events = store.ticket_events(id)?;
            if json {
                let v = serde_json::json!({"ticket": t, "exposures": exposures, "events": events});
                outln!("{}", serde_json::to_string(&v)?);
                return Ok(ExitCode::SUCCESS);
            }
            print_one(&t, false)?;
            outln!(
                "priority {}, risk {:.1}, {} in KEV, due {}{}",
                t.priority,
                t.risk,
                t.kev,
                t.due.map_or("-".into(), |d| d.to_string()),
                if t.breached { " (breached)" } else { "" }
            );
            let ids: Vec<String> = exposures.iter().take(30).map(|i| format!("#{i}")).collect();
            outln!("exposures: {}", ids.join(" "));
            for e in events {
                outln!(
                    "  {} {:<9} {} {}",
                    e.at.format("%Y-%m-%d %H:%M"),
                    e.kind,
                    e.actor.as_deref().unwrap_or("ctem"),
                    e.text
                );
            }
        }
        Some(TicketsCommand::Assign { id, user, json }) => {
            let t = store.assign_ticket(id, &user, actor)?;
            print_one(&t, json)?;
        }
        Some(TicketsCommand::Move {
            id,
            state,
            until,
            json,
        }) => {
            let to = TicketState::parse(&state).ok_or_else(|| {
                anyhow!(
                    "unknown ticket state {state:?}: open, in_progress, resolved, risk_accepted"
                )
            })?;
            let t = store.move_ticket(id, to, until, actor)?;
            print_one(&t, json)?;
        }
        Some(TicketsCommand::Comment { id, text }) => {
            store.comment_ticket(id, &text, actor)?;
            outln!("comment added to ticket #{id}");
        }
        Some(TicketsCommand::Push { id, json }) => {
            let targets = &settings.risk.integrations;
            let report = super::integrations::push(store, targets, id)?;
            if json {
                crate::output::json_array(&report);
            } else {
                for r in &report {
                    outln!("{} ticket #{}: {}", r.target, r.ticket_id, r.outcome);
                }
            }
            if report.iter().any(|r| r.outcome.starts_with("failed")) {
                return Ok(ExitCode::from(1));
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
