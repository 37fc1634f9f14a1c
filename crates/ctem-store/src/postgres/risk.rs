//! The row I/O of prioritisation on PostgreSQL ([`crate::risk::RiskRows`]), the counterpart
//! of `sqlite/work/{pass,rows,assets,scan,followup}.rs`.
//!
//! A pass is one `REPEATABLE READ` transaction (every read of the pass sees one state),
//! begun once the session holds the store's writer lock (an advisory lock,
//! [`PgStore::writer_lock`], released after the commit or rollback), so two passes never
//! interleave and each reads what the one before it committed. Exposures are read through a portal, 16,384 at a time,
//! scored, and their rows written with one binary `COPY` per chunk, so memory stays bounded
//! whatever the store size. The follow-up's scope is a temporary table
//! (`pg_temp.risk_scope`).

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};
use ctem_model::context::FactSources;
use ctem_model::intel::Enrichment;
use ctem_model::risk::Priority;
use ctem_model::work::{OwnershipRule, Team, TicketState};
use ctem_model::{Asset, AssetKind, ExposureStatus, Identifier, IdentifierKind, Severity};
use postgres::binary_copy::BinaryCopyInWriter;
use postgres::types::{ToSql, Type};
use postgres::{Client, Row};

use super::work::{day_num, day_of, event};
use super::{PgStore, intel};
use crate::risk::{
    AssetReads, AssetRisk, DetailRisk, ExposureRisk, FollowUpMark, RiskPass, RiskRow, RiskRows,
    RiskScope, ScoreExposures, TicketHead, TicketWrite, TopRow,
};
use crate::{Error, Result};

/// The exposures of the follow-up's scope.
const SCOPE: &str = "SELECT id FROM pg_temp.risk_scope";

/// Rows read, scored and written at once.
const CHUNK: i32 = 16_384;

/// `clause` (with a leading space) for the follow-up's scope, nothing for the whole pass.
fn scoped(scope: RiskScope, clause: &str) -> String {
    match scope {
        RiskScope::All => String::new(),
        RiskScope::FollowUp => format!(" {clause}"),
    }
}

struct PgPass<'c> {
    db: &'c mut Client,
    /// The writer lock's key (held by the session from before the transaction began).
    key: String,
    open: bool,
}

impl Drop for PgPass<'_> {
    fn drop(&mut self) {
        if self.open {
            let _ = self.db.batch_execute("ROLLBACK");
            let _ = self
                .db
                .execute("SELECT pg_advisory_unlock(hashtext($1))", &[&self.key]);
        }
    }
}

impl PgStore {
    /// The key of the store's writer lock: a prioritisation pass (and, later, an import)
    /// holds it around its transaction.
    pub(crate) fn writer_lock(&self) -> String {
        format!("ctem writer {}", self.schema)
    }
}

impl RiskRows for PgStore {
    fn begin_risk_pass(&mut self) -> Result<Box<dyn RiskPass + '_>> {
        let key = self.writer_lock();
        let db = self.client.get_mut();
        // the lock first, then the transaction: its snapshot is then of after the previous
        // holder's commit (a lock taken inside it would come after the snapshot). The wait
        // ends at the busy timeout (`lock_timeout`) as `unavailable`.
        db.execute("SELECT pg_advisory_lock(hashtext($1))", &[&key])?;
        let pass = Box::new(PgPass {
            db,
            key,
            open: true,
        });
        pass.db
            .batch_execute("BEGIN ISOLATION LEVEL REPEATABLE READ")?;
        Ok(pass)
    }

    fn top_rows(&self, each: &mut dyn FnMut(&TopRow<'_>) -> Result<()>) -> Result<()> {
        let rows = self.db().query(
            "SELECT coalesce(e.pkg_name, e.title), e.pkg_name IS NOT NULL,
                    coalesce(e.pkg_version, ''), nullif(trim(coalesce(e.fixed_version, '')), ''),
                    e.asset_id, r.score, r.kev, r.priority, r.due,
                    coalesce(r.team, 'unassigned'), coalesce(a.internet_facing, 0)
             FROM exposures e JOIN exposure_risk r ON r.exposure_id = e.id
                  JOIN assets a ON a.id = e.asset_id
             WHERE e.status IN ('open', 'reopened') AND strpos(e.instance, 'not_affected') = 0
               AND e.severity <> 1",
            &[],
        )?;
        for r in &rows {
            each(&TopRow {
                name: r.get(0),
                is_package: r.get(1),
                version: r.get(2),
                fixed_version: r.get(3),
                asset_id: r.get(4),
                score: r.get(5),
                kev: r.get::<_, i64>(6) != 0,
                priority: Priority::from_number(r.get(7)),
                due: day_of(r.get(8)),
                team: r.get(9),
                internet_facing: r.get::<_, i64>(10) != 0,
            })?;
        }
        Ok(())
    }
}

