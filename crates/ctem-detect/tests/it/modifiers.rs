//! One test per value modifier and condition form, through the public API.

use ctem_detect::{CompileOptions, Engine, Mappings, RuleSet};
use serde_json::{Value, json};

/// Builds a one-rule engine from a detection body (YAML, indented by 2).
fn engine_with(detection: &str, opts: &CompileOptions) -> Engine {
    let yaml = format!("title: t\nid: r1\nlogsource: {{category: test}}\ndetection:\n{detection}");
    let mut set = RuleSet::default();
    set.add_yaml(&yaml, "inline", opts);
    assert!(
        set.report.unsupported.is_empty(),
        "{:?}",
        set.report.unsupported
    );
    Engine::new(set, Mappings::builtin().expect("mappings"))
}

fn hits(detection: &str, ev: &Value) -> bool {
    !engine_with(detection, &CompileOptions::default())
        .process(ev)
        .is_empty()
}

fn unsupported(detection: &str) -> String {
    let yaml = format!("title: t\ndetection:\n{detection}");
    let mut set = RuleSet::default();
    set.add_yaml(&yaml, "inline", &CompileOptions::default());
    set.report
        .unsupported
        .first()
        .map(|u| u.reason.clone())
        .unwrap_or_default()
}

#[test]
fn plain_value_is_case_insensitive_exact() {
    let d = "  sel:\n    Image: 'C:\\Windows\\cmd.exe'\n  condition: sel\n";
    assert!(hits(d, &json!({"Image": "c:\\windows\\CMD.exe"})));
    assert!(!hits(d, &json!({"Image": "c:\\windows\\cmd.exe2"})));
}

#[test]
fn contains_startswith_endswith() {
    assert!(hits(
        "  s:\n    A|contains: mid\n  condition: s\n",
        &json!({"A": "xxMIDxx"})
    ));
    assert!(hits(
        "  s:\n    A|startswith: pre\n  condition: s\n",
        &json!({"A": "PREfix"})
    ));
    assert!(!hits(
        "  s:\n    A|startswith: pre\n  condition: s\n",
        &json!({"A": "xpre"})
    ));
    assert!(hits(
        "  s:\n    A|endswith: '.exe'\n  condition: s\n",
        &json!({"A": "a.EXE"})
    ));
}

#[test]
fn all_requires_every_value() {
    let d = "  s:\n    A|contains|all: [foo, bar]\n  condition: s\n";
    assert!(hits(d, &json!({"A": "foo and bar"})));
    assert!(!hits(d, &json!({"A": "foo only"})));
}

#[test]
fn exists_true_and_false() {
    assert!(hits(
        "  s:\n    A|exists: true\n  condition: s\n",
        &json!({"A": ""})
    ));
    assert!(!hits(
        "  s:\n    A|exists: true\n  condition: s\n",
        &json!({"B": 1})
    ));
    assert!(hits(
        "  s:\n    A|exists: false\n  condition: s\n",
        &json!({"B": 1})
    ));
}

#[test]
fn cased_is_case_sensitive() {
    let d = "  s:\n    A|cased: Abc\n  condition: s\n";
    assert!(hits(d, &json!({"A": "Abc"})));
    assert!(!hits(d, &json!({"A": "abc"})));
}

#[test]
fn neq_needs_a_different_present_value() {
    let d = "  s:\n    A|neq: [x, y]\n  condition: s\n";
    assert!(hits(d, &json!({"A": "z"})));
    assert!(!hits(d, &json!({"A": "X"})));
    assert!(!hits(d, &json!({"B": "z"})));
}

#[test]
fn windash_matches_every_dash() {
    let d = "  s:\n    C|windash|contains: ' -enc '\n  condition: s\n";
    for v in [
        " -enc ",
        " /enc ",
        " \u{2013}enc ",
        " \u{2014}enc ",
        " \u{2015}enc ",
    ] {
        assert!(hits(d, &json!({"C": format!("powershell{v}AAA")})), "{v}");
    }
    assert!(!hits(d, &json!({"C": "powershell +enc AAA"})));
}

#[test]
fn re_with_flags() {
    assert!(hits(
        "  s:\n    A|re: '^ab+c$'\n  condition: s\n",
        &json!({"A": "abbc"})
    ));
    assert!(
        !hits(
            "  s:\n    A|re: '^ab+c$'\n  condition: s\n",
            &json!({"A": "ABBC"})
        ),
        "re is cased by default"
    );
    assert!(hits(
        "  s:\n    A|re|i: '^ab+c$'\n  condition: s\n",
        &json!({"A": "ABBC"})
    ));
    assert!(hits(
        "  s:\n    A|re|m: '^second$'\n  condition: s\n",
        &json!({"A": "first\nsecond"})
    ));
    assert!(!hits(
        "  s:\n    A|re: 'a.b'\n  condition: s\n",
        &json!({"A": "a\nb"})
    ));
    assert!(hits(
        "  s:\n    A|re|s: 'a.b'\n  condition: s\n",
        &json!({"A": "a\nb"})
    ));
}

