//! `ctem intel update`: the feeds configured in `ctem.toml`, fetched with conditional GET.
//!
//! ```toml
//! [[feeds]]          # docs/config.md lists every key
//! name = "kev"
//! url = "https://www.cisa.gov/sites/default/files/feeds/known_exploited_vulnerabilities.json"
//! kind = "kev"          # or auto (default), epss, attack, stix, misp, iocs, cve
//! interval = "24h"      # s, m, h, d; a feed checked more recently is skipped
//! timeout = "60s"       # whole request, default 60s
//! max_size_mb = 512     # larger bodies are refused, default 512
//! ```
//!
//! Each fetch sends `If-None-Match` / `If-Modified-Since` from the last answer; a 304 only
//! moves the check time. Redirects are followed by hand (at most 5) and only to http(s) URLs.
//! A MISP feed is its `manifest.json` URL: the event files it lists are fetched beside it.
//! Air-gapped installs use `ctem intel import` on downloaded files instead.

use std::io::Read;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use chrono::Utc;
use ctem_core::settings::Feed;
use ctem_store::Store;
use ctem_store::intel::FeedState;
use serde::Serialize;
use sha2::{Digest, Sha256};

fn check_scheme(url: &str) -> Result<()> {
    let lower = url.to_ascii_lowercase();
    if lower.starts_with("http://") || lower.starts_with("https://") {
        Ok(())
    } else {
        bail!("{url}: only http and https URLs are fetched")
    }
}

