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
//! allow_addresses = []  # loopback / link-local addresses or CIDRs this feed may reach
//! ```
//!
//! Each fetch sends `If-None-Match` / `If-Modified-Since` from the last answer; a 304 only
//! moves the check time. Redirects are followed by hand (at most 5), only to http(s) URLs,
//! never from https down to http, and every hop obeys the address rules of
//! [`super::outbound`] (no loopback, link-local or metadata address unless listed in
//! `allow_addresses`).
//! A MISP feed is its `manifest.json` URL: the event files it lists are fetched beside it.
//! Air-gapped installs use `ctem intel import` on downloaded files instead.

use std::io::Read;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use chrono::Utc;
use ctem_core::settings::Feed;
use ctem_store::Store;
use ctem_store::intel::FeedState;
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::outbound::{AddressPolicy, Net};

/// The addresses a feed may reach.
pub fn policy(f: &Feed) -> Result<AddressPolicy> {
    let allow = f
        .allow_addresses
        .iter()
        .map(|a| Net::parse(a))
        .collect::<Result<Vec<_>>>()
        .with_context(|| format!("[[feeds]] {}: allow_addresses", f.name))?;
    Ok(AddressPolicy { allow })
}

/// Checks the feeds' URLs and address rules when the settings are loaded (ctem-core checked
/// the rest).
pub fn check_all(feeds: &[Feed]) -> Result<()> {
    for f in feeds {
        super::outbound::check_scheme(&f.url, &format!("[[feeds]] {}: url", f.name))
            .context("settings")?;
        policy(f).context("settings")?;
    }
    Ok(())
}