#[test]
fn base64_and_base64offset() {
    // "cmd" -> Y21k ; "/c whoami" inside any longer base64 text
    assert!(hits(
        "  s:\n    A|base64: cmd\n  condition: s\n",
        &json!({"A": "Y21k"})
    ));
    let d = "  s:\n    A|base64offset|contains: 'whoami'\n  condition: s\n";
    for pre in ["", "x", "xy"] {
        let enc = b64(format!("{pre}whoami /all").as_bytes());
        assert!(hits(d, &json!({"A": enc})), "offset {}", pre.len());
    }
    assert!(!hits(d, &json!({"A": b64(b"hostname")})));
}

#[test]
fn utf16_encodings_then_base64() {
    // powershell -enc of "cmd": UTF-16LE then base64 = YwBtAGQA
    assert!(hits(
        "  s:\n    A|wide|base64: cmd\n  condition: s\n",
        &json!({"A": "YwBtAGQA"})
    ));
    assert!(hits(
        "  s:\n    A|utf16le|base64: cmd\n  condition: s\n",
        &json!({"A": "YwBtAGQA"})
    ));
    assert!(hits(
        "  s:\n    A|utf16be|base64: cmd\n  condition: s\n",
        &json!({"A": "AGMAbQBk"})
    ));
    assert!(hits(
        "  s:\n    A|utf16|base64: cmd\n  condition: s\n",
        &json!({"A": "//5jAG0AZAA="})
    ));
}

#[test]
fn numeric_comparisons() {
    let ev = json!({"N": 10, "S": "10"});
    assert!(hits("  s:\n    N|lt: 11\n  condition: s\n", &ev));
    assert!(!hits("  s:\n    N|lt: 10\n  condition: s\n", &ev));
    assert!(hits("  s:\n    N|lte: 10\n  condition: s\n", &ev));
    assert!(hits("  s:\n    S|gt: 9\n  condition: s\n", &ev));
    assert!(hits("  s:\n    N|gte: 10\n  condition: s\n", &ev));
    assert!(!hits("  s:\n    N|gt: 10\n  condition: s\n", &ev));
}

#[test]
fn time_modifiers() {
    let ev = json!({"T": "2024-05-06T13:45:10Z"});
    for (m, v, ok) in [
        ("minute", 45, true),
        ("hour", 13, true),
        ("day", 6, true),
        ("week", 19, true),
        ("month", 5, true),
        ("year", 2024, true),
        ("hour", 12, false),
    ] {
        assert_eq!(
            hits(&format!("  s:\n    T|{m}: {v}\n  condition: s\n"), &ev),
            ok,
            "{m} {v}"
        );
    }
}

#[test]
fn cidr_v4_and_v6() {
    let d = "  s:\n    IP|cidr: ['10.0.0.0/8', '2001:db8::/32']\n  condition: s\n";
    assert!(hits(d, &json!({"IP": "10.20.30.40"})));
    assert!(hits(d, &json!({"IP": "2001:db8::1"})));
    assert!(!hits(d, &json!({"IP": "192.168.1.1"})));
}

#[test]
fn expand_uses_configured_placeholders() {
    let mut opts = CompileOptions::default();
    opts.placeholders
        .insert("Admins".into(), vec!["alice".into(), "bob".into()]);
    let e = engine_with("  s:\n    User|expand: '%Admins%'\n  condition: s\n", &opts);
    assert_eq!(e.process(&json!({"User": "BOB"})).len(), 1);
    assert!(e.process(&json!({"User": "carol"})).is_empty());
    assert!(
        unsupported("  s:\n    User|expand: '%Admins%'\n  condition: s\n").contains("%Admins%")
    );
}

#[test]
fn fieldref_compares_two_fields() {
    let d = "  s:\n    A|fieldref: B\n  condition: s\n";
    assert!(hits(d, &json!({"A": "same", "B": "SAME"})));
    assert!(!hits(d, &json!({"A": "same", "B": "other"})));
    assert!(!hits(d, &json!({"A": "same"})));
    assert!(hits(
        "  s:\n    A|fieldref|endswith: B\n  condition: s\n",
        &json!({"A": "C:\\x\\y.exe", "B": "y.exe"})
    ));
}

