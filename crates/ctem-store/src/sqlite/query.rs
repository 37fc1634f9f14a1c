//! Read queries and manual status changes.

use chrono::{DateTime, Utc};
use ctem_model::{
    Asset, AssetKind, Exposure, ExposureKind, ExposureStatus, Identifier, IdentifierKind,
    ImportSummary, Scan, Service, Severity, StatusChange,
};
use rusqlite::types::Value as SqlValue;
use rusqlite::{OptionalExtension, Row, params, params_from_iter};

use super::SqliteStore;
use crate::prepared::{Detail, Instance};
use crate::{AssetFilter, AssetRow, Error, ExposureFilter, ExposureSource, Result};

fn ts(t: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(t, 0).unwrap_or_default()
}

fn corrupt(table: &'static str, message: String) -> Error {
    Error::Corrupt { table, message }
}

const EXPOSURE_COLUMNS: &str = "e.id, e.asset_id, e.status, e.first_seen, e.last_seen, \
                                e.fixed_at, e.kind, e.severity, d.data, e.instance, \
                                ci.cve, ci.kev, ci.kev_date_added, ci.kev_due_date, \
                                ci.kev_ransomware, ci.epss, ci.epss_percentile, ci.epss_date, \
                                ci.record, ci.kev_data, e.pkg_name, e.pkg_version, \
                                e.fixed_version";
const EXPOSURE_FROM: &str = "exposures e JOIN exposure_details d ON d.id = e.detail_id \
                             LEFT JOIN intel_cve_enrichment ci ON ci.cve = e.cve";

pub(crate) struct ExposureRow {
    id: i64,
    asset_id: i64,
    status: String,
    first: i64,
    last: i64,
    fixed: Option<i64>,
    kind: String,
    severity: i64,
    detail: String,
    instance: String,
    intel: super::intel::EnrichRow,
    package: [Option<String>; 3],
}

fn exposure_from_row(r: &Row<'_>) -> rusqlite::Result<ExposureRow> {
    Ok(ExposureRow {
        id: r.get(0)?,
        asset_id: r.get(1)?,
        status: r.get(2)?,
        first: r.get(3)?,
        last: r.get(4)?,
        fixed: r.get(5)?,
        kind: r.get(6)?,
        severity: r.get(7)?,
        detail: r.get(8)?,
        instance: r.get(9)?,
        intel: super::intel::enrich_row(r, 10)?,
        package: [r.get(20)?, r.get(21)?, r.get(22)?],
    })
}

fn build_exposure(row: ExposureRow) -> Result<Exposure> {
    let ExposureRow {
        id,
        asset_id,
        status,
        first,
        last,
        fixed,
        kind,
        severity,
        detail,
        instance,
        intel,
        package: [pkg_name, pkg_version, fixed_version],
    } = row;
    let bad = |what: &str| corrupt("exposures", format!("{id}: {what}"));
    let d: Detail = serde_json::from_str(&detail).map_err(|e| bad(&format!("detail: {e}")))?;
    let mut i: Instance =
        serde_json::from_str(&instance).map_err(|e| bad(&format!("instance: {e}")))?;
    let kind = ExposureKind::parse(&kind).ok_or_else(|| bad(&format!("kind {kind:?}")))?;
    let severity = usize::try_from(severity)
        .ok()
        .and_then(|s| Severity::ALL.get(s).copied())
        .ok_or_else(|| bad(&format!("severity {severity}")))?;
    let mut e = Exposure::new(kind, d.title, severity);
    e.description = d.description;
    e.cves = d.cves;
    e.advisories = d.advisories;
    e.cwes = d.cwes;
    e.rule_id = d.rule_id;
    e.cvss = d.cvss;
    e.references = d.references;
    e.package = i.package(pkg_name, pkg_version, fixed_version);
    e.location = i.location;
    e.port = i.port;
    e.protocol = i.protocol;
    e.evidence = i.evidence;
    e.solution = i.solution;
    e.tool_key = i.tool_key;
    e.id = Some(id);
    e.asset_id = Some(asset_id);
    e.status = ExposureStatus::parse(&status)
        .ok_or_else(|| corrupt("exposures", format!("{id}: status {status:?}")))?;
    e.first_seen = Some(ts(first));
    e.last_seen = Some(ts(last));
    e.fixed_at = fixed.map(ts);
    super::intel::apply_enrichment(&mut e, intel);
    Ok(e)
}

