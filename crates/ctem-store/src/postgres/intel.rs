//! Threat intelligence on PostgreSQL (the counterpart of `sqlite/intel.rs`): batch import
//! with upserts, the enrichment pass (which records the exposures whose CVE's facts changed
//! for the follow-up), feed state.

use chrono::{DateTime, Utc};
use ctem_model::intel::{Indicator, RansomwareUse, Relationship};
use postgres::types::ToSql;
use postgres::{GenericClient, Transaction};

use super::{PgStore, json};
use crate::intel::{
    AttackObject, FeedState, IndicatorFilter, IntelBatch, IntelCounts, IntelStore, IntelSummary,
};
use crate::{Error, Result};

/// The enrichment pass: one row per CVE of a stored exposure that some source knows about.
const ENRICH_PASS: &str = "
DELETE FROM intel_cve_enrichment;
INSERT INTO intel_cve_enrichment(cve, kev, kev_date_added, kev_due_date, kev_ransomware,
                                 epss, epss_percentile, epss_date, record, kev_data)
SELECT c.cve, (k.cve_id IS NOT NULL)::int, k.date_added, k.due_date, k.ransomware,
       p.epss, p.percentile, p.score_date, r.data, k.data
FROM (SELECT DISTINCT cve FROM exposure_details WHERE cve IS NOT NULL) c
LEFT JOIN intel_kev k ON k.cve_id = upper(trim(c.cve))
LEFT JOIN intel_epss p ON p.cve_id = upper(trim(c.cve))
LEFT JOIN intel_cves r ON r.cve_id = upper(trim(c.cve))
WHERE k.cve_id IS NOT NULL OR p.cve_id IS NOT NULL OR r.cve_id IS NOT NULL;
";

/// What of a CVE's enrichment the risk model reads: when it changes, its exposures are
/// scored again by the follow-up.
const SIGNATURE: &str = "kev::text || '|' || coalesce(kev_due_date, '') || '|' ||
    coalesce(kev_ransomware, '') || '|' || coalesce(epss::text, '') || '|' ||
    coalesce(epss_percentile::text, '')";

/// More CVEs changed than this and the follow-up scores everything.
const CHANGED_FULL_OVER: i64 = 2_000;

fn secs(t: Option<DateTime<Utc>>) -> Option<i64> {
    t.map(|t| t.timestamp())
}

fn ransomware_str(r: Option<RansomwareUse>) -> Option<&'static str> {
    r.map(|r| match r {
        RansomwareUse::Known => "known",
        RansomwareUse::Unknown => "unknown",
    })
}

/// Upserts indicators, keeping the earliest first and the latest last sighting; returns
/// (new, updated).
fn put_indicators(tx: &mut Transaction<'_>, items: &[Indicator], now: i64) -> Result<(u64, u64)> {
    let find = tx.prepare(
        "SELECT id, data FROM intel_indicators WHERE kind = $1 AND value = $2 AND source = $3
         FOR UPDATE",
    )?;
    let insert = tx.prepare(
        "INSERT INTO intel_indicators(kind, value, source, first_seen, last_seen, confidence,
             valid_until, tlp, revoked, data, imported_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11)",
    )?;
    let update = tx.prepare(
        "UPDATE intel_indicators SET first_seen = $2, last_seen = $3, confidence = $4,
             valid_until = $5, tlp = $6, revoked = $7, data = $8, updated_at = $9 WHERE id = $1",
    )?;
    let (mut new, mut updated) = (0, 0);
    for i in items {
        let old = tx.query_opt(&find, &[&i.kind.as_str(), &i.value, &i.source])?;
        let mut merged = i.clone();
        if let Some(old) = &old
            && let Ok(prev) = serde_json::from_str::<Indicator>(old.get(1))
        {
            merged.first_seen = match (prev.first_seen, i.first_seen) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            merged.last_seen = match (prev.last_seen, i.last_seen) {
                (Some(a), Some(b)) => Some(a.max(b)),
                (a, b) => a.or(b),
            };
        }
        let confidence = merged.confidence.map(i64::from);
        let tlp = merged.tlp.map(|t| t.as_str());
        let revoked = i64::from(merged.revoked);
        let data = json(&merged)?;
        match old {
            None => {
                tx.execute(
                    &insert,
                    &[
                        &i.kind.as_str(),
                        &i.value,
                        &i.source,
                        &secs(merged.first_seen),
                        &secs(merged.last_seen),
                        &confidence,
                        &secs(merged.valid_until),
                        &tlp,
                        &revoked,
                        &data,
                        &now,
                    ],
                )?;
                new += 1;
            }
            Some(old) => {
                let id: i64 = old.get(0);
                tx.execute(
                    &update,
                    &[
                        &id,
                        &secs(merged.first_seen),
                        &secs(merged.last_seen),
                        &confidence,
                        &secs(merged.valid_until),
                        &tlp,
                        &revoked,
                        &data,
                        &now,
                    ],
                )?;
                updated += 1;
            }
        }
    }
    Ok((new, updated))
}

