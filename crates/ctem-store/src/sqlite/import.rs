//! One import session: a transaction fed with parser records.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use ctem_model::context::FactSource;
use ctem_model::lifecycle::{self, Reported};
use ctem_model::{
    Asset, AssetKey, Coverage, Exposure, ExposureStatus, Fingerprint, ImportSummary, Record,
    RecordIssue, Service,
};
use rusqlite::{OptionalExtension, Transaction, params};

use super::SqliteStore;
use crate::prepared::{Prepared, PreparedExposure, Preparer};
use crate::{Error, ImportSession, Result, ScanMeta, Store};

pub(crate) struct SqliteImport<'c> {
    tx: Transaction<'c>,
    checkpointer: &'c mut Option<std::thread::JoinHandle<()>>,
    meta: ScanMeta,
    scan_id: i64,
    now: i64,
    tool_override: Option<String>,
    started_at: Option<DateTime<Utc>>,
    finished_at: Option<DateTime<Utc>>,
    assets: HashMap<AssetKey, i64>,
    created_assets: HashSet<i64>,
    merged_assets: HashSet<i64>,
    /// Stored exposures (from earlier imports) this import reported.
    seen: HashSet<i64>,
    /// The `sources` row of (tool, scope), once known (the tool may change with the
    /// report's `ScanInfo`, so it is looked up when first needed).
    source_id: Option<(String, i64)>,
    /// Detail ids by content hash, for this import.
    details: super::work::FxMap<[u8; 16], i64>,
    summary: ImportSummary,
    fixed_first_records: bool,
    /// What the report speaks for (its `ScanInfo`): a document of statements closes nothing.
    covers: Coverage,
    preparer: Preparer,
    /// The highest exposure id before this import: rows above it are this import's.
    max_exposure_before: i64,
    /// New exposures on new assets waiting to be written many to a statement (see
    /// [`SqliteImport::flush`]), with their asset and detail ids.
    pending: Vec<(i64, i64, PreparedExposure)>,
    /// The statement texts of a full batch and of one row (built once: they are the
    /// statement cache's keys).
    batch_sql: String,
    single_sql: String,
}

/// Rows a multi-row insert writes at once: a million single-row statements spend more in
/// statement overhead than in the B-tree.
const INSERT_BATCH: usize = 32;

/// The columns of one new exposure row, in the order `bind_new` binds them.
const NEW_EXPOSURE_COLUMNS: &str = "asset_id, fingerprint, kind, title, severity, cve, rule_id, \
     pkg_name, pkg_version, fixed_version, port, status, first_seen, last_seen, content_hash, \
     detail_id, instance";
const NEW_EXPOSURE_ARITY: usize = 17;

fn insert_new_sql(rows: usize) -> String {
    let one = format!("({})", vec!["?"; NEW_EXPOSURE_ARITY].join(","));
    format!(
        "INSERT INTO exposures({NEW_EXPOSURE_COLUMNS}) VALUES {}
         ON CONFLICT(asset_id, fingerprint) DO NOTHING",
        vec![one; rows].join(",")
    )
}

/// The values of one new exposure row (`NEW_EXPOSURE_COLUMNS`).
fn bind_new<'a>(
    out: &mut Vec<rusqlite::types::ValueRef<'a>>,
    asset_id: i64,
    detail_id: i64,
    now: i64,
    p: &'a PreparedExposure,
) {
    use rusqlite::types::ValueRef as V;
    let text = |s: &'a Option<String>| s.as_deref().map_or(V::Null, |s| V::Text(s.as_bytes()));
    let status = p
        .decided
        .as_ref()
        .map_or(ExposureStatus::Open, |d| d.0)
        .as_str();
    out.extend([
        V::Integer(asset_id),
        V::Blob(&p.fingerprint),
        V::Text(p.kind.as_str().as_bytes()),
        V::Text(p.title.as_bytes()),
        V::Integer(p.severity as i64),
        text(&p.cve),
        text(&p.rule_id),
        text(&p.pkg_name),
        text(&p.pkg_version),
        text(&p.fixed_version),
        p.port.map_or(V::Null, |x| V::Integer(i64::from(x))),
        V::Text(status.as_bytes()),
        V::Integer(now),
        V::Integer(now),
        V::Blob(&p.content_hash),
        V::Integer(detail_id),
        V::Text(p.instance_json.as_bytes()),
    ]);
}

