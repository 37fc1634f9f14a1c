//! `ctem tickets`: list, sync, show, assign, move, comment, push remediation tickets.

use std::process::ExitCode;

use anyhow::{Result, anyhow};
use clap::{Args, Subcommand};
use ctem_model::work::TicketState;
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
    /// open, in_progress, resolved, verified, risk_accepted; active (open or in progress,
    /// the default) or all
    #[arg(long, default_value = "active")]
    pub state: String,
    #[arg(long)]
    pub assignee: Option<String>,
    #[arg(long)]
    pub limit: Option<usize>,
    #[arg(long)]
    pub json: bool,
}

#[derive(Subcommand, Debug)]
pub enum TicketsCommand {
    /// Re-score exposures and regroup tickets now (imports do it themselves)
    Sync {
        #[arg(long)]
        json: bool,
    },
    /// One ticket with its exposures and history
    Show {
        id: i64,
        #[arg(long)]
        json: bool,
    },
    /// Assign a ticket to a user
    Assign {
        id: i64,
        user: String,
        #[arg(long)]
        json: bool,
    },
    /// Move a ticket: open, in_progress, resolved, risk_accepted (needs --until)
    Move {
        id: i64,
        state: String,
        /// Expiry of a risk acceptance (YYYY-MM-DD)
        #[arg(long)]
        until: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Add a comment
    Comment { id: i64, text: String },
    /// Send tickets to the integrations configured in ctem.toml ([[risk.integrations]])
    Push {
        /// Only this ticket
        #[arg(long)]
        id: Option<i64>,
        #[arg(long)]
        json: bool,
    },
}

/// The acting user of this command: `$CTEM_USER`.
pub fn actor() -> Option<String> {
    std::env::var("CTEM_USER").ok().filter(|u| !u.is_empty())
}

fn states(s: &str) -> Result<Vec<TicketState>> {
    Ok(match s {
        "active" => vec![TicketState::Open, TicketState::InProgress],
        "all" => Vec::new(),
        other => other
            .split(',')
            .map(|x| TicketState::parse(x).ok_or_else(|| anyhow!("unknown ticket state {x:?}")))
            .collect::<Result<_>>()?,
    })
}

pub fn run(settings: &Settings, a: TicketsArgs) -> Result<ExitCode> {
    let mut store = super::open_store(settings)?;
    let actor = actor();
    // a change of tickets needs a role that works tickets; accepting a risk needs its own
    let action = match &a.command {
        None | Some(TicketsCommand::Show { .. }) => None,
        Some(TicketsCommand::Move { state, .. })
            if TicketState::parse(state) == Some(TicketState::RiskAccepted) =>
        {
            Some(ctem_model::work::Action::AcceptRisk)
        }
        Some(_) => Some(ctem_model::work::Action::WorkTickets),
    };
    if let Some(action) = action {
        ctem_core::roles::authorize(store.as_ref(), actor.as_deref(), action)?;
    }
    let print_one = |t: &ctem_model::work::Ticket, json: bool| -> Result<()> {
        if json {
            println!("{}", serde_json::to_string(t)?);
        } else {
            println!(
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
                println!("{}", serde_json::to_string(&list)?);
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
            ]);
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
            print!("{}", t.render());
        }
        Some(TicketsCommand::Sync { json }) => {
            drop(store);
            return super::risk::prioritize(settings, json);
        }
        Some(TicketsCommand::Show { id, json }) => {
            let t = store
                .ticket(id)?
                .ok_or_else(|| anyhow!("ticket {id} not found"))?;
            let exposures = store.ticket_exposures(id)?;
            let events = store.ticket_events(id)?;
            if json {
                let v = serde_json::json!({"ticket": t, "exposures": exposures, "events": events});
                println!("{}", serde_json::to_string(&v)?);
                return Ok(ExitCode::SUCCESS);
            }
            print_one(&t, false)?;
            println!(
                "priority {}, risk {:.1}, {} in KEV, due {}{}",
                t.priority,
                t.risk,
                t.kev,
                t.due.map_or("-".into(), |d| d.to_string()),
                if t.breached { " (breached)" } else { "" }
            );
            let ids: Vec<String> = exposures.iter().take(30).map(|i| format!("#{i}")).collect();
            println!("exposures: {}", ids.join(" "));
            for e in events {
                println!(
                    "  {} {:<9} {} {}",
                    e.at.format("%Y-%m-%d %H:%M"),
                    e.kind,
                    e.actor.as_deref().unwrap_or("ctem"),
                    e.text
                );
            }
        }
        Some(TicketsCommand::Assign { id, user, json }) => {
            let t = store.assign_ticket(id, &user, actor.as_deref())?;
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
            let until = until.as_deref().map(super::risk::date).transpose()?;
            let t = store.move_ticket(id, to, until, actor.as_deref())?;
            print_one(&t, json)?;
        }
        Some(TicketsCommand::Comment { id, text }) => {
            store.comment_ticket(id, &text, actor.as_deref())?;
            println!("comment added to ticket #{id}");
        }
        Some(TicketsCommand::Push { id, json }) => {
            let targets = &settings.risk.integrations;
            let report = super::integrations::push(store.as_mut(), targets, id)?;
            if json {
                println!("{}", serde_json::to_string(&report)?);
            } else {
                for r in &report {
                    println!("{} ticket #{}: {}", r.target, r.ticket_id, r.outcome);
                }
            }
            if report.iter().any(|r| r.outcome.starts_with("failed")) {
                return Ok(ExitCode::from(1));
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
