//! Storage of prioritisation results, teams, users, ownership rules and remediation tickets.
//!
//! A part of the [`crate::Store`] contract: every backend implements it (SQLite in
//! `sqlite/work.rs`). The scoring pass itself is row I/O ([`crate::risk`]): the decisions
//! (scores, routing, ticket grouping) are made by `ctem_core::prioritize`, once for every
//! backend.

use chrono::NaiveDate;
use ctem_model::risk::{Decision, Priority};
use ctem_model::work::{OwnershipRule, Team, Ticket, TicketEvent, TicketState, User};
use serde::Serialize;

use crate::Result;

/// Where the follow-up of imports and intelligence changes stands
/// (`ctem_core::prioritize::follow_up`).
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
