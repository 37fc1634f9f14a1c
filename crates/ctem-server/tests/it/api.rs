//! Listings, pagination, errors, changes and the audit log, through the router.

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use ctem_model::work::Role;
use serde_json::{Value, json};

use crate::common::{EXPOSURES, env, get, req, send};

fn ids(v: &Value) -> Vec<i64> {
    v["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|x| x["id"].as_i64().expect("id"))
        .collect()
}

#[tokio::test]
async fn exposure_pages_walk_the_whole_listing_in_severity_order_without_overlap() {
    let env = env();
    let t = env.token(Role::Viewer, None);
    let all = get(&env, "/api/v1/exposures?status=all&limit=1000", &t).await;
    assert_eq!(all.status, StatusCode::OK);
    let all = all.json();
    assert_eq!(ids(&all).len(), EXPOSURES);
    assert!(all["next_cursor"].is_null());
    let ranks: Vec<i64> = all["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let s = e["severity"].as_str().unwrap();
            ctem_model::Severity::parse(s).unwrap() as i64
        })
        .collect();
    assert!(
        ranks.windows(2).all(|w| w[0] >= w[1]),
        "not most severe first"
    );

    let mut walked = Vec::new();
    let mut uri = "/api/v1/exposures?status=all&limit=7".to_string();
    let mut pages = 0;
    loop {
        let p = get(&env, &uri, &t).await.json();
        walked.extend(ids(&p));
        pages += 1;
        match p["next_cursor"].as_str() {
            Some(c) => uri = format!("/api/v1/exposures?status=all&limit=7&cursor={c}"),
            None => break,
        }
    }
    assert_eq!(pages, EXPOSURES.div_ceil(7));
    assert_eq!(walked, ids(&all), "pages differ from the one-page listing");

    // id order, both ways, also pages
    let p1 = get(&env, "/api/v1/exposures?status=all&sort=-id&limit=3", &t)
        .await
        .json();
    let got = ids(&p1);
    assert_eq!(
        got,
        vec![EXPOSURES as i64, EXPOSURES as i64 - 1, EXPOSURES as i64 - 2]
    );
    let c = p1["next_cursor"].as_str().unwrap();
    let p2 = get(
        &env,
        &format!("/api/v1/exposures?status=all&sort=-id&limit=2&cursor={c}"),
        &t,
    )
    .await
    .json();
    assert_eq!(ids(&p2), vec![EXPOSURES as i64 - 3, EXPOSURES as i64 - 4]);
}

#[tokio::test]
async fn filters_narrow_the_listing() {
    let env = env();
    let t = env.token(Role::Viewer, None);
    let crit = get(&env, "/api/v1/exposures?severity=critical&limit=1000", &t)
        .await
        .json();
    let items = crit["items"].as_array().unwrap();
    assert_eq!(items.len(), EXPOSURES / 5);
    assert!(items.iter().all(|e| e["severity"] == "critical"));
    let one = get(&env, "/api/v1/exposures?cve=CVE-2024-1003", &t)
        .await
        .json();
    assert_eq!(one["items"].as_array().unwrap().len(), 1);
    assert_eq!(one["items"][0]["title"], "finding 3");
    let assets = get(&env, "/api/v1/assets?search=web01", &t).await.json();
    assert_eq!(assets["items"][0]["name"], "web01.corp");
    assert_eq!(assets["items"][0]["open_exposures"], EXPOSURES as u64);
    let none = get(&env, "/api/v1/assets?search=nothing-like-this", &t)
        .await
        .json();
    assert_eq!(none["items"], json!([]));
    let scans = get(&env, "/api/v1/scans", &t).await.json();
    assert_eq!(scans["items"][0]["file"], "seed.json");
}

