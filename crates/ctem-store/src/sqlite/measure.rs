//! SQLite side of [`crate::measure::MeasureStore`].

use chrono::{DateTime, Utc};
use ctem_model::{Incident, IncidentState};
use rusqlite::{OptionalExtension, Row, params};

use super::SqliteStore;
use crate::measure::{
    Grouping, IncidentEvent, MeasureFacts, MeasureStore, ReviewRecord, Snapshot, UngroupedAlert,
};
use crate::{Error, Result};

/// Incidents, their alerts and state changes, KPI snapshots and reviews (range 50-59).
pub(crate) const MIGRATION_50: &str = r#"
CREATE TABLE incidents (
    id              INTEGER PRIMARY KEY,
    key_kind        TEXT    NOT NULL,
    key_value       TEXT    NOT NULL,
    title           TEXT    NOT NULL,
    severity        TEXT    NOT NULL,
    state           TEXT    NOT NULL,
    owner           TEXT,
    alerts          INTEGER NOT NULL,
    first_event     INTEGER NOT NULL,
    last_event      INTEGER NOT NULL,
    detected_at     INTEGER NOT NULL,
    acknowledged_at INTEGER,
    contained_at    INTEGER,
    resolved_at     INTEGER
);
CREATE INDEX incidents_open ON incidents(state, key_kind, key_value);
-- an alert belongs to one incident: the primary key makes grouping idempotent
CREATE TABLE incident_alerts (
    alert_id    INTEGER PRIMARY KEY,
    incident_id INTEGER NOT NULL REFERENCES incidents(id) ON DELETE CASCADE
);
CREATE INDEX incident_alerts_incident ON incident_alerts(incident_id);
CREATE TABLE incident_events (
    incident_id INTEGER NOT NULL REFERENCES incidents(id) ON DELETE CASCADE,
    at          INTEGER NOT NULL,
    from_state  TEXT    NOT NULL,
    to_state    TEXT    NOT NULL,
    actor       TEXT
);
CREATE INDEX incident_events_incident ON incident_events(incident_id);
CREATE TABLE kpi_snapshots (
    day      TEXT    PRIMARY KEY,
    taken_at INTEGER NOT NULL,
    data     TEXT    NOT NULL
) WITHOUT ROWID;
CREATE TABLE reviews (
    id    INTEGER PRIMARY KEY,
    at    INTEGER NOT NULL,
    since INTEGER,
    data  TEXT    NOT NULL
);
"#;

/// A covering index for MTTD: the delay of every alert in a window is read from the index
/// alone (through `alerts_detected` each of a million alerts cost a row lookup: 10x slower).
pub(crate) const MIGRATION_51: &str = r#"
CREATE INDEX alerts_timing ON alerts(detected_at, event_time);
"#;

pub(crate) fn ts(t: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(t, 0).unwrap_or_default()
}

pub(crate) fn ots(t: Option<i64>) -> Option<DateTime<Utc>> {
    t.map(ts)
}

const INCIDENT_COLS: &str = "id, key_kind, key_value, title, severity, state, owner, alerts, \
     first_event, last_event, detected_at, acknowledged_at, contained_at, resolved_at";

fn incident_row(r: &Row<'_>) -> rusqlite::Result<(Incident, String)> {
    let state: String = r.get(5)?;
    Ok((
        Incident {
            id: Some(r.get(0)?),
            key_kind: r.get(1)?,
            key_value: r.get(2)?,
            title: r.get(3)?,
            severity: r.get(4)?,
            state: IncidentState::New,
            owner: r.get(6)?,
            alerts: r.get::<_, i64>(7)? as u64,
            first_event: ts(r.get(8)?),
            last_event: ts(r.get(9)?),
            detected_at: ts(r.get(10)?),
            acknowledged_at: ots(r.get(11)?),
            contained_at: ots(r.get(12)?),
            resolved_at: ots(r.get(13)?),
        },
        state,
    ))
}

fn state_of(s: &str) -> Result<IncidentState> {
    IncidentState::parse(s).ok_or_else(|| Error::Corrupt {
        table: "incidents",
        message: format!("unknown state {s:?}"),
    })
}

impl SqliteStore {
    fn incidents_where(&self, cond: &str, arg: Option<i64>) -> Result<Vec<Incident>> {
        let sql = format!("SELECT {INCIDENT_COLS} FROM incidents {cond}");
        let mut st = self.conn.prepare(&sql)?;
        let rows = match arg {
            Some(a) => st.query_map([a], incident_row)?.collect::<Vec<_>>(),
            None => st.query_map([], incident_row)?.collect::<Vec<_>>(),
        };
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            let (mut i, state) = row?;
            i.state = state_of(&state)?;
            out.push(i);
        }
        Ok(out)
    }
}

