//! `[input]`: caps on what one input (a gzip, standard input, a line of events) may expand
//! to; the binary's input module reads through them.

use serde::{Deserialize, Serialize};

/// The `[input]` section; the built value is the same caps, checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct InputConfig {
    /// Scanner reports and event files: the most a gzip or standard input may expand to
    /// (MiB). Spooled to disk, so this bounds time and disk, not memory.
    pub max_decompressed_mb: u64,
    /// Threat-intel files, which are parsed in memory: the most one may be or expand to
    /// (MiB). 128 holds the largest public files (ATT&CK Enterprise is about 50 MB, the
    /// full EPSS CSV about 10 MB) and keeps the import of one under 512 MiB.
    pub max_intel_mb: u64,
    /// Line-based event formats (`detect`): the longest line kept (KiB); a longer one is
    /// skipped with an issue naming its line.
    pub max_line_kb: u64,
}

impl Default for InputConfig {
    fn default() -> Self {
        InputConfig {
            max_decompressed_mb: 1024,
            max_intel_mb: 128,
            max_line_kb: 16 * 1024,
        }
    }
}

/// The `[input]` caps, each at least 1.
pub type InputSettings = InputConfig;

impl InputConfig {
    /// Errors are `(key, message)` pairs under `input`.
    pub fn build(self) -> Result<InputSettings, Vec<(String, String)>> {
        let errors: Vec<(String, String)> = [
            ("max_decompressed_mb", self.max_decompressed_mb),
            ("max_intel_mb", self.max_intel_mb),
            ("max_line_kb", self.max_line_kb),
        ]
        .into_iter()
        .filter(|(_, v)| *v == 0)
        .map(|(k, _)| {
            (
                format!("input.{k}"),
                "every [input] limit must be at least 1".into(),
            )
        })
        .collect();
        if errors.is_empty() {
            Ok(self)
        } else {
            Err(errors)
        }
    }
}
