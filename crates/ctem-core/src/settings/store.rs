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
    /// Octal permission bits of a store file ctem creates; owner read and write required.
    pub file_mode: String,
}

impl Default for StoreConfig {
    fn default() -> Self {
        Self {
            url: "ctem.db".into(),
            busy_timeout: "10s".into(),
            file_mode: "0600".into(),
        }
    }
}

/// The store settings, validated.
#[derive(Debug, Clone, PartialEq)]
pub struct StoreSettings {
    pub url: String,
    pub busy_timeout: Duration,
    /// Permission bits of a store file ctem creates (an existing file keeps its mode).
    pub file_mode: u32,
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
        let file_mode = parse_mode(&self.file_mode).unwrap_or_else(|e| {
            errors.push(("store.file_mode".into(), e));
            0o600
        });
        if errors.is_empty() {
            Ok(StoreSettings {
                url: self.url,
                busy_timeout,
                file_mode,
            })
        } else {
            Err(errors)
        }
    }
}

/// `"0600"`, `"640"`: octal permission bits, owner read and write required, no set-id or
/// sticky bits.
fn parse_mode(s: &str) -> Result<u32, String> {
    let m = u32::from_str_radix(s.trim(), 8)
        .ok()
        .filter(|m| *m <= 0o777)
        .ok_or_else(|| format!("{s:?} is not an octal mode like \"0600\""))?;
    if m & 0o600 != 0o600 {
        return Err(format!(
            "{s:?}: the owner must be able to read and write the store"
        ));
    }
    Ok(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes() {
        assert_eq!(parse_mode("0600").unwrap(), 0o600);
        assert_eq!(parse_mode("640").unwrap(), 0o640);
        assert!(parse_mode("0400").is_err());
        assert!(parse_mode("rw-------").is_err());
        assert!(parse_mode("4755").is_err());
    }
}
