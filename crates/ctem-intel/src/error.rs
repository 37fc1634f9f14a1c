//! The one error type of this crate.

/// Why an input could not be used at all, or an export could not be produced.
///
/// Bad records inside a usable file are not errors: they become [`crate::Issue`]s.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The bytes are not valid JSON (or not the JSON shape of the format).
    #[error("{format}: invalid json at line {line} column {column}: {message}")]
    Json {
        format: &'static str,
        line: usize,
        column: usize,
        message: String,
    },
    /// A field the whole file depends on is missing or has the wrong type.
    #[error("{format}: field `{field}`: {message}")]
    Field {
        format: &'static str,
        field: String,
        message: String,
    },
    /// The CSV header is not the one the format defines.
    #[error("{format}: line {line}: unexpected header `{found}`, expected `{expected}`")]
    Header {
        format: &'static str,
        line: usize,
        found: String,
        expected: &'static str,
    },
    /// The input is recognisably something this format does not cover.
    #[error("{format}: {message}")]
    Unsupported {
        format: &'static str,
        message: String,
    },
    /// The input is not text in the expected encoding.
    #[error("{format}: input is not valid utf-8 (byte offset {offset})")]
    Utf8 { format: &'static str, offset: usize },
    /// Gzip data that does not inflate.
    #[error("gzip: {0}")]
    Gzip(#[source] std::io::Error),
    /// A STIX pattern that does not follow the grammar.
    #[error("stix pattern: {message} at offset {offset}")]
    Pattern { offset: usize, message: String },
    /// No importer recognised the input.
    #[error(
        "unrecognised threat-intelligence format (tried kev, epss, attack, stix, misp, cve, iocs)"
    )]
    UnknownKind,
    /// A blocklist format that cannot carry the requested indicator type.
    #[error("share: format `{format}` cannot carry `{kind}` indicators")]
    ShareFormat {
        format: &'static str,
        kind: &'static str,
    },
    /// An error tied to an input file.
    #[error("{file}: {source}")]
    File {
        file: String,
        #[source]
        source: Box<Error>,
    },
}

impl Error {
    /// Wraps this error with the name of the file it came from.
    pub fn in_file(self, file: impl Into<String>) -> Error {
        Error::File {
            file: file.into(),
            source: Box::new(self),
        }
    }

    pub(crate) fn json(format: &'static str, e: &serde_json::Error) -> Error {
        Error::Json {
            format,
            line: e.line(),
            column: e.column(),
            message: e.to_string(),
        }
    }

    pub(crate) fn field(
        format: &'static str,
        field: impl Into<String>,
        message: impl Into<String>,
    ) -> Error {
        Error::Field {
            format,
            field: field.into(),
            message: message.into(),
        }
    }

    pub(crate) fn unsupported(format: &'static str, message: impl Into<String>) -> Error {
        Error::Unsupported {
            format,
            message: message.into(),
        }
    }
}

/// This crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
