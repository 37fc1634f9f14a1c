//! `[detect]`: the rule folders `ctem detect` uses when given no `--rules`, and mapping
//! files that extend the logsource routing table (docs/logsources.md).

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// The `[detect]` section; built into `ctem_detect::DetectConfig` (the mapping files are
/// read when the engine is built, so a missing file names itself there).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DetectConfig {
    /// Rule folders used when `ctem detect` is given no `--rules`.
    pub rules: Vec<PathBuf>,
    /// Extra mapping files.
    pub mappings: Vec<PathBuf>,
}

impl DetectConfig {
    /// Errors are `(key, message)` pairs under `detect`.
    pub fn build(self) -> Result<ctem_detect::DetectConfig, Vec<(String, String)>> {
        let mut errors = Vec::new();
        for (key, paths) in [("rules", &self.rules), ("mappings", &self.mappings)] {
            for (i, p) in paths.iter().enumerate() {
                if p.as_os_str().is_empty() {
                    errors.push((format!("detect.{key}[{i}]"), "an empty path".into()));
                }
            }
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(ctem_detect::DetectConfig {
            rules: self.rules,
            mappings: self.mappings,
        })
    }
}
