//! Errors of the stream sources: one enum, with the address, topic or setting at fault.

use std::net::SocketAddr;

/// Everything that stops a stream source.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A source URL or setting is not valid.
    #[error("invalid stream setting {setting}: {message}")]
    Config { setting: String, message: String },
    /// The listening socket could not be opened.
    #[error("cannot listen on {proto}://{addr}: {source}")]
    Bind {
        proto: &'static str,
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    /// The listening socket failed while running.
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
    /// The alert sink could not make a batch's alerts durable; the messages that raised
    /// them were not acknowledged.
    #[error("cannot deliver alerts: {0}")]
    Sink(String),
    /// The Kafka client failed (connection, subscription, commit, produce).
    #[error("kafka {what}: {message}")]
    Kafka { what: String, message: String },
}

/// Result with the crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
