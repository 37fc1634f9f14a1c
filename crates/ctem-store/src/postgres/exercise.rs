//! Attack-scenario exercises on PostgreSQL (the counterpart of `sqlite/exercise.rs`).

use chrono::{DateTime, Utc};

use super::{PgStore, ts};
use crate::exercise::{Exercise, ExerciseStore, ExerciseTask, ScenarioRun, TaskEvent};
use crate::{Error, Result};

impl PgStore {
    fn tasks_of(&self, id: i64) -> Result<Vec<ExerciseTask>> {
        let rows = self.db().query(
            "SELECT step, technique, title, team, response, acked_at, completed_at
             FROM exercise_tasks WHERE exercise_id = $1 ORDER BY step",
            &[&id],
        )?;
        Ok(rows
            .iter()
            .map(|r| ExerciseTask {
                step: r.get(0),
                technique: r.get(1),
                title: r.get(2),
                team: r.get(3),
                response: r.get(4),
                acked_at: r.get::<_, Option<i64>>(5).map(ts),
                completed_at: r.get::<_, Option<i64>>(6).map(ts),
            })
            .collect())
    }

    fn exercise_rows(&self, id: Option<i64>) -> Result<Vec<Exercise>> {
        let heads = self.db().query(
            "SELECT id, name, scenario, opened_at FROM exercises
             WHERE $1::bigint IS NULL OR id = $1 ORDER BY id DESC",
            &[&id],
        )?;
        let mut out = Vec::with_capacity(heads.len());
        for r in heads {
            let id: i64 = r.get(0);
            out.push(Exercise {
                id,
                name: r.get(1),
                scenario: r.get(2),
                opened_at: ts(r.get(3)),
                tasks: self.tasks_of(id)?,
            });
        }
        Ok(out)
    }
}

impl ExerciseStore for PgStore {
    fn open_exercise(
        &mut self,
        name: &str,
        scenario: &str,
        at: DateTime<Utc>,
        tasks: &[ExerciseTask],
    ) -> Result<i64> {
        let mut db = self.db();
        let mut tx = db.transaction()?;
        let id: i64 = tx
            .query_one(
                "INSERT INTO exercises(name, scenario, opened_at) VALUES ($1, $2, $3) RETURNING id",
                &[&name, &scenario, &at.timestamp()],
            )?
            .get(0);
        let st = tx.prepare(
            "INSERT INTO exercise_tasks(exercise_id, step, technique, title, team, response)
             VALUES ($1, $2, $3, $4, $5, $6)",
        )?;
        for t in tasks {
            tx.execute(
                &st,
                &[&id, &t.step, &t.technique, &t.title, &t.team, &t.response],
            )?;
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
        {
            let mut db = self.db();
            let mut tx = db.transaction()?;
            let cur = tx.query_opt(
                "SELECT acked_at, completed_at FROM exercise_tasks
                 WHERE exercise_id = $1 AND step = $2 FOR UPDATE",
                &[&id, &step],
            )?;
            let Some(cur) = cur else {
                return Err(Error::NotFound(format!("exercise {id} task {step}")));
            };
            let (acked, completed): (Option<i64>, Option<i64>) = (cur.get(0), cur.get(1));
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
                TaskEvent::Ack => tx.execute(
                    "UPDATE exercise_tasks SET acked_at = $3 WHERE exercise_id = $1 AND step = $2",
                    &[&id, &step, &now],
                )?,
                TaskEvent::Complete => tx.execute(
                    "UPDATE exercise_tasks SET acked_at = coalesce(acked_at, $3), completed_at = $3
                     WHERE exercise_id = $1 AND step = $2",
                    &[&id, &step, &now],
                )?,
            };
            tx.commit()?;
        }
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
        let row = self.db().query_one(
            "INSERT INTO scenario_runs(name, scenario, run_at, exercise_id, report)
             VALUES ($1, $2, $3, $4, $5) RETURNING id",
            &[&name, &scenario, &at.timestamp(), &exercise, &report],
        )?;
        Ok(row.get(0))
    }

    fn scenario_runs(&self, limit: usize) -> Result<Vec<ScenarioRun>> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = self.db().query(
            "SELECT id, name, scenario, run_at, exercise_id, report FROM scenario_runs
             ORDER BY id DESC LIMIT $1",
            &[&limit],
        )?;
        Ok(rows
            .iter()
            .map(|r| ScenarioRun {
                id: r.get(0),
                name: r.get(1),
                scenario: r.get(2),
                run_at: ts(r.get(3)),
                exercise_id: r.get(4),
                report: r.get(5),
            })
            .collect())
    }
}
