//! One import session on PostgreSQL: the row I/O around the import's decisions
//! (`ctem_model::lifecycle`), the counterpart of `sqlite/import.rs`.
//!
//! The session takes the store's writer lock (the one a prioritisation pass takes) before
//! its transaction begins, so concurrent imports run one after another and each sees what
//! the previous one committed: no duplicate assets or exposures, no lost update. The lock
//! wait ends at the busy timeout as `unavailable`. Dropping the session rolls back.
//!
//! Bulk writes: the new exposures of the assets this import created (the bulk of a first
//! import) are sent by binary `COPY` into a temporary table and inserted from it in one
//! statement, in report order; their source rows are written in one statement at commit.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use ctem_model::lifecycle::{self, Reported};
use ctem_model::{AssetKey, Coverage, ExposureStatus, ImportSummary, Record, RecordIssue};
use postgres::binary_copy::BinaryCopyInWriter;
use postgres::types::{ToSql, Type};
use postgres::{Client, Statement};

use super::PgStore;
use crate::prepared::{Prepared, PreparedExposure, Preparer};
use crate::{Error, ImportSession, Result, ScanMeta};

/// New exposures buffered before one `COPY`.
const COPY_BATCH: usize = 20_000;

/// Above this many earlier exposures on the reported assets the follow-up scores all.
const FOLLOWUP_FULL_OVER: i64 = 100_000;

const NEW_TYPES: [Type; 18] = [
    Type::INT8,
    Type::INT8,
    Type::BYTEA,
    Type::TEXT,
    Type::TEXT,
    Type::INT8,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::INT8,
    Type::TEXT,
    Type::INT8,
    Type::INT8,
    Type::BYTEA,
    Type::INT8,
    Type::TEXT,
];

const NEW_COLUMNS: &str = "asset_id, fingerprint, kind, title, severity, cve, rule_id, \
     pkg_name, pkg_version, fixed_version, port, status, first_seen, last_seen, content_hash, \
     detail_id, instance";

/// Writes one new exposure row (`NEW_COLUMNS`, after `seq` when given) to a binary copy.
fn write_new(
    w: &mut BinaryCopyInWriter<'_>,
    seq: Option<i64>,
    now: i64,
    asset_id: i64,
    detail_id: i64,
    p: &PreparedExposure,
) -> Result<()> {
    let status = p
        .decided
        .as_ref()
        .map_or(ExposureStatus::Open, |d| d.0)
        .as_str();
    let severity = p.severity as i64;
    let port = p.port.map(i64::from);
    let v: [&(dyn ToSql + Sync); 18] = [
        &seq,
        &asset_id,
        &&p.fingerprint[..],
        &p.kind.as_str(),
        &p.title,
        &severity,
        &p.cve,
        &p.rule_id,
        &p.pkg_name,
        &p.pkg_version,
        &p.fixed_version,
        &port,
        &status,
        &now,
        &now,
        &&p.content_hash[..],
        &detail_id,
        &p.instance_json,
    ];
    match seq {
        Some(_) => w.write(&v)?,
        None => w.write(&v[1..])?,
    }
    Ok(())
}

pub(crate) struct PgImport<'c> {
    pub(super) db: &'c mut Client,
    key: String,
    open: bool,
    statements: HashMap<&'static str, Statement>,
    pub(super) meta: ScanMeta,
    scan_id: i64,
    pub(super) now: i64,
    tool_override: Option<String>,
    started_at: Option<DateTime<Utc>>,
    finished_at: Option<DateTime<Utc>>,
    pub(super) assets: HashMap<AssetKey, i64>,
    pub(super) created_assets: HashSet<i64>,
    pub(super) merged_assets: HashSet<i64>,
    /// Stored exposures (from earlier imports) this import reported.
    seen: HashSet<i64>,
    source_id: Option<(String, i64)>,
    details: HashMap<[u8; 16], i64>,
    pub(super) summary: ImportSummary,
    fixed_first_records: bool,
    covers: Coverage,
    preparer: Preparer,
    /// The highest exposure id before this import: rows above it are this import's (the
    /// writer lock keeps other imports out meanwhile).
    max_exposure_before: i64,
    /// New exposures of new assets waiting for one `COPY`, with their asset and detail ids.
    pending: Vec<(i64, i64, PreparedExposure)>,
    /// The identities (asset, fingerprint) of the exposures written on assets this import
    /// created: nothing else can collide with them, so they are copied straight into the
    /// table and a finding reported twice is caught here.
    fresh_keys: HashSet<(i64, [u8; 16])>,
}

