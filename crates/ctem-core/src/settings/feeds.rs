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
    /// Special-purpose addresses (loopback, link-local, ...) or CIDR blocks this feed may
    /// reach; none by default.
    #[serde(default)]
    pub allow_addresses: Vec<String>,
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
    /// Addresses or CIDR blocks the feed may reach beyond the public ones (checked by the
    /// fetcher's address rules).
    pub allow_addresses: Vec<String>,
}

impl FeedConfig {
    /// Errors are `(key, message)` pairs under `at` (`feeds[2]`).
    pub fn build(self, at: &str) -> Result<Feed, Vec<(String, String)>> {
        let mut errors = Vec::new();
        // the URL's scheme and address rules are the fetcher's (one copy, beside the code
        // that fetches), checked by the front end when the settings are loaded
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
            allow_addresses: self.allow_addresses,
        })
    }
}
