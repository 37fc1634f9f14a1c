//! The measure and validate routes of the API on the seeded store (common::seed_measure):
//! incidents and their state rules, KPIs and snapshots, goals, the reports, attack paths
//! and choke points known by construction, scenario runs and exercise tasks.

use axum::http::{Method, StatusCode};
use ctem_model::work::Role;
use ctem_server::auth::Partner;
use serde_json::{Value, json};

use crate::common::{EXPOSURES, Env, REMOTE, env, get, req, send};

async fn patch(env: &Env, id: i64, token: &str, body: Value) -> crate::common::Answer {
    send(
        env.app(),
        req(
            Method::PATCH,
            &format!("/api/v1/incidents/{id}"),
            Some(token),
            Some(body),
        ),
    )
    .await
}

async fn post(env: &Env, uri: &str, token: &str) -> crate::common::Answer {
    send(env.app(), req(Method::POST, uri, Some(token), None)).await
}

fn ids(v: &Value) -> Vec<i64> {
    v.as_array()
        .expect("array")
        .iter()
        .map(|x| x.as_i64().expect("id"))
        .collect()
}

#[tokio::test]
async fn incidents_group_alerts_and_page_newest_first() {
    let env = env();
    let t = env.token(Role::Viewer, None);
    let all = get(&env, "/api/v1/incidents", &t).await.json();
    let items = all["items"].as_array().expect("items");
    // ws1's two alerts half an hour apart are one incident, ws2's alert another
    let keys: Vec<(&str, u64)> = items
        .iter()
        .map(|i| {
            (
                i["key_value"].as_str().unwrap(),
                i["alerts"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(keys, [("ws2", 1), ("ws1", 2)], "{all}");
    assert!(items.iter().all(|i| i["state"] == "new"));
    assert!(items.iter().all(|i| i["owner"] == "incident_responder"));
    let first = get(&env, "/api/v1/incidents?limit=1", &t).await.json();
    assert_eq!(first["items"].as_array().unwrap().len(), 1);
    let cursor = first["next_cursor"].as_str().expect("a next page");
    let second = get(
        &env,
        &format!("/api/v1/incidents?limit=1&cursor={cursor}"),
        &t,
    )
    .await
    .json();
    assert_eq!(second["items"][0]["key_value"], "ws1");
    assert!(second["next_cursor"].is_null());
    let open = get(&env, "/api/v1/incidents?state=open", &t).await.json();
    assert_eq!(open["items"].as_array().unwrap().len(), 2);
    let none = get(&env, "/api/v1/incidents?state=resolved", &t)
        .await
        .json();
    assert!(none["items"].as_array().unwrap().is_empty());
    let bad = get(&env, "/api/v1/incidents?state=closed", &t).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert_eq!(bad.error_kind(), "invalid");
    // the same grouping again changes nothing (idempotent)
    let again = get(&env, "/api/v1/incidents", &t).await.json();
    assert_eq!(again["items"], all["items"]);
}

#[tokio::test]
async fn incident_state_changes_follow_the_cli_rules() {
    let env = env();
    let ir = env.token(Role::IncidentResponder, None);
    let list = get(&env, "/api/v1/incidents?state=new", &ir).await.json();
    let id = list["items"][1]["id"].as_i64().expect("ws1 incident");
    let d = get(&env, &format!("/api/v1/incidents/{id}"), &ir)
        .await
        .json();
    assert_eq!(d["alert_ids"].as_array().unwrap().len(), 2, "{d}");
    assert!(d["history"].as_array().unwrap().is_empty());

    // threat analysts manage detections but may not work incidents (as in the CLI)
    let ta = env.token(Role::ThreatAnalyst, None);
    let refused = patch(&env, id, &ta, json!({"state": "contained"})).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert!(refused.text().contains("may not work_incidents"));

    let c = patch(&env, id, &ir, json!({"state": "contained"})).await;
    assert_eq!(c.status, StatusCode::OK, "{}", c.text());
    let c = c.json();
    assert_eq!(c["state"], "contained");
    // containing stamps the acknowledgement too, once
    assert!(c["acknowledged_at"].is_string() && c["contained_at"].is_string());
    assert!(c.get("resolved_at").is_none());
    let r = patch(&env, id, &ir, json!({"state": "resolved"}))
        .await
        .json();
    assert_eq!(r["contained_at"], c["contained_at"], "kept when set before");
    assert!(r["resolved_at"].is_string());
    let back = patch(&env, id, &ir, json!({"state": "acknowledged"}))
        .await
        .json();
    assert!(back.get("resolved_at").is_none(), "reopened: {back}");

    let bad = patch(&env, id, &ir, json!({"state": "done"})).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert!(bad.text().contains("false_positive"));
    let missing = patch(&env, 999, &ir, json!({"state": "resolved"})).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);

    let h = get(&env, &format!("/api/v1/incidents/{id}"), &ir)
        .await
        .json();
    let moves: Vec<(&str, &str, &str)> = h["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["from"].as_str().unwrap(),
                e["to"].as_str().unwrap(),
                e["actor"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        moves,
        [
            ("new", "contained", "token:test"),
            ("contained", "resolved", "token:test"),
            ("resolved", "acknowledged", "token:test")
        ]
    );
    let audit = env.store().audit_log(None, Some(100)).unwrap();
    assert_eq!(
        audit
            .iter()
            .filter(|a| a.action == "incident.state" && a.target == format!("incident {id}"))
            .count(),
        3
    );
    // a change takes the day's KPI snapshot (the seed has the five days before today)
    assert_eq!(env.store().snapshots().unwrap().len(), 6);
}

#[tokio::test]
async fn an_mdr_partner_reads_alerts_and_incidents_and_sets_incident_status_only() {
    let env = env();
    let mdr = env.token(Role::IncidentResponder, Some(Partner::Mdr));
    assert_eq!(
        get(&env, "/api/v1/alerts", &mdr).await.status,
        StatusCode::OK
    );
    let list = get(&env, "/api/v1/incidents", &mdr).await;
    assert_eq!(list.status, StatusCode::OK);
    let id = list.json()["items"][0]["id"].as_i64().unwrap();
    assert_eq!(
        get(&env, &format!("/api/v1/incidents/{id}"), &mdr)
            .await
            .status,
        StatusCode::OK
    );
    let set = patch(&env, id, &mdr, json!({"state": "acknowledged"})).await;
    assert_eq!(set.status, StatusCode::OK, "{}", set.text());
    assert_eq!(
        env.store().incident(id).unwrap().unwrap().state.as_str(),
        "acknowledged"
    );
    for uri in [
        "/api/v1/exposures",
        "/api/v1/kpis",
        "/api/v1/paths",
        "/api/v1/exercises",
    ] {
        let a = get(&env, uri, &mdr).await;
        assert_eq!(a.status, StatusCode::FORBIDDEN, "{uri}");
        assert!(a.text().contains("(partner mdr)"), "{uri}");
    }
    let ack = post(&env, "/api/v1/exercises/1/tasks/1/ack", &mdr).await;
    assert_eq!(ack.status, StatusCode::FORBIDDEN);
}

fn kpi<'a>(list: &'a Value, id: &str) -> &'a Value {
    list.as_array()
        .unwrap()
        .iter()
        .find(|k| k["id"] == id)
        .unwrap_or_else(|| panic!("no KPI {id} in {list}"))
}

#[tokio::test]
async fn kpis_and_snapshots_are_the_measured_values() {
    let env = env();
    let t = env.token(Role::ItOperations, None);
    let k = get(&env, "/api/v1/kpis", &t).await.json();
    // three alerts, each detected 2 h after its event
    let mttd = kpi(&k, "mttd.hours");
    assert_eq!(
        (mttd["value"].as_f64(), mttd["n"].as_u64()),
        (Some(2.0), Some(3))
    );
    // no incident resolved: no MTTR, and no invented zero
    let mttr = kpi(&k, "mttr.hours");
    assert!(
        mttr["value"].is_null() && mttr["missing"].is_string(),
        "{mttr}"
    );
    let snaps = get(&env, "/api/v1/kpis/snapshots", &t).await.json();
    let days: Vec<Option<f64>> = snaps
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["values"]["mttd.hours"].as_f64())
        .collect();
    assert_eq!(days, [Some(1.0), Some(1.2), None, Some(1.6), Some(1.8)]);
    let second = snaps[1]["day"].as_str().unwrap();
    let since = get(&env, &format!("/api/v1/kpis/snapshots?since={second}"), &t)
        .await
        .json();
    assert_eq!(since.as_array().unwrap().len(), 4);
    let bad = get(&env, "/api/v1/kpis?since=yesterday", &t).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn goals_are_met_at_risk_missed_and_unknown() {
    let env = env();
    let t = env.token(Role::Viewer, None);
    let g = get(&env, "/api/v1/goals", &t).await.json();
    let got: Vec<(&str, &str)> = g
        .as_array()
        .unwrap()
        .iter()
        .map(|x| {
            (
                x["goal"]["kpi"].as_str().unwrap(),
                x["status"].as_str().unwrap(),
            )
        })
        .collect();
    // MTTD is 2 h: <= 4 met; <= 1 due 2099 with a rising trend at risk; <= 1 due 2020
    // missed; MTTR cannot be computed: unknown
    assert_eq!(
        got,
        [
            ("mttd.hours", "met"),
            ("mttd.hours", "at_risk"),
            ("mttd.hours", "missed"),
            ("mttr.hours", "unknown")
        ]
    );
    assert!(g[1]["trend_per_week"].as_f64().unwrap() > 0.0, "{g}");
}

#[tokio::test]
async fn the_assessment_and_review_come_as_data_markdown_and_html() {
    let env = env();
    let t = env.token(Role::Viewer, None);
    let a = get(&env, "/api/v1/assessment", &t).await.json();
    assert_eq!(a["assets"], 1);
    assert_eq!(a["goals"].as_array().unwrap().len(), 4);
    assert!(!a["actions"].as_array().unwrap().is_empty(), "{a}");
    let md = get(&env, "/api/v1/assessment?format=md", &t).await;
    assert!(
        md.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/markdown")
    );
    assert!(md.text().starts_with("# "), "{}", md.text());
    let html = get(&env, "/api/v1/assessment?format=html", &t).await.text();
    assert!(html.starts_with("<!DOCTYPE html>") && !html.contains("<script"));
    assert_eq!(
        get(&env, "/api/v1/assessment?format=pdf", &t).await.status,
        StatusCode::BAD_REQUEST
    );
    let r = get(&env, "/api/v1/review", &t).await.json();
    assert!(r["last_recorded"].is_null());
    assert_eq!(r["review"]["incidents_opened"], 2, "{r}");
    assert_eq!(r["review"]["new_exposures"], EXPOSURES as u64);
    // reading the review records none
    assert!(env.store().last_review().unwrap().is_none());
}

#[tokio::test]
async fn paths_and_choke_points_are_known_by_construction() {
    let env = env();
    let t = env.token(Role::ItOperations, None);
    let remote: Vec<i64> = {
        let s = env.store();
        let mut v: Vec<i64> = s
            .exposures(&ctem_store::ExposureFilter::default())
            .unwrap()
            .into_iter()
            .filter(|e| e.port.is_some())
            .filter_map(|e| e.id)
            .collect();
        v.sort();
        v
    };
    assert_eq!(remote.len(), REMOTE);
    let p = get(&env, "/api/v1/paths?top=5", &t).await.json();
    assert_eq!(p["crown_jewels"], json!(["web01.corp"]));
    let paths = p["paths"].as_array().expect("paths");
    assert!(!paths.is_empty() && paths.len() <= 5, "{p}");
    for x in paths {
        assert_eq!(x["target"], "web01.corp");
        // the only way in is a remote exploit of the internet-facing crown jewel
        assert!(
            ids(&x["exposures"]).iter().any(|e| remote.contains(e)),
            "{x}"
        );
    }
    let likelihoods: Vec<f64> = paths
        .iter()
        .map(|x| x["likelihood"].as_f64().unwrap())
        .collect();
    assert!(
        likelihoods.windows(2).all(|w| w[0] >= w[1]),
        "most likely first"
    );
    let c = get(&env, "/api/v1/chokepoints?top=3", &t).await.json();
    let mut cut = ids(&c["min_cut"]);
    cut.sort();
    assert_eq!(
        cut, remote,
        "fixing the remote exploits cuts every path: {c}"
    );
    assert!(c["ranking"].as_array().unwrap().len() <= 3);
    assert_eq!(
        get(&env, "/api/v1/paths?to=nosuch", &t).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        get(&env, "/api/v1/paths?top=0", &t).await.status,
        StatusCode::BAD_REQUEST
    );
}

#[tokio::test]
async fn scenario_runs_and_exercise_tasks() {
    let env = env();
    let ops = env.token(Role::ItOperations, None);
    let runs = get(&env, "/api/v1/scenarios", &ops).await.json();
    assert_eq!(runs.as_array().unwrap().len(), 1);
    assert_eq!(runs[0]["report"]["steps"][0]["proven"], json!(["a"]));
    let x = runs[0]["exercise_id"].as_i64().expect("exercise");
    let one = get(&env, &format!("/api/v1/exercises/{x}"), &ops)
        .await
        .json();
    assert_eq!(one["tasks"].as_array().unwrap().len(), 2);

    let viewer = env.token(Role::Viewer, None);
    let refused = post(&env, &format!("/api/v1/exercises/{x}/tasks/2/ack"), &viewer).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    let ack = post(&env, &format!("/api/v1/exercises/{x}/tasks/2/ack"), &ops).await;
    assert_eq!(ack.status, StatusCode::OK, "{}", ack.text());
    let ack = ack.json();
    assert!(ack["acked_at"].is_string() && ack.get("completed_at").is_none());
    let twice = post(&env, &format!("/api/v1/exercises/{x}/tasks/2/ack"), &ops).await;
    assert_eq!(twice.status, StatusCode::UNPROCESSABLE_ENTITY);
    let done = post(
        &env,
        &format!("/api/v1/exercises/{x}/tasks/1/complete"),
        &ops,
    )
    .await
    .json();
    assert!(done["acked_at"].is_string() && done["completed_at"].is_string());
    assert_eq!(
        post(&env, &format!("/api/v1/exercises/{x}/tasks/9/ack"), &ops)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    let all = get(&env, "/api/v1/exercises", &ops).await.json();
    assert!(all[0]["tasks"][0]["completed_at"].is_string());
    let audit = env.store().audit_log(None, Some(100)).unwrap();
    let acts: Vec<&str> = audit
        .iter()
        .filter(|a| a.action.starts_with("exercise."))
        .map(|a| a.action.as_str())
        .collect();
    assert_eq!(acts.len(), 2, "{acts:?}");
}

#[tokio::test]
async fn the_openapi_document_has_the_new_operations() {
    let env = env();
    let doc = send(env.app(), req(Method::GET, "/openapi.json", None, None))
        .await
        .json();
    for (path, method) in [
        ("/api/v1/incidents", "get"),
        ("/api/v1/incidents/{id}", "patch"),
        ("/api/v1/kpis/snapshots", "get"),
        ("/api/v1/goals", "get"),
        ("/api/v1/assessment", "get"),
        ("/api/v1/review", "get"),
        ("/api/v1/paths", "get"),
        ("/api/v1/chokepoints", "get"),
        ("/api/v1/scenarios", "get"),
        ("/api/v1/exercises/{id}/tasks/{step}/complete", "post"),
    ] {
        assert!(doc["paths"][path][method].is_object(), "{method} {path}");
    }
}
