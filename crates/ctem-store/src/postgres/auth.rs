//! Identities on PostgreSQL: passwords, API tokens, sessions and the audit log (the
//! counterpart of `sqlite/auth.rs`; the store keeps hashes only).

use chrono::{DateTime, Utc};
use postgres::Row;

use super::{PgStore, ts};
use crate::auth::{ApiToken, AuditEntry, AuthStore, NewToken, Session};
use crate::{Error, Result};

const TOKEN_COLUMNS: &str =
    "id, name, role, partner, created_at, expires_at, revoked_at, created_by";

fn token_from_row(r: &Row) -> ApiToken {
    ApiToken {
        id: r.get(0),
        name: r.get(1),
        role: r.get(2),
        partner: r.get(3),
        created_at: ts(r.get(4)),
        expires_at: r.get::<_, Option<i64>>(5).map(ts),
        revoked_at: r.get::<_, Option<i64>>(6).map(ts),
        created_by: r.get(7),
    }
}

impl AuthStore for PgStore {
    fn set_password(&mut self, user: &str, phc: &str) -> Result<()> {
        let mut db = self.db();
        let exists: bool = db
            .query_one("SELECT count(*) > 0 FROM users WHERE name = $1", &[&user])?
            .get(0);
        if !exists {
            return Err(Error::NotFound(format!("user {user:?}")));
        }
        db.execute(
            r#"INSERT INTO user_passwords("user", phc) VALUES ($1, $2)
               ON CONFLICT ("user") DO UPDATE SET phc = excluded.phc"#,
            &[&user, &phc],
        )?;
        Ok(())
    }

    fn password(&self, user: &str) -> Result<Option<String>> {
        let row = self.db().query_opt(
            r#"SELECT phc FROM user_passwords WHERE "user" = $1"#,
            &[&user],
        )?;
        Ok(row.map(|r| r.get(0)))
    }

    fn add_token(&mut self, t: &NewToken) -> Result<i64> {
        if t.name.trim().is_empty() {
            return Err(Error::Invalid("token name is empty".into()));
        }
        let row = self.db().query_one(
            "INSERT INTO api_tokens(name, role, partner, hash, created_at, expires_at, created_by)
             VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
            &[
                &t.name,
                &t.role,
                &t.partner,
                &t.hash,
                &Utc::now().timestamp(),
                &t.expires_at.map(|e| e.timestamp()),
                &t.created_by,
            ],
        )?;
        Ok(row.get(0))
    }

    fn token_by_hash(&self, hash: &str) -> Result<Option<ApiToken>> {
        let row = self.db().query_opt(
            &format!("SELECT {TOKEN_COLUMNS} FROM api_tokens WHERE hash = $1"),
            &[&hash],
        )?;
        Ok(row.as_ref().map(token_from_row))
    }

    fn tokens(&self) -> Result<Vec<ApiToken>> {
        let rows = self.db().query(
            &format!("SELECT {TOKEN_COLUMNS} FROM api_tokens ORDER BY id"),
            &[],
        )?;
        Ok(rows.iter().map(token_from_row).collect())
    }

    fn revoke_token(&mut self, id: i64, at: DateTime<Utc>) -> Result<()> {
        let n = self.db().execute(
            "UPDATE api_tokens SET revoked_at = coalesce(revoked_at, $2) WHERE id = $1",
            &[&id, &at.timestamp()],
        )?;
        if n == 0 {
            return Err(Error::NotFound(format!("token {id}")));
        }
        Ok(())
    }

    fn add_session(&mut self, id_hash: &str, s: &Session) -> Result<()> {
        let mut db = self.db();
        let mut tx = db.transaction()?;
        tx.execute(
            "DELETE FROM sessions WHERE expires_at < $1",
            &[&Utc::now().timestamp()],
        )?;
        tx.execute(
            r#"INSERT INTO sessions(id_hash, "user", csrf, expires_at) VALUES ($1, $2, $3, $4)"#,
            &[&id_hash, &s.user, &s.csrf, &s.expires_at.timestamp()],
        )?;
        tx.commit()?;
        Ok(())
    }

    fn session(&self, id_hash: &str) -> Result<Option<Session>> {
        let row = self.db().query_opt(
            r#"SELECT "user", csrf, expires_at FROM sessions WHERE id_hash = $1"#,
            &[&id_hash],
        )?;
        Ok(row.map(|r| Session {
            user: r.get(0),
            csrf: r.get(1),
            expires_at: ts(r.get(2)),
        }))
    }

    fn remove_session(&mut self, id_hash: &str) -> Result<()> {
        self.db()
            .execute("DELETE FROM sessions WHERE id_hash = $1", &[&id_hash])?;
        Ok(())
    }

    fn audit(&mut self, e: &AuditEntry) -> Result<i64> {
        let row = self.db().query_one(
            "INSERT INTO audit_log(at, actor, via, remote, action, target, detail)
             VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
            &[
                &e.at.timestamp(),
                &e.actor,
                &e.via,
                &e.remote,
                &e.action,
                &e.target,
                &e.detail,
            ],
        )?;
        Ok(row.get(0))
    }

    fn audit_log(&self, after: Option<i64>, limit: Option<usize>) -> Result<Vec<AuditEntry>> {
        let limit = limit.map(|l| l as i64);
        let rows = self.db().query(
            "SELECT id, at, actor, via, remote, action, target, detail FROM audit_log
             WHERE id > $1 ORDER BY id LIMIT $2",
            &[&after.unwrap_or(0), &limit],
        )?;
        Ok(rows
            .iter()
            .map(|r| AuditEntry {
                id: r.get(0),
                at: ts(r.get(1)),
                actor: r.get(2),
                via: r.get(3),
                remote: r.get(4),
                action: r.get(5),
                target: r.get(6),
                detail: r.get(7),
            })
            .collect())
    }
}
