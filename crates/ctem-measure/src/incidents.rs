//! Grouping alerts into incidents.
//!
//! An alert joins an open incident that shares one of the configured keys (`host`, `user`)
//! and whose latest alert is at most `window` away; otherwise it opens one. Correlation
//! alerts (marked `kind: correlation` by detection itself, never guessed from tags or rule
//! names) always open their own: a correlation already is the grouping of many events. Only alerts in no incident are
//! read, and the store keys an alert to one incident, so running the grouping twice changes
//! nothing the second time.

use chrono::{DateTime, Duration, Utc};
use ctem_model::work::Role;
use ctem_model::{Incident, IncidentState};
use ctem_store::Store;
use ctem_store::alerts::level_rank;
use ctem_store::measure::{Grouping, UngroupedAlert};
use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// `[incidents]` in ctem.toml.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct IncidentsConfig {
    /// The keys an alert may share with an incident, tried in order: `host`, `user`.
    pub keys: Vec<String>,
    /// How far apart two alerts of one incident may be: `30m`, `2h`, `1d` (seconds without
    /// a unit).
    pub window: String,
}

impl Default for IncidentsConfig {
    fn default() -> Self {
        Self {
            keys: vec!["host".into(), "user".into()],
            window: "1h".into(),
        }
    }
}

/// Which entity of an alert a key reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Key {
    Host,
    User,
}

impl Key {
    fn name(self) -> &'static str {
        match self {
            Key::Host => "host",
            Key::User => "user",
        }
    }

    fn of(self, a: &UngroupedAlert) -> Option<&str> {
        match self {
            Key::Host => a.host.as_deref(),
            Key::User => a.user.as_deref(),
        }
        .filter(|v| !v.is_empty())
    }
}

/// Validated grouping settings.
#[derive(Debug, Clone, PartialEq)]
pub struct IncidentSettings {
    pub keys: Vec<Key>,
    pub window: Duration,
}

impl IncidentsConfig {
    pub fn build(&self) -> Result<IncidentSettings> {
        let mut keys = Vec::new();
        for k in &self.keys {
            keys.push(match k.as_str() {
                "host" => Key::Host,
                "user" => Key::User,
                other => {
                    return Err(Error::Settings {
                        field: "keys",
                        message: format!("unknown key {other:?}: host, user"),
                    });
                }
            });
        }
        Ok(IncidentSettings {
            keys,
            window: parse_window(&self.window)?,
        })
    }
}

fn parse_window(s: &str) -> Result<Duration> {
    let bad = |m: &str| Error::Settings {
        field: "window",
        message: format!("{s:?}: {m}"),
    };
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: i64 = num
        .parse()
        .map_err(|_| bad("expected a number and a unit (s, m, h, d)"))?;
    let secs = match unit {
        "" | "s" => n,
        "m" => n * 60,
        "h" => n * 3600,
        "d" => n * 86_400,
        _ => return Err(bad("unknown unit (s, m, h, d)")),
    };
    if secs <= 0 || secs > 90 * 86_400 {
        return Err(bad("must be between 1s and 90d"));
    }
    Ok(Duration::seconds(secs))
}

/// What a grouping pass did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct GroupSummary {
    /// Alerts placed into incidents.
    pub alerts: u64,
    pub opened: u64,
    /// Open incidents that took new alerts.
    pub updated: u64,
}

/// Whether detection marked the alert as a correlation's.
fn is_correlation(a: &UngroupedAlert) -> bool {
    a.kind == ctem_model::AlertKind::Correlation
}

/// The responder with the fewest open incidents (ties by name), if any.
fn pick_owner(responders: &[String], open: &[Incident]) -> Option<String> {
    responders
        .iter()
        .min_by_key(|r| {
            let load = open
                .iter()
                .filter(|i| !i.state.is_closed() && i.owner.as_deref() == Some(r.as_str()))
                .count();
            (load, (*r).clone())
        })
        .cloned()
}

fn open_incident(a: &UngroupedAlert, kind: &str, value: &str, owner: Option<String>) -> Incident {
    let title = match kind {
        "host" => format!("{} on {value}", a.title),
        "user" => format!("{} by {value}", a.title),
        _ => a.title.clone(),
    };
    Incident {
        id: None,
        key_kind: kind.to_string(),
        key_value: value.to_string(),
        title,
        severity: a.level.to_ascii_lowercase(),
        state: IncidentState::New,
        owner,
        alerts: 1,
        first_event: a.time,
        last_event: a.time,
        detected_at: a.detected_at,
        acknowledged_at: None,
        contained_at: None,
        resolved_at: None,
    }
}

fn join(i: &mut Incident, a: &UngroupedAlert) {
    i.alerts += 1;
    if level_rank(&a.level) > level_rank(&i.severity) {
        i.severity = a.level.to_ascii_lowercase();
    }
    i.first_event = i.first_event.min(a.time);
    i.last_event = i.last_event.max(a.time);
    i.detected_at = i.detected_at.min(a.detected_at);
}

fn within(i: &Incident, t: DateTime<Utc>, w: Duration) -> bool {
    t >= i.first_event - w && t <= i.last_event + w
}

