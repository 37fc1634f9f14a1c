//! Errors of the store.

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
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
    #[error("corrupt row in {table}: {message}")]
    Corrupt {
        table: &'static str,
        message: String,
    },
}

impl Error {
    /// Another connection held the lock for the whole busy timeout (`SQLITE_BUSY` or
    /// `SQLITE_LOCKED`): the store is in use by another process, not broken.
    pub fn is_busy(&self) -> bool {
        matches!(
            self,
            Error::Sqlite(e) if matches!(
                e.sqlite_error_code(),
                Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
            )
        )
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
