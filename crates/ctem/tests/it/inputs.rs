//! What `import`, `intel import` and `detect` read: standard input, gzip (by its magic
//! bytes), folders; and the caps that keep a gzip bomb from costing more than its cap.

use std::io::Write;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::common::{Env, fixture, intel_fixture};

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(bytes).expect("gzip");
    e.finish().expect("gzip")
}

/// A gzip of `mib` MiB of zeros: one small member repeated (gzip readers read every member).
fn zero_bomb(mib: usize) -> Vec<u8> {
    gzip(&vec![0u8; 1 << 20]).repeat(mib)
}

fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Runs ctem and returns its output and the peak resident memory seen (KiB, `VmHWM`).
fn run_measured(env: &Env, args: &[&str]) -> (std::process::Output, u64) {
    crate::common::run_sampled(env, args, "VmHWM:")
}

fn exposures_new(summary: &Value) -> u64 {
    summary["exposures"]["new"].as_u64().expect("exposures.new")
}

#[test]
fn import_reads_standard_input() {
    let env = Env::new();
    let report = std::fs::read(fixture("trivy/alpine-310.json")).expect("fixture");
    let out = env.run_stdin(&["import", "--json", "-"], &report);
    assert!(out.status.success(), "{}", stderr(&out));
    let v: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v[0]["file"], "-");
    assert_eq!(v[0]["format"], "trivy");
    assert_eq!(exposures_new(&v[0]), 4);
    // gzip on stdin too
    let out = env.run_stdin(&["import", "--json", "-"], &gzip(&report));
    assert!(out.status.success(), "{}", stderr(&out));
    let v: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v[0]["exposures"]["unchanged"], 4);
    // stdin only once
    let out = env.run_stdin(&["import", "-", "-"], &report);
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn import_reads_gzip_by_its_content_whatever_the_name() {
    let env = Env::new();
    let report = std::fs::read(fixture("trivy/alpine-310.json")).expect("fixture");
    let gz = gzip(&report);
    std::fs::write(env.path("alpine.json.gz"), &gz).expect("write");
    std::fs::write(env.path("no-extension"), &gz).expect("write");
    let v = env.json(&["import", "--json", "alpine.json.gz"]);
    assert_eq!(v[0]["format"], "trivy", "{v}");
    assert_eq!(exposures_new(&v[0]), 4);
    let v = env.json(&["import", "--json", "no-extension"]);
    assert_eq!(v[0]["format"], "trivy", "{v}");
    assert_eq!(v[0]["exposures"]["unchanged"], 4);
    // the same exposures as the plain file
    let plain = Env::new();
    plain.ok(&[
        "import",
        &fixture("trivy/alpine-310.json").display().to_string(),
    ]);
    let ids = |e: &Env| -> Vec<Value> {
        let v = e.json(&["exposures", "--json"]);
        v.as_array()
            .expect("array")
            .iter()
            .map(|x| x["cves"].clone())
            .collect()
    };
    assert_eq!(ids(&env), ids(&plain));
}

