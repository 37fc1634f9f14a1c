//! Storage of attack-scenario exercises: incident response and IT rehearse a scenario; each
//! step is a task for the team that must act, with when it was acknowledged and completed.
//!
//! A part of the [`crate::Store`] contract: every backend implements it (SQLite in
//! `sqlite/exercise.rs`).

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::Result;

/// One task of an exercise: a scenario step for one team.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ExerciseTask {
    /// 1-based step number in the scenario.
    pub step: i64,
    pub technique: String,
    pub title: String,
    pub team: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub acked_at: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub completed_at: Option<DateTime<Utc>>,
}

/// An exercise opened from a scenario.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Exercise {
    pub id: i64,
    pub name: String,
    /// The scenario file it was opened from.
    pub scenario: String,
    pub opened_at: DateTime<Utc>,
    pub tasks: Vec<ExerciseTask>,
}

/// A recorded run of an attack scenario (`ctem scenario run`): what it found per step, kept so
/// the dashboard and the API show the latest results without the scenario files or rules.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScenarioRun {
    pub id: i64,
    pub name: String,
    /// The scenario file it ran.
    pub scenario: String,
    pub run_at: DateTime<Utc>,
    /// The exercise the run opened (`--exercise`), if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exercise_id: Option<i64>,
    /// The report as JSON (ctem-paths' `ScenarioReport`: per step feasible, rules,
    /// detectable, proven, team).
    pub report: String,
}

/// What a task change records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskEvent {
    Ack,
    Complete,
}

/// Storage of exercises.
pub trait ExerciseStore {
    /// Opens an exercise with its tasks (their timestamps are ignored); returns its id.
    fn open_exercise(
        &mut self,
        name: &str,
        scenario: &str,
        at: DateTime<Utc>,
        tasks: &[ExerciseTask],
    ) -> Result<i64>;
    /// Every exercise, newest first, with its tasks.
    fn exercises(&self) -> Result<Vec<Exercise>>;
    fn exercise(&self, id: i64) -> Result<Option<Exercise>>;
    /// Records an acknowledgement or a completion of task `step` (a completion acknowledges
    /// too). Recording the same event twice is refused.
    fn update_task(
        &mut self,
        id: i64,
        step: i64,
        event: TaskEvent,
        at: DateTime<Utc>,
    ) -> Result<ExerciseTask>;
    /// Records a scenario run; returns its id.
    fn record_scenario_run(
        &mut self,
        name: &str,
        scenario: &str,
        at: DateTime<Utc>,
        exercise: Option<i64>,
        report: &str,
    ) -> Result<i64>;
    /// The newest `limit` scenario runs, newest first.
    fn scenario_runs(&self, limit: usize) -> Result<Vec<ScenarioRun>>;
}

/// The conformance case of [`ExerciseStore`], run by every backend: tasks keep their order and
/// fields, acknowledgement and completion are recorded once each, a completion acknowledges,
/// unknown tasks are not found.
pub fn conformance(store: &mut dyn crate::Store) {
    use chrono::TimeZone;
    let t0 = Utc.with_ymd_and_hms(2026, 1, 2, 10, 0, 0).unwrap();
    let task = |step: i64, team: &str| ExerciseTask {
        step,
        technique: format!("T100{step}"),
        title: format!("step {step}"),
        team: team.into(),
        response: (step == 2).then(|| "restore backups".to_string()),
        acked_at: Some(t0),
        completed_at: None,
    };
    let id = store
        .open_exercise(
            "drill",
            "s.yml",
            t0,
            &[task(1, "soc"), task(2, "it_operations")],
        )
        .expect("open");
    let x = store.exercise(id).expect("read").expect("exists");
    assert_eq!(
        (x.name.as_str(), x.opened_at, x.tasks.len()),
        ("drill", t0, 2)
    );
    assert!(
        x.tasks.iter().all(|t| t.acked_at.is_none()),
        "timestamps are not taken on open"
    );
    assert_eq!(x.tasks[1].response.as_deref(), Some("restore backups"));
    let t1 = t0 + chrono::Duration::minutes(7);
    let a = store.update_task(id, 1, TaskEvent::Ack, t1).expect("ack");
    assert_eq!((a.acked_at, a.completed_at), (Some(t1), None));
    assert!(store.update_task(id, 1, TaskEvent::Ack, t1).is_err());
    let t2 = t0 + chrono::Duration::minutes(30);
    let c = store
        .update_task(id, 2, TaskEvent::Complete, t2)
        .expect("complete");
    assert_eq!((c.acked_at, c.completed_at), (Some(t2), Some(t2)));
    assert!(store.update_task(id, 2, TaskEvent::Complete, t2).is_err());
    assert!(matches!(
        store.update_task(id, 3, TaskEvent::Ack, t2),
        Err(crate::Error::NotFound(_))
    ));
    let id2 = store
        .open_exercise("second", "s.yml", t2, &[])
        .expect("open");
    let all = store.exercises().expect("list");
    assert_eq!(all.iter().map(|x| x.id).collect::<Vec<_>>(), vec![id2, id]);
    assert!(store.exercise(id2 + 100).expect("read").is_none());
    let r1 = store
        .record_scenario_run("drill", "s.yml", t0, Some(id), "{\"steps\":[]}")
        .expect("run");
    let r2 = store
        .record_scenario_run("other", "o.yml", t2, None, "{}")
        .expect("run");
    let runs = store.scenario_runs(10).expect("runs");
    assert_eq!(runs.iter().map(|r| r.id).collect::<Vec<_>>(), vec![r2, r1]);
    assert_eq!(
        (runs[1].exercise_id, runs[1].run_at, runs[1].report.as_str()),
        (Some(id), t0, "{\"steps\":[]}")
    );
    assert_eq!(runs[0].exercise_id, None);
    assert_eq!(store.scenario_runs(1).expect("runs").len(), 1);
}
