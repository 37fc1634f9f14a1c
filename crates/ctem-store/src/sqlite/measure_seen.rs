//! SQLite side of the logsource sightings and enabled rules of
//! [`crate::measure::MeasureStore`], and the alert kind column.

use chrono::{DateTime, Utc};
use rusqlite::params;

use super::SqliteStore;
use super::measure::ts;
use crate::measure::{DetectionRule, LogsourceSighting};
use crate::{Error, Result};

/// Logsources detection saw, and the rules of the last detection run that stored alerts.
/// `''` stands for a part the logsource does not name (a primary key cannot hold NULL).
pub(crate) const MIGRATION_52: &str = r#"
CREATE TABLE seen_logsources (
    product    TEXT    NOT NULL,
    service    TEXT    NOT NULL,
    category   TEXT    NOT NULL,
    events     INTEGER NOT NULL,
    first_seen INTEGER NOT NULL,
    last_seen  INTEGER NOT NULL,
    PRIMARY KEY (product, service, category)
) WITHOUT ROWID;
CREATE TABLE detection_rules (
    rule_id   TEXT    PRIMARY KEY,
    title     TEXT    NOT NULL,
    product   TEXT    NOT NULL,
    service   TEXT    NOT NULL,
    category  TEXT    NOT NULL,
    tags      TEXT    NOT NULL,
    loaded_at INTEGER NOT NULL
) WITHOUT ROWID;
"#;

/// The mark detection puts on an alert: `event` or `correlation`; correlation alerts are few,
/// so a partial index counts them in a window without scanning every alert.
pub(crate) const MIGRATION_53: &str = r#"
ALTER TABLE alerts ADD COLUMN kind TEXT NOT NULL DEFAULT 'event';
CREATE INDEX alerts_correlation ON alerts(detected_at) WHERE kind = 'correlation';
"#;

fn part(v: &Option<String>) -> &str {
    v.as_deref().unwrap_or("")
}

fn opt(v: String) -> Option<String> {
    (!v.is_empty()).then_some(v)
}

pub(crate) fn record_logsources(s: &mut SqliteStore, seen: &[LogsourceSighting]) -> Result<()> {
    let tx = s.conn.transaction()?;
    {
        let mut st = tx.prepare_cached(
            "INSERT INTO seen_logsources(product, service, category, events, first_seen, last_seen)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT(product, service, category) DO UPDATE SET
                 events = events + excluded.events,
                 first_seen = min(first_seen, excluded.first_seen),
                 last_seen = max(last_seen, excluded.last_seen)",
        )?;
        for x in seen {
            st.execute(params![
                part(&x.product),
                part(&x.service),
                part(&x.category),
                i64::try_from(x.events).unwrap_or(i64::MAX),
                x.first_seen.timestamp(),
                x.last_seen.timestamp(),
            ])?;
        }
    }
    tx.commit()?;
    Ok(())
}

pub(crate) fn seen_logsources(s: &SqliteStore) -> Result<Vec<LogsourceSighting>> {
    let mut st = s.conn.prepare(
        "SELECT product, service, category, events, first_seen, last_seen FROM seen_logsources
         ORDER BY product, service, category",
    )?;
    let rows = st.query_map([], |r| {
        Ok(LogsourceSighting {
            product: opt(r.get(0)?),
            service: opt(r.get(1)?),
            category: opt(r.get(2)?),
            events: r.get::<_, i64>(3)?.max(0) as u64,
            first_seen: ts(r.get(4)?),
            last_seen: ts(r.get(5)?),
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

pub(crate) fn record_rules(
    s: &mut SqliteStore,
    rules: &[DetectionRule],
    at: DateTime<Utc>,
) -> Result<()> {
    let tx = s.conn.transaction()?;
    tx.execute("DELETE FROM detection_rules", [])?;
    {
        let mut st = tx.prepare_cached(
            "INSERT INTO detection_rules(rule_id, title, product, service, category, tags, loaded_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
             ON CONFLICT(rule_id) DO UPDATE SET title = excluded.title, product = excluded.product,
                 service = excluded.service, category = excluded.category, tags = excluded.tags",
        )?;
        for r in rules {
            st.execute(params![
                r.rule_id,
                r.title,
                part(&r.product),
                part(&r.service),
                part(&r.category),
                serde_json::to_string(&r.tags).map_err(|e| Error::Invalid(e.to_string()))?,
                at.timestamp(),
            ])?;
        }
    }
    tx.commit()?;
    Ok(())
}

pub(crate) fn detection_rules(s: &SqliteStore) -> Result<Vec<DetectionRule>> {
    let mut st = s.conn.prepare(
        "SELECT rule_id, title, product, service, category, tags FROM detection_rules
         ORDER BY rule_id",
    )?;
    let rows = st.query_map([], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, String>(2)?,
            r.get::<_, String>(3)?,
            r.get::<_, String>(4)?,
            r.get::<_, String>(5)?,
        ))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (rule_id, title, product, service, category, tags) = row?;
        let tags = serde_json::from_str(&tags).map_err(|e| Error::Corrupt {
            table: "detection_rules",
            message: format!("{rule_id}: {e}"),
        })?;
        out.push(DetectionRule {
            rule_id,
            title,
            product: opt(product),
            service: opt(service),
            category: opt(category),
            tags,
        });
    }
    Ok(out)
}