fn exposure(r: &Row) -> ExposureRisk<'_> {
    ExposureRisk {
        id: r.get(0),
        asset_id: r.get(1),
        detail_id: r.get(2),
        severity: usize::try_from(r.get::<_, i64>(3))
            .ok()
            .and_then(|s| Severity::ALL.get(s).copied())
            .unwrap_or_default(),
        status: ExposureStatus::parse(r.get(4)).unwrap_or(ExposureStatus::Open),
        package: r.get(5),
        version: r.get(6),
        fixed_version: r.get::<_, Option<&str>>(7).filter(|f| !f.trim().is_empty()),
        port: r.get(8),
        first_seen: DateTime::from_timestamp(r.get(9), 0).unwrap_or_default(),
        // the VEX analysis is in the solution, which lives in the instance JSON
        vex_not_affected: r.get::<_, &str>(10).contains("not_affected"),
    }
}

const RISK_TYPES: [Type; 8] = [
    Type::INT8,
    Type::FLOAT8,
    Type::INT8,
    Type::INT8,
    Type::INT8,
    Type::INT8,
    Type::TEXT,
    Type::INT8,
];

impl PgPass<'_> {
    fn load_identifiers(&mut self, addresses: bool) -> Result<HashMap<i64, Vec<Identifier>>> {
        let kinds: &[&str] = if addresses {
            &["repo_url", "ipv4", "ipv6"]
        } else {
            &["repo_url"]
        };
        let mut out: HashMap<i64, Vec<Identifier>> = HashMap::new();
        for r in self.db.query(
            "SELECT asset_id, kind, value FROM asset_identifiers WHERE kind = ANY($1)",
            &[&kinds],
        )? {
            let kind = IdentifierKind::parse(r.get(1)).unwrap_or(IdentifierKind::Name);
            out.entry(r.get(0)).or_default().push(Identifier {
                kind,
                value: r.get(2),
            });
        }
        Ok(out)
    }
}

