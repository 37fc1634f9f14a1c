//! The reads and writes of a prioritisation pass besides the exposures themselves (those are
//! in `scan.rs`): configuration rules and teams, per-CVE intelligence, open services,
//! exposure details, ticket heads and ticket changes, and the rows `ctem top` groups.

use chrono::{DateTime, NaiveDate, Utc};
use ctem_model::intel::Enrichment;
use ctem_model::risk::Priority;
use ctem_model::work::{OwnershipRule, Team, TicketState};
use rusqlite::{Connection, params};

use super::{day_num, day_of, event};
use crate::risk::{DetailRisk, RiskScope, TicketHead, TicketWrite, TopRow};
use crate::{Error, Result};

/// The exposures of the follow-up's scope.
pub(super) const SCOPE: &str = "SELECT id FROM temp.risk_scope";

/// `clause` (with a leading space) for the follow-up's scope, nothing for the whole pass.
pub(super) fn scoped(scope: RiskScope, clause: &str) -> String {
    match scope {
        RiskScope::All => String::new(),
        RiskScope::FollowUp => format!(" {clause}"),
    }
}

/// Stores the configuration's teams and (when given) replaces its ownership rules.
pub(super) fn put_config(
    tx: &Connection,
    teams: &[Team],
    rules: Option<&[OwnershipRule]>,
) -> Result<()> {
    // teams declared in the file first (with their descriptions), then the teams that
    // only its ownership rules name
    for t in teams {
        tx.execute(
            "INSERT INTO teams(name, description) VALUES (?1, ?2)
             ON CONFLICT(name) DO UPDATE SET
                description = coalesce(excluded.description, teams.description)",
            params![t.name, t.description],
        )?;
    }
    let Some(rules) = rules else {
        return Ok(());
    };
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

/// The intel stage's per-CVE enrichment of the scope's CVEs, when its table exists.
pub(super) fn load_intel(tx: &Connection, scope: RiskScope) -> Result<Vec<Enrichment>> {
    let mut out = Vec::new();
    let exists: bool = tx.query_row(
        "SELECT count(*) > 0 FROM sqlite_master WHERE type = 'table'
         AND name = 'intel_cve_enrichment'",
        [],
        |r| r.get(0),
    )?;
    if !exists {
        return Ok(out);
    }
    let filter = scoped(
        scope,
        &format!(
            "WHERE cve IN (SELECT d.cve FROM exposure_details d WHERE d.id IN
                (SELECT detail_id FROM exposures WHERE id IN ({SCOPE})))"
        ),
    );
    let mut st = tx.prepare(&format!(
        "SELECT cve, kev, kev_due_date, kev_ransomware, epss, epss_percentile
         FROM intel_cve_enrichment{filter}"
    ))?;
    let mut q = st.query([])?;
    let date = |s: Option<String>| s.and_then(|s| NaiveDate::parse_from_str(&s, "%Y-%m-%d").ok());
    while let Some(r) = q.next()? {
        let ransomware: Option<String> = r.get(3)?;
        out.push(Enrichment {
            cve_id: r.get(0)?,
            kev: r.get(1)?,
            kev_due_date: date(r.get(2)?),
            kev_ransomware: ransomware.and_then(|s| {
                serde_json::from_value(serde_json::Value::String(s.to_ascii_lowercase())).ok()
            }),
            epss: r.get(4)?,
            epss_percentile: r.get(5)?,
            ..Enrichment::default()
        });
    }
    Ok(out)
}

