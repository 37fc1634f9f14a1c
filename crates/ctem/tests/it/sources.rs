//! `ctem run --once` and `ctem sources` with real processes, files and sockets: folder,
//! URL and tailed-file sources, silent sources and their findings, notifications over a
//! local webhook and a local SMTP listener, and the record of every run.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;

use crate::common::{Env, trivy_fixture};

/// `ctem run --once --json`: the runs it recorded.
fn run_once(env: &Env) -> Vec<Value> {
    let out = env.run(&["run", "--once", "--json"]);
    let runs: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    runs.as_array().expect("array").clone()
}

fn job<'a>(runs: &'a [Value], name: &str) -> &'a Value {
    runs.iter()
        .find(|r| r["job"] == name)
        .unwrap_or_else(|| panic!("no run of {name} in {runs:?}"))
}

/// Jobs that write reports are switched off where a test does not look at them.
const QUIET: &str = "[schedule]\nreview = \"off\"\nkpi_snapshot = \"off\"\n";

#[test]
fn a_folder_source_imports_a_new_file_once_and_not_twice() {
    let env = Env::new();
    std::fs::create_dir(env.path("drop")).expect("mkdir");
    std::fs::write(
        env.path("ctem.toml"),
        format!(
            "{QUIET}[[sources]]\nname = \"ci\"\nkind = \"folder\"\npath = \"drop\"\nformat = \"trivy\"\nexpect_every = \"1d\"\n"
        ),
    )
    .expect("config");
    let report = trivy_fixture("alpine-310.json");
    std::fs::copy(&report, env.path("drop/a.json")).expect("copy");
    // a file still being written is left alone
    std::fs::write(env.path("drop/b.json.part"), b"{").expect("write");
    let runs = run_once(&env);
    let r = job(&runs, "source:ci");
    assert_eq!(r["outcome"], "ok", "{r}");
    assert!(r["records"].as_u64().unwrap() > 0, "{r}");
    let exposures = env.rows(&["exposures", "--json"]).len();
    assert!(exposures > 0);
    // the same file again, and a copy of it under another name: nothing imported
    std::fs::copy(&report, env.path("drop/copy.json")).expect("copy");
    let runs = run_once(&env);
    assert_eq!(job(&runs, "source:ci")["outcome"], "idle");
    assert_eq!(env.rows(&["scans", "--json"]).len(), 1, "imported once");
    let s = &env.rows(&["sources", "--json"])[0];
    assert_eq!(s["status"], "flowing", "{s}");
    assert!(s["records"].as_u64().unwrap() > 0);
}

#[test]
fn a_folder_source_moves_imported_files_to_done() {
    let env = Env::new();
    std::fs::create_dir(env.path("drop")).expect("mkdir");
    std::fs::write(
        env.path("ctem.toml"),
        format!("{QUIET}[[sources]]\nname = \"ci\"\nkind = \"folder\"\npath = \"drop\"\ndone = \"done\"\n"),
    )
    .expect("config");
    std::fs::copy(trivy_fixture("alpine-310.json"), env.path("drop/a.json")).expect("copy");
    std::fs::write(env.path("drop/bad.json"), b"{\"not\": \"a report\"}").expect("write");
    let runs = run_once(&env);
    let r = job(&runs, "source:ci");
    assert_eq!(r["outcome"], "ok", "one imported, one failed: {r}");
    assert!(r["errors"][0].as_str().unwrap().contains("bad.json"), "{r}");
    assert!(env.path("done/a.json").exists());
    assert!(env.path("done/bad.json").exists());
    assert!(!env.path("drop/a.json").exists());
    assert_eq!(env.rows(&["scans", "--json"]).len(), 1);
}

#[test]
fn a_url_source_honours_etag_and_304() {
    let env = Env::new();
    let body = std::fs::read(trivy_fixture("alpine-310.json")).expect("fixture");
    let (base, seen) = crate::intel::serve(vec![("report.json", body)]);
    std::fs::write(
        env.path("ctem.toml"),
        format!(
            "{QUIET}[[sources]]\nname = \"nightly\"\nkind = \"url\"\nurl = \"{base}/report.json\"\nformat = \"trivy\"\nallow_addresses = [\"127.0.0.1\"]\n"
        ),
    )
    .expect("config");
    let r = run_once(&env);
    let first = job(&r, "source:nightly");
    assert_eq!(first["outcome"], "ok", "{first}");
    let r = run_once(&env);
    assert_eq!(job(&r, "source:nightly")["outcome"], "idle", "304");
    let log = seen.lock().expect("lock").clone();
    assert_eq!(log.len(), 2, "{log:?}");
    assert_eq!(log[0], "/report.json inm=");
    assert!(
        log[1].starts_with("/report.json inm=\"report.json-"),
        "{log:?}"
    );
    assert_eq!(env.rows(&["scans", "--json"]).len(), 1);
}

