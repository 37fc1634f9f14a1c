//! Response times of exercises beside the real ones, for the review: how fast each team
//! acknowledged and completed its tasks when a scenario was rehearsed (`ctem scenario run
//! --exercise`), next to how fast real incidents were acknowledged, contained and resolved.
//!
//! Exercise times run from the exercise's opening to each task's acknowledgement and
//! completion; real times from an incident's detection (its first alert) to each state.
//! Means are over the items that reached the state; what has not (yet) is counted apart, so
//! a slow team is not hidden by an unfinished one.

use chrono::{DateTime, Utc};
use ctem_model::{Incident, IncidentState};
use ctem_store::exercise::Exercise;
use serde::Serialize;

use super::Section;

/// One row: who, over how many items, and their mean times in minutes.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ResponseRow {
    /// `incident response (real incidents)` or `exercise NAME: TEAM`.
    pub who: String,
    /// Incidents or tasks.
    pub items: u64,
    pub acknowledge_minutes: Option<f64>,
    /// Contained (real incidents only).
    pub contain_minutes: Option<f64>,
    /// Resolved (real) or completed (exercise task).
    pub complete_minutes: Option<f64>,
    /// Items not acknowledged, and not resolved or completed, yet.
    pub not_acknowledged: u64,
    pub not_completed: u64,
}

fn mean_minutes(d: &[i64]) -> Option<f64> {
    (!d.is_empty())
        .then(|| (d.iter().sum::<i64>() as f64 / d.len() as f64 / 60.0 * 10.0).round() / 10.0)
}

fn secs(from: DateTime<Utc>, to: Option<DateTime<Utc>>) -> Option<i64> {
    to.map(|t| (t - from).num_seconds().max(0))
}

/// The real incidents detected since `start` (false positives left out: their response is
/// not one to compare with).
pub fn real(incidents: &[Incident], start: DateTime<Utc>) -> Option<ResponseRow> {
    let inc: Vec<&Incident> = incidents
        .iter()
        .filter(|i| i.detected_at >= start && i.state != IncidentState::FalsePositive)
        .collect();
    if inc.is_empty() {
        return None;
    }
    let ack: Vec<i64> = inc
        .iter()
        .filter_map(|i| secs(i.detected_at, i.acknowledged_at))
        .collect();
    let contain: Vec<i64> = inc
        .iter()
        .filter_map(|i| secs(i.detected_at, i.contained_at))
        .collect();
    let done: Vec<i64> = inc
        .iter()
        .filter(|i| i.state == IncidentState::Resolved)
        .filter_map(|i| secs(i.detected_at, i.resolved_at))
        .collect();
    Some(ResponseRow {
        who: "incident response (real incidents)".into(),
        items: inc.len() as u64,
        acknowledge_minutes: mean_minutes(&ack),
        contain_minutes: mean_minutes(&contain),
        complete_minutes: mean_minutes(&done),
        not_acknowledged: (inc.len() - ack.len()) as u64,
        not_completed: (inc.len() - done.len()) as u64,
    })
}

/// One row per exercise and team, of the exercises opened since `start`, oldest first.
pub fn exercises(all: &[Exercise], start: DateTime<Utc>) -> Vec<ResponseRow> {
    let mut list: Vec<&Exercise> = all.iter().filter(|x| x.opened_at >= start).collect();
    list.sort_by_key(|x| (x.opened_at, x.id));
    let mut out = Vec::new();
    for x in list {
        let mut teams: Vec<&str> = x.tasks.iter().map(|t| t.team.as_str()).collect();
        teams.sort_unstable();
        teams.dedup();
        for team in teams {
            let tasks: Vec<_> = x.tasks.iter().filter(|t| t.team == team).collect();
            let ack: Vec<i64> = tasks
                .iter()
                .filter_map(|t| secs(x.opened_at, t.acked_at))
                .collect();
            let done: Vec<i64> = tasks
                .iter()
                .filter_map(|t| secs(x.opened_at, t.completed_at))
                .collect();
            out.push(ResponseRow {
                who: format!("exercise {} (#{}): {team}", x.name, x.id),
                items: tasks.len() as u64,
                acknowledge_minutes: mean_minutes(&ack),
                contain_minutes: None,
                complete_minutes: mean_minutes(&done),
                not_acknowledged: (tasks.len() - ack.len()) as u64,
                not_completed: (tasks.len() - done.len()) as u64,
            });
        }
    }
    out
}

fn minutes(v: Option<f64>) -> String {
    v.map_or("-".into(), |m| format!("{} min", super::num(m)))
}

/// The review's section: exercise rows beside the real row.
pub fn section(real: Option<&ResponseRow>, exercises: &[ResponseRow]) -> Section {
    let mut paragraphs = Vec::new();
    if exercises.is_empty() {
        paragraphs.push(
            "No exercise in this period: rehearse a scenario with `ctem scenario run FILE \
             --exercise`, then record each task with `ctem exercise ack|complete`."
                .into(),
        );
    }
    if real.is_none() {
        paragraphs.push("No real incident in this period to compare with.".into());
    }
    let rows = real
        .into_iter()
        .chain(exercises)
        .map(|r| {
            vec![
                r.who.clone(),
                r.items.to_string(),
                minutes(r.acknowledge_minutes),
                minutes(r.contain_minutes),
                minutes(r.complete_minutes),
                format!("{} / {}", r.not_acknowledged, r.not_completed),
            ]
        })
        .collect::<Vec<_>>();
    Section {
        title: "Exercise response beside real response".into(),
        paragraphs,
        head: [
            "who",
            "incidents / tasks",
            "mean to acknowledge",
            "mean to contain",
            "mean to resolve / complete",
            "not acknowledged / not done",
        ]
        .map(String::from)
        .to_vec(),
        rows: if rows.is_empty() { Vec::new() } else { rows },
        ..Default::default()
    }
}
