//! `ctem detect --input syslog://...` end to end (a real process, a real socket, a real
//! store), the usage errors of stream inputs, and `ctem pilot` on real Sysmon events with
//! renamed fields.

use std::io::Write;
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::common::Env;

const SSHD_RULE: &str = "title: ssh password failure
id: 77777777-7777-4777-8777-777777777777
level: medium
logsource: {product: linux, service: sshd}
detection:
  keywords: ['Failed password']
  condition: keywords
";

/// A file of crates/ctem/tests/fixtures.
fn own_fixture(rel: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(rel)
}

fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

#[test]
fn syslog_over_tcp_is_detected_stored_and_counted() {
    let env = Env::new();
    let rules = env.path("rules");
    std::fs::create_dir(&rules).expect("mkdir");
    std::fs::write(rules.join("sshd.yml"), SSHD_RULE).expect("write");
    let port = free_port();
    let input = format!("syslog://tcp/127.0.0.1:{port}");
    let child = env
        .command(&[
            "detect",
            "--store",
            "--json",
            "--summary",
            "--exit-idle",
            "1.5",
            "--input",
        ])
        .arg(&input)
        .arg("--rules")
        .arg(&rules)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let start = Instant::now();
    let mut conn = loop {
        match TcpStream::connect(("127.0.0.1", port)) {
            Ok(c) => break c,
            Err(_) if start.elapsed() < Duration::from_secs(60) => {
                std::thread::sleep(Duration::from_millis(50))
            }
            Err(e) => panic!("the listener never opened: {e}"),
        }
    };
    // newline framing, then octet counting, on one connection
    let lines = [
        "<38>Jan  5 10:00:00 web1 sshd[42]: Failed password for root from 10.0.0.9 port 22 ssh2",
        "<38>Jan  5 10:00:01 web1 sshd[42]: Accepted password for bob from 10.0.0.8 port 22 ssh2",
        "<86>1 2024-01-05T10:00:02Z web2 sshd 77 - - Failed password for invalid user admin",
    ];
    writeln!(conn, "{}", lines[0]).expect("write");
    writeln!(conn, "{}", lines[1]).expect("write");
    write!(conn, "{} {}", lines[2].len(), lines[2]).expect("write");
    drop(conn);
    let out = child.wait_with_output().expect("wait");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let rows: Vec<Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect();
    let (summary, alerts) = rows.split_last().expect("summary line");
    assert_eq!(alerts.len(), 2, "{stdout}");
    assert!(
        alerts
            .iter()
            .all(|a| a["rule_id"] == "77777777-7777-4777-8777-777777777777")
    );
    assert_eq!(alerts[1]["event"]["hostname"], "web2");
    assert_eq!(summary["received"], 3);
    assert_eq!(summary["processed"], 3);
    assert_eq!(summary["dropped"], 0);
    assert_eq!(summary["stored"], 2);
    assert!(stderr.contains("3 received, 3 processed"), "{stderr}");
    // the store has them, with the listener as their source
    let stored = env.rows(&["alerts", "--json"]);
    assert_eq!(stored.len(), 2);
    let src = stored[0]["source"].as_str().unwrap_or_default();
    assert!(src.starts_with(&format!("{input}#")), "{src}");
}

#[test]
fn stream_inputs_have_usage_errors() {
    let env = Env::new();
    for (args, says) in [
        (
            vec!["detect", "--input", "syslog://sctp/127.0.0.1:1"],
            "neither udp nor tcp",
        ),
        (
            vec!["detect", "--input", "kafka://127.0.0.1:9/t"],
            "--group",
        ),
        (vec!["detect", "--input", "kafka://127.0.0.1:9"], "no topic"),
        (
            vec!["detect", "--input", "syslog://udp/127.0.0.1:0", "x.log"],
            "no event files",
        ),
        (vec!["detect", "--input", "nosuch"], "no event format"),
        (vec!["detect"], "event files"),
    ] {
        let out = env.run(&args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(says), "{args:?}: {err}");
    }
}

