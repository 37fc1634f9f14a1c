//! Who is calling and what they may do: passwords (argon2id), API tokens and sessions
//! (random secrets stored as their SHA-256), partner scopes, and the one role check.
//!
//! Every decision goes through [`authorize`], which asks `ctem_model::work::permits` (the
//! role table of docs/roles.md) and then narrows a partner-scoped token to its partner's
//! routes. The CLI calls the same function for its changing commands.

use argon2::password_hash::rand_core::{OsRng, RngCore};
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use ctem_model::work::{Action, Role, permits};
use serde::Serialize;
use sha2::{Digest, Sha256};

/// A partner a token may be scoped to: it then reaches only the routes marked for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Partner {
    /// A managed detection and response provider: reads alerts and incidents and writes
    /// incident status, nothing else.
    Mdr,
    /// An intelligence-sharing partner: TAXII only.
    Sharing,
}

impl Partner {
    pub const ALL: [Partner; 2] = [Partner::Mdr, Partner::Sharing];

    pub fn as_str(self) -> &'static str {
        match self {
            Partner::Mdr => "mdr",
            Partner::Sharing => "sharing",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.as_str() == s.trim())
    }
}

/// How a caller proved who it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credential {
    /// An API token (its id).
    Token(i64),
    /// A browser session (its CSRF token).
    Session { csrf: String },
    /// The command line on this machine (`CTEM_USER` or the local operator).
    Cli,
}

/// An authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The user name, or `token:NAME` for an API token.
    pub name: String,
    pub role: Role,
    pub partner: Option<Partner>,
    pub credential: Credential,
}

impl Principal {
    /// `api`, `web` or `cli`, as the audit log records it.
    pub fn via(&self) -> &'static str {
        match self.credential {
            Credential::Token(_) => "api",
            Credential::Session { .. } => "web",
            Credential::Cli => "cli",
        }
    }
}

/// The one role check: may `who` perform `action`, on a route open to `partners`?
/// The role decides through `permits`; a partner-scoped caller must also find its partner
/// in `partners`.
pub fn authorize(who: &Principal, action: Action, partners: &[Partner]) -> bool {
    permits(who.role, action) && who.partner.is_none_or(|p| partners.contains(&p))
}

/// A new random secret with a recognisable prefix (`ctem_` for tokens): 256 bits, hex.
pub fn new_secret(prefix: &str) -> String {
    let mut b = [0u8; 32];
    OsRng.fill_bytes(&mut b);
    format!("{prefix}{}", hex::encode(b))
}

/// How a token or session id is stored: its SHA-256, hex. The secrets carry 256 random
/// bits, so a fast hash is enough (a password needs argon2).
pub fn secret_hash(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

fn argon() -> Argon2<'static> {
    // OWASP's argon2id minimum: 19 MiB, 2 passes, 1 lane
    let params = Params::new(19 * 1024, 2, 1, None).unwrap_or_default();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// The argon2id PHC string of a password.
pub fn hash_password(password: &str) -> Result<String, String> {
    if password.is_empty() {
        return Err("the password is empty".into());
    }
    let salt = SaltString::generate(&mut OsRng);
    argon()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| format!("hashing the password: {e}"))
}

/// Whether `password` matches a stored PHC string (a malformed one never matches).
pub fn verify_password(phc: &str, password: &str) -> bool {
    match PasswordHash::new(phc) {
        Ok(h) => argon().verify_password(password.as_bytes(), &h).is_ok(),
        Err(_) => false,
    }
}

/// Compares two secrets in time independent of where they differ.
pub fn same_secret(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |d, (x, y)| d | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn who(role: Role, partner: Option<Partner>) -> Principal {
        Principal {
            name: "t".into(),
            role,
            partner,
            credential: Credential::Token(1),
        }
    }

    #[test]
    fn passwords_verify_only_with_the_right_password() {
        let phc = hash_password("correct horse").expect("hash");
        assert!(phc.starts_with("$argon2id$"), "{phc}");
        assert!(verify_password(&phc, "correct horse"));
        assert!(!verify_password(&phc, "correct hors"));
        assert!(!verify_password("not a phc", "correct horse"));
        assert!(hash_password("").is_err());
    }

    #[test]
    fn a_partner_token_is_narrowed_to_its_routes() {
        let mdr = who(Role::IncidentResponder, Some(Partner::Mdr));
        assert!(authorize(&mdr, Action::ReadAlerts, &[Partner::Mdr]));
        assert!(!authorize(&mdr, Action::ReadAlerts, &[]));
        assert!(!authorize(&mdr, Action::ReadExposures, &[Partner::Sharing]));
        // the role still decides first
        let viewer_mdr = who(Role::Viewer, Some(Partner::Mdr));
        assert!(!authorize(
            &viewer_mdr,
            Action::ManageDetections,
            &[Partner::Mdr]
        ));
        assert!(authorize(&who(Role::Viewer, None), Action::ReadIntel, &[]));
    }

    #[test]
    fn secrets_are_random_and_hashed() {
        let a = new_secret("ctem_");
        let b = new_secret("ctem_");
        assert_ne!(a, b);
        assert_eq!(a.len(), 5 + 64);
        assert_eq!(secret_hash(&a).len(), 64);
        assert!(same_secret(&a, &a.clone()));
        assert!(!same_secret(&a, &b));
    }
}