impl SqliteStore {
    pub(crate) fn begin(&mut self, meta: ScanMeta) -> Result<SqliteImport<'_>> {
        if let Some(h) = self.checkpointer.take() {
            let _ = h.join();
        }
        let SqliteStore { conn, checkpointer } = self;
        let tx = conn.transaction()?;
        let now = meta.imported_at.timestamp();
        // The scan row is written first so sources can name it; its summary is filled at
        // commit. A rollback removes it with everything else.
        tx.execute(
            "INSERT INTO scans(tool, format, scope, explicit_scope, file, sha256, imported_at,
                               summary)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, '{}')",
            params![
                meta.tool,
                meta.format,
                meta.scope.as_deref().unwrap_or("default"),
                meta.scope.is_some(),
                meta.file,
                meta.sha256,
                now
            ],
        )?;
        let scan_id = tx.last_insert_rowid();
        let max_exposure_before: i64 =
            tx.query_row("SELECT coalesce(max(id), 0) FROM exposures", [], |r| {
                r.get(0)
            })?;
        let summary = ImportSummary {
            file: meta.file.clone(),
            format: meta.format.clone(),
            scan_id: Some(scan_id),
            ..ImportSummary::default()
        };
        Ok(SqliteImport {
            preparer: Preparer::new(&meta.tool),
            tx,
            checkpointer,
            meta,
            scan_id,
            now,
            tool_override: None,
            started_at: None,
            finished_at: None,
            assets: HashMap::new(),
            created_assets: HashSet::new(),
            merged_assets: HashSet::new(),
            seen: HashSet::new(),
            source_id: None,
            details: Default::default(),
            summary,
            fixed_first_records: false,
            covers: Coverage::Assets,
            max_exposure_before,
            pending: Vec::with_capacity(INSERT_BATCH),
            batch_sql: insert_new_sql(INSERT_BATCH),
            single_sql: insert_new_sql(1),
        })
    }
}

