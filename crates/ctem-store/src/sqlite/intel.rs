//! SQLite side of [`crate::intel::IntelStore`]: the intel tables (migration 10), batch
//! import with upserts, the enrichment pass, and the columns the exposure queries join in.

use chrono::{DateTime, NaiveDate, Utc};
use ctem_model::Exposure;
use ctem_model::enrich::{Missing, enrich};
use ctem_model::intel::{
    CveRecord, Enrichment, EpssScore, Indicator, KevEntry, RansomwareUse, Relationship,
};
use rusqlite::types::Value as SqlValue;
use rusqlite::{OptionalExtension, Row, Transaction, params, params_from_iter};

use super::SqliteStore;
use crate::intel::{
    AttackObject, FeedState, IndicatorFilter, IntelBatch, IntelCounts, IntelStore, IntelSummary,
};
use crate::{Error, Result};

/// The intel tables. Indicators are keyed by `(type, value, source)`; KEV, EPSS and CVE
/// records by CVE id; ATT&CK objects by STIX id. `intel_cve_enrichment` is what the pass
/// computes: one row per CVE of a stored exposure that some source knows about.
pub const MIGRATION_10: &str = r#"
CREATE TABLE intel_indicators (
    id          INTEGER PRIMARY KEY,
    kind        TEXT    NOT NULL,
    value       TEXT    NOT NULL,
    source      TEXT    NOT NULL,
    first_seen  INTEGER,
    last_seen   INTEGER,
    confidence  INTEGER,
    valid_until INTEGER,
    tlp         TEXT,
    revoked     INTEGER NOT NULL,
    data        TEXT    NOT NULL,
    imported_at INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);
