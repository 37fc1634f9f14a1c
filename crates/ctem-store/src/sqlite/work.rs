//! SQLite side of [`crate::work::WorkStore`]: teams, users, ownership rules, per-exposure
//! risk, tickets and delivery records (migration 20), and the bulk re-prioritisation.

mod assets;
pub(crate) mod followup;
mod pass;
mod rows;
mod scan;

pub(crate) use crate::fx::FxMap;

use chrono::{DateTime, NaiveDate, Utc};
use ctem_model::risk::{Decision, Priority};
use ctem_model::work::{
    OwnershipRule, Role, RuleKind, Team, Ticket, TicketEvent, TicketState, User,
};
use rusqlite::types::Value as SqlValue;
use rusqlite::{OptionalExtension, Row, params, params_from_iter};

use super::SqliteStore;
use crate::work::{Delivery, FollowUpState, StoredRisk, TicketFilter, WorkStore};
use crate::{Error, Result};

/// Teams, users, rules, per-exposure risk, tickets, ticket history, deliveries.
/// Scores name their ticket group by a hash of the ticket key (`grp`, on the score row and on
/// the ticket) instead of the ticket's id, so a pass writes scores before it regroups
/// tickets. The scores are recomputed whole by every pass; the CLI runs one when it opens a
/// store with exposures and no scores (`WorkStore::scores_missing`).
pub(crate) const MIGRATION_21: &str = r#"
DROP TABLE exposure_risk;
CREATE TABLE exposure_risk (
    exposure_id INTEGER PRIMARY KEY,
    score       REAL    NOT NULL,
    priority    INTEGER NOT NULL,
    ssvc        INTEGER NOT NULL,
    kev         INTEGER NOT NULL,
    due         INTEGER,
    team        TEXT,
    grp         INTEGER
);
ALTER TABLE tickets ADD COLUMN grp INTEGER;
CREATE INDEX tickets_grp ON tickets(grp);
"#;

