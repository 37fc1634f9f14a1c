//! The measure routes of `/api/v1/`: incidents (list, detail, and the state change of
//! `ctem incident ID --set`, with its role rule), KPIs (current values and the daily
//! snapshots), goals with their status, and the assessment and review reports.
//!
//! The logic is ctem-measure's: a handler reads the clock, calls it on a pooled store and
//! shapes the answer. The dashboard pages call the same functions (`*_now`), so a page and
//! its API route never disagree.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::{Extension, Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, NaiveDate, Utc};
use ctem_measure::goals::{self, GoalStatus};
use ctem_measure::kpi::{self, Kpi};
use ctem_measure::report::assess::{Assessment, assess};
use ctem_measure::report::review::{self, Review};
use ctem_measure::report::{Doc, Format};
use ctem_model::{Incident, IncidentState};
use ctem_store::Store;
use ctem_store::measure::{IncidentEvent, ReviewRecord};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::{IntoParams, ToSchema};

use crate::AppState;
use crate::api::{Page, audit};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::routes::Caller;

/// The window goal trends are read from, in days (as `ctem goals`).
pub const TREND_DAYS: i64 = 28;

fn midnight(d: Option<NaiveDate>) -> Option<DateTime<Utc>> {
    d.and_then(|d| d.and_hms_opt(0, 0, 0)).map(|t| t.and_utc())
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct IncidentQuery {
    /// One state: new, acknowledged, contained, resolved, false_positive; or `open` (not
    /// resolved nor false positive)
    pub state: Option<String>,
    pub limit: Option<usize>,
    /// The id of the last incident of the previous page (incidents are newest first)
    pub cursor: Option<String>,
}

/// Every incident, newest first, after grouping the alerts no incident holds yet (as
/// `ctem incidents` does; the grouping is idempotent).
pub async fn incident_list(st: &AppState, q: IncidentQuery) -> ApiResult<Page<Incident>> {
    let want = match q.state.as_deref().filter(|s| !s.is_empty()) {
        None => None,
        Some("open") => Some(None),
        Some(s) => Some(Some(IncidentState::parse(s).ok_or_else(|| {
            ApiError::invalid(format!(
                "unknown state {s:?}: open, new, acknowledged, contained, resolved, false_positive"
            ))
        })?)),
    };
    let n = crate::api::limit(q.limit)?;
    let after = crate::api::id_cursor(q.cursor.as_deref())?;
    let grouping = st.settings().measure.incidents.clone();
    let rows = st
        .store(move |s| {
            ctem_measure::incidents::group(s, &grouping)?;
            Ok(s.incidents()?)
        })
        .await?;
    let items: Vec<Incident> = rows
        .into_iter()
        .filter(|i| after.is_none_or(|a| i.id.unwrap_or_default() < a))
        .filter(|i| match want {
            None => true,
            Some(None) => !i.state.is_closed(),
            Some(Some(s)) => i.state == s,
        })
        .take(n + 1)
        .collect();
    Ok(crate::api::page(items, n, |i| {
        i.id.unwrap_or_default().to_string()
    }))
}

/// Incidents, newest first.
#[utoipa::path(get, path = "/api/v1/incidents", params(IncidentQuery),
    responses((status = 200, body = crate::api::PageDoc), (status = 400, body = ErrorBody)))]
pub async fn incidents(
    State(st): State<AppState>,
    Query(q): Query<IncidentQuery>,
) -> ApiResult<Json<Page<Incident>>> {
    Ok(Json(incident_list(&st, q).await?))
}

/// One incident with the ids of its alerts and its state history.
#[derive(Debug, Clone, Serialize)]
pub struct IncidentDetail {
    pub incident: Incident,
    pub alert_ids: Vec<i64>,
    pub history: Vec<IncidentEvent>,
}

pub async fn incident_detail(st: &AppState, id: i64) -> ApiResult<IncidentDetail> {
    st.store(move |s| {
        let incident = s
            .incident(id)?
            .ok_or_else(|| ApiError::not_found(format!("incident {id}")))?;
        Ok(IncidentDetail {
            incident,
            alert_ids: s.incident_alert_ids(id)?,
            history: s.incident_events(id)?,
        })
    })
    .await
}

/// One incident: `incident`, `alert_ids`, `history` (as `ctem incident ID --json`).
#[utoipa::path(get, path = "/api/v1/incidents/{id}",
    responses((status = 200, body = Object), (status = 404, body = ErrorBody)))]
pub async fn incident(
    State(st): State<AppState>,
    Path(id): Path<i64>,
) -> ApiResult<Json<IncidentDetail>> {
    Ok(Json(incident_detail(&st, id).await?))
}

