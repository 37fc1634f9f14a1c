//! Notifications to the owning teams' channels (`[[notify]]`): new P1 exposures, SLA
//! breaches, new incidents and sources gone silent, batched into one message per channel
//! and turn.
//!
//! Each item has a key (`notify:CHANNEL:p1:ID`, `...:silent:SOURCE:SINCE`); a key is
//! recorded in the store (the deliveries table the ticket integrations use) once its
//! message was accepted, and an item whose key is recorded is never sent again, so a
//! restart sends nothing twice. A message that fails is retried at the next turn. A source
//! that delivers again and falls silent later is a new item (its key carries the time of
//! its last data).

use std::time::Duration;

use anyhow::{Context, Result, bail};
use chrono::Utc;
use ctem_core::settings::NotifyConfig;
use ctem_core::sources::Status;
use ctem_risk::Priority;
use ctem_store::work::Delivery;
use serde::Serialize;

use super::{Outcome, Scheduler};

/// One thing to tell.
#[derive(Debug, Serialize)]
struct Item {
    #[serde(skip)]
    key: String,
    /// `p1`, `sla`, `incident` or `silent`.
    event: &'static str,
    id: String,
    title: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    team: Option<String>,
}

/// Items shown in full in one message; the rest are counted.
const SHOWN: usize = 25;

fn for_team(ch: &NotifyConfig, team: Option<&str>) -> bool {
    ch.team.as_deref().is_none_or(|t| Some(t) == team)
}

/// Every item the channel takes that was not sent to it yet.
fn pending(s: &Scheduler, ch: &NotifyConfig) -> Result<Vec<Item>> {
    let mut items = Vec::new();
    let today = Utc::now().date_naive();
    let mut push = |event: &'static str, id: String, title: String, team: Option<String>| {
        if ch.wants(event) && for_team(ch, team.as_deref()) {
            let key = format!("notify:{}:{event}:{id}", ch.name);
            items.push(Item {
                key,
                event,
                id,
                title,
                team,
            });
        }
    };
    for (id, r) in s.store.ranked(None)? {
        if r.priority == Priority::P1 {
            push("p1", id.to_string(), String::new(), r.team.clone());
        }
        if let Some(due) = r.due.filter(|d| *d < today) {
            push("sla", id.to_string(), format!("due {due}"), r.team.clone());
        }
    }
    for i in s.store.incidents()? {
        if !i.state.is_closed()
            && let Some(id) = i.id
        {
            push("incident", id.to_string(), i.title.clone(), i.owner.clone());
        }
    }
    let sources = s.settings.sources.clone();
    for h in super::health::health(s.store.as_ref(), &sources, Utc::now())? {
        if h.status == Status::Silent {
            let since = h.last_data.map_or(0, |t| t.timestamp());
            push(
                "silent",
                format!("{}:{since}", h.name),
                format!("source {} is silent", h.name),
                h.owner.clone(),
            );
        }
    }
    items.retain(|i| !matches!(s.store.delivery(&i.key), Ok(Some(d)) if d.state == "done"));
    Ok(items)
}

/// Fills in the exposure titles of the items shown.
fn titles(s: &Scheduler, items: &mut [Item]) {
    for i in items.iter_mut().take(SHOWN) {
        if matches!(i.event, "p1" | "sla")
            && let Ok(id) = i.id.parse::<i64>()
            && let Ok(Some(e)) = s.store.exposure(id)
        {
            let due = std::mem::take(&mut i.title);
            i.title = if due.is_empty() {
                e.title
            } else {
                format!("{} ({due})", e.title)
            };
        }
    }
}

fn text(ch: &NotifyConfig, items: &[Item]) -> String {
    let label = |e: &str| match e {
        "p1" => "new P1 exposure",
        "sla" => "SLA breached",
        "incident" => "new incident",
        _ => "source silent",
    };
    let mut t = format!(
        "ctem: {} new item(s) for {}\n",
        items.len(),
        ch.team.as_deref().unwrap_or("every team")
    );
    for i in items.iter().take(SHOWN) {
        t.push_str(&format!("- {}: #{} {}\n", label(i.event), i.id, i.title));
    }
    if items.len() > SHOWN {
        t.push_str(&format!(
            "... and {} more (ctem top, ctem incidents, ctem sources)\n",
            items.len() - SHOWN
        ));
    }
    t
}

fn post(ch: &NotifyConfig, body: &serde_json::Value) -> Result<()> {
    let Some(url) = &ch.url else { bail!("no url") };
    let policy = super::watch::policy(&ch.allow_addresses, &format!("[[notify]] {}", ch.name))?;
    policy.check_url(url)?;
    let config = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(30)))
        .max_redirects(0)
        .http_status_as_error(false)
        .build();
    let agent = crate::cmd::outbound::guarded_agent(config, policy);
    let shown = ctem_model::redact::url(url);
    let resp = agent
        .post(url)
        .content_type("application/json")
        .send(body.to_string().as_bytes())
        .with_context(|| format!("POST {shown}"))?;
    let status = resp.status().as_u16();
    if !(200..300).contains(&status) {
        bail!("POST {shown}: HTTP {status}");
    }
    Ok(())
}

fn send(ch: &NotifyConfig, items: &[Item]) -> Result<()> {
    let message = text(ch, items);
    match ch.kind.as_str() {
        "slack" => post(ch, &serde_json::json!({ "text": message })),
        "webhook" => post(
            ch,
            &serde_json::json!({ "channel": ch.name, "text": message, "items": items }),
        ),
        _ => super::smtp::send(
            ch.smtp.as_deref().unwrap_or_default(),
            &super::smtp::Mail {
                from: ch.from.as_deref().unwrap_or_default(),
                to: &ch.to,
                subject: &format!("ctem: {} new item(s)", items.len()),
                body: &message,
            },
            Duration::from_secs(30),
        ),
    }
}

/// One batch per channel.
pub fn run(s: &mut Scheduler) -> Result<Outcome> {
    let mut out = Outcome::idle();
    for ch in s.settings.notify.clone() {
        let mut items = match pending(s, &ch) {
            Ok(i) => i,
            Err(e) => {
                out.errors
                    .push(format!("{}: {}", ch.name, crate::output::chain(&e)));
                continue;
            }
        };
        if items.is_empty() {
            continue;
        }
        titles(s, &mut items);
        out.idle = false;
        if let Err(e) = send(&ch, &items) {
            out.errors
                .push(format!("{}: {}", ch.name, crate::output::chain(&e)));
            continue;
        }
        for i in &items {
            s.store.put_delivery(&Delivery {
                key: i.key.clone(),
                target: ch.name.clone(),
                ticket_id: None,
                external_id: None,
                state: "done".into(),
                attempts: 1,
                last_error: None,
            })?;
        }
        out.records += items.len() as u64;
    }
    Ok(out)
}