const RULE: &str = "title: cmd started\nid: 33333333-3333-3333-3333-333333333333\nlevel: high\nlogsource: {category: process_creation, product: windows}\ndetection:\n  sel: {Image|endswith: '\\\\cmd.exe'}\n  condition: sel\n";

fn event(host: &str) -> String {
    format!(
        "{{\"EventID\": 1, \"Channel\": \"Microsoft-Windows-Sysmon/Operational\", \"Image\": \"C:\\\\Windows\\\\System32\\\\cmd.exe\", \"Computer\": \"{host}\"}}\n"
    )
}

fn alert_hosts(env: &Env) -> Vec<String> {
    let mut h: Vec<String> = env
        .rows(&["alerts", "--json"])
        .iter()
        .map(|a| a["host"].as_str().unwrap_or_default().to_string())
        .collect();
    h.sort();
    h
}

#[test]
fn a_tailed_file_is_followed_across_rotation() {
    let env = Env::new();
    std::fs::create_dir(env.path("rules")).expect("mkdir");
    std::fs::write(env.path("rules/cmd.yml"), RULE).expect("rule");
    std::fs::write(
        env.path("ctem.toml"),
        format!(
            "{QUIET}[[sources]]\nname = \"sysmon\"\nkind = \"file\"\npath = \"events.jsonl\"\nformat = \"jsonl\"\nrules = [\"rules\"]\n"
        ),
    )
    .expect("config");
    let log = env.path("events.jsonl");
    std::fs::write(&log, event("ws1")).expect("write");
    let r = run_once(&env);
    assert_eq!(job(&r, "source:sysmon")["records"], 1);
    assert_eq!(alert_hosts(&env), ["ws1"]);
    // appended, then rotated away (rename + a new file), while ctem is not running; a half
    // line waits for its end
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(&log)
        .expect("open");
    f.write_all(event("ws2").as_bytes()).expect("append");
    drop(f);
    std::fs::rename(&log, env.path("events.jsonl.1")).expect("rotate");
    let second = event("ws3");
    let (head, rest) = second.split_at(20);
    std::fs::write(&log, head).expect("write");
    let r = run_once(&env);
    assert_eq!(
        job(&r, "source:sysmon")["records"],
        1,
        "ws2 from the rotated file"
    );
    assert_eq!(alert_hosts(&env), ["ws1", "ws2"]);
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(&log)
        .expect("open");
    f.write_all(rest.as_bytes()).expect("append");
    drop(f);
    let r = run_once(&env);
    assert_eq!(job(&r, "source:sysmon")["records"], 1);
    assert_eq!(alert_hosts(&env), ["ws1", "ws2", "ws3"]);
    // nothing new: nothing read twice
    run_once(&env);
    assert_eq!(alert_hosts(&env).len(), 3);
}

