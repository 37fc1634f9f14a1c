//! Real processes on one SQLite store: imports started at once on a store that does not
//! exist yet all succeed (the migrations run once, under the write lock) and leave the
//! store that the same imports leave one after another.

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use serde_json::Value;

use crate::common::demo_file;

/// A config giving writers a 120 s busy timeout: what is tested is that a writer waits for
/// another, not how long the default wait is, and on a loaded CI machine three debug imports
/// in a row can outlast the 10 s default. One file for the test process.
fn patient_config() -> &'static std::path::Path {
    static CONFIG: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    CONFIG.get_or_init(|| {
        let path = std::env::temp_dir().join(format!("ctem-patient-{}.toml", std::process::id()));
        std::fs::write(&path, "[store]\nbusy_timeout = \"120s\"\n").expect("config");
        path
    })
}

pub(crate) fn ctem(db: &OsStr) -> Command {
    let config = patient_config();
    let mut c = Command::new(env!("CARGO_BIN_EXE_ctem"));
    c.arg("--config")
        .arg(config)
        .arg("--db")
        .arg(db)
        .env_remove("CTEM_CONFIG")
        .env_remove("CTEM_DB");
    c
}

fn json_lines(db: &OsStr, args: &[&str]) -> Vec<Value> {
    let out = ctem(db).args(args).output().expect("run");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let text = text.trim();
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Array(a)) => a,
        _ => text
            .lines()
            .map(|l| serde_json::from_str(l).expect("json line"))
            .collect(),
    }
}

/// The store's content without ids and times: assets, exposures by asset, tickets.
pub(crate) fn snapshot(db: &OsStr) -> Vec<String> {
    let assets = json_lines(db, &["assets", "--json"]);
    let names: BTreeMap<i64, String> = assets
        .iter()
        .map(|a| (a["id"].as_i64().unwrap_or(0), a["name"].to_string()))
        .collect();
    let mut out: Vec<String> = assets
        .iter()
        .map(|a| format!("asset {} {} {}", a["kind"], a["name"], a["identifiers"]))
        .collect();
    for e in json_lines(db, &["exposures", "--json"]) {
        let asset = names.get(&e["asset_id"].as_i64().unwrap_or(0));
        out.push(format!(
            "exposure {asset:?} {} {} {} {}",
            e["kind"], e["title"], e["status"], e["severity"]
        ));
    }
    for t in json_lines(db, &["tickets", "--json"]) {
        out.push(format!(
            "ticket {} {} {}",
            t["key"], t["state"], t["exposures"]
        ));
    }
    out.sort();
    out
}

pub(crate) fn reports() -> Vec<PathBuf> {
    [
        "nmap-testphp.xml",
        "testphp.nessus",
        "trivy-alpine-310.json",
    ]
    .iter()
    .map(|f| demo_file(f))
    .collect()
}

#[test]
fn three_imports_at_once_on_a_new_store_all_succeed_and_match_one_after_another() {
    let dir = tempfile::tempdir().expect("tmp");
    let sequential = dir.path().join("sequential.db");
    for r in reports() {
        let out = ctem(sequential.as_os_str())
            .arg("import")
            .arg(&r)
            .output()
            .expect("run");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let expected = snapshot(sequential.as_os_str());
    assert!(expected.iter().any(|l| l.starts_with("exposure")));
    for round in 0..20 {
        let db = dir.path().join(format!("at-once-{round}.db"));
        let children: Vec<_> = reports()
            .iter()
            .map(|r| {
                ctem(db.as_os_str())
                    .arg("import")
                    .arg(r)
                    .stdout(Stdio::null())
                    .stderr(Stdio::piped())
                    .spawn()
                    .expect("spawn")
            })
            .collect();
        for c in children {
            let out = c.wait_with_output().expect("wait");
            assert!(
                out.status.success(),
                "round {round}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        assert_eq!(snapshot(db.as_os_str()), expected, "round {round}");
    }
}
