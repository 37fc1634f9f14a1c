//! NDJSON events through detection; overload answered with 429 and counted exactly.

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use ctem_model::work::Role;
use ctem_server::events::Detector;

use crate::common::{env_with, get, send};

const RULE: &str = r#"
title: Encoded PowerShell
id: 11111111-2222-3333-4444-555555555555
status: test
level: high
logsource:
    product: windows
    category: process_creation
detection:
    selection:
        Image|endswith: '\powershell.exe'
        CommandLine|contains: ' -enc '
    condition: selection
"#;

fn detector() -> Detector {
    let set = ctem_detect::RuleSet::from_yaml(RULE).expect("rule");
    let engine = ctem_detect::Engine::new(set, ctem_detect::Mappings::builtin().expect("mappings"));
    Detector {
        engine,
        to_alert: Box::new(|a| ctem_model::Alert {
            id: None,
            rule_id: a.rule_id.clone(),
            title: a.title.clone(),
            level: a.level.clone(),
            kind: a.kind,
            tags: a.tags.clone(),
            event_time: None,
            detected_at: chrono::Utc::now(),
            source: a.source.clone(),
            record: a.record,
            host: None,
            user: None,
            process: None,
            event: a.event.clone(),
        }),
        threads: 1,
    }
}

fn post(token: &str, body: String) -> Request<Body> {
    Request::builder()
        .method(Method::POST)
        .uri("/api/v1/events")
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/x-ndjson")
        .body(Body::from(body))
        .unwrap()
}

const HIT: &str = r#"{"Channel": "Microsoft-Windows-Sysmon/Operational", "EventID": 1, "Image": "C:\\Windows\\System32\\powershell.exe", "CommandLine": "powershell -enc SQBFAFgA"}"#;
const MISS: &str = r#"{"Channel": "Microsoft-Windows-Sysmon/Operational", "EventID": 1, "Image": "C:\\Windows\\notepad.exe", "CommandLine": "notepad"}"#;

fn metric(text: &str, name: &str) -> u64 {
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{name} ")))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("{name} missing:\n{text}"))
}

#[tokio::test]
async fn posted_events_raise_stored_alerts() {
    let env = env_with(|c| c.detector = Some(detector()));
    let ir = env.token(Role::IncidentResponder, None);
    let body = format!("{HIT}\n{MISS}\nnot json\n\n{HIT}\n");
    let a = send(env.app(), post(&ir, body)).await;
    assert_eq!(a.status, StatusCode::ACCEPTED, "{}", a.text());
    assert_eq!(a.json()["accepted"], 4, "blank lines are not events");
    let mut alerts = serde_json::Value::Null;
    for _ in 0..200 {
        // the seeded store holds alerts of its own (common::seed_measure): the posted ones
        // are those of the rule
        alerts = get(
            &env,
            "/api/v1/alerts?rule=11111111-2222-3333-4444-555555555555",
            &ir,
        )
        .await
        .json();
        if alerts["items"].as_array().is_some_and(|a| a.len() == 2) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    assert_eq!(alerts["items"].as_array().unwrap().len(), 2, "{alerts}");
    assert_eq!(alerts["items"][0]["title"], "Encoded PowerShell");
    let m = send(
        env.app(),
        crate::common::req(Method::GET, "/metrics", None, None),
    )
    .await
    .text();
    assert_eq!(metric(&m, "ctem_events_accepted_total"), 4);
    assert_eq!(
        metric(&m, "ctem_events_detected_total") + metric(&m, "ctem_events_bad_lines_total"),
        4
    );
    assert_eq!(metric(&m, "ctem_events_bad_lines_total"), 1);
    assert_eq!(metric(&m, "ctem_alerts_total"), 2);
}

#[tokio::test]
async fn a_full_queue_answers_429_and_counts_what_it_refused() {
    let env = env_with(|c| {
        c.detector = Some(detector());
        c.events_queue = 5;
    });
    let ir = env.token(Role::IncidentResponder, None);
    let six = [MISS; 6].join("\n");
    let a = send(env.app(), post(&ir, six)).await;
    assert_eq!(a.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(a.headers["retry-after"], "1");
    assert_eq!(a.error_kind(), "unavailable");
    let m = send(
        env.app(),
        crate::common::req(Method::GET, "/metrics", None, None),
    )
    .await
    .text();
    assert_eq!(metric(&m, "ctem_events_refused_total"), 6);
    assert_eq!(metric(&m, "ctem_events_refused_requests_total"), 1);
    assert_eq!(metric(&m, "ctem_events_accepted_total"), 0);
    // a batch that fits is taken
    let a = send(env.app(), post(&ir, [MISS; 5].join("\n"))).await;
    assert_eq!(a.status, StatusCode::ACCEPTED);
    let viewer = env.token(Role::Viewer, None);
    assert_eq!(
        send(env.app(), post(&viewer, MISS.into())).await.status,
        StatusCode::FORBIDDEN
    );
}
