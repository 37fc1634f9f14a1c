//! `ctem.toml`: one file, one section per stage. Each stage reads its own section with its
//! own types ([`Config::section`]), so adding a stage never touches another stage's settings.
//!
//! The file is `--config FILE`, else `$CTEM_CONFIG`, else `./ctem.toml` when it exists;
//! without one every stage uses its defaults.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::de::DeserializeOwned;

#[derive(Debug, Default, Clone)]
pub struct Config {
    /// Where it was read from, for error messages; `None` when defaults are used.
    pub path: Option<PathBuf>,
    table: toml::Table,
}

impl Config {
    /// Reads `explicit`, or `$CTEM_CONFIG`, or `./ctem.toml` if present; defaults otherwise.
    pub fn load(explicit: Option<&Path>) -> Result<Self> {
        let path = match explicit {
            Some(p) => Some(p.to_path_buf()),
            None => std::env::var_os("CTEM_CONFIG")
                .map(PathBuf::from)
                .or_else(|| Some(PathBuf::from("ctem.toml")).filter(|p| p.exists())),
        };
        let Some(path) = path else {
            return Ok(Config::default());
        };
        let text =
            std::fs::read_to_string(&path).with_context(|| format!("config {}", path.display()))?;
        Self::parse(&text, Some(path))
    }

    pub fn parse(text: &str, path: Option<PathBuf>) -> Result<Self> {
        let name = path
            .as_ref()
            .map(|p| p.display().to_string())
            .unwrap_or_else(|| "config".into());
        let table: toml::Table = toml::from_str(text).with_context(|| name.clone())?;
        Ok(Config { path, table })
    }

    /// The section `name` as `T`, or `T::default()` when the file has no such section.
    pub fn section<T: DeserializeOwned + Default>(&self, name: &str) -> Result<T> {
        match self.table.get(name) {
            None => Ok(T::default()),
            Some(v) => v.clone().try_into().with_context(|| {
                format!(
                    "{}: section [{name}]",
                    self.path
                        .as_ref()
                        .map(|p| p.display().to_string())
                        .unwrap_or_else(|| "config".into())
                )
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize, Default, Debug, PartialEq)]
    struct Feeds {
        #[serde(default)]
        interval: u64,
    }

    #[test]
    fn sections_default_when_absent_and_errors_name_the_section() {
        let c = Config::parse("[feeds]\ninterval = 5\n[other]\nx = 1\n", None).unwrap();
        assert_eq!(c.section::<Feeds>("feeds").unwrap(), Feeds { interval: 5 });
        assert_eq!(c.section::<Feeds>("missing").unwrap(), Feeds::default());
        let bad = Config::parse("[feeds]\ninterval = \"x\"\n", None).unwrap();
        let e = format!("{:#}", bad.section::<Feeds>("feeds").unwrap_err());
        assert!(e.contains("section [feeds]"), "{e}");
        assert!(Config::parse("not toml [", None).is_err());
    }
}
