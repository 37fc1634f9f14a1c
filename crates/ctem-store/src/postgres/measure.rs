//! Incidents, KPI snapshots and reviews on PostgreSQL (the counterpart of
//! `sqlite/measure.rs`); the KPI facts are read in `measure_facts.rs`.

use chrono::{DateTime, Utc};
use ctem_model::{Incident, IncidentState};
use postgres::types::ToSql;
use postgres::{GenericClient, Row};

use super::{PgStore, ts};
use crate::measure::{
    Grouping, IncidentEvent, MeasureFacts, MeasureStore, ReviewRecord, Snapshot, UngroupedAlert,
};
use crate::{Error, Result};

const INCIDENT_COLS: &str = "id, key_kind, key_value, title, severity, state, owner, alerts, \
     first_event, last_event, detected_at, acknowledged_at, contained_at, resolved_at";

fn state_of(s: &str) -> Result<IncidentState> {
    IncidentState::parse(s).ok_or_else(|| Error::Corrupt {
        table: "incidents",
        message: format!("unknown state {s:?}"),
    })
}

fn incident_row(r: &Row) -> Result<Incident> {
    Ok(Incident {
        id: Some(r.get(0)),
        key_kind: r.get(1),
        key_value: r.get(2),
        title: r.get(3),
        severity: r.get(4),
        state: state_of(r.get(5))?,
        owner: r.get(6),
        alerts: r.get::<_, i64>(7).max(0) as u64,
        first_event: ts(r.get(8)),
        last_event: ts(r.get(9)),
        detected_at: ts(r.get(10)),
        acknowledged_at: r.get::<_, Option<i64>>(11).map(ts),
        contained_at: r.get::<_, Option<i64>>(12).map(ts),
        resolved_at: r.get::<_, Option<i64>>(13).map(ts),
    })
}

fn write_incident(tx: &mut impl GenericClient, i: &Incident) -> Result<i64> {
    let alerts = i.alerts as i64;
    let times = [
        i.first_event.timestamp(),
        i.last_event.timestamp(),
        i.detected_at.timestamp(),
    ];
    let opt = [
        i.acknowledged_at.map(|t| t.timestamp()),
        i.contained_at.map(|t| t.timestamp()),
        i.resolved_at.map(|t| t.timestamp()),
    ];
    let state = i.state.as_str();
    let mut args: Vec<&(dyn ToSql + Sync)> = vec![
        &i.key_kind,
        &i.key_value,
        &i.title,
        &i.severity,
        &state,
        &i.owner,
        &alerts,
        &times[0],
        &times[1],
        &times[2],
        &opt[0],
        &opt[1],
        &opt[2],
    ];
    match i.id {
        None => {
            let row = tx.query_one(
                "INSERT INTO incidents(key_kind, key_value, title, severity, state, owner, alerts,
                     first_event, last_event, detected_at, acknowledged_at, contained_at,
                     resolved_at) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13)
                 RETURNING id",
                &args,
            )?;
            Ok(row.get(0))
        }
        Some(id) => {
            args.push(&id);
            let n = tx.execute(
                "UPDATE incidents SET key_kind=$1, key_value=$2, title=$3, severity=$4,
                     state=$5, owner=$6, alerts=$7, first_event=$8, last_event=$9,
                     detected_at=$10, acknowledged_at=$11, contained_at=$12, resolved_at=$13
                 WHERE id=$14",
                &args,
            )?;
            if n == 0 {
                return Err(Error::NotFound(format!("incident {id}")));
            }
            Ok(id)
        }
    }
}

impl PgStore {
    fn incidents_where(&self, cond: &str, arg: Option<i64>) -> Result<Vec<Incident>> {
        let sql = format!("SELECT {INCIDENT_COLS} FROM incidents {cond}");
        let rows = match arg {
            Some(a) => self.db().query(&sql, &[&a])?,
            None => self.db().query(&sql, &[])?,
        };
        rows.iter().map(incident_row).collect()
    }
}

impl MeasureStore for PgStore {
    fn ungrouped_alerts(&self) -> Result<Vec<UngroupedAlert>> {
        let rows = self.db().query(
            "SELECT a.id, a.rule_id, a.title, a.level, a.tags,
                    coalesce(a.event_time, a.detected_at) AS t, a.detected_at, a.host, a.user_name,
                    a.kind
             FROM alerts a WHERE NOT EXISTS
                 (SELECT 1 FROM incident_alerts x WHERE x.alert_id = a.id)
             ORDER BY t, a.id",
            &[],
        )?;
        rows.iter()
            .map(|r| {
                let id: i64 = r.get(0);
                Ok(UngroupedAlert {
                    id,
                    rule_id: r.get(1),
                    title: r.get(2),
                    level: r.get(3),
                    kind: ctem_model::AlertKind::from_name(r.get(9)),
                    tags: serde_json::from_str(r.get(4)).map_err(|e| Error::Corrupt {
                        table: "alerts",
                        message: format!("{id}: {e}"),
                    })?,
                    time: ts(r.get(5)),
                    detected_at: ts(r.get(6)),
                    host: r.get(7),
                    user: r.get(8),
                })
            })
            .collect()
    }

