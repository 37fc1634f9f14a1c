//! Dashboard pages of the measure stage: incidents (list, detail, the state-change form),
//! KPIs with their trends drawn from the daily snapshots, goals, and the assessment and
//! review reports. Each page calls the function its API route calls (`api_measure`), so the
//! two say the same; forms carry the session's CSRF token and show only to roles that may
//! use them.

use std::fmt::Write as _;

use axum::Form;
use axum::Router;
use axum::extract::{Extension, Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use ctem_measure::report::Doc;
use ctem_model::IncidentState;
use ctem_model::work::Action;
use serde::Deserialize;

use crate::AppState;
use crate::api_measure::{self as m, IncidentQuery};
use crate::auth::authorize;
use crate::dashboard::{csrf, error_page, frame, select};
use crate::routes::Caller;
use crate::svg;
use crate::web::esc;

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/incidents", get(incidents))
        .route("/incidents/{id}", get(incident))
        .route("/incidents/{id}/state", post(set_state))
        .route("/kpis", get(kpis))
        .route("/goals", get(goals))
        .route("/assessment", get(assessment))
        .route("/review", get(review))
}

fn time(t: Option<chrono::DateTime<chrono::Utc>>) -> String {
    t.map(|t| t.format("%Y-%m-%d %H:%M").to_string())
        .unwrap_or_default()
}

const STATE_FILTER: &[&str] = &[
    "open",
    "",
    "new",
    "acknowledged",
    "contained",
    "resolved",
    "false_positive",
];

async fn incidents(
    State(st): State<AppState>,
    Extension(c): Extension<Caller>,
    Query(mut q): Query<IncidentQuery>,
) -> Response {
    q.limit = Some(100);
    let shown = q.state.clone();
    let page = match m::incident_list(&st, q).await {
        Ok(p) => p,
        Err(e) => return error_page(&c, e),
    };
    let mut s = format!(
        "<form class=\"filters\" method=\"get\" action=\"/incidents\" role=\"search\">\
         <label>state (empty: all){}</label><button type=\"submit\" id=\"f-apply\">apply</button></form>\
         <table id=\"incidents\"><thead><tr><th>id</th><th>severity</th><th>state</th><th>owner</th>\
         <th>alerts</th><th>first event</th><th>detected</th><th>title</th></tr></thead><tbody>",
        select("state", shown.as_deref(), STATE_FILTER)
    );
    for i in &page.items {
        let id = i.id.unwrap_or_default();
        let _ = write!(
            s,
            "<tr id=\"i{id}\"><td class=\"n\">{id}</td><td class=\"sev-{sev}\">{sev}</td><td class=\"state\">{}</td>\
             <td>{}</td><td class=\"n\">{}</td><td>{}</td><td>{}</td><td><a href=\"/incidents/{id}\">{}</a></td></tr>",
            i.state,
            esc(i.owner.as_deref().unwrap_or("")),
            i.alerts,
            time(Some(i.first_event)),
            time(Some(i.detected_at)),
            esc(&i.title),
            sev = esc(&i.severity),
        );
    }
    s.push_str("</tbody></table>");
    if page.items.is_empty() {
        s.push_str(
            "<p>No incidents match: alerts stored by <code>ctem detect --store</code> or posted \
             to <code>/api/v1/events</code> are grouped into incidents.</p>",
        );
    }
    if let Some(next) = &page.next_cursor {
        let state = shown.as_deref().unwrap_or("");
        let _ = write!(
            s,
            "<p class=\"pager\"><a id=\"next\" href=\"/incidents?state={}&amp;cursor={}\">next page →</a></p>",
            esc(state),
            esc(next)
        );
    }
    frame(&c, "/incidents", "Incidents", &s).into_response()
}

