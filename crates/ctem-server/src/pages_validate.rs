//! Dashboard pages of the validate stage: attack paths as an SVG graph with the choke points,
//! and the scenario runs and exercises with their acknowledge and complete buttons. Each
//! page calls the function its API route calls (`api_validate`).

use std::fmt::Write as _;

use axum::Router;
use axum::extract::{Extension, Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use ctem_model::work::Action;
use ctem_store::exercise::{Exercise, TaskEvent};
use serde_json::Value;

use crate::AppState;
use crate::api_validate::{self as v, PathQuery};
use crate::auth::authorize;
use crate::dashboard::{csrf, error_page, frame};
use crate::routes::Caller;
use crate::svg;
use crate::web::esc;

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/paths", get(paths))
        .route("/scenarios", get(scenarios))
        .route("/exercises/{id}/tasks/{step}/ack", post(ack))
        .route("/exercises/{id}/tasks/{step}/complete", post(complete))
}

/// Paths per crown jewel the choke-point ranking of the page reads (as `ctem chokepoints`).
const RANKED_PATHS: usize = 10;

async fn paths(
    State(st): State<AppState>,
    Extension(c): Extension<Caller>,
    Query(q): Query<PathQuery>,
) -> Response {
    let shown = q.top.unwrap_or(3).clamp(1, v::MAX_TOP);
    let got = v::validate_now(&st, q.to.clone(), RANKED_PATHS.max(shown), 10).await;
    let (view, choke) = match got {
        Ok(x) => x,
        Err(e) => return error_page(&c, e),
    };
    let mut s = format!(
        "<p>Crown jewels: {}. The {shown} most likely paths to each are drawn; choke points \
         (exposures of the minimum cut, or the best fixes when no cut exists) are red.</p>",
        if view.crown_jewels.is_empty() {
            "none".to_string()
        } else {
            esc(&view.crown_jewels.join(", "))
        }
    );
    if let Some(n) = &view.note {
        let _ = write!(s, "<p id=\"paths-note\">{}</p>", esc(n));
    }
    // the drawn paths: the first `shown` of each crown jewel
    let mut drawn = Vec::new();
    for j in &view.crown_jewels {
        drawn.extend(
            view.paths
                .iter()
                .filter(|p| &p.target == j)
                .take(shown)
                .cloned(),
        );
    }
    let cut: Vec<i64> = match &choke.min_cut {
        Some(c) if !c.is_empty() => c.clone(),
        _ => choke.ranking.iter().take(3).map(|f| f.exposure).collect(),
    };
    if !drawn.is_empty() {
        let _ = write!(
            s,
            "<div class=\"legend\"><span><i style=\"background:#fff8c5\"></i>entry</span>\
             <span><i style=\"background:#ffebe9\"></i>crown jewel</span>\
             <span><i style=\"background:#cf222e\"></i>step through a choke point</span></div>\
             <div class=\"graph\">{}</div>",
            svg::path_graph(&drawn, &cut)
        );
    }
    s.push_str(&chokepoint_table(&choke));
    s.push_str("<h2>Paths</h2><table id=\"paths\"><tr><th>crown jewel</th><th>likelihood</th><th>path</th></tr>");
    for p in &drawn {
        let mut line = esc(&p.entry);
        for stp in &p.steps {
            let how = match (&stp.cve, stp.exposure) {
                (Some(cve), Some(x)) => {
                    format!(" [<a href=\"/exposures/{x}\">{}</a>]", esc(cve))
                }
                (None, Some(x)) => format!(" [<a href=\"/exposures/{x}\">#{x}</a>]"),
                _ => String::new(),
            };
            let _ = write!(line, " → {}{how}", esc(&stp.to));
        }
        let _ = write!(
            s,
            "<tr><td>{}</td><td class=\"n\">{:.3}</td><td>{line}</td></tr>",
            esc(&p.target),
            p.likelihood
        );
    }
    s.push_str("</table>");
    frame(&c, "/paths", "Attack paths", &s).into_response()
}