impl RiskPass for PgPass<'_> {
    fn put_config(&mut self, teams: &[Team], rules: Option<&[OwnershipRule]>) -> Result<()> {
        for t in teams {
            self.db.execute(
                "INSERT INTO teams(name, description) VALUES ($1, $2)
                 ON CONFLICT(name) DO UPDATE SET
                    description = coalesce(excluded.description, teams.description)",
                &[&t.name, &t.description],
            )?;
        }
        let Some(rules) = rules else {
            return Ok(());
        };
        self.db
            .execute("DELETE FROM ownership_rules WHERE source = 'config'", &[])?;
        for (i, r) in rules.iter().enumerate() {
            if r.pattern.is_empty() || r.team.trim().is_empty() {
                return Err(Error::Invalid(format!(
                    "ownership rule {} in the configuration needs a pattern and a team",
                    i + 1
                )));
            }
            self.db.execute(
                "INSERT INTO teams(name) VALUES ($1) ON CONFLICT DO NOTHING",
                &[&r.team],
            )?;
            // configuration rules come before rules added on the command line
            self.db.execute(
                "INSERT INTO ownership_rules(position, kind, pattern, team, source, priority)
                 VALUES ($1, $2, $3, $4, 'config', $5)",
                &[
                    &(i as i64 - 1_000_000),
                    &r.kind.as_str(),
                    &r.pattern,
                    &r.team,
                    &r.priority,
                ],
            )?;
        }
        Ok(())
    }

    fn rules(&mut self) -> Result<Vec<OwnershipRule>> {
        let rows = self.db.query(
            "SELECT id, position, kind, pattern, team, priority FROM ownership_rules
             ORDER BY position, id",
            &[],
        )?;
        super::work::rules_from(&rows)
    }

    fn assets(&mut self, scope: RiskScope, reads: AssetReads) -> Result<Vec<AssetRisk>> {
        let mut identifiers = self.load_identifiers(reads.addresses)?;
        let of_scope = format!("IN (SELECT asset_id FROM exposures WHERE id IN ({SCOPE}))");
        let mut tools: HashMap<i64, Vec<String>> = HashMap::new();
        if reads.tools {
            for r in self.db.query(
                "SELECT DISTINCT a.asset_id, s.tool FROM asset_sources a
                 JOIN sources s ON s.id = a.source_id ORDER BY 1, 2 COLLATE \"C\"",
                &[],
            )? {
                tools.entry(r.get(0)).or_default().push(r.get(1));
            }
        }
        let known: std::collections::HashSet<i64> = self
            .db
            .query(
                &format!(
                    "SELECT DISTINCT asset_id FROM services{}",
                    scoped(scope, &format!("WHERE asset_id {of_scope}"))
                ),
                &[],
            )?
            .iter()
            .map(|r| r.get(0))
            .collect();
        let rows = self.db.query(
            &format!(
                "SELECT id, kind, name, tags, owner_team, criticality, internet_facing, zone,
                        environment, fact_sources FROM assets{}",
                scoped(scope, &format!("WHERE id {of_scope}"))
            ),
            &[],
        )?;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            let id: i64 = r.get(0);
            let mut a = Asset::new(
                AssetKind::parse(r.get(1)).unwrap_or(AssetKind::Host),
                r.get::<_, String>(2),
            );
            a.tags = serde_json::from_str(r.get(3)).unwrap_or_default();
            a.owner_team = r.get(4);
            a.criticality = r
                .get::<_, Option<i64>>(5)
                .and_then(|c| u8::try_from(c).ok());
            a.internet_facing = r.get::<_, Option<i64>>(6).map(|v| v != 0);
            a.zone = r.get(7);
            a.environment = r.get(8);
            let fact_sources: FactSources = serde_json::from_str(r.get(9)).unwrap_or_default();
            a.identifiers = identifiers.remove(&id).unwrap_or_default();
            out.push(AssetRisk {
                id,
                asset: a,
                fact_sources,
                tools: tools.remove(&id).unwrap_or_default(),
                services_known: known.contains(&id),
            });
        }
        Ok(out)
    }

    fn open_services(&mut self, scope: RiskScope) -> Result<Vec<(i64, i64)>> {
        let filter = scoped(
            scope,
            &format!("AND asset_id IN (SELECT asset_id FROM exposures WHERE id IN ({SCOPE}))"),
        );
        let rows = self.db.query(
            &format!("SELECT asset_id, port FROM services WHERE state = 'open'{filter}"),
            &[],
        )?;
        Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
    }

    fn kev_catalog(&mut self) -> Result<bool> {
        let r = self
            .db
            .query_one("SELECT EXISTS (SELECT 1 FROM intel_kev)", &[])?;
        Ok(r.get(0))
    }

    fn cve_intel(&mut self, scope: RiskScope) -> Result<Vec<Enrichment>> {
        let filter = scoped(
            scope,
            &format!(
                "WHERE cve IN (SELECT d.cve FROM exposure_details d WHERE d.id IN
                    (SELECT detail_id FROM exposures WHERE id IN ({SCOPE})))"
            ),
        );
        let rows = self.db.query(
            &format!(
                "SELECT cve, kev, kev_due_date, kev_ransomware, epss, epss_percentile
                 FROM intel_cve_enrichment{filter}"
            ),
            &[],
        )?;
        let date = |s: Option<&str>| s.and_then(|s| NaiveDate::parse_from_str(s, "%Y-%m-%d").ok());
        Ok(rows
            .iter()
            .map(|r| Enrichment {
                cve_id: r.get(0),
                kev: r.get::<_, i64>(1) != 0,
                kev_due_date: date(r.get(2)),
                kev_ransomware: r.get::<_, Option<&str>>(3).and_then(|s| {
                    serde_json::from_value(serde_json::Value::String(s.to_ascii_lowercase())).ok()
                }),
                epss: r.get(4),
                epss_percentile: r.get(5),
                ..Enrichment::default()
            })
            .collect())
    }

    fn details(&mut self, scope: RiskScope) -> Result<Vec<DetailRisk>> {
        #[derive(serde::Deserialize)]
        struct DetailLite {
            title: String,
            #[serde(default)]
            cves: Vec<String>,
            #[serde(default)]
            cvss: Vec<ctem_model::Cvss>,
        }
        let filter = scoped(
            scope,
            &format!("WHERE id IN (SELECT detail_id FROM exposures WHERE id IN ({SCOPE}))"),
        );
        let rows = self.db.query(
            &format!("SELECT id, data FROM exposure_details{filter}"),
            &[],
        )?;
        rows.iter()
            .map(|r| {
                let id: i64 = r.get(0);
                let d: DetailLite = serde_json::from_str(r.get(1)).map_err(|e| Error::Corrupt {
                    table: "exposure_details",
                    message: format!("{id}: {e}"),
                })?;
                Ok(DetailRisk {
                    id,
                    title: d.title,
                    cve: d.cves.into_iter().next(),
                    cvss: d.cvss,
                })
            })
            .collect()
    }

    fn score(&mut self, scope: RiskScope, scorer: &dyn ScoreExposures, write: bool) -> Result<()> {
        let filter = scoped(scope, &format!("WHERE id IN ({SCOPE})"));
        if write {
            let del = scoped(scope, &format!("WHERE exposure_id IN ({SCOPE})"));
            self.db
                .batch_execute(&format!("DELETE FROM exposure_risk{del}"))?;
        }
        // a cursor of the pass's transaction: the rows come a chunk at a time
        self.db.batch_execute(&format!(
            "DECLARE risk_rows NO SCROLL CURSOR FOR
             SELECT id, asset_id, detail_id, severity, status, pkg_name, pkg_version,
                    fixed_version, port, first_seen, instance FROM exposures{filter}
             ORDER BY id"
        ))?;
        let mut part = scorer.part();
        loop {
            let rows = self
                .db
                .query(&format!("FETCH {CHUNK} FROM risk_rows"), &[])?;
            if rows.is_empty() {
                break;
            }
            let mut scored = Vec::with_capacity(rows.len());
            for r in &rows {
                scored.push(part.score(&exposure(r))?);
            }
            if write {
                let sink = self.db.copy_in(
                    "COPY exposure_risk(exposure_id, score, priority, ssvc, kev, due, team, grp)
                     FROM STDIN (FORMAT binary)",
                )?;
                write_risk(sink, &scored)?;
            }
        }
        part.finish();
        self.db.batch_execute("CLOSE risk_rows")?;
        Ok(())
    }

    fn tickets(&mut self) -> Result<Vec<TicketHead>> {
        let rows = self
            .db
            .query("SELECT key, id, state, accepted_until FROM tickets", &[])?;
        rows.iter()
            .map(|r| {
                let state: &str = r.get(2);
                Ok(TicketHead {
                    key: r.get(0),
                    id: r.get(1),
                    state: TicketState::parse(state).ok_or_else(|| Error::Corrupt {
                        table: "tickets",
                        message: format!("state {state:?}"),
                    })?,
                    accepted_until: day_of(r.get(3)),
                })
            })
            .collect()
    }

    fn write_tickets(&mut self, writes: &[TicketWrite], now: DateTime<Utc>) -> Result<()> {
        let now = now.timestamp();
        for w in writes {
            write_ticket(self.db, w, now)?;
        }
        Ok(())
    }

    fn enrich(&mut self, scope: RiskScope) -> Result<()> {
        match scope {
            RiskScope::All => intel::run_pass(self.db).map(drop),
            RiskScope::FollowUp => intel::enrich_scope(self.db),
        }
    }

    fn follow_up_mark(&mut self) -> Result<FollowUpMark> {
        let row = self.db.query_opt(
            r#"SELECT "full", scored_max, settings, scored_day FROM followup_state WHERE id = 1"#,
            &[],
        )?;
        Ok(match row {
            Some(r) => FollowUpMark {
                full: r.get::<_, i64>(0) != 0,
                scored_max: r.get(1),
                settings: r.get(2),
                scored_day: day_of(r.get(3)),
            },
            None => FollowUpMark {
                full: true,
                ..FollowUpMark::default()
            },
        })
    }

    fn open_scope(&mut self, scored_max: i64) -> Result<u64> {
        self.db.batch_execute(
            "CREATE TEMPORARY TABLE IF NOT EXISTS risk_scope(id BIGINT PRIMARY KEY);
             DELETE FROM pg_temp.risk_scope;
             INSERT INTO pg_temp.risk_scope(id) SELECT exposure_id FROM followup_exposures;",
        )?;
        self.db.execute(
            "INSERT INTO pg_temp.risk_scope(id) SELECT id FROM exposures WHERE id > $1
             ON CONFLICT DO NOTHING",
            &[&scored_max],
        )?;
        let n: i64 = self
            .db
            .query_one("SELECT count(*) FROM pg_temp.risk_scope", &[])?
            .get(0);
        Ok(u64::try_from(n).unwrap_or(0))
    }

    fn scope_groups(&mut self) -> Result<Vec<i64>> {
        let rows = self.db.query(
            &format!(
                "SELECT DISTINCT grp FROM exposure_risk
                 WHERE grp IS NOT NULL AND exposure_id IN ({SCOPE})"
            ),
            &[],
        )?;
        Ok(rows.iter().map(|r| r.get(0)).collect())
    }

    fn grow_scope(&mut self, groups: &[i64]) -> Result<u64> {
        let n = self.db.execute(
            "INSERT INTO pg_temp.risk_scope(id)
             SELECT exposure_id FROM exposure_risk WHERE grp = ANY($1)
             ON CONFLICT DO NOTHING",
            &[&groups],
        )?;
        Ok(n)
    }

    fn finish_follow_up(&mut self, settings: &str, day: NaiveDate) -> Result<()> {
        self.db.execute("DELETE FROM followup_exposures", &[])?;
        self.db.execute(
            r#"UPDATE followup_state SET "full" = 0,
                 scored_max = (SELECT coalesce(max(id), 0) FROM exposures),
                 settings = $1, scored_day = $2, attempts = 0, last_error = NULL
               WHERE id = 1"#,
            &[&settings, &day_num(day)],
        )?;
        Ok(())
    }

    fn commit(mut self: Box<Self>) -> Result<()> {
        self.db.batch_execute("COMMIT")?;
        self.open = false;
        self.db
            .execute("SELECT pg_advisory_unlock(hashtext($1))", &[&self.key])?;
        Ok(())
    }
}

