//! Errors of the validation crate.

use std::path::PathBuf;

/// Everything that can go wrong in `ctem-paths`.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file could not be read.
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A scenario file is not valid YAML or misses a field.
    #[error("{path}: {message}")]
    Scenario { path: String, message: String },
    /// The `[paths]` settings are inconsistent.
    #[error("[paths] {field}: {message}")]
    Config { field: String, message: String },
    /// An asset named on the command line is not in the environment.
    #[error("no asset named {0:?} (give its id, name or an identifier)")]
    UnknownAsset(String),
    /// The detection engine refused the rules or the events.
    #[error("detection: {0}")]
    Detect(#[from] ctem_detect::Error),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