/// A child process killed when the test ends, failed or not.
struct Killed(std::process::Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn a_tailed_file_is_followed_across_rotation_while_running() {
    let env = Env::new();
    std::fs::create_dir(env.path("rules")).expect("mkdir");
    std::fs::write(env.path("rules/cmd.yml"), RULE).expect("rule");
    std::fs::write(
        env.path("ctem.toml"),
        format!(
            "{QUIET}[[sources]]\nname = \"sysmon\"\nkind = \"file\"\npath = \"events.jsonl\"\nformat = \"jsonl\"\nrules = [\"rules\"]\ninterval = \"100ms\"\n"
        ),
    )
    .expect("config");
    let log = env.path("events.jsonl");
    std::fs::write(&log, event("ws1")).expect("write");
    let child = env
        .command(&["run"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn");
    let _running = Killed(child);
    let wait_for = |n: usize| {
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while std::time::Instant::now() < deadline {
            // the store appears when the scheduler first opens it
            let out = env.run(&["alerts", "--json"]);
            let seen = serde_json::from_slice::<Vec<Value>>(&out.stdout).map_or(0, |v| v.len());
            if out.status.success() && seen >= n {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    };
    wait_for(1);
    // logrotate's default: the file renamed after a last line, a new one created
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(&log)
        .expect("open");
    f.write_all(event("ws2").as_bytes()).expect("append");
    drop(f);
    std::fs::rename(&log, env.path("events.jsonl.1")).expect("rotate");
    std::fs::write(&log, event("ws3")).expect("write");
    wait_for(3);
    assert_eq!(alert_hosts(&env), ["ws1", "ws2", "ws3"]);
}

#[test]
fn a_silent_source_shows_as_silent_opens_its_finding_and_assess_counts_it() {
    let env = Env::new();
    std::fs::create_dir(env.path("drop")).expect("mkdir");
    std::fs::write(
        env.path("ctem.toml"),
        format!(
            "{QUIET}[risk.teams.platform]\n[[sources]]\nname = \"ci\"\nkind = \"folder\"\npath = \"drop\"\nowner = \"platform\"\nexpect_every = \"1s\"\n"
        ),
    )
    .expect("config");
    run_once(&env);
    assert_eq!(env.rows(&["sources", "--json"])[0]["status"], "new");
    std::thread::sleep(Duration::from_millis(1300));
    let runs = run_once(&env);
    assert_eq!(job(&runs, "source_health")["records"], 1);
    let s = &env.rows(&["sources", "--json"])[0];
    assert_eq!(s["status"], "silent", "{s}");
    assert_eq!(s["owner"], "platform");
    let found = env.rows(&["exposures", "--tool", "ctem", "--json"]);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0]["title"], "source ci is silent");
    assert_eq!(found[0]["status"], "open");
    let assets = env.rows(&["assets", "--json"]);
    assert_eq!(assets[0]["name"], "source:ci");
    assert_eq!(assets[0]["owner_team"], "platform", "{}", assets[0]);
    let report = env.ok(&["assess"]);
    assert!(
        report.contains("restore the declared source (folder) ci"),
        "{report}"
    );
    // data again: flowing, the finding fixed
    std::fs::copy(trivy_fixture("alpine-310.json"), env.path("drop/a.json")).expect("copy");
    run_once(&env);
    assert_eq!(env.rows(&["sources", "--json"])[0]["status"], "flowing");
    assert!(
        env.rows(&["exposures", "--tool", "ctem", "--json"])
            .is_empty()
    );
    let found = env.rows(&["exposures", "--tool", "ctem", "--status", "fixed", "--json"]);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0]["title"], "source ci is silent");
}

/// A webhook receiver: records each POST body.
fn webhook() -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}/hook", listener.local_addr().expect("addr"));
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().expect("clone"));
            let mut len = 0usize;
            loop {
                let mut h = String::new();
                if reader.read_line(&mut h).unwrap_or(0) == 0 || h == "\r\n" {
                    break;
                }
                if let Some(v) = h.to_ascii_lowercase().strip_prefix("content-length:") {
                    len = v.trim().parse().unwrap_or(0);
                }
            }
            let mut body = vec![0u8; len];
            let _ = std::io::Read::read_exact(&mut reader, &mut body);
            log.lock()
                .expect("lock")
                .push(String::from_utf8_lossy(&body).into_owned());
            let _ = stream
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok");
        }
    });
    (url, seen)
}

/// An SMTP listener speaking just enough of RFC 5321; records each message's DATA.
fn smtp() -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr").to_string();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut w) = stream else { continue };
            let mut r = BufReader::new(w.try_clone().expect("clone"));
            let _ = w.write_all(b"220 test ESMTP\r\n");
            let mut data: Option<String> = None;
            loop {
                let mut line = String::new();
                if r.read_line(&mut line).unwrap_or(0) == 0 {
                    break;
                }
                if let Some(d) = data.as_mut() {
                    if line == ".\r\n" {
                        log.lock()
                            .expect("lock")
                            .push(data.take().unwrap_or_default());
                        let _ = w.write_all(b"250 queued\r\n");
                    } else {
                        d.push_str(&line);
                    }
                    continue;
                }
                let reply: &[u8] = match line.get(..4).unwrap_or("").to_ascii_uppercase().as_str() {
                    "EHLO" => b"250-test\r\n250 8BITMIME\r\n",
                    "DATA" => {
                        data = Some(String::new());
                        b"354 go on\r\n"
                    }
                    "QUIT" => {
                        let _ = w.write_all(b"221 bye\r\n");
                        break;
                    }
                    _ => b"250 ok\r\n",
                };
                let _ = w.write_all(reply);
            }
        }
    });
    (addr, seen)
}