fn hex_of(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

impl SqliteImport<'_> {
    fn tool(&self) -> &str {
        self.tool_override.as_deref().unwrap_or(&self.meta.tool)
    }

    fn scope(&self) -> &str {
        self.meta.scope.as_deref().unwrap_or("default")
    }

    fn history(
        &self,
        exposure_id: i64,
        from: Option<ExposureStatus>,
        to: ExposureStatus,
        reason: &str,
    ) -> Result<()> {
        self.tx
            .prepare_cached(
                "INSERT INTO exposure_history(exposure_id, at, from_status, to_status, scan_id,
                                              reason) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?
            .execute(params![
                exposure_id,
                self.now,
                from.map(ExposureStatus::as_str),
                to.as_str(),
                self.scan_id,
                reason
            ])?;
        Ok(())
    }

    /// The id of the `sources` row of this import's tool and scope, created if new.
    fn source_id(&mut self) -> Result<i64> {
        let tool = self.tool().to_string();
        if let Some((t, id)) = &self.source_id
            && *t == tool
        {
            return Ok(*id);
        }
        let scope = self.scope().to_string();
        self.tx.execute(
            "INSERT INTO sources(tool, scope) VALUES (?1, ?2) ON CONFLICT(tool, scope) DO NOTHING",
            params![tool, scope],
        )?;
        let id: i64 = self.tx.query_row(
            "SELECT id FROM sources WHERE tool = ?1 AND scope = ?2",
            params![tool, scope],
            |r| r.get(0),
        )?;
        self.source_id = Some((tool, id));
        Ok(id)
    }

    /// The id of a stored detail with this content, storing it if new. `json` is the detail
    /// itself, which a report sends with the first exposure that has it only: every exposure
    /// that carries it comes here first (see `prepared`), so a later one without it finds
    /// the id in memory or in the store.
    fn detail_id(&mut self, hash: [u8; 16], json: Option<&str>, cve: Option<&str>) -> Result<i64> {
        if let Some(id) = self.details.get(&hash) {
            return Ok(*id);
        }
        let found: Option<i64> = self
            .tx
            .prepare_cached("SELECT id FROM exposure_details WHERE hash = ?1")?
            .query_row([&hash[..]], |r| r.get(0))
            .optional()?;
        let id = match (found, json) {
            (Some(id), _) => id,
            (None, None) => {
                return Err(Error::Invalid(format!(
                    "detail {} arrived without its content",
                    hex_of(&hash)
                )));
            }
            (None, Some(json)) => {
                self.tx
                    .prepare_cached(
                        "INSERT INTO exposure_details(hash, data, cve) VALUES (?1, ?2, ?3)",
                    )?
                    .execute(params![&hash[..], json, cve])?;
                self.tx.last_insert_rowid()
            }
        };
        self.details.insert(hash, id);
        Ok(id)
    }

    /// Whether this import is an inventory (its facts outrank scanners').
    fn fact_source(&self) -> FactSource {
        if self.meta.format == super::context::INVENTORY {
            FactSource::Inventory
        } else {
            FactSource::Scanner
        }
    }

    fn asset(&mut self, key: AssetKey, asset: Asset) -> Result<()> {
        let kind = asset.kind.as_str();
        let source = self.source_id()?;
        let found = super::context::resolve(&self.tx, &asset, source)?;
        let fact_source = self.fact_source();
        let asset_id = match found {
            Some(id) => {
                self.tx
                    .prepare_cached(
                        "UPDATE assets SET last_seen = max(last_seen, ?2), os = coalesce(os, ?3)
                         WHERE id = ?1",
                    )?
                    .execute(params![id, self.now, asset.os])?;
                super::context::merge_facts(&self.tx, id, &asset, fact_source)?;
                if !self.created_assets.contains(&id) && self.merged_assets.insert(id) {
                    self.summary.assets.merged += 1;
                }
                id
            }
            None => {
                self.tx
                    .prepare_cached(
                        "INSERT INTO assets(kind, name, tags, owner_team, criticality,
                                            internet_facing, zone, os, first_seen, last_seen,
                                            environment, fact_sources)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9, ?10, ?11)",
                    )?
                    .execute(params![
                        kind,
                        asset.name,
                        serde_json::to_string(&asset.tags).unwrap_or_else(|_| "[]".into()),
                        asset.owner_team,
                        asset.criticality,
                        asset.internet_facing,
                        asset.zone,
                        asset.os,
                        self.now,
                        asset.environment,
                        super::context::new_fact_sources(&asset, fact_source),
                    ])?;
                let id = self.tx.last_insert_rowid();
                self.created_assets.insert(id);
                self.summary.assets.new += 1;
                id
            }
        };
        super::context::touch_source(&self.tx, asset_id, source, self.now)?;
        for i in &asset.identifiers {
            self.tx
                .prepare_cached(
                    "INSERT OR IGNORE INTO asset_identifiers(asset_id, kind, value)
                     VALUES (?1, ?2, ?3)",
                )?
                .execute(params![asset_id, i.kind.as_str(), i.value])?;
        }
        if !asset.tags.is_empty() && found.is_some() {
            let tags: String =
                self.tx
                    .query_row("SELECT tags FROM assets WHERE id = ?1", [asset_id], |r| {
                        r.get(0)
                    })?;
            let mut old: Vec<String> = serde_json::from_str(&tags).unwrap_or_default();
            let before = old.len();
            for t in asset.tags {
                if !old.contains(&t) {
                    old.push(t);
                }
            }
            if old.len() != before {
                self.tx.execute(
                    "UPDATE assets SET tags = ?2 WHERE id = ?1",
                    params![asset_id, serde_json::to_string(&old).unwrap_or_default()],
                )?;
            }
        }
        self.assets.insert(key, asset_id);
        Ok(())
    }

    fn service(&mut self, asset_id: i64, s: Service) -> Result<()> {
        self.tx
            .prepare_cached(
                "INSERT INTO services(asset_id, protocol, port, state, name, product, version,
                                      cpe, first_seen, last_seen)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9)
                 ON CONFLICT(asset_id, protocol, port) DO UPDATE SET
                    state = excluded.state,
                    name = coalesce(excluded.name, name),
                    product = coalesce(excluded.product, product),
                    version = coalesce(excluded.version, version),
                    cpe = CASE WHEN excluded.cpe = '[]' THEN cpe ELSE excluded.cpe END,
                    last_seen = excluded.last_seen",
            )?
            .execute(params![
                asset_id,
                s.protocol,
                s.port,
                s.state,
                s.name,
                s.product,
                s.version,
                serde_json::to_string(&s.cpe).unwrap_or_else(|_| "[]".into()),
                self.now
            ])?;
        self.summary.services += 1;
        Ok(())
    }

    /// Writes the pending new exposures, many rows a statement. A finding reported twice on
    /// a new asset is caught by the identity index (its second row does nothing).
    fn flush(&mut self) -> Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let pending = std::mem::take(&mut self.pending);
        let rows: Vec<_> = pending.iter().map(|(a, d, p)| (*a, *d, p)).collect();
        let inserted = self.insert_new(&rows)?;
        drop(rows);
        self.summary.exposures.new += inserted as u64;
        self.pending = pending;
        self.pending.clear();
        Ok(())
    }

    /// Inserts new exposure rows `(asset id, detail id, exposure)` in one statement; returns
    /// how many were inserted (a row whose identity is already stored does nothing).
    fn insert_new(&self, rows: &[(i64, i64, &PreparedExposure)]) -> Result<usize> {
        let mut vals = Vec::with_capacity(rows.len() * NEW_EXPOSURE_ARITY);
        for (asset_id, detail_id, p) in rows {
            bind_new(&mut vals, *asset_id, *detail_id, self.now, p);
        }
        let args = rusqlite::params_from_iter(
            vals.iter()
                .map(|v| rusqlite::types::ToSqlOutput::Borrowed(*v)),
        );
        // the two usual sizes are cached; the tail of a batch is prepared once
        let n = match rows.len() {
            INSERT_BATCH => self.tx.prepare_cached(&self.batch_sql)?.execute(args)?,
            1 => self.tx.prepare_cached(&self.single_sql)?.execute(args)?,
            n => self.tx.prepare(&insert_new_sql(n))?.execute(args)?,
        };
        Ok(n)
    }

    fn exposure(&mut self, asset_id: i64, p: PreparedExposure) -> Result<()> {
        let fp = Fingerprint(p.fingerprint);
        let hash = p.content_hash;
        // an asset this import created has nothing stored yet: no lookup, and its new
        // exposures are written in batches (the usual case of a large first import)
        let fresh_asset = self.created_assets.contains(&asset_id);
        if fresh_asset && p.decided.is_none() {
            let detail_id = self.detail_id(p.detail_hash, None, p.cve.as_deref())?;
            self.pending.push((asset_id, detail_id, p));
            if self.pending.len() >= INSERT_BATCH {
                self.flush()?;
            }
            return Ok(());
        }
        // everything else in report order after the batch
        self.flush()?;
        let existing: Option<(i64, String, Vec<u8>)> = if fresh_asset {
            None
        } else {
            self.tx
                .prepare_cached(
                    "SELECT id, status, content_hash FROM exposures
                     WHERE asset_id = ?1 AND fingerprint = ?2",
                )?
                .query_row(params![asset_id, &fp.0[..]], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?))
                })
                .optional()?
        };
        let id = match existing {
            None => {
                let detail_id = self.detail_id(p.detail_hash, None, p.cve.as_deref())?;
                let inserted = self.insert_new(&[(asset_id, detail_id, &p)])?;
                if inserted == 0 {
                    // the same finding twice in one report on a new asset: already stored
                    return Ok(());
                }
                let id = self.tx.last_insert_rowid();
                // the first history entry (open at first_seen) is implied, not stored; a
                // status the report decided is recorded
                if let Some((st, why)) = &p.decided {
                    self.set_decided(id, *st)?;
                    self.history(id, Some(ExposureStatus::Open), *st, why)?;
                }
                self.summary.exposures.new += 1;
                // created by this import: its source row is written in bulk at commit
                return Ok(());
            }
            Some((id, status, old_hash)) => {
                if id > self.max_exposure_before || !self.seen.insert(id) {
                    // the same exposure twice in one report: already counted
                    return Ok(());
                }
                let status = ExposureStatus::parse(&status).ok_or_else(|| Error::Corrupt {
                    table: "exposures",
                    message: format!("status {status:?} of exposure {id}"),
                })?;
                let changed = old_hash != hash;
                let reported =
                    lifecycle::on_report(status, p.decided.as_ref().map(|d| d.0), changed);
                match reported {
                    Reported::Decided(st) => {
                        self.set_decided(id, st)?;
                        let why = p.decided.as_ref().map_or("", |d| d.1.as_str());
                        self.history(id, Some(status), st, why)?;
                        self.summary.exposures.updated += 1;
                    }
                    Reported::Reopened => {
                        self.tx
                            .prepare_cached(
                                "UPDATE exposures SET status = 'reopened', fixed_at = NULL
                                 WHERE id = ?1",
                            )?
                            .execute([id])?;
                        self.history(
                            id,
                            Some(status),
                            ExposureStatus::Reopened,
                            &format!("reported again by {}", self.tool()),
                        )?;
                        self.summary.exposures.reopened += 1;
                    }
                    Reported::Updated => self.summary.exposures.updated += 1,
                    Reported::Unchanged => self.summary.exposures.unchanged += 1,
                }
                if changed {
                    let detail_id = self.detail_id(p.detail_hash, None, p.cve.as_deref())?;
                    self.tx
                        .prepare_cached(
                            "UPDATE exposures SET title = ?2, severity = ?3, pkg_version = ?4,
                                fixed_version = ?5, content_hash = ?6, detail_id = ?7,
                                instance = ?8, last_seen = ?9
                             WHERE id = ?1",
                        )?
                        .execute(params![
                            id,
                            p.title,
                            p.severity as i64,
                            p.pkg_version,
                            p.fixed_version,
                            &hash[..],
                            detail_id,
                            p.instance_json,
                            self.now
                        ])?;
                } else {
                    self.tx
                        .prepare_cached("UPDATE exposures SET last_seen = ?2 WHERE id = ?1")?
                        .execute(params![id, self.now])?;
                }
                id
            }
        };
        let source = self.source_id()?;
        self.tx
            .prepare_cached(
                "INSERT INTO exposure_sources(source_id, exposure_id, asset_id, active,
                    first_seen, last_seen, last_scan_id)
                 VALUES (?1, ?2, ?3, 1, ?4, ?4, ?5)
                 ON CONFLICT(source_id, exposure_id) DO UPDATE SET
                    active = 1, last_seen = excluded.last_seen,
                    last_scan_id = excluded.last_scan_id",
            )?
            .execute(params![source, id, asset_id, self.now, self.scan_id])?;
        Ok(())
    }

    /// Sets the status a report decided (VEX), with `fixed_at` when it is fixed.
    fn set_decided(&mut self, id: i64, st: ExposureStatus) -> Result<()> {
        self.tx
            .prepare_cached(
                "UPDATE exposures SET status = ?2,
                    fixed_at = CASE WHEN ?2 = 'fixed' THEN ?3 ELSE NULL END
                 WHERE id = ?1",
            )?
            .execute(params![id, st.as_str(), self.now])?;
        Ok(())
    }

    /// The source rows of the exposures this import created, in one statement (rows in id
    /// order: appends, not random inserts).
    fn add_new_sources(&mut self) -> Result<()> {
        let source = self.source_id()?;
        self.tx.execute(
            "INSERT INTO exposure_sources(source_id, exposure_id, asset_id, active,
                first_seen, last_seen, last_scan_id)
             SELECT ?1, id, asset_id, 1, ?2, ?2, ?3 FROM exposures WHERE id > ?4
             ORDER BY id",
            params![source, self.now, self.scan_id, self.max_exposure_before],
        )?;
        Ok(())
    }

    /// Closes the sources of this tool and scope that this scan did not report, and marks
    /// exposures left with no active source fixed.
    fn close_missing(&mut self) -> Result<()> {
        let explicit = self.meta.scope.is_some();
        let source = self.source_id()?;
        self.tx.execute_batch(
            "CREATE TEMP TABLE IF NOT EXISTS import_assets(id INTEGER PRIMARY KEY);
             DELETE FROM temp.import_assets;",
        )?;
        {
            let mut ins = self
                .tx
                .prepare_cached("INSERT OR IGNORE INTO temp.import_assets(id) VALUES (?1)")?;
            for id in self.assets.values() {
                ins.execute([id])?;
            }
        }
        // the sources of this tool and scope the scan did not report, and which of them it
        // closes (`lifecycle::closes`)
        let reported: HashSet<i64> = self.assets.values().copied().collect();
        let candidates: Vec<(i64, i64)> = {
            let mut st = self.tx.prepare(
                "SELECT exposure_id, asset_id FROM exposure_sources
                 WHERE source_id = ?1 AND exposure_id <= ?2 AND active = 1
                   AND last_scan_id <> ?3",
            )?;
            let rows = st.query_map(
                params![source, self.max_exposure_before, self.scan_id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?;
            rows.collect::<std::result::Result<_, _>>()?
        };
        let closed: Vec<i64> = candidates
            .into_iter()
            .filter(|(_, asset)| lifecycle::closes(explicit, reported.contains(asset)))
            .map(|(id, _)| id)
            .collect();
        {
            let mut st = self.tx.prepare_cached(
                "UPDATE exposure_sources SET active = 0 WHERE source_id = ?1 AND exposure_id = ?2",
            )?;
            for id in &closed {
                st.execute(params![source, id])?;
            }
        }
        // the follow-up scores what the scan closed, and the earlier exposures of the assets
        // it reported (their facts may have changed)
        super::work::followup::mark_ids(&self.tx, &closed)?;
        super::work::followup::mark_import_assets(&self.tx, self.max_exposure_before)?;
        let reason = format!(
            "not reported by {} in scope {} (scan {})",
            self.tool(),
            self.scope(),
            self.scan_id
        );
        for id in closed {
            let (status, left): (String, bool) = self
                .tx
                .prepare_cached(
                    "SELECT e.status, EXISTS (SELECT 1 FROM sources src CROSS JOIN exposure_sources s
                                                ON s.source_id = src.id AND s.exposure_id = e.id
                                              WHERE s.active = 1)
                     FROM exposures e WHERE e.id = ?1",
                )?
                .query_row([id], |r| Ok((r.get(0)?, r.get(1)?)))?;
            let Some(from) = ExposureStatus::parse(&status) else {
                return Err(Error::Corrupt {
                    table: "exposures",
                    message: format!("status {status:?} of exposure {id}"),
                });
            };
            if let Some(to) = lifecycle::after_close(from, left) {
                self.tx
                    .prepare_cached(
                        "UPDATE exposures SET status = ?2, fixed_at = ?3 WHERE id = ?1",
                    )?
                    .execute(params![id, to.as_str(), self.now])?;
                self.history(id, Some(from), to, &reason)?;
                self.summary.exposures.fixed += 1;
            }
        }
        Ok(())
    }
}

