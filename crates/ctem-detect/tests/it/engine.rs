//! The engine API: alert JSON shape, threads, correlation wiring, extra detectors.

use std::collections::BTreeSet;
use std::path::PathBuf;

use ctem_detect::{Alert, Detector, Engine, Mappings, Record, RuleSet};
use serde_json::{Value, json};

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/sigma_regression")
}

fn all_events() -> anyhow::Result<Vec<Record>> {
    let data = fixtures().join("data");
    let mut files = Vec::new();
    let mut stack = vec![data];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(d)? {
            let p = e?.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "json") {
                files.push(p);
            }
        }
    }
    files.sort();
    let mut out = Vec::new();
    for f in files {
        let name = f.file_name().map(|n| n.to_string_lossy().into_owned());
        let recs = ctem_detect::decode::decode_bytes(
            std::fs::read(&f)?,
            ctem_detect::decode::Format::Jsonl,
            name,
        )?;
        for r in recs {
            out.push(r?);
        }
    }
    Ok(out)
}

/// One rule document of a Windows `category` with the detection block `det`.
fn rule_yaml(id: &str, category: &str, det: &str) -> String {
    format!(
        "title: {id}\nid: {id}\nlogsource: {{product: windows, category: {category}}}\n\
         detection:\n{det}\n---\n"
    )
}

/// (line number, rule id) of the rules the unfiltered path picks on each line of `text`.
fn unfiltered_hits(engine: &Engine, text: &str) -> anyhow::Result<BTreeSet<(u64, String)>> {
    let mut out = BTreeSet::new();
    for (n, l) in text.lines().enumerate() {
        let v: Value = serde_json::from_str(l)?;
        for r in engine.matching_rules_unfiltered(&v) {
            out.insert((n as u64 + 1, engine.rules()[r].meta.id.clone()));
        }
    }
    Ok(out)
}

/// (line number, rule id) of the alerts the lines path raises over `text`, each once.
fn lines_hits(
    engine: &Engine,
    text: &str,
    threads: usize,
) -> anyhow::Result<BTreeSet<(u64, String)>> {
    let mut out = BTreeSet::new();
    engine.run_lines(text.as_bytes(), None, threads, |a| {
        let key = (a.record.unwrap_or(0), a.rule_id);
        assert!(out.insert(key.clone()), "{key:?} twice");
    })?;
    Ok(out)
}

#[test]
fn alert_serialises_to_the_cli_shape() -> anyhow::Result<()> {
    let set = RuleSet::from_yaml(
        "title: Whoami\nid: r-1\nlevel: high\ntags: [attack.t1033]\nlogsource: {product: windows, category: process_creation}\ndetection:\n  sel:\n    Image|endswith: '\\whoami.exe'\n  condition: sel\n",
    )?;
    let engine = Engine::new(set, Mappings::builtin()?);
    let ev = json!({"Event": {"System": {"EventID": 1, "Channel": "Microsoft-Windows-Sysmon/Operational",
        "EventRecordID": 123, "TimeCreated": {"#attributes": {"SystemTime": "2024-05-01T10:00:00Z"}}},
        "EventData": {"Image": "C:\\Windows\\System32\\whoami.exe"}}});
    let rec = Record {
        source: Some("file.evtx".into()),
        record: None,
        event: ev.clone(),
    };
    let alerts = engine.process_record(&rec);
    assert_eq!(alerts.len(), 1);
    let v = serde_json::to_value(&alerts[0])?;
    assert_eq!(
        v,
        json!({"rule_id": "r-1", "title": "Whoami", "level": "high", "tags": ["attack.t1033"],
               "timestamp": "2024-05-01T10:00:00Z", "source": "file.evtx", "record": 123, "event": ev})
    );
    // a Sysmon event of another category does not reach the rule
    let mut other = ev.clone();
    other["Event"]["System"]["EventID"] = json!(3);
    assert!(engine.process(&other).is_empty());
    Ok(())
}

