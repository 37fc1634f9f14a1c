//! Outbound integrations for tickets (`ctem tickets push`): generic JSON and Slack-compatible
//! webhooks, Jira Cloud REST v3 and GitHub Issues.
//!
//! **No ticket is ever created twice** (DefectDojo #2440: a create that timed out after the
//! server had stored it was retried and made a duplicate). Each remote issue carries a
//! label derived from the ticket's stable key (`ctem-<hash>`); before every create attempt,
//! including each retry, the tracker is searched for that label and an existing issue is
//! adopted. Sends are recorded in the store's `deliveries` under an idempotency key
//! (`target:create:KEY`, `target:state:ID:STATE`, `target:comment:ID:N`, `target:event:...`)
//! so a repeated push sends nothing new; webhooks also carry it as `Idempotency-Key`.
//! Transient failures (connection errors, timeouts, 429, 5xx) are retried with exponential
//! backoff; other 4xx fail at once.

use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use ctem_model::work::{Ticket, TicketState};
use ctem_store::Store;
use ctem_store::work::{Delivery, TicketFilter};
use serde::Serialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

// the `[[risk.integrations]]` entries are settings: ctem-core reads and checks them
pub use ctem_core::settings::{TargetConfig, TargetKind};

/// The URL settings of a target, each with its key, e.g. `("base_url", ...)`.
fn urls(t: &TargetConfig) -> Vec<(&'static str, &str)> {
    match &t.kind {
        TargetKind::Webhook { url } | TargetKind::Slack { url } => vec![("url", url)],
        TargetKind::Jira { base_url, .. } => vec![("base_url", base_url)],
        TargetKind::Github { api_url, .. } => vec![("api_url", api_url)],
    }
}

/// Every URL is http(s) with a host, and https unless `allow_insecure_http` permits http to
/// a loopback host. Run when the settings are loaded and again before sending.
pub fn check(t: &TargetConfig) -> Result<()> {
    for (key, url) in urls(t) {
        super::outbound::check_credential_url(
            url,
            &format!("[[risk.integrations]] {}: {key}", t.name),
            t.allow_insecure_http,
        )?;
    }
    Ok(())
}

/// [`check`] of every target, when the settings are loaded.
pub fn check_all(targets: &[TargetConfig]) -> Result<()> {
    for t in targets {
        check(t).context("settings")?;
    }
    Ok(())
}

/// What a push did for one ticket and target.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct PushResult {
    pub target: String,
    pub ticket_id: i64,
    pub outcome: String,
}

/// Pushes the active tickets (or one) to every configured target.
pub fn push(
    store: &mut dyn Store,
    targets: &[TargetConfig],
    id: Option<i64>,
) -> Result<Vec<PushResult>> {
    if targets.is_empty() {
        bail!("no integrations configured: add [[risk.integrations]] to ctem.toml");
    }
    let tickets = match id {
        Some(i) => vec![
            store
                .ticket(i)?
                .ok_or_else(|| anyhow!("ticket {i} not found"))?,
        ],
        None => store.tickets(&TicketFilter::default())?,
    };
    push_tickets(store, targets, &tickets)
}

/// Pushes the given tickets; one failure does not stop the others.
pub fn push_tickets(
    store: &mut dyn Store,
    targets: &[TargetConfig],
    tickets: &[Ticket],
) -> Result<Vec<PushResult>> {
    let mut out = Vec::new();
    for target in targets {
        let client = Client::new(target);
        for t in tickets {
            let outcome = match push_one(store, &client, target, t) {
                Ok(s) => s,
                Err(e) => format!("failed: {}", crate::output::chain(&e)),
            };
            out.push(PushResult {
                target: target.name.clone(),
                ticket_id: t.id,
                outcome,
            });
        }
    }
    Ok(out)
}

/// The label that finds a ticket's issue in a tracker.
pub fn marker(t: &Ticket) -> String {
    let h = Sha256::digest(t.key.as_bytes());
    format!("ctem-{}", &hex::encode(h)[..12])
}

fn summary(t: &Ticket) -> String {
    format!(
        "[ctem] {}: {} on {} assets ({} exposures, {} in KEV)",
        t.team, t.action, t.assets, t.exposures, t.kev
    )
}

fn description(t: &Ticket) -> String {
    format!(
        "{}\nTeam: {}\nPriority: {} (risk {:.1})\nSLA due: {}{}\nState: {}\nctem ticket #{} ({})",
        t.action,
        t.team,
        t.priority,
        t.risk,
        t.due.map_or("-".into(), |d| d.to_string()),
        if t.breached { " (breached)" } else { "" },
        t.state,
        t.id,
        marker(t)
    )
}

