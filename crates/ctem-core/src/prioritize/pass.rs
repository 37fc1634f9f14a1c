//! One pass inside an open transaction: the whole pass, and the summary and ticket
//! regrouping every pass ends with.

use std::time::Instant;

use ctem_store::risk::{RiskPass, RiskScope};

use super::context::{Prioritize, PrioritizeSummary};
use super::{score, tickets};
use crate::error::Result;

/// The whole pass inside an open one: configuration stored, every exposure scored, every
/// ticket regrouped.
pub(super) fn whole(pass: &mut dyn RiskPass, ctx: &Prioritize<'_>) -> Result<PrioritizeSummary> {
    let started = Instant::now();
    pass.put_config(ctx.config_teams, ctx.config_rules)?;
    let rules = pass.rules()?;
    let context = score::context_rules(ctx, &rules)?;
    let inputs = score::load(pass, ctx, &context, RiskScope::All)?;
    let scored = score::score(pass, ctx, &inputs, RiskScope::All, true)?;
    // the whole pass sees every group: it always decides
    Ok(regroup(pass, ctx, (&inputs, &scored), false, started)?.unwrap_or_default())
}

/// The summary of a scored pass, its tickets regrouped first when `ctx.tickets`. `None` when
/// a follow-up (`scoped`) cannot decide a group (`tickets::sync`).
pub(super) fn regroup(
    pass: &mut dyn RiskPass,
    ctx: &Prioritize<'_>,
    (inputs, scored): (&score::Inputs, &score::Scored),
    scoped: bool,
    started: Instant,
) -> Result<Option<PrioritizeSummary>> {
    let mut summary = PrioritizeSummary {
        scored: scored.len(),
        open_by_priority: scored.open,
        incremental: scoped,
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
            scoped,
        };
        if !tickets::sync(pass, &g, &mut summary)? {
            return Ok(None);
        }
    }
    summary.score_ms = scored_at.as_millis() as u64;
    summary.tickets_ms = t_tickets.elapsed().as_millis() as u64;
    Ok(Some(summary))
}
