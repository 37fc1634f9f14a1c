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
//! Air-gapped installs use `ctem intel import` on downloaded files instead. The pipeline is
//! the core's (`ctem_core::feeds`); this module checks the settings and calls it.

use anyhow::{Context, Result};
use ctem_core::settings::Feed;
use ctem_store::Store;

pub use ctem_core::feeds::{FeedOutcome, Fetched, fetch};

/// The addresses a feed may reach.
pub fn policy(f: &Feed) -> Result<ctem_core::outbound::AddressPolicy> {
    ctem_core::feeds::policy(&f.allow_addresses)
        .with_context(|| format!("[[feeds]] {}: allow_addresses", f.name))
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

/// Refreshes every configured feed that is due (all of them with `force`): the core's
/// pipeline (`ctem_core::feeds::update`).
pub fn update(
    store: &mut dyn Store,
    feeds: &[Feed],
    force: bool,
    limits: &crate::input::Limits,
) -> Vec<FeedOutcome> {
    ctem_core::feeds::update(store, feeds, force, &limits.settings())
}

#[cfg(test)]
mod tests {
    use super::*;

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
