//! Detection alerts on PostgreSQL, and the bulk-write path they measure.
//!
//! A batch of alerts is written in one of two ways ([`BulkWrite`]):
//! - `Copy`: `COPY alerts_in FROM STDIN (FORMAT binary)` into a temporary table, then one
//!   `INSERT INTO alerts SELECT ... ON CONFLICT (identity) DO NOTHING RETURNING id`;
//! - `Insert`: multi-row `INSERT ... VALUES (...), (...)` statements of 1,000 rows each,
//!   with the same `ON CONFLICT`.
//!
//! Both give the same rows and ids (tested); `bench/postgres.sh` times them. COPY is the
//! default: over 300,000 alerts on a shared 2-core machine (load 16-21) it took 0.70x the
//! INSERT time in one run and 1.09x in another.

use chrono::DateTime;
use ctem_model::Alert;
use postgres::binary_copy::BinaryCopyInWriter;
use postgres::types::{ToSql, Type};

use super::{PgStore, json};
use crate::alerts::{AlertFilter, AlertStore, alert_identity, level_rank};
use crate::{Error, Result};

/// How a bulk write reaches the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BulkWrite {
    /// Binary `COPY` into a temporary table, then one `INSERT ... SELECT`.
    #[default]
    Copy,
    /// Multi-row `INSERT ... VALUES` of 1,000 rows a statement.
    Insert,
}

const COLUMNS: &str = "rule_id, title, level, level_rank, tags, event_time, detected_at, \
                       source, record, host, user_name, process, event, identity, kind";
const TYPES: [Type; WIDTH] = [
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::INT8,
    Type::TEXT,
    Type::INT8,
    Type::INT8,
    Type::TEXT,
    Type::INT8,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
];
/// Columns of one alert row.
const WIDTH: usize = 15;
const ROWS_PER_INSERT: usize = 1000;

/// One alert as the column values of its row.
struct AlertRow<'a> {
    a: &'a Alert,
    rank: i64,
    tags: String,
    event_time: Option<i64>,
    detected_at: i64,
    record: Option<i64>,
    event: String,
    identity: String,
    kind: String,
}

impl<'a> AlertRow<'a> {
    fn of(a: &'a Alert) -> Result<Self> {
        Ok(AlertRow {
            a,
            rank: level_rank(&a.level),
            tags: json(&a.tags)?,
            event_time: a.event_time.map(|t| t.timestamp()),
            detected_at: a.detected_at.timestamp(),
            record: a.record.map(|r| r as i64),
            event: json(&a.event)?,
            identity: alert_identity(a),
            kind: a.kind.as_str().to_string(),
        })
    }

    fn values(&self) -> [&(dyn ToSql + Sync); WIDTH] {
        [
            &self.a.rule_id,
            &self.a.title,
            &self.a.level,
            &self.rank,
            &self.tags,
            &self.event_time,
            &self.detected_at,
            &self.a.source,
            &self.record,
            &self.a.host,
            &self.a.user,
            &self.a.process,
            &self.event,
            &self.identity,
            &self.kind,
        ]
    }
}

