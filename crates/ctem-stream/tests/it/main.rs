//! Integration tests of ctem-stream: one binary (see STYLE.md).

#[cfg(feature = "kafka")]
mod kafka;
mod syslog;

use ctem_detect::{Engine, Mappings, RuleSet};
use std::path::PathBuf;

/// A file or folder under tests/fixtures.
pub fn fixture(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(rel)
}

/// A rule that fires on any event holding the word `trigger` (Linux syslog and events of
/// unknown source alike).
pub const TRIGGER_RULE: &str = "title: trigger word
id: 5c1a1a1a-0000-4000-8000-000000000001
logsource:
  category: stream_test
detection:
  keywords:
    - trigger
  condition: keywords
level: high
";

pub fn rule_engine() -> Engine {
    let mut rules = RuleSet::from_yaml(TRIGGER_RULE).expect("rule");
    let linux = TRIGGER_RULE
        .replace("category: stream_test", "product: linux")
        .replace("0000-4000-8000-000000000001", "0000-4000-8000-000000000002");
    rules.add_yaml(&linux, "linux.yml", &Default::default());
    Engine::new(rules, Mappings::builtin().expect("mappings"))
}
