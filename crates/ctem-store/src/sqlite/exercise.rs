//! SQLite side of [`crate::exercise::ExerciseStore`].

use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, params};

use super::SqliteStore;
use crate::exercise::{Exercise, ExerciseStore, ExerciseTask, ScenarioRun, TaskEvent};
use crate::{Error, Result};

pub const MIGRATION_60: &str = r#"
CREATE TABLE exercises (
    id        INTEGER PRIMARY KEY,
    name      TEXT    NOT NULL,
    scenario  TEXT    NOT NULL,
    opened_at INTEGER NOT NULL
);
CREATE TABLE exercise_tasks (
    exercise_id  INTEGER NOT NULL REFERENCES exercises(id) ON DELETE CASCADE,
    step         INTEGER NOT NULL,
    technique    TEXT    NOT NULL,
    title        TEXT    NOT NULL,
    team         TEXT    NOT NULL,
    response     TEXT,
    acked_at     INTEGER,
    completed_at INTEGER,
    PRIMARY KEY (exercise_id, step)
) WITHOUT ROWID;
"#;

/// Scenario runs as `ctem scenario run` records them (the report is JSON).
pub const MIGRATION_71: &str = r#"
CREATE TABLE scenario_runs (
    id          INTEGER PRIMARY KEY,
    name        TEXT    NOT NULL,
    scenario    TEXT    NOT NULL,
    run_at      INTEGER NOT NULL,
    exercise_id INTEGER REFERENCES exercises(id) ON DELETE SET NULL,
    report      TEXT    NOT NULL
);
"#;

fn ts(t: Option<i64>) -> Option<DateTime<Utc>> {
    t.and_then(|s| DateTime::from_timestamp(s, 0))
}

impl SqliteStore {
    fn tasks_of(&self, id: i64) -> Result<Vec<ExerciseTask>> {
        let mut st = self.conn.prepare_cached(
            "SELECT step, technique, title, team, response, acked_at, completed_at
             FROM exercise_tasks WHERE exercise_id = ?1 ORDER BY step",
        )?;
        let rows = st.query_map([id], |r| {
            Ok(ExerciseTask {
                step: r.get(0)?,
                technique: r.get(1)?,
                title: r.get(2)?,
                team: r.get(3)?,
                response: r.get(4)?,
                acked_at: ts(r.get(5)?),
                completed_at: ts(r.get(6)?),
            })
        })?;
        Ok(rows.collect::<std::result::Result<_, _>>()?)
    }

    fn exercise_rows(&self, id: Option<i64>) -> Result<Vec<Exercise>> {
        let mut st = self.conn.prepare(
            "SELECT id, name, scenario, opened_at FROM exercises
             WHERE ?1 IS NULL OR id = ?1 ORDER BY id DESC",
        )?;
        let heads: Vec<(i64, String, String, i64)> = st
            .query_map([id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?
            .collect::<std::result::Result<_, _>>()?;
        let mut out = Vec::new();
        for (id, name, scenario, opened) in heads {
            out.push(Exercise {
                id,
                name,
                scenario,
                opened_at: ts(Some(opened)).unwrap_or_default(),
                tasks: self.tasks_of(id)?,
            });
        }
        Ok(out)
    }
}

impl ExerciseStore for SqliteStore {
    fn open_exercise(
        &mut self,
        name: &str,
        scenario: &str,
        at: DateTime<Utc>,
        tasks: &[ExerciseTask],
    ) -> Result<i64> {
        let tx = self.conn.transaction()?;
        tx.execute(
            "INSERT INTO exercises(name, scenario, opened_at) VALUES (?1, ?2, ?3)",
            params![name, scenario, at.timestamp()],
        )?;
        let id = tx.last_insert_rowid();
        {
            let mut st = tx.prepare(
                "INSERT INTO exercise_tasks(exercise_id, step, technique, title, team, response)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?;
            for t in tasks {
                st.execute(params![
                    id,
                    t.step,
                    t.technique,
                    t.title,
                    t.team,
                    t.response
                ])?;
            }
        }
        tx.commit()?;
        Ok(id)
    }

    fn exercises(&self) -> Result<Vec<Exercise>> {
        self.exercise_rows(None)
    }

    fn exercise(&self, id: i64) -> Result<Option<Exercise>> {
        Ok(self.exercise_rows(Some(id))?.pop())
    }

    fn update_task(
        &mut self,
        id: i64,
        step: i64,
        event: TaskEvent,
        at: DateTime<Utc>,
    ) -> Result<ExerciseTask> {
        let cur: Option<(Option<i64>, Option<i64>)> = self
            .conn
            .query_row(
                "SELECT acked_at, completed_at FROM exercise_tasks
                 WHERE exercise_id = ?1 AND step = ?2",
                params![id, step],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        let Some((acked, completed)) = cur else {
            return Err(Error::NotFound(format!("exercise {id} task {step}")));
        };
        let now = at.timestamp();
        match event {
            TaskEvent::Ack if acked.is_some() => {
                return Err(Error::Invalid(format!(
                    "exercise {id} task {step} is already acknowledged"
                )));
            }
            TaskEvent::Complete if completed.is_some() => {
                return Err(Error::Invalid(format!(
                    "exercise {id} task {step} is already completed"
                )));
            }
            TaskEvent::Ack => self.conn.execute(
                "UPDATE exercise_tasks SET acked_at = ?3 WHERE exercise_id = ?1 AND step = ?2",
                params![id, step, now],
            )?,
            TaskEvent::Complete => self.conn.execute(
                "UPDATE exercise_tasks SET acked_at = COALESCE(acked_at, ?3), completed_at = ?3
                 WHERE exercise_id = ?1 AND step = ?2",
                params![id, step, now],
            )?,
        };
        self.tasks_of(id)?
            .into_iter()
            .find(|t| t.step == step)
            .ok_or_else(|| Error::NotFound(format!("exercise {id} task {step}")))
    }

    fn record_scenario_run(
        &mut self,
        name: &str,
        scenario: &str,
        at: DateTime<Utc>,
        exercise: Option<i64>,
        report: &str,
    ) -> Result<i64> {
        self.conn.execute(
            "INSERT INTO scenario_runs(name, scenario, run_at, exercise_id, report)
             VALUES (?1, ?2, ?3, ?4, ?5)",
            params![name, scenario, at.timestamp(), exercise, report],
        )?;
        Ok(self.conn.last_insert_rowid())
    }

    fn scenario_runs(&self, limit: usize) -> Result<Vec<ScenarioRun>> {
        let mut st = self.conn.prepare(
            "SELECT id, name, scenario, run_at, exercise_id, report FROM scenario_runs
             ORDER BY id DESC LIMIT ?1",
        )?;
        let rows = st.query_map([limit as i64], |r| {
            Ok(ScenarioRun {
                id: r.get(0)?,
                name: r.get(1)?,
                scenario: r.get(2)?,
                run_at: ts(Some(r.get(3)?)).unwrap_or_default(),
                exercise_id: r.get(4)?,
                report: r.get(5)?,
            })
        })?;
        Ok(rows.collect::<std::result::Result<_, _>>()?)
    }
}
