//! SQLite side of [`crate::alerts::AlertStore`].

use chrono::DateTime;
use ctem_model::Alert;
use rusqlite::types::Value as SqlValue;
use rusqlite::{params, params_from_iter};

use super::SqliteStore;
use crate::alerts::{AlertFilter, AlertStore, alert_identity, level_rank};
use crate::{Error, Result};

impl AlertStore for SqliteStore {
    fn store_alerts(&mut self, alerts: &[Alert]) -> Result<Vec<i64>> {
        let tx = self.conn.transaction()?;
        let mut ids = Vec::with_capacity(alerts.len());
        {
            let mut st = tx.prepare_cached(
                "INSERT INTO alerts(rule_id, title, level, level_rank, tags, event_time,
                                    detected_at, source, record, host, user_name, process, event,
                                    identity, kind)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)
                 ON CONFLICT(identity) DO NOTHING",
            )?;
            for a in alerts {
                let added = st.execute(params![
                    a.rule_id,
                    a.title,
                    a.level,
                    level_rank(&a.level),
                    serde_json::to_string(&a.tags).map_err(|e| Error::Invalid(e.to_string()))?,
                    a.event_time.map(|t| t.timestamp()),
                    a.detected_at.timestamp(),
                    a.source,
                    a.record.map(|r| r as i64),
                    a.host,
                    a.user,
                    a.process,
                    serde_json::to_string(&a.event).map_err(|e| Error::Invalid(e.to_string()))?,
                    alert_identity(a),
                    a.kind.as_str(),
                ])?;
                if added > 0 {
                    ids.push(tx.last_insert_rowid());
                }
            }
        }
        tx.commit()?;
        Ok(ids)
    }

    fn alerts(&self, f: &AlertFilter) -> Result<Vec<Alert>> {
        let mut sql = String::from(
            "SELECT id, rule_id, title, level, tags, event_time, detected_at, source, record,
                    host, user_name, process, event, kind FROM alerts WHERE 1=1",
        );
        let mut args: Vec<SqlValue> = Vec::new();
        if let Some(r) = &f.rule_id {
            sql.push_str(" AND rule_id = ?");
            args.push(r.clone().into());
        }
        if let Some(l) = &f.min_level {
            sql.push_str(" AND level_rank >= ?");
            args.push(level_rank(l).into());
        }
        if let Some(h) = &f.host {
            sql.push_str(" AND host = ?");
            args.push(h.clone().into());
        }
        sql.push_str(" ORDER BY detected_at DESC, id DESC");
        if let Some(l) = f.limit {
            sql.push_str(&format!(" LIMIT {l}"));
        }
        let mut st = self.conn.prepare(&sql)?;
        let rows = st.query_map(params_from_iter(args), |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, String>(4)?,
                r.get::<_, Option<i64>>(5)?,
                r.get::<_, i64>(6)?,
                r.get::<_, Option<String>>(7)?,
                r.get::<_, Option<i64>>(8)?,
                r.get::<_, Option<String>>(9)?,
                r.get::<_, Option<String>>(10)?,
                r.get::<_, Option<String>>(11)?,
                r.get::<_, String>(12)?,
                r.get::<_, String>(13)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (
                id,
                rule_id,
                title,
                level,
                tags,
                et,
                dt,
                source,
                record,
                host,
                user,
                process,
                ev,
                kind,
            ) = row?;
            let corrupt = |m: String| Error::Corrupt {
                table: "alerts",
                message: format!("{id}: {m}"),
            };
            out.push(Alert {
                id: Some(id),
                rule_id,
                title,
                level,
                kind: ctem_model::AlertKind::from_name(&kind),
                tags: serde_json::from_str(&tags).map_err(|e| corrupt(e.to_string()))?,
                event_time: et.and_then(|t| DateTime::from_timestamp(t, 0)),
                detected_at: DateTime::from_timestamp(dt, 0).unwrap_or_default(),
                source,
                record: record.map(|r| r as u64),
                host,
                user,
                process,
                event: serde_json::from_str(&ev).map_err(|e| corrupt(e.to_string()))?,
            });
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use chrono::Utc;
    use ctem_model::Alert;

    use crate::alerts::{AlertFilter, AlertStore};
    use crate::sqlite::SqliteStore;

    fn alert(rule: &str, record: Option<u64>, event: serde_json::Value) -> Alert {
        Alert {
            id: None,
            rule_id: rule.into(),
            title: "t".into(),
            level: "high".into(),
            kind: Default::default(),
            tags: Vec::new(),
            event_time: None,
            detected_at: Utc::now(),
            source: Some("a.evtx".into()),
            record,
            host: None,
            user: None,
            process: None,
            event,
        }
    }

    /// Storing the same alerts twice (a re-run over the same events) adds nothing; another
    /// rule on the same event, or the same rule on another record, is a new alert.
    #[test]
    fn storing_an_alert_again_adds_nothing() {
        let mut st = SqliteStore::in_memory().expect("store");
        let batch = vec![
            alert("r1", Some(1), serde_json::json!({"a": 1})),
            alert("r1", Some(2), serde_json::json!({"a": 2})),
            alert("r2", Some(1), serde_json::json!({"a": 1})),
            alert("r3", None, serde_json::json!({"a": 1})),
            alert("r3", None, serde_json::json!({"a": 2})),
        ];
        assert_eq!(st.store_alerts(&batch).expect("first").len(), 5);
        let mut again = batch.clone();
        again[0].detected_at = Utc::now() + chrono::Duration::hours(1);
        assert!(st.store_alerts(&again).expect("second").is_empty());
        let extra = [alert("r1", Some(3), serde_json::json!({"a": 3}))];
        assert_eq!(st.store_alerts(&extra).expect("third").len(), 1);
        let all = st.alerts(&AlertFilter::default()).expect("list");
        assert_eq!(all.len(), 6);
    }
}