CREATE UNIQUE INDEX intel_indicators_identity ON intel_indicators(kind, value, source);
CREATE INDEX intel_indicators_value ON intel_indicators(value);
CREATE TABLE intel_kev (
    cve_id     TEXT PRIMARY KEY,
    date_added TEXT NOT NULL,
    due_date   TEXT,
    ransomware TEXT,
    data       TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE intel_epss (
    cve_id     TEXT PRIMARY KEY,
    epss       REAL NOT NULL,
    percentile REAL NOT NULL,
    score_date TEXT
) WITHOUT ROWID;
CREATE TABLE intel_cves (
    cve_id TEXT PRIMARY KEY,
    data   TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE intel_attack (
    stix_id    TEXT    PRIMARY KEY,
    kind       TEXT    NOT NULL,
    attack_id  TEXT    NOT NULL,
    name       TEXT    NOT NULL,
    revoked    INTEGER NOT NULL,
    deprecated INTEGER NOT NULL,
    data       TEXT    NOT NULL
) WITHOUT ROWID;
CREATE INDEX intel_attack_id ON intel_attack(attack_id);
CREATE TABLE intel_relationships (
    source_ref        TEXT    NOT NULL,
    relationship_type TEXT    NOT NULL,
    target_ref        TEXT    NOT NULL,
    source_id         TEXT,
    target_id         TEXT,
    revoked           INTEGER NOT NULL,
    PRIMARY KEY (source_ref, relationship_type, target_ref)
) WITHOUT ROWID;
CREATE TABLE intel_cve_enrichment (
    cve             TEXT    PRIMARY KEY,
    kev             INTEGER NOT NULL,
    kev_date_added  TEXT,
    kev_due_date    TEXT,
    kev_ransomware  TEXT,
    epss            REAL,
    epss_percentile REAL,
    epss_date       TEXT,
    record          TEXT
) WITHOUT ROWID;
CREATE TABLE intel_feeds (
    name          TEXT PRIMARY KEY,
    url           TEXT NOT NULL,
    etag          TEXT,
    last_modified TEXT,
    checked_at    INTEGER,
    updated_at    INTEGER,
    sha256        TEXT
) WITHOUT ROWID;
"#;

/// The KEV entry of an enriched CVE (its CWEs and short description stand in when no CVE
/// record gives them), and intel matched whatever the case of an exposure's CVE id: the next
/// follow-up enriches everything again.
pub(crate) const MIGRATION_41: &str = r#"
ALTER TABLE intel_cve_enrichment ADD COLUMN kev_data TEXT;
UPDATE followup_state SET full = 1;
"#;

/// The intel rows of a CVE as the exposures name it (intel ids are stored trimmed and upper
/// case: `ctem_model::enrich::cve_key`).
const ENRICH_JOIN: &str = "
LEFT JOIN intel_kev k ON k.cve_id = upper(trim(c.cve))
LEFT JOIN intel_epss p ON p.cve_id = upper(trim(c.cve))
LEFT JOIN intel_cves r ON r.cve_id = upper(trim(c.cve))
WHERE k.cve_id IS NOT NULL OR p.cve_id IS NOT NULL OR r.cve_id IS NOT NULL";

const ENRICH_PASS: &str = "
DELETE FROM intel_cve_enrichment;
INSERT INTO intel_cve_enrichment(cve, kev, kev_date_added, kev_due_date, kev_ransomware,
                                 epss, epss_percentile, epss_date, record, kev_data)
SELECT c.cve, k.cve_id IS NOT NULL, k.date_added, k.due_date, k.ransomware,
       p.epss, p.percentile, p.score_date, r.data, k.data
FROM (SELECT DISTINCT cve FROM exposure_details WHERE cve IS NOT NULL) c";

fn date(s: Option<String>) -> Option<NaiveDate> {
    s.and_then(|s| NaiveDate::parse_from_str(&s, "%Y-%m-%d").ok())
}

fn ransomware_str(r: Option<RansomwareUse>) -> Option<&'static str> {
    r.map(|r| match r {
        RansomwareUse::Known => "known",
        RansomwareUse::Unknown => "unknown",
    })
}

/// The raw enrichment columns of one exposure row, starting at column `at`.
#[derive(Debug, Default)]
pub(crate) struct EnrichRow {
    pub(crate) cve: Option<String>,
    pub(crate) kev: bool,
    pub(crate) kev_date_added: Option<String>,
    pub(crate) kev_due_date: Option<String>,
    pub(crate) kev_ransomware: Option<String>,
    pub(crate) epss: Option<f64>,
    pub(crate) epss_percentile: Option<f64>,
    pub(crate) epss_date: Option<String>,
    pub(crate) record: Option<String>,
    pub(crate) kev_data: Option<String>,
}

pub(crate) fn enrich_row(r: &Row<'_>, at: usize) -> rusqlite::Result<EnrichRow> {
    Ok(EnrichRow {
        cve: r.get(at)?,
        kev: r.get::<_, Option<bool>>(at + 1)?.unwrap_or(false),
        kev_date_added: r.get(at + 2)?,
        kev_due_date: r.get(at + 3)?,
        kev_ransomware: r.get(at + 4)?,
        epss: r.get(at + 5)?,
        epss_percentile: r.get(at + 6)?,
        epss_date: r.get(at + 7)?,
        record: r.get(at + 8)?,
        kev_data: r.get(at + 9)?,
    })
}

/// Sets `e.intel` from the joined row, by the one enrichment (`ctem_model::enrich`): KEV and
/// EPSS facts always; the CVE record's description, CWEs and CVSS (else the KEV entry's CWEs
/// and description) only for what the exposure lacks.
pub(crate) fn apply_enrichment(e: &mut Exposure, row: EnrichRow) {
    let Some(cve_id) = row.cve else { return };
    let ransomware = match row.kev_ransomware.as_deref() {
        Some("known") => Some(RansomwareUse::Known),
        Some("unknown") => Some(RansomwareUse::Unknown),
        _ => None,
    };
    // the stored entry; the columns when it is missing (a row enriched before migration 41)
    let kev = row.kev.then(|| {
        row.kev_data
            .as_deref()
            .and_then(|d| serde_json::from_str::<KevEntry>(d).ok())
            .unwrap_or_else(|| KevEntry {
                cve_id: cve_id.clone(),
                vendor_project: String::new(),
                product: String::new(),
                vulnerability_name: String::new(),
                date_added: date(row.kev_date_added).unwrap_or_default(),
                short_description: String::new(),
                required_action: String::new(),
                due_date: date(row.kev_due_date),
                known_ransomware_campaign_use: ransomware,
                notes: String::new(),
                cwes: Vec::new(),
            })
    });
    let epss = row.epss.map(|p| EpssScore {
        cve_id: cve_id.clone(),
        epss: p,
        percentile: row.epss_percentile.unwrap_or_default(),
        date: date(row.epss_date),
    });
    let record = row
        .record
        .and_then(|r| serde_json::from_str::<CveRecord>(&r).ok());
    let missing = Missing {
        description: e.description.is_none(),
        cwes: e.cwes.is_empty(),
        cvss: e.cvss.is_empty(),
    };
    let en = enrich(
        kev.as_ref(),
        epss.as_ref(),
        record.as_ref(),
        &cve_id,
        missing,
    );
    // a stored row means some source knows the CVE, even when nothing of it is missing
    e.intel = en.or(Some(Enrichment {
        cve_id: ctem_model::enrich::cve_key(&cve_id).into_owned(),
        ..Enrichment::default()
    }));
}

fn ts(t: Option<DateTime<Utc>>) -> Option<i64> {
    t.map(|t| t.timestamp())
}

fn json<T: serde::Serialize>(v: &T) -> Result<String> {
    serde_json::to_string(v).map_err(|e| Error::Invalid(e.to_string()))
}

/// Upserts indicators; returns (new, updated).
fn put_indicators(tx: &Transaction<'_>, items: &[Indicator], now: i64) -> Result<(u64, u64)> {
    let mut find = tx.prepare_cached(
        "SELECT id, data FROM intel_indicators WHERE kind = ?1 AND value = ?2 AND source = ?3",
    )?;
    let mut insert = tx.prepare_cached(
        "INSERT INTO intel_indicators(kind, value, source, first_seen, last_seen, confidence,
             valid_until, tlp, revoked, data, imported_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?11)",
    )?;
    let mut update = tx.prepare_cached(
        "UPDATE intel_indicators SET first_seen = ?2, last_seen = ?3, confidence = ?4,
             valid_until = ?5, tlp = ?6, revoked = ?7, data = ?8, updated_at = ?9 WHERE id = ?1",
    )?;
    let (mut new, mut updated) = (0, 0);
    for i in items {
        let old: Option<(i64, String)> = find
            .query_row(params![i.kind.as_str(), i.value, i.source], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .optional()?;
        match old {
            None => {
                insert.execute(params![
                    i.kind.as_str(),
                    i.value,
                    i.source,
                    ts(i.first_seen),
                    ts(i.last_seen),
                    i.confidence,
                    ts(i.valid_until),
                    i.tlp.map(|t| t.as_str()),
                    i.revoked,
                    json(i)?,
                    now,
                ])?;
                new += 1;
            }
            Some((id, data)) => {
                let mut merged = i.clone();
                if let Ok(prev) = serde_json::from_str::<Indicator>(&data) {
                    merged.first_seen = match (prev.first_seen, i.first_seen) {
                        (Some(a), Some(b)) => Some(a.min(b)),
                        (a, b) => a.or(b),
                    };
                    merged.last_seen = match (prev.last_seen, i.last_seen) {
                        (Some(a), Some(b)) => Some(a.max(b)),
                        (a, b) => a.or(b),
                    };
                }
                update.execute(params![
                    id,
                    ts(merged.first_seen),
                    ts(merged.last_seen),
                    merged.confidence,
                    ts(merged.valid_until),
                    merged.tlp.map(|t| t.as_str()),
                    merged.revoked,
                    json(&merged)?,
                    now,
                ])?;
                updated += 1;
            }
        }
    }
    Ok((new, updated))
}

fn put_batch(tx: &Transaction<'_>, b: &IntelBatch, s: &mut IntelSummary) -> Result<()> {
    let now = Utc::now().timestamp();
    (s.indicators_new, s.indicators_updated) = put_indicators(tx, &b.indicators, now)?;
    {
        let mut st = tx.prepare_cached(
            "INSERT INTO intel_kev(cve_id, date_added, due_date, ransomware, data)
             VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT(cve_id) DO UPDATE SET date_added = excluded.date_added,
                 due_date = excluded.due_date, ransomware = excluded.ransomware,
                 data = excluded.data",
        )?;
        for k in &b.kev {
            st.execute(params![
                k.cve_id.to_ascii_uppercase(),
                k.date_added.to_string(),
                k.due_date.map(|d| d.to_string()),
                ransomware_str(k.known_ransomware_campaign_use),
                json(k)?,
            ])?;
            s.kev += 1;
        }
    }
    {
        let mut st = tx.prepare_cached(
            "INSERT INTO intel_epss(cve_id, epss, percentile, score_date) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT(cve_id) DO UPDATE SET epss = excluded.epss,
                 percentile = excluded.percentile, score_date = excluded.score_date",
        )?;
        for p in &b.epss {
            st.execute(params![
                p.cve_id.to_ascii_uppercase(),
                p.epss,
                p.percentile,
                p.date.map(|d| d.to_string()),
            ])?;
            s.epss += 1;
        }
    }
    {
        let mut st = tx.prepare_cached(
            "INSERT INTO intel_cves(cve_id, data) VALUES (?1, ?2)
             ON CONFLICT(cve_id) DO UPDATE SET data = excluded.data",
        )?;
        for c in &b.cves {
            st.execute(params![c.id.to_ascii_uppercase(), json(c)?])?;
            s.cves += 1;
        }
    }
    {
        let mut st = tx.prepare_cached(
            "INSERT INTO intel_attack(stix_id, kind, attack_id, name, revoked, deprecated, data)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
             ON CONFLICT(stix_id) DO UPDATE SET kind = excluded.kind,
                 attack_id = excluded.attack_id, name = excluded.name,
                 revoked = excluded.revoked, deprecated = excluded.deprecated,
                 data = excluded.data",
        )?;
        for a in &b.attack {
            st.execute(params![
                a.stix_id,
                a.kind,
                a.id,
                a.name,
                a.revoked,
                a.deprecated,
                a.data
            ])?;
            s.attack_objects += 1;
        }
    }
    {
        let mut st = tx.prepare_cached(
            "INSERT INTO intel_relationships(source_ref, relationship_type, target_ref,
                 source_id, target_id, revoked) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT DO UPDATE SET source_id = excluded.source_id,
                 target_id = excluded.target_id, revoked = excluded.revoked",
        )?;
        for r in &b.relationships {
            st.execute(params![
                r.source_ref,
                r.relationship_type,
                r.target_ref,
                r.source_id,
                r.target_id,
                r.revoked || r.deprecated,
            ])?;
            s.relationships += 1;
        }
    }
    Ok(())
}

