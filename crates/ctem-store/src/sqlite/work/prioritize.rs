//! The bulk re-prioritisation: one pass over every exposure, scores written back in id
//! order, open exposures regrouped into tickets.
//!
//! Speed matters (a million exposures after an EPSS refresh): assets, details (CVSS) and
//! services are read once, assets and details into vectors indexed by their (dense) row id;
//! threat intelligence is looked up once per exposure detail (a compact copy kept beside
//! the detail, so the pass does not chase a pointer into a large map per exposure);
//! package strings are interned so the pass allocates only for new names; the maps use a
//! fast non-cryptographic hash (the keys come from our own store); `exposure_risk` is
//! rewritten whole (a bulk insert in key order is cheaper than a million updates).

use std::collections::{HashMap, HashSet};
use std::time::Instant;

use chrono::NaiveDate;
use ctem_model::context::ContextRules;
use ctem_model::intel::Enrichment;
use ctem_model::work::{OwnershipRule, TicketState};
use ctem_risk::remediation::needed_fix;
use ctem_risk::{OpenExposure, Priority, RemediationGroup, group_remediations};
use rusqlite::{Transaction, params};

use super::scan::{Row, Shared, scan_and_write};
use super::{day_num, day_of, event, load_rules};
use crate::work::{AssetFacts, CvssFacts, IntelFacts, Prioritize, PrioritizeSummary, TopGroup};
use crate::{Error, Result};

pub(crate) use crate::fx::{FxMap, FxSet};

/// Row id -> position, a vector for the usual dense ids, a map for the rest.
#[derive(Default)]
pub(crate) struct IdIndex {
    dense: Vec<u32>,
    sparse: FxMap<i64, u32>,
}

impl IdIndex {
    /// Ids below this go to the vector (4 bytes each).
    const DENSE_MAX: i64 = 1 << 23;

    pub(crate) fn insert(&mut self, id: i64, pos: usize) {
        let pos = u32::try_from(pos).unwrap_or(u32::MAX);
        if (0..Self::DENSE_MAX).contains(&id) {
            let i = id as usize;
            if i >= self.dense.len() {
                self.dense.resize(i + 1, u32::MAX);
            }
            self.dense[i] = pos;
        } else {
            self.sparse.insert(id, pos);
        }
    }

    #[inline]
    pub(crate) fn get(&self, id: i64) -> Option<usize> {
        let p = match usize::try_from(id).ok().and_then(|i| self.dense.get(i)) {
            Some(p) => *p,
            None => *self.sparse.get(&id)?,
        };
        (p != u32::MAX).then_some(p as usize)
    }
}

/// Interned strings: ids for names seen before, no allocation on a hit.
#[derive(Default)]
pub(crate) struct Interner {
    ids: FxMap<String, u32>,
    pub(super) names: Vec<String>,
}

impl Interner {
    pub(crate) fn id(&mut self, s: &str) -> u32 {
        if let Some(id) = self.ids.get(s) {
            return *id;
        }
        let id = u32::try_from(self.names.len()).unwrap_or(u32::MAX);
        self.ids.insert(s.to_owned(), id);
        self.names.push(s.to_owned());
        id
    }

    pub(crate) fn get(&self, id: u32) -> &str {
        self.names.get(id as usize).map_or("", String::as_str)
    }
}

pub(super) const NONE: u32 = u32::MAX;

pub(super) struct AssetInfo {
    pub(super) id: i64,
    pub(super) facts: AssetFacts,
    /// A scanner inventoried the asset's services (any state): only then does a port
    /// without an open service mean "not reachable".
    pub(super) services_known: bool,
    pub(super) team: Option<u32>,
    /// The owning team's name, for threads that do not share the interner.
    pub(super) team_name: Option<String>,
}

#[derive(serde::Deserialize)]
struct DetailLite {
    title: String,
    #[serde(default)]
    cves: Vec<String>,
    #[serde(default)]
    cvss: Vec<ctem_model::Cvss>,
}

