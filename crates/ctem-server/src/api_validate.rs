//! The validate routes of `/api/v1/`: attack paths to the crown jewels and the choke points
//! that cut them (the graph of `ctem paths`, loaded by `ctem_core::validate::Model`), the
//! recorded scenario runs, and exercises whose tasks teams acknowledge and complete.

use axum::Json;
use axum::extract::{Extension, Path, Query, State};
use chrono::Utc;
use ctem_core::validate::Model;
use ctem_paths::query::{self, AttackPath, Chokepoints};
use ctem_store::exercise::{Exercise, ExerciseTask, TaskEvent};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::IntoParams;

use crate::AppState;
use crate::api::audit;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::routes::Caller;

/// Most paths a request may ask for per crown jewel (Yen's search grows with it).
pub const MAX_TOP: usize = 50;

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PathQuery {
    /// Only paths to this crown jewel (asset id or name)
    pub to: Option<String>,
    /// The most likely paths per crown jewel (default 3, at most 50)
    pub top: Option<usize>,
}

/// Attack paths, per crown jewel, most likely first.
#[derive(Debug, Clone, Serialize)]
pub struct PathsView {
    /// The crown jewels of the environment (criticality 5 or a crown-jewel tag).
    pub crown_jewels: Vec<String>,
    pub paths: Vec<AttackPath>,
    /// Why there are no paths to show, when there are none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

fn top(t: Option<usize>, default: usize) -> ApiResult<usize> {
    match t.unwrap_or(default) {
        0 => Err(ApiError::invalid("top must be at least 1")),
        n if n > MAX_TOP => Err(ApiError::invalid(format!("top must be at most {MAX_TOP}"))),
        n => Ok(n),
    }
}

const NO_JEWELS: &str = "no crown jewels: give assets criticality 5 or a tag of [paths] \
                         crown_jewel_tags (inventory import or [[paths.assets]] in ctem.toml)";

/// Paths and choke points from one load of the model: `k` paths per crown jewel (the
/// choke-point ranking reads them), the `top` best fixes.
pub async fn validate_now(
    st: &AppState,
    to: Option<String>,
    k: usize,
    fixes: usize,
) -> ApiResult<(PathsView, Chokepoints)> {
    let cfg = st.settings().paths.clone();
    st.store(move |s| {
        let m = Model::load(s, &cfg)?;
        let crown_jewels: Vec<String> = m
            .graph
            .goals
            .iter()
            .map(|(a, _)| m.env.assets[*a].name.clone())
            .collect();
        let only = match &to {
            Some(t) => {
                let i = m.env.find_asset(t).map_err(ctem_core::Error::from)?;
                if !m.graph.goals.iter().any(|(g, _)| *g == i) {
                    return Err(ApiError::invalid(format!(
                        "{} is not a crown jewel",
                        m.env.assets[i].name
                    )));
                }
                Some(i)
            }
            None => None,
        };
        let paths = if crown_jewels.is_empty() {
            Vec::new()
        } else {
            query::top_paths(&m.graph, &m.env, k, only)
        };
        let choke = query::chokepoints_of(&m.graph, &m.env, &paths, fixes);
        let note = if crown_jewels.is_empty() {
            Some(NO_JEWELS.to_string())
        } else if paths.is_empty() {
            Some("no attack path reaches a crown jewel".to_string())
        } else {
            None
        };
        Ok((
            PathsView {
                crown_jewels,
                paths,
                note,
            },
            choke,
        ))
    })
    .await
}

/// The most likely attack paths to each crown jewel (as `ctem paths --json`, with the list
/// of crown jewels).
#[utoipa::path(get, path = "/api/v1/paths", params(PathQuery),
    responses((status = 200, body = Object), (status = 400, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub async fn paths(
    State(st): State<AppState>,
    Query(q): Query<PathQuery>,
) -> ApiResult<Json<PathsView>> {
    let k = top(q.top, 3)?;
    Ok(Json(validate_now(&st, q.to, k, 0).await?.0))
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ChokeQuery {
    /// Fixes in the ranking (default 10, at most 50)
    pub top: Option<usize>,
    /// Paths per crown jewel the ranking reads (default 10, at most 50)
    pub paths: Option<usize>,
}

/// The minimum cut of exposures and the greedy ranking of fixes (as `ctem chokepoints
/// --json`).
#[utoipa::path(get, path = "/api/v1/chokepoints", params(ChokeQuery),
    responses((status = 200, body = Object), (status = 400, body = ErrorBody)))]
pub async fn chokepoints(
    State(st): State<AppState>,
    Query(q): Query<ChokeQuery>,
) -> ApiResult<Json<Chokepoints>> {
    let (k, n) = (top(q.paths, 10)?, top(q.top, 10)?);
    Ok(Json(validate_now(&st, None, k, n).await?.1))
}

/// A recorded scenario run with its report.
#[derive(Debug, Clone, Serialize)]
pub struct RunOut {
    pub id: i64,
    pub name: String,
    pub scenario: String,
    pub run_at: chrono::DateTime<Utc>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exercise_id: Option<i64>,
    /// Per step: technique, feasible, rules, detectable, proven, team, evidence.
    pub report: Value,
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RunQuery {
    /// Newest runs to return (default 20, at most 200)
    pub limit: Option<usize>,
}

pub async fn runs_now(st: &AppState, limit: usize) -> ApiResult<Vec<RunOut>> {
    let rows = st.store(move |s| Ok(s.scenario_runs(limit)?)).await?;
    rows.into_iter()
        .map(|r| {
            let report = serde_json::from_str(&r.report).map_err(|e| {
                ApiError::internal(format!("scenario run {}: stored report: {e}", r.id))
            })?;
            Ok(RunOut {
                id: r.id,
                name: r.name,
                scenario: r.scenario,
                run_at: r.run_at,
                exercise_id: r.exercise_id,
                report,
            })
        })
        .collect()
}

/// Scenario runs recorded by `ctem scenario run`, newest first.
#[utoipa::path(get, path = "/api/v1/scenarios", params(RunQuery),
    responses((status = 200, body = Vec<Object>), (status = 400, body = ErrorBody)))]
pub async fn scenarios(
    State(st): State<AppState>,
    Query(q): Query<RunQuery>,
) -> ApiResult<Json<Vec<RunOut>>> {
    let n = match q.limit.unwrap_or(20) {
        n @ 1..=200 => n,
        _ => return Err(ApiError::invalid("limit must be 1 to 200")),
    };
    Ok(Json(runs_now(&st, n).await?))
}

/// Exercises opened by `ctem scenario run --exercise`, newest first, with their tasks.
#[utoipa::path(get, path = "/api/v1/exercises", responses((status = 200, body = Vec<Object>)))]
pub async fn exercises(State(st): State<AppState>) -> ApiResult<Json<Vec<Exercise>>> {
    Ok(Json(st.store(|s| Ok(s.exercises()?)).await?))
}

/// One exercise with its tasks.
#[utoipa::path(get, path = "/api/v1/exercises/{id}",
    responses((status = 200, body = Object), (status = 404, body = ErrorBody)))]
