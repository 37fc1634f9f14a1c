//! Storage of prioritisation results, teams, users, ownership rules and remediation tickets.
//!
//! A part of the [`crate::Store`] contract: every backend implements it (SQLite in
//! `sqlite/work.rs`). The pure parts every backend shares live here: how an exposure, its
//! asset, its services and threat intelligence become a [`RiskInput`] ([`risk_input`]), and
//! how a ticket's state follows its exposures ([`follow`]).
//!
//! [`WorkStore::reprioritize`] is the one bulk operation: it re-scores every exposure with a
//! [`RiskModel`], routes each to a team with the ownership rules, stores score, priority,
//! SLA due date and team per exposure, then regroups the open ones into tickets (one per
//! remediation action per team) and moves tickets as their exposures are fixed or come back.
//! It runs after every scan import and after every intelligence refresh, in one transaction.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};
use ctem_model::intel::{Enrichment, RansomwareUse};
use ctem_model::work::{OwnershipRule, Team, Ticket, TicketEvent, TicketState, User};
use ctem_model::{Asset, Exposure, ExposureStatus, Service};
use ctem_risk::ssvc::Decision;
use ctem_risk::{Cvss, NetworkZone, Priority, RiskInput, RiskModel, SlaConfig, SlaTarget};
use serde::Serialize;

use crate::Result;

/// Threat intelligence by CVE id, as the prioritisation reads it.
pub trait IntelLookup {
    fn enrichment(&self, cve: &str) -> Option<&Enrichment>;
}

impl IntelLookup for HashMap<String, Enrichment> {
    fn enrichment(&self, cve: &str) -> Option<&Enrichment> {
        self.get(cve)
    }
}

/// Everything [`WorkStore::reprioritize`] needs.
pub struct Prioritize<'a> {
    pub model: &'a RiskModel,
    pub sla: &'a SlaConfig,
    /// KEV and EPSS by CVE; `None` reads the store's own enrichment (the intel stage's
    /// `intel_cve_enrichment`). Exposures whose CVE has none are scored without intel.
    pub intel: Option<&'a dyn IntelLookup>,
    /// Ownership rules from the configuration file; stored (replacing earlier ones from the
    /// file) before routing. `None` leaves the stored rules as they are.
    pub config_rules: Option<&'a [OwnershipRule]>,
    /// Teams declared in the configuration file (created when missing).
    pub config_teams: &'a [Team],
    /// Context rules from the configuration file (`[[context.rules]]`), applied on top of
    /// the stored asset facts in the documented order (`ctem_model::context`).
    pub context: &'a [ctem_model::context::ContextRule],
    /// Also regroup tickets.
    pub tickets: bool,
    pub now: DateTime<Utc>,
}

/// What a re-prioritisation did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct PrioritizeSummary {
    /// Exposures scored (every status).
    pub scored: u64,
    /// Open or reopened exposures, by priority P1..P4.
    pub open_by_priority: [u64; 4],
    pub tickets_created: u64,
    pub tickets_updated: u64,
    pub tickets_verified: u64,
    pub tickets_reopened: u64,
    /// Milliseconds spent scoring and storing scores.
    pub score_ms: u64,
    /// Milliseconds spent regrouping tickets.
    pub tickets_ms: u64,
    /// Only the exposures an import or an intelligence change touched were scored (and the
    /// ticket groups they are in); `scored` and `open_by_priority` count those.
    pub incremental: bool,
}

/// Where the follow-up of imports and intelligence changes stands
/// ([`WorkStore::follow_up`]).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct FollowUpState {
    /// Exposures waiting to be enriched and scored (new ones included).
    pub pending: u64,
    /// Everything is to be scored again (a large change).
    pub full: bool,
    /// Failed attempts since the last success.
    pub attempts: u32,
    pub last_error: Option<String>,
}

/// One remediation action of `ctem top`, with the counts its reasons are made of.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TopGroup {
    #[serde(flatten)]
    pub group: ctem_risk::RemediationGroup,
    /// Open exposures of the group by priority P1..P4.
    pub by_priority: [u64; 4],
    /// Open exposures past their SLA due date.
    pub breached: u64,
    /// Distinct internet-facing assets touched.
    pub internet_facing_assets: u64,
    /// Teams owning the exposures.
    pub teams: Vec<String>,
}

/// The stored prioritisation of one exposure.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StoredRisk {
    pub score: f64,
    pub priority: Priority,
    pub ssvc: Decision,
    pub kev: bool,
    pub due: Option<NaiveDate>,
    pub team: Option<String>,
    pub ticket_id: Option<i64>,
}

/// Filters of [`WorkStore::tickets`].
#[derive(Debug, Clone, Default)]
pub struct TicketFilter {
    pub team: Option<String>,
    pub states: Vec<TicketState>,
    pub assignee: Option<String>,
    pub limit: Option<usize>,
}