fn check_scheme(url: &str) -> Result<()> {
    match super::outbound::scheme(url).as_deref() {
        Some("http" | "https") => Ok(()),
        _ => bail!(
            "{}: only http and https URLs are fetched",
            ctem_model::redact::url(url)
        ),
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

fn agent(timeout: Duration, policy: &Arc<AddressPolicy>) -> ureq::Agent {
    let config = ureq::Agent::config_builder()
        .timeout_global(Some(timeout))
        .max_redirects(0)
        .http_status_as_error(false)
        .user_agent(concat!("ctem/", env!("CARGO_PKG_VERSION")))
        .build();
    super::outbound::guarded_agent(config, policy.clone())
}

fn header(r: &ureq::http::Response<ureq::Body>, name: &str) -> Option<String> {
    r.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

/// One GET with conditional headers, following at most 5 redirects to http(s) URLs only,
/// never from https to http, every hop checked against `policy`.
pub(crate) fn fetch(
    url: &str,
    prev: Option<&FeedState>,
    timeout: Duration,
    max_bytes: u64,
    policy: &Arc<AddressPolicy>,
) -> Result<Fetched> {
    let agent = agent(timeout, policy);
    let mut url = url.to_string();
    for _ in 0..=5 {
        check_scheme(&url)?;
        policy.check_url(&url)?;
        let shown = ctem_model::redact::url(&url);
        let mut req = agent.get(&url);
        if let Some(p) = prev.filter(|p| p.url == url) {
            if let Some(e) = &p.etag {
                req = req.header("If-None-Match", e);
            }
            if let Some(m) = &p.last_modified {
                req = req.header("If-Modified-Since", m);
            }
        }
        let mut resp = req.call().with_context(|| format!("GET {shown}"))?;
        let status = resp.status().as_u16();
        match status {
            304 => return Ok(Fetched::NotModified),
            301 | 302 | 303 | 307 | 308 => {
                let loc = header(&resp, "location")
                    .ok_or_else(|| anyhow!("GET {shown}: redirect {status} without Location"))?;
                let next = resolve(&url, &loc);
                redirect_allowed(&url, &next, policy)
                    .with_context(|| format!("GET {shown}: redirect refused"))?;
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
                    bail!("GET {shown}: {len} bytes is over the feed's size limit of {max_bytes}");
                }
                let mut bytes = Vec::new();
                resp.body_mut()
                    .as_reader()
                    .take(max_bytes + 1)
                    .read_to_end(&mut bytes)
                    .with_context(|| format!("GET {shown}: reading the body"))?;
                if bytes.len() as u64 > max_bytes {
                    bail!("GET {shown}: body is over the feed's size limit of {max_bytes} bytes");
                }
                return Ok(Fetched::Body {
                    bytes,
                    etag,
                    last_modified,
                });
            }
            s => bail!("GET {shown}: HTTP {s}"),
        }
    }
    bail!(
        "GET {}: more than 5 redirects",
        ctem_model::redact::url(&url)
    )
}

/// A redirect from `from` to `to` may be followed: an http(s) target, no downgrade from
/// https to http, and a host the policy allows.
fn redirect_allowed(from: &str, to: &str, policy: &AddressPolicy) -> Result<()> {
    check_scheme(to)?;
    let scheme = super::outbound::scheme;
    if scheme(from).as_deref() == Some("https") && scheme(to).as_deref() == Some("http") {
        bail!(
            "{}: a redirect from https to http is never followed",
            ctem_model::redact::url(to)
        );
    }
    policy.check_url(to)
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
pub fn update(
    store: &mut dyn Store,
    feeds: &[Feed],
    force: bool,
    limits: &crate::input::Limits,
) -> Vec<FeedOutcome> {
    feeds
        .iter()
        .map(|f| match update_one(store, f, force, limits) {
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

fn update_one(
    store: &mut dyn Store,
    f: &Feed,
    force: bool,
    limits: &crate::input::Limits,
) -> Result<FeedOutcome> {
    let (interval, timeout, max) = (f.interval, f.timeout, f.max_size);
    let policy = Arc::new(policy(f)?);
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
    match fetch(&f.url, prev.as_ref(), timeout, max, &policy)? {
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
                    match fetch(&url, None, timeout, max, &policy)? {
                        Fetched::Body { bytes, .. } => inputs.push((f.name.clone(), bytes)),
                        Fetched::NotModified => {}
                    }
                }
            }
            // the label is printed and kept as the indicators' source: no URL secrets in it
            let label = ctem_model::redact::url(&f.url);
            let summary = super::intel::import_inputs(store, &label, kind, inputs, limits)
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

    #[test]
    fn redirects_never_downgrade_or_reach_special_addresses() {
        let p = AddressPolicy::default();
        let e = redirect_allowed("https://a.example/x", "http://a.example/x", &p).unwrap_err();
        assert!(e.to_string().contains("https to http"), "{e}");
        assert!(redirect_allowed("http://a.example/x", "https://93.184.216.34/x", &p).is_ok());
        assert!(redirect_allowed("https://a.example/x", "https://93.184.216.34/x", &p).is_ok());
        for to in [
            "http://169.254.169.254/latest/meta-data/",
            "http://metadata.google.internal/",
            "http://[fe80::1]/",
            "http://127.0.0.1/",
            "file:///etc/passwd",
        ] {
            assert!(
                redirect_allowed("http://93.184.216.34/", to, &p).is_err(),
                "{to}"
            );
        }
    }

    #[test]
    fn feed_settings_are_checked_when_loaded_naming_the_key() {
        let load_text = |t: &str| -> std::result::Result<(), String> {
            let path = std::path::Path::new("ctem.toml");
            let s = ctem_core::Settings::from_toml(t, Some(path)).map_err(|e| e.to_string())?;
            check_all(&s.feeds).map_err(|e| crate::output::chain(&e))
        };
        for (url, scheme) in [("file:///etc/passwd", "file"), ("ftp://h/x", "ftp")] {
            let e =
                load_text(&format!("[[feeds]]\nname = \"kev\"\nurl = \"{url}\"\n")).unwrap_err();
            assert!(e.contains("[[feeds]] kev: url: "), "{e}");
            assert!(e.contains(scheme), "{e}");
        }
        let e = load_text(
            "[[feeds]]\nname = \"k\"\nurl = \"https://h/x\"\nallow_addresses = [\"nope\"]\n",
        )
        .unwrap_err();
        assert!(e.contains("[[feeds]] k: allow_addresses"), "{e}");
        assert!(load_text("[[feeds]]\nname = \"k\"\nurl = \"https://h/x\"\n").is_ok());
    }
}