fn put_batch(tx: &mut Transaction<'_>, b: &IntelBatch, s: &mut IntelSummary) -> Result<()> {
    (s.indicators_new, s.indicators_updated) =
        put_indicators(tx, &b.indicators, Utc::now().timestamp())?;
    let st = tx.prepare(
        "INSERT INTO intel_kev(cve_id, date_added, due_date, ransomware, data)
         VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT(cve_id) DO UPDATE SET date_added = excluded.date_added,
             due_date = excluded.due_date, ransomware = excluded.ransomware, data = excluded.data",
    )?;
    for k in &b.kev {
        tx.execute(
            &st,
            &[
                &k.cve_id.to_ascii_uppercase(),
                &k.date_added.to_string(),
                &k.due_date.map(|d| d.to_string()),
                &ransomware_str(k.known_ransomware_campaign_use),
                &json(k)?,
            ],
        )?;
        s.kev += 1;
    }
    let st = tx.prepare(
        "INSERT INTO intel_epss(cve_id, epss, percentile, score_date) VALUES ($1, $2, $3, $4)
         ON CONFLICT(cve_id) DO UPDATE SET epss = excluded.epss,
             percentile = excluded.percentile, score_date = excluded.score_date",
    )?;
    for p in &b.epss {
        let date = p.date.map(|d| d.to_string());
        tx.execute(
            &st,
            &[
                &p.cve_id.to_ascii_uppercase(),
                &p.epss,
                &p.percentile,
                &date,
            ],
        )?;
        s.epss += 1;
    }
    let st = tx.prepare(
        "INSERT INTO intel_cves(cve_id, data) VALUES ($1, $2)
         ON CONFLICT(cve_id) DO UPDATE SET data = excluded.data",
    )?;
    for c in &b.cves {
        tx.execute(&st, &[&c.id.to_ascii_uppercase(), &json(c)?])?;
        s.cves += 1;
    }
    let st = tx.prepare(
        "INSERT INTO intel_attack(stix_id, kind, attack_id, name, revoked, deprecated, data)
         VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT(stix_id) DO UPDATE SET kind = excluded.kind,
             attack_id = excluded.attack_id, name = excluded.name, revoked = excluded.revoked,
             deprecated = excluded.deprecated, data = excluded.data",
    )?;
    for a in &b.attack {
        let (rv, dp) = (i64::from(a.revoked), i64::from(a.deprecated));
        tx.execute(
            &st,
            &[&a.stix_id, &a.kind, &a.id, &a.name, &rv, &dp, &a.data],
        )?;
        s.attack_objects += 1;
    }
    let st = tx.prepare(
        "INSERT INTO intel_relationships(source_ref, relationship_type, target_ref,
             source_id, target_id, revoked) VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (source_ref, relationship_type, target_ref) DO UPDATE SET
             source_id = excluded.source_id, target_id = excluded.target_id,
             revoked = excluded.revoked",
    )?;
    for r in &b.relationships {
        let rv = i64::from(r.revoked || r.deprecated);
        tx.execute(
            &st,
            &[
                &r.source_ref,
                &r.relationship_type,
                &r.target_ref,
                &r.source_id,
                &r.target_id,
                &rv,
            ],
        )?;
        s.relationships += 1;
    }
    Ok(())
}