#[test]
fn import_walks_folders_sorted_with_a_summary_per_file_and_skips_what_it_cannot_read() {
    let env = Env::new();
    let dir = env.path("reports");
    std::fs::create_dir_all(dir.join("sub")).expect("mkdir");
    std::fs::copy(fixture("trivy/alpine-310.json"), dir.join("b-alpine.json")).expect("copy");
    let k8s = std::fs::read(fixture("trivy/kubernetes.json")).expect("fixture");
    std::fs::write(dir.join("sub/a-k8s.json.gz"), gzip(&k8s)).expect("write");
    std::fs::write(dir.join("README.md"), "# scanner reports\n").expect("write");
    #[cfg(unix)]
    std::os::unix::fs::symlink(&dir, dir.join("sub/loop")).expect("link");
    let out = env.run(&["import", "--json", "reports"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let v: Value = serde_json::from_slice(&out.stdout).expect("json");
    let files: Vec<&str> = v
        .as_array()
        .expect("array")
        .iter()
        .map(|s| s["file"].as_str().expect("file"))
        .collect();
    assert_eq!(
        files,
        [
            "reports/README.md",
            "reports/b-alpine.json",
            "reports/sub/a-k8s.json.gz"
        ]
    );
    assert!(v[0]["skipped"].is_string(), "{v}");
    assert_eq!(v[1]["format"], "trivy");
    assert_eq!(exposures_new(&v[1]), 4);
    assert_eq!(exposures_new(&v[2]), 20);
    // human output: one line per file
    let env2 = Env::new();
    std::fs::create_dir_all(env2.path("r")).expect("mkdir");
    std::fs::copy(fixture("trivy/alpine-310.json"), env2.path("r/x.json")).expect("copy");
    let human = env2.ok(&["import", "r"]);
    assert!(human.starts_with("r/x.json (trivy)"), "{human}");
    // a file named on the command line must import
    let out = env.run(&["import", "reports/README.md"]);
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn a_gzip_bomb_fails_fast_naming_the_file_and_memory_stays_bounded() {
    let env = Env::new();
    std::fs::write(env.path("bomb.json.gz"), zero_bomb(1100)).expect("write");
    for args in [
        &["import", "bomb.json.gz"][..],
        &["import", "--format", "nuclei", "bomb.json.gz"][..],
    ] {
        let t = Instant::now();
        let (out, peak_kib) = run_measured(&env, args);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {err}");
        assert!(err.contains("bomb.json.gz"), "{err}");
        assert!(err.contains("NUL bytes"), "{err}");
        assert!(!err.contains("unknown shape"), "{err}");
        assert!(
            t.elapsed() < Duration::from_secs(10),
            "{args:?} took {:?}",
            t.elapsed()
        );
        assert!(peak_kib < 512 * 1024, "{args:?}: {peak_kib} KiB");
    }
    assert!(!env.path("ctem.db").exists() || env.ok(&["scans", "--json"]) == "[]\n");
}

#[test]
fn decompression_past_the_cap_is_refused_with_the_setting_named() {
    let env = Env::new();
    std::fs::write(env.path("ctem.toml"), "[input]\nmax_decompressed_mb = 2\n").expect("toml");
    // a real report padded past 2 MiB with whitespace: valid JSON, just too big
    let mut report = std::fs::read(fixture("trivy/alpine-310.json")).expect("fixture");
    report.extend(std::iter::repeat_n(b' ', 3 << 20));
    std::fs::write(env.path("big.json.gz"), gzip(&report)).expect("write");
    let (out, peak_kib) = run_measured(&env, &["import", "big.json.gz"]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.starts_with("error: big.json.gz: "), "{err}");
    assert!(err.contains("larger than 2 MiB once decompressed"), "{err}");
    assert!(err.contains("max_decompressed_mb"), "{err}");
    assert!(peak_kib < 512 * 1024);
    // under the cap it imports
    std::fs::write(env.path("ctem.toml"), "[input]\nmax_decompressed_mb = 8\n").expect("toml");
    env.ok(&["import", "big.json.gz"]);
    // a bad setting is an error naming the section
    std::fs::write(env.path("ctem.toml"), "[input]\nmax_decompressed_mb = 0\n").expect("toml");
    let out = env.run(&["import", "big.json.gz"]);
    assert!(stderr(&out).contains("[input]"), "{}", stderr(&out));
}

#[test]
fn detect_caps_line_length_and_never_echoes_nul_bytes() {
    let env = Env::new();
    std::fs::write(env.path("ctem.toml"), "[input]\nmax_line_kb = 1024\n").expect("toml");
    std::fs::write(env.path("zeros.gz"), zero_bomb(64)).expect("write");
    let rules = crate::listings::regression().join("rules");
    let (out, peak_kib) = run_measured(
        &env,
        &[
            "detect",
            "--rules",
            rules.to_str().expect("path"),
            "zeros.gz",
        ],
    );
    let err = stderr(&out);
    assert!(!out.stderr.contains(&0), "NUL bytes on stderr");
    assert!(!out.stdout.contains(&0), "NUL bytes on stdout");
    assert!(
        err.contains("zeros.gz: line 1: longer than 1024 KiB"),
        "{err}"
    );
    assert!(err.contains("max_line_kb"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    assert!(peak_kib < 512 * 1024, "{peak_kib} KiB");
    // the lines around an overlong one are still read, with their numbers
    let ok = r#"{"EventID": 1, "Image": "C:\\x.exe"}"#;
    let text = format!("{ok}\n{}\n{ok}\n", "y".repeat(2 << 20));
    std::fs::write(env.path("mixed.jsonl"), text).expect("write");
    let out = env.run(&[
        "detect",
        "--rules",
        rules.to_str().expect("path"),
        "--summary",
        "--json",
        "mixed.jsonl",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("mixed.jsonl: line 2: longer than"));
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let summary: Value =
        serde_json::from_str(stdout.lines().last().expect("summary")).expect("json");
    assert_eq!(summary["events"], 2, "{summary}");
    assert!(summary["load_seconds"].is_number());
}

/// The first `.json` file under `dir`, in sorted order.
fn first_json(dir: &std::path::Path) -> Option<std::path::PathBuf> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    entries.sort();
    entries.into_iter().find_map(|p| {
        if p.is_dir() {
            first_json(&p)
        } else {
            p.extension().is_some_and(|x| x == "json").then_some(p)
        }
    })
}

#[test]
fn detect_reads_gzip_events() {
    let env = Env::new();
    let rules = crate::listings::regression().join("rules");
    let data = crate::listings::regression().join("data");
    let plain = env.ok(&[
        "detect",
        "--rules",
        rules.to_str().expect("path"),
        "--json",
        data.to_str().expect("path"),
    ]);
    let first = first_json(&data).expect("a json events file");
    let one = env.ok(&[
        "detect",
        "--rules",
        rules.to_str().expect("path"),
        "--json",
        first.to_str().expect("path"),
    ]);
    let gz = env.path("events.gz");
    std::fs::write(&gz, gzip(&std::fs::read(&first).expect("read"))).expect("write");
    let from_gz = env.ok(&[
        "detect",
        "--rules",
        rules.to_str().expect("path"),
        "--json",
        gz.to_str().expect("path"),
    ]);
    let rule_ids = |s: &str| -> Vec<String> {
        s.lines()
            .map(|l| {
                let v: Value = serde_json::from_str(l).expect("json");
                v["rule_id"].as_str().unwrap_or("").to_string()
            })
            .collect()
    };
    assert!(!plain.is_empty());
    assert_eq!(rule_ids(&one), rule_ids(&from_gz));
}

#[test]
fn intel_import_reads_gzip_and_stdin_and_refuses_past_its_cap() {
    let env = Env::new();
    let epss = std::fs::read(intel_fixture("epss/epss_scores-current.head60.csv")).expect("epss");
    std::fs::write(env.path("epss.csv.gz"), gzip(&epss)).expect("write");
    let v = env.json(&["intel", "import", "--json", "epss.csv.gz"]);
    assert_eq!(v[0]["kind"], "epss", "{v}");
    assert!(v[0]["stored"]["epss"].as_u64().expect("epss") > 50, "{v}");
    let out = env.run_stdin(&["intel", "import", "--json", "--kind", "epss", "-"], &epss);
    assert!(out.status.success(), "{}", stderr(&out));
    // an EPSS file whose rows expand past the cap: refused, nothing stored
    let head = String::from_utf8_lossy(&epss)
        .lines()
        .take(2)
        .collect::<Vec<_>>()
        .join("\n");
    let mut big = head.into_bytes();
    big.push(b'\n');
    let row = b"CVE-2099-0001,0.00043,0.12345\n";
    big.extend(row.repeat((3 << 20) / row.len()));
    std::fs::write(env.path("bomb.csv.gz"), gzip(&big)).expect("write");
    std::fs::write(env.path("ctem.toml"), "[input]\nmax_intel_mb = 2\n").expect("toml");
    let (out, peak_kib) = run_measured(&env, &["intel", "import", "bomb.csv.gz"]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("bomb.csv.gz"), "{err}");
    assert!(
        err.contains("larger than 2 MiB") && err.contains("max_intel_mb"),
        "{err}"
    );
    assert!(peak_kib < 512 * 1024);
    // with the default cap (128 MiB): 1 MiB of rows repeated 200 times, a gzip of members
    std::fs::remove_file(env.path("ctem.toml")).expect("rm");
    let mut members = gzip(&epss);
    members.extend(gzip(&row.repeat((1 << 20) / row.len())).repeat(200));
    std::fs::write(env.path("big.csv.gz"), members).expect("write");
    let (out, peak_kib) = run_measured(&env, &["intel", "import", "big.csv.gz"]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("larger than 128 MiB"), "{err}");
    assert!(peak_kib < 512 * 1024, "{peak_kib} KiB");
}

#[test]
fn missing_and_unreadable_inputs_name_the_file() {
    let env = Env::new();
    let out = env.run(&["import", "nope/"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("nope/"), "{}", stderr(&out));
}

#[test]
fn a_feed_whose_gzip_expands_past_the_cap_is_refused() {
    let env = Env::new();
    let epss = std::fs::read(intel_fixture("epss/epss_scores-current.head60.csv")).expect("epss");
    let row = b"CVE-2099-0001,0.00043,0.12345\n";
    // a few hundred KB on the wire (under max_size_mb = 5), 200 MiB once inflated
    let mut body = gzip(&epss);
    body.extend(gzip(&row.repeat((1 << 20) / row.len())).repeat(200));
    assert!(body.len() < 5 << 20, "{}", body.len());
    let (base, _) = crate::intel::serve(vec![("epss.csv.gz", body)]);
    std::fs::write(
        env.path("ctem.toml"),
        format!(
            "[[feeds]]\nname = \"epss\"\nurl = \"{base}/epss.csv.gz\"\nkind = \"epss\"\n\
             interval = \"0s\"\nmax_size_mb = 5\nallow_addresses = [\"127.0.0.1\"]\n"
        ),
    )
    .expect("config");
    let (out, peak_kib) = run_measured(&env, &["intel", "update", "--json"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let v: Value = serde_json::from_slice(&out.stdout).expect("json");
    let err = v[0]["error"].as_str().expect("error");
    assert!(err.contains("larger than 128 MiB"), "{err}");
    assert!(err.contains("max_intel_mb"), "{err}");
    assert!(peak_kib < 512 * 1024, "{peak_kib} KiB");
}