#[test]
fn two_threads_give_the_same_alerts_in_the_same_order() -> anyhow::Result<()> {
    let rules = RuleSet::load_dirs(&[fixtures().join("rules")])?;
    assert!(
        rules.report.unsupported.is_empty(),
        "{:?}",
        rules.report.unsupported
    );
    let engine = Engine::new(rules, Mappings::builtin()?);
    let events = all_events()?;
    let mut one: Vec<Alert> = Vec::new();
    let s1 = engine.run(events.clone(), 1, |a| one.push(a));
    let mut two: Vec<Alert> = Vec::new();
    let s2 = engine.run(events, 2, |a| two.push(a));
    assert_eq!(s1, s2);
    assert!(
        one.len() >= 202,
        "every case raises at least its own alert: {}",
        one.len()
    );
    assert_eq!(one, two);
    Ok(())
}

struct Always;

impl Detector for Always {
    fn name(&self) -> &str {
        "always"
    }
    fn detect(&self, record: &Record, out: &mut Vec<Alert>) {
        out.push(Alert {
            rule_id: "ioc:1".into(),
            title: "ioc".into(),
            level: "low".into(),
            kind: Default::default(),
            tags: Vec::new(),
            timestamp: None,
            source: record.source.clone(),
            record: record.record,
            event: Value::Null,
        });
    }
}

#[test]
fn extra_detectors_run_beside_sigma() -> anyhow::Result<()> {
    let mut engine = Engine::new(RuleSet::default(), Mappings::builtin()?);
    engine.add_detector(Box::new(Always));
    engine.add_detector(Box::new(ctem_detect::decode::SourceAlerts));
    let suricata = json!({"event_type": "alert", "timestamp": "t", "alert": {"gid": 1, "signature_id": 2024833,
        "signature": "ET POLICY x", "severity": 1, "metadata": {"mitre_technique_id": ["T1071"]}}});
    let alerts = engine.process(&suricata);
    assert_eq!(alerts.len(), 2);
    let s = alerts
        .iter()
        .find(|a| a.rule_id == "suricata:1:2024833")
        .expect("source alert");
    assert_eq!(
        (s.level.as_str(), s.tags.clone()),
        ("high", vec!["attack.t1071".to_string()])
    );
    Ok(())
}

#[test]
fn correlation_chain_silences_base_rule_and_fires_once() -> anyhow::Result<()> {
    let yaml = "title: failed\nname: failed_login\nid: b-1\nlogsource: {product: windows, service: security}\ndetection:\n  sel:\n    EventID: 4625\n  condition: sel\n---\ntitle: many failed\nid: c-1\nname: many_failed\ncorrelation:\n  type: event_count\n  rules: [failed_login]\n  group-by: [TargetUserName]\n  timespan: 1m\n  condition: {gte: 3}\n---\ntitle: chained\nid: c-2\ncorrelation:\n  type: event_count\n  rules: [many_failed]\n  timespan: 1h\n  condition: {gte: 2}\n";
    let engine = Engine::new(RuleSet::from_yaml(yaml)?, Mappings::builtin()?);
    let ev = |s: u32, user: &str| {
        json!({"Channel": "Security", "EventID": 4625, "TargetUserName": user,
               "TimeCreated_SystemTime": format!("2024-05-01T10:{:02}:{:02}Z", s / 60, s % 60)})
    };
    let mut ids = Vec::new();
    // user a: five failures in the first minute (one window: one alert), three more two
    // minutes later (a second window); b: one
    let hits = [
        (0, "a"),
        (1, "a"),
        (2, "b"),
        (3, "a"),
        (4, "a"),
        (5, "a"),
        (125, "a"),
        (126, "a"),
        (127, "a"),
    ];
    for (s, u) in hits {
        for a in engine.process(&ev(s, u)) {
            // detection marks them: the kind is no tag and no config
            assert_eq!(a.kind, ctem_model::AlertKind::Correlation, "{}", a.rule_id);
            assert_eq!(serde_json::to_value(&a)?["kind"], "correlation");
            ids.push(a.rule_id);
        }
    }
    assert_eq!(
        ids,
        vec!["c-1", "c-1", "c-2"],
        "base rule silent; one alert per window of user a -> two -> chain"
    );
    Ok(())
}