/// What of a CVE's enrichment the risk model reads: when it changes, its exposures are
/// scored again by the follow-up.
const ENRICH_SIGNATURE: &str = "kev || '|' || coalesce(kev_due_date, '') || '|' ||
    coalesce(kev_ransomware, '') || '|' || coalesce(epss, '') || '|' || coalesce(epss_percentile, '')";

/// The enrichment pass; the exposures of CVEs whose enrichment changed are marked for the
/// follow-up.
pub(crate) fn run_pass(tx: &rusqlite::Connection) -> Result<u64> {
    tx.execute_batch(&format!(
        "CREATE TEMP TABLE IF NOT EXISTS enrich_old(cve TEXT PRIMARY KEY, sig TEXT);
         CREATE TEMP TABLE IF NOT EXISTS enrich_changed(cve TEXT PRIMARY KEY);
         DELETE FROM temp.enrich_old;
         DELETE FROM temp.enrich_changed;
         INSERT INTO temp.enrich_old SELECT cve, {ENRICH_SIGNATURE} FROM intel_cve_enrichment;"
    ))?;
    tx.execute_batch(&format!("{ENRICH_PASS}{ENRICH_JOIN};"))?;
    tx.execute_batch(&format!(
        "INSERT OR IGNORE INTO temp.enrich_changed
           SELECT cve FROM (SELECT cve, {ENRICH_SIGNATURE} FROM intel_cve_enrichment
                            EXCEPT SELECT cve, sig FROM temp.enrich_old);
         INSERT OR IGNORE INTO temp.enrich_changed
           SELECT cve FROM temp.enrich_old
           WHERE cve NOT IN (SELECT cve FROM intel_cve_enrichment);
         DELETE FROM temp.enrich_old;"
    ))?;
    super::work::followup::mark_changed_cves(tx)?;
    let n: i64 = tx.query_row("SELECT count(*) FROM intel_cve_enrichment", [], |r| {
        r.get(0)
    })?;
    Ok(n as u64)
}

