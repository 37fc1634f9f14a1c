//! Mobilization: users, teams, roles and what each role may do, ownership rules that route
//! exposures to teams, and remediation tickets with their lifecycle.
//!
//! The role table ([`permits`]) is data the server enforces; it is printed in
//! `docs/roles.md` and a test checks the two agree. Ticket states and their allowed moves are
//! in [`TicketState::can_move_to`].

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;

/// What a user may do, as one of six roles.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Everything, including users, teams and integrations.
    Admin,
    /// Owns the exposure programme: risk policy, ownership, tickets, risk acceptance.
    VulnerabilityManager,
    /// Threat intelligence and detection content.
    ThreatAnalyst,
    /// Alerts and incidents; reads exposures and tickets.
    IncidentResponder,
    /// Fixes things: works the tickets of its teams.
    ItOperations,
    /// Reads everything that is not administration.
    Viewer,
}

impl Role {
    /// Every role, most powerful first.
    pub const ALL: [Role; 6] = [
        Role::Admin,
        Role::VulnerabilityManager,
        Role::ThreatAnalyst,
        Role::IncidentResponder,
        Role::ItOperations,
        Role::Viewer,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::VulnerabilityManager => "vulnerability_manager",
            Role::ThreatAnalyst => "threat_analyst",
            Role::IncidentResponder => "incident_responder",
            Role::ItOperations => "it_operations",
            Role::Viewer => "viewer",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == s.trim())
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Something a user can read or change; the rows of the role table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Read assets, exposures, scans, risk scores, `top`, `explain`.
    ReadExposures,
    /// Import scanner reports and inventories.
    ImportScans,
    /// Mark an exposure accepted or false positive.
    TriageExposures,
    /// Change the risk policy, SLA and weights.
    ConfigureRisk,
    /// Read tickets.
    ReadTickets,
    /// Create, sync, assign, move and comment tickets.
    WorkTickets,
    /// Move a ticket to risk_accepted.
    AcceptRisk,
    /// Read threat intelligence (indicators, KEV, EPSS, ATT&CK).
    ReadIntel,
    /// Import intelligence, update feeds, share blocklists.
    ManageIntel,
    /// Read detection alerts.
    ReadAlerts,
    /// Run detection, manage rules, triage alerts.
    ManageDetections,
    /// Change an incident's state (acknowledged, contained, resolved, false positive).
    WorkIncidents,
    /// Acknowledge and complete the tasks of an attack-scenario exercise.
    WorkExercises,
    /// Users, teams, ownership rules.
    ManageTeams,
    /// Webhooks, Jira, GitHub targets and their secrets.
    ManageIntegrations,
}

impl Action {
    /// Every action, in table order.
    pub const ALL: [Action; 15] = [
        Action::ReadExposures,
        Action::ImportScans,
        Action::TriageExposures,
        Action::ConfigureRisk,
        Action::ReadTickets,
        Action::WorkTickets,
        Action::AcceptRisk,
        Action::ReadIntel,
        Action::ManageIntel,
        Action::ReadAlerts,
        Action::ManageDetections,
        Action::WorkIncidents,
        Action::WorkExercises,
        Action::ManageTeams,
        Action::ManageIntegrations,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Action::ReadExposures => "read_exposures",
            Action::ImportScans => "import_scans",
            Action::TriageExposures => "triage_exposures",
            Action::ConfigureRisk => "configure_risk",
            Action::ReadTickets => "read_tickets",
            Action::WorkTickets => "work_tickets",
            Action::AcceptRisk => "accept_risk",
            Action::ReadIntel => "read_intel",
            Action::ManageIntel => "manage_intel",
            Action::ReadAlerts => "read_alerts",
            Action::ManageDetections => "manage_detections",
            Action::WorkIncidents => "work_incidents",
            Action::WorkExercises => "work_exercises",
            Action::ManageTeams => "manage_teams",
            Action::ManageIntegrations => "manage_integrations",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.as_str() == s.trim())
    }
}

/// Whether `role` may perform `action`: the one role table (docs/roles.md).
pub fn permits(role: Role, action: Action) -> bool {
    use Action as A;
    use Role as R;
    match role {
        R::Admin => true,
        R::VulnerabilityManager => !matches!(
            action,
            A::ManageIntel
                | A::ManageDetections
                | A::WorkIncidents
                | A::ManageTeams
                | A::ManageIntegrations
        ),
        R::ThreatAnalyst => matches!(
            action,
            A::ReadExposures
                | A::ReadTickets
                | A::ReadIntel
                | A::ManageIntel
                | A::ReadAlerts
                | A::ManageDetections
                | A::WorkExercises
        ),
        R::IncidentResponder => matches!(
            action,
            A::ReadExposures
                | A::ReadTickets
                | A::ReadIntel
                | A::ReadAlerts
                | A::ManageDetections
                | A::WorkIncidents
                | A::WorkExercises
        ),
        R::ItOperations => matches!(
            action,
            A::ReadExposures | A::ImportScans | A::ReadTickets | A::WorkTickets | A::WorkExercises
        ),
        R::Viewer => matches!(
            action,
            A::ReadExposures | A::ReadTickets | A::ReadIntel | A::ReadAlerts
        ),
    }
}