pub(super) fn load_services(tx: &Connection, scope: RiskScope) -> Result<Vec<(i64, i64)>> {
    let filter = scoped(
        scope,
        &format!("AND asset_id IN (SELECT asset_id FROM exposures WHERE id IN ({SCOPE}))"),
    );
    let mut st = tx.prepare(&format!(
        "SELECT asset_id, port FROM services WHERE state = 'open'{filter}"
    ))?;
    let rows = st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

#[derive(serde::Deserialize)]
struct DetailLite {
    title: String,
    #[serde(default)]
    cves: Vec<String>,
    #[serde(default)]
    cvss: Vec<ctem_model::Cvss>,
}

pub(super) fn load_details(tx: &Connection, scope: RiskScope) -> Result<Vec<DetailRisk>> {
    let filter = scoped(
        scope,
        &format!("WHERE id IN (SELECT detail_id FROM exposures WHERE id IN ({SCOPE}))"),
    );
    let mut st = tx.prepare(&format!("SELECT id, data FROM exposure_details{filter}"))?;
    let mut q = st.query([])?;
    let mut out = Vec::new();
    while let Some(r) = q.next()? {
        let id: i64 = r.get(0)?;
        let data = r.get_ref(1)?.as_str().unwrap_or("{}");
        let d: DetailLite = serde_json::from_str(data).map_err(|e| Error::Corrupt {
            table: "exposure_details",
            message: format!("{id}: {e}"),
        })?;
        out.push(DetailRisk {
            id,
            title: d.title,
            cve: d.cves.into_iter().next(),
            cvss: d.cvss,
        });
    }
    Ok(out)
}

pub(super) fn ticket_heads(tx: &Connection) -> Result<Vec<TicketHead>> {
    let mut st = tx.prepare("SELECT key, id, state, accepted_until FROM tickets")?;
    let mut q = st.query([])?;
    let mut out = Vec::new();
    while let Some(r) = q.next()? {
        let state: String = r.get(2)?;
        let state = TicketState::parse(&state).ok_or_else(|| Error::Corrupt {
            table: "tickets",
            message: format!("state {state:?}"),
        })?;
        out.push(TicketHead {
            key: r.get(0)?,
            id: r.get(1)?,
            state,
            accepted_until: day_of(r.get(3)?),
        });
    }
    Ok(out)
}

/// Applies a regrouping's ticket changes in order.
pub(super) fn write_tickets(
    tx: &Connection,
    writes: &[TicketWrite],
    now: DateTime<Utc>,
) -> Result<()> {
    let now = now.timestamp();
    for w in writes {
        match w {
            TicketWrite::Create {
                key,
                team,
                package,
                figures: f,
            } => {
                tx.prepare_cached(
                    "INSERT INTO tickets(key, team, package, action, target_version, state,
                       priority, exposures, assets, kev, risk, due, breached, created_at,
                       updated_at, grp)
                     VALUES (?1, ?2, ?3, ?4, ?5, 'open', ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13,
                             ?13, ?14)",
                )?
                .execute(params![
                    key,
                    team,
                    package,
                    f.action,
                    f.target_version,
                    f.priority.as_str(),
                    f.exposures as i64,
                    f.assets as i64,
                    f.kev as i64,
                    f.risk,
                    f.due.map(day_num),
                    f.breached,
                    now,
                    f.group
                ])?;
                let id = tx.last_insert_rowid();
                event(
                    tx,
                    id,
                    now,
                    "created",
                    None,
                    &format!("created: {}", f.action),
                )?;
            }
            TicketWrite::Update { id, figures: f } => {
                tx.prepare_cached(
                    "UPDATE tickets SET action = ?2, target_version = ?3, priority = ?4,
                     exposures = ?5, assets = ?6, kev = ?7, risk = ?8, due = ?9, breached = ?10,
                     grp = ?11
                     WHERE id = ?1",
                )?
                .execute(params![
                    id,
                    f.action,
                    f.target_version,
                    f.priority.as_str(),
                    f.exposures as i64,
                    f.assets as i64,
                    f.kev as i64,
                    f.risk,
                    f.due.map(day_num),
                    f.breached,
                    f.group
                ])?;
            }
            TicketWrite::Empty { id } => {
                tx.prepare_cached(
                    "UPDATE tickets SET exposures = 0, assets = 0, kev = 0, risk = 0,
                     breached = 0, updated_at = ?2 WHERE id = ?1",
                )?
                .execute(params![id, now])?;
            }
            TicketWrite::Move { id, to, kind, text } => {
                let reopen = *to == TicketState::Open;
                tx.prepare_cached(
                    "UPDATE tickets SET state = ?2, updated_at = ?3, accepted_until = NULL,
                            reopened = reopened + ?4 WHERE id = ?1",
                )?
                .execute(params![id, to.as_str(), now, i64::from(reopen)])?;
                event(tx, *id, now, kind, None, text)?;
            }
        }
    }
    Ok(())
}

/// The open exposures `ctem top` groups. Informational findings (severity info: an open
/// port, a banner) and VEX `not_affected` ones never enter it.
pub(super) fn top_rows(
    conn: &Connection,
    each: &mut dyn FnMut(&TopRow<'_>) -> Result<()>,
) -> Result<()> {
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
    while let Some(r) = q.next()? {
        each(&TopRow {
            name: r.get_ref(0)?.as_str().unwrap_or(""),
            is_package: r.get(1)?,
            version: r.get_ref(2)?.as_str().unwrap_or(""),
            fixed_version: r.get_ref(3)?.as_str_or_null().ok().flatten(),
            asset_id: r.get(4)?,
            score: r.get(5)?,
            kev: r.get(6)?,
            priority: Priority::from_number(r.get(7)?),
            due: day_of(r.get(8)?),
            team: r.get_ref(9)?.as_str().unwrap_or("unassigned"),
            internet_facing: r.get(10)?,
        })?;
    }
    Ok(())
}
