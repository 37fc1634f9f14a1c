//! Corpus-wide checks over `../shared/fixtures` (or `$CTEM_SHARED_FIXTURES`). They print what
//! they measure; when the shared fixtures are absent (fresh clone) each prints SKIPPED, and
//! under CI (`CI=true`) fails.

use std::path::{Path, PathBuf};
use std::time::Instant;

use ctem_detect::{Engine, Mappings, RuleSet, rules_check};

#[path = "corpus/evtx.rs"]
mod evtx;
#[path = "corpus/ioc.rs"]
mod ioc;
#[path = "common/stale.rs"]
mod stale;

/// The shared fixtures, or `None` after printing SKIPPED (a fresh clone); under CI
/// (`CI=true`) a missing folder fails the test instead.
pub(crate) fn shared() -> Option<PathBuf> {
    let p = std::env::var_os("CTEM_SHARED_FIXTURES")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures"));
    if p.is_dir() {
        return Some(p);
    }
    assert!(
        std::env::var("CI").map_or(true, |v| v != "true"),
        "corpus: shared fixtures not found at {} (CI=true: not skipping)",
        p.display()
    );
    eprintln!(
        "corpus: SKIPPED: shared fixtures not found at {}",
        p.display()
    );
    println!(
        "corpus: SKIPPED: shared fixtures not found at {}",
        p.display()
    );
    None
}

const RULE_DIRS: &[&str] = &[
    "rules",
    "rules-compliance",
    "rules-dfir",
    "rules-emerging-threats",
    "rules-placeholder",
    "rules-threat-hunting",
    "correlation-hayabusa",
];

#[test]
fn all_sigma_rules_compile_at_99_percent() -> anyhow::Result<()> {
    let Some(root) = shared() else { return Ok(()) };
    let dirs: Vec<PathBuf> = RULE_DIRS
        .iter()
        .map(|d| root.join("sigma").join(d))
        .collect();
    let t = Instant::now();
    let report = rules_check(&dirs)?;
    let pct = 100.0 * report.compiled as f64 / report.rules.max(1) as f64;
    println!(
        "corpus: {} of {} rules compile ({pct:.2}%) in {:.2?}",
        report.compiled,
        report.rules,
        t.elapsed()
    );
    for u in &report.unsupported {
        println!("  unsupported {}: {}", u.path, u.reason);
    }
    assert!(
        report.rules > 3000,
        "expected the SigmaHQ corpus, saw {}",
        report.rules
    );
    assert!(pct >= 99.0, "only {pct:.2}% compile");
    assert!(report.unsupported.iter().all(|u| !u.reason.is_empty()));
    Ok(())
}

fn count_ok(records: ctem_detect::decode::Records) -> (usize, usize) {
    let (mut ok, mut bad) = (0, 0);
    for r in records {
        if r.is_ok() {
            ok += 1;
        } else {
            bad += 1;
        }
    }
    (ok, bad)
}