/// A user of ctem.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    /// Login name, unique.
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    pub role: Role,
    /// Teams the user belongs to.
    #[serde(default)]
    pub teams: Vec<String>,
}

/// A team that owns assets and works tickets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Team {
    /// Unique snake_case-ish name (`it_operations`, `platform`).
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// What an ownership rule matches on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RuleKind {
    /// An asset tag equals the pattern (glob).
    Tag,
    /// The asset's network zone equals the pattern (glob, case-insensitive).
    Zone,
    /// The asset's name matches the glob.
    Name,
    /// A repository asset whose name or repository URL matches the glob.
    Repository,
    /// The asset kind (`host`, `container_image`, `repository`, ...) equals the pattern.
    AssetKind,
}

impl RuleKind {
    pub const ALL: [RuleKind; 5] = [
        RuleKind::Tag,
        RuleKind::Zone,
        RuleKind::Name,
        RuleKind::Repository,
        RuleKind::AssetKind,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RuleKind::Tag => "tag",
            RuleKind::Zone => "zone",
            RuleKind::Name => "name",
            RuleKind::Repository => "repository",
            RuleKind::AssetKind => "asset_kind",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s.trim())
    }
}

/// Routes the assets it matches (and so their exposures) to a team. Rules are tried in the
/// order of docs/risk-model.md: a higher `priority` first, then the more specific rule
/// ([`crate::context::specificity`]: a name glob before a tag before an asset kind), then
/// `position`; the first match wins.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OwnershipRule {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<i64>,
    #[serde(default)]
    pub position: i64,
    #[serde(rename = "match")]
    pub kind: RuleKind,
    /// A glob: `*` any run of characters, `?` one character; case-insensitive.
    pub pattern: String,
    pub team: String,
    /// Tried before rules of a lower priority (default 0), whatever their specificity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<i64>,
}

impl OwnershipRule {
    /// Whether the rule matches an asset.
    pub fn matches(&self, asset: &crate::Asset) -> bool {
        use crate::{AssetKind, IdentifierKind};
        let p = self.pattern.as_str();
        match self.kind {
            RuleKind::Tag => asset.tags.iter().any(|t| glob(p, t)),
            RuleKind::Zone => asset.zone.as_deref().is_some_and(|z| glob(p, z)),
            RuleKind::Name => glob(p, &asset.name),
            RuleKind::Repository => {
                asset.kind == AssetKind::Repository
                    && (glob(p, &asset.name)
                        || asset
                            .identifiers
                            .iter()
                            .any(|i| i.kind == IdentifierKind::RepoUrl && glob(p, &i.value)))
            }
            RuleKind::AssetKind => glob(p, asset.kind.as_str()),
        }
    }
}

/// The team of an asset: its own `owner_team` when the inventory set one, else the team of
/// the first matching rule in rule order (priority, then specificity, then position).
pub fn route<'a>(rules: &'a [OwnershipRule], asset: &'a crate::Asset) -> Option<&'a str> {
    if let Some(t) = asset.owner_team.as_deref().filter(|t| !t.is_empty()) {
        return Some(t);
    }
    rules
        .iter()
        .filter(|r| r.matches(asset))
        .min_by(|a, b| {
            b.priority
                .unwrap_or(0)
                .cmp(&a.priority.unwrap_or(0))
                .then(crate::context::specificity(b).cmp(&crate::context::specificity(a)))
                .then(a.position.cmp(&b.position))
        })
        .map(|r| r.team.as_str())
}

/// Case-insensitive glob match with `*` and `?` (iterative, no backtracking blow-up).
pub fn glob(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.to_lowercase().chars().collect();
    let t: Vec<char> = text.to_lowercase().chars().collect();
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

/// Where a ticket stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TicketState {
    Open,
    InProgress,
    /// Somebody says it is done; a later scan decides.
    Resolved,
    /// A later scan showed every exposure of the ticket fixed.
    Verified,
    /// Accepted until an expiry date, then open again.
    RiskAccepted,
}