impl Drop for PgImport<'_> {
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
    pub(crate) fn begin(&mut self, meta: ScanMeta) -> Result<PgImport<'_>> {
        let key = self.writer_lock();
        let db = self.client.get_mut();
        // the lock first, then the transaction, whose reads then follow the previous
        // holder's commit
        db.execute("SELECT pg_advisory_lock(hashtext($1))", &[&key])?;
        let now = meta.imported_at.timestamp();
        let mut s = PgImport {
            db,
            key,
            open: true,
            statements: HashMap::new(),
            preparer: Preparer::new(&meta.tool),
            summary: ImportSummary {
                file: meta.file.clone(),
                format: meta.format.clone(),
                ..ImportSummary::default()
            },
            meta,
            scan_id: 0,
            now,
            tool_override: None,
            started_at: None,
            finished_at: None,
            assets: HashMap::new(),
            created_assets: HashSet::new(),
            merged_assets: HashSet::new(),
            seen: HashSet::new(),
            source_id: None,
            details: HashMap::new(),
            fixed_first_records: false,
            covers: Coverage::Assets,
            max_exposure_before: 0,
            pending: Vec::new(),
            fresh_keys: HashSet::new(),
        };
        s.db.batch_execute("BEGIN")?;
        // the scan row first so sources can name it; its summary is filled at commit
        let scope = s.meta.scope.as_deref().unwrap_or("default");
        let explicit = i64::from(s.meta.scope.is_some());
        s.scan_id =
            s.db.query_one(
                "INSERT INTO scans(tool, format, scope, explicit_scope, file, sha256,
                                   imported_at, summary)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, '{}') RETURNING id",
                &[
                    &s.meta.tool,
                    &s.meta.format,
                    &scope,
                    &explicit,
                    &s.meta.file,
                    &s.meta.sha256,
                    &now,
                ],
            )?
            .get(0);
        s.summary.scan_id = Some(s.scan_id);
        s.max_exposure_before =
            s.db.query_one("SELECT coalesce(max(id), 0)::bigint FROM exposures", &[])?
                .get(0);
        Ok(s)
    }
}

