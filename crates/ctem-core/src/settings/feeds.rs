//! `[[feeds]]`: intelligence feeds `ctem intel update` fetches with conditional GET.

use std::time::Duration;

use ctem_intel::IntelKind;
use serde::{Deserialize, Serialize};

use super::duration::parse_duration;

/// One `[[feeds]]` entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeedConfig {
    /// Unique name; the feed's state is kept under it.
    pub name: String,
    /// An http(s) URL; a MISP feed is its `manifest.json`.
    pub url: String,
    /// `auto` or an intel kind (kev, epss, attack, stix, misp, iocs, cve).
    #[serde(default = "auto")]
    pub kind: String,
    /// A feed checked more recently than this is skipped.
    #[serde(default = "day")]
    pub interval: String,
    /// Time allowed for the whole request.
    #[serde(default = "minute")]
    pub timeout: String,
    /// Larger bodies are refused.
    #[serde(default = "max_mb")]
    pub max_size_mb: u64,
}

fn auto() -> String {
    "auto".into()
}
fn day() -> String {
    "24h".into()
}
fn minute() -> String {
    "60s".into()
}
fn max_mb() -> u64 {
    512
}

/// A feed, validated.
#[derive(Debug, Clone, PartialEq)]
pub struct Feed {
    pub name: String,
    pub url: String,
    /// `None` detects the kind from the content.
    pub kind: Option<IntelKind>,
    pub interval: Duration,
    pub timeout: Duration,
    /// In bytes.
    pub max_size: u64,
}

impl FeedConfig {
    /// Errors are `(key, message)` pairs under `at` (`feeds[2]`).
    pub fn build(self, at: &str) -> Result<Feed, Vec<(String, String)>> {
        let mut errors = Vec::new();
        let lower = self.url.to_ascii_lowercase();
        if !(lower.starts_with("http://") || lower.starts_with("https://")) {
            errors.push((
                format!("{at}.url"),
                format!("{}: only http and https URLs are fetched", self.url),
            ));
        }
        let mut duration = |key: &str, v: &str| {
            parse_duration(v).unwrap_or_else(|e| {
                errors.push((format!("{at}.{key}"), e));
                Duration::ZERO
            })
        };
        let interval = duration("interval", &self.interval);
        let timeout = duration("timeout", &self.timeout);
        let kind = if self.kind == "auto" {
            None
        } else {
            let k = IntelKind::parse(&self.kind);
            if k.is_none() {
                errors.push((
                    format!("{at}.kind"),
                    format!("unknown kind {:?}", self.kind),
                ));
            }
            k
        };
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(Feed {
            name: self.name,
            url: self.url,
            kind,
            interval,
            timeout,
            max_size: self.max_size_mb.saturating_mul(1 << 20),
        })
    }
}