/// The grouping of `alerts` (oldest first) given the incidents still open. Pure: the same
/// inputs give the same plan. Only incidents that change are in the result.
pub fn plan(
    alerts: &[UngroupedAlert],
    open: Vec<Incident>,
    responders: &[String],
    s: &IncidentSettings,
) -> (Grouping, GroupSummary) {
    let mut work = open;
    let existing = work.len();
    let mut touched = vec![false; existing];
    let mut links: Vec<(i64, usize)> = Vec::with_capacity(alerts.len());
    for a in alerts {
        let found = if is_correlation(a) {
            None
        } else {
            s.keys.iter().find_map(|k| {
                let v = k.of(a)?;
                work.iter().position(|i| {
                    !i.state.is_closed()
                        && i.key_kind == k.name()
                        && i.key_value == v
                        && within(i, a.time, s.window)
                })
            })
        };
        let idx = match found {
            Some(idx) => {
                join(&mut work[idx], a);
                idx
            }
            None => {
                let (kind, value) = if is_correlation(a) {
                    ("correlation", a.rule_id.as_str())
                } else {
                    s.keys
                        .iter()
                        .find_map(|k| k.of(a).map(|v| (k.name(), v)))
                        .unwrap_or(("rule", a.rule_id.as_str()))
                };
                let owner = pick_owner(responders, &work);
                work.push(open_incident(a, kind, value, owner));
                work.len() - 1
            }
        };
        if idx < existing {
            touched[idx] = true;
        }
        links.push((a.id, idx));
    }
    // keep only the incidents that changed, renumbering the links
    let mut map = vec![usize::MAX; work.len()];
    let mut incidents = Vec::new();
    let mut summary = GroupSummary {
        alerts: alerts.len() as u64,
        ..Default::default()
    };
    for (i, inc) in work.into_iter().enumerate() {
        if i >= existing || touched[i] {
            if i >= existing {
                summary.opened += 1;
            } else {
                summary.updated += 1;
            }
            map[i] = incidents.len();
            incidents.push(inc);
        }
    }
    for l in &mut links {
        l.1 = map[l.1];
    }
    (Grouping { incidents, links }, summary)
}

/// Groups every alert not yet in an incident; idempotent. Owners come from the users with
/// the incident-responder role.
pub fn group(store: &mut dyn Store, s: &IncidentSettings) -> Result<GroupSummary> {
    let alerts = store.ungrouped_alerts()?;
    if alerts.is_empty() {
        return Ok(GroupSummary::default());
    }
    let open = store.open_incidents()?;
    let mut responders: Vec<String> = store
        .users()?
        .into_iter()
        .filter(|u| u.role == Role::IncidentResponder)
        .map(|u| u.name)
        .collect();
    responders.sort();
    let (g, summary) = plan(&alerts, open, &responders, s);
    store.save_grouping(&g)?;
    Ok(summary)
}

/// Whether `role` may change an incident's state: the `work_incidents` row of the role
/// table (incident responders and admins), which the server's routes check too.
pub fn may_change_state(role: Role) -> bool {
    ctem_model::work::permits(role, ctem_model::work::Action::WorkIncidents)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(min: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_000_000 + min * 60, 0).unwrap()
    }

    fn alert(id: i64, min: i64, host: Option<&str>, user: Option<&str>) -> UngroupedAlert {
        UngroupedAlert {
            id,
            rule_id: format!("r{id}"),
            title: "t".into(),
            level: if id == 2 { "high" } else { "low" }.into(),
            kind: ctem_model::AlertKind::Event,
            tags: vec![],
            time: at(min),
            detected_at: at(min + 1),
            host: host.map(String::from),
            user: user.map(String::from),
        }
    }

    #[test]
    fn window_parses_units_and_refuses_nonsense() {
        assert_eq!(parse_window("90m").unwrap(), Duration::minutes(90));
        assert_eq!(parse_window("2h").unwrap(), Duration::hours(2));
        assert_eq!(parse_window("45").unwrap(), Duration::seconds(45));
        assert!(parse_window("h").is_err());
        assert!(parse_window("3w").is_err());
        assert!(parse_window("0s").is_err());
    }

    #[test]
    fn host_then_user_then_window_then_correlation() {
        let s = IncidentsConfig::default().build().unwrap();
        let mut corr = alert(5, 3, Some("ws1"), None);
        corr.kind = ctem_model::AlertKind::Correlation;
        // a tag is not the mark: this alert groups by host like any other
        let mut tagged = alert(7, 4, Some("ws9"), None);
        tagged.tags = vec!["correlation".into()];
        let alerts = [
            alert(1, 0, Some("ws1"), Some("bob")),
            alert(2, 30, Some("ws1"), None),
            alert(3, 40, Some("ws2"), Some("bob")),
            alert(4, 200, Some("ws1"), None),
            corr,
            alert(6, 10, None, None),
            tagged,
        ];
        let resp = ["ann".to_string(), "zed".to_string()];
        let (g, sum) = plan(&alerts, vec![], &resp, &s);
        let keys: Vec<_> = g
            .incidents
            .iter()
            .map(|i| (i.key_kind.as_str(), i.key_value.as_str(), i.alerts))
            .collect();
        assert_eq!(
            keys,
            [
                ("host", "ws1", 2),
                ("host", "ws2", 1),
                ("host", "ws1", 1),
                ("correlation", "r5", 1),
                ("rule", "r6", 1),
                ("host", "ws9", 1)
            ]
        );
        assert_eq!(g.incidents[0].severity, "high");
        assert_eq!(g.incidents[0].owner.as_deref(), Some("ann"));
        assert_eq!(g.incidents[1].owner.as_deref(), Some("zed"));
        assert_eq!(sum.opened, 6);
        assert_eq!(g.links[2], (3, 1));
    }
}