impl PgImport<'_> {
    /// A prepared statement, prepared once a session.
    pub(super) fn st(&mut self, sql: &'static str) -> Result<Statement> {
        if let Some(s) = self.statements.get(sql) {
            return Ok(s.clone());
        }
        let s = self.db.prepare(sql)?;
        self.statements.insert(sql, s.clone());
        Ok(s)
    }

    fn tool(&self) -> &str {
        self.tool_override.as_deref().unwrap_or(&self.meta.tool)
    }

    fn scope(&self) -> &str {
        self.meta.scope.as_deref().unwrap_or("default")
    }

    fn history(
        &mut self,
        id: i64,
        from: Option<ExposureStatus>,
        to: ExposureStatus,
        reason: &str,
    ) -> Result<()> {
        let st = self.st(
            "INSERT INTO exposure_history(exposure_id, at, from_status, to_status, scan_id,
                                          reason) VALUES ($1, $2, $3, $4, $5, $6)",
        )?;
        let from = from.map(ExposureStatus::as_str);
        let (now, scan) = (self.now, self.scan_id);
        self.db
            .execute(&st, &[&id, &now, &from, &to.as_str(), &scan, &reason])?;
        Ok(())
    }

    /// The id of the `sources` row of this import's tool and scope, created if new.
    pub(super) fn source_id(&mut self) -> Result<i64> {
        let tool = self.tool().to_string();
        if let Some((t, id)) = &self.source_id
            && *t == tool
        {
            return Ok(*id);
        }
        let scope = self.scope().to_string();
        self.db.execute(
            "INSERT INTO sources(tool, scope) VALUES ($1, $2) ON CONFLICT(tool, scope) DO NOTHING",
            &[&tool, &scope],
        )?;
        let id: i64 = self
            .db
            .query_one(
                "SELECT id FROM sources WHERE tool = $1 AND scope = $2",
                &[&tool, &scope],
            )?
            .get(0);
        self.source_id = Some((tool, id));
        Ok(id)
    }

    /// The id of a stored detail with this content, storing it if new (see
    /// `sqlite/import.rs`: the first exposure with a detail carries its content).
    fn detail_id(&mut self, hash: [u8; 16], json: Option<&str>, cve: Option<&str>) -> Result<i64> {
        if let Some(id) = self.details.get(&hash) {
            return Ok(*id);
        }
        let id = match json {
            // one round trip: stored now, or found stored
            Some(json) => {
                let put = self.st("WITH put AS (INSERT INTO exposure_details(hash, data, cve)
                                  VALUES ($1, $2, $3) ON CONFLICT (hash) DO NOTHING RETURNING id)
                     SELECT id FROM put UNION ALL
                     SELECT id FROM exposure_details WHERE hash = $1 LIMIT 1")?;
                self.db.query_one(&put, &[&&hash[..], &json, &cve])?.get(0)
            }
            None => {
                let find = self.st("SELECT id FROM exposure_details WHERE hash = $1")?;
                match self.db.query_opt(&find, &[&&hash[..]])? {
                    Some(r) => r.get(0),
                    None => {
                        let hex: String = hash.iter().map(|x| format!("{x:02x}")).collect();
                        return Err(Error::Invalid(format!(
                            "detail {hex} arrived without its content"
                        )));
                    }
                }
            }
        };
        self.details.insert(hash, id);
        Ok(id)
    }

    /// Writes the pending new exposures: one binary `COPY` into a temporary table, one
    /// `INSERT ... SELECT` in report order (a finding twice on a new asset is caught by the
    /// identity index).
    fn flush(&mut self) -> Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let pending = std::mem::take(&mut self.pending);
        let rows: Vec<_> = pending.iter().map(|(a, d, p)| (*a, *d, p)).collect();
        let inserted = self.copy_new(&rows)?;
        drop(rows);
        self.summary.exposures.new += inserted;
        self.pending = pending;
        self.pending.clear();
        Ok(())
    }

    /// New exposures of assets this import created (no stored row can collide: see
    /// `fresh_keys`), by binary `COPY` straight into the table, in report order.
    fn copy_new(&mut self, rows: &[(i64, i64, &PreparedExposure)]) -> Result<u64> {
        let sink = self.db.copy_in(&format!(
            "COPY exposures ({NEW_COLUMNS}) FROM STDIN (FORMAT binary)"
        ))?;
        let mut w = BinaryCopyInWriter::new(sink, &NEW_TYPES[1..]);
        for (asset_id, detail_id, p) in rows {
            write_new(&mut w, None, self.now, *asset_id, *detail_id, p)?;
        }
        Ok(w.finish()?)
    }

    fn insert_new(&mut self, rows: &[(i64, i64, &PreparedExposure)]) -> Result<u64> {
        self.db.batch_execute(&format!(
            "CREATE TEMPORARY TABLE IF NOT EXISTS import_new (seq BIGINT, {})",
            "asset_id BIGINT, fingerprint BYTEA, kind TEXT, title TEXT, severity BIGINT,
             cve TEXT, rule_id TEXT, pkg_name TEXT, pkg_version TEXT, fixed_version TEXT,
             port BIGINT, status TEXT, first_seen BIGINT, last_seen BIGINT,
             content_hash BYTEA, detail_id BIGINT, instance TEXT"
        ))?;
        self.db.batch_execute("TRUNCATE pg_temp.import_new")?;
        let sink = self.db.copy_in(&format!(
            "COPY pg_temp.import_new (seq, {NEW_COLUMNS}) FROM STDIN (FORMAT binary)"
        ))?;
        let mut w = BinaryCopyInWriter::new(sink, &NEW_TYPES);
        let now = self.now;
        for (seq, (asset_id, detail_id, p)) in rows.iter().enumerate() {
            write_new(&mut w, Some(seq as i64), now, *asset_id, *detail_id, p)?;
        }
        w.finish()?;
        let n = self.db.execute(
            &format!(
                "INSERT INTO exposures({NEW_COLUMNS}) SELECT {NEW_COLUMNS} FROM pg_temp.import_new
                 ORDER BY seq ON CONFLICT (asset_id, fingerprint) DO NOTHING"
            ),
            &[],
        )?;
        Ok(n)
    }

    fn exposure(&mut self, asset_id: i64, p: PreparedExposure) -> Result<()> {
        // an asset this import created has nothing stored yet: no lookup, and its new
        // exposures go out in bulk
        let fresh_asset = self.created_assets.contains(&asset_id);
        if fresh_asset && !self.fresh_keys.insert((asset_id, p.fingerprint)) {
            // the same finding twice in one report on a new asset: already written
            return Ok(());
        }
        if fresh_asset && p.decided.is_none() {
            let detail_id = self.detail_id(p.detail_hash, None, p.cve.as_deref())?;
            self.pending.push((asset_id, detail_id, p));
            if self.pending.len() >= COPY_BATCH {
                self.flush()?;
            }
            return Ok(());
        }
        // everything else in report order after the batch
        self.flush()?;
        let existing = if fresh_asset {
            None
        } else {
            let st = self.st("SELECT id, status, content_hash FROM exposures
                 WHERE asset_id = $1 AND fingerprint = $2")?;
            self.db
                .query_opt(&st, &[&asset_id, &&p.fingerprint[..]])?
                .map(|r| {
                    (
                        r.get::<_, i64>(0),
                        r.get::<_, String>(1),
                        r.get::<_, Vec<u8>>(2),
                    )
                })
        };
        match existing {
            None => self.new_single(asset_id, p),
            Some((id, status, old_hash)) => {
                self.reported_again(asset_id, id, &status, &old_hash, p)
            }
        }
    }

    /// A stored exposure reported again: what the report does to it is
    /// `lifecycle::on_report`'s decision.
    fn reported_again(
        &mut self,
        asset_id: i64,
        id: i64,
        status: &str,
        old_hash: &[u8],
        p: PreparedExposure,
    ) -> Result<()> {
        if id > self.max_exposure_before || !self.seen.insert(id) {
            // the same exposure twice in one report: already counted
            return Ok(());
        }
        let status = ExposureStatus::parse(status).ok_or_else(|| Error::Corrupt {
            table: "exposures",
            message: format!("status {status:?} of exposure {id}"),
        })?;
        let changed = old_hash != p.content_hash;
        match lifecycle::on_report(status, p.decided.as_ref().map(|d| d.0), changed) {
            Reported::Decided(st) => {
                self.set_decided(id, st)?;
                let why = p.decided.as_ref().map_or("", |d| d.1.as_str());
                self.history(id, Some(status), st, why)?;
                self.summary.exposures.updated += 1;
            }
            Reported::Reopened => {
                self.db.execute(
                    "UPDATE exposures SET status = 'reopened', fixed_at = NULL WHERE id = $1",
                    &[&id],
                )?;
                let why = format!("reported again by {}", self.tool());
                self.history(id, Some(status), ExposureStatus::Reopened, &why)?;
                self.summary.exposures.reopened += 1;
            }
            Reported::Updated => self.summary.exposures.updated += 1,
            Reported::Unchanged => self.summary.exposures.unchanged += 1,
        }
        let now = self.now;
        if changed {
            let detail_id = self.detail_id(p.detail_hash, None, p.cve.as_deref())?;
            let st = self.st(
                "UPDATE exposures SET title = $2, severity = $3, pkg_version = $4,
                    fixed_version = $5, content_hash = $6, detail_id = $7, instance = $8,
                    last_seen = $9
                 WHERE id = $1",
            )?;
            let severity = p.severity as i64;
            let args: [&(dyn ToSql + Sync); 9] = [
                &id,
                &p.title,
                &severity,
                &p.pkg_version,
                &p.fixed_version,
                &&p.content_hash[..],
                &detail_id,
                &p.instance_json,
                &now,
            ];
            self.db.execute(&st, &args)?;
        } else {
            let st = self.st("UPDATE exposures SET last_seen = $2 WHERE id = $1")?;
            self.db.execute(&st, &[&id, &now])?;
        }
        let source = self.source_id()?;
        let st = self.st(
            "INSERT INTO exposure_sources(source_id, exposure_id, asset_id, active,
                first_seen, last_seen, last_scan_id)
             VALUES ($1, $2, $3, 1, $4, $4, $5)
             ON CONFLICT(source_id, exposure_id) DO UPDATE SET
                active = 1, last_seen = excluded.last_seen,
                last_scan_id = excluded.last_scan_id",
        )?;
        let scan = self.scan_id;
        self.db
            .execute(&st, &[&source, &id, &asset_id, &now, &scan])?;
        Ok(())
    }

    /// A new exposure written on its own (on a stored asset, or with a decided status).
    fn new_single(&mut self, asset_id: i64, p: PreparedExposure) -> Result<()> {
        let detail_id = self.detail_id(p.detail_hash, None, p.cve.as_deref())?;
        if self.insert_new(&[(asset_id, detail_id, &p)])? == 0 {
            // the same finding twice in one report on a new asset: already stored
            return Ok(());
        }
        // the first history entry (open at first_seen) is implied; a decided status is
        // recorded. Its source row is written in bulk at commit.
        if let Some((st, why)) = &p.decided {
            let id: i64 = self
                .db
                .query_one(
                    "SELECT id FROM exposures WHERE asset_id = $1 AND fingerprint = $2",
                    &[&asset_id, &&p.fingerprint[..]],
                )?
                .get(0);
            self.set_decided(id, *st)?;
            self.history(id, Some(ExposureStatus::Open), *st, why)?;
        }
        self.summary.exposures.new += 1;
        Ok(())
    }

    /// Sets the status a report decided (VEX), with `fixed_at` when it is fixed.
    fn set_decided(&mut self, id: i64, st: ExposureStatus) -> Result<()> {
        let fixed_at = (st == ExposureStatus::Fixed).then_some(self.now);
        self.db.execute(
            "UPDATE exposures SET status = $2, fixed_at = $3 WHERE id = $1",
            &[&id, &st.as_str(), &fixed_at],
        )?;
        Ok(())
    }

    /// The source rows of the exposures this import created, in one statement.
    fn add_new_sources(&mut self) -> Result<()> {
        let source = self.source_id()?;
        let (now, scan, max) = (self.now, self.scan_id, self.max_exposure_before);
        self.db.execute(
            "INSERT INTO exposure_sources(source_id, exposure_id, asset_id, active,
                first_seen, last_seen, last_scan_id)
             SELECT $1, id, asset_id, 1, $2, $2, $3 FROM exposures WHERE id > $4 ORDER BY id",
            &[&source, &now, &scan, &max],
        )?;
        Ok(())
    }
}

