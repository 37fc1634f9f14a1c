//! Errors of the core: a store error, a refused action, invalid input; each with a kind a
//! front end maps to an exit code or an HTTP status.

use ctem_store::ErrorKind;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Store(#[from] ctem_store::Error),
    /// The actor may not do this.
    #[error("{actor} ({role}) may not {action}")]
    Forbidden {
        actor: String,
        role: String,
        action: String,
    },
    /// The actor is not a user of the store.
    #[error("{0} is not a user of this store (see ctem teams list)")]
    UnknownActor(String),
    /// The environment model or a query of ctem-paths refused its input.
    #[error(transparent)]
    Paths(#[from] ctem_paths::Error),
}

impl Error {
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::Store(e) => e.kind(),
            Error::Forbidden { .. } | Error::UnknownActor(_) => ErrorKind::Forbidden,
            Error::Paths(ctem_paths::Error::UnknownAsset(_)) => ErrorKind::NotFound,
            Error::Paths(_) => ErrorKind::Invalid,
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// An error and its causes, `: `-separated (a cause its parent already shows is left out).
pub fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut msg = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        let s = c.to_string();
        if !s.is_empty() && !msg.ends_with(&s) {
            msg.push_str(": ");
            msg.push_str(&s);
        }
        cause = c.source();
    }
    msg
}