/// The enrichment of the CVEs of the exposures in `temp.risk_scope` (an import's follow-up:
/// the intelligence did not change, only CVEs new to the store need a row).
pub(crate) fn enrich_scope(tx: &rusqlite::Connection) -> Result<()> {
    tx.execute_batch(&format!(
        "INSERT OR REPLACE INTO intel_cve_enrichment(cve, kev, kev_date_added, kev_due_date,
             kev_ransomware, epss, epss_percentile, epss_date, record, kev_data)
         SELECT c.cve, k.cve_id IS NOT NULL, k.date_added, k.due_date, k.ransomware,
                p.epss, p.percentile, p.score_date, r.data, k.data
         FROM (SELECT DISTINCT d.cve FROM exposure_details d
               WHERE d.cve IS NOT NULL AND d.id IN
                 (SELECT detail_id FROM exposures WHERE id IN (SELECT id FROM temp.risk_scope))) c
         {ENRICH_JOIN};"
    ))?;
    Ok(())
}

fn from_ts(t: Option<i64>) -> Option<DateTime<Utc>> {
    t.and_then(|t| DateTime::from_timestamp(t, 0))
}

impl IntelStore for SqliteStore {
    fn import_intel(&mut self, batch: IntelBatch) -> Result<IntelSummary> {
        let tx = self.conn.transaction()?;
        let mut s = IntelSummary::default();
        put_batch(&tx, &batch, &mut s)?;
        s.enriched_cves = run_pass(&tx)?;
        tx.commit()?;
        Ok(s)
    }

