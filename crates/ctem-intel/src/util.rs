//! Small helpers shared by the importers: gzip, timestamps, issues.

use crate::error::{Error, Result};
use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use std::borrow::Cow;
use std::io::Read;

/// A problem with one record of an otherwise usable input. The record is skipped (or kept
/// with the field left empty, as the message says).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Issue {
    /// Where: a JSON path (`vulnerabilities[3]`), a line (`line 17`) or an object id.
    pub record: String,
    pub message: String,
}

impl Issue {
    pub fn new(record: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            record: record.into(),
            message: message.into(),
        }
    }
}

/// Largest inflated size accepted from a gzip input (1 GiB): a bigger one is refused rather
/// than exhausting memory.
pub const MAX_INFLATED: u64 = 1 << 30;

/// True when the bytes start with the gzip magic number.
pub fn is_gzip(bytes: &[u8]) -> bool {
    bytes.starts_with(&[0x1f, 0x8b])
}

/// The bytes themselves, or their inflated content when they are gzip.
pub fn maybe_gunzip(bytes: &[u8]) -> Result<Cow<'_, [u8]>> {
    if !is_gzip(bytes) {
        return Ok(Cow::Borrowed(bytes));
    }
    let mut out = Vec::with_capacity(bytes.len().saturating_mul(4).min(64 << 20));
    flate2::read::MultiGzDecoder::new(bytes)
        .take(MAX_INFLATED + 1)
        .read_to_end(&mut out)
        .map_err(Error::Gzip)?;
    if out.len() as u64 > MAX_INFLATED {
        return Err(Error::Gzip(std::io::Error::other(
            "inflated size exceeds 1 GiB",
        )));
    }
    Ok(Cow::Owned(out))
}

/// Bytes as UTF-8 text, without a leading byte-order mark.
pub fn text<'a>(format: &'static str, bytes: &'a [u8]) -> Result<&'a str> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    std::str::from_utf8(bytes).map_err(|e| Error::Utf8 {
        format,
        offset: e.valid_up_to(),
    })
}

/// RFC 3339 timestamp, `YYYY-MM-DD HH:MM:SS` (UTC) or a plain date (midnight UTC).
pub fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    if let Ok(t) = DateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f%z") {
        return Some(t.with_timezone(&Utc));
    }
    if let Ok(t) = chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S") {
        return Some(t.and_utc());
    }
    if let Ok(t) = chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f") {
        return Some(t.and_utc());
    }
    parse_date(s)
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc())
}

/// `YYYY-MM-DD`, also as the prefix of a timestamp.
pub fn parse_date(s: &str) -> Option<NaiveDate> {
    let s = s.trim();
    let head = s.get(..10)?;
    NaiveDate::parse_from_str(head, "%Y-%m-%d").ok()
}

/// Unix seconds (as MISP writes them, often as a string).
pub fn parse_unix(secs: i64) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp(secs, 0)
}

/// Strips surrounding whitespace and returns `None` for an empty string.
pub fn non_empty(s: &str) -> Option<String> {
    let t = s.trim();
    (!t.is_empty()).then(|| t.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_timestamp_spellings_feeds_use() {
        assert!(parse_time("2014-06-29T13:49:37.079Z").is_some());
        assert!(parse_time("2025-02-20T00:00:00+0000").is_some());
        assert!(parse_time("2024-10-22").is_some());
        assert!(parse_time("yesterday").is_none());
    }

    #[test]
    fn gunzip_passes_plain_bytes_through_and_rejects_broken_gzip() {
        assert_eq!(maybe_gunzip(b"abc").ok().as_deref(), Some(&b"abc"[..]));
        assert!(maybe_gunzip(&[0x1f, 0x8b, 0, 0]).is_err());
    }
}

/// Records parsed from one input and the issues met on the way.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Parsed<T> {
    pub records: Vec<T>,
    pub issues: Vec<Issue>,
}

impl<T> Default for Parsed<T> {
    fn default() -> Self {
        Self {
            records: Vec::new(),
            issues: Vec::new(),
        }
    }
}