impl TicketState {
    pub const ALL: [TicketState; 5] = [
        TicketState::Open,
        TicketState::InProgress,
        TicketState::Resolved,
        TicketState::Verified,
        TicketState::RiskAccepted,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            TicketState::Open => "open",
            TicketState::InProgress => "in_progress",
            TicketState::Resolved => "resolved",
            TicketState::Verified => "verified",
            TicketState::RiskAccepted => "risk_accepted",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s.trim())
    }

    /// Open or in progress: somebody has work to do.
    pub fn is_active(self) -> bool {
        matches!(self, TicketState::Open | TicketState::InProgress)
    }

    /// Moves a person may make. `verified` is set by scans only.
    pub fn can_move_to(self, to: TicketState) -> bool {
        use TicketState as S;
        match (self, to) {
            (_, S::Verified) => false,
            (a, b) if a == b => false,
            (S::Open, _) | (S::InProgress, _) | (S::RiskAccepted, _) => true,
            (S::Resolved, S::Open | S::InProgress | S::RiskAccepted) => true,
            (S::Verified, S::Open) => true,
            _ => false,
        }
    }
}

impl fmt::Display for TicketState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One remediation ticket: a remediation action (`upgrade openssl to 3.0.13`) for the
/// exposures one team owns.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ticket {
    pub id: i64,
    /// The stable key that makes the ticket unique: team, package and whether a fix exists.
    pub key: String,
    pub team: String,
    pub package: String,
    pub action: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_version: Option<String>,
    pub state: TicketState,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assignee: Option<String>,
    /// `P1`..`P4`: the most urgent priority among its open exposures.
    pub priority: String,
    /// Open exposures, distinct assets, KEV-listed exposures, and the risk they carry.
    pub exposures: u64,
    pub assets: u64,
    pub kev: u64,
    pub risk: f64,
    /// The earliest SLA due date of its open exposures.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub due: Option<NaiveDate>,
    /// Whether any open exposure is past its due date.
    #[serde(default)]
    pub breached: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accepted_until: Option<NaiveDate>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// How often a scan reopened it.
    #[serde(default)]
    pub reopened: u32,
}

/// One entry of a ticket's history: a comment, a state change, an assignment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TicketEvent {
    pub at: DateTime<Utc>,
    /// `comment`, `state`, `assign`, `created`, `reopened`, `verified`, `sync`.
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor: Option<String>,
    pub text: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(position: i64, kind: RuleKind, pattern: &str, team: &str) -> OwnershipRule {
        OwnershipRule {
            id: None,
            position,
            kind,
            pattern: pattern.into(),
            team: team.into(),
            priority: None,
        }
    }

    #[test]
    fn broad_asset_kind_rule_does_not_shadow_a_later_name_rule() {
        let rules = [
            rule(1, RuleKind::AssetKind, "host", "it_operations"),
            rule(2, RuleKind::Name, "testphp*", "web"),
        ];
        let testphp = crate::Asset::new(crate::AssetKind::Host, "testphp.vulnweb.com");
        let other = crate::Asset::new(crate::AssetKind::Host, "db01");
        assert_eq!(route(&rules, &testphp), Some("web"));
        assert_eq!(route(&rules, &other), Some("it_operations"));
        // an explicit priority still puts the broad rule first
        let mut prio = rules.clone();
        prio[0].priority = Some(1);
        assert_eq!(route(&prio, &testphp), Some("it_operations"));
        // equal specificity: position decides
        let tie = [
            rule(1, RuleKind::Tag, "pci", "a"),
            rule(2, RuleKind::Tag, "pci", "b"),
        ];
        let mut tagged = other.clone();
        tagged.tags = vec!["pci".into()];
        assert_eq!(route(&tie, &tagged), Some("a"));
    }

    #[test]
    fn glob_matches_stars_and_marks() {
        assert!(glob("web*", "WEB01.corp"));
        assert!(glob("*.corp", "web01.corp"));
        assert!(glob("w?b*", "web"));
        assert!(!glob("db*", "web01"));
        assert!(glob("*", ""));
        assert!(glob("a*b*c", "aXXbYYc"));
        assert!(!glob("a*b*c", "aXXbYY"));
    }

    #[test]
    fn ticket_moves() {
        use TicketState as S;
        assert!(S::Open.can_move_to(S::InProgress));
        assert!(S::Resolved.can_move_to(S::Open));
        assert!(!S::Open.can_move_to(S::Verified));
        assert!(!S::Verified.can_move_to(S::Resolved));
        for s in S::ALL {
            assert_eq!(S::parse(s.as_str()), Some(s));
        }
    }

    #[test]
    fn admin_may_do_everything_and_viewer_only_reads() {
        for a in Action::ALL {
            assert!(permits(Role::Admin, a));
            assert_eq!(
                permits(Role::Viewer, a),
                a.as_str().starts_with("read_"),
                "{a:?}"
            );
        }
    }
}