/// What the pass needs of a shared exposure detail. The `cve` column of an exposure is the
/// first CVE of its detail, so the intelligence is looked up here, once per detail.
pub(super) struct Detail {
    pub(super) title: String,
    pub(super) cvss: CvssFacts,
    pub(super) intel: Option<IntelFacts>,
}

pub(super) fn run(tx: &Transaction<'_>, ctx: &Prioritize<'_>) -> Result<PrioritizeSummary> {
    let started = Instant::now();
    let now = ctx.now.timestamp();
    let today = ctx.now.date_naive();
    // teams declared in the file first (with their descriptions), then the teams that
    // only its ownership rules name
    for t in ctx.config_teams {
        tx.execute(
            "INSERT INTO teams(name, description) VALUES (?1, ?2)
             ON CONFLICT(name) DO UPDATE SET
                description = coalesce(excluded.description, teams.description)",
            params![t.name, t.description],
        )?;
    }
    if let Some(rules) = ctx.config_rules {
        store_config_rules(tx, rules)?;
    }
    let rules = load_rules(tx)?;
    let context =
        ContextRules::build(ctx.context, &rules).map_err(|e| Error::Invalid(e.to_string()))?;
    let mut strings = Interner::default();
    let (assets, index) = super::assets::load_assets(tx, &context, &mut strings, false)?;
    let services = load_services(tx, false)?;
    let kev_catalog = super::assets::kev_catalog_loaded(tx)?;
    let stored_intel;
    let intel: &dyn crate::work::IntelLookup = match ctx.intel {
        Some(i) => i,
        None => {
            stored_intel = load_intel(tx, false)?;
            &stored_intel
        }
    };
    let (details, detail_index) = load_details(tx, intel, false)?;

    let mut summary = PrioritizeSummary::default();
    let shared = Shared {
        model: ctx.model,
        sla: ctx.sla,
        today,
        assets: &assets,
        index: &index,
        services: &services,
        details: &details,
        detail_index: &detail_index,
        kev_catalog,
    };
    // scores are written as they are computed (see `scan`)
    let rows = scan_and_write(tx, &shared, &mut strings, &mut summary.open_by_priority)?;
    summary.scored = rows.iter().map(|p| p.len() as u64).sum();
    let scored_at = started.elapsed();

    let t_tickets = Instant::now();
    if ctx.tickets {
        sync_tickets(
            tx,
            &rows,
            &assets,
            &strings,
            (today, now),
            false,
            &mut summary,
        )?;
    }
    let tickets_took = t_tickets.elapsed();
    summary.score_ms = scored_at.as_millis() as u64;
    summary.tickets_ms = tickets_took.as_millis() as u64;
    Ok(summary)
}

fn store_config_rules(tx: &Transaction<'_>, rules: &[OwnershipRule]) -> Result<()> {
    tx.execute("DELETE FROM ownership_rules WHERE source = 'config'", [])?;
    for (i, r) in rules.iter().enumerate() {
        if r.pattern.is_empty() || r.team.trim().is_empty() {
            return Err(Error::Invalid(format!(
                "ownership rule {} in the configuration needs a pattern and a team",
                i + 1
            )));
        }
        tx.execute(
            "INSERT INTO teams(name) VALUES (?1) ON CONFLICT DO NOTHING",
            [&r.team],
        )?;
        // configuration rules come before rules added on the command line
        tx.execute(
            "INSERT INTO ownership_rules(position, kind, pattern, team, source, priority)
             VALUES (?1, ?2, ?3, ?4, 'config', ?5)",
            params![
                i as i64 - 1_000_000,
                r.kind.as_str(),
                r.pattern,
                r.team,
                r.priority
            ],
        )?;
    }
    Ok(())
}

/// `WHERE` clauses of the loaders when a follow-up scores only `temp.risk_scope`.
pub(super) const SCOPE_EXPOSURES: &str = "SELECT id FROM temp.risk_scope";

