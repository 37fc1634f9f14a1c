//! `[store]` in ctem.toml: how the store file is opened.
//!
//! ```toml
//! [store]
//! busy_timeout = "10s"   # how long a command waits for another process's lock (default 10s)
//! file_mode = "0600"     # mode of a store file ctem creates (octal; default 0600)
//! ```
//!
//! A new store's `.db` is created with `file_mode`, and SQLite gives its `-wal`, `-shm` and
//! `-journal` the same mode; an existing file's mode is never changed.

use std::sync::OnceLock;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use ctem_store::OpenOptions;
use serde::Deserialize;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct StoreConfig {
    busy_timeout: Option<String>,
    file_mode: Option<String>,
}

static OPTIONS: OnceLock<OpenOptions> = OnceLock::new();

/// Reads and checks `[store]`; later [`options`] calls return it.
pub fn set(config: &crate::config::Config) -> Result<()> {
    let c: StoreConfig = config.section("store")?;
    let mut o = OpenOptions::default();
    if let Some(t) = &c.busy_timeout {
        o.busy_timeout = crate::cmd::parse_duration(t).context("[store] busy_timeout")?;
    }
    if let Some(m) = &c.file_mode {
        o.file_mode = parse_mode(m).context("[store] file_mode")?;
    }
    let _ = OPTIONS.set(o);
    Ok(())
}

/// The options of every store this process opens.
pub fn options() -> OpenOptions {
    OPTIONS.get().cloned().unwrap_or_default()
}

/// How long a command waits for a locked store.
pub fn busy_timeout() -> Duration {
    options().busy_timeout
}

/// `"0600"`, `"640"`: octal permission bits, owner read required, no set-id or sticky bits.
fn parse_mode(s: &str) -> Result<u32> {
    let m = u32::from_str_radix(s.trim(), 8)
        .ok()
        .filter(|m| *m <= 0o777)
        .with_context(|| format!("{s:?} is not an octal mode like \"0600\""))?;
    if m & 0o600 != 0o600 {
        bail!("{s:?}: the owner must be able to read and write the store");
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