/// The enrichment pass; the exposures of CVEs whose enrichment changed are recorded for the
/// follow-up (or the whole store, past [`CHANGED_FULL_OVER`] CVEs).
pub(super) fn run_pass(c: &mut impl GenericClient) -> Result<u64> {
    c.batch_execute(&format!(
        "CREATE TEMPORARY TABLE IF NOT EXISTS enrich_old(cve TEXT PRIMARY KEY, sig TEXT);
         CREATE TEMPORARY TABLE IF NOT EXISTS enrich_changed(cve TEXT PRIMARY KEY);
         DELETE FROM pg_temp.enrich_old;
         DELETE FROM pg_temp.enrich_changed;
         INSERT INTO pg_temp.enrich_old SELECT cve, {SIGNATURE} FROM intel_cve_enrichment;
         {ENRICH_PASS}
         INSERT INTO pg_temp.enrich_changed
           SELECT cve FROM (SELECT cve, {SIGNATURE} AS sig FROM intel_cve_enrichment
                            EXCEPT SELECT cve, sig FROM pg_temp.enrich_old) x;
         INSERT INTO pg_temp.enrich_changed
           SELECT cve FROM pg_temp.enrich_old o
           WHERE NOT EXISTS (SELECT 1 FROM intel_cve_enrichment i WHERE i.cve = o.cve)
           ON CONFLICT DO NOTHING;"
    ))?;
    let changed: i64 = c
        .query_one("SELECT count(*) FROM pg_temp.enrich_changed", &[])?
        .get(0);
    if changed > CHANGED_FULL_OVER {
        c.execute(r#"UPDATE followup_state SET "full" = 1 WHERE id = 1"#, &[])?;
    } else if changed > 0 {
        c.execute(
            "INSERT INTO followup_exposures(exposure_id)
             SELECT e.id FROM exposures e JOIN exposure_details d ON d.id = e.detail_id
             WHERE d.cve IN (SELECT cve FROM pg_temp.enrich_changed)
             ON CONFLICT DO NOTHING",
            &[],
        )?;
    }
    let n: i64 = c
        .query_one("SELECT count(*) FROM intel_cve_enrichment", &[])?
        .get(0);
    Ok(n as u64)
}

/// The enrichment of the CVEs of the exposures in the follow-up's scope (the intelligence
/// did not change, only CVEs new to the store need a row).
pub(super) fn enrich_scope(c: &mut impl GenericClient) -> Result<()> {
    c.batch_execute(
        "INSERT INTO intel_cve_enrichment(cve, kev, kev_date_added, kev_due_date,
             kev_ransomware, epss, epss_percentile, epss_date, record, kev_data)
         SELECT c.cve, (k.cve_id IS NOT NULL)::int, k.date_added, k.due_date, k.ransomware,
                p.epss, p.percentile, p.score_date, r.data, k.data
         FROM (SELECT DISTINCT d.cve FROM exposure_details d
               WHERE d.cve IS NOT NULL AND d.id IN
                 (SELECT detail_id FROM exposures WHERE id IN
                    (SELECT id FROM pg_temp.risk_scope))) c
         LEFT JOIN intel_kev k ON k.cve_id = upper(trim(c.cve))
         LEFT JOIN intel_epss p ON p.cve_id = upper(trim(c.cve))
         LEFT JOIN intel_cves r ON r.cve_id = upper(trim(c.cve))
         WHERE k.cve_id IS NOT NULL OR p.cve_id IS NOT NULL OR r.cve_id IS NOT NULL
         ON CONFLICT (cve) DO UPDATE SET kev = excluded.kev,
             kev_date_added = excluded.kev_date_added, kev_due_date = excluded.kev_due_date,
             kev_ransomware = excluded.kev_ransomware, epss = excluded.epss,
             epss_percentile = excluded.epss_percentile, epss_date = excluded.epss_date,
             record = excluded.record, kev_data = excluded.kev_data",
    )?;
    Ok(())
}

impl IntelStore for PgStore {
    fn import_intel(&mut self, batch: IntelBatch) -> Result<IntelSummary> {
        let mut db = self.db();
        let mut tx = db.transaction()?;
        let mut s = IntelSummary::default();
        put_batch(&mut tx, &batch, &mut s)?;
        s.enriched_cves = run_pass(&mut tx)?;
        tx.commit()?;
        Ok(s)
    }

    fn enrich_exposures(&mut self) -> Result<u64> {
        let mut db = self.db();
        let mut tx = db.transaction()?;
        let n = run_pass(&mut tx)?;
        tx.commit()?;
        Ok(n)
    }