/// The keyset condition and the order of an exposure listing. Each order is an index scan
/// (`exposures_severity` keeps the id ascending within a severity; the id is the rowid), so
/// page N costs what page 1 costs.
fn keyset(f: &ExposureFilter, sql: &mut String, args: &mut Vec<SqlValue>) {
    use crate::ExposureSort as S;
    match (f.sort, f.after) {
        (S::Severity, Some(c)) => {
            sql.push_str(" AND e.severity <= ? AND (e.severity < ? OR e.id > ?)");
            args.extend([c.key.into(), c.key.into(), c.id.into()]);
        }
        (S::SeverityNewest, Some(c)) => {
            sql.push_str(" AND (e.severity, e.id) < (?, ?)");
            args.extend([c.key.into(), c.id.into()]);
        }
        (S::Id, Some(c)) => {
            sql.push_str(" AND e.id > ?");
            args.push(c.id.into());
        }
        (S::IdDesc, Some(c)) => {
            sql.push_str(" AND e.id < ?");
            args.push(c.id.into());
        }
        (_, None) => {}
    }
    sql.push_str(match f.sort {
        S::Severity => " ORDER BY e.severity DESC, e.id",
        S::SeverityNewest => " ORDER BY e.severity DESC, e.id DESC",
        S::Id => " ORDER BY e.id",
        S::IdDesc => " ORDER BY e.id DESC",
    });
}

impl SqliteStore {
    fn identifiers(&self, asset_id: i64) -> Result<Vec<Identifier>> {
        let mut st = self.conn.prepare_cached(
            "SELECT kind, value FROM asset_identifiers WHERE asset_id = ?1 ORDER BY kind, value",
        )?;
        let rows = st.query_map([asset_id], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (k, v) = row?;
            let kind = IdentifierKind::parse(&k)
                .ok_or_else(|| corrupt("asset_identifiers", format!("kind {k:?}")))?;
            out.push(Identifier { kind, value: v });
        }
        Ok(out)
    }

    fn asset_from_row(&self, r: &Row<'_>) -> Result<(Asset, i64, i64)> {
        let id: i64 = r.get(0)?;
        let kind: String = r.get(1)?;
        let tags: String = r.get(3)?;
        let asset = Asset {
            id: Some(id),
            kind: AssetKind::parse(&kind)
                .ok_or_else(|| corrupt("assets", format!("{id}: kind {kind:?}")))?,
            name: r.get(2)?,
            identifiers: self.identifiers(id)?,
            tags: serde_json::from_str(&tags).unwrap_or_default(),
            owner_team: r.get(4)?,
            criticality: r.get(5)?,
            internet_facing: r.get(6)?,
            zone: r.get(7)?,
            os: r.get(8)?,
            environment: r.get(11)?,
        };
        Ok((asset, r.get(9)?, r.get(10)?))
    }