/// The intel stage's per-CVE enrichment, when its table exists.
pub(super) fn load_intel(
    tx: &Transaction<'_>,
    scoped: bool,
) -> Result<HashMap<String, Enrichment>> {
    let mut out = HashMap::new();
    let exists: bool = tx.query_row(
        "SELECT count(*) > 0 FROM sqlite_master WHERE type = 'table'
         AND name = 'intel_cve_enrichment'",
        [],
        |r| r.get(0),
    )?;
    if !exists {
        return Ok(out);
    }
    let filter = if scoped {
        format!(
            " WHERE cve IN (SELECT d.cve FROM exposure_details d WHERE d.id IN
                (SELECT detail_id FROM exposures WHERE id IN ({SCOPE_EXPOSURES})))"
        )
    } else {
        String::new()
    };
    let mut st = tx.prepare(&format!(
        "SELECT cve, kev, kev_due_date, kev_ransomware, epss, epss_percentile
         FROM intel_cve_enrichment{filter}"
    ))?;
    let mut q = st.query([])?;
    let date = |s: Option<String>| s.and_then(|s| NaiveDate::parse_from_str(&s, "%Y-%m-%d").ok());
    while let Some(r) = q.next()? {
        let cve: String = r.get(0)?;
        let ransomware: Option<String> = r.get(3)?;
        let e = Enrichment {
            cve_id: cve.clone(),
            kev: r.get(1)?,
            kev_date_added: None,
            kev_due_date: date(r.get(2)?),
            kev_ransomware: ransomware.and_then(|s| {
                serde_json::from_value(serde_json::Value::String(s.to_ascii_lowercase())).ok()
            }),
            epss: r.get(4)?,
            epss_percentile: r.get(5)?,
            epss_date: None,
            description: None,
            cwes: Vec::new(),
            cvss: Vec::new(),
        };
        out.insert(cve, e);
    }
    Ok(out)
}

pub(super) fn load_services(tx: &Transaction<'_>, scoped: bool) -> Result<FxSet<(i64, i64)>> {
    let filter = if scoped {
        format!(" AND asset_id IN (SELECT asset_id FROM exposures WHERE id IN ({SCOPE_EXPOSURES}))")
    } else {
        String::new()
    };
    let mut st = tx.prepare(&format!(
        "SELECT asset_id, port FROM services WHERE state = 'open'{filter}"
    ))?;
    let rows = st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

pub(super) fn load_details(
    tx: &Transaction<'_>,
    intel: &dyn crate::work::IntelLookup,
    scoped: bool,
) -> Result<(Vec<Detail>, IdIndex)> {
    let filter = if scoped {
        format!(" WHERE id IN (SELECT detail_id FROM exposures WHERE id IN ({SCOPE_EXPOSURES}))")
    } else {
        String::new()
    };
    let mut st = tx.prepare(&format!("SELECT id, data FROM exposure_details{filter}"))?;
    let mut q = st.query([])?;
    let mut out = Vec::new();
    let mut index = IdIndex::default();
    while let Some(r) = q.next()? {
        let id: i64 = r.get(0)?;
        let data = r.get_ref(1)?.as_str().unwrap_or("{}");
        let d: DetailLite = serde_json::from_str(data).map_err(|e| Error::Corrupt {
            table: "exposure_details",
            message: format!("{id}: {e}"),
        })?;
        index.insert(id, out.len());
        out.push(Detail {
            cvss: CvssFacts::from_list(&d.cvss),
            intel: d
                .cves
                .first()
                .and_then(|c| intel.enrichment(c))
                .map(IntelFacts::from),
            title: d.title,
        });
    }
    Ok((out, index))
}

/// The ticket key of a group: team, package (or finding) and whether a fix exists.
fn ticket_key(team: &str, name: &str, is_pkg: bool, has_fix: bool) -> String {
    let what = if is_pkg { "pkg" } else { "finding" };
    let fix = if has_fix { "fix" } else { "nofix" };
    format!("{team}|{what}:{name}|{fix}")
}

#[derive(Default)]
struct KeyStats<'r> {
    /// The group's hash (`scan::group_hash`), stored on its ticket.
    grp: i64,
    active: Vec<&'r Row>,
    fixed: u64,
    other: u64,
}