#[test]
fn decoders_read_real_files() -> anyhow::Result<()> {
    use ctem_detect::decode::{Format, open, source_alert};
    let Some(root) = shared() else { return Ok(()) };
    let logs = root.join("events/logs");
    // Zeek JSON: 142 lines, all decode
    let (ok, bad) = count_ok(open(
        logs.join("zeek_json/ocsf-raw-dce_rpc.log"),
        Format::Auto,
    )?);
    println!("zeek dce_rpc: {ok} ok, {bad} bad");
    assert_eq!((ok, bad), (142, 0));
    // Suricata EVE: JSON lines with one alert; and a pretty-printed JSON array of alerts
    let recs: Vec<_> = open(
        logs.join("suricata_eve/beats-eve-small.log"),
        Format::Suricata,
    )?
    .collect::<Result<_, _>>()?;
    let alerts: Vec<_> = recs.iter().filter_map(source_alert).collect();
    assert!(!alerts.is_empty() && alerts.len() < recs.len());
    assert!(
        alerts
            .iter()
            .all(|a| a.rule_id.starts_with("suricata:1:") && !a.title.is_empty())
    );
    let arr: Vec<_> = open(
        logs.join("suricata_eve/fh-honeypot-2018-alerts-only.json"),
        Format::Auto,
    )?
    .collect::<Result<_, _>>()?;
    assert!(arr.len() > 10);
    assert_eq!(
        arr.iter().filter_map(source_alert).count(),
        arr.len(),
        "every record is an alert"
    );
    // Wazuh alerts: level and ATT&CK ids become level and tags
    let w: Vec<_> = open(
        logs.join("wazuh_alerts/wazuh-test-cases-integratord_read_valid_json_alerts.alerts.ndjson"),
        Format::Jsonl,
    )?
    .collect::<Result<_, _>>()?;
    let wa = source_alert(&w[0]).expect("wazuh alert");
    assert_eq!(
        (wa.rule_id.as_str(), wa.level.as_str()),
        ("wazuh:5712", "high")
    );
    assert_eq!(wa.tags, vec!["attack.t1110".to_string()]);
    // syslog 5424 / 3164 / CEF
    let s5: Vec<_> = open(
        logs.join("syslog_rfc5424/otelsyslogtest-RFC5424.log"),
        Format::Syslog,
    )?
    .collect::<Result<_, _>>()?;
    assert_eq!(s5[0].event["format"], "rfc5424");
    let s3: Vec<_> = open(
        logs.join("syslog_rfc3164/otelsyslogtest-RFC3164.log"),
        Format::Auto,
    )?
    .collect::<Result<_, _>>()?;
    assert_eq!(s3[0].event["format"], "rfc3164");
    let cef: Vec<_> =
        open(logs.join("cef/beats-cef.log"), Format::Syslog)?.collect::<Result<_, _>>()?;
    assert!(cef.len() >= 3 && cef.iter().all(|r| r.event["cef"]["vendor"] == "Elastic"));
    // gzip JSON lines
    let (ok, bad) = count_ok(open(
        root.join("events/jsonl/attack-samples.nested.jsonl.gz"),
        Format::Auto,
    )?);
    println!("attack-samples nested: {ok} ok, {bad} bad");
    assert!(ok > 1000 && bad == 0);
    Ok(())
}

/// The 202 regression cases again, this time decoding the EVTX files themselves, on the
/// `Value` path and on the fast EVTX path.
#[test]
fn regression_suite_through_evtx() -> anyhow::Result<()> {
    let Some(root) = shared() else { return Ok(()) };
    let reg = root.join("sigma/regression");
    let manifest: Vec<serde_json::Value> =
        serde_json::from_str(&std::fs::read_to_string(reg.join("MANIFEST.json"))?)?;
    let mut pass = 0;
    let mut fails = Vec::new();
    for case in &manifest {
        let rule_file = case["rule_file"].as_str().unwrap_or_default();
        let rules = RuleSet::load_dirs(&[root.join("sigma").join(rule_file)])?;
        let engine = Engine::new(rules, Mappings::builtin()?);
        let id = case["rule_id"].as_str().unwrap_or_default();
        let path = reg.join(case["path"].as_str().unwrap_or_default());
        let mut n = 0u64;
        for r in ctem_detect::decode::open(&path, ctem_detect::decode::Format::Auto)? {
            n += engine
                .process_record(&r?)
                .iter()
                .filter(|a| a.rule_id == id)
                .count() as u64;
        }
        // the fast path (what `ctem detect` runs) counts the same
        let mut fast = 0u64;
        engine.run_evtx(
            std::fs::read(&path)?,
            None,
            1,
            |a| fast += u64::from(a.rule_id == id),
            |_| {},
        )?;
        if fast != n {
            fails.push(format!("{rule_file}: fast path {fast}, value path {n}"));
        }
        // the counts the JSON path pins (tests/it/regression.rs), the four stale upstream
        // counts included
        let pinned = stale::UPSTREAM_COUNT_STALE
            .iter()
            .find(|(f, _, _)| rule_file.ends_with(f))
            .map(|(_, n, _)| *n);
        let ok = match pinned.or(case["match_count"].as_u64()) {
            Some(w) => n == w,
            None => n >= 1,
        };
        if ok {
            pass += 1;
        } else {
            fails.push(format!(
                "{rule_file}: got {n}, want {}",
                case["match_count"]
            ));
        }
    }
    println!("evtx regression: {pass}/{}", manifest.len());
    fails.iter().for_each(|f| println!("  FAIL {f}"));
    assert!(fails.is_empty());
    Ok(())
}