    fn indicators(&self, f: &IndicatorFilter) -> Result<Vec<Indicator>> {
        let mut sql = String::from("SELECT id, data FROM intel_indicators WHERE true");
        let kind = f.kind.map(|k| k.as_str().to_string());
        let at = f.active_at.map(|t| t.timestamp());
        let mut args: Vec<&(dyn ToSql + Sync)> = Vec::new();
        if let Some(k) = &kind {
            args.push(k);
            sql.push_str(&format!(" AND kind = ${}", args.len()));
        }
        if let Some(s) = &f.source {
            args.push(s);
            sql.push_str(&format!(" AND source = ${}", args.len()));
        }
        if let Some(t) = &at {
            args.push(t);
            sql.push_str(&format!(
                " AND revoked = 0 AND (valid_until IS NULL OR valid_until > ${})",
                args.len()
            ));
        }
        // byte order, as SQLite sorts text
        sql.push_str(" ORDER BY kind COLLATE \"C\", value COLLATE \"C\", source COLLATE \"C\"");
        if let Some(l) = f.limit {
            sql.push_str(&format!(" LIMIT {l}"));
        }
        let rows = self.db().query(&sql, &args)?;
        rows.iter()
            .map(|r| {
                serde_json::from_str(r.get(1)).map_err(|e| Error::Corrupt {
                    table: "intel_indicators",
                    message: format!("{}: {e}", r.get::<_, i64>(0)),
                })
            })
            .collect()
    }

    fn attack_objects(&self, kind: Option<&str>) -> Result<Vec<AttackObject>> {
        let rows = self.db().query(
            "SELECT stix_id, kind, attack_id, name, revoked, deprecated, data FROM intel_attack
             WHERE $1::text IS NULL OR kind = $1
             ORDER BY attack_id COLLATE \"C\", stix_id COLLATE \"C\"",
            &[&kind],
        )?;
        Ok(rows
            .iter()
            .map(|r| AttackObject {
                stix_id: r.get(0),
                kind: r.get(1),
                id: r.get(2),
                name: r.get(3),
                revoked: r.get::<_, i64>(4) != 0,
                deprecated: r.get::<_, i64>(5) != 0,
                data: r.get(6),
            })
            .collect())
    }

    fn attack_relationships(&self, attack_id: &str) -> Result<Vec<Relationship>> {
        let rows = self.db().query(
            "SELECT relationship_type, source_ref, target_ref, source_id, target_id, revoked
             FROM intel_relationships WHERE source_id = $1 OR target_id = $1
             ORDER BY relationship_type COLLATE \"C\", source_ref COLLATE \"C\",
                      target_ref COLLATE \"C\"",
            &[&attack_id],
        )?;
        Ok(rows
            .iter()
            .map(|r| Relationship {
                relationship_type: r.get(0),
                source_ref: r.get(1),
                target_ref: r.get(2),
                source_id: r.get(3),
                target_id: r.get(4),
                revoked: r.get::<_, i64>(5) != 0,
                deprecated: false,
            })
            .collect())
    }

    fn feed_state(&self, name: &str) -> Result<Option<FeedState>> {
        let row = self.db().query_opt(
            "SELECT name, url, etag, last_modified, checked_at, updated_at, sha256
             FROM intel_feeds WHERE name = $1",
            &[&name],
        )?;
        let at = |t: Option<i64>| t.and_then(|t| DateTime::from_timestamp(t, 0));
        Ok(row.map(|r| FeedState {
            name: r.get(0),
            url: r.get(1),
            etag: r.get(2),
            last_modified: r.get(3),
            checked_at: at(r.get(4)),
            updated_at: at(r.get(5)),
            sha256: r.get(6),
        }))
    }

    fn set_feed_state(&mut self, s: &FeedState) -> Result<()> {
        self.db().execute(
            "INSERT INTO intel_feeds(name, url, etag, last_modified, checked_at, updated_at, sha256)
             VALUES ($1, $2, $3, $4, $5, $6, $7)
             ON CONFLICT(name) DO UPDATE SET url = excluded.url, etag = excluded.etag,
                 last_modified = excluded.last_modified, checked_at = excluded.checked_at,
                 updated_at = excluded.updated_at, sha256 = excluded.sha256",
            &[
                &s.name,
                &s.url,
                &s.etag,
                &s.last_modified,
                &secs(s.checked_at),
                &secs(s.updated_at),
                &s.sha256,
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
