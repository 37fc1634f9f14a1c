//! The [`Store`] methods on PostgreSQL: listings of assets, services, packages, exposures
//! and scans, one exposure with its history and sources, manual status changes and the
//! overview (the counterparts of `sqlite/query.rs` and `sqlite/overview.rs`). The import
//! session is `import.rs`.

use chrono::{NaiveDate, Utc};
use ctem_model::{
    Asset, AssetKind, Exposure, ExposureKind, ExposureStatus, Identifier, IdentifierKind,
    ImportSummary, Scan, Service, Severity, StatusChange,
};
use postgres::Row;
use postgres::types::ToSql;

use super::{PgStore, ts};
use crate::prepared::{Detail, Instance};
use crate::{
    AssetFilter, AssetRow, Error, ExposureFilter, ExposureSource, ImportSession, Overview, Result,
    ScanMeta, Store,
};

/// The tool name of inventory imports (`sqlite/context.rs` keeps the same).
const INVENTORY: &str = "inventory";

fn corrupt(table: &'static str, message: String) -> Error {
    Error::Corrupt { table, message }
}

const EXPOSURE_COLUMNS: &str = "e.id, e.asset_id, e.status, e.first_seen, e.last_seen, \
    e.fixed_at, e.kind, e.severity, d.data, e.instance, ci.cve, ci.kev, ci.kev_date_added, \
    ci.kev_due_date, ci.kev_ransomware, ci.epss, ci.epss_percentile, ci.epss_date, ci.record, \
    ci.kev_data, e.pkg_name, e.pkg_version, e.fixed_version";
const EXPOSURE_FROM: &str = "exposures e JOIN exposure_details d ON d.id = e.detail_id \
                             LEFT JOIN intel_cve_enrichment ci ON ci.cve = e.cve";

/// Sets `e.intel` from the joined enrichment columns (from column 10) by the one
/// enrichment (`ctem_model::enrich`, applied as the SQLite backend applies it).
fn apply_enrichment(e: &mut Exposure, r: &Row) {
    let row = crate::sqlite::intel::EnrichRow {
        cve: r.get(10),
        kev: r.get::<_, Option<i64>>(11).unwrap_or(0) != 0,
        kev_date_added: r.get(12),
        kev_due_date: r.get(13),
        kev_ransomware: r.get(14),
        epss: r.get(15),
        epss_percentile: r.get(16),
        epss_date: r.get(17),
        record: r.get(18),
        kev_data: r.get(19),
    };
    crate::sqlite::intel::apply_enrichment(e, row);
}

fn build_exposure(r: &Row) -> Result<Exposure> {
    let id: i64 = r.get(0);
    let bad = |what: String| corrupt("exposures", format!("{id}: {what}"));
    let d: Detail = serde_json::from_str(r.get(8)).map_err(|e| bad(format!("detail: {e}")))?;
    let mut i: Instance =
        serde_json::from_str(r.get(9)).map_err(|e| bad(format!("instance: {e}")))?;
    let kind: String = r.get(6);
    let kind = ExposureKind::parse(&kind).ok_or_else(|| bad(format!("kind {kind:?}")))?;
    let severity: i64 = r.get(7);
    let severity = usize::try_from(severity)
        .ok()
        .and_then(|s| Severity::ALL.get(s).copied())
        .ok_or_else(|| bad(format!("severity {severity}")))?;
    let mut e = Exposure::new(kind, d.title, severity);
    e.description = d.description;
    e.cves = d.cves;
    e.advisories = d.advisories;
    e.cwes = d.cwes;
    e.rule_id = d.rule_id;
    e.cvss = d.cvss;
    e.references = d.references;
    e.package = i.package(r.get(20), r.get(21), r.get(22));
    e.location = i.location;
    e.port = i.port;
    e.protocol = i.protocol;
    e.evidence = i.evidence;
    e.solution = i.solution;
    e.tool_key = i.tool_key;
    e.id = Some(id);
    e.asset_id = Some(r.get(1));
    let status: String = r.get(2);
    e.status = ExposureStatus::parse(&status).ok_or_else(|| bad(format!("status {status:?}")))?;
    e.first_seen = Some(ts(r.get(3)));
    e.last_seen = Some(ts(r.get(4)));
    e.fixed_at = r.get::<_, Option<i64>>(5).map(ts);
    apply_enrichment(&mut e, r);
    Ok(e)
}