/// Hayabusa's password-guessing correlations fire on DeepBlueCLI's guessing sample.
#[test]
fn hayabusa_correlations_fire_on_password_guessing() -> anyhow::Result<()> {
    let Some(root) = shared() else { return Ok(()) };
    let rules = RuleSet::load_dirs(&[root.join("sigma/correlation-hayabusa")])?;
    let n_corr = rules.correlations.len();
    assert!(n_corr >= 3, "correlations loaded: {n_corr}");
    let titles: Vec<String> = rules
        .correlations
        .iter()
        .map(|c| c.meta.title.clone())
        .collect();
    let engine = Engine::new(rules, Mappings::builtin()?);
    let mut fired = std::collections::BTreeMap::<String, usize>::new();
    for f in ["smb-password-guessing-security.evtx", "password-spray.evtx"] {
        let recs = ctem_detect::decode::open(
            root.join("events/evtx/DeepBlueCLI").join(f),
            ctem_detect::decode::Format::Evtx,
        )?;
        engine.run(recs.filter_map(Result::ok), 1, |a| {
            if titles.contains(&a.title) {
                *fired.entry(a.title).or_default() += 1;
            }
        });
    }
    println!("hayabusa correlations fired: {fired:?}");
    assert!(!fired.is_empty());
    Ok(())
}

/// The lazy JSON-lines path (`run_lines`, prefilter, `FlatEvent`) must raise exactly the alerts
/// of the `Value` path, rule by rule, on real events of both shapes.
#[test]
fn lines_path_matches_value_path_rule_by_rule() -> anyhow::Result<()> {
    use std::collections::BTreeMap;
    use std::io::Read;
    let Some(root) = shared() else { return Ok(()) };
    let set = RuleSet::load_dirs(&[root.join("sigma/rules/windows")])?;
    let engine = Engine::new(set, ctem_detect::Mappings::builtin()?);
    for (file, limit) in [
        ("otrf-windows-100k.flat.jsonl.gz", 5_000),
        ("attack-samples.flat.jsonl.gz", usize::MAX),
        ("attack-samples.nested.jsonl.gz", 3_000),
    ] {
        let mut raw = Vec::new();
        std::fs::File::open(root.join("events/jsonl").join(file))?.read_to_end(&mut raw)?;
        let raw = ctem_detect::decode::gunzip_if_needed(raw)?;
        let text: String = String::from_utf8_lossy(&raw)
            .lines()
            .take(limit)
            .collect::<Vec<_>>()
            .join("\n");
        let mut by_value: BTreeMap<(String, u64), usize> = BTreeMap::new();
        let records = ctem_detect::decode::decode_json(text.clone().into_bytes(), None, "jsonl");
        for r in records.iter().flatten().step_by(4) {
            assert_eq!(
                engine.matching_rules(&r.event),
                engine.matching_rules_unfiltered(&r.event),
                "{file} record {:?}",
                r.record
            );
        }
        let s1 = engine.run(records.into_iter().filter_map(Result::ok), 1, |a| {
            *by_value
                .entry((a.rule_id, a.record.unwrap_or(0)))
                .or_default() += 1;
        });
        for threads in [1, 2] {
            let mut by_lines: BTreeMap<(String, u64), usize> = BTreeMap::new();
            let s2 = engine.run_lines(text.as_bytes(), None, threads, |a| {
                *by_lines
                    .entry((a.rule_id, a.record.unwrap_or(0)))
                    .or_default() += 1;
            })?;
            eprintln!(
                "corpus: {file}: {} events, {} alerts (value path), {} (lines, {threads} threads)",
                s1.events, s1.alerts, s2.run.alerts
            );
            assert_eq!(s1.events, s2.run.events, "{file}");
            assert_eq!(by_value, by_lines, "{file} ({threads} threads)");
        }
        if limit == usize::MAX {
            // the whole gzip file through run_file: the same alerts
            let path = root.join("events/jsonl").join(file);
            let s3 = engine.run_file(&path, ctem_detect::decode::Format::Auto, 2, |_| {})?;
            assert_eq!(
                (s3.run.events, s3.run.alerts),
                (s1.events, s1.alerts),
                "{file}"
            );
        }
    }
    Ok(())
}