    fn open_incidents(&self) -> Result<Vec<Incident>> {
        self.incidents_where(
            "WHERE state NOT IN ('resolved', 'false_positive') ORDER BY id",
            None,
        )
    }

    fn save_grouping(&mut self, g: &Grouping) -> Result<Vec<i64>> {
        let mut db = self.db();
        let mut tx = db.transaction()?;
        let mut ids = Vec::with_capacity(g.incidents.len());
        for i in &g.incidents {
            ids.push(write_incident(&mut tx, i)?);
        }
        let st = tx.prepare(
            "INSERT INTO incident_alerts(alert_id, incident_id) VALUES ($1, $2)
             ON CONFLICT DO NOTHING",
        )?;
        for &(alert, idx) in &g.links {
            let id = ids
                .get(idx)
                .ok_or_else(|| Error::Invalid(format!("link to incident #{idx}")))?;
            tx.execute(&st, &[&alert, id])?;
        }
        tx.commit()?;
        Ok(ids)
    }

    fn incidents(&self) -> Result<Vec<Incident>> {
        self.incidents_where("ORDER BY detected_at DESC, id DESC", None)
    }

    fn incident(&self, id: i64) -> Result<Option<Incident>> {
        Ok(self
            .incidents_where("WHERE id = $1", Some(id))?
            .into_iter()
            .next())
    }

    fn incident_alert_ids(&self, id: i64) -> Result<Vec<i64>> {
        let rows = self.db().query(
            "SELECT alert_id FROM incident_alerts WHERE incident_id = $1 ORDER BY 1",
            &[&id],
        )?;
        Ok(rows.iter().map(|r| r.get(0)).collect())
    }

    fn incident_events(&self, id: i64) -> Result<Vec<IncidentEvent>> {
        // ctid: the insertion order of rows that are never updated (SQLite's rowid)
        let rows = self.db().query(
            "SELECT at, from_state, to_state, actor FROM incident_events
             WHERE incident_id = $1 ORDER BY at, ctid",
            &[&id],
        )?;
        rows.iter()
            .map(|r| {
                Ok(IncidentEvent {
                    at: ts(r.get(0)),
                    from: state_of(r.get(1))?,
                    to: state_of(r.get(2))?,
                    actor: r.get(3),
                })
            })
            .collect()
    }

    fn set_incident_state(
        &mut self,
        id: i64,
        state: IncidentState,
        at: DateTime<Utc>,
        actor: Option<&str>,
    ) -> Result<Incident> {
        let mut db = self.db();
        let mut tx = db.transaction()?;
        let row = tx.query_opt(
            &format!("SELECT {INCIDENT_COLS} FROM incidents WHERE id = $1 FOR UPDATE"),
            &[&id],
        )?;
        let mut inc = match row {
            Some(r) => incident_row(&r)?,
            None => return Err(Error::NotFound(format!("incident {id}"))),
        };
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
        write_incident(&mut tx, &inc)?;
        tx.execute(
            "INSERT INTO incident_events(incident_id, at, from_state, to_state, actor)
             VALUES ($1, $2, $3, $4, $5)",
            &[
                &id,
                &at.timestamp(),
                &from.as_str(),
                &state.as_str(),
                &actor,
            ],
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
        let on_conflict = if replace {
            "DO UPDATE SET taken_at = excluded.taken_at, data = excluded.data"
        } else {
            "DO NOTHING"
        };
        let n = self.db().execute(
            &format!(
                "INSERT INTO kpi_snapshots(day, taken_at, data) VALUES ($1, $2, $3)
                 ON CONFLICT (day) {on_conflict}"
            ),
            &[&snap.day, &snap.taken_at.timestamp(), &snap.data],
        )?;
        Ok(n > 0)
    }

    fn has_snapshot(&self, day: &str) -> Result<bool> {
        let row = self
            .db()
            .query_opt("SELECT 1 FROM kpi_snapshots WHERE day = $1", &[&day])?;
        Ok(row.is_some())
    }

    fn snapshots(&self) -> Result<Vec<Snapshot>> {
        let rows = self.db().query(
            "SELECT day, taken_at, data FROM kpi_snapshots ORDER BY day COLLATE \"C\"",
            &[],
        )?;
        Ok(rows
            .iter()
            .map(|r| Snapshot {
                day: r.get(0),
                taken_at: ts(r.get(1)),
                data: r.get(2),
            })
            .collect())
    }

    fn add_review(
        &mut self,
        at: DateTime<Utc>,
        since: Option<DateTime<Utc>>,
        data: &str,
    ) -> Result<i64> {
        let row = self.db().query_one(
            "INSERT INTO reviews(at, since, data) VALUES ($1, $2, $3) RETURNING id",
            &[&at.timestamp(), &since.map(|t| t.timestamp()), &data],
        )?;
        Ok(row.get(0))
    }

    fn last_review(&self) -> Result<Option<ReviewRecord>> {
        let row = self.db().query_opt(
            "SELECT id, at, since, data FROM reviews ORDER BY at DESC, id DESC LIMIT 1",
            &[],
        )?;
        Ok(row.map(|r| ReviewRecord {
            id: r.get(0),
            at: ts(r.get(1)),
            since: r.get::<_, Option<i64>>(2).map(ts),
            data: r.get(3),
        }))
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