#[tokio::test]
async fn bad_requests_share_one_error_shape_and_status() {
    let env = env();
    let t = env.token(Role::Viewer, None);
    for (uri, status, kind) in [
        ("/api/v1/exposures?severity=dire", 400, "invalid"),
        ("/api/v1/exposures?sort=colour", 400, "invalid"),
        ("/api/v1/exposures?cursor=nonsense", 400, "invalid"),
        ("/api/v1/exposures?limit=0", 400, "invalid"),
        ("/api/v1/exposures?limit=5000", 400, "invalid"),
        ("/api/v1/exposures/999999", 404, "not_found"),
        ("/api/v1/tickets/999999", 404, "not_found"),
        ("/api/v1/no-such-thing", 404, "not_found"),
        ("/api/v1/users", 403, "forbidden"),
    ] {
        let a = get(&env, uri, &t).await;
        assert_eq!(a.status.as_u16(), status, "{uri}: {}", a.text());
        assert_eq!(a.error_kind(), kind, "{uri}");
    }
    let anon = send(env.app(), req(Method::GET, "/api/v1/exposures", None, None)).await;
    assert_eq!(anon.status, StatusCode::UNAUTHORIZED);
    assert_eq!(anon.error_kind(), "unauthorized");
    let forged = get(&env, "/api/v1/exposures", "ctem_not-a-token").await;
    assert_eq!(forged.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn revoked_and_expired_tokens_are_refused() {
    let env = env();
    let admin = env.token(Role::Admin, None);
    let made = send(
        env.app(),
        req(
            Method::POST,
            "/api/v1/tokens",
            Some(&admin),
            Some(json!({"name": "ci", "role": "viewer"})),
        ),
    )
    .await;
    assert_eq!(made.status, StatusCode::CREATED, "{}", made.text());
    let made = made.json();
    let secret = made["token"].as_str().unwrap().to_string();
    assert!(secret.starts_with("ctem_"));
    assert_eq!(
        get(&env, "/api/v1/exposures", &secret).await.status,
        StatusCode::OK
    );
    // the secret is never listed
    let listed = get(&env, "/api/v1/tokens", &admin).await;
    assert!(!listed.text().contains(&secret));
    let id = made["id"].as_i64().unwrap();
    let revoke = send(
        env.app(),
        req(
            Method::DELETE,
            &format!("/api/v1/tokens/{id}"),
            Some(&admin),
            None,
        ),
    )
    .await;
    assert_eq!(revoke.status, StatusCode::OK);
    let after = get(&env, "/api/v1/exposures", &secret).await;
    assert_eq!(after.status, StatusCode::UNAUTHORIZED);
    assert!(after.text().contains("revoked"));

    let mut s = env.store();
    let (mut t, old) = ctem_server::api::mint_token("old", Role::Admin, None, None, "test");
    t.expires_at = Some(chrono::Utc::now() - chrono::Duration::seconds(1));
    s.add_token(&t).unwrap();
    let a = get(&env, "/api/v1/exposures", &old).await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    assert!(a.text().contains("expired"));
}

#[tokio::test]
async fn ticket_moves_follow_roles_and_the_lifecycle_and_are_audited() {
    let env = env();
    let (viewer, ops, vm) = (
        env.token(Role::Viewer, None),
        env.token(Role::ItOperations, None),
        env.token(Role::VulnerabilityManager, None),
    );
    let tickets = get(&env, "/api/v1/tickets", &viewer).await.json();
    let id = tickets["items"][0]["id"].as_i64().expect("a seeded ticket");
    let uri = format!("/api/v1/tickets/{id}/move");
    let mv = |t: &str, body: Value| send(env.app(), req(Method::POST, &uri, Some(t), Some(body)));

    let a = mv(&viewer, json!({"state": "in_progress"})).await;
    assert_eq!(a.status, StatusCode::FORBIDDEN);
    let a = mv(
        &ops,
        json!({"state": "risk_accepted", "until": "2031-01-01"}),
    )
    .await;
    assert_eq!(
        a.status,
        StatusCode::FORBIDDEN,
        "it_operations may not accept risk"
    );
    let a = mv(&ops, json!({"state": "in_progress"})).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text());
    assert_eq!(a.json()["state"], "in_progress");
    let a = mv(&vm, json!({"state": "in_progress"})).await;
    assert_eq!(a.status, StatusCode::CONFLICT, "{}", a.text());
    assert_eq!(a.error_kind(), "conflict");
    let a = mv(
        &vm,
        json!({"state": "risk_accepted", "until": "2031-01-01"}),
    )
    .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text());

    let assign = send(
        env.app(),
        req(
            Method::POST,
            &format!("/api/v1/tickets/{id}/assign"),
            Some(&ops),
            Some(json!({"user": "it_operations"})),
        ),
    )
    .await;
    assert_eq!(assign.status, StatusCode::OK, "{}", assign.text());

    let admin = env.token(Role::Admin, None);
    let log = get(&env, "/api/v1/audit?limit=1000", &admin).await.json();
    let entries = log["items"].as_array().unwrap();
    let moves: Vec<&Value> = entries
        .iter()
        .filter(|e| e["action"] == "tickets.move")
        .collect();
    assert_eq!(moves.len(), 2, "only the moves that happened: {entries:?}");
    assert_eq!(moves[0]["actor"], "token:test");
    assert_eq!(moves[0]["via"], "api");
    assert!(
        moves[1]["detail"]
            .as_str()
            .unwrap()
            .contains("risk_accepted")
    );
    assert!(entries.iter().any(|e| e["action"] == "tickets.assign"));
}