/// The lines path caches what the prefilter found in each field value by the value's raw
/// bytes. Over a stream whose values repeat (some written with escapes, some with the same
/// text spelled differently), with more distinct values than a cache holds (so caches are
/// cleared and refilled) and a field whose values never repeat (so its cache turns off), every
/// line raises exactly the rules the unfiltered path picks on its parsed value.
#[test]
fn value_caches_answer_as_the_unfiltered_path() -> anyhow::Result<()> {
    let rule = |id: &str, det: &str| rule_yaml(id, "process_access", det);
    let mut yaml = String::new();
    yaml += &rule(
        "calltrace-dbghelp",
        "  sel:\n    TargetImage|endswith: '\\lsass.exe'\n    CallTrace|contains: 'dbghelp.dll'\n  condition: sel",
    );
    yaml += &rule(
        "calltrace-unknown",
        "  sel:\n    CallTrace|startswith: 'UNKNOWN('\n  condition: sel",
    );
    yaml += &rule(
        "calltrace-all",
        "  sel:\n    CallTrace|contains|all: ['ntdll.dll', 'kernelbase.dll']\n    GrantedAccess: '0x1410'\n  condition: sel",
    );
    yaml += &rule(
        "seq-filter",
        "  sel:\n    Context|contains: 'run 7'\n  filter:\n    Context|contains: 'run 77'\n  condition: sel and not filter",
    );
    let engine = Engine::new(RuleSet::from_yaml(&yaml)?, Mappings::builtin()?);
    let traces = [
        r"C:\Windows\SYSTEM32\ntdll.dll+9d4c4|C:\Windows\System32\KERNELBASE.dll+2730e|UNKNOWN(00007FF)",
        r"C:\Windows\SYSTEM32\ntdll.dll+9d4c4|C:\Windows\System32\dbghelp.dll+1e2|C:\x.exe+11",
        "UNKNOWN(0000000000000000)|UNKNOWN(0000000000000000)|",
        "C:\\Windows\\System32\\DBGHELP.DLL+1|\u{e9}t\u{e9}",
    ];
    let targets = [
        r"C:\Windows\system32\lsass.exe",
        r"C:\Windows\system32\svchost.exe",
    ];
    let mut text = String::new();
    for i in 0..40_000usize {
        let trace = if i % 3 == 0 {
            // distinct values: more than a cache keeps
            format!("{}|C:\\p{i}.dll+1", traces[i % traces.len()])
        } else {
            traces[i % traces.len()].to_string()
        };
        let mut line = serde_json::to_string(&json!({
            "Channel": "Microsoft-Windows-Sysmon/Operational",
            "EventID": 10,
            "TargetImage": targets[(i / 7) % 2],
            "GrantedAccess": if i % 5 == 0 { "0x1410" } else { "0x1000" },
            "CallTrace": trace,
            "Context": format!("run {i}"),
        }))?;
        if i % 11 == 0 {
            // the same text with `\u` escapes: other raw bytes, same answer
            line = line
                .replace("ntdll", "\\u006etdll")
                .replace("UNKNOWN", "\\u0055NKNOWN");
        }
        text += &line;
        text.push('\n');
    }
    let expected = unfiltered_hits(&engine, &text)?;
    let picked: BTreeSet<&str> = expected.iter().map(|(_, r)| r.as_str()).collect();
    assert_eq!(picked.len(), 4, "every rule fires somewhere");
    for threads in [1, 2] {
        assert_eq!(
            lines_hits(&engine, &text, threads)?,
            expected,
            "{threads} threads"
        );
    }
    Ok(())
}

