//! The feed refresh pipeline: the `[[feeds]]` of the settings fetched with conditional GET
//! and imported through [`crate::intel`].
//!
//! Each fetch sends `If-None-Match` / `If-Modified-Since` from the last answer; a 304 only
//! moves the check time. Redirects are followed by hand (at most 5), only to http(s) URLs,
//! never from https down to http, and every hop obeys the address rules of
//! [`crate::outbound`] (no loopback, link-local or metadata address unless listed in
//! `allow_addresses`). A MISP feed is its `manifest.json` URL: the event files it lists are
//! fetched beside it. The same [`fetch`] serves the scheduler's URL sources.

use std::io::Read;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use ctem_store::Store;
use ctem_store::intel::FeedState;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::intel::{FileSummary, IntelError};
use crate::outbound::{AddressPolicy, Net, Refused};
use crate::settings::{Feed, InputSettings};

/// Why a fetch or a feed refresh failed.
#[derive(Debug, thiserror::Error)]
pub enum FeedError {
    #[error(transparent)]
    Refused(#[from] Refused),
    /// The request failed, or its answer is refused (status, size, redirect).
    #[error("GET {url}: {message}")]
    Http { url: String, message: String },
    #[error("feed {feed}")]
    Import {
        feed: String,
        #[source]
        error: IntelError,
    },
    #[error(transparent)]
    Store(#[from] ctem_store::Error),
}

fn http(url: &str, message: impl Into<String>) -> FeedError {
    FeedError::Http {
        url: ctem_model::redact::url(url),
        message: message.into(),
    }
}

/// What happened to one feed.
#[derive(Debug, Serialize)]
pub struct FeedOutcome {
    pub feed: String,
    /// `updated`, `not_modified`, `fresh` (checked within its interval) or `failed`.
    pub status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub import: Option<FileSummary>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The answer of a conditional GET.
pub enum Fetched {
    NotModified,
    Body {
        bytes: Vec<u8>,
        etag: Option<String>,
        last_modified: Option<String>,
    },
}

/// The addresses a source may reach beyond the public ones (`allow_addresses`).
pub fn policy(allow: &[String]) -> Result<AddressPolicy, Refused> {
    let allow = allow
        .iter()
        .map(|a| Net::parse(a))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(AddressPolicy { allow })
}

fn check_scheme(url: &str) -> Result<(), Refused> {
    match crate::outbound::scheme(url).as_deref() {
        Some("http" | "https") => Ok(()),
        _ => Err(Refused(format!(
            "{}: only http and https URLs are fetched",
            ctem_model::redact::url(url)
        ))),
    }
}

fn agent(timeout: Duration, policy: &Arc<AddressPolicy>) -> ureq::Agent {
    let config = ureq::Agent::config_builder()
        .timeout_global(Some(timeout))
        .max_redirects(0)
        .http_status_as_error(false)
        .user_agent(concat!("ctem/", env!("CARGO_PKG_VERSION")))
        .build();
    crate::outbound::guarded_agent(config, policy.clone())
}

fn header(r: &ureq::http::Response<ureq::Body>, name: &str) -> Option<String> {
    r.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

/// The body of a 200 answer, at most `max_bytes`.
fn body(
    url: &str,
    resp: &mut ureq::http::Response<ureq::Body>,
    max_bytes: u64,
) -> Result<Fetched, FeedError> {
    let etag = header(resp, "etag");
    let last_modified = header(resp, "last-modified");
    if let Some(len) = header(resp, "content-length").and_then(|l| l.parse::<u64>().ok())
        && len > max_bytes
    {
        return Err(http(
            url,
            format!("{len} bytes is over the feed's size limit of {max_bytes}"),
        ));
    }
    let mut bytes = Vec::new();
    resp.body_mut()
        .as_reader()
        .take(max_bytes + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| http(url, format!("reading the body: {e}")))?;
    if bytes.len() as u64 > max_bytes {
        return Err(http(
            url,
            format!("body is over the feed's size limit of {max_bytes} bytes"),
        ));
    }
    Ok(Fetched::Body {
        bytes,
        etag,
        last_modified,
    })
}

/// One GET with conditional headers, following at most 5 redirects to http(s) URLs only,
/// never from https to http, every hop checked against `policy`.
pub fn fetch(
    url: &str,
    prev: Option<&FeedState>,
    timeout: Duration,
    max_bytes: u64,
    policy: &Arc<AddressPolicy>,
) -> Result<Fetched, FeedError> {
    let agent = agent(timeout, policy);
    let mut url = url.to_string();
    for _ in 0..=5 {
        check_scheme(&url)?;
        policy.check_url(&url)?;
        let mut req = agent.get(&url);
        if let Some(p) = prev.filter(|p| p.url == url) {
            if let Some(e) = &p.etag {
                req = req.header("If-None-Match", e);
            }
            if let Some(m) = &p.last_modified {
                req = req.header("If-Modified-Since", m);
            }
        }
        let mut resp = req.call().map_err(|e| http(&url, e.to_string()))?;
        let status = resp.status().as_u16();
        match status {
            304 => return Ok(Fetched::NotModified),
            301 | 302 | 303 | 307 | 308 => {
                let loc = header(&resp, "location")
                    .ok_or_else(|| http(&url, format!("redirect {status} without Location")))?;
                let next = resolve(&url, &loc);
                redirect_allowed(&url, &next, policy)
                    .map_err(|e| http(&url, format!("redirect refused: {e}")))?;
                url = next;
            }
            200 => return body(&url, &mut resp, max_bytes),
            s => return Err(http(&url, format!("HTTP {s}"))),
        }
    }
    Err(http(&url, "more than 5 redirects"))
}

/// A redirect from `from` to `to` may be followed: an http(s) target, no downgrade from
/// https to http, and a host the policy allows.
fn redirect_allowed(from: &str, to: &str, policy: &AddressPolicy) -> Result<(), Refused> {
    check_scheme(to)?;
    let scheme = crate::outbound::scheme;
    if scheme(from).as_deref() == Some("https") && scheme(to).as_deref() == Some("http") {
        return Err(Refused(format!(
            "{}: a redirect from https to http is never followed",
            ctem_model::redact::url(to)
        )));
    }
    policy.check_url(to)
}

/// A Location header against the URL it came from (absolute, or absolute path).
pub fn resolve(base: &str, loc: &str) -> String {
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

/// Refreshes every feed of `feeds` that is due (all of them with `force`); one outcome per
/// feed, a failure in its outcome.
pub fn update(
    store: &mut dyn Store,
    feeds: &[Feed],
    force: bool,
    limits: &InputSettings,
) -> Vec<FeedOutcome> {
    feeds
        .iter()
        .map(|f| match update_one(store, f, force, limits) {
            Ok(o) => o,
            Err(e) => FeedOutcome {
                feed: f.name.clone(),
                status: "failed",
                import: None,
                error: Some(crate::error::chain(&e)),
            },
        })
        .collect()
}

fn outcome(f: &Feed, status: &'static str, import: Option<FileSummary>) -> FeedOutcome {
    FeedOutcome {
        feed: f.name.clone(),
        status,
        import,
        error: None,
    }
}

fn update_one(
    store: &mut dyn Store,
    f: &Feed,
    force: bool,
    limits: &InputSettings,
) -> Result<FeedOutcome, FeedError> {
    let (interval, timeout, max) = (f.interval, f.timeout, f.max_size);
    let policy = Arc::new(
        policy(&f.allow_addresses)
            .map_err(|e| Refused(format!("[[feeds]] {}: allow_addresses: {e}", f.name)))?,
    );
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
        return Ok(outcome(f, "fresh", None));
    }
    let mut state = prev.clone().unwrap_or_default();
    state.name = f.name.clone();
    let Fetched::Body {
        bytes,
        etag,
        last_modified,
    } = fetch(&f.url, prev.as_ref(), timeout, max, &policy)?
    else {
        state.checked_at = Some(now);
        store.set_feed_state(&state)?;
        return Ok(outcome(f, "not_modified", None));
    };
    let sha = hex::encode(Sha256::digest(&bytes));
    let mut inputs = vec![(f.name.clone(), bytes)];
    if let Some(entries) = crate::intel::manifest_entries(f.kind, &f.url, &inputs[0].1) {
        inputs.clear();
        for e in entries {
            let url = resolve(&f.url, &e.file);
            if let Fetched::Body { bytes, .. } = fetch(&url, None, timeout, max, &policy)? {
                inputs.push((f.name.clone(), bytes));
            }
        }
    }
    // the label is printed and kept as the indicators' source: no URL secrets in it
    let label = ctem_model::redact::url(&f.url);
    let summary =
        crate::intel::import_inputs(store, &label, f.kind, inputs, limits).map_err(|error| {
            FeedError::Import {
                feed: f.name.clone(),
                error,
            }
        })?;
    state.url = f.url.clone();
    state.etag = etag;
    state.last_modified = last_modified;
    state.checked_at = Some(now);
    state.updated_at = Some(now);
    state.sha256 = Some(sha);
    store.set_feed_state(&state)?;
    Ok(outcome(f, "updated", Some(summary)))
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
}
