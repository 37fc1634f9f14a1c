//! Errors of measurement.

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Store(#[from] ctem_store::Error),
    #[error("[incidents] {field}: {message}")]
    Settings {
        field: &'static str,
        message: String,
    },
    #[error("goal {index} ({kpi}): {message}")]
    Goal {
        index: usize,
        kpi: String,
        message: String,
    },
    #[error("snapshot {day}: {message}")]
    Snapshot { day: String, message: String },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
