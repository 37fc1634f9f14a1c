//! Integrations against a local HTTP server (127.0.0.1) that checks every request body and
//! simulates failures: 500s and a timeout after the server has created the issue.

use super::*;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

#[derive(Debug, Clone)]
struct Req {
    method: String,
    path: String,
    headers: String,
    body: Value,
}

enum Reply {
    Json(u16, Value),
    /// Sleep past the client's timeout, then answer.
    Hang(u64, Value),
}

type Handler = Box<dyn FnMut(&Req, usize) -> Reply + Send>;

struct Mock {
    url: String,
    log: Arc<Mutex<Vec<Req>>>,
}

fn read_req(s: &mut TcpStream) -> Option<Req> {
    let mut buf = Vec::new();
    let mut b = [0u8; 4096];
    let head_end = loop {
        let n = s.read(&mut b).ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&b[..n]);
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let len: usize = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse().ok())
                .flatten()
        })
        .unwrap_or(0);
    while buf.len() < head_end + len {
        let n = s.read(&mut b).ok()?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&b[..n]);
    }
    let mut first = head.lines().next()?.split(' ');
    let body = &buf[head_end..];
    Some(Req {
        method: first.next()?.into(),
        path: first.next()?.into(),
        headers: head.to_ascii_lowercase(),
        body: serde_json::from_slice(body).unwrap_or(Value::Null),
    })
}

fn serve(mut handler: Handler) -> Mock {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}", l.local_addr().expect("addr"));
    let log = Arc::new(Mutex::new(Vec::new()));
    let log2 = log.clone();
    std::thread::spawn(move || {
        for s in l.incoming() {
            let Ok(mut s) = s else { continue };
            let Some(req) = read_req(&mut s) else {
                continue;
            };
            let n = {
                let mut g = log2.lock().expect("lock");
                g.push(req.clone());
                g.len()
            };
            let (code, body) = match handler(&req, n) {
                Reply::Json(c, b) => (c, b),
                Reply::Hang(ms, b) => {
                    std::thread::sleep(Duration::from_millis(ms));
                    (200, b)
                }
            };
            let text = body.to_string();
            let _ = write!(
                s,
                "HTTP/1.1 {code} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{text}",
                text.len()
            );
        }
    });
    Mock { url, log }
}

fn ticket() -> Ticket {
    // a fixed time: the webhook dedup key includes updated_at, and two calls of this helper
    // must describe the same ticket state
    let now = chrono::DateTime::from_timestamp(1_767_225_600, 0).unwrap_or_default();
    Ticket {
        id: 7,
        key: "platform|pkg:openssl|fix".into(),
        team: "platform".into(),
        package: "openssl".into(),
        action: "upgrade openssl to 3.0.13".into(),
        target_version: Some("3.0.13".into()),
        state: TicketState::Open,
        assignee: None,
        priority: "P1".into(),
        exposures: 97,
        assets: 41,
        kev: 3,
        risk: 812.5,
        due: chrono::NaiveDate::from_ymd_opt(2025, 7, 1),
        breached: false,
        accepted_until: None,
        created_at: now,
        updated_at: now,
        reopened: 0,
    }
}

fn target(name: &str, kind: TargetKind) -> TargetConfig {
    TargetConfig {
        name: name.into(),
        kind,
        retries: 3,
        backoff_ms: 10,
        timeout_ms: 300,
        // the mock server is plain http on 127.0.0.1
        allow_insecure_http: true,
    }
}

fn store() -> Box<dyn Store> {
    Box::new(ctem_store::sqlite::SqliteStore::in_memory().expect("store"))
}

#[test]
fn github_issue_is_created_once_despite_500_and_timeout() {
    // the first create fails with 500; the second is stored by the server but answered
    // too late (timeout); the retry must find it by label instead of creating again
    let created = Arc::new(Mutex::new(Vec::<Value>::new()));
    let c2 = created.clone();
    let mut creates = 0;
    let mock = serve(Box::new(move |r, _| {
        if r.method == "GET" && r.path.contains("/issues?labels=") {
            let list: Vec<Value> = c2.lock().expect("lock").clone();
            return Reply::Json(200, Value::Array(list));
        }
        if r.method == "POST" && r.path == "/repos/acme/app/issues" {
            creates += 1;
            assert!(
                r.headers.contains("authorization: bearer gh-secret"),
                "{}",
                r.headers
            );
            assert_eq!(r.body["labels"][0], "ctem");
            assert!(
                r.body["title"]
                    .as_str()
                    .unwrap_or("")
                    .contains("upgrade openssl to 3.0.13")
            );
            assert!(
                r.body["body"]
                    .as_str()
                    .unwrap_or("")
                    .contains("Priority: P1")
            );
            if creates == 1 {
                return Reply::Json(500, json!({"message": "boom"}));
            }
            let issue = json!({"number": 42, "labels": r.body["labels"]});
            c2.lock().expect("lock").push(issue.clone());
            return Reply::Hang(600, issue);
        }
        if r.method == "PATCH" {
            return Reply::Json(200, json!({}));
        }
        Reply::Json(404, json!({}))
    }));
    // SAFETY: test-only variable with a unique name
    unsafe { std::env::set_var("CTEM_TEST_GH_TOKEN", "gh-secret") };
    let t = target(
        "gh",
        TargetKind::Github {
            api_url: mock.url.clone(),
            repo: "acme/app".into(),
            token_env: "CTEM_TEST_GH_TOKEN".into(),
        },
    );
    let mut s = store();
    let r = push_tickets(s.as_mut(), std::slice::from_ref(&t), &[ticket()]).expect("push");
    assert_eq!(r[0].outcome, "linked #42", "{r:?}");
    assert_eq!(
        created.lock().expect("lock").len(),
        1,
        "exactly one issue created"
    );
    // a second push sends nothing new
    let before = mock.log.lock().expect("lock").len();
    let r = push_tickets(s.as_mut(), std::slice::from_ref(&t), &[ticket()]).expect("push");
    assert_eq!(r[0].outcome, "linked #42");
    assert_eq!(mock.log.lock().expect("lock").len(), before);
    // resolving closes the issue
    let mut done = ticket();
    done.state = TicketState::Verified;
    let r = push_tickets(s.as_mut(), &[t], &[done]).expect("push");
    assert!(r[0].outcome.contains("closed"), "{r:?}");
    let log = mock.log.lock().expect("lock");
    let patch = log.iter().find(|r| r.method == "PATCH").expect("patch");
    assert_eq!(patch.path, "/repos/acme/app/issues/42");
    assert_eq!(patch.body["state"], "closed");
}