/// Appends the filter of an exposure listing to `sql`; the values go to `args` as owned
/// parameters (bound in order as `$1`, `$2`...).
fn exposure_where(f: &ExposureFilter, sql: &mut String, args: &mut Vec<Box<dyn ToSql + Sync>>) {
    let mut bind = |sql: &mut String, v: Box<dyn ToSql + Sync>| {
        args.push(v);
        sql.push_str(&format!("${}", args.len()));
    };
    if let Some(s) = f.min_severity {
        sql.push_str(" AND e.severity >= ");
        bind(sql, Box::new(s as i64));
    }
    if !f.statuses.is_empty() {
        let s: Vec<String> = f.statuses.iter().map(|s| s.as_str().to_string()).collect();
        sql.push_str(" AND e.status = ANY(");
        bind(sql, Box::new(s));
        sql.push(')');
    }
    if let Some(a) = &f.asset {
        match a.parse::<i64>() {
            Ok(id) => {
                sql.push_str(" AND e.asset_id = ");
                bind(sql, Box::new(id));
            }
            Err(_) => {
                sql.push_str(" AND e.asset_id IN (SELECT id FROM assets WHERE name = ");
                bind(sql, Box::new(a.clone()));
                sql.push_str(" UNION SELECT asset_id FROM asset_identifiers WHERE value = ");
                bind(sql, Box::new(a.to_ascii_lowercase()));
                sql.push(')');
            }
        }
    }
    if let Some(c) = &f.cve {
        let c = c.to_ascii_uppercase();
        sql.push_str(" AND (e.cve = ");
        bind(sql, Box::new(c.clone()));
        sql.push_str(" OR (d.data::jsonb -> 'cves') ? ");
        bind(sql, Box::new(c));
        sql.push(')');
    }
    if f.kev {
        sql.push_str(" AND ci.kev = 1");
    }
    if let Some(t) = &f.tool {
        sql.push_str(
            " AND EXISTS (SELECT 1 FROM sources src JOIN exposure_sources s
                ON s.source_id = src.id AND s.exposure_id = e.id WHERE src.tool = ",
        );
        bind(sql, Box::new(t.clone()));
        sql.push(')');
    }
    use crate::ExposureSort as S;
    match (f.sort, f.after) {
        (S::Severity, Some(c)) => {
            sql.push_str(" AND e.severity <= ");
            bind(sql, Box::new(c.key));
            sql.push_str(" AND (e.severity < ");
            bind(sql, Box::new(c.key));
            sql.push_str(" OR e.id > ");
            bind(sql, Box::new(c.id));
            sql.push(')');
        }
        (S::SeverityNewest, Some(c)) => {
            sql.push_str(" AND (e.severity, e.id) < (");
            bind(sql, Box::new(c.key));
            sql.push_str(", ");
            bind(sql, Box::new(c.id));
            sql.push(')');
        }
        (S::Id, Some(c)) => {
            sql.push_str(" AND e.id > ");
            bind(sql, Box::new(c.id));
        }
        (S::IdDesc, Some(c)) => {
            sql.push_str(" AND e.id < ");
            bind(sql, Box::new(c.id));
        }
        (_, None) => {}
    }
    sql.push_str(match f.sort {
        S::Severity => " ORDER BY e.severity DESC, e.id",
        S::SeverityNewest => " ORDER BY e.severity DESC, e.id DESC",
        S::Id => " ORDER BY e.id",
        S::IdDesc => " ORDER BY e.id DESC",
    });
    if let Some(l) = f.limit {
        sql.push_str(&format!(" LIMIT {l}"));
    }
}

