//! `[risk]` and its sub-sections: the risk model (docs/risk-model.md), `[risk.sla]`,
//! `[risk.teams.NAME]` and `[[risk.ownership]]`.

use ctem_model::work::{OwnershipRule, RuleKind, Team};
use serde::{Deserialize, Serialize};

/// One `[risk.teams.NAME]` table.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TeamConfig {
    pub description: Option<String>,
}

impl TeamConfig {
    pub fn build(self, name: String) -> Team {
        Team {
            name,
            description: self.description,
        }
    }
}

/// One `[[risk.ownership]]` rule; rules are tried in file order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OwnershipRuleConfig {
    /// What the pattern is matched against.
    #[serde(rename = "match")]
    pub kind: RuleKind,
    /// A glob: `*` any run of characters, `?` one character; case-insensitive.
    pub pattern: String,
    pub team: String,
    /// Tried before rules of a lower priority (default 0), whatever their specificity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<i64>,
}

impl OwnershipRuleConfig {
    pub fn build(self, position: usize) -> OwnershipRule {
        OwnershipRule {
            id: None,
            position: i64::try_from(position).unwrap_or(i64::MAX),
            kind: self.kind,
            pattern: self.pattern,
            team: self.team,
            priority: self.priority,
        }
    }
}
