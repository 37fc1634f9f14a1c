//! `ctem intel ...` and `ctem share ...` end to end: real KEV / EPSS / CVE / STIX / MISP files,
//! enrichment of real scanner exposures, and feed updates from a local HTTP server.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use serde_json::Value;

use crate::common::{Env, demo_file, intel_fixture};

impl Env {
    fn intel_import(&self, files: &[&Path]) -> Value {
        let mut args = vec!["intel".to_string(), "import".into(), "--json".into()];
        args.extend(files.iter().map(|f| f.display().to_string()));
        let a: Vec<&str> = args.iter().map(String::as_str).collect();
        self.json(&a)
    }

    fn scan_import(&self, file: &Path) {
        self.ok(&["import", "--json", &file.display().to_string()]);
    }
}

fn by_cve<'a>(rows: &'a [Value], cve: &str) -> &'a Value {
    rows.iter()
        .find(|e| e["cves"][0] == cve)
        .unwrap_or_else(|| panic!("no exposure for {cve}"))
}

#[test]
fn intel_import_enriches_scan_exposures_and_kev_filter() {
    let env = Env::new();
    env.scan_import(&demo_file("cyclonedx-log4j.json"));
    let s = env.intel_import(&[
        &demo_file("kev.json"),
        &demo_file("epss-excerpt.csv"),
        &intel_fixture("cve5/cves__2021__44xxx__CVE-2021-44228.json"),
    ]);
    assert_eq!(s[0]["kind"], "kev");
    assert_eq!(s[0]["stored"]["kev"], 1404);
    assert_eq!(s[1]["kind"], "epss");
    assert_eq!(s[2]["kind"], "cve");
    let kev = env.rows(&["exposures", "--kev", "--json"]);
    let cves: Vec<&str> = kev.iter().filter_map(|e| e["cves"][0].as_str()).collect();
    assert_eq!(cves.len(), 2, "{cves:?}");
    let log4shell = by_cve(&kev, "CVE-2021-44228");
    let i = &log4shell["intel"];
    assert_eq!(i["kev"], true);
    assert_eq!(i["kev_date_added"], "2021-12-10");
    assert_eq!(i["kev_due_date"], "2021-12-24");
    assert_eq!(i["kev_ransomware"], "known");
    assert_eq!(i["epss"], 0.99999);
    assert_eq!(i["epss_percentile"], 1.0);
    assert_eq!(i["epss_date"], "2026-09-29");
    let all = env.rows(&["exposures", "--json"]);
    assert!(all.len() > cves.len(), "--kev filters");
    let ghsa = all
        .iter()
        .find(|e| e["cves"].as_array().is_none())
        .expect("an exposure without CVE");
    assert!(ghsa.get("intel").is_none(), "{ghsa}");
}

#[test]
fn scan_imported_after_intel_is_enriched_at_once() {
    let env = Env::new();
    env.intel_import(&[&demo_file("kev.json"), &demo_file("epss-excerpt.csv")]);
    env.scan_import(&demo_file("cyclonedx-log4j.json"));
    let kev = env.rows(&["exposures", "--kev", "--json"]);
    assert_eq!(kev.len(), 2);
    assert_eq!(by_cve(&kev, "CVE-2021-44228")["intel"]["epss"], 0.99999);
    let e = env.json(&["intel", "enrich", "--json"]);
    assert_eq!(e["enriched_cves"], 2);
}

#[test]
fn reimporting_indicators_updates_and_expired_ones_stop_matching() {
    let env = Env::new();
    let stix = intel_fixture("stix/indicator-for-malicious-url.json");
    let first = env.intel_import(&[&stix]);
    let new = first[0]["stored"]["indicators_new"].as_u64().expect("n");
    assert!(new >= 1, "{first}");
    let again = env.intel_import(&[&stix]);
    assert_eq!(again[0]["stored"]["indicators_new"], 0);
    assert_eq!(again[0]["stored"]["indicators_updated"], new);
    let all = env.json(&["intel", "indicators", "--all", "--json"]);
    assert_eq!(all.as_array().map(Vec::len), Some(new as usize));
    // an IOC list with one expired entry: the active listing leaves it out
    let iocs = env.path("feed.json");
    let expired = serde_json::json!({
        "type": "bundle", "id": "bundle--5d0092c5-5f74-4287-9642-33f4c354e56d",
        "objects": [
            {"type": "indicator", "spec_version": "2.1",
             "id": "indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f",
             "created": "2020-01-01T00:00:00Z", "modified": "2020-01-01T00:00:00Z",
             "pattern": "[domain-name:value = 'old.example']", "pattern_type": "stix",
             "valid_from": "2020-01-01T00:00:00Z", "valid_until": "2020-02-01T00:00:00Z"},
            {"type": "indicator", "spec_version": "2.1",
             "id": "indicator--9e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f",
             "created": "2020-01-01T00:00:00Z", "modified": "2020-01-01T00:00:00Z",
             "pattern": "[domain-name:value = 'live.example']", "pattern_type": "stix",
             "valid_from": "2020-01-01T00:00:00Z"}
        ]
    });
    std::fs::write(&iocs, expired.to_string()).expect("write");
    env.intel_import(&[&iocs]);
    let active = env.json(&["intel", "indicators", "--type", "domain", "--json"]);
    let values: Vec<&str> = active
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|i| i["value"].as_str())
        .collect();
    assert_eq!(values, vec!["live.example"]);
    let with_expired = env.json(&["intel", "indicators", "--type", "domain", "--all", "--json"]);
    assert_eq!(with_expired.as_array().map(Vec::len), Some(2));
}