#[test]
fn jira_create_transition_and_adf_bodies() {
    let mock = serve(Box::new(|r, _| {
        match (r.method.as_str(), r.path.as_str()) {
            ("POST", "/rest/api/3/search/jql") => {
                assert!(
                    r.body["jql"]
                        .as_str()
                        .unwrap_or("")
                        .contains("labels = \"ctem-")
                );
                Reply::Json(200, json!({"issues": []}))
            }
            ("POST", "/rest/api/3/issue") => {
                let f = &r.body["fields"];
                assert_eq!(f["project"]["key"], "SEC");
                assert_eq!(f["issuetype"]["name"], "Task");
                assert_eq!(f["description"]["type"], "doc");
                assert!(r.headers.contains("authorization: basic "));
                Reply::Json(201, json!({"id": "10001", "key": "SEC-1"}))
            }
            ("POST", "/rest/api/3/issue/SEC-1/transitions") => {
                assert_eq!(r.body["transition"]["id"], "21");
                Reply::Json(204, Value::Null)
            }
            _ => Reply::Json(404, json!({})),
        }
    }));
    // SAFETY: test-only variable with a unique name
    unsafe { std::env::set_var("CTEM_TEST_JIRA_TOKEN", "j-secret") };
    let t = target(
        "jira",
        TargetKind::Jira {
            base_url: mock.url.clone(),
            project: "SEC".into(),
            email: "bot@example.com".into(),
            token_env: "CTEM_TEST_JIRA_TOKEN".into(),
            issue_type: "Task".into(),
            transitions: [("in_progress".to_string(), "21".to_string())].into(),
        },
    );
    let mut s = store();
    let r = push_tickets(s.as_mut(), std::slice::from_ref(&t), &[ticket()]).expect("push");
    assert_eq!(r[0].outcome, "created SEC-1", "{r:?}");
    let mut moving = ticket();
    moving.state = TicketState::InProgress;
    let r = push_tickets(s.as_mut(), &[t], &[moving]).expect("push");
    assert_eq!(r[0].outcome, "linked SEC-1, moved to in_progress", "{r:?}");
    let creates = mock
        .log
        .lock()
        .expect("lock")
        .iter()
        .filter(|r| r.path == "/rest/api/3/issue")
        .count();
    assert_eq!(creates, 1);
}

#[test]
fn jira_create_retries_after_a_500_and_searches_before_each_attempt() {
    let creates = Arc::new(Mutex::new(0usize));
    let c2 = creates.clone();
    let mock = serve(Box::new(move |r, _| {
        match (r.method.as_str(), r.path.as_str()) {
            ("POST", "/rest/api/3/search/jql") => Reply::Json(200, json!({"issues": []})),
            ("POST", "/rest/api/3/issue") => {
                assert_eq!(r.body["fields"]["project"]["key"], "SEC");
                let labels = r.body["fields"]["labels"].to_string();
                assert!(labels.contains("ctem-"), "{labels}");
                let mut n = c2.lock().expect("lock");
                *n += 1;
                if *n == 1 {
                    Reply::Json(500, json!({"errorMessages": ["internal"]}))
                } else {
                    Reply::Json(201, json!({"id": "10002", "key": "SEC-2"}))
                }
            }
            _ => Reply::Json(404, json!({})),
        }
    }));
    // SAFETY: test-only variable with a unique name
    unsafe { std::env::set_var("CTEM_TEST_JIRA_TOKEN_500", "j-secret") };
    let t = target(
        "jira",
        TargetKind::Jira {
            base_url: mock.url.clone(),
            project: "SEC".into(),
            email: "bot@example.com".into(),
            token_env: "CTEM_TEST_JIRA_TOKEN_500".into(),
            issue_type: "Task".into(),
            transitions: Default::default(),
        },
    );
    let mut s = store();
    let r = push_tickets(s.as_mut(), std::slice::from_ref(&t), &[ticket()]).expect("push");
    assert_eq!(r[0].outcome, "created SEC-2", "{r:?}");
    assert_eq!(*creates.lock().expect("lock"), 2, "one 500, one success");
    let log = mock.log.lock().expect("lock").clone();
    let paths: Vec<&str> = log.iter().map(|r| r.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "/rest/api/3/search/jql",
            "/rest/api/3/issue",
            "/rest/api/3/search/jql",
            "/rest/api/3/issue"
        ],
        "the label is searched before every create attempt"
    );
    // pushed again: linked, nothing new sent
    let r = push_tickets(s.as_mut(), &[t], &[ticket()]).expect("push");
    assert!(r[0].outcome.starts_with("linked SEC-2"), "{r:?}");
    assert_eq!(*creates.lock().expect("lock"), 2);
}

