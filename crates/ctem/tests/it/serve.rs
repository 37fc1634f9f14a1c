//! `ctem users`, `ctem tokens`, `ctem audit`, the role check of `ctem teams`, and `ctem serve`
//! as a process.

use std::io::{Read, Write};
use std::process::{Command, Stdio};

use serde_json::Value;

use crate::common::{Env, demo_file};

fn with_stdin(
    env: &Env,
    args: &[&str],
    input: &str,
    vars: &[(&str, &str)],
) -> std::process::Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_ctem"));
    c.args(["--db", &env.db()])
        .args(args)
        .current_dir(env.dir.path())
        .env_remove("CTEM_CONFIG")
        .env_remove("CTEM_DB")
        .env_remove("CTEM_USER")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in vars {
        c.env(k, v);
    }
    let mut child = c.spawn().expect("spawn");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input.as_bytes())
        .expect("write");
    child.wait_with_output().expect("wait")
}

#[test]
fn a_viewer_may_not_change_users_or_teams() {
    let env = Env::new();
    env.ok(&["teams", "user", "vera", "--role", "viewer"]);
    env.ok(&["teams", "user", "ada", "--role", "admin"]);
    let out = env.run_env(
        &["teams", "user", "mallory", "--role", "admin"],
        &[("CTEM_USER", "vera")],
    );
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("may not manage_teams"), "{err}");
    for args in [
        &["teams", "add", "red"][..],
        &["teams", "rule", "tag", "x", "red"],
        &["tokens", "create", "--name", "n", "--role", "admin"],
        &["audit"],
    ] {
        let out = env.run_env(args, &[("CTEM_USER", "vera")]);
        assert_eq!(out.status.code(), Some(1), "{args:?} allowed for a viewer");
    }
    let refused = with_stdin(
        &env,
        &["users", "add", "eve", "--role", "admin"],
        "pw\n",
        &[("CTEM_USER", "vera")],
    );
    assert_eq!(refused.status.code(), Some(1));
    let unknown = env.run_env(&["teams", "add", "red"], &[("CTEM_USER", "nobody")]);
    assert_eq!(unknown.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("not a user"));
    let users = env.json(&["teams", "list", "--json"]);
    let names: Vec<&str> = users["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["ada", "vera"],
        "nothing was created by the refused commands"
    );
    // an admin may
    let out = env.run_env(
        &["teams", "user", "mallory", "--role", "viewer"],
        &[("CTEM_USER", "ada")],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let log = env.json(&["audit", "--json"]);
    let last = log.as_array().unwrap().last().unwrap().clone();
    assert_eq!(
        (
            last["actor"].as_str(),
            last["via"].as_str(),
            last["action"].as_str()
        ),
        (Some("ada"), Some("cli"), Some("teams.user"))
    );
}

