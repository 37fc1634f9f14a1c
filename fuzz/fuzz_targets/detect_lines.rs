//! The fast JSON-lines path (line scanner, value and line caches, keyword gate, prefilter)
//! against the unfiltered path over parsed values: for every line serde_json reads as an
//! object, `run_lines` must raise exactly the rules the unfiltered matcher picks. Repeated
//! lines in one input exercise the caches.
#![no_main]
use std::collections::BTreeSet;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;

const RULES: &str = "title: a\nid: a\ndetection:\n  sel:\n    Image|endswith: ['\\\\cmd.exe', '\\u2800\\u2800.exe']\n    CommandLine|contains: [' -e* jab', 'iex', 'x*y?z']\n  condition: sel\n---\n\
title: b\nid: b\ndetection:\n  kw:\n    - 'sekurlsa::'\n    - 'mimi\\u0430tz'\n  condition: kw\n---\n\
title: c\nid: c\ndetection:\n  sel:\n    ContextInfo|startswith: 'severity'\n    ContextInfo|endswith: 'alice'\n  other:\n    ContextInfo: 'host'\n  condition: sel or other\n---\n\
title: d\nid: d\ndetection:\n  sel:\n    CommandLine|re: '(?i)\\.exe\\s+[^\"]{0,8}werfault\\.exe'\n  condition: sel\n";

fn engine() -> &'static ctem_detect::Engine {
    static E: OnceLock<ctem_detect::Engine> = OnceLock::new();
    E.get_or_init(|| {
        let set = ctem_detect::RuleSet::from_yaml(RULES).unwrap_or_else(|_| std::process::abort());
        let maps = ctem_detect::Mappings::builtin().unwrap_or_else(|_| std::process::abort());
        ctem_detect::Engine::new(set, maps)
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let engine = engine();
    let mut want = BTreeSet::new();
    for (n, line) in text.split('\n').enumerate() {
        let line = line.trim_end_matches('\r').trim_start_matches('\u{feff}');
        if let Ok(v @ serde_json::Value::Object(_)) = serde_json::from_str::<serde_json::Value>(line) {
            for r in engine.matching_rules_unfiltered(&v) {
                want.insert((n as u64 + 1, engine.rules()[r].meta.id.clone()));
            }
        }
    }
    let mut got = BTreeSet::new();
    let _ = engine.run_lines(data, None, 1, |a| {
        got.insert((a.record.unwrap_or(0), a.rule_id));
    });
    // lines serde_json does not read as objects raise nothing on either path
    assert_eq!(got, want);
});