impl PgStore {
    fn alerts_by_copy(&self, rows: &[AlertRow<'_>]) -> Result<Vec<i64>> {
        let mut db = self.db();
        let mut tx = db.transaction()?;
        tx.batch_execute(&format!(
            "CREATE TEMPORARY TABLE alerts_in ON COMMIT DROP AS
             SELECT 0::bigint AS n, {COLUMNS} FROM alerts WITH NO DATA"
        ))?;
        {
            let sink = tx.copy_in(&format!(
                "COPY alerts_in (n, {COLUMNS}) FROM STDIN (FORMAT binary)"
            ))?;
            let mut types = vec![Type::INT8];
            types.extend(TYPES);
            let mut w = BinaryCopyInWriter::new(sink, &types);
            for (n, r) in rows.iter().enumerate() {
                let n = n as i64;
                let mut v: Vec<&(dyn ToSql + Sync)> = Vec::with_capacity(WIDTH + 1);
                v.push(&n);
                v.extend(r.values());
                w.write(&v)?;
            }
            w.finish()?;
        }
        let ids = tx.query(
            &format!(
                "INSERT INTO alerts ({COLUMNS}) SELECT {COLUMNS} FROM alerts_in ORDER BY n
                 ON CONFLICT (identity) DO NOTHING RETURNING id"
            ),
            &[],
        )?;
        tx.commit()?;
        let mut ids: Vec<i64> = ids.iter().map(|r| r.get(0)).collect();
        ids.sort_unstable();
        Ok(ids)
    }

    fn alerts_by_insert(&self, rows: &[AlertRow<'_>]) -> Result<Vec<i64>> {
        let mut db = self.db();
        let mut tx = db.transaction()?;
        let mut ids = Vec::new();
        for chunk in rows.chunks(ROWS_PER_INSERT) {
            let mut sql = format!("INSERT INTO alerts ({COLUMNS}) VALUES ");
            let mut args: Vec<&(dyn ToSql + Sync)> = Vec::with_capacity(chunk.len() * WIDTH);
            for (i, r) in chunk.iter().enumerate() {
                sql.push_str(if i == 0 { "(" } else { ",(" });
                for c in 0..WIDTH {
                    if c > 0 {
                        sql.push(',');
                    }
                    sql.push_str(&format!("${}", i * WIDTH + c + 1));
                }
                sql.push(')');
                args.extend(r.values());
            }
            sql.push_str(" ON CONFLICT (identity) DO NOTHING RETURNING id");
            ids.extend(tx.query(&sql, &args)?.iter().map(|r| r.get::<_, i64>(0)));
        }
        tx.commit()?;
        ids.sort_unstable();
        Ok(ids)
    }
}

impl AlertStore for PgStore {
    fn store_alerts(&mut self, alerts: &[Alert]) -> Result<Vec<i64>> {
        let rows = alerts
            .iter()
            .map(AlertRow::of)
            .collect::<Result<Vec<_>>>()?;
        match self.bulk {
            BulkWrite::Copy => self.alerts_by_copy(&rows),
            BulkWrite::Insert => self.alerts_by_insert(&rows),
        }
    }

    fn alerts(&self, f: &AlertFilter) -> Result<Vec<Alert>> {
        let mut sql = String::from(
            "SELECT id, rule_id, title, level, tags, event_time, detected_at, source, record,
                    host, user_name, process, event, kind FROM alerts WHERE true",
        );
        let rank = f.min_level.as_deref().map(level_rank);
        let mut args: Vec<&(dyn ToSql + Sync)> = Vec::new();
        for (cond, v) in [
            (
                " AND rule_id = $",
                f.rule_id.as_ref().map(|v| v as &(dyn ToSql + Sync)),
            ),
            (
                " AND level_rank >= $",
                rank.as_ref().map(|v| v as &(dyn ToSql + Sync)),
            ),
            (
                " AND host = $",
                f.host.as_ref().map(|v| v as &(dyn ToSql + Sync)),
            ),
        ] {
            if let Some(v) = v {
                args.push(v);
                sql.push_str(&format!("{cond}{}", args.len()));
            }
        }
        sql.push_str(" ORDER BY detected_at DESC, id DESC");
        if let Some(l) = f.limit {
            sql.push_str(&format!(" LIMIT {l}"));
        }
        let rows = self.db().query(&sql, &args)?;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            let id: i64 = r.get(0);
            let corrupt = |m: String| Error::Corrupt {
                table: "alerts",
                message: format!("{id}: {m}"),
            };
            out.push(Alert {
                id: Some(id),
                rule_id: r.get(1),
                title: r.get(2),
                level: r.get(3),
                kind: ctem_model::AlertKind::from_name(r.get(13)),
                tags: serde_json::from_str(r.get(4)).map_err(|e| corrupt(e.to_string()))?,
                event_time: r
                    .get::<_, Option<i64>>(5)
                    .and_then(|t| DateTime::from_timestamp(t, 0)),
                detected_at: super::ts(r.get(6)),
                source: r.get(7),
                record: r.get::<_, Option<i64>>(8).map(|r| r as u64),
                host: r.get(9),
                user: r.get(10),
                process: r.get(11),
                event: serde_json::from_str(r.get(12)).map_err(|e| corrupt(e.to_string()))?,
            });
        }
        Ok(out)
    }
}
