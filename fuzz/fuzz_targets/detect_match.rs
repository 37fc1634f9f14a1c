//! Evaluating a fixed rule set over arbitrary JSON events must never panic.
#![no_main]
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;

const RULES: &str = "title: a\nid: a\ndetection:\n  sel:\n    Image|endswith: ['\\\\cmd.exe', '\\\\x*y?.exe']\n    CommandLine|contains|all: [' -enc', 'AAA']\n  kw:\n    - '*mimikatz*'\n  n:\n    N|gte: 5\n    IP|cidr: 10.0.0.0/8\n  r:\n    A|re|i: '^a.+b$'\n    B|fieldref: A\n  condition: 1 of sel* or kw or (n and not r)\n";

fn engine() -> &'static ctem_detect::Engine {
    static E: OnceLock<ctem_detect::Engine> = OnceLock::new();
    E.get_or_init(|| {
        let set = ctem_detect::RuleSet::from_yaml(RULES).unwrap_or_default();
        let maps = ctem_detect::Mappings::builtin().unwrap_or_else(|_| std::process::abort());
        ctem_detect::Engine::new(set, maps)
    })
}

fuzz_target!(|data: &[u8]| {
    if let Ok(v) = serde_json::from_slice::<serde_json::Value>(data) {
        let _ = engine().process(&v);
    }
});