/// The new state of an incident.
#[derive(Debug, Deserialize, ToSchema)]
pub struct IncidentStateBody {
    /// new, acknowledged, contained, resolved or false_positive
    pub state: String,
}

/// Moves incident `id` to `state` as `caller`: the rules of `ctem incident ID --set` (any
/// state to any other, each state's time stamped once, resolving stamps the acknowledgement
/// too), the caller recorded as the actor, the change audited, and the day's KPI snapshot
/// taken if none exists yet. The route already checked `work_incidents`.
pub async fn set_state_as(
    st: &AppState,
    caller: Caller,
    id: i64,
    state: &str,
) -> ApiResult<Incident> {
    let to = IncidentState::parse(state).ok_or_else(|| {
        ApiError::invalid(format!(
            "unknown state {state:?}: new, acknowledged, contained, resolved, false_positive"
        ))
    })?;
    let kpi_cfg = st.settings().measure.kpi.clone();
    st.store(move |s| {
        let before = s
            .incident(id)?
            .ok_or_else(|| ApiError::not_found(format!("incident {id}")))?;
        let now = Utc::now();
        s.set_incident_state(id, to, now, Some(&caller.principal.name))?;
        // as stored (times in whole seconds), not as computed
        let inc = s
            .incident(id)?
            .ok_or_else(|| ApiError::not_found(format!("incident {id}")))?;
        audit(
            s,
            &caller,
            "incident.state",
            format!("incident {id}"),
            Some(json!({"from": before.state, "to": to})),
        )?;
        if let Err(e) = kpi::daily_snapshot(s, now, &kpi_cfg) {
            eprintln!("warning: kpi snapshot after incident {id}: {e}");
        }
        Ok(inc)
    })
    .await
}

/// Changes an incident's state (incident responders, admins and MDR partner tokens).
#[utoipa::path(patch, path = "/api/v1/incidents/{id}", request_body = IncidentStateBody,
    responses((status = 200, body = Object), (status = 400, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn patch_incident(
    State(st): State<AppState>,
    Extension(c): Extension<Caller>,
    Path(id): Path<i64>,
    Json(b): Json<IncidentStateBody>,
) -> ApiResult<Json<Incident>> {
    Ok(Json(set_state_as(&st, c, id, &b.state).await?))
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct KpiQuery {
    /// Windowed KPIs (MTTD, MTTR, incident frequency) count from this date (YYYY-MM-DD)
    #[param(value_type = Option<String>, format = Date)]
    pub since: Option<NaiveDate>,
}

/// The KPIs now: each a value with its sample size, or `null` with what is missing.
pub async fn kpis_now(st: &AppState, since: Option<NaiveDate>) -> ApiResult<Vec<Kpi>> {
    let cfg = st.settings().measure.kpi.clone();
    st.store(move |s| Ok(kpi::current(s, midnight(since), Utc::now(), &cfg)?.1))
        .await
}

/// Current KPIs (as `ctem kpi --json`).
#[utoipa::path(get, path = "/api/v1/kpis", params(KpiQuery),
    responses((status = 200, body = Vec<Object>), (status = 400, body = ErrorBody)))]
pub async fn kpis(
    State(st): State<AppState>,
    Query(q): Query<KpiQuery>,
) -> ApiResult<Json<Vec<Kpi>>> {
    Ok(Json(kpis_now(&st, q.since).await?))
}

/// One day's snapshot of every KPI.
#[derive(Debug, Clone, Serialize)]
pub struct SnapshotOut {
    pub day: String,
    pub taken_at: DateTime<Utc>,
    /// KPI id to value (`null` where it could not be computed that day).
    pub values: BTreeMap<String, Option<f64>>,
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SnapshotQuery {
    /// Only snapshots of this day or later (YYYY-MM-DD)
    #[param(value_type = Option<String>, format = Date)]
    pub since: Option<NaiveDate>,
}

pub async fn snapshots_since(
    st: &AppState,
    since: Option<NaiveDate>,
) -> ApiResult<Vec<SnapshotOut>> {
    let rows = st.store(|s| Ok(s.snapshots()?)).await?;
    let from = since.map(|d| d.format("%Y-%m-%d").to_string());
    let mut out = Vec::new();
    for snap in rows {
        if from.as_ref().is_some_and(|f| &snap.day < f) {
            continue;
        }
        out.push(SnapshotOut {
            values: kpi::snapshot_values(&snap)?,
            day: snap.day,
            taken_at: snap.taken_at,
        });
    }
    Ok(out)
}

/// The daily KPI snapshots, oldest first: the history trends are drawn from.
#[utoipa::path(get, path = "/api/v1/kpis/snapshots", params(SnapshotQuery),
    responses((status = 200, body = Vec<Object>)))]
