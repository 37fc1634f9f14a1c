//! Event decoders: bytes in, [`Record`](crate::Record)s out.

use crate::engine::Record;
use crate::error::Result;

/// Input formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Auto,
    Jsonl,
}

/// Opens a file and decodes it.
pub fn open(_path: &str, _format: Format) -> Result<Box<dyn Iterator<Item = Result<Record>>>> {
    Ok(Box::new(std::iter::empty()))
}

/// Source-raised alerts.
pub struct SourceAlerts;