/// The link between a ticket and its copy in an external tracker, and the idempotency
/// record of outbound deliveries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Delivery {
    /// The idempotency key: target, ticket and what was sent (`jira:create:12`).
    pub key: String,
    pub target: String,
    pub ticket_id: Option<i64>,
    /// The remote id (Jira issue key, GitHub issue number) once known.
    pub external_id: Option<String>,
    /// `pending` (sent, outcome unknown), `done` or `failed`.
    pub state: String,
    pub attempts: u32,
    pub last_error: Option<String>,
}

/// Storage of prioritisation results, teams, users, ownership rules and remediation tickets.
pub trait WorkStore {
    /// Creates or updates a team.
    fn put_team(&mut self, team: &Team) -> Result<()>;
    fn teams(&self) -> Result<Vec<Team>>;
    /// Creates or updates a user and sets their team memberships (teams must exist).
    fn put_user(&mut self, user: &User) -> Result<()>;
    fn users(&self) -> Result<Vec<User>>;
    /// Adds an ownership rule after the existing ones; returns its id.
    fn add_rule(&mut self, rule: &OwnershipRule) -> Result<i64>;
    fn remove_rule(&mut self, id: i64) -> Result<()>;
    /// Every rule in routing order.
    fn rules(&self) -> Result<Vec<OwnershipRule>>;

    /// Re-scores every exposure, routes it, stores the results and (optionally) regroups
    /// tickets; one transaction.
    fn reprioritize(&mut self, ctx: &Prioritize<'_>) -> Result<PrioritizeSummary>;
    /// The follow-up of imports and intelligence changes: enriches and scores only the
    /// exposures they touched (recorded with the change, in its transaction) and regroups
    /// the tickets of their groups; everything when the settings changed, on the first pass
    /// of a day, or when the change is large. Clears the record on success; a failure
    /// leaves it for the next attempt. A backend without a record scores everything.
    fn follow_up(&mut self, ctx: &Prioritize<'_>) -> Result<PrioritizeSummary> {
        self.reprioritize(ctx)
    }
    /// What the follow-up has left to do, and its last failure.
    fn follow_up_state(&self) -> Result<FollowUpState> {
        Ok(FollowUpState::default())
    }
    /// Records a failed follow-up attempt (what changed stays recorded for the next one).
    fn follow_up_failed(&mut self, _error: &str) -> Result<()> {
        Ok(())
    }
    /// The stored prioritisation of one exposure.
    fn stored_risk(&self, exposure_id: i64) -> Result<Option<StoredRisk>>;
    /// Whether exposures are stored but no scores are (a store whose scores a migration
    /// reset): the caller then re-prioritises before reading priorities.
    fn scores_missing(&self) -> Result<bool> {
        Ok(false)
    }
    /// Open or reopened exposures with their stored risk, highest score first, as
    /// `(exposure id, risk)`; `limit` caps the list.
    fn ranked(&self, limit: Option<usize>) -> Result<Vec<(i64, StoredRisk)>>;
    /// Open exposures grouped by remediation action in urgency order
    /// (`ctem_risk::urgency_order`), informational findings left out (`ctem top`), from the
    /// stored scores.
    fn top(&self, today: NaiveDate) -> Result<Vec<TopGroup>>;

    fn tickets(&self, filter: &TicketFilter) -> Result<Vec<Ticket>>;
    fn ticket(&self, id: i64) -> Result<Option<Ticket>>;
    /// The exposure ids a ticket covers (open ones first).
    fn ticket_exposures(&self, id: i64) -> Result<Vec<i64>>;
    fn ticket_events(&self, id: i64) -> Result<Vec<TicketEvent>>;
    /// Assigns a ticket to a user (who must exist).
    fn assign_ticket(&mut self, id: i64, user: &str, actor: Option<&str>) -> Result<Ticket>;
    /// Moves a ticket by hand; `risk_accepted` needs `until`.
    fn move_ticket(
        &mut self,
        id: i64,
        to: TicketState,
        until: Option<NaiveDate>,
        actor: Option<&str>,
    ) -> Result<Ticket>;
    fn comment_ticket(&mut self, id: i64, text: &str, actor: Option<&str>) -> Result<()>;

    /// The delivery record of an idempotency key.
    fn delivery(&self, key: &str) -> Result<Option<Delivery>>;
    /// Writes (replaces) a delivery record.
    fn put_delivery(&mut self, d: &Delivery) -> Result<()>;
}

/// The facts about one exposure the model reads, gathered by the store.
#[derive(Debug, Clone, Copy, Default)]
pub struct Facts<'a> {
    pub severity: ctem_model::Severity,
    pub cvss: Option<&'a CvssFacts>,
    pub fix_available: Option<bool>,
    pub asset: Option<&'a AssetFacts>,
    /// Whether the exposure's port is an open service of its asset (`None`: no port, or
    /// the asset's services were never inventoried).
    pub service_reachable: Option<bool>,
    pub intel: Option<IntelFacts>,
    /// A KEV catalog is stored: a CVE without a KEV entry is known not to be listed.
    pub kev_catalog: bool,
    pub vex_not_affected: bool,
    pub accepted: bool,
}

