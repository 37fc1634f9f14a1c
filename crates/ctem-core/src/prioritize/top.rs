//! `ctem top`: the open exposures grouped by remediation action across teams, in urgency
//! order (`ctem_risk::urgency_order`), with the counts their reasons are made of, from the
//! stored scores.

use std::collections::{HashMap, HashSet};

use chrono::NaiveDate;
use ctem_model::risk::Priority;
use ctem_risk::remediation::needed_fix;
use ctem_risk::{OpenExposure, RemediationGroup, group_remediations};
use ctem_store::Store;
use serde::Serialize;

use super::score::{Interner, NONE};
use crate::error::Result;

/// One remediation action of `ctem top`, with the counts its reasons are made of.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TopGroup {
    #[serde(flatten)]
    pub group: RemediationGroup,
    /// Open exposures of the group by priority P1..P4.
    pub by_priority: [u64; 4],
    /// Open exposures past their SLA due date.
    pub breached: u64,
    /// Distinct internet-facing assets touched.
    pub internet_facing_assets: u64,
    /// Teams owning the exposures.
    pub teams: Vec<String>,
}

/// One open exposure, its strings interned.
struct Lite {
    name: u32,
    is_pkg: bool,
    version: u32,
    fixed: u32,
    asset: i64,
    score: f64,
    kev: bool,
    priority: Priority,
    due: Option<NaiveDate>,
    team: u32,
    internet: bool,
}

/// What a group's reasons count, by the key `group_remediations` uses: package and whether
/// a fix was found.
#[derive(Default)]
struct Extra {
    by_priority: [u64; 4],
    breached: u64,
    teams: Vec<String>,
    is_pkg: bool,
}

/// Open exposures grouped by remediation action in urgency order; informational findings
/// (an open port, a banner) never enter the list.
pub fn top(store: &dyn Store, today: NaiveDate) -> Result<Vec<TopGroup>> {
    let mut strings = Interner::default();
    let mut lites = Vec::new();
    store.top_rows(&mut |r| {
        let name = strings.id(r.name);
        let version = strings.id(r.version);
        let fixed = r.fixed_version.map_or(NONE, |f| strings.id(f));
        let team = strings.id(r.team);
        lites.push(Lite {
            name,
            is_pkg: r.is_package,
            version,
            fixed,
            asset: r.asset_id,
            score: r.score,
            kev: r.kev,
            priority: r.priority,
            due: r.due,
            team,
            internet: r.internet_facing,
        });
        Ok(())
    })?;
    let keys: Vec<String> = lites.iter().map(|l| l.asset.to_string()).collect();
    let open: Vec<OpenExposure<'_>> = lites
        .iter()
        .zip(&keys)
        .map(|(l, k)| OpenExposure {
            package: strings.get(l.name),
            installed_version: strings.get(l.version),
            fixed_version: (l.fixed != NONE && l.is_pkg).then(|| strings.get(l.fixed)),
            asset_id: k,
            risk_score: l.score,
            kev: l.kev,
            priority: l.priority,
        })
        .collect();
    let groups = group_remediations(&open);
    let mut extra: HashMap<(u32, bool), Extra> = HashMap::new();
    let mut internet_assets: HashMap<(u32, bool), HashSet<i64>> = HashMap::new();
    for (l, o) in lites.iter().zip(&open) {
        let has_fix = o
            .fixed_version
            .is_some_and(|f| needed_fix(o.installed_version, f).is_some());
        let k = (l.name, has_fix);
        let t = extra.entry(k).or_default();
        t.by_priority[usize::from(l.priority.number() - 1)] += 1;
        if l.due.is_some_and(|d| d < today) {
            t.breached += 1;
        }
        let team = strings.get(l.team);
        if !t.teams.iter().any(|x| x == team) {
            t.teams.push(team.to_owned());
        }
        t.is_pkg = l.is_pkg;
        if l.internet {
            internet_assets.entry(k).or_default().insert(l.asset);
        }
    }
    let mut out = Vec::with_capacity(groups.len());
    for g in groups {
        let k = (
            strings.find(&g.package).unwrap_or(NONE),
            g.target_version.is_some(),
        );
        let mut t = extra.remove(&k).unwrap_or_default();
        t.teams.sort();
        let action = if t.is_pkg {
            g.action.clone()
        } else {
            format!("remediate {}", g.package)
        };
        out.push(TopGroup {
            internet_facing_assets: internet_assets.get(&k).map_or(0, |s| s.len() as u64),
            by_priority: t.by_priority,
            breached: t.breached,
            teams: t.teams,
            group: RemediationGroup {
                action,
                risk_removed: (g.risk_removed * 10.0).round() / 10.0,
                ..g
            },
        });
    }
    Ok(out)
}
