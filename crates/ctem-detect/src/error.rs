//! Errors of the detection crate: one enum, typed context, no I/O details lost.

use std::path::PathBuf;

/// Everything that can go wrong while loading rules or decoding events.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A rule file could not be read at all.
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A rule file is not valid YAML.
    #[error("invalid yaml in {path}: {message}")]
    Yaml { path: String, message: String },
    /// A rule is valid YAML but not a valid Sigma rule.
    #[error("invalid rule {rule}: {message}")]
    Rule { rule: String, message: String },
    /// A rule uses a feature this engine does not support.
    #[error("unsupported in rule {rule}: {message}")]
    Unsupported { rule: String, message: String },
    /// A condition expression could not be parsed.
    #[error("bad condition {condition:?}: {message}")]
    Condition { condition: String, message: String },
    /// A field mapping data file is malformed.
    #[error("invalid mapping {name}: {message}")]
    Mapping { name: String, message: String },
    /// An event stream could not be decoded.
    #[error("cannot decode {format} at record {record}: {message}")]
    Decode {
        format: &'static str,
        record: u64,
        message: String,
    },
}

/// Result with the crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