#[test]
fn webhooks_retry_5xx_and_carry_an_idempotency_key() {
    let mock = serve(Box::new(|r, n| {
        assert!(r.headers.contains("idempotency-key: "));
        if r.path == "/slack" {
            assert!(
                r.body["text"]
                    .as_str()
                    .unwrap_or("")
                    .contains("upgrade openssl")
            );
            assert_eq!(r.body["blocks"][0]["type"], "section");
            return Reply::Json(200, json!("ok"));
        }
        assert_eq!(r.body["ticket"]["id"], 7);
        assert_eq!(r.body["event"], "ticket.updated");
        if n <= 2 {
            Reply::Json(503, json!({}))
        } else {
            Reply::Json(200, json!({}))
        }
    }));
    let hook = target(
        "hook",
        TargetKind::Webhook {
            url: format!("{}/hook", mock.url),
        },
    );
    let slack = target(
        "slack",
        TargetKind::Slack {
            url: format!("{}/slack", mock.url),
        },
    );
    let mut s = store();
    let r = push_tickets(s.as_mut(), &[hook.clone(), slack], &[ticket()]).expect("push");
    assert_eq!(r[0].outcome, "sent");
    assert_eq!(r[1].outcome, "sent");
    assert_eq!(
        mock.log.lock().expect("lock").len(),
        4,
        "two 503s, then one each"
    );
    let r = push_tickets(s.as_mut(), &[hook], &[ticket()]).expect("push");
    assert_eq!(r[0].outcome, "unchanged");
}

#[test]
fn a_4xx_fails_without_retry_and_records_nothing() {
    let mock = serve(Box::new(|_, _| Reply::Json(400, json!({"error": "bad"}))));
    let hook = target(
        "hook",
        TargetKind::Webhook {
            url: format!("{}/hook", mock.url),
        },
    );
    let mut s = store();
    let r = push_tickets(s.as_mut(), std::slice::from_ref(&hook), &[ticket()]).expect("push");
    assert!(r[0].outcome.starts_with("failed"), "{r:?}");
    assert_eq!(mock.log.lock().expect("lock").len(), 1);
}

#[test]
fn base64_matches_rfc4648() {
    assert_eq!(base64(b"foobar"), "Zm9vYmFy");
    assert_eq!(base64(b"fo"), "Zm8=");
    assert_eq!(base64(b"f"), "Zg==");
}

#[test]
fn tokens_are_never_sent_over_plain_http_and_urls_in_errors_are_redacted() {
    let mock = serve(Box::new(|_, _| Reply::Json(500, json!({}))));
    // SAFETY: test-only variable with a unique name
    unsafe { std::env::set_var("CTEM_TEST_HTTP_GH_TOKEN", "gh-secret") };
    let mut t = target(
        "gh",
        TargetKind::Github {
            api_url: mock.url.clone(),
            repo: "acme/app".into(),
            token_env: "CTEM_TEST_HTTP_GH_TOKEN".into(),
        },
    );
    t.allow_insecure_http = false;
    let mut s = store();
    let r = push_tickets(s.as_mut(), &[t], &[ticket()]).expect("push");
    assert!(r[0].outcome.contains("only over https"), "{r:?}");
    assert!(
        mock.log.lock().expect("lock").is_empty(),
        "nothing was sent"
    );
    // a webhook whose URL carries a secret: the failure names the host, not the secret
    let hook = target(
        "hook",
        TargetKind::Slack {
            url: format!(
                "{}/services/T0AAAA/B0BBBB/AbCd1234EfGh5678IjKl9012",
                mock.url
            ),
        },
    );
    let r = push_tickets(s.as_mut(), &[hook], &[ticket()]).expect("push");
    assert!(
        r[0].outcome.starts_with("failed: POST http://127.0.0.1:"),
        "{r:?}"
    );
    assert!(r[0].outcome.contains("HTTP 500"), "{r:?}");
    assert!(!r[0].outcome.contains("AbCd1234EfGh5678IjKl9012"), "{r:?}");
}
