//! The measure and validate pages through the router: what they draw from the seeded store
//! (common::seed_measure), what each role sees, and the CSRF-checked forms of a session.

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use ctem_model::work::Role;

use crate::common::{Env, env, get, send};

#[tokio::test]
async fn the_kpi_page_draws_trends_from_the_snapshots() {
    let env = env();
    let t = env.token(Role::Viewer, None);
    let a = get(&env, "/kpis", &t).await;
    assert_eq!(a.status, StatusCode::OK);
    let html = a.text();
    let chart = html
        .split("<svg id=\"trend-mttd-hours\"")
        .nth(1)
        .and_then(|s| s.split("</svg>").next())
        .unwrap_or_else(|| panic!("no MTTD chart: {html}"));
    // five days with a gap on the third: two runs of two points, four points drawn
    assert_eq!(chart.matches("<polyline").count(), 2, "{chart}");
    assert_eq!(chart.matches("<circle").count(), 4);
    assert!(chart.contains("<title>") && chart.contains(": 1.8</title>"));
    // MTTR has no value in any snapshot: no chart, and the table says why
    assert!(!html.contains("id=\"trend-mttr-hours\""));
    let row = html
        .split("<tr id=\"k-mttr-hours\">")
        .nth(1)
        .and_then(|s| s.split("</tr>").next())
        .expect("mttr row");
    assert!(
        row.contains("n/a") && row.contains("cannot compute"),
        "{row}"
    );
    assert!(!html.contains("https://") && !html.contains("<script"));
}

#[tokio::test]
async fn goals_assessment_and_review_pages() {
    let env = env();
    let t = env.token(Role::ItOperations, None);
    let g = get(&env, "/goals", &t).await.text();
    for (status, n) in [
        ("met", 1),
        ("on_track", 0),
        ("at_risk", 1),
        ("missed", 1),
        ("unknown", 1),
    ] {
        assert!(
            g.contains(&format!("id=\"goals-{status}\"><b>{n}</b>")),
            "{status}: {g}"
        );
    }
    assert!(g.contains("<td class=\"status bad\">missed</td>"));
    let a = get(&env, "/assessment", &t).await.text();
    assert!(
        a.contains("<div id=\"report\">") && a.contains("<h2>"),
        "{a}"
    );
    assert!(
        !a.contains("<!DOCTYPE html>\n"),
        "embedded, not a document in a page"
    );
    let r = get(&env, "/review", &t).await.text();
    assert!(r.contains("no review recorded yet"), "{r}");
}

#[tokio::test]
async fn the_paths_page_draws_the_graph_with_its_choke_points() {
    let env = env();
    let t = env.token(Role::Viewer, None);
    let html = get(&env, "/paths", &t).await.text();
    let svg = html
        .split("<svg id=\"path-graph\"")
        .nth(1)
        .and_then(|s| s.split("</svg>").next())
        .unwrap_or_else(|| panic!("no graph: {html}"));
    assert!(svg.contains("class=\"node entry\"") && svg.contains("class=\"node jewel\""));
    assert!(svg.contains("class=\"edge choke\""), "{svg}");
    assert!(
        svg.contains("CVE-2024-100"),
        "steps are labelled with their CVE"
    );
    assert!(
        html.contains("id=\"min-cut\">Minimum cut: fixing 6 exposure(s)"),
        "{html}"
    );
    assert!(html.contains("<table id=\"chokepoints\">"));
}

#[tokio::test]
async fn forms_show_only_to_roles_that_may_use_them() {
    let env = env();
    let viewer = env.token(Role::Viewer, None);
    let ir = env.token(Role::IncidentResponder, None);
    let ops = env.token(Role::ItOperations, None);
    let v = get(&env, "/incidents/1", &viewer).await.text();
    assert!(
        v.contains("id=\"incident\"") && !v.contains("id=\"incident-set\""),
        "{v}"
    );
    let i = get(&env, "/incidents/1", &ir).await.text();
    assert!(i.contains("id=\"incident-set\""), "{i}");
    // it_operations does not read alerts, so not incidents either; but acts in exercises
    assert_eq!(
        get(&env, "/incidents", &ops).await.status,
        StatusCode::FORBIDDEN
    );
    let s = get(&env, "/scenarios", &ops).await.text();
    assert!(
        s.contains("id=\"ack-1-1\"") && s.contains("id=\"complete-1-2\""),
        "{s}"
    );
    assert!(s.contains("<td class=\"n ok\">1</td>"), "proven step: {s}");
    let sv = get(&env, "/scenarios", &viewer).await.text();
    assert!(sv.contains("id=\"exercise-1\"") && !sv.contains("id=\"ack-1-1\""));
    let list = get(&env, "/incidents?state=open", &viewer).await.text();
    assert_eq!(list.matches("<tr id=\"i").count(), 2, "{list}");
}

/// Signs `role` in with its password; returns the session cookie.
async fn sign_in(env: &Env, role: Role) -> String {
    env.password(role);
    let r = Request::builder()
        .method(Method::POST)
        .uri("/login")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Body::from(format!("name={role}&password=pw-{role}")))
        .unwrap();
    let a = send(env.app(), r).await;
    assert_eq!(a.status, StatusCode::SEE_OTHER, "{}", a.text());
    let c = a.headers["set-cookie"].to_str().unwrap();
    c.split(';').next().unwrap().to_string()
}

fn form(uri: &str, cookie: &str, body: String) -> Request<Body> {
    Request::builder()
        .method(Method::POST)
        .uri(uri)
        .header("cookie", cookie)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Body::from(body))
        .unwrap()
}

#[tokio::test]
async fn a_session_changes_an_incident_and_a_task_with_its_csrf_token() {
    let env = env();
    let cookie = sign_in(&env, Role::IncidentResponder).await;
    let page = send(
        env.app(),
        Request::builder()
            .uri("/incidents/1")
            .header("cookie", &cookie)
            .body(Body::empty())
            .unwrap(),
    )
    .await
    .text();
    let csrf = page
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .expect("csrf field")
        .to_string();
    let forged = send(
        env.app(),
        form("/incidents/1/state", &cookie, "state=resolved".into()),
    )
    .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    assert_eq!(
        env.store().incident(1).unwrap().unwrap().state.as_str(),
        "new"
    );
    let ok = send(
        env.app(),
        form(
            "/incidents/1/state",
            &cookie,
            format!("csrf={csrf}&state=resolved"),
        ),
    )
    .await;
    assert_eq!(ok.status, StatusCode::SEE_OTHER, "{}", ok.text());
    assert_eq!(ok.headers["location"], "/incidents/1");
    let inc = env.store().incident(1).unwrap().unwrap();
    assert_eq!(inc.state.as_str(), "resolved");
    let h = env.store().incident_events(1).unwrap();
    assert_eq!(h[0].actor.as_deref(), Some("incident_responder"));
    let ack = send(
        env.app(),
        form("/exercises/1/tasks/1/ack", &cookie, format!("csrf={csrf}")),
    )
    .await;
    assert_eq!(ack.status, StatusCode::SEE_OTHER, "{}", ack.text());
    let x = env.store().exercise(1).unwrap().unwrap();
    assert!(x.tasks[0].acked_at.is_some() && x.tasks[1].acked_at.is_none());
}
