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

/// Where a port scan was taken from (`--vantage`, `[context] vantage`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum Vantage {
    /// From inside the network: says nothing about internet exposure (the default).
    #[default]
    Internal,
    /// From the internet: every host the scan reached is internet-facing.
    External,
}

/// The formats a vantage applies to: port scans, whose hosts were reached over the network.
pub const VANTAGE_FORMATS: [&str; 3] = ["nmap", "masscan", "naabu"];

/// `[context]`: asset context rules (`[[context.rules]]`, see `ctem_model::context` and
/// docs/risk-model.md) and the vantage of port scans imported without `--vantage`.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ContextConfig {
    pub rules: Vec<ctem_model::context::ContextRule>,
    pub vantage: Vantage,
}

impl Config {
    /// The `[context]` section, its rules checked (a bad rule is named with its number).
    pub fn context(&self) -> Result<ContextConfig> {
        let c: ContextConfig = self.section("context")?;
        ctem_model::context::ContextRules::build(&c.rules, &[]).map_err(|e| {
            anyhow::anyhow!(
                "{}: section [context]: {e}",
                self.path
                    .as_ref()
                    .map(|p| p.display().to_string())
                    .unwrap_or_else(|| "config".into())
            )
        })?;
        Ok(c)
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

    #[test]
    fn context_section_reads_rules_and_vantage_and_names_bad_rules() {
        let c = Config::parse(
            "[context]\nvantage = \"external\"\n[[context.rules]]\nname = \"web*\"\ncriticality = 4\n",
            None,
        )
        .unwrap();
        let ctx = c.context().unwrap();
        assert_eq!(ctx.vantage, Vantage::External);
        assert_eq!(ctx.rules[0].criticality, Some(4));
        assert_eq!(
            Config::default().context().unwrap().vantage,
            Vantage::Internal
        );
        let bad = Config::parse(
            "[[context.rules]]\nname = \"a\"\ncriticality = 4\n[[context.rules]]\ncidr = \"10.0.0.0/99\"\nzone = \"dmz\"\n",
            None,
        )
        .unwrap();
        let e = format!("{:#}", bad.context().unwrap_err());
        assert!(
            e.contains("context rule 2") && e.contains("not an IP network"),
            "{e}"
        );
        let unknown = Config::parse("[[context.rules]]\nnmae = \"a\"\n", None).unwrap();
        assert!(format!("{:#}", unknown.context().unwrap_err()).contains("nmae"));
    }
}