#[test]
fn users_get_passwords_from_stdin_and_tokens_are_shown_once() {
    let env = Env::new();
    let out = with_stdin(
        &env,
        &["users", "add", "alice", "--role", "vulnerability_manager"],
        "hunter22\n",
        &[],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let empty = with_stdin(
        &env,
        &["users", "add", "bob", "--role", "viewer"],
        "\n",
        &[],
    );
    assert_eq!(empty.status.code(), Some(1));
    // a role that does not exist is a usage error, like every bad value
    let bad_role = with_stdin(&env, &["users", "add", "bob", "--role", "boss"], "x\n", &[]);
    assert_eq!(bad_role.status.code(), Some(2));
    let t = env.json(&[
        "tokens",
        "create",
        "--name",
        "mdr",
        "--role",
        "incident_responder",
        "--partner",
        "mdr",
        "--expires",
        "2031-12-31",
        "--json",
    ]);
    let secret = t["token"].as_str().unwrap();
    assert!(
        secret.starts_with("ctem_") && secret.len() == 69,
        "{secret}"
    );
    let listed = env.ok(&["tokens", "list", "--json"]);
    assert!(!listed.contains(secret), "the secret is never shown again");
    let listed: serde_json::Value = serde_json::from_str(&listed).unwrap();
    assert_eq!(listed[0]["partner"], "mdr");
    assert!(
        listed[0]["expires_at"]
            .as_str()
            .unwrap()
            .starts_with("2032-01-01")
    );
    let bad = env.run(&[
        "tokens",
        "create",
        "--name",
        "x",
        "--role",
        "viewer",
        "--partner",
        "nsa",
    ]);
    assert_eq!(bad.status.code(), Some(1));
    env.ok(&["tokens", "revoke", "1"]);
    assert_eq!(env.run(&["tokens", "revoke", "99"]).status.code(), Some(1));
    let actions: Vec<String> = env
        .json(&["audit", "--json"])
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(actions, ["users.add", "tokens.create", "tokens.revoke"]);
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn http_get(port: u16, path: &str, token: &str) -> Option<String> {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    write!(s, "GET {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n\r\n").ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    Some(out)
}

#[test]
fn ctem_serve_answers_the_api_on_its_store() {
    let env = Env::new();
    env.ok(&[
        "import",
        demo_file("trivy-alpine-310.json").to_str().unwrap(),
    ]);
    let token = env.json(&[
        "tokens", "create", "--name", "t", "--role", "viewer", "--json",
    ])["token"]
        .as_str()
        .unwrap()
        .to_string();
    let port = free_port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_ctem"))
        .args([
            "--db",
            &env.db(),
            "serve",
            "--listen",
            &format!("127.0.0.1:{port}"),
        ])
        .current_dir(env.dir.path())
        .env_remove("CTEM_CONFIG")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("serve");
    let mut health = None;
    for _ in 0..100 {
        health = http_get(port, "/healthz", "");
        if health.is_some() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let page = http_get(port, "/api/v1/exposures?limit=2", &token);
    let _ = child.kill();
    let _ = child.wait();
    assert!(health.expect("server up").starts_with("HTTP/1.1 200"));
    let page = page.expect("answer");
    assert!(page.starts_with("HTTP/1.1 200"), "{page}");
    assert!(
        page.contains("\"next_cursor\":\"") && page.contains("CVE-"),
        "{page}"
    );
}

/// `ctem demo --serve`: every page and route of the measure and validate stages has data
/// from the demo (incidents from its detection, a KPI snapshot, goals, attack paths to the
/// log4j crown jewel, the rehearsed scenario and its exercise).
#[test]
fn demo_serve_shows_data_on_the_measure_and_validate_pages() {
    let env = Env::new();
    let port = free_port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_ctem"))
        .args([
            "demo",
            "--dir",
            "d",
            "--serve",
            "--listen",
            &format!("127.0.0.1:{port}"),
        ])
        .current_dir(env.dir.path())
        .env_remove("CTEM_CONFIG")
        .env_remove("CTEM_DB")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("demo --serve");
    let mut up = false;
    for _ in 0..1200 {
        if http_get(port, "/healthz", "").is_some_and(|h| h.starts_with("HTTP/1.1 200")) {
            up = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let answers = up.then(|| {
        let out = env
            .bare(&[
                "--db",
                "d/ctem.db",
                "tokens",
                "create",
                "--name",
                "t",
                "--role",
                "admin",
                "--json",
            ])
            .output()
            .expect("tokens create");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let created: Value = serde_json::from_slice(&out.stdout).expect("json");
        let token = created["token"].as_str().unwrap().to_string();
        [
            "/api/v1/incidents",
            "/api/v1/kpis/snapshots",
            "/api/v1/goals",
            "/api/v1/paths",
            "/api/v1/chokepoints",
            "/api/v1/scenarios",
            "/api/v1/exercises",
            "/incidents",
            "/kpis",
            "/goals",
            "/assessment",
            "/review",
            "/paths",
            "/scenarios",
        ]
        .map(|p| (p, http_get(port, p, &token).unwrap_or_default()))
    });
    let _ = child.kill();
    let _ = child.wait();
    let answers = answers.expect("the demo server came up");
    let body = |p: &str| {
        let a = &answers.iter().find(|a| a.0 == p).unwrap().1;
        assert!(a.starts_with("HTTP/1.1 200"), "{p}: {a}");
        a.split("\r\n\r\n").nth(1).unwrap_or("").to_string()
    };
    let json = |p: &str| -> Value {
        let b = body(p);
        // chunked transfer: the JSON is between the size lines
        let start = b.find(['{', '[']).unwrap_or(0);
        let end = b.rfind(['}', ']']).map_or(b.len(), |e| e + 1);
        serde_json::from_str(&b[start..end]).unwrap_or_else(|e| panic!("{p}: {e}: {b}"))
    };
    assert!(
        !json("/api/v1/incidents")["items"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    assert!(
        !json("/api/v1/kpis/snapshots")
            .as_array()
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        json("/api/v1/goals").as_array().unwrap().len(),
        4,
        "the demo's goals"
    );
    let paths = json("/api/v1/paths");
    assert!(!paths["paths"].as_array().unwrap().is_empty(), "{paths}");
    assert!(
        !json("/api/v1/chokepoints")["ranking"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    assert_eq!(json("/api/v1/scenarios").as_array().unwrap().len(), 1);
    assert_eq!(
        json("/api/v1/exercises")[0]["tasks"]
            .as_array()
            .unwrap()
            .len(),
        4
    );
    assert!(body("/incidents").contains("<tr id=\"i1\">"));
    assert!(body("/kpis").contains("<svg id=\"trend-"));
    assert!(body("/goals").contains("<table id=\"goals\"><tr>"));
    assert!(body("/assessment").contains("<div id=\"report\"><p class=\"sub\">"));
    assert!(body("/review").contains("<div id=\"report\">"));
    let p = body("/paths");
    assert!(
        p.contains("<svg id=\"path-graph\"") && p.contains("CVE-2021-44228"),
        "{p}"
    );
    assert!(body("/scenarios").contains("id=\"ack-1-1\""));
}