/// Keyword rules are gated on the raw line, lower-cased. Lines with non-ASCII text take the
/// gate too: characters that fold to ASCII (the Kelvin sign, the long s, capital I with dot),
/// upper-case non-ASCII letters of a literal and the capital sigma (whose folding depends on
/// its neighbours, which an escape such as `\n` changes) must not make it miss what the
/// values hold. The lines path raises what the unfiltered path does.
#[test]
fn keyword_gate_on_non_ascii_lines_answers_as_the_unfiltered_path() -> anyhow::Result<()> {
    let yaml = "title: kw\nid: kw\nlogsource: {product: windows}\ndetection:\n  keywords:\n    \
                - 'kerberos::golden'\n    - 'sekurlsa::'\n    - 'iis'\n  condition: keywords\n---\n\
                title: kw2\nid: kw2\nlogsource: {product: windows}\ndetection:\n  keywords:\n    \
                - 'mimi\u{430}tz'\n    - '\u{1f600}'\n    - '\u{3c3}'\n  condition: keywords\n";
    let engine = Engine::new(RuleSet::from_yaml(yaml)?, Mappings::builtin()?);
    let texts = [
        "plain kerberos::golden",
        "KERBEROS::GOLDEN caf\u{e9}",
        "\u{212a}erberos::golden \u{e9}",
        "\u{17f}ekurl\u{17f}a:: \u{e9}",
        "\u{130}IS \u{e9}",
        "caf\u{e9} nothing here",
        "MIMI\u{410}TZ",
        "mimi\u{430}tz",
        "smile \u{1f600}",
        "\u{3a3}\u{3a3}",
        "\u{3c3}\u{3a3}",
        // in the line the escape's `n` is a letter before the sigma, in the value a newline
        "x\n\u{3a3}",
        "tab\tand \"quote\" \\ sekurlsa:: \u{e9}",
    ];
    let mut text = String::new();
    for t in texts {
        text += &serde_json::to_string(&json!({
            "Channel": "Security", "EventID": 4688, "Message": t, "Other": "x"
        }))?;
        text.push('\n');
    }
    let expected = unfiltered_hits(&engine, &text)?;
    assert!(expected.len() >= 8, "{expected:?}");
    assert_eq!(lines_hits(&engine, &text, 1)?, expected);
    Ok(())
}

/// Long values are looked at line by line through a cache of lines: a literal at the start
/// of a later line is no `startswith` match, one at the end of an earlier line no `endswith`
/// match, an exact value never matches a text of several lines, and a field with a literal
/// that spans a line break is looked at whole. Every line of the stream raises what the
/// unfiltered path does.
#[test]
fn long_values_looked_at_line_by_line_answer_as_the_unfiltered_path() -> anyhow::Result<()> {
    let rule = |id: &str, det: &str| rule_yaml(id, "ps_module", det);
    let mut yaml = String::new();
    for (id, det) in [
        (
            "starts",
            "  sel:\n    ContextInfo|startswith: 'severity = '\n  condition: sel",
        ),
        (
            "ends",
            "  sel:\n    ContextInfo|endswith: 'user = alice'\n  condition: sel",
        ),
        (
            "exact",
            "  sel:\n    ContextInfo: 'host name = consolehost'\n  condition: sel",
        ),
        (
            "contains",
            "  sel:\n    ContextInfo|contains: 'Invoke-Mimikatz'\n  condition: sel",
        ),
        (
            "all",
            "  sel:\n    ContextInfo|contains|all: ['-nop', 'hidden']\n  condition: sel",
        ),
        (
            "umlaut",
            "  sel:\n    ContextInfo|contains: 'gr\u{fc}n'\n  condition: sel",
        ),
        (
            "spans",
            "  sel:\n    Payload|contains: \"a\\nb\"\n  condition: sel",
        ),
    ] {
        yaml += &rule(id, det);
    }
    let engine = Engine::new(RuleSet::from_yaml(&yaml)?, Mappings::builtin()?);
    let mut text = String::new();
    for i in 0..6_000usize {
        let mut lines: Vec<String> = vec![
            "Severity = Informational".into(),
            "Host Name = ConsoleHost".into(),
            format!("Sequence Number = {i}"),
            "Host Application = powershell.exe -nop -w hidden -c whoami".into(),
        ];
        for k in 0..40 {
            lines.push(format!("Padding line {k} = {}", "x".repeat(20)));
        }
        match i % 7 {
            0 => lines.insert(0, "Invoke-Mimikatz".into()),
            1 => lines.push("User = alice".into()),
            2 => lines.insert(2, "User = alice".into()),
            3 => {
                lines[0] = "Level = 4".into();
                lines.insert(1, "severity = high".into());
            }
            4 => lines.push("Gr\u{dc}N field".into()),
            5 => lines.push("-NOP and HIDDEN".into()),
            _ => {}
        }
        let sep = if i % 2 == 0 { "\r\n" } else { "\n" };
        let mut info = lines.join(sep);
        if i % 5 == 0 {
            info = "Host Name = ConsoleHost".into();
        }
        let payload = if i % 3 == 0 {
            format!("{}a\nb", "p".repeat(1100))
        } else {
            "p".repeat(1100)
        };
        text += &serde_json::to_string(&json!({
            "Channel": "Microsoft-Windows-PowerShell/Operational", "EventID": 4103,
            "ContextInfo": info, "Payload": payload,
        }))?;
        text.push('\n');
    }
    let expected = unfiltered_hits(&engine, &text)?;
    let picked: BTreeSet<&str> = expected.iter().map(|(_, r)| r.as_str()).collect();
    assert_eq!(picked.len(), 7, "every rule fires somewhere");
    assert_eq!(lines_hits(&engine, &text, 1)?, expected);
    Ok(())
}

