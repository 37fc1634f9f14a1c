//! Ticket grouping and how a ticket follows its exposures: the active exposures of a pass
//! grouped into one ticket per remediation action per team, and the tickets moved as their
//! exposures are fixed or come back. The store applies the result ([`TicketWrite`]s).

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, NaiveDate, Utc};
use ctem_model::risk::Priority;
use ctem_model::work::TicketState;
use ctem_risk::{OpenExposure, group_remediations};
use ctem_store::risk::{RiskPass, TicketFigures, TicketHead, TicketWrite};

use super::context::PrioritizeSummary;
use super::score::{AssetInfo, Interner, NONE, Row};
use crate::error::Result;
use ctem_store::fx::FxMap;

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

/// The ticket key of a group: team, package (or finding) and whether a fix exists.
fn ticket_key(team: &str, name: &str, is_pkg: bool, has_fix: bool) -> String {
    let what = if is_pkg { "pkg" } else { "finding" };
    let fix = if has_fix { "fix" } else { "nofix" };
    format!("{team}|{what}:{name}|{fix}")
}

#[derive(Default)]
struct KeyStats<'r> {
    /// The group's hash (`score::group_hash`), stored on its ticket.
    grp: i64,
    active: Vec<&'r Row>,
    fixed: u64,
    other: u64,
}

/// The rows of a pass and what they refer to.
pub(super) struct Regroup<'a> {
    pub(super) rows: &'a [Vec<Row>],
    pub(super) assets: &'a [AssetInfo],
    pub(super) strings: &'a Interner,
    pub(super) now: DateTime<Utc>,
    /// A follow-up: the rows are the members of the groups it touched, not every exposure.
    pub(super) scoped: bool,
}

/// Regroups the active exposures into tickets and moves tickets. `false` (nothing written)
/// when a follow-up cannot decide: a group left without an active exposure needs the whole
/// pass to tell verified from resolved.
pub(super) fn sync(
    pass: &mut dyn RiskPass,
    g: &Regroup<'_>,
    summary: &mut PrioritizeSummary,
) -> Result<bool> {
    let today = g.now.date_naive();
    // group rows by (team, name, is_pkg, has_fix); exposures of unowned assets go to team
    // "unassigned"
    let mut groups: FxMap<(Option<&str>, u32, bool, bool), KeyStats> = FxMap::default();
    for r in g.rows.iter().flatten() {
        let team = g.assets[r.asset as usize].team.as_deref();
        let k = groups
            .entry((team, r.name, r.is_pkg, r.has_fix))
            .or_default();
        k.grp = r.grp;
        match r.class {
            0 => k.active.push(r),
            1 => k.fixed += 1,
            _ => k.other += 1,
        }
    }
    let existing: HashMap<String, TicketHead> = pass
        .tickets()?
        .into_iter()
        .map(|t| (t.key.clone(), t))
        .collect();
    let key_of = |(team, name, is_pkg, fix): &(Option<&str>, u32, bool, bool)| {
        let team = team.unwrap_or("unassigned");
        ticket_key(team, g.strings.get(*name), *is_pkg, *fix)
    };
    // a follow-up sees every active exposure of the groups it touched (their members are in
    // its scope) but not their fixed or accepted ones
    if g.scoped
        && groups
            .iter()
            .any(|(k, s)| s.active.is_empty() && existing.contains_key(&key_of(k)))
    {
        return Ok(false);
    }
    let asset_keys: Vec<String> = g.assets.iter().map(|a| a.id.to_string()).collect();
    let mut writes = Vec::new();
    let mut seen: HashSet<i64> = HashSet::new();
    for (k, stats) in &groups {
        let key = key_of(k);
        let old = existing.get(&key);
        if stats.active.is_empty() {
            let Some(old) = old else {
                continue;
            };
            seen.insert(old.id);
            let all_fixed = stats.fixed > 0 && stats.other == 0;
            writes.push(TicketWrite::Empty { id: old.id });
            moved(&mut writes, old, false, all_fixed, today, summary);
            continue;
        }
        let (team, name, is_pkg, has_fix) = *k;
        let Some(figures) = figures(g, &asset_keys, (name, is_pkg, has_fix), stats) else {
            continue;
        };
        match old {
            Some(old) => {
                writes.push(TicketWrite::Update {
                    id: old.id,
                    figures,
                });
                summary.tickets_updated += 1;
                moved(&mut writes, old, true, false, today, summary);
                seen.insert(old.id);
            }
            None => {
                writes.push(TicketWrite::Create {
                    key,
                    team: team.unwrap_or("unassigned").to_owned(),
                    package: g.strings.get(name).to_owned(),
                    figures,
                });
                summary.tickets_created += 1;
            }
        }
    }
    // tickets whose every exposure vanished from the store (a follow-up sees only the
    // groups it touched)
    if !g.scoped {
        for old in existing.values() {
            if !seen.contains(&old.id) {
                moved(&mut writes, old, false, false, today, summary);
            }
        }
    }
    pass.write_tickets(&writes, g.now)?;
    Ok(true)
}

/// The figures of a group with active exposures.
fn figures(
    g: &Regroup<'_>,
    asset_keys: &[String],
    (name, is_pkg, has_fix): (u32, bool, bool),
    stats: &KeyStats<'_>,
) -> Option<TicketFigures> {
    let name_s = g.strings.get(name);
    let mut best = Priority::P4;
    let mut due: Option<NaiveDate> = None;
    let mut buf = Vec::with_capacity(stats.active.len());
    for &r in &stats.active {
        best = best.min(r.priority);
        due = Some(due.map_or(r.due, |d| d.min(r.due)));
        buf.push(OpenExposure {
            package: name_s,
            installed_version: if r.version == NONE {
                ""
            } else {
                g.strings.get(r.version)
            },
            fixed_version: has_fix.then(|| g.strings.get(r.fixed)),
            asset_id: &asset_keys[r.asset as usize],
            risk_score: r.score,
            kev: r.kev,
            priority: r.priority,
        });
    }
    let group = group_remediations(&buf).into_iter().next()?;
    let action = if is_pkg {
        group.action.clone()
    } else {
        format!("remediate {name_s}")
    };
    Some(TicketFigures {
        action,
        target_version: group.target_version,
        priority: best,
        exposures: group.exposures as u64,
        assets: group.assets as u64,
        kev: group.kev as u64,
        risk: (group.risk_removed * 10.0).round() / 10.0,
        due,
        breached: due.is_some_and(|d| d < g.now.date_naive()),
        group: stats.grp,
    })
}

/// The state change of a ticket, if [`follow`] calls for one.
fn moved(
    writes: &mut Vec<TicketWrite>,
    old: &TicketHead,
    active: bool,
    all_fixed: bool,
    today: NaiveDate,
    summary: &mut PrioritizeSummary,
) {
    let Some((to, why)) = follow(old.state, old.accepted_until, active, all_fixed, today) else {
        return;
    };
    let kind = match to {
        TicketState::Verified => {
            summary.tickets_verified += 1;
            "verified"
        }
        TicketState::Open => {
            summary.tickets_reopened += 1;
            "reopened"
        }
        _ => "state",
    };
    writes.push(TicketWrite::Move {
        id: old.id,
        to,
        kind,
        text: format!("{} -> {to}: {why}", old.state),
    });
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
}