fn chokepoint_table(choke: &ctem_paths::query::Chokepoints) -> String {
    let mut s = String::from("<h2>Choke points</h2>");
    match &choke.min_cut {
        Some(ids) if ids.is_empty() => {}
        Some(ids) => {
            let links: Vec<String> = ids
                .iter()
                .map(|i| format!("<a href=\"/exposures/{i}\">#{i}</a>"))
                .collect();
            let _ = write!(
                s,
                "<p id=\"min-cut\">Minimum cut: fixing {} exposure(s) cuts every path to every crown jewel: {}.</p>",
                ids.len(),
                links.join(", ")
            );
        }
        None => {
            let _ = write!(
                s,
                "<p id=\"min-cut\">No exposure cut exists: {} path(s) use no exposure (credentials, \
                 lateral movement); fixes of exposures cannot cut them.</p>",
                choke.uncuttable
            );
        }
    }
    let _ = write!(
        s,
        "<table id=\"chokepoints\"><tr><th>rank</th><th>exposure</th><th>CVE or title</th><th>asset</th>\
         <th>paths cut (of {})</th><th>risk removed</th></tr>",
        choke.paths
    );
    for (i, f) in choke.ranking.iter().enumerate() {
        let _ = write!(
            s,
            "<tr><td class=\"n\">{}</td><td><a href=\"/exposures/{x}\">#{x}</a></td><td>{}</td><td>{}</td>\
             <td class=\"n\">{}</td><td class=\"n\">{:.3}</td></tr>",
            i + 1,
            esc(f.cve.as_deref().unwrap_or(&f.title)),
            esc(&f.asset),
            f.paths_cut,
            f.risk_removed,
            x = f.exposure,
        );
    }
    s.push_str("</table>");
    s
}

fn yes_no(v: &Value) -> &'static str {
    match v.as_bool() {
        Some(true) => "yes",
        Some(false) => "no",
        None => "unknown",
    }
}

fn count(v: &Value) -> String {
    v.as_array()
        .map(|a| a.len().to_string())
        .unwrap_or_default()
}

fn run_html(r: &v::RunOut) -> String {
    let mut s = format!(
        "<section class=\"run\" id=\"run-{}\"><h3>{} <small>({}, {})</small></h3>",
        r.id,
        esc(&r.name),
        esc(&r.scenario),
        r.run_at.format("%Y-%m-%d %H:%M")
    );
    s.push_str("<table><tr><th>#</th><th>technique</th><th>feasible here</th><th>rules</th><th>detectable</th><th>proven by replay</th><th>team</th></tr>");
    let steps = r.report["steps"].as_array().cloned().unwrap_or_default();
    for (i, st) in steps.iter().enumerate() {
        let feasible = yes_no(&st["feasible"]);
        let cls = match feasible {
            "yes" => "bad",
            "no" => "ok",
            _ => "",
        };
        let proven = st["proven"].as_array().map_or(0, Vec::len);
        let _ = write!(
            s,
            "<tr><td class=\"n\">{}</td><td>{} {}</td><td class=\"{cls}\" title=\"{}\">{feasible}</td>\
             <td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n {}\">{proven}</td><td>{}</td></tr>",
            i + 1,
            esc(st["technique"].as_str().unwrap_or("")),
            esc(st["name"].as_str().unwrap_or("")),
            esc(st["evidence"]["basis"].as_str().unwrap_or("")),
            count(&st["rules"]),
            count(&st["detectable"]),
            if proven > 0 { "ok" } else { "" },
            esc(st["team"].as_str().unwrap_or("")),
        );
    }
    s.push_str("</table></section>");
    s
}

