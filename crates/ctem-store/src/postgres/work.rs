//! Teams, users, ownership rules, tickets and deliveries on PostgreSQL (the counterpart of
//! `sqlite/work.rs`). The rows a prioritisation pass writes are read here; the pass itself
//! is `postgres/risk.rs`.

use chrono::{NaiveDate, Utc};
use ctem_model::risk::{Decision, Priority};
use ctem_model::work::{
    OwnershipRule, Role, RuleKind, Team, Ticket, TicketEvent, TicketState, User,
};
use postgres::types::ToSql;
use postgres::{GenericClient, Row};

use super::{PgStore, ts};
use crate::work::{Delivery, FollowUpState, StoredRisk, TicketFilter, WorkStore};
use crate::{Error, Result};

pub(super) fn day_num(d: NaiveDate) -> i64 {
    i64::from(chrono::Datelike::num_days_from_ce(&d))
}

pub(super) fn day_of(n: Option<i64>) -> Option<NaiveDate> {
    n.and_then(|n| i32::try_from(n).ok())
        .and_then(NaiveDate::from_num_days_from_ce_opt)
}

fn priority_of(n: i64) -> Priority {
    match n {
        1 => Priority::P1,
        2 => Priority::P2,
        3 => Priority::P3,
        _ => Priority::P4,
    }
}

fn ssvc_of(n: i64) -> Decision {
    match n {
        3 => Decision::Act,
        2 => Decision::Attend,
        1 => Decision::TrackStar,
        _ => Decision::Track,
    }
}

const TICKET_COLUMNS: &str = "id, key, team, package, action, target_version, state, assignee, \
     priority, exposures, assets, kev, risk, due, breached, accepted_until, created_at, \
     updated_at, reopened";

fn ticket_from_row(r: &Row) -> Result<Ticket> {
    let id: i64 = r.get(0);
    let state: String = r.get(6);
    Ok(Ticket {
        id,
        key: r.get(1),
        team: r.get(2),
        package: r.get(3),
        action: r.get(4),
        target_version: r.get(5),
        state: TicketState::parse(&state).ok_or_else(|| Error::Corrupt {
            table: "tickets",
            message: format!("{id}: state {state:?}"),
        })?,
        assignee: r.get(7),
        priority: r.get(8),
        exposures: r.get::<_, i64>(9).max(0) as u64,
        assets: r.get::<_, i64>(10).max(0) as u64,
        kev: r.get::<_, i64>(11).max(0) as u64,
        risk: r.get(12),
        due: day_of(r.get(13)),
        breached: r.get::<_, i64>(14) != 0,
        accepted_until: day_of(r.get(15)),
        created_at: ts(r.get(16)),
        updated_at: ts(r.get(17)),
        reopened: r.get::<_, i64>(18).clamp(0, i64::from(u32::MAX)) as u32,
    })
}

fn stored_from_row(r: &Row) -> StoredRisk {
    StoredRisk {
        score: r.get(0),
        priority: priority_of(r.get(1)),
        ssvc: ssvc_of(r.get(2)),
        kev: r.get::<_, i64>(3) != 0,
        due: day_of(r.get(4)),
        team: r.get(5),
        ticket_id: r.get(6),
    }
}

pub(super) fn event(
    tx: &mut impl GenericClient,
    ticket: i64,
    at: i64,
    kind: &str,
    actor: Option<&str>,
    text: &str,
) -> Result<()> {
    tx.execute(
        "INSERT INTO ticket_events(ticket_id, at, kind, actor, text) VALUES ($1, $2, $3, $4, $5)",
        &[&ticket, &at, &kind, &actor, &text],
    )?;
    Ok(())
}

/// Ownership rules from rows of `id, position, kind, pattern, team, priority`.
pub(super) fn rules_from(rows: &[Row]) -> Result<Vec<OwnershipRule>> {
    rows.iter()
        .map(|r| {
            let id: i64 = r.get(0);
            let kind: String = r.get(2);
            Ok(OwnershipRule {
                id: Some(id),
                position: r.get(1),
                kind: RuleKind::parse(&kind).ok_or_else(|| Error::Corrupt {
                    table: "ownership_rules",
                    message: format!("{id}: kind {kind:?}"),
                })?,
                pattern: r.get(3),
                team: r.get(4),
                priority: r.get(5),
            })
        })
        .collect()
}

impl PgStore {
    fn must_ticket(&self, id: i64) -> Result<Ticket> {
        self.ticket(id)?
            .ok_or_else(|| Error::NotFound(format!("ticket {id}")))
    }
}