/// What happened to one feed.
#[derive(Debug, Serialize)]
pub struct FeedOutcome {
    pub feed: String,
    /// `updated`, `not_modified`, `fresh` (checked within its interval) or `failed`.
    pub status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub import: Option<super::intel::FileSummary>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

pub(crate) enum Fetched {
    NotModified,
    Body {
        bytes: Vec<u8>,
        etag: Option<String>,
        last_modified: Option<String>,
    },
}

fn agent(timeout: Duration) -> ureq::Agent {
    ureq::Agent::config_builder()
        .timeout_global(Some(timeout))
        .max_redirects(0)
        .http_status_as_error(false)
        .user_agent(concat!("ctem/", env!("CARGO_PKG_VERSION")))
        .build()
        .into()
}

fn header(r: &ureq::http::Response<ureq::Body>, name: &str) -> Option<String> {
    r.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

/// One GET with conditional headers, following at most 5 redirects to http(s) URLs only.
pub(crate) fn fetch(
    url: &str,
    prev: Option<&FeedState>,
    timeout: Duration,
    max_bytes: u64,
) -> Result<Fetched> {
    let agent = agent(timeout);
    let mut url = url.to_string();
    for _ in 0..=5 {
        check_scheme(&url)?;
        let mut req = agent.get(&url);
        if let Some(p) = prev.filter(|p| p.url == url) {
            if let Some(e) = &p.etag {
                req = req.header("If-None-Match", e);
            }
            if let Some(m) = &p.last_modified {
                req = req.header("If-Modified-Since", m);
            }
        }
        let mut resp = req.call().with_context(|| format!("GET {url}"))?;
        let status = resp.status().as_u16();
        match status {
            304 => return Ok(Fetched::NotModified),
            301 | 302 | 303 | 307 | 308 => {
                let loc = header(&resp, "location")
                    .ok_or_else(|| anyhow!("GET {url}: redirect {status} without Location"))?;
                let next = resolve(&url, &loc);
                check_scheme(&next).with_context(|| format!("GET {url}: redirect refused"))?;
                url = next;
                continue;
            }
            200 => {
                let etag = header(&resp, "etag");
                let last_modified = header(&resp, "last-modified");
                if let Some(len) =
                    header(&resp, "content-length").and_then(|l| l.parse::<u64>().ok())
                    && len > max_bytes
                {
                    bail!("GET {url}: {len} bytes is over the feed's size limit of {max_bytes}");
                }
                let mut bytes = Vec::new();
                resp.body_mut()
                    .as_reader()
                    .take(max_bytes + 1)
                    .read_to_end(&mut bytes)
                    .with_context(|| format!("GET {url}: reading the body"))?;
                if bytes.len() as u64 > max_bytes {
                    bail!("GET {url}: body is over the feed's size limit of {max_bytes} bytes");
                }
                return Ok(Fetched::Body {
                    bytes,
                    etag,
                    last_modified,
                });
            }
            s => bail!("GET {url}: HTTP {s}"),
        }
    }
    bail!("GET {url}: more than 5 redirects")
}

/// A Location header against the URL it came from (absolute, or absolute path).
fn resolve(base: &str, loc: &str) -> String {
    if loc.contains("://") || loc.contains(':') && !loc.starts_with('/') {
        return loc.to_string();
    }
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let host_end = base[scheme_end..]
        .find('/')
        .map_or(base.len(), |i| scheme_end + i);
    if loc.starts_with('/') {
        format!("{}{loc}", &base[..host_end])
    } else {
        let dir_end = base
            .rfind('/')
            .filter(|&i| i >= host_end)
            .unwrap_or(host_end);
        format!("{}/{loc}", &base[..dir_end])
    }
}

/// Refreshes every configured feed that is due (all of them with `force`).
pub fn update(store: &mut dyn Store, feeds: &[Feed], force: bool) -> Vec<FeedOutcome> {
    feeds
        .iter()
        .map(|f| match update_one(store, f, force) {
            Ok(o) => o,
            Err(e) => FeedOutcome {
                feed: f.name.clone(),
                status: "failed",
                import: None,
                error: Some(crate::output::chain(&e)),
            },
        })
        .collect()
}

fn update_one(store: &mut dyn Store, f: &Feed, force: bool) -> Result<FeedOutcome> {
    let (interval, timeout, max) = (f.interval, f.timeout, f.max_size);
    let prev = store.feed_state(&f.name)?;
    let now = Utc::now();
    if !force
        && let Some(checked) = prev.as_ref().and_then(|p| p.checked_at)
        && prev.as_ref().is_some_and(|p| p.url == f.url)
        && now
            .signed_duration_since(checked)
            .to_std()
            .unwrap_or_default()
            < interval
    {
        return Ok(FeedOutcome {
            feed: f.name.clone(),
            status: "fresh",
            import: None,
            error: None,
        });
    }
    let mut state = prev.clone().unwrap_or_default();
    state.name = f.name.clone();
    match fetch(&f.url, prev.as_ref(), timeout, max)? {
        Fetched::NotModified => {
            state.checked_at = Some(now);
            store.set_feed_state(&state)?;
            Ok(FeedOutcome {
                feed: f.name.clone(),
                status: "not_modified",
                import: None,
                error: None,
            })
        }
        Fetched::Body {
            bytes,
            etag,
            last_modified,
        } => {
            let sha = hex::encode(Sha256::digest(&bytes));
            let kind = f.kind;
            let mut inputs = vec![(f.name.clone(), bytes)];
            if let Some(entries) = super::intel::manifest_entries(kind, &f.url, &inputs[0].1) {
                inputs.clear();
                for e in entries {
                    let url = resolve(&f.url, &e.file);
                    match fetch(&url, None, timeout, max)? {
                        Fetched::Body { bytes, .. } => inputs.push((f.name.clone(), bytes)),
                        Fetched::NotModified => {}
                    }
                }
            }
            let summary = super::intel::import_inputs(store, &f.url, kind, inputs)
                .with_context(|| format!("feed {}", f.name))?;
            state.url = f.url.clone();
            state.etag = etag;
            state.last_modified = last_modified;
            state.checked_at = Some(now);
            state.updated_at = Some(now);
            state.sha256 = Some(sha);
            store.set_feed_state(&state)?;
            Ok(FeedOutcome {
                feed: f.name.clone(),
                status: "updated",
                import: Some(summary),
                error: None,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirect_targets() {
        assert_eq!(
            resolve("http://a.example/feeds/x.json", "/y.json"),
            "http://a.example/y.json"
        );
        assert_eq!(
            resolve("http://a.example/feeds/manifest.json", "abc.json"),
            "http://a.example/feeds/abc.json"
        );
        assert_eq!(
            resolve("http://a/x", "file:///etc/passwd"),
            "file:///etc/passwd"
        );
        assert!(check_scheme("file:///etc/passwd").is_err());
        assert!(check_scheme("HTTPS://x").is_ok());
    }
}