impl PgStore {
    fn identifiers(&self, asset_id: i64) -> Result<Vec<Identifier>> {
        let rows = self.db().query(
            "SELECT kind, value FROM asset_identifiers WHERE asset_id = $1
             ORDER BY kind COLLATE \"C\", value COLLATE \"C\"",
            &[&asset_id],
        )?;
        rows.iter()
            .map(|r| {
                let k: String = r.get(0);
                let kind = IdentifierKind::parse(&k)
                    .ok_or_else(|| corrupt("asset_identifiers", format!("kind {k:?}")))?;
                Ok(Identifier {
                    kind,
                    value: r.get(1),
                })
            })
            .collect()
    }

    /// An asset from the first 12 columns of `r` (as `query_asset` selects them).
    fn asset_from_row(&self, r: &Row) -> Result<Asset> {
        let id: i64 = r.get(0);
        let kind: String = r.get(1);
        Ok(Asset {
            id: Some(id),
            kind: AssetKind::parse(&kind)
                .ok_or_else(|| corrupt("assets", format!("{id}: kind {kind:?}")))?,
            name: r.get(2),
            identifiers: self.identifiers(id)?,
            tags: serde_json::from_str(r.get(3)).unwrap_or_default(),
            owner_team: r.get(4),
            criticality: r
                .get::<_, Option<i64>>(5)
                .and_then(|c| u8::try_from(c).ok()),
            internet_facing: r.get::<_, Option<i64>>(6).map(|v| v != 0),
            zone: r.get(7),
            os: r.get(8),
            environment: r.get(11),
        })
    }

    fn history(&self, e: &mut Exposure, id: i64) -> Result<()> {
        // the first entry is implied by first_seen
        e.history.push(StatusChange {
            at: e.first_seen.unwrap_or_default(),
            from: None,
            to: ExposureStatus::Open,
            scan_id: None,
            reason: "first seen".into(),
        });
        // ctid: the insertion order of rows that are never updated (SQLite's rowid)
        let rows = self.db().query(
            "SELECT at, from_status, to_status, scan_id, reason FROM exposure_history
             WHERE exposure_id = $1 ORDER BY ctid",
            &[&id],
        )?;
        for r in rows {
            let to: String = r.get(2);
            e.history.push(StatusChange {
                at: ts(r.get(0)),
                from: r.get::<_, Option<&str>>(1).and_then(ExposureStatus::parse),
                to: ExposureStatus::parse(&to)
                    .ok_or_else(|| corrupt("exposure_history", format!("status {to:?}")))?,
                scan_id: r.get(3),
                reason: r.get(4),
            });
        }
        Ok(())
    }
}

