//! Row I/O of prioritisation: what a backend reads and writes for a scoring pass, with no
//! decision in it. The decisions (the facts an exposure's score is made of, the score, the
//! SLA, routing, ticket grouping and how a ticket follows its exposures, when a follow-up
//! must score everything) live in `ctem_core::prioritize`, once for every backend.
//!
//! A pass is one write transaction ([`RiskPass`], from [`RiskRows::begin_risk_pass`]):
//! - it reads its inputs in bulk: ownership rules, assets with their stored facts, open
//!   services, per-CVE intelligence, exposure details ([`RiskPass::assets`] and the others);
//! - it streams the exposures to a scorer and writes the score rows as they come
//!   ([`RiskPass::score`]): the backend may read on several threads (the scorer hands out one
//!   [`ScorePart`] per thread) and writes in batches, never one round trip per row;
//! - it reads the tickets' heads and applies the domain's ticket changes in one call
//!   ([`RiskPass::write_tickets`]);
//! - a follow-up works on a *scope*: the exposures an import, an intelligence change or a
//!   status set by hand touched (recorded by the backend with the change), grown by the
//!   members of the ticket groups they are in ([`RiskScope::FollowUp`]).
//!
//! Every read of a pass is of the pass's own transaction, so scores and tickets are of one
//! consistent state and no other writer commits in between.

use std::sync::Arc;

use chrono::{DateTime, NaiveDate, Utc};
use ctem_model::context::FactSources;
use ctem_model::intel::Enrichment;
use ctem_model::risk::{Decision, Priority};
use ctem_model::work::{OwnershipRule, Team, TicketState};
use ctem_model::{Asset, Cvss, ExposureStatus, Severity};

use crate::Result;

/// Which exposures a read or a write of a pass covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RiskScope {
    /// Every exposure.
    All,
    /// The follow-up's scope: built by [`RiskPass::open_scope`], grown by
    /// [`RiskPass::grow_scope`].
    FollowUp,
}

/// What [`RiskPass::assets`] must read besides the asset rows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AssetReads {
    /// IP addresses (`ipv4`, `ipv6` identifiers) besides repository URLs: a `cidr` rule reads
    /// them.
    pub addresses: bool,
    /// The tools that reported each asset (`AssetRisk::tools`): a `source` rule reads them.
    pub tools: bool,
}

/// One asset as the pass reads it: its stored facts and where they came from.
#[derive(Debug, Clone)]
pub struct AssetRisk {
    pub id: i64,
    /// Kind, name, tags, owner team, criticality, internet-facing, zone, environment, and
    /// the identifiers [`AssetReads`] asked for (repository URLs always).
    pub asset: Asset,
    pub fact_sources: FactSources,
    /// The tools that reported the asset (empty unless [`AssetReads::tools`]).
    pub tools: Vec<String>,
    /// A scanner inventoried the asset's services (any state).
    pub services_known: bool,
}

/// One shared exposure detail as the pass reads it.
#[derive(Debug, Clone)]
pub struct DetailRisk {
    pub id: i64,
    pub title: String,
    /// The first CVE of the detail (the one its intelligence is looked up by).
    pub cve: Option<String>,
    pub cvss: Vec<Cvss>,
}

/// One exposure as the pass reads it, borrowed from the backend's row.
#[derive(Debug, Clone, Copy)]
pub struct ExposureRisk<'a> {
    pub id: i64,
    pub asset_id: i64,
    pub detail_id: i64,
    pub severity: Severity,
    pub status: ExposureStatus,
    pub package: Option<&'a str>,
    pub version: Option<&'a str>,
    /// A blank fixed version is given as `None`.
    pub fixed_version: Option<&'a str>,
    pub port: Option<i64>,
    pub first_seen: DateTime<Utc>,
    /// The exposure carries a VEX `not_affected` analysis.
    pub vex_not_affected: bool,
}

/// One stored score: what the pass writes per exposure.
#[derive(Debug, Clone, PartialEq)]
pub struct RiskRow {
    pub exposure_id: i64,
    pub score: f64,
    pub priority: Priority,
    pub ssvc: Decision,
    pub kev: bool,
    pub due: Option<NaiveDate>,
    pub team: Option<Arc<str>>,
    /// The ticket group of an active exposure (`None` for the others): the tickets of a
    /// group carry the same number, so "the exposures of a ticket" is one comparison.
    pub group: Option<i64>,
}

/// Scores exposures as a backend reads them. The backend asks for one [`ScorePart`] per
/// reading thread, hands each its exposures in id order, and calls
/// [`ScorePart::finish`] when the part's reads are done.
pub trait ScoreExposures: Sync {
    fn part(&self) -> Box<dyn ScorePart + '_>;
}

/// The scorer of one reading thread.
pub trait ScorePart: Send {
    /// The score row of one exposure (the backend writes it when the pass writes).
    fn score(&mut self, exposure: &ExposureRisk<'_>) -> Result<RiskRow>;
    /// The part's exposures are all scored.
    fn finish(self: Box<Self>);
}

/// A stored ticket, as the regrouping reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TicketHead {
    pub id: i64,
    pub key: String,
    pub state: TicketState,
    pub accepted_until: Option<NaiveDate>,
}

/// What a regrouping writes of a ticket's group.
#[derive(Debug, Clone, PartialEq)]
pub struct TicketFigures {
    pub action: String,
    pub target_version: Option<String>,
    pub priority: Priority,
    pub exposures: u64,
    pub assets: u64,
    pub kev: u64,
    /// Risk removed, one decimal.
    pub risk: f64,
    pub due: Option<NaiveDate>,
    pub breached: bool,
    /// The group number its exposures' score rows carry ([`RiskRow::group`]).
    pub group: i64,
}

