//! SQLite side of [`crate::auth::AuthStore`] (migration 70).

use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, Row, params};

use super::SqliteStore;
use crate::auth::{ApiToken, AuditEntry, AuthStore, NewToken, Session};
use crate::{Error, Result};

/// Passwords, API tokens, sessions and the audit log; and the indexes keyset pagination of
/// exposures reads (severity order and last-seen order, id as the tie-breaker).
pub(crate) const MIGRATION_70: &str = r#"
CREATE TABLE user_passwords (
    user TEXT PRIMARY KEY REFERENCES users(name) ON DELETE CASCADE,
    phc  TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE api_tokens (
    id         INTEGER PRIMARY KEY,
    name       TEXT NOT NULL,
    role       TEXT NOT NULL,
    partner    TEXT,
    hash       TEXT NOT NULL UNIQUE,
    created_at INTEGER NOT NULL,
    expires_at INTEGER,
    revoked_at INTEGER,
    created_by TEXT
);
CREATE TABLE sessions (
    id_hash    TEXT PRIMARY KEY,
    user       TEXT NOT NULL REFERENCES users(name) ON DELETE CASCADE,
    csrf       TEXT NOT NULL,
    expires_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE audit_log (
    id     INTEGER PRIMARY KEY,
    at     INTEGER NOT NULL,
    actor  TEXT NOT NULL,
    via    TEXT NOT NULL,
    remote TEXT,
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    detail TEXT
);
CREATE INDEX exposures_severity ON exposures(severity, id);
"#;

fn ts(t: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(t, 0).unwrap_or_default()
}

fn token_from_row(r: &Row<'_>) -> rusqlite::Result<ApiToken> {
    Ok(ApiToken {
        id: r.get(0)?,
        name: r.get(1)?,
        role: r.get(2)?,
        partner: r.get(3)?,
        created_at: ts(r.get(4)?),
        expires_at: r.get::<_, Option<i64>>(5)?.map(ts),
        revoked_at: r.get::<_, Option<i64>>(6)?.map(ts),
        created_by: r.get(7)?,
    })
}

const TOKEN_COLUMNS: &str =
    "id, name, role, partner, created_at, expires_at, revoked_at, created_by";

impl AuthStore for SqliteStore {
    fn set_password(&mut self, user: &str, phc: &str) -> Result<()> {
        let exists: bool = self.conn.query_row(
            "SELECT count(*) > 0 FROM users WHERE name = ?1",
            [user],
            |r| r.get(0),
        )?;
        if !exists {
            return Err(Error::NotFound(format!("user {user:?}")));
        }
        self.conn.execute(
            "INSERT INTO user_passwords(user, phc) VALUES (?1, ?2)
             ON CONFLICT(user) DO UPDATE SET phc = excluded.phc",
            params![user, phc],
        )?;
        Ok(())
    }

    fn password(&self, user: &str) -> Result<Option<String>> {
        Ok(self
            .conn
            .query_row(
                "SELECT phc FROM user_passwords WHERE user = ?1",
                [user],
                |r| r.get(0),
            )
            .optional()?)
    }

    fn add_token(&mut self, t: &NewToken) -> Result<i64> {
        if t.name.trim().is_empty() {
            return Err(Error::Invalid("token name is empty".into()));
        }
        self.conn.execute(
            "INSERT INTO api_tokens(name, role, partner, hash, created_at, expires_at, created_by)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                t.name,
                t.role,
                t.partner,
                t.hash,
                Utc::now().timestamp(),
                t.expires_at.map(|e| e.timestamp()),
                t.created_by
            ],
        )?;
        Ok(self.conn.last_insert_rowid())
    }

    fn token_by_hash(&self, hash: &str) -> Result<Option<ApiToken>> {
        let mut st = self.conn.prepare_cached(&format!(
            "SELECT {TOKEN_COLUMNS} FROM api_tokens WHERE hash = ?1"
        ))?;
        Ok(st.query_row([hash], token_from_row).optional()?)
    }

    fn tokens(&self) -> Result<Vec<ApiToken>> {
        let mut st = self.conn.prepare(&format!(
            "SELECT {TOKEN_COLUMNS} FROM api_tokens ORDER BY id"
        ))?;
        let rows = st.query_map([], token_from_row)?;
        Ok(rows.collect::<std::result::Result<_, _>>()?)
    }

    fn revoke_token(&mut self, id: i64, at: DateTime<Utc>) -> Result<()> {
        let n = self.conn.execute(
            "UPDATE api_tokens SET revoked_at = coalesce(revoked_at, ?2) WHERE id = ?1",
            params![id, at.timestamp()],
        )?;
        if n == 0 {
            return Err(Error::NotFound(format!("token {id}")));
        }
        Ok(())
    }

    fn add_session(&mut self, id_hash: &str, s: &Session) -> Result<()> {
        let now = Utc::now().timestamp();
        self.conn
            .execute("DELETE FROM sessions WHERE expires_at < ?1", [now])?;
        self.conn.execute(
            "INSERT INTO sessions(id_hash, user, csrf, expires_at) VALUES (?1, ?2, ?3, ?4)",
            params![id_hash, s.user, s.csrf, s.expires_at.timestamp()],
        )?;
        Ok(())
    }

    fn session(&self, id_hash: &str) -> Result<Option<Session>> {
        let mut st = self
            .conn
            .prepare_cached("SELECT user, csrf, expires_at FROM sessions WHERE id_hash = ?1")?;
        Ok(st
            .query_row([id_hash], |r| {
                Ok(Session {
                    user: r.get(0)?,
                    csrf: r.get(1)?,
                    expires_at: ts(r.get(2)?),
                })
            })
            .optional()?)
    }

    fn remove_session(&mut self, id_hash: &str) -> Result<()> {
        self.conn
            .execute("DELETE FROM sessions WHERE id_hash = ?1", [id_hash])?;
        Ok(())
    }

    fn audit(&mut self, e: &AuditEntry) -> Result<i64> {
        self.conn.execute(
            "INSERT INTO audit_log(at, actor, via, remote, action, target, detail)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                e.at.timestamp(),
                e.actor,
                e.via,
                e.remote,
                e.action,
                e.target,
                e.detail
            ],
        )?;
        Ok(self.conn.last_insert_rowid())
    }

    fn audit_log(&self, after: Option<i64>, limit: Option<usize>) -> Result<Vec<AuditEntry>> {
        let limit = limit.map(|l| l as i64).unwrap_or(-1);
        let mut st = self.conn.prepare(
            "SELECT id, at, actor, via, remote, action, target, detail FROM audit_log
             WHERE id > ?1 ORDER BY id LIMIT ?2",
        )?;
        let rows = st.query_map(params![after.unwrap_or(0), limit], |r| {
            Ok(AuditEntry {
                id: r.get(0)?,
                at: ts(r.get(1)?),
                actor: r.get(2)?,
                via: r.get(3)?,
                remote: r.get(4)?,
                action: r.get(5)?,
                target: r.get(6)?,
                detail: r.get(7)?,
            })
        })?;
        Ok(rows.collect::<std::result::Result<_, _>>()?)
    }
}
