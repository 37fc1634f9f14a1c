//! Storage of identities: user passwords, API tokens, browser sessions and the audit log.
//!
//! A part of the [`crate::Store`] contract: every backend implements it (SQLite in
//! `sqlite/auth.rs`, migration 70). The store keeps only what is safe to leak: a password as
//! its argon2id PHC string, a token and a session id as the SHA-256 of the secret. Hashing,
//! token generation and the role check live in the server crate; the store compares hashes.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::Result;

/// An API token as stored (never the secret itself).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ApiToken {
    pub id: i64,
    pub name: String,
    /// A role of `ctem_model::work::Role`, as its snake_case name.
    pub role: String,
    /// A partner scope (`mdr`, `sharing`) that narrows the role further.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub partner: Option<String>,
    pub created_at: DateTime<Utc>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created_by: Option<String>,
}

/// A token to store: its SHA-256 (hex) and what it may do.
#[derive(Debug, Clone)]
pub struct NewToken {
    pub name: String,
    pub role: String,
    pub partner: Option<String>,
    pub hash: String,
    pub expires_at: Option<DateTime<Utc>>,
    pub created_by: Option<String>,
}

/// A browser session as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub user: String,
    /// The CSRF token form posts must carry.
    pub csrf: String,
    pub expires_at: DateTime<Utc>,
}

/// One change, as the audit log keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditEntry {
    #[serde(default)]
    pub id: i64,
    pub at: DateTime<Utc>,
    /// The user name, `token:NAME`, or `local` for the CLI without `CTEM_USER`.
    pub actor: String,
    /// `api`, `web` or `cli`.
    pub via: String,
    /// The peer address for HTTP changes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remote: Option<String>,
    /// What was done (`tokens.create`, `tickets.move`, ...).
    pub action: String,
    /// What it was done to.
    pub target: String,
    /// Details (JSON text), when any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// Storage of identities and the audit log.
pub trait AuthStore {
    /// Sets a user's password (its PHC string); the user must exist.
    fn set_password(&mut self, user: &str, phc: &str) -> Result<()>;
    /// The PHC string of a user's password, when one is set.
    fn password(&self, user: &str) -> Result<Option<String>>;
    /// Stores a token; returns its id.
    fn add_token(&mut self, token: &NewToken) -> Result<i64>;
    /// The token with this hash, revoked or not.
    fn token_by_hash(&self, hash: &str) -> Result<Option<ApiToken>>;
    fn tokens(&self) -> Result<Vec<ApiToken>>;
    /// Marks a token revoked (`NotFound` when there is none, idempotent otherwise).
    fn revoke_token(&mut self, id: i64, at: DateTime<Utc>) -> Result<()>;
    fn add_session(&mut self, id_hash: &str, session: &Session) -> Result<()>;
    fn session(&self, id_hash: &str) -> Result<Option<Session>>;
    fn remove_session(&mut self, id_hash: &str) -> Result<()>;
    /// Appends to the audit log; returns the entry's id.
    fn audit(&mut self, entry: &AuditEntry) -> Result<i64>;
    /// The audit log, oldest first, after `after` (an id), at most `limit` entries.
    fn audit_log(&self, after: Option<i64>, limit: Option<usize>) -> Result<Vec<AuditEntry>>;
}
