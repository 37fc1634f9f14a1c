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
}

impl Error {
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::Store(e) => e.kind(),
            Error::Forbidden { .. } | Error::UnknownActor(_) => ErrorKind::Forbidden,
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