pub async fn exercise(
    State(st): State<AppState>,
    Path(id): Path<i64>,
) -> ApiResult<Json<Exercise>> {
    st.store(move |s| {
        s.exercise(id)?
            .map(Json)
            .ok_or_else(|| ApiError::not_found(format!("exercise {id}")))
    })
    .await
}

/// Records that the team acknowledged or completed task `step` of exercise `id`, as
/// `caller`, audited. Recording the same event twice is refused (422).
pub async fn task_event_as(
    st: &AppState,
    caller: Caller,
    id: i64,
    step: i64,
    event: TaskEvent,
) -> ApiResult<ExerciseTask> {
    st.store(move |s| {
        let t = s.update_task(id, step, event, Utc::now())?;
        let what = match event {
            TaskEvent::Ack => "exercise.ack",
            TaskEvent::Complete => "exercise.complete",
        };
        audit(
            s,
            &caller,
            what,
            format!("exercise {id} task {step}"),
            Some(json!({"team": t.team, "technique": t.technique})),
        )?;
        Ok(t)
    })
    .await
}

/// Acknowledges a task: the team has seen it (as `ctem exercise ack ID STEP`).
#[utoipa::path(post, path = "/api/v1/exercises/{id}/tasks/{step}/ack",
    responses((status = 200, body = Object), (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
pub async fn ack_task(
    State(st): State<AppState>,
    Extension(c): Extension<Caller>,
    Path((id, step)): Path<(i64, i64)>,
) -> ApiResult<Json<ExerciseTask>> {
    Ok(Json(task_event_as(&st, c, id, step, TaskEvent::Ack).await?))
}

/// Completes a task (and acknowledges it if it was not), as `ctem exercise complete ID STEP`.
#[utoipa::path(post, path = "/api/v1/exercises/{id}/tasks/{step}/complete",
    responses((status = 200, body = Object), (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
pub async fn complete_task(
    State(st): State<AppState>,
    Extension(c): Extension<Caller>,
    Path((id, step)): Path<(i64, i64)>,
) -> ApiResult<Json<ExerciseTask>> {
    Ok(Json(
        task_event_as(&st, c, id, step, TaskEvent::Complete).await?,
    ))
}