impl PgImport<'_> {
    /// Closes the sources of this tool and scope that this scan did not report (which of
    /// them: `lifecycle::closes`), and marks exposures left with no active source fixed
    /// (`lifecycle::after_close`).
    fn close_missing(&mut self) -> Result<()> {
        let explicit = self.meta.scope.is_some();
        let source = self.source_id()?;
        let reported: HashSet<i64> = self.assets.values().copied().collect();
        let ids: Vec<i64> = reported.iter().copied().collect();
        self.db.batch_execute(
            "CREATE TEMPORARY TABLE IF NOT EXISTS import_assets(id BIGINT PRIMARY KEY);
             TRUNCATE pg_temp.import_assets",
        )?;
        self.db.execute(
            "INSERT INTO pg_temp.import_assets(id) SELECT unnest($1::bigint[])",
            &[&ids],
        )?;
        let (max, scan) = (self.max_exposure_before, self.scan_id);
        let candidates = self.db.query(
            "SELECT exposure_id, asset_id FROM exposure_sources
             WHERE source_id = $1 AND exposure_id <= $2 AND active = 1 AND last_scan_id <> $3",
            &[&source, &max, &scan],
        )?;
        let closed: Vec<i64> = candidates
            .iter()
            .map(|r| (r.get::<_, i64>(0), r.get::<_, i64>(1)))
            .filter(|(_, asset)| lifecycle::closes(explicit, reported.contains(asset)))
            .map(|(id, _)| id)
            .collect();
        self.db.execute(
            "UPDATE exposure_sources SET active = 0
             WHERE source_id = $1 AND exposure_id = ANY($2)",
            &[&source, &closed],
        )?;
        self.mark_followup(&closed)?;
        let reason = format!(
            "not reported by {} in scope {} (scan {})",
            self.tool(),
            self.scope(),
            self.scan_id
        );
        let left = self.st("SELECT e.status, EXISTS (SELECT 1 FROM exposure_sources s
                                      WHERE s.exposure_id = e.id AND s.active = 1)
             FROM exposures e WHERE e.id = $1")?;
        for id in closed {
            let row = self.db.query_one(&left, &[&id])?;
            let (status, left): (String, bool) = (row.get(0), row.get(1));
            let Some(from) = ExposureStatus::parse(&status) else {
                return Err(Error::Corrupt {
                    table: "exposures",
                    message: format!("status {status:?} of exposure {id}"),
                });
            };
            if let Some(to) = lifecycle::after_close(from, left) {
                let now = self.now;
                self.db.execute(
                    "UPDATE exposures SET status = $2, fixed_at = $3 WHERE id = $1",
                    &[&id, &to.as_str(), &now],
                )?;
                self.history(id, Some(from), to, &reason)?;
                self.summary.exposures.fixed += 1;
            }
        }
        Ok(())
    }

    /// The follow-up scores what the scan closed and the earlier exposures of the assets it
    /// reported (their facts may have changed): all of them past `FOLLOWUP_FULL_OVER`.
    fn mark_followup(&mut self, closed: &[i64]) -> Result<()> {
        let max = self.max_exposure_before;
        self.db.execute(
            "INSERT INTO followup_exposures(exposure_id) SELECT unnest($1::bigint[])
             ON CONFLICT DO NOTHING",
            &[&closed],
        )?;
        const OF_ASSETS: &str = "FROM exposures
             WHERE asset_id IN (SELECT id FROM pg_temp.import_assets) AND id <= $1";
        let n: i64 = self
            .db
            .query_one(&format!("SELECT count(*) {OF_ASSETS}"), &[&max])?
            .get(0);
        if n > FOLLOWUP_FULL_OVER {
            self.db
                .execute(r#"UPDATE followup_state SET "full" = 1"#, &[])?;
        } else {
            self.db.execute(
                &format!(
                    "INSERT INTO followup_exposures(exposure_id) SELECT id {OF_ASSETS}
                     ON CONFLICT DO NOTHING"
                ),
                &[&max],
            )?;
        }
        Ok(())
    }

    fn record_of(&mut self, record: Record) -> Result<()> {
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
                Some(&id) => self.package(id, package)?,
                None => self.summary.issues.push(RecordIssue::new(
                    format!("package {}", package.name),
                    format!("refers to unknown asset key {asset}"),
                )),
            },
        }
        Ok(())
    }
}