fn write_risk(sink: postgres::CopyInWriter<'_>, rows: &[RiskRow]) -> Result<()> {
    let mut w = BinaryCopyInWriter::new(sink, &RISK_TYPES);
    for r in rows {
        let (p, s, k) = (
            i64::from(r.priority.number()),
            i64::from(r.ssvc.number()),
            i64::from(r.kev),
        );
        let due = r.due.map(day_num);
        let team = r.team.as_deref();
        let v: [&(dyn ToSql + Sync); 8] =
            [&r.exposure_id, &r.score, &p, &s, &k, &due, &team, &r.group];
        w.write(&v)?;
    }
    w.finish()?;
    Ok(())
}

/// Applies one change of a regrouping.
fn write_ticket(db: &mut Client, w: &TicketWrite, now: i64) -> Result<()> {
    match w {
        TicketWrite::Create {
            key,
            team,
            package,
            figures: f,
        } => {
            let id: i64 = db
                .query_one(
                    "INSERT INTO tickets(key, team, package, action, target_version, state,
                       priority, exposures, assets, kev, risk, due, breached, created_at,
                       updated_at, grp)
                     VALUES ($1, $2, $3, $4, $5, 'open', $6, $7, $8, $9, $10, $11, $12, $13,
                             $13, $14) RETURNING id",
                    &[
                        key,
                        team,
                        package,
                        &f.action,
                        &f.target_version,
                        &f.priority.as_str(),
                        &(f.exposures as i64),
                        &(f.assets as i64),
                        &(f.kev as i64),
                        &f.risk,
                        &f.due.map(day_num),
                        &i64::from(f.breached),
                        &now,
                        &f.group,
                    ],
                )?
                .get(0);
            let text = format!("created: {}", f.action);
            event(db, id, now, "created", None, &text)?;
        }
        TicketWrite::Update { id, figures: f } => {
            db.execute(
                "UPDATE tickets SET action = $2, target_version = $3, priority = $4,
                 exposures = $5, assets = $6, kev = $7, risk = $8, due = $9, breached = $10,
                 grp = $11 WHERE id = $1",
                &[
                    id,
                    &f.action,
                    &f.target_version,
                    &f.priority.as_str(),
                    &(f.exposures as i64),
                    &(f.assets as i64),
                    &(f.kev as i64),
                    &f.risk,
                    &f.due.map(day_num),
                    &i64::from(f.breached),
                    &f.group,
                ],
            )?;
        }
        TicketWrite::Empty { id } => {
            db.execute(
                "UPDATE tickets SET exposures = 0, assets = 0, kev = 0, risk = 0,
                 breached = 0, updated_at = $2 WHERE id = $1",
                &[id, &now],
            )?;
        }
        TicketWrite::Move { id, to, kind, text } => {
            let reopen = i64::from(*to == TicketState::Open);
            db.execute(
                "UPDATE tickets SET state = $2, updated_at = $3, accepted_until = NULL,
                        reopened = reopened + $4 WHERE id = $1",
                &[id, &to.as_str(), &now, &reopen],
            )?;
            event(db, *id, now, kind, None, text)?;
        }
    }
    Ok(())
}
