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

mod context;
pub mod facts;
mod followup;
mod pass;
mod score;
pub mod tickets;
pub mod top;

use chrono::Utc;
use ctem_store::Store;

use crate::error::Result;
use crate::settings::RiskSettings;

pub use context::{IntelLookup, Prioritize, PrioritizeSummary};
pub use top::{TopGroup, top};

/// Re-scores every exposure, routes it, stores the results and (optionally) regroups
/// tickets; one transaction. The follow-up's record is cleared: everything is scored.
pub fn run(store: &mut dyn Store, ctx: &Prioritize<'_>) -> Result<PrioritizeSummary> {
    let mut pass = store.begin_risk_pass()?;
    let summary = pass::whole(pass.as_mut(), ctx)?;
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