#[test]
fn wildcards_and_escapes() {
    assert!(hits(
        "  s:\n    A: 'a*c?e'\n  condition: s\n",
        &json!({"A": "ABBBCDE"})
    ));
    assert!(!hits(
        "  s:\n    A: 'a*c?e'\n  condition: s\n",
        &json!({"A": "abce"})
    ));
    assert!(hits(
        "  s:\n    A: 'a\\*c'\n  condition: s\n",
        &json!({"A": "a*c"})
    ));
    assert!(!hits(
        "  s:\n    A: 'a\\*c'\n  condition: s\n",
        &json!({"A": "abc"})
    ));
    assert!(hits(
        "  s:\n    A: 'x\\\\*'\n  condition: s\n",
        &json!({"A": "x\\yz"})
    ));
}

#[test]
fn null_and_empty_values() {
    let n = "  s:\n    A: null\n  condition: s\n";
    assert!(hits(n, &json!({"B": 1})));
    assert!(hits(n, &json!({"A": null})));
    assert!(!hits(n, &json!({"A": "x"})));
    let e = "  s:\n    A: ''\n  condition: s\n";
    assert!(hits(e, &json!({"A": ""})));
    assert!(!hits(e, &json!({"B": ""})));
}

#[test]
fn keyword_searches() {
    let d = "  kw:\n    - mimikatz\n    - '*sekurlsa*'\n  condition: kw\n";
    assert!(hits(d, &json!({"x": {"y": "MIMIKATZ"}})));
    assert!(hits(d, &json!({"cmd": "run sekurlsa::logonpasswords"})));
    assert!(!hits(d, &json!({"cmd": "notepad"})));
    let all = "  kw:\n    '|all':\n      - foo\n      - bar\n  condition: kw\n";
    assert!(hits(all, &json!({"a": "foo", "b": "bar"})));
    assert!(!hits(all, &json!({"a": "foo"})));
}

#[test]
fn list_of_maps_is_or_and_map_is_and() {
    let d = "  s:\n    - A: 1\n      B: 2\n    - C: 3\n  condition: s\n";
    assert!(hits(d, &json!({"A": 1, "B": 2})));
    assert!(!hits(d, &json!({"A": 1})));
    assert!(hits(d, &json!({"C": "3"})));
}

#[test]
fn conditions_and_or_not_parentheses() {
    let base = "  a:\n    A: 1\n  b:\n    B: 1\n  c:\n    C: 1\n";
    let ev = json!({"A": 1, "C": 1});
    assert!(hits(&format!("{base}  condition: a and not b\n"), &ev));
    assert!(!hits(&format!("{base}  condition: a and b\n"), &ev));
    assert!(hits(&format!("{base}  condition: b or c\n"), &ev));
    assert!(!hits(&format!("{base}  condition: not (a or b)\n"), &ev));
    assert!(hits(&format!("{base}  condition: (a or b) and c\n"), &ev));
}

#[test]
fn one_of_all_of_and_them() {
    let base = "  sel_a:\n    A: 1\n  sel_b:\n    B: 1\n  filter:\n    F: 1\n";
    let ev = json!({"A": 1});
    assert!(hits(&format!("{base}  condition: 1 of sel_*\n"), &ev));
    assert!(!hits(&format!("{base}  condition: all of sel_*\n"), &ev));
    assert!(hits(&format!("{base}  condition: 1 of them\n"), &ev));
    assert!(!hits(
        &format!("{base}  condition: all of them\n"),
        &json!({"A": 1, "B": 1})
    ));
    assert!(hits(
        &format!("{base}  condition: all of them\n"),
        &json!({"A": 1, "B": 1, "F": 1})
    ));
    assert!(hits(
        &format!("{base}  condition: 1 of sel_* and not filter\n"),
        &ev
    ));
}

#[test]
fn condition_list_is_or() {
    let d = "  a:\n    A: 1\n  b:\n    B: 1\n  condition:\n    - a\n    - b\n";
    assert!(hits(d, &json!({"B": 1})));
    assert!(!hits(d, &json!({"C": 1})));
}

#[test]
fn dotted_paths_into_nested_objects() {
    let d = "  s:\n    process.name: cmd.exe\n  condition: s\n";
    assert!(hits(d, &json!({"process": {"name": "cmd.exe"}})));
}

#[test]
fn unsupported_features_are_named() {
    assert!(unsupported("  s:\n    A|nosuch: 1\n  condition: s\n").contains("nosuch"));
    assert!(unsupported("  s:\n    A: 1\n  condition: s | count() > 5\n").contains("aggregation"));
    assert!(unsupported("  s:\n    A|re: '(unclosed'\n  condition: s\n").contains("regex"));
}

fn b64(data: &[u8]) -> String {
    ctem_detect::value::base64(data)
}