/// A non-ASCII value that lower-casing keeps is prefiltered whole, with its anchor: on texts
/// that end with it (any ASCII case), hold it elsewhere, or hold only its ASCII part, the
/// prefiltered engine picks exactly what the unfiltered path picks.
#[test]
fn caseless_non_ascii_values_keep_their_anchor() -> anyhow::Result<()> {
    let yaml = "title: braille\nid: braille\nlogsource: {product: windows, category: process_creation}\n\
                detection:\n  sel:\n    Image|endswith: '\u{2800}\u{2800}.exe'\n  condition: sel\n---\n\
                title: start\nid: start\nlogsource: {product: windows, category: process_creation}\n\
                detection:\n  sel:\n    CommandLine|startswith: '\u{2800}run'\n  condition: sel\n";
    let engine = Engine::new(RuleSet::from_yaml(yaml)?, Mappings::builtin()?);
    let mut hits = 0;
    for image in [
        "C:\\x\\\u{2800}\u{2800}.exe",
        "C:\\x\\\u{2800}\u{2800}.EXE",
        "C:\\x\\\u{2800}\u{2800}.exe.bak",
        "C:\\x\\a.exe",
        "\u{2800}\u{2800}.exe",
        "\u{17f}\u{2800}\u{2800}.Exe",
    ] {
        for cmd in ["\u{2800}RUN x", "x \u{2800}run", "\u{2800}ru", "run"] {
            let ev = json!({"Channel": "Microsoft-Windows-Sysmon/Operational", "EventID": 1,
                            "Image": image, "CommandLine": cmd});
            let got = engine.matching_rules(&ev);
            assert_eq!(got, engine.matching_rules_unfiltered(&ev), "{image} {cmd}");
            hits += got.len();
        }
    }
    assert!(hits >= 12, "{hits}");
    Ok(())
}

/// A key given twice keeps its last value, as serde_json reads the line: keyword searches and
/// loosely named fields (`Threat Name` for `ThreatName`) on the lines path see only that
/// value. Found by the `detect_lines` fuzz target.
#[test]
fn repeated_keys_keep_their_last_value_on_the_lines_path() -> anyhow::Result<()> {
    let yaml = "title: kw\nid: kw\ndetection:\n  kw:\n    - 'sekurlsa::'\n  condition: kw\n---\n\
                title: loose\nid: loose\ndetection:\n  sel:\n    ThreatName: 'evil'\n  condition: sel\n";
    let engine = Engine::new(RuleSet::from_yaml(yaml)?, Mappings::builtin()?);
    let text = concat!(
        r#"{"Message": "sekurlsa::x", "Message": "nothing"}"#,
        "\n",
        r#"{"Message": "nothing", "Message": "sekurlsa::x"}"#,
        "\n",
        r#"{"Threat Name": "evil", "Threat Name": "good"}"#,
        "\n",
        r#"{"Threat Name": "good", "Threat Name": "evil"}"#,
        "\n",
        r#"{"Threat  Name": "good", "Threat Name": "evil"}"#,
        "\n",
    );
    let expected = unfiltered_hits(&engine, text)?;
    assert!(expected.contains(&(2, "kw".into())) && !expected.contains(&(1, "kw".into())));
    assert_eq!(lines_hits(&engine, text, 1)?, expected);
    Ok(())
}