/// Regroups open exposures into tickets and moves tickets.
pub(super) fn sync_tickets(
    tx: &Transaction<'_>,
    rows: &[Vec<Row>],
    assets: &[AssetInfo],
    strings: &Interner,
    (today, now): (NaiveDate, i64),
    scoped: bool,
    summary: &mut PrioritizeSummary,
) -> Result<bool> {
    // group rows by (team, name, is_pkg, has_fix); exposures of unowned assets go to team
    // "unassigned"
    let unassigned = u32::MAX;
    let mut groups: FxMap<(u32, u32, bool, bool), KeyStats> = FxMap::default();
    for r in rows.iter().flatten() {
        let team = assets[r.asset as usize].team.unwrap_or(unassigned);
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
    let mut existing: HashMap<String, (i64, TicketState, Option<NaiveDate>)> = HashMap::new();
    {
        let mut st = tx.prepare("SELECT key, id, state, accepted_until FROM tickets")?;
        let mut q = st.query([])?;
        while let Some(r) = q.next()? {
            let state: String = r.get(2)?;
            let state = TicketState::parse(&state).ok_or_else(|| Error::Corrupt {
                table: "tickets",
                message: format!("state {state:?}"),
            })?;
            existing.insert(r.get(0)?, (r.get(1)?, state, day_of(r.get(3)?)));
        }
    }
    // a follow-up sees every active exposure of the groups it touched (their members are in
    // its scope) but not their fixed or accepted ones: a group left without an active one
    // needs the whole pass to decide between verified and resolved
    let team_name = |team: u32| {
        if team == unassigned {
            "unassigned"
        } else {
            strings.get(team)
        }
    };
    if scoped
        && groups.iter().any(|((team, name, is_pkg, fix), k)| {
            let key = ticket_key(team_name(*team), strings.get(*name), *is_pkg, *fix);
            k.active.is_empty() && existing.contains_key(&key)
        })
    {
        return Ok(false);
    }
    let asset_keys: Vec<String> = assets.iter().map(|a| a.id.to_string()).collect();
    let mut seen: HashSet<i64> = HashSet::new();
    let mut buf: Vec<OpenExposure<'_>> = Vec::new();
    for ((team, name, is_pkg, has_fix), stats) in &groups {
        let team_name = if *team == unassigned {
            "unassigned"
        } else {
            strings.get(*team)
        };
        let name_s = strings.get(*name);
        let key = ticket_key(team_name, name_s, *is_pkg, *has_fix);
        let old = existing.get(&key).copied();
        if stats.active.is_empty() {
            let Some((id, state, until)) = old else {
                continue;
            };
            seen.insert(id);
            let all_fixed = stats.fixed > 0 && stats.other == 0;
            tx.prepare_cached(
                "UPDATE tickets SET exposures = 0, assets = 0, kev = 0, risk = 0, breached = 0,
                 updated_at = ?2 WHERE id = ?1",
            )?
            .execute(params![id, now])?;
            apply_follow(tx, id, state, until, false, all_fixed, today, now, summary)?;
            continue;
        }
        buf.clear();
        let mut best = Priority::P4;
        let mut due: Option<i64> = None;
        for &r in &stats.active {
            best = best.min(r.priority);
            due = Some(due.map_or(r.due.unwrap_or(i64::MAX), |d| {
                d.min(r.due.unwrap_or(i64::MAX))
            }));
            buf.push(OpenExposure {
                package: name_s,
                installed_version: if r.version == NONE {
                    ""
                } else {
                    strings.get(r.version)
                },
                fixed_version: (*has_fix).then(|| strings.get(r.fixed)),
                asset_id: &asset_keys[r.asset as usize],
                risk_score: r.score,
                kev: r.kev,
                priority: r.priority,
            });
        }
        let group = match group_remediations(&buf).into_iter().next() {
            Some(g) => g,
            None => continue,
        };
        let action = if *is_pkg {
            group.action.clone()
        } else {
            format!("remediate {name_s}")
        };
        let breached = due.is_some_and(|d| d < day_num(today));
        let id = upsert_ticket(
            tx,
            old,
            (&key, stats.grp),
            team_name,
            &group,
            &action,
            best,
            due,
            breached,
            now,
            summary,
        )?;
        if let Some((_, state, until)) = old {
            apply_follow(tx, id, state, until, true, false, today, now, summary)?;
        }
        seen.insert(id);
    }
    // tickets whose every exposure vanished from the store (a follow-up sees only the
    // groups it touched)
    if !scoped {
        for (id, state, until) in existing.values() {
            if !seen.contains(id) {
                apply_follow(tx, *id, *state, *until, false, false, today, now, summary)?;
            }
        }
    }
    Ok(true)
}

#[allow(clippy::too_many_arguments)]
fn upsert_ticket(
    tx: &Transaction<'_>,
    old: Option<(i64, TicketState, Option<NaiveDate>)>,
    (key, grp): (&str, i64),
    team: &str,
    g: &RemediationGroup,
    action: &str,
    priority: Priority,
    due: Option<i64>,
    breached: bool,
    now: i64,
    summary: &mut PrioritizeSummary,
) -> Result<i64> {
    match old {
        Some((id, _, _)) => {
            tx.prepare_cached(
                "UPDATE tickets SET action = ?2, target_version = ?3, priority = ?4,
                 exposures = ?5, assets = ?6, kev = ?7, risk = ?8, due = ?9, breached = ?10,
                 grp = ?11
                 WHERE id = ?1",
            )?
            .execute(params![
                id,
                action,
                g.target_version,
                priority.as_str(),
                g.exposures as i64,
                g.assets as i64,
                g.kev as i64,
                (g.risk_removed * 10.0).round() / 10.0,
                due,
                breached,
                grp
            ])?;
            summary.tickets_updated += 1;
            Ok(id)
        }
        None => {
            tx.prepare_cached(
                "INSERT INTO tickets(key, team, package, action, target_version, state,
                   priority, exposures, assets, kev, risk, due, breached, created_at,
                   updated_at, grp)
                 VALUES (?1, ?2, ?3, ?4, ?5, 'open', ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?13,
                         ?14)",
            )?
            .execute(params![
                key,
                team,
                g.package,
                action,
                g.target_version,
                priority.as_str(),
                g.exposures as i64,
                g.assets as i64,
                g.kev as i64,
                (g.risk_removed * 10.0).round() / 10.0,
                due,
                breached,
                now,
                grp
            ])?;
            let id = tx.last_insert_rowid();
            event(tx, id, now, "created", None, &format!("created: {action}"))?;
            summary.tickets_created += 1;
            Ok(id)
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn apply_follow(
    tx: &Transaction<'_>,
    id: i64,
    state: TicketState,
    until: Option<NaiveDate>,
    active: bool,
    all_fixed: bool,
    today: NaiveDate,
    now: i64,
    summary: &mut PrioritizeSummary,
) -> Result<()> {
    let Some((to, why)) = crate::work::follow(state, until, active, all_fixed, today) else {
        return Ok(());
    };
    let reopen = to == TicketState::Open;
    tx.prepare_cached(
        "UPDATE tickets SET state = ?2, updated_at = ?3, accepted_until = NULL,
                reopened = reopened + ?4 WHERE id = ?1",
    )?
    .execute(params![id, to.as_str(), now, i64::from(reopen)])?;
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
    event(tx, id, now, kind, None, &format!("{state} -> {to}: {why}"))
}

/// Open exposures grouped by remediation action across teams (`ctem top`), with the
/// counts the reasons are made of. Informational findings (severity info: an open port, a
/// banner) never enter the list.
pub(super) fn top(conn: &rusqlite::Connection, today: NaiveDate) -> Result<Vec<TopGroup>> {
    let mut st = conn.prepare(
        "SELECT coalesce(e.pkg_name, e.title), e.pkg_name IS NOT NULL, coalesce(e.pkg_version, ''),
                nullif(trim(coalesce(e.fixed_version, '')), ''), e.asset_id, r.score, r.kev,
                r.priority, r.due, coalesce(r.team, 'unassigned'), coalesce(a.internet_facing, 0)
         FROM exposures e JOIN exposure_risk r ON r.exposure_id = e.id
              JOIN assets a ON a.id = e.asset_id
         WHERE e.status IN ('open', 'reopened') AND instr(e.instance, 'not_affected') = 0
           AND e.severity <> 1",
    )?;
    let mut q = st.query([])?;
    let mut strings = Interner::default();
    struct Lite {
        name: u32,
        is_pkg: bool,
        version: u32,
        fixed: u32,
        asset: i64,
        score: f64,
        kev: bool,
        priority: i64,
        due: Option<i64>,
        team: u32,
        internet: bool,
    }
    let mut lites = Vec::new();
    while let Some(r) = q.next()? {
        let name = strings.id(r.get_ref(0)?.as_str().unwrap_or(""));
        let version = strings.id(r.get_ref(2)?.as_str().unwrap_or(""));
        let fixed = match r.get_ref(3)?.as_str_or_null().ok().flatten() {
            Some(f) => strings.id(f),
            None => NONE,
        };
        let team = strings.id(r.get_ref(9)?.as_str().unwrap_or("unassigned"));
        lites.push(Lite {
            name,
            is_pkg: r.get(1)?,
            version,
            fixed,
            asset: r.get(4)?,
            score: r.get(5)?,
            kev: r.get(6)?,
            priority: r.get(7)?,
            due: r.get(8)?,
            team,
            internet: r.get(10)?,
        });
    }
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
            priority: super::priority_of(l.priority),
        })
        .collect();
    let groups = group_remediations(&open);
    // the same key group_remediations uses: package and whether a fix was found
    #[derive(Default)]
    struct Extra {
        by_priority: [u64; 4],
        breached: u64,
        teams: Vec<String>,
        is_pkg: bool,
    }
    let mut extra: HashMap<(u32, bool), Extra> = HashMap::new();
    let mut internet_assets: HashMap<(u32, bool), HashSet<i64>> = HashMap::new();
    let today = day_num(today);
    for (l, o) in lites.iter().zip(&open) {
        let has_fix = o
            .fixed_version
            .is_some_and(|f| needed_fix(o.installed_version, f).is_some());
        let k = (l.name, has_fix);
        let t = extra.entry(k).or_default();
        t.by_priority[(l.priority.clamp(1, 4) - 1) as usize] += 1;
        if l.due.is_some_and(|d| d < today) {
            t.breached += 1;
        }
        let team = strings.get(l.team).to_owned();
        if !t.teams.contains(&team) {
            t.teams.push(team);
        }
        t.is_pkg = l.is_pkg;
        if l.internet {
            internet_assets.entry(k).or_default().insert(l.asset);
        }
    }
    let mut out = Vec::with_capacity(groups.len());
    for g in groups {
        let k = (
            strings.ids.get(&g.package).copied().unwrap_or(NONE),
            g.target_version.is_some(),
        );
        let mut t = extra.remove(&k).unwrap_or_default();
        t.teams.sort();
        let action = if t.is_pkg {
            g.action.clone()
        } else {
            format!("remediate {}", g.package)
        };
        let t = TopGroup {
            internet_facing_assets: internet_assets.get(&k).map_or(0, |s| s.len() as u64),
            by_priority: t.by_priority,
            breached: t.breached,
            teams: t.teams,
            group: RemediationGroup {
                action,
                risk_removed: (g.risk_removed * 10.0).round() / 10.0,
                ..g
            },
        };
        out.push(t);
    }
    Ok(out)
}

#[cfg(test)]
mod tests;
