//! `ctem detect`, `ctem rules check`, `ctem alerts` on the SigmaHQ regression data (real EVTX
//! renderings and real rules, copied in crates/ctem-detect/tests/fixtures).

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

fn regression() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../ctem-detect/tests/fixtures/sigma_regression")
}

fn ctem(dir: &Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_ctem"))
        .arg("--db")
        .arg(dir.join("ctem.db"))
        .args(args)
        .current_dir(dir)
        // the rule cache stays in the test's folder
        .env("XDG_CACHE_HOME", dir.join("cache"))
        .output()
        .expect("run ctem")
}

#[test]
fn detect_fires_every_regression_rule_and_stores_alerts_with_entities() {
    let tmp = tempfile::tempdir().expect("tmp");
    let rules = regression().join("rules");
    let data = regression().join("data");
    let out = ctem(
        tmp.path(),
        &[
            "detect",
            "--rules",
            rules.to_str().expect("path"),
            "--json",
            "--store",
            "--summary",
            "--threads",
            "2",
            data.to_str().expect("path"),
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect();
    let (summary, alerts) = lines.split_last().expect("summary line");
    assert!(summary["events"].as_u64().expect("events") >= 202);
    assert_eq!(summary["alerts"].as_u64(), Some(alerts.len() as u64));
    for a in alerts {
        for k in [
            "rule_id",
            "title",
            "level",
            "tags",
            "timestamp",
            "source",
            "record",
            "event",
        ] {
            assert!(a.get(k).is_some(), "alert lacks {k}: {a}");
        }
    }
    let fired: HashSet<&str> = alerts
        .iter()
        .filter_map(|a| a["rule_id"].as_str())
        .collect();
    let manifest: Value = serde_json::from_str(
        &std::fs::read_to_string(regression().join("MANIFEST.json")).expect("manifest"),
    )
    .expect("json");
    let cases = manifest
        .as_array()
        .or(manifest["cases"].as_array())
        .expect("cases");
    let mut missing = Vec::new();
    for c in cases {
        if let Some(id) = c["id"].as_str().or(c["rule_id"].as_str())
            && !fired.contains(id)
        {
            missing.push(id.to_string());
        }
    }
    assert!(
        missing.is_empty(),
        "regression rules that did not fire: {missing:?}"
    );

    let stored = ctem(tmp.path(), &["alerts", "--json", "--limit", "100000"]);
    assert!(stored.status.success());
    let stored: Vec<Value> = serde_json::from_slice(&stored.stdout).expect("one JSON array");
    assert_eq!(stored.len(), alerts.len());
    assert!(
        stored.iter().all(|a| a["host"].is_string()),
        "Windows events name their computer"
    );
    assert!(stored.iter().any(|a| a["process"].is_string()));
    let high = ctem(
        tmp.path(),
        &["alerts", "--json", "--level", "high", "--limit", "100000"],
    );
    let high = serde_json::from_slice::<Vec<Value>>(&high.stdout)
        .expect("one JSON array")
        .len();
    assert!(high > 0 && high < stored.len());
}

#[test]
fn rules_check_reports_counts_and_reasons() {
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = tmp.path().join("rules");
    std::fs::create_dir(&dir).expect("mkdir");
    std::fs::write(
        dir.join("ok.yml"),
        "title: t\nid: 11111111-1111-1111-1111-111111111111\nlogsource: {product: windows}\ndetection:\n  sel: {Image|endswith: '\\\\cmd.exe'}\n  condition: sel\n",
    )
    .expect("write");
    std::fs::write(
        dir.join("bad.yml"),
        "title: bad\nlogsource: {product: windows}\ndetection:\n  sel: {Image: x}\n  condition: nosuch\n",
    )
    .expect("write");
    let out = ctem(
        tmp.path(),
        &["rules", "check", "--json", dir.to_str().expect("p")],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v["rules"], 2);
    assert_eq!(v["compiled"], 1);
    let u = &v["unsupported"][0];
    assert!(u["path"].as_str().expect("path").ends_with("bad.yml"));
    // per logsource: how many rules, and which sources feed it
    let ls = v["logsources"].as_array().expect("logsources");
    assert_eq!(ls.len(), 1, "{ls:?}");
    assert_eq!(ls[0]["product"], "windows");
    assert_eq!(ls[0]["rules"], 1);
    assert_eq!(ls[0]["fed"], true);
    assert!(
        ls[0]["fed_by"]
            .as_array()
            .expect("fed_by")
            .iter()
            .any(|f| f == "windows"),
        "{ls:?}"
    );
    assert!(!u["reason"].as_str().expect("reason").is_empty());
    let missing = ctem(tmp.path(), &["rules", "check", "/no/such/dir"]);
    assert_eq!(missing.status.code(), Some(1));
}

#[test]
fn detect_reads_standard_input_and_refuses_missing_rules() {
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = tmp.path().join("rules");
    std::fs::create_dir(&dir).expect("mkdir");
    std::fs::write(
        dir.join("cmd.yml"),
        "title: cmd started\nid: 22222222-2222-2222-2222-222222222222\nlevel: high\nlogsource: {category: process_creation, product: windows}\ndetection:\n  sel: {Image|endswith: '\\\\cmd.exe'}\n  condition: sel\n",
    )
    .expect("write");
    let mut child = Command::new(env!("CARGO_BIN_EXE_ctem"))
        .args(["detect", "--json", "--rules", dir.to_str().expect("p"), "-"])
        .current_dir(tmp.path())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    {
        use std::io::Write;
        let stdin = child.stdin.as_mut().expect("stdin");
        writeln!(stdin, r#"{{"EventID": 1, "Channel": "Microsoft-Windows-Sysmon/Operational", "Image": "C:\\Windows\\System32\\cmd.exe", "Computer": "ws1"}}"#).expect("w");
        writeln!(stdin, r#"{{"EventID": 1, "Channel": "Microsoft-Windows-Sysmon/Operational", "Image": "C:\\Windows\\notepad.exe"}}"#).expect("w");
    }
    let out = child.wait_with_output().expect("wait");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let alerts: Vec<Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("json"))
        .collect();
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0]["rule_id"], "22222222-2222-2222-2222-222222222222");
    assert_eq!(alerts[0]["source"], "stdin");
    // rules are optional now; a missing input is still an error naming it
    let none = ctem(tmp.path(), &["detect", "x.jsonl"]);
    assert_eq!(none.status.code(), Some(1));
    let err = String::from_utf8_lossy(&none.stderr);
    assert!(
        err.contains("x.jsonl") && err.contains("no rules given"),
        "{err}"
    );
}

#[test]
fn active_indicators_of_the_store_are_matched_and_expired_ones_are_not() {
    let tmp = tempfile::tempdir().expect("tmp");
    // a SHA-256 that real Sysmon events of the regression data carry in their Hashes field
    let sha = "2ef794c4940afea56c6d6d3b9bc9e66965bc7333e79c5dcb2def3c0e36f0834c";
    std::fs::write(
        tmp.path().join("iocs.txt"),
        format!("{sha}\nevil.example.com\n"),
    )
    .expect("write");
    let out = ctem(tmp.path(), &["intel", "import", "iocs.txt"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rules = regression().join("rules");
    let data = regression().join("data");
    let run = |dir: &Path| {
        let out = ctem(
            dir,
            &[
                "detect",
                "--rules",
                rules.to_str().expect("p"),
                "--json",
                data.to_str().expect("p"),
            ],
        );
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| serde_json::from_str::<Value>(l).expect("json"))
            .filter(|a| a["rule_id"].as_str().is_some_and(|r| r.starts_with("ioc:")))
            .collect::<Vec<_>>()
    };
    let hits = run(tmp.path());
    assert_eq!(hits.len(), 22, "events whose Hashes carry the indicator");
    assert!(
        hits.iter()
            .all(|a| a["rule_id"] == format!("ioc:sha256:{sha}"))
    );
    assert!(
        hits[0]["title"]
            .as_str()
            .expect("title")
            .contains("iocs.txt")
    );

    // the same indicator, expired, in a STIX bundle of another store: never matches
    let other = tempfile::tempdir().expect("tmp");
    let bundle = serde_json::json!({"type": "bundle", "id": "bundle--6d2a6d4b-5d1f-4b43-9f08-4b1f0a1f7c11",
      "objects": [{"type": "indicator", "spec_version": "2.1",
        "id": "indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f",
        "created": "2020-01-01T00:00:00.000Z", "modified": "2020-01-01T00:00:00.000Z",
        "pattern": format!("[file:hashes.'SHA-256' = '{sha}']"), "pattern_type": "stix",
        "valid_from": "2020-01-01T00:00:00Z", "valid_until": "2021-01-01T00:00:00Z"}]});
    std::fs::write(other.path().join("old.json"), bundle.to_string()).expect("write");
    let out = ctem(other.path(), &["intel", "import", "old.json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        run(other.path()).is_empty(),
        "expired indicators stop matching"
    );
}

#[test]
fn follow_reports_alerts_for_lines_appended_to_a_growing_file() {
    use std::io::{BufRead, BufReader, Write};
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = tmp.path().join("rules");
    std::fs::create_dir(&dir).expect("mkdir");
    std::fs::write(
        dir.join("cmd.yml"),
        "title: cmd started\nid: 33333333-3333-3333-3333-333333333333\nlevel: high\nlogsource: {category: process_creation, product: windows}\ndetection:\n  sel: {Image|endswith: '\\\\cmd.exe'}\n  condition: sel\n",
    )
    .expect("write");
    let log = tmp.path().join("events.jsonl");
    std::fs::write(&log, "{\"EventID\": 1, \"Channel\": \"Microsoft-Windows-Sysmon/Operational\", \"Image\": \"C:\\\\x\\\\notepad.exe\"}\n").expect("write");
    let mut child = Command::new(env!("CARGO_BIN_EXE_ctem"))
        .arg("--db")
        .arg(tmp.path().join("none.db"))
        .args([
            "detect", "--follow", "--json", "--input", "jsonl", "--rules",
        ])
        .arg(&dir)
        .arg(&log)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn");
    let stdout = child.stdout.take().expect("stdout");
    let reader = std::thread::spawn(move || {
        let mut lines = BufReader::new(stdout).lines();
        lines.next().and_then(|l| l.ok())
    });
    std::thread::sleep(std::time::Duration::from_millis(600));
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(&log)
        .expect("open");
    writeln!(f, "{{\"EventID\": 1, \"Channel\": \"Microsoft-Windows-Sysmon/Operational\", \"Image\": \"C:\\\\Windows\\\\System32\\\\cmd.exe\", \"Computer\": \"ws9\"}}").expect("append");
    drop(f);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !reader.is_finished() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
    let line = reader
        .join()
        .expect("reader")
        .expect("an alert line before the deadline");
    let alert: Value = serde_json::from_str(&line).expect("json");
    assert_eq!(alert["rule_id"], "33333333-3333-3333-3333-333333333333");
    assert_eq!(alert["record"], 2, "the appended line");
}

/// A listing on stdout: one JSON array, or (older) one object a line.
fn listing(out: &[u8]) -> Vec<Value> {
    let text = String::from_utf8_lossy(out);
    if text.trim_start().starts_with('[') {
        return serde_json::from_str(&text).expect("json array");
    }
    text.lines()
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect()
}

/// The summary line (`--summary`, the last stdout line) of a detect run.
fn summary_of(out: &std::process::Output) -> Value {
    let text = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(text.lines().last().expect("summary")).expect("json")
}

#[test]
fn detect_store_twice_stores_each_alert_once() {
    let tmp = tempfile::tempdir().expect("tmp");
    let rules = regression().join("rules");
    let data = regression().join("data");
    let run = || {
        let out = ctem(
            tmp.path(),
            &[
                "detect",
                "--rules",
                rules.to_str().expect("p"),
                "--store",
                "--summary",
                "--json",
                data.to_str().expect("p"),
            ],
        );
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        summary_of(&out)
    };
    let first = run();
    let alerts = first["alerts"].as_u64().expect("alerts");
    assert!(alerts > 200, "{first}");
    assert_eq!(first["stored"].as_u64(), Some(alerts));
    let second = run();
    assert_eq!(second["alerts"].as_u64(), Some(alerts));
    assert_eq!(
        second["stored"].as_u64(),
        Some(0),
        "nothing new the second time"
    );
    let listed = ctem(tmp.path(), &["alerts", "--json", "--limit", "100000"]);
    assert_eq!(listing(&listed.stdout).len() as u64, alerts);
}

#[test]
fn detect_without_rules_raises_source_alerts_and_indicator_matches() {
    let tmp = tempfile::tempdir().expect("tmp");
    // a Suricata EVE alert and a flow record
    let eve = tmp.path().join("eve.json");
    std::fs::write(
        &eve,
        concat!(
            r#"{"timestamp":"2018-07-05T15:07:20.910626-0400","flow_id":904992230150281,"event_type":"alert","src_ip":"192.168.86.85","src_port":55641,"dest_ip":"192.168.156.70","dest_port":443,"proto":"TCP","alert":{"action":"allowed","gid":1,"signature_id":2013028,"rev":3,"signature":"ET POLICY curl User-Agent Outbound","category":"Attempted Information Leak","severity":2}}"#,
            "\n",
            r#"{"timestamp":"2018-07-05T15:07:21.000000-0400","flow_id":904992230150282,"event_type":"flow","src_ip":"10.0.0.1","src_port":1,"dest_ip":"10.0.0.2","dest_port":2,"proto":"TCP"}"#,
            "\n"
        ),
    )
    .expect("write");
    std::fs::write(tmp.path().join("iocs.txt"), "10.0.0.2\n").expect("write");
    let out = ctem(tmp.path(), &["intel", "import", "iocs.txt"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = ctem(tmp.path(), &["detect", "--json", "--store", "eve.json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let alerts = listing(&out.stdout);
    let ids: Vec<&str> = alerts
        .iter()
        .filter_map(|a| a["rule_id"].as_str())
        .collect();
    assert_eq!(ids.len(), 2, "{ids:?}");
    assert!(
        ids.iter().any(|r| r.starts_with("suricata:1:2013028")),
        "{ids:?}"
    );
    assert!(ids.iter().any(|r| r.starts_with("ioc:")), "{ids:?}");
    let stored = ctem(tmp.path(), &["alerts", "--json"]);
    assert_eq!(listing(&stored.stdout).len(), 2);
}

/// One unreadable input among several is reported and the others are still read and
/// stored: a truncated gzip, a dangling symlink; a `self -> .` loop is followed once.
#[cfg(unix)]
#[test]
fn one_bad_input_does_not_sink_the_run() {
    use std::io::Write;
    let tmp = tempfile::tempdir().expect("tmp");
    let rules = tmp.path().join("rules");
    std::fs::create_dir(&rules).expect("mkdir");
    std::fs::write(
        rules.join("cmd.yml"),
        "title: cmd started\nid: 44444444-4444-4444-4444-444444444444\nlevel: high\nlogsource: {category: process_creation, product: windows}\ndetection:\n  sel: {Image|endswith: '\\\\cmd.exe'}\n  condition: sel\n",
    )
    .expect("write");
    std::os::unix::fs::symlink(".", rules.join("self")).expect("link");
    let ev = tmp.path().join("events");
    std::fs::create_dir(&ev).expect("mkdir");
    let line = "{\"EventID\": 1, \"Channel\": \"Microsoft-Windows-Sysmon/Operational\", \"Image\": \"C:\\\\Windows\\\\System32\\\\cmd.exe\", \"Computer\": \"ws1\"}\n";
    std::fs::write(ev.join("a.jsonl"), line).expect("write");
    std::fs::write(ev.join("c.jsonl"), line.replace("ws1", "ws2")).expect("write");
    // a gzip cut in half
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    for i in 0..2000 {
        gz.write_all(line.replace("ws1", &format!("h{i}")).as_bytes())
            .expect("gz");
    }
    let gz = gz.finish().expect("gz");
    std::fs::write(ev.join("b.jsonl.gz"), &gz[..gz.len() / 2]).expect("write");
    std::os::unix::fs::symlink(ev.join("gone.jsonl"), ev.join("dangling.jsonl")).expect("link");
    std::os::unix::fs::symlink(".", ev.join("self")).expect("link");
    let out = ctem(
        tmp.path(),
        &[
            "detect",
            "--rules",
            rules.to_str().expect("p"),
            "--json",
            "--store",
            "--summary",
            ev.to_str().expect("p"),
        ],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("b.jsonl.gz"), "{err}");
    assert!(err.contains("dangling.jsonl"), "{err}");
    let summary = summary_of(&out);
    assert_eq!(summary["failed_inputs"], 2, "{summary}");
    let stored = listing(&ctem(tmp.path(), &["alerts", "--json", "--limit", "100000"]).stdout);
    let hosts: HashSet<&str> = stored.iter().filter_map(|a| a["host"].as_str()).collect();
    assert!(hosts.contains("ws1") && hosts.contains("ws2"), "{hosts:?}");
    // the rules were loaded once (the loop in the rules folder), the good files read once
    // (the loop in the events folder); the gzip's first part gave alerts too
    let a_alerts = stored.iter().filter(|a| a["source"] == "a.jsonl").count();
    assert_eq!(a_alerts, 1);
    assert!(stored.iter().any(|a| a["source"] == "b.jsonl.gz"));
}

#[test]
fn follow_with_store_writes_alerts_while_running() {
    use std::io::Write;
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = tmp.path().join("rules");
    std::fs::create_dir(&dir).expect("mkdir");
    std::fs::write(
        dir.join("cmd.yml"),
        "title: cmd started\nid: 55555555-5555-5555-5555-555555555555\nlevel: high\nlogsource: {category: process_creation, product: windows}\ndetection:\n  sel: {Image|endswith: '\\\\cmd.exe'}\n  condition: sel\n",
    )
    .expect("write");
    let log = tmp.path().join("events.jsonl");
    std::fs::write(&log, "{\"EventID\": 1, \"Channel\": \"Microsoft-Windows-Sysmon/Operational\", \"Image\": \"C:\\\\x\\\\notepad.exe\"}\n").expect("write");
    let mut child = Command::new(env!("CARGO_BIN_EXE_ctem"))
        .arg("--db")
        .arg(tmp.path().join("ctem.db"))
        .args([
            "detect", "--follow", "--store", "--input", "jsonl", "--rules",
        ])
        .arg(&dir)
        .arg(&log)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn");
    std::thread::sleep(std::time::Duration::from_millis(600));
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(&log)
        .expect("open");
    writeln!(f, "{{\"EventID\": 1, \"Channel\": \"Microsoft-Windows-Sysmon/Operational\", \"Image\": \"C:\\\\Windows\\\\System32\\\\cmd.exe\", \"Computer\": \"ws9\"}}").expect("append");
    drop(f);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let mut stored = Vec::new();
    while std::time::Instant::now() < deadline {
        let out = ctem(tmp.path(), &["alerts", "--json"]);
        if out.status.success() {
            stored = listing(&out.stdout);
            if !stored.is_empty() {
                break;
            }
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    let still_running = child.try_wait().expect("wait").is_none();
    let _ = child.kill();
    let _ = child.wait();
    assert!(still_running, "detect --follow keeps running");
    assert_eq!(
        stored.len(),
        1,
        "the alert is in the store while detect runs"
    );
    assert_eq!(stored[0]["host"], "ws9");
}

/// The rule cache: the first run writes it, the second reads it, and both raise the same
/// alerts as a run without it; a damaged entry is parsed again and rewritten. EVTX input
/// (the fast path) gives the same alerts on one thread and two.
#[test]
fn detect_rule_cache_serves_the_second_run_with_the_same_alerts() {
    let tmp = tempfile::tempdir().expect("tmp");
    let rules = regression().join("rules");
    let events = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/scenarios/events");
    let run = |extra: &[&str]| {
        let mut args = vec![
            "detect",
            "--rules",
            rules.to_str().expect("p"),
            "--summary",
            "--json",
            events.to_str().expect("p"),
        ];
        args.extend_from_slice(extra);
        let out = ctem(tmp.path(), &args);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let summary = summary_of(&out);
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let alerts: Vec<String> = text.lines().map(str::to_string).collect();
        let alerts = alerts[..alerts.len() - 1].to_vec();
        (
            summary["rule_cache"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
            alerts,
        )
    };
    let (used, plain) = run(&["--no-rule-cache"]);
    assert_eq!(used, "off");
    assert!(plain.len() >= 3, "{} alerts", plain.len());
    assert!(!tmp.path().join("cache").exists());
    let (used, first) = run(&[]);
    assert_eq!(used, "written");
    let (used, second) = run(&[]);
    assert_eq!(used, "hit");
    let (_, two_threads) = run(&["--threads", "2"]);
    assert_eq!(first, plain);
    assert_eq!(second, plain);
    assert_eq!(two_threads, plain);
    let dir = tmp.path().join("cache/ctem/rules");
    let entry = std::fs::read_dir(&dir)
        .expect("cache folder")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| p.extension().is_some_and(|x| x == "rules"))
        .expect("a cache entry");
    let mut bytes = std::fs::read(&entry).expect("read");
    let at = bytes.len() / 2;
    bytes[at] ^= 1;
    std::fs::write(&entry, bytes).expect("write");
    let (used, again) = run(&[]);
    assert_eq!(used, "written");
    assert_eq!(again, plain);
}
