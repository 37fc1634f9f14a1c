//! The prioritisation pipeline and its domain decisions, over the store's row I/O
//! (`ctem_store::risk`): the whole pass (`ctem prioritize`, `ctem tickets sync`) and the
//! follow-up of a committed change (import, intelligence, a status set by hand).
//!
//! - [`facts`]: the facts an exposure's score is made of and the model's input;
//! - `score`: the inputs read once, every exposure scored as the backend streams it, routed
//!   to its team by the ownership and context rules;
//! - [`tickets`]: one ticket per remediation action per team, following its exposures;
//! - [`top`]: `ctem top`'s remediation groups from the stored scores;
//! - `followup`: when a follow-up may score only what changed, and when everything.
//!
//! The store records what changed with the change; the follow-up scores that and regroups
//! the tickets it touches. Its failure never undoes the change: it is recorded in the store
//! and retried by the next call of [`retry_pending`].

pub mod facts;
mod followup;
mod score;
pub mod tickets;
pub mod top;

use std::collections::HashMap;
use std::time::Instant;

use chrono::{DateTime, Utc};
use ctem_model::intel::Enrichment;
use ctem_model::work::{OwnershipRule, Team};
use ctem_risk::{RiskModel, SlaConfig};
use ctem_store::Store;
use ctem_store::risk::{RiskPass, RiskScope};
use serde::Serialize;

use crate::error::Result;
use crate::settings::RiskSettings;

pub use top::{TopGroup, top};

/// Threat intelligence by CVE id, as the prioritisation reads it.
pub trait IntelLookup {
    fn enrichment(&self, cve: &str) -> Option<&Enrichment>;
}

impl IntelLookup for HashMap<String, Enrichment> {
    fn enrichment(&self, cve: &str) -> Option<&Enrichment> {
        self.get(cve)
    }
}

/// Everything a pass needs.
pub struct Prioritize<'a> {
    pub model: &'a RiskModel,
    pub sla: &'a SlaConfig,
    /// KEV and EPSS by CVE; `None` reads the store's own enrichment (the intel stage's
    /// per-CVE rows). Exposures whose CVE has none are scored without intel.
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

/// What a pass did.
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

/// Re-scores every exposure, routes it, stores the results and (optionally) regroups
/// tickets; one transaction. The follow-up's record is cleared: everything is scored.
pub fn run(store: &mut dyn Store, ctx: &Prioritize<'_>) -> Result<PrioritizeSummary> {
    let mut pass = store.begin_risk_pass()?;
    let summary = whole(pass.as_mut(), ctx)?;
    followup::finish(pass.as_mut(), ctx)?;
    pass.commit()?;
    Ok(summary)
}

/// The follow-up of imports and intelligence changes: enriches and scores only the
/// exposures they touched and regroups the tickets of their groups; everything when the
/// settings changed, on the first pass of a day, or when the change is large. Clears the
/// record on success; a failure leaves it for the next attempt.
pub fn follow_up_pass(store: &mut dyn Store, ctx: &Prioritize<'_>) -> Result<PrioritizeSummary> {
    let mut pass = store.begin_risk_pass()?;
    let summary = followup::run(pass.as_mut(), ctx)?;
    pass.commit()?;
    Ok(summary)
}

/// The whole pass inside an open one: configuration stored, every exposure scored, every
/// ticket regrouped.
fn whole(pass: &mut dyn RiskPass, ctx: &Prioritize<'_>) -> Result<PrioritizeSummary> {
    let started = Instant::now();
    pass.put_config(ctx.config_teams, ctx.config_rules)?;
    let rules = pass.rules()?;
    let context = score::context_rules(ctx, &rules)?;
    let inputs = score::load(pass, ctx, &context, RiskScope::All)?;
    let scored = score::score(pass, ctx, &inputs, RiskScope::All, true)?;
    let mut summary = PrioritizeSummary {
        scored: scored.len(),
        open_by_priority: scored.open,
        ..PrioritizeSummary::default()
    };
    let scored_at = started.elapsed();
    let t_tickets = Instant::now();
    if ctx.tickets {
        let g = tickets::Regroup {
            rows: &scored.rows,
            assets: &inputs.assets,
            strings: &scored.strings,
            now: ctx.now,
            scoped: false,
        };
        tickets::sync(pass, &g, &mut summary)?;
    }
    summary.score_ms = scored_at.as_millis() as u64;
    summary.tickets_ms = t_tickets.elapsed().as_millis() as u64;
    Ok(summary)
}