pub(crate) const MIGRATION_20: &str = r#"
CREATE TABLE teams (
    name        TEXT PRIMARY KEY,
    description TEXT
) WITHOUT ROWID;
CREATE TABLE users (
    name  TEXT PRIMARY KEY,
    email TEXT,
    role  TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE team_members (
    team TEXT NOT NULL REFERENCES teams(name) ON DELETE CASCADE,
    user TEXT NOT NULL REFERENCES users(name) ON DELETE CASCADE,
    PRIMARY KEY (team, user)
) WITHOUT ROWID;
CREATE TABLE ownership_rules (
    id       INTEGER PRIMARY KEY,
    position INTEGER NOT NULL,
    kind     TEXT    NOT NULL,
    pattern  TEXT    NOT NULL,
    team     TEXT    NOT NULL,
    source   TEXT    NOT NULL
);
-- one row per exposure, rewritten by every re-prioritisation (no foreign key: the bulk
-- rewrite of a million rows should not probe exposures for each)
CREATE TABLE exposure_risk (
    exposure_id INTEGER PRIMARY KEY,
    score       REAL    NOT NULL,
    priority    INTEGER NOT NULL,
    ssvc        INTEGER NOT NULL,
    kev         INTEGER NOT NULL,
    due         INTEGER,
    team        TEXT,
    ticket_id   INTEGER
);
CREATE TABLE tickets (
    id             INTEGER PRIMARY KEY,
    key            TEXT    NOT NULL UNIQUE,
    team           TEXT    NOT NULL,
    package        TEXT    NOT NULL,
    action         TEXT    NOT NULL,
    target_version TEXT,
    state          TEXT    NOT NULL,
    assignee       TEXT,
    priority       TEXT    NOT NULL,
    exposures      INTEGER NOT NULL,
    assets         INTEGER NOT NULL,
    kev            INTEGER NOT NULL,
    risk           REAL    NOT NULL,
    due            INTEGER,
    breached       INTEGER NOT NULL,
    accepted_until INTEGER,
    created_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL,
    reopened       INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX tickets_team ON tickets(team, state);
CREATE TABLE ticket_events (
    ticket_id INTEGER NOT NULL REFERENCES tickets(id) ON DELETE CASCADE,
    at        INTEGER NOT NULL,
    kind      TEXT    NOT NULL,
    actor     TEXT,
    text      TEXT    NOT NULL
);
CREATE INDEX ticket_events_ticket ON ticket_events(ticket_id);
CREATE TABLE deliveries (
    key         TEXT PRIMARY KEY,
    target      TEXT    NOT NULL,
    ticket_id   INTEGER,
    external_id TEXT,
    state       TEXT    NOT NULL,
    attempts    INTEGER NOT NULL,
    last_error  TEXT,
    updated_at  INTEGER NOT NULL
) WITHOUT ROWID;
"#;

pub(crate) fn day_num(d: NaiveDate) -> i64 {
    i64::from(chrono::Datelike::num_days_from_ce(&d))
}

pub(crate) fn day_of(n: Option<i64>) -> Option<NaiveDate> {
    n.and_then(|n| i32::try_from(n).ok())
        .and_then(NaiveDate::from_num_days_from_ce_opt)
}

fn ts(t: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(t, 0).unwrap_or_default()
}

const TICKET_COLUMNS: &str = "id, key, team, package, action, target_version, state, assignee, \
     priority, exposures, assets, kev, risk, due, breached, accepted_until, created_at, \
     updated_at, reopened";

fn ticket_from_row(r: &Row<'_>) -> rusqlite::Result<(Ticket, String)> {
    let state: String = r.get(6)?;
    Ok((
        Ticket {
            id: r.get(0)?,
            key: r.get(1)?,
            team: r.get(2)?,
            package: r.get(3)?,
            action: r.get(4)?,
            target_version: r.get(5)?,
            state: TicketState::Open,
            assignee: r.get(7)?,
            priority: r.get(8)?,
            exposures: r.get::<_, i64>(9)?.max(0) as u64,
            assets: r.get::<_, i64>(10)?.max(0) as u64,
            kev: r.get::<_, i64>(11)?.max(0) as u64,
            risk: r.get(12)?,
            due: day_of(r.get(13)?),
            breached: r.get(14)?,
            accepted_until: day_of(r.get(15)?),
            created_at: ts(r.get(16)?),
            updated_at: ts(r.get(17)?),
            reopened: r.get(18)?,
        },
        state,
    ))
}

fn finish_ticket((mut t, state): (Ticket, String)) -> Result<Ticket> {
    t.state = TicketState::parse(&state).ok_or_else(|| Error::Corrupt {
        table: "tickets",
        message: format!("{}: state {state:?}", t.id),
    })?;
    Ok(t)
}

pub(crate) fn event(
    tx: &rusqlite::Connection,
    ticket: i64,
    at: i64,
    kind: &str,
    actor: Option<&str>,
    text: &str,
) -> Result<()> {
    tx.prepare_cached(
        "INSERT INTO ticket_events(ticket_id, at, kind, actor, text) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![ticket, at, kind, actor, text])?;
    Ok(())
}

impl SqliteStore {
    fn load_ticket(&self, id: i64) -> Result<Option<Ticket>> {
        self.conn
            .query_row(
                &format!("SELECT {TICKET_COLUMNS} FROM tickets WHERE id = ?1"),
                [id],
                ticket_from_row,
            )
            .optional()?
            .map(finish_ticket)
            .transpose()
    }

    fn must_ticket(&self, id: i64) -> Result<Ticket> {
        self.load_ticket(id)?
            .ok_or_else(|| Error::NotFound(format!("ticket {id}")))
    }
}

impl WorkStore for SqliteStore {
    fn put_team(&mut self, team: &Team) -> Result<()> {
        if team.name.trim().is_empty() {
            return Err(Error::Invalid("team name is empty".into()));
        }
        self.conn.execute(
            "INSERT INTO teams(name, description) VALUES (?1, ?2)
             ON CONFLICT(name) DO UPDATE SET description = coalesce(excluded.description, description)",
            params![team.name, team.description],
        )?;
        Ok(())
    }

    fn teams(&self) -> Result<Vec<Team>> {
        let mut st = self
            .conn
            .prepare("SELECT name, description FROM teams ORDER BY name")?;
        let rows = st.query_map([], |r| {
            Ok(Team {
                name: r.get(0)?,
                description: r.get(1)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn put_user(&mut self, user: &User) -> Result<()> {
        if user.name.trim().is_empty() {
            return Err(Error::Invalid("user name is empty".into()));
        }
        let tx = self.conn.transaction()?;
        tx.execute(
            "INSERT INTO users(name, email, role) VALUES (?1, ?2, ?3)
             ON CONFLICT(name) DO UPDATE SET email = excluded.email, role = excluded.role",
            params![user.name, user.email, user.role.as_str()],
        )?;
        tx.execute("DELETE FROM team_members WHERE user = ?1", [&user.name])?;
        for t in &user.teams {
            let exists: bool =
                tx.query_row("SELECT count(*) > 0 FROM teams WHERE name = ?1", [t], |r| {
                    r.get(0)
                })?;
            if !exists {
                return Err(Error::NotFound(format!("team {t:?}")));
            }
            tx.execute(
                "INSERT INTO team_members(team, user) VALUES (?1, ?2)",
                params![t, user.name],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    fn users(&self) -> Result<Vec<User>> {
        let mut st = self.conn.prepare(
            "SELECT u.name, u.email, u.role,
                    (SELECT group_concat(team, char(31)) FROM
                        (SELECT team FROM team_members m WHERE m.user = u.name ORDER BY team))
             FROM users u ORDER BY u.name",
        )?;
        let rows = st.query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, Option<String>>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, Option<String>>(3)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (name, email, role, teams) = row?;
            let role = Role::parse(&role).ok_or_else(|| Error::Corrupt {
                table: "users",
                message: format!("{name}: role {role:?}"),
            })?;
            out.push(User {
                name,
                email,
                role,
                teams: teams
                    .map(|t| t.split('\u{1f}').map(str::to_owned).collect())
                    .unwrap_or_default(),
            });
        }
        Ok(out)
    }

    fn add_rule(&mut self, rule: &OwnershipRule) -> Result<i64> {
        if rule.pattern.is_empty() || rule.team.trim().is_empty() {
            return Err(Error::Invalid("a rule needs a pattern and a team".into()));
        }
        let tx = self.conn.transaction()?;
        let next: i64 = tx.query_row(
            "SELECT coalesce(max(position), 0) + 1 FROM ownership_rules",
            [],
            |r| r.get(0),
        )?;
        tx.execute(
            "INSERT INTO teams(name) VALUES (?1) ON CONFLICT DO NOTHING",
            [&rule.team],
        )?;
        tx.execute(
            "INSERT INTO ownership_rules(position, kind, pattern, team, source, priority)
             VALUES (?1, ?2, ?3, ?4, 'cli', ?5)",
            params![
                next,
                rule.kind.as_str(),
                rule.pattern,
                rule.team,
                rule.priority
            ],
        )?;
        let id = tx.last_insert_rowid();
        tx.commit()?;
        Ok(id)
    }

    fn remove_rule(&mut self, id: i64) -> Result<()> {
        let n = self
            .conn
            .execute("DELETE FROM ownership_rules WHERE id = ?1", [id])?;
        if n == 0 {
            return Err(Error::NotFound(format!("ownership rule {id}")));
        }
        Ok(())
    }

    fn rules(&self) -> Result<Vec<OwnershipRule>> {
        load_rules(&self.conn)
    }

    fn follow_up_state(&self) -> Result<FollowUpState> {
        followup::state(&self.conn)
    }

    fn follow_up_failed(&mut self, error: &str) -> Result<()> {
        followup::failed(&self.conn, error)
    }

    fn scores_missing(&self) -> Result<bool> {
        Ok(self.conn.query_row(
            "SELECT EXISTS (SELECT 1 FROM exposures) AND NOT EXISTS (SELECT 1 FROM exposure_risk)",
            [],
            |r| r.get(0),
        )?)
    }

    fn stored_risk(&self, exposure_id: i64) -> Result<Option<StoredRisk>> {
        Ok(self
            .conn
            .query_row(
                "SELECT r.score, r.priority, r.ssvc, r.kev, r.due, r.team,
                        (SELECT t.id FROM tickets t WHERE t.grp = r.grp)
                 FROM exposure_risk r WHERE r.exposure_id = ?1",
                [exposure_id],
                stored_from_row,
            )
            .optional()?)
    }

    fn ranked(&self, limit: Option<usize>) -> Result<Vec<(i64, StoredRisk)>> {
        let mut st = self.conn.prepare(
            "SELECT r.score, r.priority, r.ssvc, r.kev, r.due, r.team,
                    (SELECT t.id FROM tickets t WHERE t.grp = r.grp), r.exposure_id
             FROM exposure_risk r JOIN exposures e ON e.id = r.exposure_id
             WHERE e.status IN ('open', 'reopened')
             ORDER BY r.score DESC, r.exposure_id LIMIT ?1",
        )?;
        let lim = limit.map_or(-1, |l| i64::try_from(l).unwrap_or(i64::MAX));
        let rows = st.query_map([lim], |r| Ok((r.get(7)?, stored_from_row(r)?)))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn tickets(&self, f: &TicketFilter) -> Result<Vec<Ticket>> {
        let mut sql = format!("SELECT {TICKET_COLUMNS} FROM tickets WHERE 1=1");
        let mut args: Vec<SqlValue> = Vec::new();
        if let Some(t) = &f.team {
            sql.push_str(" AND team = ?");
            args.push(SqlValue::Text(t.clone()));
        }
        if let Some(a) = &f.assignee {
            sql.push_str(" AND assignee = ?");
            args.push(SqlValue::Text(a.clone()));
        }
        if !f.states.is_empty() {
            sql.push_str(&format!(
                " AND state IN ({})",
                vec!["?"; f.states.len()].join(",")
            ));
            for s in &f.states {
                args.push(SqlValue::Text(s.as_str().into()));
            }
        }
        sql.push_str(" ORDER BY priority, risk DESC, id");
        if let Some(l) = f.limit {
            sql.push_str(&format!(" LIMIT {l}"));
        }
        let mut st = self.conn.prepare(&sql)?;
        let rows = st.query_map(params_from_iter(args), ticket_from_row)?;
        let mut out = Vec::new();
        for r in rows {
            out.push(finish_ticket(r?)?);
        }
        Ok(out)
    }

    fn ticket(&self, id: i64) -> Result<Option<Ticket>> {
        self.load_ticket(id)
    }

    fn ticket_exposures(&self, id: i64) -> Result<Vec<i64>> {
        let mut st = self.conn.prepare(
            "SELECT r.exposure_id FROM exposure_risk r JOIN exposures e ON e.id = r.exposure_id
             WHERE r.grp = (SELECT grp FROM tickets WHERE id = ?1)
             ORDER BY e.status NOT IN ('open', 'reopened'), r.score DESC, r.exposure_id",
        )?;
        let rows = st.query_map([id], |r| r.get(0))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn ticket_events(&self, id: i64) -> Result<Vec<TicketEvent>> {
        let mut st = self.conn.prepare(
            "SELECT at, kind, actor, text FROM ticket_events WHERE ticket_id = ?1
             ORDER BY at, rowid",
        )?;
        let rows = st.query_map([id], |r| {
            Ok(TicketEvent {
                at: ts(r.get(0)?),
                kind: r.get(1)?,
                actor: r.get(2)?,
                text: r.get(3)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn assign_ticket(&mut self, id: i64, user: &str, actor: Option<&str>) -> Result<Ticket> {
        self.must_ticket(id)?;
        let tx = self.conn.transaction()?;
        let exists: bool = tx.query_row(
            "SELECT count(*) > 0 FROM users WHERE name = ?1",
            [user],
            |r| r.get(0),
        )?;
        if !exists {
            return Err(Error::NotFound(format!(
                "user {user:?} (add it with `ctem teams user add`)"
            )));
        }
        let now = Utc::now().timestamp();
        tx.execute(
            "UPDATE tickets SET assignee = ?2, updated_at = ?3 WHERE id = ?1",
            params![id, user, now],
        )?;
        event(
            &tx,
            id,
            now,
            "assign",
            actor,
            &format!("assigned to {user}"),
        )?;
        tx.commit()?;
        self.must_ticket(id)
    }

    fn move_ticket(
        &mut self,
        id: i64,
        to: TicketState,
        until: Option<NaiveDate>,
        actor: Option<&str>,
    ) -> Result<Ticket> {
        let t = self.must_ticket(id)?;
        if !t.state.can_move_to(to) {
            return Err(Error::Invalid(format!(
                "ticket {id} cannot move from {} to {to}{}",
                t.state,
                if to == TicketState::Verified {
                    " (only a scan showing every exposure fixed verifies a ticket)"
                } else {
                    ""
                }
            )));
        }
        if to == TicketState::RiskAccepted && until.is_none() {
            return Err(Error::Invalid(
                "risk_accepted needs an expiry date (--until YYYY-MM-DD)".into(),
            ));
        }
        let until = if to == TicketState::RiskAccepted {
            until
        } else {
            None
        };
        let tx = self.conn.transaction()?;
        let now = Utc::now().timestamp();
        tx.execute(
            "UPDATE tickets SET state = ?2, accepted_until = ?3, updated_at = ?4 WHERE id = ?1",
            params![id, to.as_str(), until.map(day_num), now],
        )?;
        let text = match until {
            Some(u) => format!("{} -> {to} until {u}", t.state),
            None => format!("{} -> {to}", t.state),
        };
        event(&tx, id, now, "state", actor, &text)?;
        tx.commit()?;
        self.must_ticket(id)
    }

    fn comment_ticket(&mut self, id: i64, text: &str, actor: Option<&str>) -> Result<()> {
        self.must_ticket(id)?;
        if text.trim().is_empty() {
            return Err(Error::Invalid("empty comment".into()));
        }
        let tx = self.conn.transaction()?;
        let now = Utc::now().timestamp();
        event(&tx, id, now, "comment", actor, text)?;
        tx.execute(
            "UPDATE tickets SET updated_at = ?2 WHERE id = ?1",
            params![id, now],
        )?;
        tx.commit()?;
        Ok(())
    }

    fn delivery(&self, key: &str) -> Result<Option<Delivery>> {
        Ok(self
            .conn
            .query_row(
                "SELECT key, target, ticket_id, external_id, state, attempts, last_error
                 FROM deliveries WHERE key = ?1",
                [key],
                |r| {
                    Ok(Delivery {
                        key: r.get(0)?,
                        target: r.get(1)?,
                        ticket_id: r.get(2)?,
                        external_id: r.get(3)?,
                        state: r.get(4)?,
                        attempts: r.get(5)?,
                        last_error: r.get(6)?,
                    })
                },
            )
            .optional()?)
    }

    fn put_delivery(&mut self, d: &Delivery) -> Result<()> {
        self.conn.execute(
            "INSERT OR REPLACE INTO deliveries(key, target, ticket_id, external_id, state,
                                               attempts, last_error, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![
                d.key,
                d.target,
                d.ticket_id,
                d.external_id,
                d.state,
                d.attempts,
                d.last_error,
                Utc::now().timestamp()
            ],
        )?;
        Ok(())
    }
}

fn stored_from_row(r: &Row<'_>) -> rusqlite::Result<StoredRisk> {
    Ok(StoredRisk {
        score: r.get(0)?,
        priority: Priority::from_number(r.get(1)?),
        ssvc: Decision::from_number(r.get(2)?),
        kev: r.get(3)?,
        due: day_of(r.get(4)?),
        team: r.get(5)?,
        ticket_id: r.get(6)?,
    })
}

pub(crate) fn load_rules(conn: &rusqlite::Connection) -> Result<Vec<OwnershipRule>> {
    let mut st = conn.prepare(
        "SELECT id, position, kind, pattern, team, priority FROM ownership_rules
         ORDER BY position, id",
    )?;
    let rows = st.query_map([], |r| {
        Ok((
            r.get::<_, i64>(0)?,
            r.get::<_, i64>(1)?,
            r.get::<_, String>(2)?,
            r.get::<_, String>(3)?,
            r.get::<_, String>(4)?,
            r.get::<_, Option<i64>>(5)?,
        ))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (id, position, kind, pattern, team, priority) = row?;
        let kind = RuleKind::parse(&kind).ok_or_else(|| Error::Corrupt {
            table: "ownership_rules",
            message: format!("{id}: kind {kind:?}"),
        })?;
        out.push(OwnershipRule {
            id: Some(id),
            position,
            kind,
            pattern,
            team,
            priority,
        });
    }
    Ok(out)
}