fn exercise_html(x: &Exercise, can_work: bool, token: &str) -> String {
    let mut s = format!(
        "<section class=\"exercise\" id=\"exercise-{}\"><h3>Exercise #{} {} <small>(opened {})</small></h3>\
         <table><tr><th>step</th><th>technique</th><th>task</th><th>team</th><th>acknowledged</th><th>completed</th>",
        x.id,
        x.id,
        esc(&x.name),
        x.opened_at.format("%Y-%m-%d %H:%M")
    );
    if can_work {
        s.push_str("<th>record</th>");
    }
    s.push_str("</tr>");
    let after = |t: Option<chrono::DateTime<chrono::Utc>>| {
        t.map(|t| {
            let mins = (t - x.opened_at).num_seconds() as f64 / 60.0;
            format!("{} (+{mins:.0} min)", t.format("%H:%M:%S"))
        })
        .unwrap_or_else(|| "-".into())
    };
    for t in &x.tasks {
        let key = format!("{}-{}", x.id, t.step);
        let _ = write!(
            s,
            "<tr id=\"task-{key}\"><td class=\"n\">{}</td><td>{}</td><td>{}</td><td>{}</td>\
             <td class=\"acked\">{}</td><td class=\"completed\">{}</td>",
            t.step,
            esc(&t.technique),
            esc(t.response.as_deref().unwrap_or(&t.title)),
            esc(&t.team),
            after(t.acked_at),
            after(t.completed_at),
        );
        if can_work {
            s.push_str("<td>");
            for (verb, done) in [
                ("ack", t.acked_at.is_some()),
                ("complete", t.completed_at.is_some()),
            ] {
                if !done {
                    let _ = write!(
                        s,
                        "<form class=\"inline\" method=\"post\" action=\"/exercises/{}/tasks/{}/{verb}\">\
                         <input type=\"hidden\" name=\"csrf\" value=\"{token}\">\
                         <button type=\"submit\" id=\"{verb}-{key}\">{}</button></form> ",
                        x.id,
                        t.step,
                        if verb == "ack" {
                            "acknowledge"
                        } else {
                            "complete"
                        }
                    );
                }
            }
            s.push_str("</td>");
        }
        s.push_str("</tr>");
    }
    s.push_str("</table></section>");
    s
}

async fn scenarios(State(st): State<AppState>, Extension(c): Extension<Caller>) -> Response {
    let got = async {
        let runs = v::runs_now(&st, 20).await?;
        let xs = st.store(|s| Ok(s.exercises()?)).await?;
        Ok::<_, crate::error::ApiError>((runs, xs))
    }
    .await;
    let (runs, xs) = match got {
        Ok(x) => x,
        Err(e) => return error_page(&c, e),
    };
    let can_work = authorize(&c.principal, Action::WorkExercises, &[]);
    let token = esc(&csrf(&c));
    let mut s = String::from("<h2>Scenario runs</h2>");
    if runs.is_empty() {
        s.push_str("<p>No scenario run recorded: <code>ctem scenario run FILE [--replay EVENTS] [--exercise]</code> records one.</p>");
    }
    for r in &runs {
        s.push_str(&run_html(r));
    }
    s.push_str("<h2>Exercises</h2>");
    if xs.is_empty() {
        s.push_str("<p>No exercise: <code>ctem scenario run FILE --exercise</code> opens one with a task per step.</p>");
    }
    for x in &xs {
        s.push_str(&exercise_html(x, can_work, &token));
    }
    frame(&c, "/scenarios", "Scenarios and exercises", &s).into_response()
}

async fn record(st: AppState, c: Caller, id: i64, step: i64, e: TaskEvent) -> Response {
    match v::task_event_as(&st, c.clone(), id, step, e).await {
        Ok(_) => Redirect::to(&format!("/scenarios#exercise-{id}")).into_response(),
        Err(err) => error_page(&c, err),
    }
}

async fn ack(
    State(st): State<AppState>,
    Extension(c): Extension<Caller>,
    Path((id, step)): Path<(i64, i64)>,
) -> Response {
    record(st, c, id, step, TaskEvent::Ack).await
}

async fn complete(
    State(st): State<AppState>,
    Extension(c): Extension<Caller>,
    Path((id, step)): Path<(i64, i64)>,
) -> Response {
    record(st, c, id, step, TaskEvent::Complete).await
}
