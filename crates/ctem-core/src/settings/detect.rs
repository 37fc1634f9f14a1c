//! `[detect]`: the rule folders `ctem detect` uses when given no `--rules`, and mapping
//! files that extend the logsource routing table (docs/logsources.md).

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// The `[detect]` section; built into `ctem_detect::DetectConfig` (the mapping files are
/// read when the engine is built, so a missing file names itself there).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DetectConfig {
    /// Rule folders used when `ctem detect` is given no `--rules`.
    pub rules: Vec<PathBuf>,
    /// Extra mapping files.
    pub mappings: Vec<PathBuf>,
    /// Whether parsed rules are cached on disk (true by default).
    pub rule_cache: bool,
    /// The cache folder; by default `$XDG_CACHE_HOME/ctem/rules` or `~/.cache/ctem/rules`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rule_cache_dir: Option<PathBuf>,
}

impl Default for DetectConfig {
    fn default() -> Self {
        DetectConfig {
            rules: Vec::new(),
            mappings: Vec::new(),
            rule_cache: true,
            rule_cache_dir: None,
        }
    }
}

impl DetectConfig {
    /// Errors are `(key, message)` pairs under `detect`.
    pub fn build(self) -> Result<ctem_detect::DetectConfig, Vec<(String, String)>> {
        let mut errors = Vec::new();
        if self
            .rule_cache_dir
            .as_ref()
            .is_some_and(|p| p.as_os_str().is_empty())
        {
            errors.push(("detect.rule_cache_dir".to_string(), "an empty path".into()));
        }
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
        let rule_cache = if self.rule_cache {
            self.rule_cache_dir.or_else(ctem_detect::default_cache_dir)
        } else {
            None
        };
        Ok(ctem_detect::DetectConfig {
            rules: self.rules,
            mappings: self.mappings,
            rule_cache,
        })
    }
}