/// What the model reads from a CVE's threat intelligence: a small copy of [`Enrichment`]
/// (the bulk pass keeps one per exposure detail, close together in memory).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct IntelFacts {
    pub kev: bool,
    /// KEV says known ransomware campaign use.
    pub kev_ransomware_known: bool,
    pub kev_due_date: Option<NaiveDate>,
    pub epss: Option<f64>,
    pub epss_percentile: Option<f64>,
}

impl From<&Enrichment> for IntelFacts {
    fn from(e: &Enrichment) -> Self {
        IntelFacts {
            kev: e.kev,
            kev_ransomware_known: e.kev_ransomware == Some(RansomwareUse::Known),
            kev_due_date: e.kev_due_date,
            epss: e.epss,
            epss_percentile: e.epss_percentile,
        }
    }
}

/// What the model reads from an exposure's CVSS list, parsed once per distinct detail.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct CvssFacts {
    pub base_score: Option<f64>,
    pub automatable: Option<bool>,
    pub technical_impact: Option<ctem_risk::ssvc::TechnicalImpact>,
}

impl CvssFacts {
    /// The best CVSS of a list: the newest version whose vector parses (v3.1, v3.0, v4.0,
    /// v2), else the highest reported score.
    pub fn from_list(list: &[ctem_model::Cvss]) -> Self {
        let rank = |v: &str| match v {
            "3.1" => 0,
            "3.0" => 1,
            "4.0" => 2,
            "2.0" | "2" => 3,
            _ => 4,
        };
        let mut sorted: Vec<&ctem_model::Cvss> = list.iter().collect();
        sorted.sort_by_key(|c| rank(&c.version));
        for c in &sorted {
            if let Some(Ok(parsed)) = c.vector.as_deref().map(Cvss::parse) {
                return CvssFacts {
                    base_score: Some(parsed.base_score()),
                    automatable: Some(parsed.automatable()),
                    technical_impact: Some(parsed.technical_impact()),
                };
            }
        }
        CvssFacts {
            base_score: list
                .iter()
                .filter_map(|c| c.score)
                .filter(|s| s.is_finite())
                .reduce(f64::max),
            ..CvssFacts::default()
        }
    }
}

/// What the model reads from an asset.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AssetFacts {
    pub criticality: Option<u8>,
    pub internet_facing: Option<bool>,
    pub zone: Option<NetworkZone>,
}

impl AssetFacts {
    pub fn of(a: &Asset) -> Self {
        AssetFacts {
            criticality: a.criticality,
            internet_facing: a.internet_facing,
            zone: a.zone.as_deref().and_then(NetworkZone::from_name),
        }
    }
}

fn risk_severity(s: ctem_model::Severity) -> Option<ctem_risk::Severity> {
    use ctem_model::Severity as M;
    use ctem_risk::Severity as R;
    match s {
        M::Unknown => None,
        M::Info => Some(R::None),
        M::Low => Some(R::Low),
        M::Medium => Some(R::Medium),
        M::High => Some(R::High),
        M::Critical => Some(R::Critical),
    }
}

/// Fills the model's input from the facts.
pub fn risk_input(f: &Facts<'_>) -> RiskInput {
    let cvss = f.cvss.copied().unwrap_or_default();
    let a = f.asset.cloned().unwrap_or_default();
    let listed = f.intel.is_some_and(|i| i.kev);
    RiskInput {
        kev: if listed || f.kev_catalog {
            Some(listed)
        } else {
            None
        },
        kev_ransomware: f.intel.filter(|i| i.kev).map(|i| i.kev_ransomware_known),
        epss_probability: f.intel.and_then(|i| i.epss),
        epss_percentile: f.intel.and_then(|i| i.epss_percentile),
        exploit_public: f.intel.filter(|i| i.kev).map(|_| true),
        cvss_base_score: cvss.base_score,
        scanner_severity: risk_severity(f.severity),
        internet_facing: a.internet_facing,
        network_zone: a.zone,
        service_reachable: f.service_reachable,
        asset_criticality: a.criticality,
        vex_not_affected: Some(f.vex_not_affected),
        accepted_risk: Some(f.accepted),
        fix_available: f.fix_available,
        automatable: cvss.automatable,
        technical_impact: cvss.technical_impact,
    }
}