/// The generic webhook body.
pub fn webhook_body(t: &Ticket, event: &str) -> Value {
    json!({"event": event, "ticket": t, "summary": summary(t)})
}

/// The Slack-compatible message.
pub fn slack_body(t: &Ticket) -> Value {
    let text = format!(
        "*{}* ticket #{} is *{}* — {} (priority {}, due {})",
        t.team,
        t.id,
        t.state,
        t.action,
        t.priority,
        t.due.map_or("-".into(), |d| d.to_string())
    );
    json!({"text": text, "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": text}}]})
}

/// Atlassian Document Format for plain text.
fn adf(text: &str) -> Value {
    let paras: Vec<Value> = text
        .lines()
        .map(|l| json!({"type": "paragraph", "content": [{"type": "text", "text": if l.is_empty() { " " } else { l }}]}))
        .collect();
    json!({"type": "doc", "version": 1, "content": paras})
}

fn base64(input: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for c in input.chunks(3) {
        let b = [c[0], *c.get(1).unwrap_or(&0), *c.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= c.len() {
                out.push(T[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// An HTTP client with retries and backoff.
pub struct Client {
    agent: ureq::Agent,
    retries: u32,
    backoff: Duration,
}

/// A failed request: `retry` says whether another attempt may succeed.
#[derive(Debug)]
struct HttpError {
    retry: bool,
    message: String,
}

impl Client {
    pub fn new(t: &TargetConfig) -> Self {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(Some(Duration::from_millis(t.timeout_ms)))
            .http_status_as_error(false)
            .build()
            .into();
        Client {
            agent,
            retries: t.retries,
            backoff: Duration::from_millis(t.backoff_ms),
        }
    }

    /// One attempt.
    fn once(
        &self,
        method: &str,
        url: &str,
        headers: &[(&str, String)],
        body: Option<&Value>,
    ) -> std::result::Result<Value, HttpError> {
        let fail = |retry: bool, message: String| HttpError { retry, message };
        let res = match (method, body) {
            ("GET", _) => {
                let mut r = self.agent.get(url);
                for (k, v) in headers {
                    r = r.header(*k, v.as_str());
                }
                r.call()
            }
            (m, b) => {
                let mut r = match m {
                    "PATCH" => self.agent.patch(url),
                    "PUT" => self.agent.put(url),
                    _ => self.agent.post(url),
                };
                for (k, v) in headers {
                    r = r.header(*k, v.as_str());
                }
                let text = b.map(Value::to_string).unwrap_or_default();
                r.content_type("application/json").send(text.as_bytes())
            }
        };
        let shown = ctem_model::redact::url(url);
        let mut resp = res.map_err(|e| fail(true, format!("{method} {shown}: {e}")))?;
        let status = resp.status().as_u16();
        let text = resp.body_mut().read_to_string().unwrap_or_default();
        if (200..300).contains(&status) {
            return Ok(if text.trim().is_empty() {
                Value::Null
            } else {
                serde_json::from_str(&text).unwrap_or(Value::String(text))
            });
        }
        let retry = status == 429 || status >= 500;
        Err(fail(
            retry,
            format!(
                "{method} {shown}: HTTP {status}: {}",
                crate::output::cut(&text, 200)
            ),
        ))
    }

    /// With retries and exponential backoff on transient failures.
    fn send(
        &self,
        method: &str,
        url: &str,
        headers: &[(&str, String)],
        body: Option<&Value>,
    ) -> Result<Value> {
        let mut wait = self.backoff;
        let mut attempt = 0;
        loop {
            match self.once(method, url, headers, body) {
                Ok(v) => return Ok(v),
                Err(e) if e.retry && attempt < self.retries => {
                    attempt += 1;
                    std::thread::sleep(wait);
                    wait = wait.saturating_mul(2);
                }
                Err(e) => bail!("{} (after {} attempts)", e.message, attempt + 1),
            }
        }
    }

    /// Creates a remote issue at most once: searches before every attempt.
    fn create_once(
        &self,
        search: &dyn Fn() -> std::result::Result<Option<String>, HttpError>,
        create: &dyn Fn() -> std::result::Result<Value, HttpError>,
        id_of: &dyn Fn(&Value) -> Option<String>,
    ) -> Result<(String, bool)> {
        let mut wait = self.backoff;
        let mut attempt = 0;
        loop {
            let r = search().and_then(|found| match found {
                Some(id) => Ok((id, false)),
                None => create().and_then(|v| {
                    id_of(&v).map(|id| (id, true)).ok_or(HttpError {
                        retry: false,
                        message: format!("create answered without an id: {v}"),
                    })
                }),
            });
            match r {
                Ok(x) => return Ok(x),
                Err(e) if e.retry && attempt < self.retries => {
                    attempt += 1;
                    std::thread::sleep(wait);
                    wait = wait.saturating_mul(2);
                }
                Err(e) => bail!("{} (after {} attempts)", e.message, attempt + 1),
            }
        }
    }
}

fn token(env: &str) -> Result<String> {
    std::env::var(env).map_err(|_| anyhow!("environment variable {env} (the API token) is not set"))
}

fn record(
    store: &mut dyn Store,
    key: &str,
    target: &str,
    t: &Ticket,
    external: Option<String>,
) -> Result<()> {
    store.put_delivery(&Delivery {
        key: key.into(),
        target: target.into(),
        ticket_id: Some(t.id),
        external_id: external,
        state: "done".into(),
        attempts: 1,
        last_error: None,
    })?;
    Ok(())
}

fn done(store: &dyn Store, key: &str) -> Result<Option<Delivery>> {
    Ok(store.delivery(key)?.filter(|d| d.state == "done"))
}

fn push_one(
    store: &mut dyn Store,
    c: &Client,
    target: &TargetConfig,
    t: &Ticket,
) -> Result<String> {
    let name = target.name.as_str();
    check(target)?;
    match &target.kind {
        TargetKind::Webhook { url } | TargetKind::Slack { url } => {
            let key = format!(
                "{name}:event:{}:{}:{}",
                t.id,
                t.state,
                t.updated_at.timestamp()
            );
            if done(store, &key)?.is_some() {
                return Ok("unchanged".into());
            }
            let body = match &target.kind {
                TargetKind::Slack { .. } => slack_body(t),
                _ => webhook_body(t, "ticket.updated"),
            };
            let idem = hex::encode(&Sha256::digest(key.as_bytes())[..16]);
            c.send("POST", url, &[("Idempotency-Key", idem)], Some(&body))?;
            record(store, &key, name, t, None)?;
            Ok("sent".into())
        }
        TargetKind::Jira {
            base_url,
            project,
            email,
            token_env,
            issue_type,
            transitions,
        } => {
            let auth = format!(
                "Basic {}",
                base64(format!("{email}:{}", token(token_env)?).as_bytes())
            );
            let h = [
                ("Authorization", auth),
                ("Accept", "application/json".into()),
            ];
            let base = base_url.trim_end_matches('/');
            let label = marker(t);
            let ckey = format!("{name}:create:{}", t.key);
            let (issue, created) = match done(store, &ckey)?.and_then(|d| d.external_id) {
                Some(k) => (k, false),
                None => {
                    let search_url = format!("{base}/rest/api/3/search/jql");
                    let q = json!({"jql": format!("project = \"{project}\" AND labels = \"{label}\""), "fields": ["key"], "maxResults": 1});
                    let create_url = format!("{base}/rest/api/3/issue");
                    let body = json!({"fields": {
                        "project": {"key": project},
                        "summary": summary(t),
                        "issuetype": {"name": issue_type},
                        "labels": ["ctem", label],
                        "description": adf(&description(t)),
                    }});
                    let r = c.create_once(
                        &|| {
                            c.once("POST", &search_url, &h, Some(&q))
                                .map(|v| v["issues"][0]["key"].as_str().map(str::to_owned))
                        },
                        &|| c.once("POST", &create_url, &h, Some(&body)),
                        &|v| v["key"].as_str().map(str::to_owned),
                    )?;
                    record(store, &ckey, name, t, Some(r.0.clone()))?;
                    r
                }
            };
            let mut did = vec![if created {
                format!("created {issue}")
            } else {
                format!("linked {issue}")
            }];
            if let Some(tr) = transitions.get(t.state.as_str()) {
                let skey = format!(
                    "{name}:state:{}:{}:{}",
                    t.id,
                    t.state,
                    t.updated_at.timestamp()
                );
                if done(store, &skey)?.is_none() && !(created && t.state == TicketState::Open) {
                    let url = format!("{base}/rest/api/3/issue/{issue}/transitions");
                    c.send("POST", &url, &h, Some(&json!({"transition": {"id": tr}})))?;
                    record(store, &skey, name, t, Some(issue.clone()))?;
                    did.push(format!("moved to {}", t.state));
                }
            }
            let url = format!("{base}/rest/api/3/issue/{issue}/comment");
            let n = push_comments(store, name, t, |text| {
                c.send("POST", &url, &h, Some(&json!({"body": adf(text)})))
                    .map(|_| ())
            })?;
            if n > 0 {
                did.push(format!("{n} comments"));
            }
            Ok(did.join(", "))
        }
        TargetKind::Github {
            api_url,
            repo,
            token_env,
        } => {
            let h = [
                ("Authorization", format!("Bearer {}", token(token_env)?)),
                ("Accept", "application/vnd.github+json".into()),
                ("X-GitHub-Api-Version", "2022-11-28".into()),
                ("User-Agent", "ctem".into()),
            ];
            let base = format!("{}/repos/{repo}", api_url.trim_end_matches('/'));
            let label = marker(t);
            let ckey = format!("{name}:create:{}", t.key);
            // `first`: this push created the issue or found the one its lost create made
            // (by the ticket's unique label); either way it is open
            let (issue, created, first) = match done(store, &ckey)?.and_then(|d| d.external_id) {
                Some(k) => (k, false, false),
                None => {
                    let search_url = format!("{base}/issues?labels={label}&state=all&per_page=1");
                    let body = json!({"title": summary(t), "body": description(t), "labels": ["ctem", label]});
                    let create_url = format!("{base}/issues");
                    let r = c.create_once(
                        &|| {
                            c.once("GET", &search_url, &h, None)
                                .map(|v| v[0]["number"].as_i64().map(|n| n.to_string()))
                        },
                        &|| c.once("POST", &create_url, &h, Some(&body)),
                        &|v| v["number"].as_i64().map(|n| n.to_string()),
                    )?;
                    record(store, &ckey, name, t, Some(r.0.clone()))?;
                    (r.0, r.1, true)
                }
            };
            let mut did = vec![if created {
                format!("created #{issue}")
            } else {
                format!("linked #{issue}")
            }];
            let want = if matches!(t.state, TicketState::Resolved | TicketState::Verified) {
                "closed"
            } else {
                "open"
            };
            let skey = format!("{name}:state:{}:{want}", t.id);
            let last_known = if first { Some("open") } else { None };
            if last_known == Some(want) && done(store, &skey)?.is_none() {
                // nothing to send, but remember the state so later pushes stay quiet
                record(store, &skey, name, t, Some(issue.clone()))?;
            }
            if done(store, &skey)?.is_none() && last_known != Some(want) {
                c.send(
                    "PATCH",
                    &format!("{base}/issues/{issue}"),
                    &h,
                    Some(&json!({"state": want})),
                )?;
                // the other state's record goes, so a later flip is sent again
                let other = if want == "open" { "closed" } else { "open" };
                store.put_delivery(&Delivery {
                    key: format!("{name}:state:{}:{other}", t.id),
                    target: name.into(),
                    ticket_id: Some(t.id),
                    external_id: None,
                    state: "stale".into(),
                    attempts: 0,
                    last_error: None,
                })?;
                record(store, &skey, name, t, Some(issue.clone()))?;
                did.push(want.into());
            }
            let url = format!("{base}/issues/{issue}/comments");
            let n = push_comments(store, name, t, |text| {
                c.send("POST", &url, &h, Some(&json!({"body": text})))
                    .map(|_| ())
            })?;
            if n > 0 {
                did.push(format!("{n} comments"));
            }
            Ok(did.join(", "))
        }
    }
}

/// Sends the ticket's comments not sent before; returns how many were sent.
fn push_comments(
    store: &mut dyn Store,
    target: &str,
    t: &Ticket,
    mut send: impl FnMut(&str) -> Result<()>,
) -> Result<usize> {
    let mut n = 0;
    for (i, e) in store.ticket_events(t.id)?.iter().enumerate() {
        if e.kind != "comment" {
            continue;
        }
        let key = format!("{target}:comment:{}:{i}", t.id);
        if done(store, &key)?.is_some() {
            continue;
        }
        let text = format!("{}: {}", e.actor.as_deref().unwrap_or("ctem"), e.text);
        send(&text)?;
        record(store, &key, target, t, None)?;
        n += 1;
    }
    Ok(n)
}

#[cfg(test)]
mod tests;