fn write_incident(tx: &rusqlite::Transaction<'_>, i: &Incident) -> Result<i64> {
    let sql = match i.id {
        None => {
            "INSERT INTO incidents(key_kind, key_value, title, severity, state, owner, alerts,
                 first_event, last_event, detected_at, acknowledged_at, contained_at,
                 resolved_at, id) VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14)"
        }
        Some(_) => {
            "UPDATE incidents SET key_kind=?1, key_value=?2, title=?3, severity=?4, state=?5,
                 owner=?6, alerts=?7, first_event=?8, last_event=?9, detected_at=?10,
                 acknowledged_at=?11, contained_at=?12, resolved_at=?13 WHERE id=?14"
        }
    };
    let n = tx.prepare_cached(sql)?.execute(params![
        i.key_kind,
        i.key_value,
        i.title,
        i.severity,
        i.state.as_str(),
        i.owner,
        i.alerts as i64,
        i.first_event.timestamp(),
        i.last_event.timestamp(),
        i.detected_at.timestamp(),
        i.acknowledged_at.map(|t| t.timestamp()),
        i.contained_at.map(|t| t.timestamp()),
        i.resolved_at.map(|t| t.timestamp()),
        i.id,
    ])?;
    match i.id {
        None => Ok(tx.last_insert_rowid()),
        Some(id) if n == 0 => Err(Error::NotFound(format!("incident {id}"))),
        Some(id) => Ok(id),
    }
}

impl MeasureStore for SqliteStore {
    fn ungrouped_alerts(&self) -> Result<Vec<UngroupedAlert>> {
        let mut st = self.conn.prepare(
            "SELECT a.id, a.rule_id, a.title, a.level, a.tags,
                    COALESCE(a.event_time, a.detected_at) AS t, a.detected_at, a.host, a.user_name,
                    a.kind
             FROM alerts a WHERE NOT EXISTS
                 (SELECT 1 FROM incident_alerts x WHERE x.alert_id = a.id)
             ORDER BY t, a.id",
        )?;
        let rows = st.query_map([], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, String>(4)?,
                r.get::<_, i64>(5)?,
                r.get::<_, i64>(6)?,
                r.get::<_, Option<String>>(7)?,
                r.get::<_, Option<String>>(8)?,
                r.get::<_, String>(9)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (id, rule_id, title, level, tags, t, d, host, user, kind) = row?;
            out.push(UngroupedAlert {
                id,
                rule_id,
                title,
                level,
                kind: ctem_model::AlertKind::from_name(&kind),
                tags: serde_json::from_str(&tags).map_err(|e| Error::Corrupt {
                    table: "alerts",
                    message: format!("{id}: {e}"),
                })?,
                time: ts(t),
                detected_at: ts(d),
                host,
                user,
            });
        }
        Ok(out)
    }

    fn open_incidents(&self) -> Result<Vec<Incident>> {
        self.incidents_where(
            "WHERE state NOT IN ('resolved', 'false_positive') ORDER BY id",
            None,
        )
    }

    fn save_grouping(&mut self, g: &Grouping) -> Result<Vec<i64>> {
        let tx = self.conn.transaction()?;
        let mut ids = Vec::with_capacity(g.incidents.len());
        for i in &g.incidents {
            ids.push(write_incident(&tx, i)?);
        }
        {
            let mut st = tx.prepare_cached(
                "INSERT OR IGNORE INTO incident_alerts(alert_id, incident_id) VALUES (?1, ?2)",
            )?;
            for &(alert, idx) in &g.links {
                let id = ids
                    .get(idx)
                    .ok_or_else(|| Error::Invalid(format!("link to incident #{idx}")))?;
                st.execute(params![alert, id])?;
            }
        }
        tx.commit()?;
        Ok(ids)
    }

    fn incidents(&self) -> Result<Vec<Incident>> {
        self.incidents_where("ORDER BY detected_at DESC, id DESC", None)
    }

    fn incident(&self, id: i64) -> Result<Option<Incident>> {
        Ok(self
            .incidents_where("WHERE id = ?1", Some(id))?
            .into_iter()
            .next())
    }

