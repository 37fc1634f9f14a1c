//! The follow-up of a committed import or intelligence refresh: enrichment and
//! prioritisation of what changed.
//!
//! The store records what changed with the change (`ctem_store::risk`); the follow-up scores
//! that and the ticket groups it is in, then clears the record. Everything is scored again
//! instead when the change is large, when the settings of the risk model differ from the last
//! pass's, or on the first pass of a day (SLA breaches and expired risk acceptances move with
//! the date).

use std::collections::BTreeSet;
use std::time::Instant;

use ctem_store::risk::{RiskPass, RiskScope};
use sha2::{Digest, Sha256};

use super::context::{Prioritize, PrioritizeSummary};
use super::{pass, score};
use crate::error::Result;

/// More changed exposures than this and the follow-up scores everything (one pass over the
/// store costs less than many scoped lookups).
const FULL_OVER: u64 = 100_000;

/// What the risk settings of a pass were (context rules included), and whether a KEV
/// catalog was stored (it turns "KEV status unknown" into "not in KEV" for every CVE it
/// does not list), to know when they change.
fn fingerprint(pass: &mut dyn RiskPass, ctx: &Prioritize<'_>) -> Result<String> {
    let kev_catalog = pass.kev_catalog()?;
    let text = format!(
        "{:?}|{:?}|{:?}|{:?}|{:?}|{kev_catalog}",
        ctx.model, ctx.sla, ctx.config_rules, ctx.config_teams, ctx.context
    );
    Ok(Sha256::digest(text.as_bytes())
        .iter()
        .map(|x| format!("{x:02x}"))
        .collect())
}

/// Clears the record after a pass that scored everything that changed.
pub(super) fn finish(pass: &mut dyn RiskPass, ctx: &Prioritize<'_>) -> Result<()> {
    let fp = fingerprint(pass, ctx)?;
    pass.finish_follow_up(&fp, ctx.now.date_naive())?;
    Ok(())
}

/// Enriches and scores what changed since the last pass; everything when it must.
pub(super) fn run(pass: &mut dyn RiskPass, ctx: &Prioritize<'_>) -> Result<PrioritizeSummary> {
    let mark = pass.follow_up_mark()?;
    let fp = fingerprint(pass, ctx)?;
    let today = ctx.now.date_naive();
    let whole = mark.full
        || mark.settings.as_deref() != Some(fp.as_str())
        || mark.scored_day != Some(today)
        || ctx.intel.is_some();
    let mut summary = None;
    if !whole && pass.open_scope(mark.scored_max)? <= FULL_OVER {
        pass.enrich(RiskScope::FollowUp)?;
        summary = scoped(pass, ctx)?;
    }
    let summary = match summary {
        Some(s) => s,
        None => {
            pass.enrich(RiskScope::All)?;
            pass::whole(pass, ctx)?
        }
    };
    finish(pass, ctx)?;
    Ok(summary)
}

/// The follow-up pass: scores the exposures of the scope, then every active exposure of the
/// ticket groups they left or joined, and regroups those tickets. `None` when a ticket group
/// lost its last active exposure: the caller runs the whole pass instead.
fn scoped(pass: &mut dyn RiskPass, ctx: &Prioritize<'_>) -> Result<Option<PrioritizeSummary>> {
    let started = Instant::now();
    let rules = pass.rules()?;
    let context = score::context_rules(ctx, &rules)?;
    // the groups the scope's exposures are in before they are scored again
    let mut groups: BTreeSet<i64> = pass.scope_groups()?.into_iter().collect();
    let mut inputs = score::load(pass, ctx, &context, RiskScope::FollowUp)?;
    let mut scored = score::score(pass, ctx, &inputs, RiskScope::FollowUp, true)?;
    groups.extend(scored.rows.iter().flatten().map(|r| r.grp));
    // every active member of those groups joins the scope: a ticket is made of all of them
    // (their scores did not change: they are read for the tickets, not written again)
    let groups: Vec<i64> = groups.into_iter().collect();
    if pass.grow_scope(&groups)? > 0 {
        inputs = score::load(pass, ctx, &context, RiskScope::FollowUp)?;
        scored = score::score(pass, ctx, &inputs, RiskScope::FollowUp, false)?;
    }
    pass::regroup(pass, ctx, (&inputs, &scored), true, started)
}