impl ImportSession for SqliteImport<'_> {
    fn record(&mut self, record: Record) -> Result<()> {
        let p = self.preparer.prepare(record)?;
        self.prepared(p)
    }

    fn prepared(&mut self, p: Prepared) -> Result<()> {
        let record = match p {
            Prepared::Exposure(mut e) => {
                self.fixed_first_records = true;
                // the first exposure of a report with a detail carries it: remember it now,
                // whatever becomes of this exposure
                if let Some(json) = e.detail_json.take() {
                    self.detail_id(e.detail_hash, Some(&json), e.cve.as_deref())?;
                }
                match self.assets.get(&e.asset) {
                    Some(&id) => self.exposure(id, *e)?,
                    None => self.summary.issues.push(RecordIssue::new(
                        e.title.clone(),
                        format!("refers to unknown asset key {}", e.asset),
                    )),
                }
                return Ok(());
            }
            Prepared::Record(r) => r,
        };
        match record {
            Record::ScanInfo {
                tool,
                started_at,
                finished_at,
                covers,
            } => {
                self.covers = covers;
                crate::session::take_report_tool(
                    self.fixed_first_records,
                    &mut self.tool_override,
                    tool,
                )?;
                self.started_at = started_at.or(self.started_at);
                self.finished_at = finished_at.or(self.finished_at);
            }
            Record::Asset { key, asset } => self.asset(key, asset)?,
            Record::Service { asset, service } => match self.assets.get(&asset) {
                Some(&id) => self.service(id, service)?,
                None => self.summary.issues.push(RecordIssue::new(
                    format!("service {}/{}", service.port, service.protocol),
                    format!("refers to unknown asset key {asset}"),
                )),
            },
            Record::Exposure { .. } => {
                return Err(Error::Invalid(
                    "an exposure reached the store unprepared".into(),
                ));
            }
            Record::Issue(i) => self.summary.issues.push(i),
            Record::Progress { .. } => {}
            Record::Package { asset, package } => match self.assets.get(&asset) {
                Some(&id) => {
                    self.tx
                        .prepare_cached(
                            "INSERT INTO asset_packages(asset_id, name, version, path, ecosystem,
                                                        first_seen, last_seen)
                             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)
                             ON CONFLICT(asset_id, name, version, path) DO UPDATE SET
                                ecosystem = coalesce(excluded.ecosystem, ecosystem),
                                last_seen = excluded.last_seen",
                        )?
                        .execute(params![
                            id,
                            package.name,
                            package.version.unwrap_or_default(),
                            package.path.unwrap_or_default(),
                            package.ecosystem,
                            self.now
                        ])?;
                    self.summary.packages += 1;
                }
                None => self.summary.issues.push(RecordIssue::new(
                    format!("package {}", package.name),
                    format!("refers to unknown asset key {asset}"),
                )),
            },
        }
        Ok(())
    }

    fn set_sha256(&mut self, sha256: String) {
        self.meta.sha256 = sha256;
    }

    fn commit(mut self: Box<Self>) -> Result<ImportSummary> {
        self.flush()?;
        self.add_new_sources()?;
        if self.covers == Coverage::Assets {
            self.close_missing()?;
        }
        let summary_json =
            serde_json::to_string(&self.summary).map_err(|e| Error::Invalid(e.to_string()))?;
        self.tx.execute(
            "UPDATE scans SET tool = ?2, started_at = ?3, finished_at = ?4, summary = ?5,
                              sha256 = ?6
             WHERE id = ?1",
            params![
                self.scan_id,
                self.tool(),
                self.started_at.map(|t| t.timestamp()),
                self.finished_at.map(|t| t.timestamp()),
                summary_json,
                self.meta.sha256
            ],
        )?;
        let this = *self;
        // A large import leaves a large write-ahead log. Copying it into the database file
        // (the checkpoint) is left to a thread with its own connection, so the stages that
        // follow (enrichment, prioritisation) run meanwhile; the connection's own automatic
        // checkpoints stay off from here (a checkpoint after each later import, and the
        // one SQLite runs when the store closes, keep the log bounded).
        let path = this.tx.path().filter(|p| !p.is_empty()).map(str::to_owned);
        if path.is_some() {
            this.tx.execute_batch("PRAGMA wal_autocheckpoint = 0")?;
        }
        this.tx.commit()?;
        if let Some(path) = path {
            *this.checkpointer = Some(std::thread::spawn(move || {
                // a failed checkpoint loses nothing: the log stays and is copied later
                if let Ok(c) = rusqlite::Connection::open(&path) {
                    let _ = c.busy_timeout(std::time::Duration::from_secs(10));
                    let _ = c.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()));
                }
            }));
        }
        Ok(this.summary)
    }
}