async fn incident(
    State(st): State<AppState>,
    Extension(c): Extension<Caller>,
    Path(id): Path<i64>,
) -> Response {
    let d = match m::incident_detail(&st, id).await {
        Ok(d) => d,
        Err(e) => return error_page(&c, e),
    };
    let i = &d.incident;
    let mut s = String::from("<dl id=\"incident\">");
    for (k, v) in [
        (
            "severity",
            format!("<span class=\"sev-{0}\">{0}</span>", esc(&i.severity)),
        ),
        (
            "state",
            format!("<span id=\"incident-state-now\">{}</span>", i.state),
        ),
        (
            "owner",
            esc(i
                .owner
                .as_deref()
                .unwrap_or("none: add an incident_responder")),
        ),
        (
            "grouped by",
            esc(&format!("{} = {}", i.key_kind, i.key_value)),
        ),
        ("first event", time(Some(i.first_event))),
        ("detected at", time(Some(i.detected_at))),
        ("acknowledged", time(i.acknowledged_at)),
        ("contained", time(i.contained_at)),
        ("resolved", time(i.resolved_at)),
        (
            "alerts",
            format!("{} (ids {})", i.alerts, join_ids(&d.alert_ids)),
        ),
    ] {
        let _ = write!(s, "<dt>{k}</dt><dd>{v}</dd>");
    }
    s.push_str("</dl>");
    if authorize(&c.principal, Action::WorkIncidents, &[]) {
        let options: Vec<&str> = IncidentState::ALL
            .iter()
            .filter(|x| **x != i.state)
            .map(|x| x.as_str())
            .collect();
        let _ = write!(
            s,
            "<h2>Change the state</h2><form class=\"inline\" method=\"post\" action=\"/incidents/{id}/state\">\
             <input type=\"hidden\" name=\"csrf\" value=\"{}\"><label class=\"inline\">to {}</label>\
             <button type=\"submit\" id=\"incident-set\">set</button></form>",
            esc(&csrf(&c)),
            select("state", None, &options).replace("id=\"f-state\"", "id=\"incident-state\"")
        );
    }
    s.push_str("<h2>History</h2><table id=\"history\"><tr><th>when</th><th>from</th><th>to</th><th>by</th></tr>");
    for e in &d.history {
        let _ = write!(
            s,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            time(Some(e.at)),
            e.from,
            e.to,
            esc(e.actor.as_deref().unwrap_or(""))
        );
    }
    s.push_str("</table>");
    frame(&c, "/incidents", &format!("Incident {id}: {}", i.title), &s).into_response()
}

