//! Sigma rule YAML -> AST -> compiled matchers must never panic.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let mut set = ctem_detect::RuleSet::default();
        set.add_yaml(text, "fuzz", &ctem_detect::CompileOptions::default());
    }
});