impl WorkStore for PgStore {
    fn put_team(&mut self, team: &Team) -> Result<()> {
        if team.name.trim().is_empty() {
            return Err(Error::Invalid("team name is empty".into()));
        }
        self.db().execute(
            "INSERT INTO teams(name, description) VALUES ($1, $2)
             ON CONFLICT(name) DO UPDATE SET
                 description = coalesce(excluded.description, teams.description)",
            &[&team.name, &team.description],
        )?;
        Ok(())
    }

    fn teams(&self) -> Result<Vec<Team>> {
        let rows = self.db().query(
            "SELECT name, description FROM teams ORDER BY name COLLATE \"C\"",
            &[],
        )?;
        Ok(rows
            .iter()
            .map(|r| Team {
                name: r.get(0),
                description: r.get(1),
            })
            .collect())
    }

    fn put_user(&mut self, user: &User) -> Result<()> {
        if user.name.trim().is_empty() {
            return Err(Error::Invalid("user name is empty".into()));
        }
        let mut db = self.db();
        let mut tx = db.transaction()?;
        tx.execute(
            "INSERT INTO users(name, email, role) VALUES ($1, $2, $3)
             ON CONFLICT(name) DO UPDATE SET email = excluded.email, role = excluded.role",
            &[&user.name, &user.email, &user.role.as_str()],
        )?;
        tx.execute(
            r#"DELETE FROM team_members WHERE "user" = $1"#,
            &[&user.name],
        )?;
        for t in &user.teams {
            let exists: bool = tx
                .query_one("SELECT count(*) > 0 FROM teams WHERE name = $1", &[t])?
                .get(0);
            if !exists {
                return Err(Error::NotFound(format!("team {t:?}")));
            }
            tx.execute(
                r#"INSERT INTO team_members(team, "user") VALUES ($1, $2)"#,
                &[t, &user.name],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    fn users(&self) -> Result<Vec<User>> {
        let rows = self.db().query(
            r#"SELECT u.name, u.email, u.role,
                      (SELECT string_agg(m.team, chr(31) ORDER BY m.team COLLATE "C")
                       FROM team_members m WHERE m."user" = u.name)
               FROM users u ORDER BY u.name COLLATE "C""#,
            &[],
        )?;
        rows.iter()
            .map(|r| {
                let name: String = r.get(0);
                let role: String = r.get(2);
                let role = Role::parse(&role).ok_or_else(|| Error::Corrupt {
                    table: "users",
                    message: format!("{name}: role {role:?}"),
                })?;
                Ok(User {
                    email: r.get(1),
                    role,
                    teams: r
                        .get::<_, Option<String>>(3)
                        .map(|t| t.split('\u{1f}').map(str::to_owned).collect())
                        .unwrap_or_default(),
                    name,
                })
            })
            .collect()
    }

    fn add_rule(&mut self, rule: &OwnershipRule) -> Result<i64> {
        if rule.pattern.is_empty() || rule.team.trim().is_empty() {
            return Err(Error::Invalid("a rule needs a pattern and a team".into()));
        }
        let mut db = self.db();
        let mut tx = db.transaction()?;
        // positions are handed out one at a time, whatever the number of writers
        tx.execute(
            "LOCK TABLE ownership_rules IN SHARE ROW EXCLUSIVE MODE",
            &[],
        )?;
        let next: i64 = tx
            .query_one(
                "SELECT coalesce(max(position), 0) + 1 FROM ownership_rules",
                &[],
            )?
            .get(0);
        tx.execute(
            "INSERT INTO teams(name) VALUES ($1) ON CONFLICT DO NOTHING",
            &[&rule.team],
        )?;
        let id: i64 = tx
            .query_one(
                "INSERT INTO ownership_rules(position, kind, pattern, team, source, priority)
                 VALUES ($1, $2, $3, $4, 'cli', $5) RETURNING id",
                &[
                    &next,
                    &rule.kind.as_str(),
                    &rule.pattern,
                    &rule.team,
                    &rule.priority,
                ],
            )?
            .get(0);
        tx.commit()?;
        Ok(id)
    }

    fn remove_rule(&mut self, id: i64) -> Result<()> {
        let n = self
            .db()
            .execute("DELETE FROM ownership_rules WHERE id = $1", &[&id])?;
        if n == 0 {
            return Err(Error::NotFound(format!("ownership rule {id}")));
        }
        Ok(())
    }

    fn rules(&self) -> Result<Vec<OwnershipRule>> {
        let rows = self.db().query(
            "SELECT id, position, kind, pattern, team, priority FROM ownership_rules
             ORDER BY position, id",
            &[],
        )?;
        rules_from(&rows)
    }

    fn follow_up_state(&self) -> Result<FollowUpState> {
        let row = self.db().query_one(
            r#"SELECT "full", attempts, last_error,
                      (SELECT count(*) FROM followup_exposures)
               FROM followup_state WHERE id = 1"#,
            &[],
        )?;
        Ok(FollowUpState {
            full: row.get::<_, i64>(0) != 0,
            attempts: row.get::<_, i64>(1).clamp(0, i64::from(u32::MAX)) as u32,
            last_error: row.get(2),
            pending: row.get::<_, i64>(3).max(0) as u64,
        })
    }

    fn follow_up_failed(&mut self, error: &str) -> Result<()> {
        self.db().execute(
            "UPDATE followup_state SET attempts = attempts + 1, last_error = $1 WHERE id = 1",
            &[&error],
        )?;
        Ok(())
    }

    fn stored_risk(&self, exposure_id: i64) -> Result<Option<StoredRisk>> {
        let row = self.db().query_opt(
            "SELECT r.score, r.priority, r.ssvc, r.kev, r.due, r.team,
                    (SELECT t.id FROM tickets t WHERE t.grp = r.grp)
             FROM exposure_risk r WHERE r.exposure_id = $1",
            &[&exposure_id],
        )?;
        Ok(row.as_ref().map(stored_from_row))
    }

    fn scores_missing(&self) -> Result<bool> {
        let row = self.db().query_one(
            "SELECT EXISTS (SELECT 1 FROM exposures) AND NOT EXISTS (SELECT 1 FROM exposure_risk)",
            &[],
        )?;
        Ok(row.get(0))
    }

    fn ranked(&self, limit: Option<usize>) -> Result<Vec<(i64, StoredRisk)>> {
        let lim = limit.map(|l| i64::try_from(l).unwrap_or(i64::MAX));
        let rows = self.db().query(
            "SELECT r.score, r.priority, r.ssvc, r.kev, r.due, r.team,
                    (SELECT t.id FROM tickets t WHERE t.grp = r.grp), r.exposure_id
             FROM exposure_risk r JOIN exposures e ON e.id = r.exposure_id
             WHERE e.status IN ('open', 'reopened')
             ORDER BY r.score DESC, r.exposure_id LIMIT $1",
            &[&lim],
        )?;
        Ok(rows
            .iter()
            .map(|r| (r.get(7), stored_from_row(r)))
            .collect())
    }

    fn tickets(&self, f: &TicketFilter) -> Result<Vec<Ticket>> {
        let mut sql = format!("SELECT {TICKET_COLUMNS} FROM tickets WHERE true");
        let states: Vec<String> = f.states.iter().map(|s| s.as_str().to_string()).collect();
        let mut args: Vec<&(dyn ToSql + Sync)> = Vec::new();
        if let Some(t) = &f.team {
            args.push(t);
            sql.push_str(&format!(" AND team = ${}", args.len()));
        }
        if let Some(a) = &f.assignee {
            args.push(a);
            sql.push_str(&format!(" AND assignee = ${}", args.len()));
        }
        if !states.is_empty() {
            args.push(&states);
            sql.push_str(&format!(" AND state = ANY(${})", args.len()));
        }
        sql.push_str(" ORDER BY priority COLLATE \"C\", risk DESC, id");
        if let Some(l) = f.limit {
            sql.push_str(&format!(" LIMIT {l}"));
        }
        let rows = self.db().query(&sql, &args)?;
        rows.iter().map(ticket_from_row).collect()
    }

    fn ticket(&self, id: i64) -> Result<Option<Ticket>> {
        let row = self.db().query_opt(
            &format!("SELECT {TICKET_COLUMNS} FROM tickets WHERE id = $1"),
            &[&id],
        )?;
        row.as_ref().map(ticket_from_row).transpose()
    }

    fn ticket_exposures(&self, id: i64) -> Result<Vec<i64>> {
        let rows = self.db().query(
            "SELECT r.exposure_id FROM exposure_risk r JOIN exposures e ON e.id = r.exposure_id
             WHERE r.grp = (SELECT grp FROM tickets WHERE id = $1)
             ORDER BY e.status NOT IN ('open', 'reopened'), r.score DESC, r.exposure_id",
            &[&id],
        )?;
        Ok(rows.iter().map(|r| r.get(0)).collect())
    }

    fn ticket_events(&self, id: i64) -> Result<Vec<TicketEvent>> {
        // ctid: the insertion order of rows that are never updated (SQLite's rowid)
        let rows = self.db().query(
            "SELECT at, kind, actor, text FROM ticket_events WHERE ticket_id = $1
             ORDER BY at, ctid",
            &[&id],
        )?;
        Ok(rows
            .iter()
            .map(|r| TicketEvent {
                at: ts(r.get(0)),
                kind: r.get(1),
                actor: r.get(2),
                text: r.get(3),
            })
            .collect())
    }

    fn assign_ticket(&mut self, id: i64, user: &str, actor: Option<&str>) -> Result<Ticket> {
        self.must_ticket(id)?;
        {
            let mut db = self.db();
            let mut tx = db.transaction()?;
            let exists: bool = tx
                .query_one("SELECT count(*) > 0 FROM users WHERE name = $1", &[&user])?
                .get(0);
            if !exists {
                return Err(Error::NotFound(format!(
                    "user {user:?} (add it with `ctem teams user add`)"
                )));
            }
            let now = Utc::now().timestamp();
            tx.execute(
                "UPDATE tickets SET assignee = $2, updated_at = $3 WHERE id = $1",
                &[&id, &user, &now],
            )?;
            let text = format!("assigned to {user}");
            event(&mut tx, id, now, "assign", actor, &text)?;
            tx.commit()?;
        }
        self.must_ticket(id)
    }

    fn move_ticket(
        &mut self,
        id: i64,
        to: TicketState,
        until: Option<NaiveDate>,
        actor: Option<&str>,
    ) -> Result<Ticket> {
        {
            let mut db = self.db();
            let mut tx = db.transaction()?;
            let row = tx.query_opt(
                &format!("SELECT {TICKET_COLUMNS} FROM tickets WHERE id = $1 FOR UPDATE"),
                &[&id],
            )?;
            let t = match row {
                Some(r) => ticket_from_row(&r)?,
                None => return Err(Error::NotFound(format!("ticket {id}"))),
            };
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
            let until = until.filter(|_| to == TicketState::RiskAccepted);
            let now = Utc::now().timestamp();
            tx.execute(
                "UPDATE tickets SET state = $2, accepted_until = $3, updated_at = $4 WHERE id = $1",
                &[&id, &to.as_str(), &until.map(day_num), &now],
            )?;
            let text = match until {
                Some(u) => format!("{} -> {to} until {u}", t.state),
                None => format!("{} -> {to}", t.state),
            };
            event(&mut tx, id, now, "state", actor, &text)?;
            tx.commit()?;
        }
        self.must_ticket(id)
    }

    fn comment_ticket(&mut self, id: i64, text: &str, actor: Option<&str>) -> Result<()> {
        self.must_ticket(id)?;
        if text.trim().is_empty() {
            return Err(Error::Invalid("empty comment".into()));
        }
        let mut db = self.db();
        let mut tx = db.transaction()?;
        let now = Utc::now().timestamp();
        event(&mut tx, id, now, "comment", actor, text)?;
        tx.execute(
            "UPDATE tickets SET updated_at = $2 WHERE id = $1",
            &[&id, &now],
        )?;
        tx.commit()?;
        Ok(())
    }

    fn delivery(&self, key: &str) -> Result<Option<Delivery>> {
        let row = self.db().query_opt(
            "SELECT key, target, ticket_id, external_id, state, attempts, last_error
             FROM deliveries WHERE key = $1",
            &[&key],
        )?;
        Ok(row.map(|r| Delivery {
            key: r.get(0),
            target: r.get(1),
            ticket_id: r.get(2),
            external_id: r.get(3),
            state: r.get(4),
            attempts: r.get::<_, i64>(5).clamp(0, i64::from(u32::MAX)) as u32,
            last_error: r.get(6),
        }))
    }

    fn put_delivery(&mut self, d: &Delivery) -> Result<()> {
        self.db().execute(
            "INSERT INTO deliveries(key, target, ticket_id, external_id, state, attempts,
                                    last_error, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
             ON CONFLICT (key) DO UPDATE SET target = excluded.target,
                 ticket_id = excluded.ticket_id, external_id = excluded.external_id,
                 state = excluded.state, attempts = excluded.attempts,
                 last_error = excluded.last_error, updated_at = excluded.updated_at",
            &[
                &d.key,
                &d.target,
                &d.ticket_id,
                &d.external_id,
                &d.state,
                &i64::from(d.attempts),
                &d.last_error,
                &Utc::now().timestamp(),
            ],
        )?;
        Ok(())
    }
}