fn join_ids(ids: &[i64]) -> String {
    ids.iter()
        .map(|i| i.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

#[derive(Debug, Deserialize)]
struct StateForm {
    state: String,
}

async fn set_state(
    State(st): State<AppState>,
    Extension(c): Extension<Caller>,
    Path(id): Path<i64>,
    Form(f): Form<StateForm>,
) -> Response {
    match m::set_state_as(&st, c.clone(), id, &f.state).await {
        Ok(_) => Redirect::to(&format!("/incidents/{id}")).into_response(),
        Err(e) => error_page(&c, e),
    }
}

/// Days of snapshots the KPI charts show.
const CHART_DAYS: i64 = 90;

async fn kpis(State(st): State<AppState>, Extension(c): Extension<Caller>) -> Response {
    let since = (chrono::Utc::now() - chrono::Duration::days(CHART_DAYS)).date_naive();
    let got = async {
        Ok::<_, crate::error::ApiError>((
            m::kpis_now(&st, None).await?,
            m::snapshots_since(&st, Some(since)).await?,
        ))
    }
    .await;
    let (kpis, snaps) = match got {
        Ok(x) => x,
        Err(e) => return error_page(&c, e),
    };
    let mut s = format!(
        "<p>{} daily snapshots in the last {CHART_DAYS} days (taken by every command that \
         changes data and by <code>ctem kpi --snapshot</code>). A KPI that cannot be computed \
         says what is missing; no value is drawn as zero.</p><h2>Trends</h2><div class=\"charts\">",
        snaps.len()
    );
    for k in &kpis {
        let points: Vec<(String, Option<f64>)> = snaps
            .iter()
            .map(|x| (x.day.clone(), x.values.get(&k.id).copied().flatten()))
            .collect();
        if points.iter().all(|p| p.1.is_none()) {
            continue;
        }
        let id = format!("trend-{}", k.id.replace('.', "-"));
        let _ = write!(
            s,
            "<figure>{}<figcaption>{} <code>{}</code></figcaption></figure>",
            svg::trend(&id, &k.title, &k.unit, &points),
            esc(&k.title),
            esc(&k.id)
        );
    }
    s.push_str("</div><h2>Now</h2><table id=\"kpis\"><tr><th>KPI</th><th>id</th><th>value</th><th>unit</th><th>n</th><th>note</th></tr>");
    for k in &kpis {
        let _ = write!(
            s,
            "<tr id=\"k-{}\"><td>{}</td><td><code>{}</code></td><td class=\"n\">{}</td><td>{}</td><td class=\"n\">{}</td><td>{}</td></tr>",
            esc(&k.id.replace('.', "-")),
            esc(&k.title),
            esc(&k.id),
            k.value.map(svg::num).unwrap_or_else(|| "n/a".into()),
            esc(&k.unit),
            k.n.map(|n| n.to_string()).unwrap_or_default(),
            k.missing
                .as_deref()
                .map(|m| format!("cannot compute: {}", esc(m)))
                .unwrap_or_default()
        );
    }
    s.push_str("</table>");
    frame(&c, "/kpis", "KPIs", &s).into_response()
}

fn status_class(status: &str) -> &'static str {
    match status {
        "met" => "ok",
        "on_track" | "at_risk" => "warn",
        "missed" | "unknown" => "bad",
        _ => "",
    }
}

async fn goals(State(st): State<AppState>, Extension(c): Extension<Caller>) -> Response {
    let g = match m::goals_now(&st).await {
        Ok(g) => g,
        Err(e) => return error_page(&c, e),
    };
    let mut s = String::from("<section class=\"cards\" aria-label=\"goal status\">");
    for status in ["met", "on_track", "at_risk", "missed", "unknown"] {
        let n = g.iter().filter(|x| x.status.as_str() == status).count();
        let _ = write!(
            s,
            "<div class=\"card {}\" id=\"goals-{status}\"><b>{n}</b>{}</div>",
            status_class(status),
            status.replace('_', " ")
        );
    }
    s.push_str("</section><table id=\"goals\"><tr><th>goal</th><th>owner</th><th>due</th><th>value</th><th>trend a week</th><th>projected</th><th>status</th><th>what moves it</th></tr>");
    for x in &g {
        let opt = |v: Option<f64>| v.map(svg::num).unwrap_or_else(|| "n/a".into());
        let _ = write!(
            s,
            "<tr><td><code>{} {} {}</code></td><td>{}</td><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td>\
             <td class=\"n\">{}</td><td class=\"status {cls}\">{}</td><td>{}{}</td></tr>",
            esc(&x.goal.kpi),
            esc(&x.goal.op),
            svg::num(x.goal.target),
            esc(x.goal.owner.as_deref().unwrap_or("")),
            x.goal.due.map(|d| d.to_string()).unwrap_or_default(),
            opt(x.value),
            opt(x.trend_per_week),
            opt(x.projected),
            x.status.as_str(),
            esc(&x.moves),
            x.missing
                .as_deref()
                .map(|m| format!(" (missing: {})", esc(m)))
                .unwrap_or_default(),
            cls = status_class(x.status.as_str()),
        );
    }
    s.push_str("</table>");
    if g.is_empty() {
        s.push_str("<p>No goals: add <code>[[goals]]</code> to ctem.toml (kpi, op, target, owner, due; see docs/kpis.md).</p>");
    }
    frame(&c, "/goals", "Goals", &s).into_response()
}

/// A report's sections inside the dashboard frame (the same document `ctem assess --format
/// html` writes, without its own page and stylesheet).
fn doc_html(d: &Doc) -> String {
    let mut s = format!("<p class=\"sub\">{}</p>", esc(&d.subtitle));
    for sec in &d.sections {
        let _ = write!(s, "<section><h2>{}</h2>", esc(&sec.title));
        for p in &sec.paragraphs {
            let _ = write!(s, "<p>{}</p>", esc(p));
        }
        if !sec.chart.is_empty() {
            s.push_str(&ctem_measure::report::svg_bars(&sec.chart));
        }
        if !sec.head.is_empty() {
            s.push_str("<table><tr>");
            for h in &sec.head {
                let _ = write!(s, "<th>{}</th>", esc(h));
            }
            s.push_str("</tr>");
            for r in &sec.rows {
                s.push_str("<tr>");
                for cell in r {
                    let cls = match cell.as_str() {
                        "flowing" | "fresh" => "ok",
                        "silent" | "stale" => "warn",
                        "never seen" => "bad",
                        other => status_class(other),
                    };
                    let _ = write!(s, "<td class=\"{cls}\">{}</td>", esc(cell));
                }
                s.push_str("</tr>");
            }
            s.push_str("</table>");
        }
        s.push_str("</section>");
    }
    s
}

async fn assessment(State(st): State<AppState>, Extension(c): Extension<Caller>) -> Response {
    match m::assessment_now(&st).await {
        Ok(a) => {
            let body = format!(
                "<p>Computed now from the store. The same report: <code>ctem assess --format html</code> \
                 or <a href=\"/api/v1/assessment?format=html\">/api/v1/assessment?format=html</a>.</p><div id=\"report\">{}</div>",
                doc_html(&a.doc())
            );
            frame(&c, "/assessment", "Assessment", &body).into_response()
        }
        Err(e) => error_page(&c, e),
    }
}

async fn review(State(st): State<AppState>, Extension(c): Extension<Caller>) -> Response {
    match m::review_now(&st).await {
        Ok((r, prev)) => {
            let last = match prev {
                Some(p) => format!(
                    "since the last recorded review of {}",
                    p.at.format("%Y-%m-%d %H:%M")
                ),
                None => "no review recorded yet: everything counts as new".into(),
            };
            let body = format!(
                "<p>What changed {last}. Reading this page records nothing; <code>ctem review</code> \
                 records a review (weekly from cron or the scheduler).</p><div id=\"report\">{}</div>",
                doc_html(&r.doc())
            );
            frame(&c, "/review", "Review", &body).into_response()
        }
        Err(e) => error_page(&c, e),
    }
}
