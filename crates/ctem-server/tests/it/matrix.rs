//! The role matrix: every role, and every partner scope, against every protected route and
//! method; expected answers come from the role table (`permits`) and the partner scopes as
//! docs/roles.md states them, not from the server's own check.

use std::collections::BTreeSet;

use axum::http::{Method, StatusCode};
use ctem_model::work::{Role, permits};
use ctem_server::auth::Partner;
use ctem_server::routes::RULES;
use serde_json::{Value, json};

use crate::common::{Env, env, req, send};

/// A request body and a concrete path for a route.
fn concrete(env: &Env, method: &str, path: &str, n: usize) -> (String, Option<Value>) {
    let victim = {
        let mut s = env.store();
        let (t, _) = ctem_server::api::mint_token("victim", Role::Viewer, None, None, "test");
        s.add_token(&t).unwrap()
    };
    let id = match path {
        p if p.starts_with("/taxii2/") => ctem_server::taxii::COLLECTION.to_string(),
        "/api/v1/tokens/{id}" => victim.to_string(),
        _ => "1".to_string(),
    };
    let body = match (method, path) {
        ("POST", "/api/v1/exposures/{id}/status") => Some(json!({"status": "accepted"})),
        ("POST", "/api/v1/tickets/{id}/assign") => Some(json!({"user": "admin"})),
        ("POST", "/api/v1/tickets/{id}/move") => Some(json!({"state": "in_progress"})),
        ("POST", "/api/v1/users") => {
            Some(json!({"name": format!("u{n}"), "role": "viewer", "password": "x"}))
        }
        ("POST", "/api/v1/tokens") => Some(json!({"name": format!("t{n}"), "role": "viewer"})),
        ("PATCH", "/api/v1/incidents/{id}") => Some(json!({"state": "acknowledged"})),
        _ => None,
    };
    (path.replace("{id}", &id).replace("{step}", "1"), body)
}

async fn call(
    env: &Env,
    method: &str,
    path: &str,
    token: Option<&str>,
    n: usize,
) -> (StatusCode, String) {
    let (uri, body) = concrete(env, method, path, n);
    let m = Method::from_bytes(method.as_bytes()).unwrap();
    let a = if method == "POST" && !path.starts_with("/api/") {
        // a dashboard form
        let mut r = req(m, &uri, token, None);
        r.headers_mut().insert(
            "content-type",
            "application/x-www-form-urlencoded".parse().unwrap(),
        );
        let form = if path.starts_with("/tickets/") {
            "state=in_progress"
        } else {
            "state=acknowledged"
        };
        *r.body_mut() = axum::body::Body::from(form);
        send(env.app(), r).await
    } else if method == "POST" && body.is_none() {
        // uploads and events: a raw body
        let payload = if path.ends_with("/events") {
            "{\"EventID\": 1}\n"
        } else {
            "{}"
        };
        let mut r = req(m, &uri, token, None);
        *r.body_mut() = axum::body::Body::from(payload);
        send(env.app(), r).await
    } else {
        send(env.app(), req(m, &uri, token, body)).await
    };
    (
        a.status,
        format!("{method} {uri}: {} {}", a.status, a.text()),
    )
}

#[tokio::test]
async fn every_role_against_every_route() {
    let env = env();
    let mut checked = 0;
    for role in Role::ALL {
        let token = env.token(role, None);
        for (n, r) in RULES.iter().enumerate() {
            let (status, what) = call(&env, r.method, r.path, Some(&token), n).await;
            if permits(role, r.action) {
                assert!(
                    status != StatusCode::FORBIDDEN && status != StatusCode::UNAUTHORIZED,
                    "{role} should be allowed: {what}"
                );
                assert!(
                    !status.is_server_error() || status == StatusCode::SERVICE_UNAVAILABLE,
                    "{what}"
                );
            } else {
                assert_eq!(
                    status,
                    StatusCode::FORBIDDEN,
                    "{role} should be refused: {what}"
                );
            }
            checked += 1;
        }
    }
    assert_eq!(checked, RULES.len() * 6);
}

#[tokio::test]
async fn partner_tokens_reach_only_their_routes() {
    let env = env();
    // MDR: reads alerts and incidents, writes incident status; sharing partner: TAXII only
    // (docs/roles.md "Partners")
    type Allowed = fn(&str, &str) -> bool;
    let cases: [(Role, Partner, Allowed); 2] = [
        (Role::IncidentResponder, Partner::Mdr, |m, p| {
            matches!(
                (m, p),
                ("GET", "/api/v1/alerts")
                    | ("GET", "/api/v1/incidents")
                    | ("GET", "/api/v1/incidents/{id}")
                    | ("PATCH", "/api/v1/incidents/{id}")
            )
        }),
        (Role::Viewer, Partner::Sharing, |m, p| {
            m == "GET" && p.starts_with("/taxii2/")
        }),
    ];
    for (role, partner, allowed) in cases {
        let token = env.token(role, Some(partner));
        for (n, r) in RULES.iter().enumerate() {
            let (status, what) = call(&env, r.method, r.path, Some(&token), n).await;
            if allowed(r.method, r.path) {
                assert_eq!(status, StatusCode::OK, "{partner:?}: {what}");
            } else {
                assert_eq!(status, StatusCode::FORBIDDEN, "{partner:?}: {what}");
            }
        }
    }
}

#[tokio::test]
async fn no_route_answers_without_credentials() {
    let env = env();
    for (n, r) in RULES.iter().enumerate() {
        let (status, what) = call(&env, r.method, r.path, None, n).await;
        if r.path.starts_with("/api/") || r.path.starts_with("/taxii2/") {
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{what}");
        } else {
            // a page sends the browser to the sign-in form
            assert_eq!(status, StatusCode::SEE_OTHER, "{what}");
        }
    }
}

#[tokio::test]
async fn every_documented_operation_has_a_role_rule() {
    let env = env();
    let doc = send(env.app(), req(Method::GET, "/openapi.json", None, None))
        .await
        .json();
    let ruled: BTreeSet<(String, String)> = RULES
        .iter()
        .map(|r| (r.method.to_ascii_lowercase(), r.path.to_string()))
        .collect();
    let mut n = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            assert!(
                ruled.contains(&(method.clone(), path.clone())),
                "{method} {path} has no rule"
            );
            n += 1;
        }
    }
    assert!(n >= 20, "{n} operations documented");
}