/// One change of the regrouping, applied in order by [`RiskPass::write_tickets`].
#[derive(Debug, Clone, PartialEq)]
pub enum TicketWrite {
    /// A new ticket, open, with a `created` event `created: ACTION`.
    Create {
        key: String,
        team: String,
        package: String,
        figures: TicketFigures,
    },
    /// New figures of a ticket with active exposures (its update time is kept).
    Update { id: i64, figures: TicketFigures },
    /// A ticket left without active exposures: its counts become 0, its update time now.
    Empty { id: i64 },
    /// A state change with its event (`kind`, `text`); the risk acceptance ends; a move to
    /// open counts a reopening.
    Move {
        id: i64,
        to: TicketState,
        kind: &'static str,
        text: String,
    },
}

/// The follow-up's record of the last pass.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FollowUpMark {
    /// Everything must be scored again (a large change was recorded).
    pub full: bool,
    /// The highest exposure id the last pass saw.
    pub scored_max: i64,
    /// The fingerprint of the last pass's settings.
    pub settings: Option<String>,
    /// The day of the last pass.
    pub scored_day: Option<NaiveDate>,
}

/// One open exposure as `ctem top` groups it (informational findings and VEX
/// `not_affected` ones left out by the backend).
#[derive(Debug, Clone, Copy)]
pub struct TopRow<'a> {
    /// The package, or the finding's title when it has none.
    pub name: &'a str,
    pub is_package: bool,
    pub version: &'a str,
    /// A blank fixed version is given as `None`.
    pub fixed_version: Option<&'a str>,
    pub asset_id: i64,
    pub score: f64,
    pub kev: bool,
    pub priority: Priority,
    pub due: Option<NaiveDate>,
    /// `unassigned` when no team owns it.
    pub team: &'a str,
    pub internet_facing: bool,
}

/// One prioritisation pass: one write transaction. Dropping it rolls back.
pub trait RiskPass {
    /// Stores the teams declared in the configuration (descriptions kept when `None`) and,
    /// when given, replaces the configuration's ownership rules (placed before the rules
    /// added by hand; teams they name are created).
    fn put_config(&mut self, teams: &[Team], rules: Option<&[OwnershipRule]>) -> Result<()>;
    /// Every ownership rule in routing order.
    fn rules(&mut self) -> Result<Vec<OwnershipRule>>;
    /// The assets of the scope's exposures (every asset for [`RiskScope::All`]).
    fn assets(&mut self, scope: RiskScope, reads: AssetReads) -> Result<Vec<AssetRisk>>;
    /// `(asset id, port)` of the open services of the scope's assets.
    fn open_services(&mut self, scope: RiskScope) -> Result<Vec<(i64, i64)>>;
    /// Whether a KEV catalog is stored (a CVE it does not list is then "not in KEV").
    fn kev_catalog(&mut self) -> Result<bool>;
    /// The stored per-CVE enrichment of the scope's CVEs (KEV and EPSS facts).
    fn cve_intel(&mut self, scope: RiskScope) -> Result<Vec<Enrichment>>;
    /// The exposure details of the scope's exposures.
    fn details(&mut self, scope: RiskScope) -> Result<Vec<DetailRisk>>;
    /// Reads the scope's exposures, has `scorer` score them and, with `write`, replaces the
    /// scope's score rows with the result (every row for [`RiskScope::All`]).
    fn score(&mut self, scope: RiskScope, scorer: &dyn ScoreExposures, write: bool) -> Result<()>;
    /// Every stored ticket.
    fn tickets(&mut self) -> Result<Vec<TicketHead>>;
    /// Applies the regrouping's changes in order, at `now`.
    fn write_tickets(&mut self, writes: &[TicketWrite], now: DateTime<Utc>) -> Result<()>;

    /// The enrichment pass: the per-CVE intelligence of the scope's CVEs from the stored
    /// KEV, EPSS and CVE records. For [`RiskScope::All`] every row is recomputed and the
    /// exposures of CVEs whose KEV or EPSS facts changed are recorded for the follow-up.
    fn enrich(&mut self, scope: RiskScope) -> Result<()>;
    /// The follow-up's record.
    fn follow_up_mark(&mut self) -> Result<FollowUpMark>;
    /// Builds the follow-up scope: the recorded exposures and those above `scored_max`;
    /// returns its size.
    fn open_scope(&mut self, scored_max: i64) -> Result<u64>;
    /// The ticket groups of the scope's exposures as stored (before they are scored again).
    fn scope_groups(&mut self) -> Result<Vec<i64>>;
    /// Adds every exposure whose stored group is one of `groups` to the scope; returns how
    /// many joined.
    fn grow_scope(&mut self, groups: &[i64]) -> Result<u64>;
    /// Clears the follow-up's record after a pass that scored everything that changed, with
    /// the pass's settings fingerprint and day.
    fn finish_follow_up(&mut self, settings: &str, day: NaiveDate) -> Result<()>;
    fn commit(self: Box<Self>) -> Result<()>;
}

/// The row I/O of prioritisation a backend offers.
pub trait RiskRows {
    /// Starts a pass (a write transaction that keeps other writers out until it ends).
    fn begin_risk_pass(&mut self) -> Result<Box<dyn RiskPass + '_>>;
    /// The open exposures `ctem top` groups, with their stored scores.
    fn top_rows(&self, each: &mut dyn FnMut(&TopRow<'_>) -> Result<()>) -> Result<()>;
}