/// The lines path hands a line to the extra detectors only when one of them wants it
/// (`Detector::wants`): source alerts still come out for Suricata `alert` events and Wazuh
/// records among plain events, exactly as on the `Value` path.
#[test]
fn source_alerts_on_the_lines_path_answer_as_the_value_path() -> anyhow::Result<()> {
    let set = RuleSet::from_yaml(
        "title: whoami\nid: w\nlogsource: {product: windows}\ndetection:\n  sel:\n    \
         CommandLine|contains: whoami\n  condition: sel\n",
    )?;
    let mut engine = Engine::new(set, Mappings::builtin()?);
    engine.add_detector(Box::new(ctem_detect::decode::SourceAlerts));
    let text = concat!(
        r#"{"event_type":"alert","timestamp":"2024-01-01T00:00:00Z","alert":{"signature":"ET X","signature_id":1,"severity":1}}"#,
        "\n",
        r#"{"event_type":"dns","dns":{"rrname":"a.example"}}"#,
        "\n",
        r#"{"rule":{"id":"5710","level":5,"description":"sshd: bad user","mitre":{"id":["T1110"]}},"agent":{"name":"a"}}"#,
        "\n",
        r#"{"Channel":"Security","EventID":4688,"CommandLine":"cmd /c whoami"}"#,
        "\n",
        r#"{"rule":"not an object","event_type":"flow"}"#,
        "\n",
    );
    let key = |a: &Alert| (a.record.unwrap_or(0), a.rule_id.clone(), a.title.clone());
    let mut lines = Vec::new();
    engine.run_lines(text.as_bytes(), None, 1, |a| lines.push(key(&a)))?;
    let records: Vec<Record> = text
        .lines()
        .enumerate()
        .map(|(n, l)| {
            let mut r = Record::new(serde_json::from_str(l).expect("json"));
            r.record = Some(n as u64 + 1);
            r
        })
        .collect();
    let mut values = Vec::new();
    engine.run(records, 1, |a| values.push(key(&a)));
    lines.sort();
    values.sort();
    assert_eq!(lines, values);
    let ids: Vec<&str> = lines.iter().map(|(_, id, _)| id.as_str()).collect();
    assert_eq!(ids, ["suricata:1:1", "wazuh:5710", "w"]);
    Ok(())
}

