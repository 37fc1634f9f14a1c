//! `[context]`: asset context rules (`[[context.rules]]`, see `ctem_model::context` and
//! docs/risk-model.md) and the vantage of port scans imported without `--vantage`.

use ctem_model::context::{ContextRule, ContextRules};
use serde::{Deserialize, Serialize};

/// Where a port scan was taken from (`--vantage`, `[context] vantage`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Vantage {
    /// From inside the network: says nothing about internet exposure (the default).
    #[default]
    Internal,
    /// From the internet: every host the scan reached is internet-facing.
    External,
}

impl Vantage {
    pub const ALL: [Vantage; 2] = [Vantage::Internal, Vantage::External];

    pub fn as_str(self) -> &'static str {
        match self {
            Vantage::Internal => "internal",
            Vantage::External => "external",
        }
    }

    pub fn parse(s: &str) -> Option<Vantage> {
        Self::ALL.into_iter().find(|v| v.as_str() == s)
    }
}

/// The formats a vantage applies to: port scans, whose hosts were reached over the network.
pub const VANTAGE_FORMATS: [&str; 3] = ["nmap", "masscan", "naabu"];

/// The `[context]` section.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ContextConfig {
    pub rules: Vec<ContextRule>,
    pub vantage: Vantage,
}

/// The `[context]` section, its rules checked.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ContextSettings {
    /// In file order; the prioritisation pass orders them (priority, then specificity).
    pub rules: Vec<ContextRule>,
    pub vantage: Vantage,
}

impl ContextConfig {
    /// Errors are `(key, message)` pairs: a bad rule is `context.rules[i]` (0-based, as the
    /// other lists of the settings) and its message names it as `context rule N` (1-based).
    pub fn build(self) -> Result<ContextSettings, Vec<(String, String)>> {
        let mut errors = Vec::new();
        // each rule on its own, so every bad rule is reported, not only the first
        for (i, rule) in self.rules.iter().enumerate() {
            if let Err(e) = ContextRules::build(std::slice::from_ref(rule), &[]) {
                errors.push((
                    format!("context.rules[{i}]"),
                    format!("context rule {}: {}", i + 1, e.message),
                ));
            }
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(ContextSettings {
            rules: self.rules,
            vantage: self.vantage,
        })
    }
}
