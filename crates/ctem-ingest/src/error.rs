//! Errors of the ingest stage.

/// Why a whole report could not be read. Problems with single records are not errors: they
/// are [`ctem_model::RecordIssue`]s and the import goes on.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("read error: {0}")]
    Io(#[from] std::io::Error),
    #[error("invalid XML at byte {position}: {message}")]
    Xml { position: u64, message: String },
    #[error("invalid JSON at line {line} column {column}: {message}")]
    Json {
        line: usize,
        column: usize,
        message: String,
    },
    #[error("invalid CSV at line {line}: {message}")]
    Csv { line: usize, message: String },
    /// The input is well formed but not something this parser accepts (wrong document type,
    /// a DTD with entity declarations, an empty body).
    #[error("refused: {0}")]
    Refused(String),
    #[error("unknown format {0:?}: see `ctem formats`")]
    UnknownFormat(String),
    #[error("could not recognise the format: not a report of any registered format ({0})")]
    Undetected(String),
    /// A body with no findings and no format of its own (an empty file, `null`, `[]`) whose
    /// file name does not say which tool wrote it.
    #[error(
        "could not recognise the format: {shape} is what {formats} write when they find \
         nothing; pass --format NAME to import it as a scan with no findings"
    )]
    EmptyUndetected {
        shape: &'static str,
        formats: String,
    },
    /// A body that several formats read equally well, and whose file name names none.
    #[error(
        "could not recognise the format: the file reads as {formats} alike; pass --format NAME"
    )]
    Ambiguous { formats: String },
    /// The record sink asked to stop (its own error is kept by the sink).
    #[error("import aborted by the store")]
    Aborted,
}

impl Error {
    pub(crate) fn json(e: serde_json::Error) -> Self {
        if e.is_io() {
            return Error::Io(std::io::Error::other(e.to_string()));
        }
        Error::Json {
            line: e.line(),
            column: e.column(),
            message: strip_position(&e.to_string()),
        }
    }
}

fn strip_position(s: &str) -> String {
    match s.rfind(" at line ") {
        Some(i) => s[..i].to_string(),
        None => s.to_string(),
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
