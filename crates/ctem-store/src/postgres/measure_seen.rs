//! Logsource sightings and enabled rules of [`crate::measure::MeasureStore`] on PostgreSQL
//! (the counterpart of `sqlite/measure_seen.rs`, migration 52).

use chrono::{DateTime, Utc};

use super::{PgStore, json, ts};
use crate::measure::{DetectionRule, LogsourceSighting};
use crate::{Error, Result};

/// `''` stands for a part the logsource does not name (a primary key cannot hold NULL).
fn part(v: &Option<String>) -> &str {
    v.as_deref().unwrap_or("")
}

fn opt(v: String) -> Option<String> {
    (!v.is_empty()).then_some(v)
}

pub(super) fn record_logsources(s: &mut PgStore, seen: &[LogsourceSighting]) -> Result<()> {
    let mut db = s.db();
    let mut tx = db.transaction()?;
    let st = tx.prepare(
        "INSERT INTO seen_logsources(product, service, category, events, first_seen, last_seen)
         VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (product, service, category) DO UPDATE SET
             events = seen_logsources.events + excluded.events,
             first_seen = least(seen_logsources.first_seen, excluded.first_seen),
             last_seen = greatest(seen_logsources.last_seen, excluded.last_seen)",
    )?;
    for x in seen {
        let events = i64::try_from(x.events).unwrap_or(i64::MAX);
        tx.execute(
            &st,
            &[
                &part(&x.product),
                &part(&x.service),
                &part(&x.category),
                &events,
                &x.first_seen.timestamp(),
                &x.last_seen.timestamp(),
            ],
        )?;
    }
    tx.commit()?;
    Ok(())
}

pub(super) fn seen_logsources(s: &PgStore) -> Result<Vec<LogsourceSighting>> {
    let rows = s.db().query(
        "SELECT product, service, category, events, first_seen, last_seen FROM seen_logsources
         ORDER BY product, service, category",
        &[],
    )?;
    Ok(rows
        .iter()
        .map(|r| LogsourceSighting {
            product: opt(r.get(0)),
            service: opt(r.get(1)),
            category: opt(r.get(2)),
            events: r.get::<_, i64>(3).max(0) as u64,
            first_seen: ts(r.get(4)),
            last_seen: ts(r.get(5)),
        })
        .collect())
}

pub(super) fn record_rules(
    s: &mut PgStore,
    rules: &[DetectionRule],
    at: DateTime<Utc>,
) -> Result<()> {
    let mut db = s.db();
    let mut tx = db.transaction()?;
    tx.execute("DELETE FROM detection_rules", &[])?;
    let st = tx.prepare(
        "INSERT INTO detection_rules(rule_id, title, product, service, category, tags, loaded_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT (rule_id) DO UPDATE SET title = excluded.title,
             product = excluded.product, service = excluded.service,
             category = excluded.category, tags = excluded.tags",
    )?;
    for r in rules {
        tx.execute(
            &st,
            &[
                &r.rule_id,
                &r.title,
                &part(&r.product),
                &part(&r.service),
                &part(&r.category),
                &json(&r.tags)?,
                &at.timestamp(),
            ],
        )?;
    }
    tx.commit()?;
    Ok(())
}

pub(super) fn detection_rules(s: &PgStore) -> Result<Vec<DetectionRule>> {
    let rows = s.db().query(
        "SELECT rule_id, title, product, service, category, tags FROM detection_rules
         ORDER BY rule_id",
        &[],
    )?;
    rows.iter()
        .map(|r| {
            let rule_id: String = r.get(0);
            let tags = serde_json::from_str(r.get(5)).map_err(|e| Error::Corrupt {
                table: "detection_rules",
                message: format!("{rule_id}: {e}"),
            })?;
            Ok(DetectionRule {
                title: r.get(1),
                product: opt(r.get(2)),
                service: opt(r.get(3)),
                category: opt(r.get(4)),
                tags,
                rule_id,
            })
        })
        .collect()
}
