//! Errors of the store.
//!
//! Every error has a [`ErrorKind`] a front end can act on (the server maps it to an HTTP
//! status, the CLI to an exit code and a hint) without knowing which backend is behind the
//! store. The public type names no driver: a backend turns its driver's errors into
//! [`Error::Backend`] with a kind and the driver's message (see `sqlite::backend_error`).

use std::fmt;

/// What went wrong, as a caller acts on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// The thing asked for does not exist.
    NotFound,
    /// The change contradicts what is stored (a duplicate, a state change that is not
    /// allowed from the current state).
    Conflict,
    /// The request itself is wrong; repeating it cannot succeed.
    Invalid,
    /// The caller may not do this.
    Forbidden,
    /// The store cannot serve now (locked past the busy timeout, unreachable, a schema this
    /// build does not know); repeating later may succeed.
    Unavailable,
    /// A fault of the store or of ctem: corrupt data, a failing query.
    Internal,
}

impl ErrorKind {
    /// The snake_case name, as the API prints it.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::NotFound => "not_found",
            ErrorKind::Conflict => "conflict",
            ErrorKind::Invalid => "invalid",
            ErrorKind::Forbidden => "forbidden",
            ErrorKind::Unavailable => "unavailable",
            ErrorKind::Internal => "internal",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An error of the database driver, classified by the backend.
    #[error("database error: {message}")]
    Backend { kind: ErrorKind, message: String },
    #[error("cannot open store {url:?}: {message}")]
    Open { url: String, message: String },
    #[error("unsupported store URL {0:?}: use a path, sqlite://PATH or postgres://...")]
    UnsupportedUrl(String),
    #[error(
        "the store schema is version {found}, newer than this ctem ({supported}): upgrade ctem"
    )]
    SchemaTooNew { found: i64, supported: i64 },
    #[error("not found: {0}")]
    NotFound(String),
    #[error("invalid: {0}")]
    Invalid(String),
    #[error("conflict: {0}")]
    Conflict(String),
    #[error("forbidden: {0}")]
    Forbidden(String),
    /// An operation a backend does not offer yet (not a busy store: waiting will not help).
    #[error("{operation} is not available on {backend} stores yet")]
    NotAvailable {
        operation: String,
        backend: &'static str,
    },
    #[error("corrupt row in {table}: {message}")]
    Corrupt {
        table: &'static str,
        message: String,
    },
}

impl Error {
    /// What kind of failure this is.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::Backend { kind, .. } => *kind,
            Error::Open { .. } | Error::SchemaTooNew { .. } | Error::NotAvailable { .. } => {
                ErrorKind::Unavailable
            }
            Error::UnsupportedUrl(_) | Error::Invalid(_) => ErrorKind::Invalid,
            Error::NotFound(_) => ErrorKind::NotFound,
            Error::Conflict(_) => ErrorKind::Conflict,
            Error::Forbidden(_) => ErrorKind::Forbidden,
            Error::Corrupt { .. } => ErrorKind::Internal,
        }
    }

    /// Another connection held the lock for the whole busy timeout: the store is in use by
    /// another process, not broken.
    pub fn is_busy(&self) -> bool {
        matches!(
            self,
            Error::Backend {
                kind: ErrorKind::Unavailable,
                ..
            }
        )
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