#[test]
fn failed_intel_import_writes_nothing_and_names_the_file() {
    let env = Env::new();
    let bad = env.path("scores-epss.csv");
    std::fs::write(&bad, "cve,score\nCVE-2021-44228,0.9\n").expect("write");
    let out = env.run(&[
        "intel",
        "import",
        "--kind",
        "epss",
        &bad.display().to_string(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("scores-epss.csv"), "{err}");
    // a MISP feed whose manifest lists an event file that is missing: nothing is stored
    let uuid = "57c4445b-c548-4654-af0b-4be3950d210f";
    let feed = env.path("feed");
    std::fs::create_dir_all(&feed).expect("mkdir");
    std::fs::copy(
        intel_fixture(&format!("misp/{uuid}.json")),
        feed.join(format!("{uuid}.json")),
    )
    .expect("copy");
    let manifest = serde_json::json!({
        uuid: {"info": "Ransomware - Xorist", "date": "2016-08-29", "analysis": 2,
               "threat_level_id": 3, "timestamp": "1472469587", "Tag": []},
        "11111111-2222-3333-4444-555555555555": {"info": "missing", "date": "2020-01-01",
               "analysis": 2, "threat_level_id": 3, "timestamp": "1", "Tag": []}
    });
    let mpath = feed.join("manifest.json");
    std::fs::write(&mpath, manifest.to_string()).expect("write");
    let out = env.run(&["intel", "import", &mpath.display().to_string()]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let all = env.json(&["intel", "indicators", "--all", "--json"]);
    assert_eq!(all.as_array().map(Vec::len), Some(0));
    // with the manifest listing only the present event, the feed imports
    let manifest = serde_json::json!({uuid: manifest[uuid].clone()});
    std::fs::write(&mpath, manifest.to_string()).expect("write");
    let s = env.intel_import(&[&mpath]);
    assert_eq!(s[0]["kind"], "misp");
    assert!(
        s[0]["stored"]["indicators_new"].as_u64().unwrap_or(0) > 0,
        "{s}"
    );
}

#[test]
fn share_blocklists_and_stix_bundle() {
    let env = Env::new();
    env.intel_import(&[
        &intel_fixture("stix/indicator-for-c2-ip-address.json"),
        &intel_fixture("stix/indicator-for-malicious-url.json"),
    ]);
    let nft = env.ok(&["share", "blocklist", "--type", "ip", "--format", "nftables"]);
    assert!(nft.contains("10.0.0.0"), "{nft}");
    let csv = env.ok(&["share", "blocklist", "--type", "url", "--format", "csv"]);
    assert!(csv.lines().count() >= 2, "{csv}");
    let out = env.path("bundle.json");
    env.ok(&["share", "stix", "--out", &out.display().to_string()]);
    let b: Value = serde_json::from_slice(&std::fs::read(&out).expect("read")).expect("json");
    assert_eq!(b["type"], "bundle");
    let inds: Vec<&Value> = b["objects"]
        .as_array()
        .expect("objects")
        .iter()
        .filter(|o| o["type"] == "indicator")
        .collect();
    assert!(inds.len() >= 2, "{b}");
    for i in inds {
        assert_eq!(i["spec_version"], "2.1");
        assert!(i["pattern"].as_str().is_some_and(|p| p.starts_with('[')));
    }
    // only amber and below leave by default; --max-tlp clear holds back untagged indicators
    let none = env.ok(&[
        "share",
        "blocklist",
        "--type",
        "ip",
        "--format",
        "plain",
        "--max-tlp",
        "clear",
    ]);
    assert!(none.trim().is_empty(), "{none}");
    let bad = env.run(&["share", "blocklist", "--type", "ip", "--format", "rpz"]);
    assert_eq!(bad.status.code(), Some(1));
}

/// A tiny HTTP/1.1 server on 127.0.0.1 serving fixture files with an ETag, answering 304 to a
/// matching `If-None-Match`, and one redirect to a `file:` URL. Records the request lines and
/// conditional headers it saw.
pub(crate) fn serve(files: Vec<(&'static str, Vec<u8>)>) -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().expect("clone"));
            let mut request = String::new();
            if reader.read_line(&mut request).is_err() {
                continue;
            }
            let mut inm = None;
            loop {
                let mut h = String::new();
                if reader.read_line(&mut h).unwrap_or(0) == 0 || h == "\r\n" {
                    break;
                }
                if let Some(v) = h.to_ascii_lowercase().strip_prefix("if-none-match:") {
                    inm = Some(v.trim().to_string());
                }
            }
            let path = request.split_whitespace().nth(1).unwrap_or("/").to_string();
            log.lock()
                .expect("lock")
                .push(format!("{path} inm={}", inm.clone().unwrap_or_default()));
            let resp: Vec<u8> = if path == "/evil" {
                b"HTTP/1.1 302 Found\r\nLocation: file:///etc/passwd\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_vec()
            } else if let Some((_, body)) = files.iter().find(|(n, _)| path == format!("/{n}")) {
                let etag = format!("\"{}-{}\"", path.trim_start_matches('/'), body.len());
                if inm.as_deref() == Some(etag.as_str()) {
                    format!(
                        "HTTP/1.1 304 Not Modified\r\nETag: {etag}\r\nConnection: close\r\n\r\n"
                    )
                    .into_bytes()
                } else {
                    let mut r = format!(
                        "HTTP/1.1 200 OK\r\nETag: {etag}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                        body.len()
                    )
                    .into_bytes();
                    r.extend_from_slice(body);
                    r
                }
            } else {
                b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_vec()
            };
            let _ = stream.write_all(&resp);
        }
    });
    (base, seen)
}

/// The test server is on loopback, which a feed may reach only when it says so.
const LOCAL: &str = "allow_addresses = [\"127.0.0.1\"]";

#[test]
fn intel_update_uses_conditional_get_against_a_local_server() {
    let env = Env::new();
    let read = |p: PathBuf| std::fs::read(p).expect("fixture");
    let (base, seen) = serve(vec![
        ("kev.json", read(demo_file("kev.json"))),
        ("epss.csv", read(demo_file("epss-excerpt.csv"))),
        ("big.csv", read(demo_file("epss-excerpt.csv"))),
    ]);
    let config = |interval: &str| {
        format!(
            "[[feeds]]\nname = \"kev\"\nurl = \"{base}/kev.json\"\nkind = \"kev\"\ninterval = \"{interval}\"\ntimeout = \"10s\"\n{LOCAL}\n\
             [[feeds]]\nname = \"epss\"\nurl = \"{base}/epss.csv\"\ninterval = \"{interval}\"\n{LOCAL}\n\
             [[feeds]]\nname = \"evil\"\nurl = \"{base}/evil\"\ninterval = \"{interval}\"\n{LOCAL}\n\
             [[feeds]]\nname = \"big\"\nurl = \"{base}/big.csv\"\nmax_size_mb = 0\ninterval = \"{interval}\"\n{LOCAL}\n"
        )
    };
    std::fs::write(env.path("ctem.toml"), config("0s")).expect("config");
    env.scan_import(&demo_file("cyclonedx-log4j.json"));
    let out = env.run(&["intel", "update", "--json"]);
    assert_eq!(out.status.code(), Some(1), "the evil and big feeds fail");
    let r: Value = serde_json::from_slice(&out.stdout).expect("json");
    let status = |r: &Value, name: &str| {
        r.as_array()
            .expect("list")
            .iter()
            .find(|o| o["feed"] == name)
            .map(|o| (o["status"].clone(), o["error"].clone()))
            .expect("feed")
    };
    assert_eq!(status(&r, "kev").0, "updated");
    assert_eq!(status(&r, "epss").0, "updated");
    let (s, e) = status(&r, "evil");
    assert_eq!(s, "failed");
    assert!(
        e.as_str()
            .is_some_and(|e| e.contains("only http and https")),
        "{e}"
    );
    let (s, e) = status(&r, "big");
    assert_eq!(s, "failed");
    assert!(e.as_str().is_some_and(|e| e.contains("size limit")), "{e}");
    assert_eq!(env.rows(&["exposures", "--kev", "--json"]).len(), 2);
    // second run: the server answers 304 to the ETag it gave
    let r: Value =
        serde_json::from_slice(&env.run(&["intel", "update", "--json"]).stdout).expect("json");
    assert_eq!(status(&r, "kev").0, "not_modified");
    assert_eq!(status(&r, "epss").0, "not_modified");
    let log = seen.lock().expect("lock").clone();
    assert!(
        log.iter()
            .any(|l| l.starts_with("/kev.json inm=\"kev.json-")),
        "{log:?}"
    );
    // within the interval nothing is fetched
    std::fs::write(env.path("ctem.toml"), config("1h")).expect("config");
    let before = seen.lock().expect("lock").len();
    let r: Value =
        serde_json::from_slice(&env.run(&["intel", "update", "--json"]).stdout).expect("json");
    assert_eq!(status(&r, "kev").0, "fresh");
    assert_eq!(
        seen.lock().expect("lock").len(),
        before + 2,
        "only the failed feeds are fetched again"
    );
}