impl ImportSession for PgImport<'_> {
    fn record(&mut self, record: Record) -> Result<()> {
        let p = self.preparer.prepare(record)?;
        self.prepared(p)
    }

    fn prepared(&mut self, p: Prepared) -> Result<()> {
        match p {
            Prepared::Exposure(mut e) => {
                self.fixed_first_records = true;
                // the first exposure with a detail carries it: remember it whatever becomes
                // of this exposure
                if let Some(json) = e.detail_json.take() {
                    self.detail_id(e.detail_hash, Some(&json), e.cve.as_deref())?;
                }
                match self.assets.get(&e.asset) {
                    Some(&id) => self.exposure(id, *e),
                    None => {
                        self.summary.issues.push(RecordIssue::new(
                            e.title.clone(),
                            format!("refers to unknown asset key {}", e.asset),
                        ));
                        Ok(())
                    }
                }
            }
            Prepared::Record(r) => self.record_of(r),
        }
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
        let summary_json = super::json(&self.summary)?;
        let tool = self.tool().to_string();
        let started = self.started_at.map(|t| t.timestamp());
        let finished = self.finished_at.map(|t| t.timestamp());
        let scan = self.scan_id;
        let sha = self.meta.sha256.clone();
        self.db.execute(
            "UPDATE scans SET tool = $2, started_at = $3, finished_at = $4, summary = $5,
                              sha256 = $6
             WHERE id = $1",
            &[&scan, &tool, &started, &finished, &summary_json, &sha],
        )?;
        self.db.batch_execute("COMMIT")?;
        self.open = false;
        self.db
            .execute("SELECT pg_advisory_unlock(hashtext($1))", &[&self.key])?;
        Ok(std::mem::take(&mut self.summary))
    }
}