    fn incident_alert_ids(&self, id: i64) -> Result<Vec<i64>> {
        let mut st = self
            .conn
            .prepare("SELECT alert_id FROM incident_alerts WHERE incident_id = ?1 ORDER BY 1")?;
        let rows = st.query_map([id], |r| r.get(0))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn incident_events(&self, id: i64) -> Result<Vec<IncidentEvent>> {
        let mut st = self.conn.prepare(
            "SELECT at, from_state, to_state, actor FROM incident_events
             WHERE incident_id = ?1 ORDER BY at, rowid",
        )?;
        let rows = st.query_map([id], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, Option<String>>(3)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (at, from, to, actor) = row?;
            out.push(IncidentEvent {
                at: ts(at),
                from: state_of(&from)?,
                to: state_of(&to)?,
                actor,
            });
        }
        Ok(out)
    }

    fn set_incident_state(
        &mut self,
        id: i64,
        state: IncidentState,
        at: DateTime<Utc>,
        actor: Option<&str>,
    ) -> Result<Incident> {
        let mut inc = self
            .incident(id)?
            .ok_or_else(|| Error::NotFound(format!("incident {id}")))?;
        let from = inc.state;
        if from == state {
            return Ok(inc);
        }
        inc.state = state;
        match state {
            IncidentState::New => {}
            IncidentState::Acknowledged => {
                inc.acknowledged_at.get_or_insert(at);
            }
            IncidentState::Contained => {
                inc.acknowledged_at.get_or_insert(at);
                inc.contained_at.get_or_insert(at);
            }
            IncidentState::Resolved | IncidentState::FalsePositive => {
                inc.acknowledged_at.get_or_insert(at);
                inc.resolved_at = Some(at);
            }
        }
        if !state.is_closed() {
            inc.resolved_at = None;
        }
        let tx = self.conn.transaction()?;
        write_incident(&tx, &inc)?;
        tx.execute(
            "INSERT INTO incident_events(incident_id, at, from_state, to_state, actor)
             VALUES (?1, ?2, ?3, ?4, ?5)",
            params![id, at.timestamp(), from.as_str(), state.as_str(), actor],
        )?;
        tx.commit()?;
        Ok(inc)
    }

    fn measure_facts(
        &self,
        since: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
        scan_cutoff: DateTime<Utc>,
    ) -> Result<MeasureFacts> {
        super::measure_facts::read(self, since, now, scan_cutoff)
    }

    fn source_facts(&self, f: &mut MeasureFacts) -> Result<()> {
        super::measure_facts::sources(self, f)
    }

    fn put_snapshot(&mut self, snap: &Snapshot, replace: bool) -> Result<bool> {
        let verb = if replace {
            "INSERT OR REPLACE"
        } else {
            "INSERT OR IGNORE"
        };
        let n = self.conn.execute(
            &format!("{verb} INTO kpi_snapshots(day, taken_at, data) VALUES (?1, ?2, ?3)"),
            params![snap.day, snap.taken_at.timestamp(), snap.data],
        )?;
        Ok(n > 0)
    }

    fn has_snapshot(&self, day: &str) -> Result<bool> {
        Ok(self
            .conn
            .query_row("SELECT 1 FROM kpi_snapshots WHERE day = ?1", [day], |_| {
                Ok(())
            })
            .optional()?
            .is_some())
    }

    fn snapshots(&self) -> Result<Vec<Snapshot>> {
        let mut st = self
            .conn
            .prepare("SELECT day, taken_at, data FROM kpi_snapshots ORDER BY day")?;
        let rows = st.query_map([], |r| {
            Ok(Snapshot {
                day: r.get(0)?,
                taken_at: ts(r.get(1)?),
                data: r.get(2)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn add_review(
        &mut self,
        at: DateTime<Utc>,
        since: Option<DateTime<Utc>>,
        data: &str,
    ) -> Result<i64> {
        self.conn.execute(
            "INSERT INTO reviews(at, since, data) VALUES (?1, ?2, ?3)",
            params![at.timestamp(), since.map(|t| t.timestamp()), data],
        )?;
        Ok(self.conn.last_insert_rowid())
    }

    fn last_review(&self) -> Result<Option<ReviewRecord>> {
        Ok(self
            .conn
            .query_row(
                "SELECT id, at, since, data FROM reviews ORDER BY at DESC, id DESC LIMIT 1",
                [],
                |r| {
                    Ok(ReviewRecord {
                        id: r.get(0)?,
                        at: ts(r.get(1)?),
                        since: ots(r.get(2)?),
                        data: r.get(3)?,
                    })
                },
            )
            .optional()?)
    }

    fn record_logsources(&mut self, seen: &[crate::measure::LogsourceSighting]) -> Result<()> {
        super::measure_seen::record_logsources(self, seen)
    }

    fn seen_logsources(&self) -> Result<Vec<crate::measure::LogsourceSighting>> {
        super::measure_seen::seen_logsources(self)
    }

    fn record_rules(
        &mut self,
        rules: &[crate::measure::DetectionRule],
        at: DateTime<Utc>,
    ) -> Result<()> {
        super::measure_seen::record_rules(self, rules, at)
    }

    fn detection_rules(&self) -> Result<Vec<crate::measure::DetectionRule>> {
        super::measure_seen::detection_rules(self)
    }
}