    pub(crate) fn query_assets(&self, f: &AssetFilter) -> Result<Vec<AssetRow>> {
        let mut sql = String::from(
            "SELECT a.id, a.kind, a.name, a.tags, a.owner_team, a.criticality, a.internet_facing,
                    a.zone, a.os, a.first_seen, a.last_seen, a.environment,
                    (SELECT count(*) FROM services s WHERE s.asset_id = a.id AND s.state = 'open'),
                    (SELECT count(*) FROM exposures e WHERE e.asset_id = a.id
                       AND e.status IN ('open', 'reopened')),
                    a.fact_sources,
                    (SELECT group_concat(s.tool, char(31)) FROM asset_sources x
                       JOIN sources s ON s.id = x.source_id WHERE x.asset_id = a.id)
             FROM assets a WHERE 1=1",
        );
        let mut args: Vec<SqlValue> = Vec::new();
        if let Some(id) = f.id {
            sql.push_str(" AND a.id = ?");
            args.push(id.into());
        }
        if let Some(k) = f.kind {
            sql.push_str(" AND a.kind = ?");
            args.push(k.as_str().to_string().into());
        }
        if let Some(s) = &f.search {
            sql.push_str(
                " AND (a.name LIKE ? OR EXISTS (SELECT 1 FROM asset_identifiers i
                        WHERE i.asset_id = a.id AND i.value LIKE ?))",
            );
            let pat = format!("%{s}%");
            args.push(pat.clone().into());
            args.push(pat.into());
        }
        if let Some(t) = &f.tag {
            sql.push_str(" AND EXISTS (SELECT 1 FROM json_each(a.tags) WHERE value = ?)");
            args.push(t.clone().into());
        }
        if let Some(after) = f.after_id {
            sql.push_str(" AND a.id > ?");
            args.push(after.into());
        }
        sql.push_str(" ORDER BY a.id");
        if let Some(l) = f.limit {
            sql.push_str(&format!(" LIMIT {l}"));
        }
        let mut st = self.conn.prepare(&sql)?;
        let mut rows = st.query(params_from_iter(args))?;
        let mut out = Vec::new();
        while let Some(r) = rows.next()? {
            let (asset, first, last) = self.asset_from_row(r)?;
            let fact_sources: String = r.get(14)?;
            let mut sources: Vec<String> = r
                .get::<_, Option<String>>(15)?
                .map(|t| t.split('\u{1f}').map(str::to_owned).collect())
                .unwrap_or_default();
            sources.sort();
            sources.dedup();
            out.push(AssetRow {
                asset,
                first_seen: ts(first),
                last_seen: ts(last),
                services: r.get::<_, i64>(12)? as u64,
                open_exposures: r.get::<_, i64>(13)? as u64,
                never_scanned: sources.iter().all(|t| t == super::context::INVENTORY),
                sources,
                fact_sources: serde_json::from_str(&fact_sources).unwrap_or_default(),
            });
        }
        Ok(out)
    }

    pub(crate) fn query_asset(&self, id: i64) -> Result<Option<Asset>> {
        let mut st = self.conn.prepare(
            "SELECT id, kind, name, tags, owner_team, criticality, internet_facing, zone, os,
                    first_seen, last_seen, environment FROM assets WHERE id = ?1",
        )?;
        let mut rows = st.query([id])?;
        match rows.next()? {
            Some(r) => Ok(Some(self.asset_from_row(r)?.0)),
            None => Ok(None),
        }
    }

    pub(crate) fn query_services(&self, asset_id: i64) -> Result<Vec<Service>> {
        let mut st = self.conn.prepare(
            "SELECT protocol, port, state, name, product, version, cpe FROM services
             WHERE asset_id = ?1 ORDER BY protocol, port",
        )?;
        let rows = st.query_map([asset_id], |r| {
            let cpe: String = r.get(6)?;
            Ok(Service {
                protocol: r.get(0)?,
                port: r.get(1)?,
                state: r.get(2)?,
                name: r.get(3)?,
                product: r.get(4)?,
                version: r.get(5)?,
                cpe: serde_json::from_str(&cpe).unwrap_or_default(),
            })
        })?;
        Ok(rows.collect::<std::result::Result<_, _>>()?)
    }

    pub(crate) fn query_exposures(&self, f: &ExposureFilter) -> Result<Vec<Exposure>> {
        let mut out = Vec::new();
        self.each_exposure_row(f, &mut |e| {
            out.push(e);
            Ok(())
        })?;
        Ok(out)
    }

    /// The exposures `f` selects, handed to `each` one at a time as SQLite reads them
    /// (nothing is collected: a listing of a million rows stays in bounded memory).
    pub(crate) fn each_exposure_row(
        &self,
        f: &ExposureFilter,
        each: &mut dyn FnMut(Exposure) -> Result<()>,
    ) -> Result<()> {
        let mut sql = format!("SELECT {EXPOSURE_COLUMNS} FROM {EXPOSURE_FROM} WHERE 1=1");
        let mut args: Vec<SqlValue> = Vec::new();
        if let Some(s) = f.min_severity {
            sql.push_str(" AND e.severity >= ?");
            args.push((s as i64).into());
        }
        if !f.statuses.is_empty() {
            let marks = vec!["?"; f.statuses.len()].join(",");
            sql.push_str(&format!(" AND e.status IN ({marks})"));
            for s in &f.statuses {
                args.push(s.as_str().to_string().into());
            }
        }
        if let Some(a) = &f.asset {
            match a.parse::<i64>() {
                Ok(id) => {
                    sql.push_str(" AND e.asset_id = ?");
                    args.push(id.into());
                }
                Err(_) => {
                    sql.push_str(
                        " AND e.asset_id IN (SELECT id FROM assets WHERE name = ?
                           UNION SELECT asset_id FROM asset_identifiers WHERE value = ?)",
                    );
                    args.push(a.clone().into());
                    args.push(a.to_ascii_lowercase().into());
                }
            }
        }
        if let Some(c) = &f.cve {
            sql.push_str(
                " AND (e.cve = ? OR EXISTS (SELECT 1 FROM json_each(d.data, '$.cves')
                        WHERE value = ?))",
            );
            let c = c.to_ascii_uppercase();
            args.push(c.clone().into());
            args.push(c.into());
        }
        if f.kev {
            sql.push_str(" AND ci.kev = 1");
        }
        if let Some(t) = &f.tool {
            sql.push_str(
                " AND EXISTS (SELECT 1 FROM sources src CROSS JOIN exposure_sources s
                    ON s.source_id = src.id AND s.exposure_id = e.id WHERE src.tool = ?)",
            );
            args.push(t.clone().into());
        }
        keyset(f, &mut sql, &mut args);
        if let Some(l) = f.limit {
            sql.push_str(&format!(" LIMIT {l}"));
        }
        let mut st = self.conn.prepare(&sql)?;
        let rows = st.query_map(params_from_iter(args), exposure_from_row)?;
        for row in rows {
            each(build_exposure(row?)?)?;
        }
        Ok(())
    }

    pub(crate) fn query_exposure(&self, id: i64) -> Result<Option<Exposure>> {
        let row = self
            .conn
            .query_row(
                &format!("SELECT {EXPOSURE_COLUMNS} FROM {EXPOSURE_FROM} WHERE e.id = ?1"),
                [id],
                exposure_from_row,
            )
            .optional()?;
        let Some(row) = row else { return Ok(None) };
        let mut e = build_exposure(row)?;
        // the first entry is implied by first_seen
        e.history.push(StatusChange {
            at: e.first_seen.unwrap_or_default(),
            from: None,
            to: ExposureStatus::Open,
            scan_id: None,
            reason: "first seen".into(),
        });
        let mut st = self.conn.prepare(
            "SELECT at, from_status, to_status, scan_id, reason FROM exposure_history
             WHERE exposure_id = ?1 ORDER BY rowid",
        )?;
        let rows = st.query_map([id], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, Option<String>>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, Option<i64>>(3)?,
                r.get::<_, String>(4)?,
            ))
        })?;
        for row in rows {
            let (at, from, to, scan_id, reason) = row?;
            e.history.push(StatusChange {
                at: ts(at),
                from: from.as_deref().and_then(ExposureStatus::parse),
                to: ExposureStatus::parse(&to)
                    .ok_or_else(|| corrupt("exposure_history", format!("status {to:?}")))?,
                scan_id,
                reason,
            });
        }
        Ok(Some(e))
    }

    pub(crate) fn query_sources(&self, id: i64) -> Result<Vec<ExposureSource>> {
        let mut st = self.conn.prepare(
            "SELECT src.tool, src.scope, s.active, s.first_seen, s.last_seen, s.last_scan_id
             FROM sources src CROSS JOIN exposure_sources s
               ON s.source_id = src.id AND s.exposure_id = ?1
             ORDER BY src.tool, src.scope",
        )?;
        let rows = st.query_map([id], |r| {
            Ok(ExposureSource {
                tool: r.get(0)?,
                scope: r.get(1)?,
                active: r.get(2)?,
                first_seen: ts(r.get(3)?),
                last_seen: ts(r.get(4)?),
                last_scan_id: r.get(5)?,
            })
        })?;
        Ok(rows.collect::<std::result::Result<_, _>>()?)
    }

    pub(crate) fn query_scans(&self) -> Result<Vec<Scan>> {
        let mut st = self.conn.prepare(
            "SELECT id, tool, format, scope, explicit_scope, file, sha256, started_at,
                    finished_at, imported_at, summary FROM scans ORDER BY id",
        )?;
        let rows = st.query_map([], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, bool>(4)?,
                r.get::<_, String>(5)?,
                r.get::<_, String>(6)?,
                r.get::<_, Option<i64>>(7)?,
                r.get::<_, Option<i64>>(8)?,
                r.get::<_, i64>(9)?,
                r.get::<_, String>(10)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (id, tool, format, scope, explicit, file, sha, started, finished, imported, sum) =
                row?;
            let summary: ImportSummary = serde_json::from_str(&sum)
                .map_err(|e| corrupt("scans", format!("{id}: summary: {e}")))?;
            out.push(Scan {
                id: Some(id),
                tool,
                format,
                scope,
                explicit_scope: explicit,
                file,
                sha256: sha,
                started_at: started.map(ts),
                finished_at: finished.map(ts),
                imported_at: ts(imported),
                summary,
            });
        }
        Ok(out)
    }

    pub(crate) fn update_status(
        &mut self,
        id: i64,
        status: ExposureStatus,
        reason: &str,
    ) -> Result<()> {
        let tx = self.conn.transaction()?;
        let old: Option<String> = tx
            .query_row("SELECT status FROM exposures WHERE id = ?1", [id], |r| {
                r.get(0)
            })
            .optional()?;
        let Some(old) = old else {
            return Err(Error::NotFound(format!("exposure {id}")));
        };
        let now = Utc::now().timestamp();
        let fixed_at = (status == ExposureStatus::Fixed).then_some(now);
        tx.execute(
            "UPDATE exposures SET status = ?2, fixed_at = ?3 WHERE id = ?1",
            params![id, status.as_str(), fixed_at],
        )?;
        tx.execute(
            "INSERT INTO exposure_history(exposure_id, at, from_status, to_status, scan_id, reason)
             VALUES (?1, ?2, ?3, ?4, NULL, ?5)",
            params![id, now, old, status.as_str(), reason],
        )?;
        super::work::followup::mark_ids(&tx, &[id])?;
        tx.commit()?;
        Ok(())
    }
}