/// Zeek TSV logs decode into the keys and types of Zeek's JSON writer.
#[test]
fn zeek_tsv_logs_decode() -> anyhow::Result<()> {
    let Some(root) = shared() else { return Ok(()) };
    let dir = root.join("events/logs/zeek_tsv");
    let mut total = 0;
    for e in std::fs::read_dir(&dir)? {
        let p = e?.path();
        let recs: Vec<_> =
            ctem_detect::decode::open(&p, ctem_detect::decode::Format::Auto)?.collect();
        let ok = recs.iter().filter(|r| r.is_ok()).count();
        eprintln!("corpus: {}: {ok} of {} records", p.display(), recs.len());
        total += ok;
    }
    assert!(total > 0);
    let conn = ctem_detect::decode::open(
        dir.join("zeek-cut-conn.log"),
        ctem_detect::decode::Format::Zeek,
    )?
    .next()
    .transpose()?
    .map(|r| r.event);
    if let Some(c) = conn {
        assert!(c.get("id.orig_h").is_some_and(|v| v.is_string()), "{c}");
        assert!(c.get("id.orig_p").is_some_and(|v| v.is_i64()), "{c}");
    }
    Ok(())
}

/// Rules whose values have no ASCII run (emoji, Cyrillic homoglyphs) are prefiltered on those
/// values themselves: on process-creation events holding the rules' own characters, upper-
/// and lower-cased, alone and in longer text, the prefiltered engine picks exactly the rules
/// of the unfiltered path.
#[test]
fn non_ascii_literals_prefilter_as_the_unfiltered_path() -> anyhow::Result<()> {
    let Some(root) = shared() else { return Ok(()) };
    let dir = root.join("sigma/rules/windows/process_creation");
    let mut set = RuleSet::default();
    let mut files = Vec::new();
    let mut chars: Vec<String> = Vec::new();
    for f in std::fs::read_dir(&dir)? {
        let p = f?.path();
        let name = p.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        if name.contains("emoji") || name.contains("homoglyph") {
            let text = std::fs::read_to_string(&p)?;
            for l in text.lines() {
                let v = l.trim().trim_start_matches("- ").trim_matches('\'');
                if !v.is_empty() && !v.is_ascii() && v.chars().count() <= 3 {
                    chars.push(v.to_string());
                }
            }
            set.add_yaml(&text, &p.display().to_string(), &Default::default());
            files.push(p);
        }
    }
    assert!(
        files.len() >= 5 && chars.len() > 1000,
        "{files:?} {}",
        chars.len()
    );
    assert_eq!(set.rules.len(), files.len());
    let engine = Engine::new(set, Mappings::builtin()?);
    let mut hits = 0;
    for (i, c) in chars.iter().enumerate().step_by(7) {
        for text in [
            c.clone(),
            format!("powershell -c \"echo {c}\""),
            format!("cmd /c {}", c.to_uppercase()),
            format!("Start {}{}", c.to_lowercase(), chars[(i + 1) % chars.len()]),
        ] {
            let ev = serde_json::json!({
                "Channel": "Microsoft-Windows-Sysmon/Operational",
                "EventID": 1,
                "Image": "C:\\Windows\\System32\\cmd.exe",
                "CommandLine": text,
            });
            let got = engine.matching_rules(&ev);
            assert_eq!(got, engine.matching_rules_unfiltered(&ev), "{text}");
            hits += got.len();
        }
    }
    assert!(hits > 100, "{hits}");
    Ok(())
}

/// The products a rule may name to fire on the events of a fixture folder (`None`: only
/// rules that name no product), and for Zeek the log type the file holds.
fn allowed_products(folder: &str) -> &'static [&'static str] {
    match folder {
        "zeek_json" | "zeek_tsv" => &["zeek"],
        "evtx" | "jsonl" | "windows_ecs" | "windows_evtx" | "windows_json" => &["windows"],
        "cloudtrail" => &["aws"],
        "auditd" | "sysmon_linux_syslog" | "syslog_rfc3164" | "syslog_rfc5424" => &["linux"],
        // OCSF process activity runs the process_creation rules of the device's OS
        "ocsf" => &["windows", "linux", "macos"],
        _ => &[],
    }
}