/// What a pipeline reports while it runs.
#[derive(Debug, Clone, PartialEq)]
pub enum Progress<'a> {
    /// A phase starts.
    Phase(&'a str),
    /// A follow-up failed; the change stands and the follow-up is retried later.
    FollowUpFailed(&'a str),
}

fn context(settings: &RiskSettings) -> Prioritize<'_> {
    Prioritize {
        model: &settings.model,
        sla: &settings.sla,
        intel: None,
        config_rules: settings.rules.as_deref(),
        config_teams: &settings.teams,
        context: &settings.context,
        tickets: true,
        now: Utc::now(),
    }
}

/// Scores every exposure and regroups every ticket.
pub fn reprioritize(
    store: &mut dyn Store,
    settings: &RiskSettings,
    progress: &mut dyn FnMut(Progress<'_>),
) -> Result<PrioritizeSummary> {
    progress(Progress::Phase("prioritize"));
    run(store, &context(settings))
}

/// The follow-up of a committed change. `None` when it failed: the failure is recorded in
/// the store and reported through `progress`, and the change stands.
pub fn follow_up(
    store: &mut dyn Store,
    settings: &RiskSettings,
    progress: &mut dyn FnMut(Progress<'_>),
) -> Option<PrioritizeSummary> {
    progress(Progress::Phase("follow-up"));
    match follow_up_pass(store, &context(settings)) {
        Ok(s) => Some(s),
        Err(e) => {
            let msg = e.to_string();
            let _ = store.follow_up_failed(&msg);
            progress(Progress::FollowUpFailed(&msg));
            None
        }
    }
}

/// Runs what a store opened now still owes: the whole pass when a migration reset the
/// scores, the follow-up of a change that failed or was cut short.
pub fn retry_pending(
    store: &mut dyn Store,
    settings: &RiskSettings,
    progress: &mut dyn FnMut(Progress<'_>),
) -> Result<()> {
    if store.scores_missing()? {
        reprioritize(store, settings, progress)?;
    }
    let state = store.follow_up_state()?;
    if state.pending > 0 || state.full {
        follow_up(store, settings, progress);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use ctem_store::sqlite::SqliteStore;
    use ctem_store::work::WorkStore;

    use super::*;
    use crate::Settings;

    #[test]
    fn a_failed_follow_up_is_reported_and_recorded() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("ctem.db");
        let mut store = SqliteStore::open(&path).expect("store");
        let settings = Settings::default();
        let mut seen = Vec::new();
        let ok = follow_up(&mut store, &settings.risk, &mut |p| {
            seen.push(format!("{p:?}"))
        });
        assert!(ok.is_some());
        rusqlite::Connection::open(&path)
            .expect("open")
            .execute_batch(
                "CREATE TRIGGER fail BEFORE UPDATE OF scored_max ON followup_state
                 BEGIN SELECT RAISE(ABORT, 'injected'); END;",
            )
            .expect("trigger");
        let failed = follow_up(&mut store, &settings.risk, &mut |p| {
            seen.push(format!("{p:?}"))
        });
        assert!(failed.is_none());
        assert!(
            seen.iter()
                .any(|s| s.contains("FollowUpFailed") && s.contains("injected"))
        );
        let state = store.follow_up_state().expect("state");
        assert_eq!(state.attempts, 1);
        assert!(state.last_error.is_some_and(|e| e.contains("injected")));
    }
}
