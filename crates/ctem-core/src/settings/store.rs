//! `[store]`: where the data lives and how long a writer waits for another one.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::duration::parse_duration;

/// The `[store]` section.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StoreConfig {
    /// A path, `sqlite://PATH` or `postgres://...`; `--db` and `$CTEM_DB` override it.
    pub url: String,
    /// How long a write waits for another writer before it fails.
    pub busy_timeout: String,
}

impl Default for StoreConfig {
    fn default() -> Self {
        Self {
            url: "ctem.db".into(),
            busy_timeout: "30s".into(),
        }
    }
}

/// The store settings, validated.
#[derive(Debug, Clone, PartialEq)]
pub struct StoreSettings {
    pub url: String,
    pub busy_timeout: Duration,
}

impl StoreConfig {
    /// Errors are `(key, message)` pairs under `store`.
    pub fn build(self) -> Result<StoreSettings, Vec<(String, String)>> {
        let mut errors = Vec::new();
        if self.url.trim().is_empty() {
            errors.push(("store.url".into(), "the store URL is empty".into()));
        }
        let busy_timeout = parse_duration(&self.busy_timeout).unwrap_or_else(|e| {
            errors.push(("store.busy_timeout".into(), e));
            Duration::ZERO
        });
        if errors.is_empty() {
            Ok(StoreSettings {
                url: self.url,
                busy_timeout,
            })
        } else {
            Err(errors)
        }
    }
}