    fn enrich_exposures(&mut self) -> Result<u64> {
        let tx = self.conn.transaction()?;
        let n = run_pass(&tx)?;
        tx.commit()?;
        Ok(n)
    }

    fn indicators(&self, f: &IndicatorFilter) -> Result<Vec<Indicator>> {
        let mut sql = String::from("SELECT id, data FROM intel_indicators WHERE 1=1");
        let mut args: Vec<SqlValue> = Vec::new();
        if let Some(k) = f.kind {
            sql.push_str(" AND kind = ?");
            args.push(k.as_str().to_string().into());
        }
        if let Some(s) = &f.source {
            sql.push_str(" AND source = ?");
            args.push(s.clone().into());
        }
        if let Some(now) = f.active_at {
            sql.push_str(" AND revoked = 0 AND (valid_until IS NULL OR valid_until > ?)");
            args.push(now.timestamp().into());
        }
        sql.push_str(" ORDER BY kind, value, source");
        if let Some(l) = f.limit {
            sql.push_str(&format!(" LIMIT {l}"));
        }
        let mut st = self.conn.prepare(&sql)?;
        let rows = st.query_map(params_from_iter(args), |r| {
            Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (id, data) = row?;
            out.push(serde_json::from_str(&data).map_err(|e| Error::Corrupt {
                table: "intel_indicators",
                message: format!("{id}: {e}"),
            })?);
        }
        Ok(out)
    }

    fn attack_objects(&self, kind: Option<&str>) -> Result<Vec<AttackObject>> {
        let mut st = self.conn.prepare(
            "SELECT stix_id, kind, attack_id, name, revoked, deprecated, data FROM intel_attack
             WHERE ?1 IS NULL OR kind = ?1 ORDER BY attack_id, stix_id",
        )?;
        let rows = st.query_map([kind], |r| {
            Ok(AttackObject {
                stix_id: r.get(0)?,
                kind: r.get(1)?,
                id: r.get(2)?,
                name: r.get(3)?,
                revoked: r.get(4)?,
                deprecated: r.get(5)?,
                data: r.get(6)?,
            })
        })?;
        Ok(rows.collect::<std::result::Result<_, _>>()?)
    }

    fn attack_relationships(&self, attack_id: &str) -> Result<Vec<Relationship>> {
        let mut st = self.conn.prepare(
            "SELECT relationship_type, source_ref, target_ref, source_id, target_id, revoked
             FROM intel_relationships WHERE source_id = ?1 OR target_id = ?1
             ORDER BY relationship_type, source_ref, target_ref",
        )?;
        let rows = st.query_map([attack_id], |r| {
            Ok(Relationship {
                relationship_type: r.get(0)?,
                source_ref: r.get(1)?,
                target_ref: r.get(2)?,
                source_id: r.get(3)?,
                target_id: r.get(4)?,
                revoked: r.get(5)?,
                deprecated: false,
            })
        })?;
        Ok(rows.collect::<std::result::Result<_, _>>()?)
    }

    fn feed_state(&self, name: &str) -> Result<Option<FeedState>> {
        Ok(self
            .conn
            .query_row(
                "SELECT name, url, etag, last_modified, checked_at, updated_at, sha256
                 FROM intel_feeds WHERE name = ?1",
                [name],
                |r| {
                    Ok(FeedState {
                        name: r.get(0)?,
                        url: r.get(1)?,
                        etag: r.get(2)?,
                        last_modified: r.get(3)?,
                        checked_at: from_ts(r.get(4)?),
                        updated_at: from_ts(r.get(5)?),
                        sha256: r.get(6)?,
                    })
                },
            )
            .optional()?)
    }

    fn set_feed_state(&mut self, s: &FeedState) -> Result<()> {
        self.conn.execute(
            "INSERT INTO intel_feeds(name, url, etag, last_modified, checked_at, updated_at, sha256)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
             ON CONFLICT(name) DO UPDATE SET url = excluded.url, etag = excluded.etag,
                 last_modified = excluded.last_modified, checked_at = excluded.checked_at,
                 updated_at = excluded.updated_at, sha256 = excluded.sha256",
            params![
                s.name,
                s.url,
                s.etag,
                s.last_modified,
                ts(s.checked_at),
                ts(s.updated_at),
                s.sha256
            ],
        )?;
        Ok(())
    }

    fn intel_counts(&self) -> Result<IntelCounts> {
        let c = |t: &str| -> Result<u64> { Ok(self.count(t)? as u64) };
        Ok(IntelCounts {
            indicators: c("intel_indicators")?,
            kev: c("intel_kev")?,
            epss: c("intel_epss")?,
            cves: c("intel_cves")?,
            attack_objects: c("intel_attack")?,
            relationships: c("intel_relationships")?,
            enriched_cves: c("intel_cve_enrichment")?,
        })
    }
}