/// Sysmon registry events belong to `registry_event` and to `registry_set`, `_add`,
/// `_delete` or `_rename`: the engine looks at the buckets of such logsources through one
/// merged filter. Every rule of each still fires exactly where the unfiltered path says,
/// on each event id, with values that one, both or neither logsource's rules want, and a
/// rule of each logsource may hit the same event.
#[test]
fn overlapping_logsources_keep_every_rule() -> anyhow::Result<()> {
    let mut yaml = String::new();
    for (cat, key) in [
        ("registry_event", "\\\\Run"),
        ("registry_set", "\\\\Services"),
        ("registry_add", "\\\\Policies"),
        ("registry_delete", "\\\\Winlogon"),
        ("registry_rename", "\\\\Shell"),
    ] {
        yaml += &rule_yaml(
            &format!("{cat}-1"),
            cat,
            &format!("  sel:\n    TargetObject|contains: '{key}'\n  condition: sel"),
        );
        yaml += &rule_yaml(
            &format!("{cat}-2"),
            cat,
            "  sel:\n    TargetObject|endswith: '\\Start'\n    EventType: SetValue\n  condition: sel",
        );
    }
    let engine = Engine::new(RuleSet::from_yaml(&yaml)?, Mappings::builtin()?);
    let mut lines = Vec::new();
    for id in [12, 13, 14, 1] {
        for obj in [
            "\\\\Run\\\\x",
            "\\\\Services\\\\y\\\\Start",
            "\\\\Policies\\\\Run",
            "\\\\Winlogon",
            "\\\\Shell\\\\z",
            "\\\\Other",
        ] {
            for et in ["SetValue", "CreateKey"] {
                lines.push(format!(
                    r#"{{"Channel":"Microsoft-Windows-Sysmon/Operational","EventID":{id},"EventType":"{et}","TargetObject":"HKLM\\SOFTWARE{obj}"}}"#
                ));
            }
        }
    }
    let text = lines.join("\n");
    let want = unfiltered_hits(&engine, &text)?;
    // event 13 with a `\Run` key hits a rule of each logsource
    assert!(want.iter().any(|(_, r)| r == "registry_event-1"));
    assert!(want.iter().any(|(_, r)| r == "registry_set-2"));
    assert!(want.iter().any(|(_, r)| r == "registry_add-1"));
    for threads in [1, 2] {
        assert_eq!(
            lines_hits(&engine, &text, threads)?,
            want,
            "{threads} threads"
        );
    }
    for (n, l) in lines.iter().enumerate() {
        let v: Value = serde_json::from_str(l)?;
        let mut got: Vec<String> = engine
            .matching_rules(&v)
            .into_iter()
            .map(|r| engine.rules()[r].meta.id.clone())
            .collect();
        got.sort();
        let mut w: Vec<String> = want
            .iter()
            .filter(|(k, _)| *k == n as u64 + 1)
            .map(|(_, r)| r.clone())
            .collect();
        w.sort();
        assert_eq!(got, w, "{l}");
    }
    Ok(())
}

/// OCSF authentication (class 3002) from a Windows host runs the Security log's rules, its
/// fields read by their Windows names; the same class from a SaaS log (Okta: no device OS)
/// does not.
#[test]
fn ocsf_authentication_answers_windows_logon_rules() {
    let yaml = r#"
title: failed network logon with a bad password
id: t-4625
logsource: {product: windows, service: security}
detection:
    sel:
        EventID: 4625
        LogonType: 3
        Status: '0xC000006D'
        AuthenticationPackageName: NTLM
        TargetUserName|startswith: adm
        IpAddress|cidr: 10.0.0.0/8
        WorkstationName: KALI
    condition: sel
---
title: any logon by a machine account
id: t-machine
logsource: {product: windows, service: security}
detection:
    sel:
        SubjectUserName|endswith: '$'
    condition: sel
"#;
    let engine = Engine::new(
        RuleSet::from_yaml(yaml).expect("rules"),
        Mappings::builtin().expect("mappings"),
    );
    let ev = json!({
        "class_uid": 3002, "activity_id": 1, "time": 1602160907000i64,
        "metadata": {"event_code": "4625", "product": {"name": "Microsoft Windows"}},
        "device": {"hostname": "EC2AMAZ-6KJ2BPP", "os": {"type": "Windows"}},
        "user": {"name": "administrator", "domain": "CORP"},
        "actor": {"user": {"name": "WIN-DC$"}},
        "src_endpoint": {"ip": "10.1.2.3", "name": "KALI", "port": 0},
        "logon_type_id": 3, "auth_protocol": "NTLM",
        "status": "Failure", "status_code": "0xC000006D"
    });
    let fired = |ev: &serde_json::Value| -> Vec<String> {
        let mut ids: Vec<String> = engine.process(ev).into_iter().map(|a| a.rule_id).collect();
        ids.sort();
        ids
    };
    assert_eq!(fired(&ev), ["t-4625", "t-machine"]);
    let mut other_user = ev.clone();
    other_user["user"]["name"] = json!("guest");
    assert_eq!(fired(&other_user), ["t-machine"]);
    // the same event from a SaaS identity provider: not a Windows Security log
    let mut okta = ev.clone();
    okta["device"] = json!({"name": "Mac15,6"});
    assert!(fired(&okta).is_empty(), "{:?}", fired(&okta));
}
