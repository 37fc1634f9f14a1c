//! The periodic review (`ctem review`): what changed since the last review (new and closed
//! exposures, incidents, KPI deltas, goals that changed status) and what to adapt. The
//! review's own values are recorded, so the next review compares against them.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use ctem_model::IncidentState;
use ctem_store::exercise::Exercise;
use ctem_store::measure::{MeasureFacts, ReviewRecord};
use serde::{Deserialize, Serialize};

use super::assess::goals_section;
use super::response::{self, ResponseRow};
use super::{Doc, Section, num, opt};
use crate::goals::{GoalStatus, Status};
use crate::kpi::Kpi;
use crate::{Error, Result};

/// What a review records: the values the next review compares against.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Recorded {
    pub kpis: BTreeMap<String, Option<f64>>,
    pub goals: BTreeMap<String, Status>,
}

/// One KPI that changed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Delta {
    pub kpi: String,
    pub before: Option<f64>,
    pub after: Option<f64>,
    /// `better`, `worse` or `changed` (a value appeared or went away).
    pub direction: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Review {
    pub generated_at: DateTime<Utc>,
    pub since: Option<DateTime<Utc>>,
    pub previous_review: Option<DateTime<Utc>>,
    pub new_exposures: u64,
    pub fixed_exposures: u64,
    pub incidents_opened: u64,
    pub incidents_closed: u64,
    pub deltas: Vec<Delta>,
    /// (goal, status before, status now)
    pub goal_changes: Vec<(String, Option<Status>, Status)>,
    pub goals: Vec<GoalStatus>,
    pub adapt: Vec<String>,
    /// Real incidents of the period: mean times to acknowledge, contain, resolve.
    pub real_response: Option<ResponseRow>,
    /// Exercises opened in the period, per team ([`Review::add_exercises`]).
    pub exercise_response: Vec<ResponseRow>,
}

/// Whether a higher value of the KPI is better.
pub fn higher_is_better(id: &str) -> bool {
    id.starts_with("coverage.") || id.starts_with("sla.")
}

fn goal_name(g: &GoalStatus) -> String {
    g.goal
        .name
        .clone()
        .unwrap_or_else(|| format!("{} {} {}", g.goal.kpi, g.goal.op, num(g.goal.target)))
}

/// What this review records.
pub fn recorded(kpis: &[Kpi], goals: &[GoalStatus]) -> Recorded {
    Recorded {
        kpis: kpis.iter().map(|k| (k.id.clone(), k.value)).collect(),
        goals: goals.iter().map(|g| (goal_name(g), g.status)).collect(),
    }
}

