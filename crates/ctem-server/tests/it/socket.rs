//! One test over a real socket: the server bound on 127.0.0.1, spoken to in plain HTTP/1.1.

use std::io::{Read, Write};

use ctem_model::work::Role;

use crate::common::env;

/// Starts the server on an ephemeral loopback port; returns its address.
pub async fn spawn(state: ctem_server::AppState) -> std::net::SocketAddr {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = l.local_addr().expect("addr");
    tokio::spawn(ctem_server::serve(l, state));
    addr
}

fn http(addr: std::net::SocketAddr, request: String) -> String {
    let mut s = std::net::TcpStream::connect(addr).expect("connect");
    s.write_all(request.as_bytes()).expect("write");
    let mut out = String::new();
    s.read_to_string(&mut out).expect("read");
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_answers_over_tcp_and_audits_the_peer_address() {
    let env = env();
    let admin = env.token(Role::Admin, None);
    let addr = spawn(env.state.clone()).await;
    let health = tokio::task::spawn_blocking(move || {
        http(
            addr,
            "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".into(),
        )
    })
    .await
    .unwrap();
    assert!(health.starts_with("HTTP/1.1 200"), "{health}");
    let body = r#"{"name":"bob","role":"viewer","password":"s3cret"}"#;
    let req = format!(
        "POST /api/v1/users HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {admin}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let created = tokio::task::spawn_blocking(move || http(addr, req))
        .await
        .unwrap();
    assert!(created.starts_with("HTTP/1.1 201"), "{created}");
    let log = env.store().audit_log(None, None).unwrap();
    let e = log
        .iter()
        .find(|e| e.action == "users.add")
        .expect("audited");
    assert_eq!(e.remote.as_deref(), Some("127.0.0.1"));
    assert_eq!(e.target, "user bob");
    let phc = env.store().password("bob").unwrap().unwrap();
    assert!(ctem_server::auth::verify_password(&phc, "s3cret"));
}