#[tokio::test]
async fn sessions_need_the_password_and_csrf_on_writes() {
    let env = env();
    env.password(Role::Viewer);
    env.password(Role::VulnerabilityManager);
    let login = |name: &str, pw: &str| {
        Request::builder()
            .method(Method::POST)
            .uri("/login")
            .header("content-type", "application/x-www-form-urlencoded")
            .body(Body::from(format!("name={name}&password={pw}")))
            .unwrap()
    };
    let bad = send(env.app(), login("viewer", "wrong")).await;
    assert_eq!(bad.status, StatusCode::UNAUTHORIZED);
    assert!(bad.headers.get("set-cookie").is_none());
    let ok = send(
        env.app(),
        login("vulnerability_manager", "pw-vulnerability_manager"),
    )
    .await;
    assert_eq!(ok.status, StatusCode::SEE_OTHER);
    let cookie = ok.headers["set-cookie"].to_str().unwrap().to_string();
    for attr in ["HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(cookie.contains(attr), "{cookie}");
    }
    let pair = cookie.split(';').next().unwrap().to_string();
    let with_cookie = |m: Method, uri: &str, csrf: Option<&str>, body: Option<Value>| {
        let mut b = Request::builder()
            .method(m)
            .uri(uri)
            .header("cookie", &pair);
        if let Some(c) = csrf {
            b = b.header("x-csrf-token", c);
        }
        match body {
            Some(v) => b
                .header("content-type", "application/json")
                .body(Body::from(v.to_string()))
                .unwrap(),
            None => b.body(Body::empty()).unwrap(),
        }
    };
    let r = send(
        env.app(),
        with_cookie(Method::GET, "/api/v1/exposures?limit=1", None, None),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    let body = json!({"status": "accepted", "reason": "compensating control"});
    let no_csrf = send(
        env.app(),
        with_cookie(
            Method::POST,
            "/api/v1/exposures/1/status",
            None,
            Some(body.clone()),
        ),
    )
    .await;
    assert_eq!(no_csrf.status, StatusCode::FORBIDDEN);
    assert!(no_csrf.text().contains("CSRF"));
    let wrong = send(
        env.app(),
        with_cookie(
            Method::POST,
            "/api/v1/exposures/1/status",
            Some("00"),
            Some(body.clone()),
        ),
    )
    .await;
    assert_eq!(wrong.status, StatusCode::FORBIDDEN);
    let csrf = {
        let s = env.store();
        let hash = ctem_server::auth::secret_hash(pair.split_once('=').unwrap().1);
        s.session(&hash)
            .unwrap()
            .expect("session stored by hash")
            .csrf
    };
    let good = send(
        env.app(),
        with_cookie(
            Method::POST,
            "/api/v1/exposures/1/status",
            Some(&csrf),
            Some(body),
        ),
    )
    .await;
    assert_eq!(good.status, StatusCode::OK, "{}", good.text());
    let e = env.store().exposure(1).unwrap().unwrap();
    assert_eq!(e.status, ctem_model::ExposureStatus::Accepted);
    let log = env.store().audit_log(None, None).unwrap();
    let last = log.last().unwrap();
    assert_eq!(
        (last.actor.as_str(), last.via.as_str()),
        ("vulnerability_manager", "web")
    );
}

#[tokio::test]
async fn an_upload_is_a_job_that_is_polled() {
    let env = env();
    let ops = env.token(Role::ItOperations, None);
    let report = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../examples/demo/trivy-alpine-310.json"
    ))
    .unwrap();
    let r = Request::builder()
        .method(Method::POST)
        .uri("/api/v1/imports?name=trivy-alpine-310.json")
        .header("authorization", format!("Bearer {ops}"))
        .body(Body::from(report))
        .unwrap();
    let a = send(env.app(), r).await;
    assert_eq!(a.status, StatusCode::ACCEPTED, "{}", a.text());
    let job = a.json()["job"].as_u64().unwrap();
    let mut last = Value::Null;
    for _ in 0..200 {
        last = get(&env, &format!("/api/v1/jobs/{job}"), &ops).await.json();
        if last["status"] == "succeeded" || last["status"] == "failed" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    assert_eq!(last["status"], "succeeded", "{last}");
    assert_eq!(last["summary"]["exposures"]["new"], 4, "{last}");
    let scans = get(&env, "/api/v1/scans", &ops).await.json();
    assert_eq!(scans["items"][1]["file"], "trivy-alpine-310.json");

    let garbage = Request::builder()
        .method(Method::POST)
        .uri("/api/v1/imports?format=trivy")
        .header("authorization", format!("Bearer {ops}"))
        .body(Body::from("{not json"))
        .unwrap();
    let job = send(env.app(), garbage).await.json()["job"]
        .as_u64()
        .unwrap();
    for _ in 0..200 {
        last = get(&env, &format!("/api/v1/jobs/{job}"), &ops).await.json();
        if last["status"] == "failed" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    assert_eq!(last["status"], "failed");
    assert!(!last["error"].as_str().unwrap().is_empty());
    assert_eq!(
        get(&env, "/api/v1/jobs/999", &ops).await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn openapi_health_and_metrics_are_served() {
    let env = env();
    let doc = send(env.app(), req(Method::GET, "/openapi.json", None, None))
        .await
        .json();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    for p in [
        "/api/v1/exposures",
        "/api/v1/tickets/{id}/move",
        "/api/v1/imports",
        "/api/v1/events",
    ] {
        assert!(
            doc["paths"][p].is_object(),
            "{p} missing from the OpenAPI document"
        );
    }
    let params: Vec<&str> = doc["paths"]["/api/v1/exposures"]["get"]["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    for p in ["severity", "status", "sort", "limit", "cursor"] {
        assert!(params.contains(&p), "{params:?}");
    }
    let viewer = send(env.app(), req(Method::GET, "/api/docs", None, None))
        .await
        .text();
    assert!(
        viewer.contains("/openapi.json") && !viewer.contains("https://"),
        "the viewer loads nothing from elsewhere"
    );
    assert_eq!(
        send(env.app(), req(Method::GET, "/healthz", None, None))
            .await
            .status,
        StatusCode::OK
    );
    let t = env.token(Role::Viewer, None);
    get(&env, "/api/v1/users", &t).await;
    let m = send(env.app(), req(Method::GET, "/metrics", None, None))
        .await
        .text();
    assert!(m.contains("ctem_authz_refused_total 1"), "{m}");
    assert!(
        m.contains("ctem_http_responses_total{code=\"403\"} 1"),
        "{m}"
    );
}
