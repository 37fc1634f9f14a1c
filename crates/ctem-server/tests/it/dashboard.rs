//! The dashboard pages through the router: what each role sees and may do.

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use ctem_model::work::Role;

use crate::common::{env, get, send};

#[tokio::test]
async fn the_overview_shows_counts_and_a_trend_chart() {
    let env = env();
    let t = env.token(Role::Viewer, None);
    let a = get(&env, "/", &t).await;
    assert_eq!(a.status, StatusCode::OK);
    let html = a.text();
    assert!(html.contains("<svg id=\"trend\""), "{html}");
    assert!(
        html.contains("class=\"new\"") && html.contains("points=\""),
        "a drawn line"
    );
    // 120 seeded exposures, all open, first seen today
    assert!(
        html.contains("<div class=\"card\" id=\"card-open\"><b>120</b>"),
        "{html}"
    );
    assert!(html.contains("<div class=\"card\" id=\"card-assets\"><b>1</b>"));
    assert!(!html.contains("https://"), "nothing loads from elsewhere");
    let css = send(
        env.app(),
        crate::common::req(Method::GET, "/static/ctem.css", None, None),
    )
    .await;
    assert_eq!(css.status, StatusCode::OK);
}

#[tokio::test]
async fn navigation_and_forms_follow_the_role() {
    let env = env();
    let viewer = env.token(Role::Viewer, None);
    let ops = env.token(Role::ItOperations, None);
    let admin = env.token(Role::Admin, None);
    let v = get(&env, "/tickets", &viewer).await.text();
    assert!(
        !v.contains("/tickets/1/move") && !v.contains("href=\"/admin\""),
        "{v}"
    );
    let o = get(&env, "/tickets", &ops).await.text();
    assert!(
        o.contains("action=\"/tickets/"),
        "it_operations works tickets"
    );
    assert!(
        !o.contains("href=\"/intel\""),
        "it_operations may not read intel"
    );
    assert!(
        get(&env, "/", &admin)
            .await
            .text()
            .contains("href=\"/admin\"")
    );
    let refused = get(&env, "/admin", &viewer).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert!(refused.text().contains("may not manage_teams"));
    assert_eq!(
        get(&env, "/intel", &ops).await.status,
        StatusCode::FORBIDDEN
    );
    let anon = send(
        env.app(),
        crate::common::req(Method::GET, "/tickets", None, None),
    )
    .await;
    assert_eq!(anon.status, StatusCode::SEE_OTHER);
    assert_eq!(anon.headers["location"], "/login");
}

#[tokio::test]
async fn exposures_page_filters_and_pages() {
    let env = env();
    let t = env.token(Role::Viewer, None);
    let html = get(
        &env,
        "/exposures?severity=critical&status=active&sort=severity",
        &t,
    )
    .await
    .text();
    let rows = html.matches("<td class=\"sev-critical\">").count();
    assert_eq!(rows, 24, "the 24 critical exposures on one page of 50");
    assert!(!html.contains("sev-high\">high<"), "filtered");
    assert!(!html.contains("id=\"next\""));
    let all = get(&env, "/exposures", &t).await.text();
    assert!(all.contains("id=\"next\""), "120 exposures span pages");
    let detail = get(&env, "/exposures/1", &t).await.text();
    assert!(
        detail.contains("id=\"explanation\"") && detail.contains("SSVC"),
        "{detail}"
    );
}

#[tokio::test]
async fn a_ticket_moves_through_the_form() {
    let env = env();
    let ops = env.token(Role::ItOperations, None);
    let r = Request::builder()
        .method(Method::POST)
        .uri("/tickets/1/move")
        .header("authorization", format!("Bearer {ops}"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Body::from("state=in_progress&until="))
        .unwrap();
    let a = send(env.app(), r).await;
    assert_eq!(a.status, StatusCode::SEE_OTHER, "{}", a.text());
    let t = env.store().ticket(1).unwrap().unwrap();
    assert_eq!(t.state.as_str(), "in_progress");
}
