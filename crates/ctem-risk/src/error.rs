//! Errors of the prioritization crate.

/// Everything that can go wrong in `ctem-risk`: all of it is bad input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The vector is empty.
    #[error("empty cvss vector")]
    EmptyVector,
    /// The `CVSS:x.y/` prefix names a version this crate does not score.
    #[error("unsupported cvss version {version:?}")]
    UnsupportedVersion {
        /// The version text after `CVSS:`.
        version: String,
    },
    /// A `/`-separated part is not `METRIC:VALUE`.
    #[error("malformed cvss component {component:?} at position {position}")]
    MalformedComponent {
        /// The offending part.
        component: String,
        /// Its index among the `/`-separated parts, from 0.
        position: usize,
    },
    /// A metric name this version does not define.
    #[error("unknown cvss v{version} metric {metric:?}")]
    UnknownMetric {
        /// `2.0`, `3.0`, `3.1` or `4.0`.
        version: &'static str,
        /// The metric abbreviation as written.
        metric: String,
    },
    /// A value the metric does not allow.
    #[error("invalid value {value:?} for cvss v{version} metric {metric} (allowed: {allowed})")]
    InvalidValue {
        /// `2.0`, `3.0`, `3.1` or `4.0`.
        version: &'static str,
        /// The metric abbreviation.
        metric: &'static str,
        /// The value as written.
        value: String,
        /// The allowed values, `|`-separated.
        allowed: String,
    },
    /// The same metric appears twice.
    #[error("duplicate cvss v{version} metric {metric}")]
    DuplicateMetric {
        /// `2.0`, `3.0`, `3.1` or `4.0`.
        version: &'static str,
        /// The metric abbreviation.
        metric: &'static str,
    },
    /// A mandatory base metric is missing.
    #[error("missing cvss v{version} base metric {metric}")]
    MissingMetric {
        /// `2.0`, `3.0`, `3.1` or `4.0`.
        version: &'static str,
        /// The metric abbreviation.
        metric: &'static str,
    },
    /// The risk model configuration could not be read.
    #[error("invalid risk config: {message}")]
    Config {
        /// What the TOML parser or the validation said.
        message: String,
    },
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
