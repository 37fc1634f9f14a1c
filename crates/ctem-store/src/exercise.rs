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
}