#[test]
fn a_port_in_use_fails_with_exit_1_naming_it() {
    let env = Env::new();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = taken.local_addr().expect("addr").port();
    let out = env.run(&[
        "detect",
        "--input",
        &format!("syslog://tcp/127.0.0.1:{port}"),
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains(&format!("cannot listen on tcp://127.0.0.1:{port}")),
        "{err}"
    );
}

fn pilot(env: &Env, file: &std::path::Path) -> Value {
    let rules = own_fixture("pilot/rules");
    let out = Command::new(env!("CARGO_BIN_EXE_ctem"))
        .arg("--db")
        .arg(env.path("never.db"))
        .args(["pilot", "--json", "--rules"])
        .arg(rules)
        .arg(file)
        .output()
        .expect("run");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("json")
}

#[test]
fn pilot_names_the_rules_blinded_by_renamed_sysmon_fields() {
    let env = Env::new();
    let good = own_fixture("pilot/sysmon-otrf.jsonl");
    let text = std::fs::read_to_string(&good).expect("read");
    // the same events exported by a pipeline that renamed two fields
    let renamed = env.path("renamed.jsonl");
    std::fs::write(
        &renamed,
        text.replace("\"CommandLine\":", "\"command_line\":")
            .replace("\"ParentImage\":", "\"parent_path\":"),
    )
    .expect("write");

    let r = pilot(&env, &good);
    assert_eq!(r["parsed"], 80);
    assert_eq!(r["rejected"], 0);
    assert!(r["rules_targeting"].as_u64().unwrap_or(0) >= 10, "{r}");
    assert_eq!(r["logsources"][0]["entry"], "windows");
    let fill = |r: &Value, f: &str| {
        r["fields"]
            .as_array()
            .and_then(|v| v.iter().find(|x| x["field"] == f))
            .map(|x| x["fill_rate"].as_f64().unwrap_or(0.0))
    };
    assert_eq!(
        fill(&r, "CommandLine"),
        Some(0.75),
        "60 of 80 events are process starts"
    );
    let blind_good: Vec<&str> = r["blind_rules"]
        .as_array()
        .expect("list")
        .iter()
        .filter(|b| {
            b["missing_fields"]
                .as_array()
                .is_some_and(|m| m.iter().any(|f| f == "CommandLine"))
        })
        .filter_map(|b| b["id"].as_str())
        .collect();
    assert!(blind_good.is_empty(), "{blind_good:?}");

    let r = pilot(&env, &renamed);
    assert_eq!(r["verdict"], "usable_with_gaps");
    assert_eq!(fill(&r, "CommandLine"), None);
    assert_eq!(fill(&r, "command_line"), Some(0.75));
    let blind = r["blind_rules"].as_array().expect("list");
    let never: Vec<&str> = blind
        .iter()
        .filter(|b| b["can_fire"] == false)
        .filter_map(|b| b["title"].as_str())
        .collect();
    // rules that need the command line (or the parent image) in every selection can never
    // fire now; each is named
    for title in [
        "WhoAmI as Parameter",
        "New User Created Via Net.EXE",
        "Dumping of Sensitive Hives Via Reg.EXE",
        "Suspicious MSHTA Child Process",
    ] {
        assert!(never.contains(&title), "{title} not in {never:?}");
    }
    // one that also matches on the image name alone is only partly blind
    let sharp = blind
        .iter()
        .find(|b| b["title"] == "HackTool - SharpLdapWhoami Execution")
        .expect("named");
    assert_eq!(sharp["can_fire"], true);
    assert!(
        blind.iter().all(|b| b["missing_fields"]
            .as_array()
            .is_some_and(|m| m.iter().any(|f| f == "CommandLine" || f == "ParentImage"))),
        "{blind:?}"
    );
    assert!(
        r["verdict_reasons"][0]
            .as_str()
            .unwrap_or_default()
            .contains("can never fire")
    );
    // the real store was never touched
    assert!(!env.path("never.db").exists());
}