/// Builds the review. `f` was read with `since` (the previous review's time by default) and
/// gives the period's counts; `kpis` and `goals` are over all data, as recorded by the
/// previous review (`previous`), so the deltas compare like with like.
pub fn review(
    f: &MeasureFacts,
    kpis: &[Kpi],
    goals: &[GoalStatus],
    previous: Option<&ReviewRecord>,
    since: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Result<Review> {
    let before: Recorded = match previous {
        Some(p) => serde_json::from_str(&p.data).map_err(|e| Error::Snapshot {
            day: format!("review {}", p.id),
            message: e.to_string(),
        })?,
        None => Recorded::default(),
    };
    let start = since.unwrap_or(DateTime::<Utc>::MIN_UTC);
    let mut deltas = Vec::new();
    for k in kpis {
        let Some(b) = before.kpis.get(&k.id) else {
            continue;
        };
        let direction = match (*b, k.value) {
            (Some(x), Some(y)) if (x - y).abs() < 1e-9 => continue,
            (Some(x), Some(y)) if (y > x) == higher_is_better(&k.id) => "better",
            (Some(_), Some(_)) => "worse",
            (None, None) => continue,
            _ => "changed",
        };
        deltas.push(Delta {
            kpi: k.id.clone(),
            before: *b,
            after: k.value,
            direction: direction.into(),
        });
    }
    let goal_changes: Vec<_> = goals
        .iter()
        .filter_map(|g| {
            let name = goal_name(g);
            let was = before.goals.get(&name).copied();
            (was != Some(g.status)).then_some((name, was, g.status))
        })
        .collect();
    let mut adapt = Vec::new();
    for g in goals {
        match g.status {
            Status::Missed => adapt.push(format!(
                "goal {} was missed: re-plan it (new due date or target) and name what blocks it",
                goal_name(g)
            )),
            Status::AtRisk => adapt.push(format!("goal {} is at risk: {}", goal_name(g), g.moves)),
            Status::Unknown => adapt.push(format!(
                "goal {} cannot be measured: {}",
                goal_name(g),
                g.missing.clone().unwrap_or_default()
            )),
            _ => {}
        }
    }
    for d in deltas.iter().filter(|d| d.direction == "worse") {
        adapt.push(format!(
            "{} got worse ({} -> {}): find the cause before the next review",
            d.kpi,
            opt(d.before),
            opt(d.after)
        ));
    }
    Ok(Review {
        real_response: response::real(&f.incidents, start),
        exercise_response: Vec::new(),
        generated_at: now,
        since,
        previous_review: previous.map(|p| p.at),
        new_exposures: f.priorities.iter().map(|p| p.new_in_window).sum(),
        fixed_exposures: f.priorities.iter().map(|p| p.fixed_in_window).sum(),
        incidents_opened: f
            .incidents
            .iter()
            .filter(|i| i.detected_at >= start)
            .count() as u64,
        incidents_closed: f
            .incidents
            .iter()
            .filter(|i| {
                matches!(
                    i.state,
                    IncidentState::Resolved | IncidentState::FalsePositive
                ) && i.resolved_at.is_some_and(|r| r >= start)
            })
            .count() as u64,
        deltas,
        goal_changes,
        goals: goals.to_vec(),
        adapt,
    })
}

impl Review {
    /// Adds the response times of the exercises opened in the review's period (from the
    /// store's exercises, `ctem scenario run --exercise`), and what to adapt when a team
    /// left tasks undone or took longer than real incidents do.
    pub fn add_exercises(&mut self, all: &[Exercise]) {
        let start = self.since.unwrap_or(DateTime::<Utc>::MIN_UTC);
        self.exercise_response = response::exercises(all, start);
        let real_ack = self
            .real_response
            .as_ref()
            .and_then(|r| r.acknowledge_minutes);
        for r in &self.exercise_response {
            if r.not_completed > 0 {
                self.adapt.push(format!(
                    "{} left {} of {} tasks undone: walk the team through its part",
                    r.who, r.not_completed, r.items
                ));
            }
            if let (Some(x), Some(real)) = (r.acknowledge_minutes, real_ack)
                && x > real
            {
                self.adapt.push(format!(
                    "{} acknowledged in {} min on average, real incidents in {} min: \
                     check how the team is reached",
                    r.who,
                    num(x),
                    num(real)
                ));
            }
        }
    }

    pub fn doc(&self) -> Doc {
        let period = match self.since {
            Some(s) => format!("since {}", s.format("%Y-%m-%d %H:%M UTC")),
            None => "since the beginning (no earlier review)".into(),
        };
        let mut d = Doc {
            title: "CTEM review".into(),
            subtitle: format!(
                "generated {}, {period}",
                self.generated_at.format("%Y-%m-%d %H:%M UTC")
            ),
            sections: Vec::new(),
        };
        d.sections.push(Section {
            title: "What changed".into(),
            chart: vec![
                ("new exposures".into(), self.new_exposures as f64),
                ("fixed exposures".into(), self.fixed_exposures as f64),
                ("incidents opened".into(), self.incidents_opened as f64),
                ("incidents closed".into(), self.incidents_closed as f64),
            ],
            ..Default::default()
        });
        d.sections.push(Section {
            title: "KPI deltas".into(),
            paragraphs: if self.previous_review.is_none() {
                vec!["First review: the next one compares against the values recorded now.".into()]
            } else if self.deltas.is_empty() {
                vec!["No KPI changed since the previous review.".into()]
            } else {
                vec![]
            },
            head: ["kpi", "before", "now", "direction"]
                .map(String::from)
                .to_vec(),
            rows: self
                .deltas
                .iter()
                .map(|x| {
                    vec![
                        x.kpi.clone(),
                        opt(x.before),
                        opt(x.after),
                        x.direction.clone(),
                    ]
                })
                .collect(),
            ..Default::default()
        });
        d.sections.push(Section {
            title: "Goals that changed status".into(),
            paragraphs: if self.goal_changes.is_empty() {
                vec!["None.".into()]
            } else {
                vec![]
            },
            head: ["goal", "before", "now"].map(String::from).to_vec(),
            rows: self
                .goal_changes
                .iter()
                .map(|(n, b, a)| {
                    vec![
                        n.clone(),
                        b.map_or("(new)".into(), |b| b.as_str().to_string()),
                        a.as_str().to_string(),
                    ]
                })
                .collect(),
            ..Default::default()
        });
        d.sections.push(response::section(
            self.real_response.as_ref(),
            &self.exercise_response,
        ));
        d.sections.push(goals_section(&self.goals));
        d.sections.push(Section {
            title: "What to adapt".into(),
            paragraphs: if self.adapt.is_empty() {
                vec!["Nothing: every goal is met or on track and no KPI got worse.".into()]
            } else {
                self.adapt.iter().map(|a| format!("- {a}")).collect()
            },
            ..Default::default()
        });
        d
    }
}