#[test]
fn notifications_are_sent_once_across_a_restart() {
    let env = Env::new();
    std::fs::create_dir(env.path("drop")).expect("mkdir");
    let (hook, posts) = webhook();
    let (relay, mails) = smtp();
    std::fs::write(
        env.path("ctem.toml"),
        format!(
            "[schedule]\nreview = \"off\"\nkpi_snapshot = \"off\"\nnotify = \"100ms\"\n\
             [[sources]]\nname = \"ci\"\nkind = \"folder\"\npath = \"drop\"\nowner = \"platform\"\nexpect_every = \"1s\"\n\
             [[notify]]\nname = \"chat\"\ntype = \"slack\"\nurl = \"{hook}\"\nallow_addresses = [\"127.0.0.1\"]\n\
             [[notify]]\nname = \"mail\"\ntype = \"email\"\nsmtp = \"{relay}\"\nfrom = \"ctem@example.org\"\nto = [\"platform@example.org\"]\nteam = \"platform\"\n\
             [[notify]]\nname = \"other\"\ntype = \"email\"\nsmtp = \"{relay}\"\nfrom = \"ctem@example.org\"\nto = [\"other@example.org\"]\nteam = \"other\"\n"
        ),
    )
    .expect("config");
    run_once(&env);
    std::thread::sleep(Duration::from_millis(1300));
    let runs = run_once(&env);
    assert_eq!(job(&runs, "notify")["records"], 2, "{runs:?}");
    // a restart later: nothing new to tell
    std::thread::sleep(Duration::from_millis(200));
    let runs = run_once(&env);
    assert_eq!(job(&runs, "notify")["outcome"], "idle", "{runs:?}");
    let posts = posts.lock().expect("lock").clone();
    assert_eq!(posts.len(), 1, "{posts:?}");
    let body: Value = serde_json::from_str(&posts[0]).expect("slack json");
    assert!(
        body["text"]
            .as_str()
            .unwrap()
            .contains("source ci is silent"),
        "{body}"
    );
    let mails = mails.lock().expect("lock").clone();
    assert_eq!(mails.len(), 1, "only the owning team's channel: {mails:?}");
    assert!(
        mails[0].contains("To: platform@example.org\r\n"),
        "{}",
        mails[0]
    );
    assert!(mails[0].contains("source ci is silent"), "{}", mails[0]);
}

#[test]
fn run_once_records_its_runs_and_writes_the_scheduled_exports() {
    let env = Env::new();
    std::fs::write(env.path("iocs.txt"), "phish@bad.example\nbad.example\n").expect("iocs");
    env.ok(&["intel", "import", "--kind", "iocs", "iocs.txt"]);
    std::fs::write(
        env.path("ctem.toml"),
        "[schedule]\nreview_dir = \"reviews\"\n\
         [[schedule.exports]]\nname = \"postfix\"\ntype = \"email\"\nformat = \"postfix\"\nout = \"maps/sender_access\"\nevery = \"1h\"\n",
    )
    .expect("config");
    let runs = run_once(&env);
    for name in ["kpi_snapshot", "review", "export:postfix"] {
        assert_eq!(job(&runs, name)["outcome"], "ok", "{name}: {runs:?}");
    }
    let map = std::fs::read_to_string(env.path("maps/sender_access")).expect("map written");
    assert!(map.contains("phish@bad.example"), "{map}");
    assert!(
        std::fs::read_dir(env.path("reviews"))
            .expect("reviews")
            .count()
            == 1
    );
    let recorded = env.rows(&["sources", "--runs", "--json"]);
    assert_eq!(recorded.len(), runs.len());
    for r in &recorded {
        assert!(
            r["started_at"].is_string() && r["ended_at"].is_string(),
            "{r}"
        );
        assert!(r["errors"].is_array());
    }
    // a second run at once: the daily and hourly jobs are not due again
    let again = run_once(&env);
    assert!(
        again
            .iter()
            .all(|r| r["job"] != "export:postfix" && r["job"] != "review"),
        "{again:?}"
    );
}