impl Store for SqliteStore {
    fn begin_import(&mut self, meta: ScanMeta) -> Result<Box<dyn ImportSession + '_>> {
        Ok(Box::new(self.begin(meta)?))
    }

    fn assets(&self, filter: &crate::AssetFilter) -> Result<Vec<crate::AssetRow>> {
        self.query_assets(filter)
    }

    fn asset(&self, id: i64) -> Result<Option<Asset>> {
        self.query_asset(id)
    }

    fn services(&self, asset_id: i64) -> Result<Vec<Service>> {
        self.query_services(asset_id)
    }

    fn packages(&self, asset_id: i64) -> Result<Vec<ctem_model::Package>> {
        let mut st = self.conn.prepare(
            "SELECT name, version, path, ecosystem FROM asset_packages WHERE asset_id = ?1
             ORDER BY name, version, path",
        )?;
        let rows = st.query_map([asset_id], |r| {
            let version: String = r.get(1)?;
            let path: String = r.get(2)?;
            Ok(ctem_model::Package {
                name: r.get(0)?,
                version: (!version.is_empty()).then_some(version),
                fixed_version: None,
                ecosystem: r.get(3)?,
                path: (!path.is_empty()).then_some(path),
            })
        })?;
        Ok(rows.collect::<std::result::Result<_, _>>()?)
    }

    fn exposures(&self, filter: &crate::ExposureFilter) -> Result<Vec<Exposure>> {
        self.query_exposures(filter)
    }

    fn each_exposure(
        &self,
        filter: &crate::ExposureFilter,
        each: &mut dyn FnMut(Exposure) -> Result<()>,
    ) -> Result<()> {
        self.each_exposure_row(filter, each)
    }

    fn exposure(&self, id: i64) -> Result<Option<Exposure>> {
        self.query_exposure(id)
    }

    fn exposure_sources(&self, id: i64) -> Result<Vec<crate::ExposureSource>> {
        self.query_sources(id)
    }

    fn scans(&self) -> Result<Vec<ctem_model::Scan>> {
        self.query_scans()
    }

    fn set_status(&mut self, id: i64, status: ExposureStatus, reason: &str) -> Result<()> {
        self.update_status(id, status, reason)
    }

    fn overview(&self, today: chrono::NaiveDate, days: u32) -> Result<crate::Overview> {
        self.query_overview(today, days)
    }
}

