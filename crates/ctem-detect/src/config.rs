//! The `[detect]` section of `ctem.toml`.

use std::path::PathBuf;

use serde::Deserialize;

use crate::error::{Error, Result};
use crate::mapping::Mappings;

/// Detection settings: a default rule set, and extra mapping files (routing-table `sources:`
/// and `logsources:` entries, tried before the built-in ones; see `docs/logsources.md`).
///
/// ```toml
/// [detect]
/// rules = ["/opt/sigma/rules"]
/// mappings = ["my-sources.yml"]
/// ```
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DetectConfig {
    /// Rule folders used when `ctem detect` is given no `--rules`.
    #[serde(default)]
    pub rules: Vec<PathBuf>,
    /// Extra mapping files.
    #[serde(default)]
    pub mappings: Vec<PathBuf>,
    /// The folder of the rule-set cache ([`crate::RuleSet::load_dirs_cached`]); `None`: no
    /// cache.
    #[serde(default)]
    pub rule_cache: Option<PathBuf>,
}

impl DetectConfig {
    /// The built-in mappings extended with the configured files.
    pub fn build(&self) -> Result<Mappings> {
        let mut m = Mappings::builtin()?;
        for p in &self.mappings {
            let text = std::fs::read_to_string(p).map_err(|source| Error::Io {
                path: p.clone(),
                source,
            })?;
            m.extend_yaml(&text).map_err(|e| Error::Mapping {
                name: p.display().to_string(),
                message: e.to_string(),
            })?;
        }
        Ok(m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A mapping file from `ctem.toml` adds a source: its events get the rules of its
    /// logsource, and it wins over the built-in entries.
    #[test]
    fn configured_mapping_files_extend_the_routing_table() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("extra.yml");
        std::fs::write(
            &file,
            "sources:\n  - {name: acme, present: [acme_id], product: acme, services: [$kind], categories: []}\n",
        )
        .expect("write");
        let m = DetectConfig {
            rules: vec![],
            mappings: vec![file],
            ..Default::default()
        }
        .build()
        .expect("mappings");
        let ev = json!({"acme_id": 1, "kind": "vpn"});
        let src = m.sources.classify(&m.view(&ev), None);
        assert_eq!(src.product.as_deref(), Some("acme"));
        assert_eq!(src.services, Some(vec!["vpn".to_string()]));
        let bad = DetectConfig {
            rules: vec![],
            mappings: vec![dir.path().join("missing.yml")],
            ..Default::default()
        };
        assert!(bad.build().unwrap_err().to_string().contains("missing.yml"));
    }
}