/// Whether the scanner's solution text carries a VEX `not_affected` analysis (CycloneDX,
/// OpenVEX and CSAF parsers write it there).
pub fn vex_not_affected(e: &Exposure) -> bool {
    e.solution
        .as_deref()
        .is_some_and(|s| s.contains("not_affected"))
}

/// The facts of one fully read exposure (`ctem explain`); `kev_catalog` says whether a KEV
/// catalog is stored.
pub fn facts_of<'a>(
    e: &'a Exposure,
    cvss: &'a CvssFacts,
    asset: Option<&'a AssetFacts>,
    services: &[Service],
    kev_catalog: bool,
) -> Facts<'a> {
    Facts {
        severity: e.severity,
        cvss: Some(cvss),
        fix_available: e
            .package
            .as_ref()
            .map(|p| p.fixed_version.as_deref().is_some_and(|v| !v.is_empty())),
        asset,
        // no service inventory: reachability unknown, not "no"
        service_reachable: e.port.filter(|_| !services.is_empty()).map(|p| {
            services
                .iter()
                .any(|s| s.port == p && s.state.eq_ignore_ascii_case("open"))
        }),
        intel: e.intel.as_ref().map(IntelFacts::from),
        kev_catalog,
        vex_not_affected: vex_not_affected(e),
        accepted: e.status == ExposureStatus::Accepted,
    }
}

/// The SLA target of a scored exposure under the model's policy.
pub fn sla_target(model: &RiskModel, priority: Priority, ssvc: Decision) -> SlaTarget {
    match model.config().policy {
        ctem_risk::Policy::RiskScore => SlaTarget::Priority(priority),
        ctem_risk::Policy::Ssvc => SlaTarget::Ssvc(ssvc),
    }
}

/// What happens to a ticket when its exposures are regrouped: `active` open exposures
/// remain, `all_fixed` says whether every exposure it covered is now fixed.
pub fn follow(
    state: TicketState,
    accepted_until: Option<NaiveDate>,
    active: bool,
    all_fixed: bool,
    today: NaiveDate,
) -> Option<(TicketState, &'static str)> {
    use TicketState as S;
    match (state, active) {
        (S::Resolved | S::Verified, true) => {
            Some((S::Open, "reopened: an exposure of this ticket came back"))
        }
        (S::RiskAccepted, true) if accepted_until.is_some_and(|u| u < today) => {
            Some((S::Open, "risk acceptance expired"))
        }
        (S::Open | S::InProgress | S::Resolved, false) if all_fixed => Some((
            S::Verified,
            "verified: a later scan shows every exposure fixed",
        )),
        (S::Open | S::InProgress, false) => Some((
            S::Resolved,
            "no open exposure left (accepted, false positive or moved to another team)",
        )),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use TicketState as S;

    #[test]
    fn tickets_follow_their_exposures() {
        let d = NaiveDate::from_ymd_opt(2025, 1, 10).unwrap();
        assert_eq!(
            follow(S::Open, None, false, true, d).unwrap().0,
            S::Verified
        );
        assert_eq!(
            follow(S::Verified, None, true, false, d).unwrap().0,
            S::Open
        );
        assert_eq!(
            follow(S::Resolved, None, true, false, d).unwrap().0,
            S::Open
        );
        assert_eq!(follow(S::Open, None, true, false, d), None);
        assert_eq!(
            follow(S::InProgress, None, false, false, d).unwrap().0,
            S::Resolved
        );
        let later = NaiveDate::from_ymd_opt(2025, 2, 1);
        let earlier = NaiveDate::from_ymd_opt(2025, 1, 1);
        assert_eq!(follow(S::RiskAccepted, later, true, false, d), None);
        assert_eq!(
            follow(S::RiskAccepted, earlier, true, false, d).unwrap().0,
            S::Open
        );
        assert_eq!(follow(S::RiskAccepted, earlier, false, true, d), None);
    }

    #[test]
    fn cvss_facts_prefer_a_parsable_v31_vector() {
        let list = vec![
            ctem_model::Cvss {
                version: "2.0".into(),
                vector: Some("AV:N/AC:L/Au:N/C:P/I:P/A:P".into()),
                score: Some(7.5),
                source: None,
            },
            ctem_model::Cvss {
                version: "3.1".into(),
                vector: Some("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H".into()),
                score: Some(9.8),
                source: None,
            },
        ];
        let f = CvssFacts::from_list(&list);
        assert_eq!(f.base_score, Some(9.8));
        assert_eq!(f.automatable, Some(true));
        let bad = vec![ctem_model::Cvss {
            version: "3.1".into(),
            vector: Some("garbage".into()),
            score: Some(6.1),
            source: None,
        }];
        assert_eq!(CvssFacts::from_list(&bad).base_score, Some(6.1));
    }
}