fn event_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<PathBuf> = rd.filter_map(|e| e.ok().map(|e| e.path())).collect();
    entries.sort();
    for p in entries {
        let name = p.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        if p.is_dir() {
            event_files(&p, out);
        } else if !(name.ends_with(".yml")
            || name.ends_with(".md")
            || name.ends_with(".tsv")
            || name.ends_with(".ini")
            || name.ends_with(".yaml")
            || name.ends_with(".txt")
            || name.contains("expected"))
        {
            out.push(p);
        }
    }
}

/// Every event file under `events/` with every SigmaHQ rule: no alert from a rule whose
/// logsource cannot apply to the file's source; the rules that should fire still do (Zeek
/// http WebDAV PUT, Linux auditd, CloudTrail, Windows). Prints the alert counts per file
/// folder and rule product. At most `PER_FILE` records of a file are run (debug builds).
#[test]
fn logsources_route_every_event_file() -> anyhow::Result<()> {
    use std::collections::BTreeMap;
    const PER_FILE: usize = 3_000;
    let Some(root) = shared() else { return Ok(()) };
    let dirs: Vec<PathBuf> = RULE_DIRS
        .iter()
        .map(|d| root.join("sigma").join(d))
        .collect();
    let set = RuleSet::load_dirs(&dirs)?;
    let engine = Engine::new(set, Mappings::builtin()?);
    let logsource_of: BTreeMap<String, (Option<String>, Option<String>)> = engine
        .rules()
        .iter()
        .map(|r| {
            (
                r.meta.id.clone(),
                (r.logsource.product.clone(), r.logsource.service.clone()),
            )
        })
        .collect();
    let mut files = Vec::new();
    event_files(&root.join("events"), &mut files);
    let mut counts: BTreeMap<(String, String), u64> = BTreeMap::new();
    let mut wrong = Vec::new();
    let (mut events, mut unknown) = (0, 0);
    for f in &files {
        let rel = f.strip_prefix(root.join("events")).unwrap_or(f);
        let mut parts = rel.iter().filter_map(|p| p.to_str());
        let folder = match parts.next() {
            Some("logs") => parts.next().unwrap_or_default(),
            Some(other) => other,
            None => "",
        }
        .to_string();
        let name = f.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        // the OCSF examples keep the raw CloudTrail record beside its OCSF rendering
        let allowed = if name.contains("CloudTrail") && name.ends_with(".raw") {
            &["aws"][..]
        } else {
            allowed_products(&folder)
        };
        let Ok(records) = ctem_detect::decode::open(f, ctem_detect::decode::Format::Auto) else {
            println!("corpus: {folder}/{name}: not an event file");
            continue;
        };
        let stats = engine.run(records.filter_map(Result::ok).take(PER_FILE), 2, |a| {
            let (product, service) = logsource_of.get(&a.rule_id).cloned().unwrap_or_default();
            let p = product.clone().unwrap_or_else(|| "-".into());
            *counts.entry((folder.clone(), p.clone())).or_default() += 1;
            let ok_product = product.as_deref().is_none_or(|p| allowed.contains(&p));
            let ok_service = product.as_deref() != Some("zeek")
                || service.as_deref().is_some_and(|s| name.contains(s));
            if !(ok_product && ok_service) {
                wrong.push(format!(
                    "{name}: {} ({p}/{service:?}) {}",
                    a.title, a.rule_id
                ));
            }
        });
        events += stats.events;
        unknown += stats.unknown_source;
        println!(
            "corpus: {folder}/{name}: {} events, {} alerts, {} of unknown logsource",
            stats.events, stats.alerts, stats.unknown_source
        );
    }
    println!(
        "corpus: {events} events, {unknown} of unknown logsource; alerts per folder and rule product:"
    );
    for ((folder, product), n) in &counts {
        println!("  {folder:22} {product:10} {n}");
    }
    let mut shown: BTreeMap<&str, usize> = BTreeMap::new();
    for w in &wrong {
        let k = shown
            .entry(w.split(':').next().unwrap_or_default())
            .or_default();
        *k += 1;
        if *k <= 3 {
            println!("  WRONG {w}");
        }
    }
    println!(
        "corpus: {} alerts from rules whose logsource cannot apply",
        wrong.len()
    );
    assert!(wrong.is_empty());
    // the rules that should fire still fire
    let fires = |folder: &str, product: &str| {
        counts
            .get(&(folder.to_string(), product.to_string()))
            .copied()
            .unwrap_or(0)
    };
    // no fixture holds a WebDAV PUT: a real Zeek http record made one (method, user agent,
    // a public responder) fires the rule as an http record, and not as a conn record
    let webdav = "705072a5-bb6f-4ced-95b6-ecfa6602090b";
    let first = std::fs::read_to_string(root.join("events/logs/zeek_json/ocsf-raw-http.log"))?;
    let mut ev: serde_json::Value = serde_json::from_str(first.lines().next().unwrap_or_default())?;
    ev["method"] = "PUT".into();
    ev["user_agent"] = "Microsoft-WebDAV-MiniRedir/10.0.17763".into();
    ev["id.resp_h"] = "93.184.216.34".into();
    let rec = |source: &str| ctem_detect::Record {
        source: Some(source.into()),
        record: Some(1),
        event: ev.clone(),
    };
    let ids = |r| -> Vec<String> {
        engine
            .process_record(&r)
            .into_iter()
            .map(|a| a.rule_id)
            .collect()
    };
    assert!(ids(rec("ocsf-raw-http.log")).contains(&webdav.to_string()));
    assert!(!ids(rec("ocsf-raw-conn.log")).contains(&webdav.to_string()));
    println!(
        "corpus: WebDAV PUT fires on a Zeek http record: {:?}",
        ids(rec("ocsf-raw-http.log"))
    );
    for (folder, product) in [
        ("auditd", "linux"),
        ("cloudtrail", "aws"),
        ("evtx", "windows"),
        ("jsonl", "windows"),
    ] {
        assert!(fires(folder, product) > 0, "{folder}: no {product} alert");
    }
    Ok(())
}