pub async fn kpi_snapshots(
    State(st): State<AppState>,
    Query(q): Query<SnapshotQuery>,
) -> ApiResult<Json<Vec<SnapshotOut>>> {
    Ok(Json(snapshots_since(&st, q.since).await?))
}

/// The declared goals: met, on_track, at_risk, missed or unknown, with value and trend.
pub async fn goals_now(st: &AppState) -> ApiResult<Vec<GoalStatus>> {
    let m = st.settings().measure.clone();
    st.store(move |s| {
        let now = Utc::now();
        let (_, k) = kpi::current(s, None, now, &m.kpi)?;
        Ok(goals::evaluate(
            &m.goals,
            &k,
            &s.snapshots()?,
            now,
            TREND_DAYS,
        )?)
    })
    .await
}

/// Goals with their status (as `ctem goals --json`).
#[utoipa::path(get, path = "/api/v1/goals", responses((status = 200, body = Vec<Object>)))]
pub async fn goal_statuses(State(st): State<AppState>) -> ApiResult<Json<Vec<GoalStatus>>> {
    Ok(Json(goals_now(&st).await?))
}

/// The gap analysis of now (as `ctem assess`).
pub async fn assessment_now(st: &AppState) -> ApiResult<Assessment> {
    let m = st.settings().measure.clone();
    st.store(move |s| {
        let now = Utc::now();
        let (mut f, k) = kpi::current(s, None, now, &m.kpi)?;
        let g = goals::evaluate(&m.goals, &k, &s.snapshots()?, now, TREND_DAYS)?;
        s.source_facts(&mut f)?;
        Ok(assess(&f, &k, &g, now, &m.kpi))
    })
    .await
}

/// What changed since the last recorded review, as of now (as `ctem review` would write it,
/// but a read records nothing: `ctem review` records one).
pub async fn review_now(st: &AppState) -> ApiResult<(Review, Option<ReviewRecord>)> {
    let m = st.settings().measure.clone();
    st.store(move |s| review_of(s, &m)).await
}

fn review_of(
    s: &mut dyn Store,
    m: &ctem_core::settings::MeasureSettings,
) -> ApiResult<(Review, Option<ReviewRecord>)> {
    let now = Utc::now();
    let previous = s.last_review()?;
    let since = previous.as_ref().map(|p| p.at);
    let (f, _) = kpi::current(s, since, now, &m.kpi)?;
    let (_, k) = kpi::current(s, None, now, &m.kpi)?;
    let g = goals::evaluate(&m.goals, &k, &s.snapshots()?, now, TREND_DAYS)?;
    let mut r = review::review(&f, &k, &g, previous.as_ref(), since, now)?;
    r.add_exercises(&s.exercises()?);
    Ok((r, previous))
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ReportQuery {
    /// `json` (default), `md` or `html` (a self-contained document)
    pub format: Option<String>,
}

fn report(doc: Doc, value: serde_json::Value, format: Option<&str>) -> ApiResult<Response> {
    Ok(match format.unwrap_or("json") {
        "json" => Json(value).into_response(),
        "md" | "markdown" => (
            [(header::CONTENT_TYPE, "text/markdown; charset=utf-8")],
            doc.render(Format::Markdown),
        )
            .into_response(),
        "html" => (
            [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
            doc.render(Format::Html),
        )
            .into_response(),
        other => {
            return Err(ApiError::invalid(format!(
                "unknown format {other:?}: json, md or html"
            )));
        }
    })
}

/// The gap analysis as of now (as `ctem assess`), as data, Markdown or HTML.
#[utoipa::path(get, path = "/api/v1/assessment", params(ReportQuery),
    responses((status = 200, body = Object), (status = 400, body = ErrorBody)))]
pub async fn assessment(
    State(st): State<AppState>,
    Query(q): Query<ReportQuery>,
) -> ApiResult<Response> {
    let a = assessment_now(&st).await?;
    let v = serde_json::to_value(&a).map_err(ApiError::internal)?;
    report(a.doc(), v, q.format.as_deref())
}

/// The review since the last recorded one, as of now; `last_recorded` is that review's time.
#[utoipa::path(get, path = "/api/v1/review", params(ReportQuery),
    responses((status = 200, body = Object), (status = 400, body = ErrorBody)))]
pub async fn review(
    State(st): State<AppState>,
    Query(q): Query<ReportQuery>,
) -> ApiResult<Response> {
    let (r, prev) = review_now(&st).await?;
    let v = json!({"review": r, "last_recorded": prev.map(|p| p.at)});
    report(r.doc(), v, q.format.as_deref())
}