#[cfg(test)]
mod tests {
    use chrono::Utc;
    use ctem_model::{
        Asset, AssetKind, Exposure, ExposureKind, Identifier, IdentifierKind, Record, Severity,
    };

    use crate::sqlite::SqliteStore;
    use crate::{ScanMeta, Store};

    fn import_one(store: &mut SqliteStore, n: usize) {
        let meta = ScanMeta {
            tool: "trivy".into(),
            format: "trivy".into(),
            scope: None,
            file: format!("scan-{n}.json"),
            sha256: format!("sha-{n}"),
            imported_at: Utc::now(),
        };
        let mut s = store.begin_import(meta).expect("begin");
        s.record(Record::Asset {
            key: 0,
            asset: Asset::new(AssetKind::Host, "web-1")
                .with_identifier(Identifier::new(IdentifierKind::Fqdn, "web-1.example.org")),
        })
        .expect("asset");
        let mut e = Exposure::new(ExposureKind::Vulnerability, "CVE-2024-1", Severity::High);
        e.add_vuln_id("CVE-2024-1");
        s.record(Record::Exposure {
            asset: 0,
            exposure: Box::new(e),
        })
        .expect("exposure");
        s.commit().expect("commit");
    }

    /// A detail's content travels with the first exposure that has it; when that exposure
    /// is refused (unknown asset), the next one with the same detail is still stored whole.
    #[test]
    fn a_detail_first_seen_on_a_refused_exposure_is_kept() {
        let mut store = SqliteStore::in_memory().expect("store");
        let meta = ScanMeta {
            tool: "trivy".into(),
            format: "trivy".into(),
            scope: None,
            file: "scan.json".into(),
            sha256: "sha".into(),
            imported_at: Utc::now(),
        };
        let vuln = || {
            let mut e = Exposure::new(ExposureKind::Vulnerability, "CVE-2024-9", Severity::High);
            e.add_vuln_id("CVE-2024-9");
            e.description = Some("shared text".into());
            Box::new(e)
        };
        let mut s = store.begin_import(meta).expect("begin");
        s.record(Record::Asset {
            key: 0,
            asset: Asset::new(AssetKind::Host, "web-1"),
        })
        .expect("asset");
        s.record(Record::Exposure {
            asset: 7,
            exposure: vuln(),
        })
        .expect("refused exposure is an issue");
        s.record(Record::Exposure {
            asset: 0,
            exposure: vuln(),
        })
        .expect("exposure");
        let summary = s.commit().expect("commit");
        assert_eq!(summary.exposures.new, 1);
        assert_eq!(summary.issues.len(), 1);
        let got = store.exposures(&Default::default()).expect("list");
        assert_eq!(got[0].description.as_deref(), Some("shared text"));
    }

    /// The checkpoint an import leaves running is joined by the next import and when the
    /// store closes: the log is folded into the database file and removed.
    #[test]
    fn the_background_checkpoint_is_joined_and_the_log_folded_in() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("ctem.db");
        {
            let mut store = SqliteStore::open(&path).expect("open");
            import_one(&mut store, 1);
            assert!(store.checkpointer.is_some(), "a checkpoint was started");
            import_one(&mut store, 2);
            assert_eq!(store.count("exposures").expect("count"), 1);
        }
        let wal = dir.path().join("ctem.db-wal");
        assert!(
            !wal.exists() || std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0) == 0,
            "the write-ahead log is folded in when the store closes"
        );
        let store = SqliteStore::open(&path).expect("reopen");
        assert_eq!(store.count("scans").expect("count"), 2);
    }
}