/// A damaged chunk of an EVTX file is reported as an issue and the rest of the file is
/// still read: `ocsf-raw-sysmon.evtx` ends with eight blocks that are not chunks (358
/// records in chunks 0-8), and a copy with chunk 3's header destroyed loses only that
/// chunk's 43 records.
#[test]
fn evtx_damaged_chunk_is_reported_and_the_rest_read() -> anyhow::Result<()> {
    use ctem_detect::decode::{Format, decode_bytes};
    let Some(root) = shared() else { return Ok(()) };
    let bytes = std::fs::read(root.join("events/logs/windows_evtx/ocsf-raw-sysmon.evtx"))?;
    let split = |recs: ctem_detect::decode::Records| {
        let (mut ok, mut errs) = (Vec::new(), Vec::new());
        for r in recs {
            match r {
                Ok(r) => ok.push(r.record.unwrap_or(0)),
                Err(e) => errs.push(e.to_string()),
            }
        }
        (ok, errs)
    };
    let (all, errs) = split(decode_bytes(bytes.clone(), Format::Evtx, None)?);
    let ok = all.clone();
    println!(
        "corpus: ocsf-raw-sysmon.evtx: {} records, issues {errs:?}",
        ok.len()
    );
    assert_eq!(ok.len(), 358);
    assert!(errs.iter().all(|e| e.contains("chunk")), "{errs:?}");
    let mut damaged = bytes;
    let chunk3 = 4096 + 3 * 65536;
    damaged[chunk3..chunk3 + 8].copy_from_slice(b"XXXXXXXX");
    let (ok, errs) = split(decode_bytes(damaged, Format::Evtx, None)?);
    println!(
        "corpus: chunk 3 damaged: {} records, issues {errs:?}",
        ok.len()
    );
    assert_eq!(ok.len(), 358 - 43);
    // the records lost are the 43 of chunk 3 (the 121st to the 163rd of the file)
    let lost: Vec<usize> = (0..all.len()).filter(|i| !ok.contains(&all[*i])).collect();
    assert_eq!(lost, (120..163).collect::<Vec<_>>());
    assert!(errs.iter().any(|e| e.contains("chunk 3")), "{errs:?}");
    Ok(())
}