impl Store for PgStore {
    fn begin_import(&mut self, meta: ScanMeta) -> Result<Box<dyn ImportSession + '_>> {
        Ok(Box::new(self.begin(meta)?))
    }

    fn assets(&self, f: &AssetFilter) -> Result<Vec<AssetRow>> {
        let mut sql = String::from(
            "SELECT a.id, a.kind, a.name, a.tags, a.owner_team, a.criticality, a.internet_facing,
                    a.zone, a.os, a.first_seen, a.last_seen, a.environment,
                    (SELECT count(*) FROM services s WHERE s.asset_id = a.id AND s.state = 'open'),
                    (SELECT count(*) FROM exposures e WHERE e.asset_id = a.id
                       AND e.status IN ('open', 'reopened')),
                    a.fact_sources,
                    (SELECT array_agg(s.tool) FROM asset_sources x
                       JOIN sources s ON s.id = x.source_id WHERE x.asset_id = a.id)
             FROM assets a WHERE true",
        );
        let mut args: Vec<Box<dyn ToSql + Sync>> = Vec::new();
        let mut bind = |sql: &mut String, v: Box<dyn ToSql + Sync>| {
            args.push(v);
            sql.push_str(&format!("${}", args.len()));
        };
        if let Some(id) = f.id {
            sql.push_str(" AND a.id = ");
            bind(&mut sql, Box::new(id));
        }
        if let Some(k) = f.kind {
            sql.push_str(" AND a.kind = ");
            bind(&mut sql, Box::new(k.as_str().to_string()));
        }
        if let Some(s) = &f.search {
            // LIKE as SQLite's: case-insensitive for ASCII
            let pat = format!("%{s}%");
            sql.push_str(" AND (a.name ILIKE ");
            bind(&mut sql, Box::new(pat.clone()));
            sql.push_str(
                " OR EXISTS (SELECT 1 FROM asset_identifiers i WHERE i.asset_id = a.id
                   AND i.value ILIKE ",
            );
            bind(&mut sql, Box::new(pat));
            sql.push_str("))");
        }
        if let Some(t) = &f.tag {
            sql.push_str(" AND a.tags::jsonb ? ");
            bind(&mut sql, Box::new(t.clone()));
        }
        if let Some(after) = f.after_id {
            sql.push_str(" AND a.id > ");
            bind(&mut sql, Box::new(after));
        }
        sql.push_str(" ORDER BY a.id");
        if let Some(l) = f.limit {
            sql.push_str(&format!(" LIMIT {l}"));
        }
        let refs: Vec<&(dyn ToSql + Sync)> = args.iter().map(|a| a.as_ref()).collect();
        let rows = self.db().query(&sql, &refs)?;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            let asset = self.asset_from_row(&r)?;
            let mut sources: Vec<String> = r.get::<_, Option<Vec<String>>>(15).unwrap_or_default();
            sources.sort();
            sources.dedup();
            out.push(AssetRow {
                asset,
                first_seen: ts(r.get(9)),
                last_seen: ts(r.get(10)),
                services: r.get::<_, i64>(12).max(0) as u64,
                open_exposures: r.get::<_, i64>(13).max(0) as u64,
                never_scanned: sources.iter().all(|t| t == INVENTORY),
                sources,
                fact_sources: serde_json::from_str(r.get(14)).unwrap_or_default(),
            });
        }
        Ok(out)
    }

    fn asset(&self, id: i64) -> Result<Option<Asset>> {
        let row = self.db().query_opt(
            "SELECT id, kind, name, tags, owner_team, criticality, internet_facing, zone, os,
                    first_seen, last_seen, environment FROM assets WHERE id = $1",
            &[&id],
        )?;
        row.map(|r| self.asset_from_row(&r)).transpose()
    }

    fn services(&self, asset_id: i64) -> Result<Vec<Service>> {
        let rows = self.db().query(
            "SELECT protocol, port, state, name, product, version, cpe FROM services
             WHERE asset_id = $1 ORDER BY protocol COLLATE \"C\", port",
            &[&asset_id],
        )?;
        rows.iter()
            .map(|r| {
                let port: i64 = r.get(1);
                Ok(Service {
                    protocol: r.get(0),
                    port: u16::try_from(port)
                        .map_err(|_| corrupt("services", format!("port {port}")))?,
                    state: r.get(2),
                    name: r.get(3),
                    product: r.get(4),
                    version: r.get(5),
                    cpe: serde_json::from_str(r.get(6)).unwrap_or_default(),
                })
            })
            .collect()
    }

    fn packages(&self, asset_id: i64) -> Result<Vec<ctem_model::Package>> {
        let rows = self.db().query(
            "SELECT name, version, path, ecosystem FROM asset_packages WHERE asset_id = $1
             ORDER BY name COLLATE \"C\", version COLLATE \"C\", path COLLATE \"C\"",
            &[&asset_id],
        )?;
        Ok(rows
            .iter()
            .map(|r| {
                let version: String = r.get(1);
                let path: String = r.get(2);
                ctem_model::Package {
                    name: r.get(0),
                    version: (!version.is_empty()).then_some(version),
                    fixed_version: None,
                    ecosystem: r.get(3),
                    path: (!path.is_empty()).then_some(path),
                }
            })
            .collect())
    }

    fn exposures(&self, filter: &ExposureFilter) -> Result<Vec<Exposure>> {
        let mut out = Vec::new();
        self.each_exposure(filter, &mut |e| {
            out.push(e);
            Ok(())
        })?;
        Ok(out)
    }

    /// Streams the rows through a portal, 1,000 at a time, so a listing of any size stays
    /// in bounded memory.
    fn each_exposure(
        &self,
        filter: &ExposureFilter,
        each: &mut dyn FnMut(Exposure) -> Result<()>,
    ) -> Result<()> {
        let mut sql = format!("SELECT {EXPOSURE_COLUMNS} FROM {EXPOSURE_FROM} WHERE true");
        let mut args: Vec<Box<dyn ToSql + Sync>> = Vec::new();
        exposure_where(filter, &mut sql, &mut args);
        let refs: Vec<&(dyn ToSql + Sync)> = args.iter().map(|a| a.as_ref()).collect();
        let mut db = self.db();
        let mut tx = db.transaction()?;
        let portal = tx.bind(sql.as_str(), &refs)?;
        loop {
            let rows = tx.query_portal(&portal, 1000)?;
            if rows.is_empty() {
                break;
            }
            for r in &rows {
                each(build_exposure(r)?)?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    fn exposure(&self, id: i64) -> Result<Option<Exposure>> {
        let row = self.db().query_opt(
            &format!("SELECT {EXPOSURE_COLUMNS} FROM {EXPOSURE_FROM} WHERE e.id = $1"),
            &[&id],
        )?;
        let Some(row) = row else { return Ok(None) };
        let mut e = build_exposure(&row)?;
        self.history(&mut e, id)?;
        Ok(Some(e))
    }

    fn exposure_sources(&self, id: i64) -> Result<Vec<ExposureSource>> {
        let rows = self.db().query(
            "SELECT src.tool, src.scope, s.active, s.first_seen, s.last_seen, s.last_scan_id
             FROM sources src JOIN exposure_sources s
               ON s.source_id = src.id AND s.exposure_id = $1
             ORDER BY src.tool COLLATE \"C\", src.scope COLLATE \"C\"",
            &[&id],
        )?;
        Ok(rows
            .iter()
            .map(|r| ExposureSource {
                tool: r.get(0),
                scope: r.get(1),
                active: r.get::<_, i64>(2) != 0,
                first_seen: ts(r.get(3)),
                last_seen: ts(r.get(4)),
                last_scan_id: r.get(5),
            })
            .collect())
    }

    fn scans(&self) -> Result<Vec<Scan>> {
        let rows = self.db().query(
            "SELECT id, tool, format, scope, explicit_scope, file, sha256, started_at,
                    finished_at, imported_at, summary FROM scans ORDER BY id",
            &[],
        )?;
        rows.iter()
            .map(|r| {
                let id: i64 = r.get(0);
                let summary: ImportSummary = serde_json::from_str(r.get(10))
                    .map_err(|e| corrupt("scans", format!("{id}: summary: {e}")))?;
                Ok(Scan {
                    id: Some(id),
                    tool: r.get(1),
                    format: r.get(2),
                    scope: r.get(3),
                    explicit_scope: r.get::<_, i64>(4) != 0,
                    file: r.get(5),
                    sha256: r.get(6),
                    started_at: r.get::<_, Option<i64>>(7).map(ts),
                    finished_at: r.get::<_, Option<i64>>(8).map(ts),
                    imported_at: ts(r.get(9)),
                    summary,
                })
            })
            .collect()
    }

    fn set_status(&mut self, id: i64, status: ExposureStatus, reason: &str) -> Result<()> {
        let mut db = self.db();
        let mut tx = db.transaction()?;
        let old = tx.query_opt(
            "SELECT status FROM exposures WHERE id = $1 FOR UPDATE",
            &[&id],
        )?;
        let Some(old) = old else {
            return Err(Error::NotFound(format!("exposure {id}")));
        };
        let old: String = old.get(0);
        let now = Utc::now().timestamp();
        let fixed_at = (status == ExposureStatus::Fixed).then_some(now);
        tx.execute(
            "UPDATE exposures SET status = $2, fixed_at = $3 WHERE id = $1",
            &[&id, &status.as_str(), &fixed_at],
        )?;
        tx.execute(
            "INSERT INTO exposure_history(exposure_id, at, from_status, to_status, scan_id, reason)
             VALUES ($1, $2, $3, $4, NULL, $5)",
            &[&id, &now, &old, &status.as_str(), &reason],
        )?;
        // the follow-up scores it again
        tx.execute(
            "INSERT INTO followup_exposures(exposure_id) VALUES ($1) ON CONFLICT DO NOTHING",
            &[&id],
        )?;
        tx.commit()?;
        Ok(())
    }

    fn overview(&self, today: NaiveDate, days: u32) -> Result<Overview> {
        self.query_overview(today, days)
    }
}

impl PgStore {
    fn query_overview(&self, today: NaiveDate, days: u32) -> Result<Overview> {
        let mut db = self.db();
        let assets: i64 = db.query_one("SELECT count(*) FROM assets", &[])?.get(0);
        let mut by_severity = [0u64; 6];
        for r in db.query(
            "SELECT severity, count(*) FROM exposures
             WHERE status IN ('open', 'reopened') GROUP BY severity",
            &[],
        )? {
            if let Some(slot) = usize::try_from(r.get::<_, i64>(0))
                .ok()
                .and_then(|s| by_severity.get_mut(s))
            {
                *slot = r.get::<_, i64>(1) as u64;
            }
        }
        let mut by_priority = [0u64; 4];
        let (mut kev_open, mut breached) = (0u64, 0u64);
        let day = i64::from(chrono::Datelike::num_days_from_ce(&today));
        for r in db.query(
            "SELECT r.priority, count(*), sum(r.kev)::int8,
                    count(*) FILTER (WHERE r.due IS NOT NULL AND r.due < $1)
             FROM exposure_risk r JOIN exposures e ON e.id = r.exposure_id
             WHERE e.status IN ('open', 'reopened') GROUP BY r.priority",
            &[&day],
        )? {
            let p: i64 = r.get(0);
            if let Some(slot) = usize::try_from(p - 1)
                .ok()
                .and_then(|p| by_priority.get_mut(p))
            {
                *slot = r.get::<_, i64>(1) as u64;
            }
            kev_open += r.get::<_, Option<i64>>(2).unwrap_or(0) as u64;
            breached += r.get::<_, i64>(3) as u64;
        }
        let start = today - chrono::Duration::days(i64::from(days.max(1)) - 1);
        let from = start
            .and_hms_opt(0, 0, 0)
            .map(|d| d.and_utc().timestamp())
            .unwrap_or(0);
        let mut trend: Vec<(NaiveDate, u64, u64)> = (0..days.max(1))
            .map(|i| (start + chrono::Duration::days(i64::from(i)), 0, 0))
            .collect();
        for (col, new) in [("first_seen", true), ("fixed_at", false)] {
            for r in db.query(
                &format!(
                    "SELECT ({col} - $1) / 86400, count(*) FROM exposures
                     WHERE {col} >= $1 GROUP BY 1"
                ),
                &[&from],
            )? {
                let n = r.get::<_, i64>(1) as u64;
                if let Some(t) = usize::try_from(r.get::<_, i64>(0))
                    .ok()
                    .and_then(|d| trend.get_mut(d))
                {
                    if new {
                        t.1 = n;
                    } else {
                        t.2 = n;
                    }
                }
            }
        }
        Ok(Overview {
            assets: assets as u64,
            open_by_severity: by_severity,
            open_by_priority: by_priority,
            kev_open,
            sla_breached: breached,
            trend,
        })
    }
}
