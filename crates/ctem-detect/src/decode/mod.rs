//! Event decoders: bytes in, [`Record`]s out, one module per format.
//!
//! Decoders are pure (bytes in memory, no globals); [`open`] is the one helper that reads a
//! file. A bad record becomes an `Err` item with its record number and decoding continues;
//! only an unreadable input is an error of the whole call. Gzip input is recognised by its
//! magic bytes whatever the file is called.

mod alerts;
mod auditd;
mod stream;
mod syslog;
mod zeek_tsv;

use std::io::Read;
use std::path::Path;
use std::str::FromStr;

use serde_json::Value;

pub use crate::evtx_run::evtx_flat_lines;
pub use alerts::{SourceAlerts, source_alert};
pub use auditd::{AuditGrouper, is_auditd_line};
pub use stream::{Follow, follow, stream};
pub use syslog::{parse_cef, parse_syslog_line};
pub use zeek_tsv::{ZeekTsv, is_zeek_tsv};

use crate::engine::Record;
use crate::error::{Error, Result};

/// Input formats, named as on the `ctem detect --input` command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Sniff the content.
    Auto,
    /// JSON lines, concatenated JSON documents, or one JSON array, of any shape.
    Jsonl,
    /// Windows EVTX.
    Evtx,
    /// Suricata EVE JSON (JSON lines).
    Suricata,
    /// Zeek logs: JSON lines, or TSV with `#fields` headers (recognised by `#separator`).
    Zeek,
    /// Syslog lines: RFC 3164, RFC 5424 (with RFC 6587 octet counting) and CEF.
    Syslog,
    /// Raw Linux audit records, grouped into events by serial number.
    Auditd,
}

impl FromStr for Format {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Ok(match s {
            "auto" => Format::Auto,
            "jsonl" | "json" => Format::Jsonl,
            "evtx" => Format::Evtx,
            "suricata" | "suricata_eve" => Format::Suricata,
            "zeek" | "zeek_json" | "zeek_tsv" => Format::Zeek,
            "syslog" | "cef" => Format::Syslog,
            "auditd" => Format::Auditd,
            other => {
                return Err(Error::Decode {
                    format: "auto",
                    record: 0,
                    message: format!("unknown input format {other:?}"),
                });
            }
        })
    }
}

/// A stream of decoded records.
pub type Records = Box<dyn Iterator<Item = Result<Record>> + Send>;

/// Reads a file (gzip or not) and decodes it. Line-based input is streamed (see [`stream`]),
/// so memory stays flat whatever the file size; `-` reads standard input.
pub fn open(path: impl AsRef<Path>, format: Format) -> Result<Records> {
    let path = path.as_ref();
    if path == Path::new("-") {
        return stream(std::io::stdin(), format, Some("-".to_string()));
    }
    let file = std::fs::File::open(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
    stream(file, format, name)
}

/// Decodes bytes already in memory; `source` labels the records.
pub fn decode_bytes(bytes: Vec<u8>, format: Format, source: Option<String>) -> Result<Records> {
    let bytes = gunzip_if_needed(bytes)?;
    let format = if format == Format::Auto {
        sniff(&bytes)
    } else {
        format
    };
    match format {
        Format::Evtx => decode_evtx(bytes, source),
        Format::Zeek if is_zeek_tsv(&bytes) => Ok(Box::new(ZeekTsv::new(
            Box::new(std::io::Cursor::new(bytes)),
            source,
        ))),
        Format::Syslog => Ok(Box::new(decode_syslog(bytes, source))),
        Format::Auditd => Ok(Box::new(decode_auditd(bytes, source).into_iter())),
        Format::Jsonl | Format::Suricata | Format::Zeek | Format::Auto => {
            let name = match format {
                Format::Suricata => "suricata",
                Format::Zeek => "zeek",
                _ => "jsonl",
            };
            Ok(Box::new(decode_json(bytes, source, name).into_iter()))
        }
    }
}

/// Inflates gzip data (magic `1f 8b`); returns other data unchanged.
pub fn gunzip_if_needed(bytes: Vec<u8>) -> Result<Vec<u8>> {
    if bytes.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::with_capacity(bytes.len() * 6);
        flate2::read::MultiGzDecoder::new(bytes.as_slice())
            .read_to_end(&mut out)
            .map_err(|e| Error::Decode {
                format: "gzip",
                record: 0,
                message: e.to_string(),
            })?;
        Ok(out)
    } else {
        Ok(bytes)
    }
}

/// Whether a stream whose first bytes are `head`, read as `format` (`Auto` sniffs), is JSON
/// lines, one object per line, which [`crate::Engine::run_lines`] reads without building a
/// `Value` per line.
pub fn is_json_lines(head: &[u8], format: Format) -> bool {
    let format = match format {
        Format::Auto => sniff(head),
        f => f,
    };
    let text = String::from_utf8_lossy(head);
    let first = text.trim_start_matches('\u{feff}').trim_start();
    matches!(format, Format::Jsonl | Format::Suricata | Format::Zeek)
        && first.starts_with('{')
        && first
            .split_once('\n')
            .is_some_and(|(l, _)| l.trim_end().ends_with('}'))
}

/// Guesses the format from content.
pub fn sniff(bytes: &[u8]) -> Format {
    if bytes.starts_with(b"ElfFile\0") {
        return Format::Evtx;
    }
    if is_zeek_tsv(bytes) {
        return Format::Zeek;
    }
    let head = &bytes[..bytes.len().min(4096)];
    let text = String::from_utf8_lossy(head);
    let t = text.trim_start_matches('\u{feff}').trim_start();
    if t.starts_with('{') || t.starts_with('[') {
        if t.contains("\"event_type\"") && t.contains("\"flow_id\"") {
            return Format::Suricata;
        }
        if t.contains("\"ts\"") && t.contains("\"uid\"") {
            return Format::Zeek;
        }
        return Format::Jsonl;
    }
    if t.lines().next().is_some_and(is_auditd_line) {
        return Format::Auditd;
    }
    Format::Syslog
}

fn decode_err(format: &'static str, record: u64, message: impl Into<String>) -> Error {
    Error::Decode {
        format,
        record,
        message: message.into(),
    }
}

/// JSON lines, concatenated documents, or one top-level array. Line-by-line first so that one
/// bad line does not lose the rest; a document spanning lines falls back to a stream parse.
pub fn decode_json(
    bytes: Vec<u8>,
    source: Option<String>,
    format: &'static str,
) -> Vec<Result<Record>> {
    let text = String::from_utf8_lossy(&bytes);
    let text = text.trim_start_matches('\u{feff}');
    let trimmed = text.trim_start();
    let mk = |event: Value, n: u64| Record {
        source: source.clone(),
        record: Some(n),
        event,
    };
    if trimmed.starts_with('[') {
        return match serde_json::from_str::<Value>(trimmed) {
            Ok(Value::Array(items)) => items
                .into_iter()
                .enumerate()
                .map(|(i, v)| Ok(mk(v, i as u64 + 1)))
                .collect(),
            Ok(other) => vec![Ok(mk(other, 1))],
            Err(e) => vec![Err(decode_err(format, 1, e.to_string()))],
        };
    }
    let lines: Vec<&str> = text.lines().collect();
    let one_per_line = lines
        .iter()
        .map(|l| l.trim())
        .filter(|l| !l.is_empty())
        .all(|l| l.starts_with('{') && l.ends_with('}'));
    if one_per_line {
        return lines
            .iter()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty())
            .map(|(i, l)| {
                serde_json::from_str::<Value>(l.trim())
                    .map(|v| mk(v, i as u64 + 1))
                    .map_err(|e| decode_err(format, i as u64 + 1, e.to_string()))
            })
            .collect();
    }
    let mut out = Vec::new();
    let mut n = 0;
    for v in serde_json::Deserializer::from_str(text).into_iter::<Value>() {
        n += 1;
        match v {
            Ok(v) => out.push(Ok(mk(v, n))),
            Err(e) => {
                out.push(Err(decode_err(format, n, e.to_string())));
                break;
            }
        }
    }
    out
}

/// Windows EVTX through the `evtx` crate; records keep the nested `Event.System` shape.
pub fn decode_evtx(bytes: Vec<u8>, source: Option<String>) -> Result<Records> {
    let mut parser =
        evtx::EvtxParser::from_buffer(bytes).map_err(|e| decode_err("evtx", 0, e.to_string()))?;
    let items: Vec<Result<Record>> = parser
        .records_json_value()
        .map(|r| match r {
            Ok(rec) => Ok(Record {
                source: source.clone(),
                record: Some(rec.event_record_id),
                event: rec.data,
            }),
            // a damaged chunk is one issue; the parser goes on with the next chunk
            Err(evtx::err::EvtxError::FailedToParseChunk { chunk_id, source }) => Err(decode_err(
                "evtx",
                0,
                format!(
                    "damaged chunk {chunk_id} (byte {}): {source}; its records are skipped, \
                     the other chunks are read",
                    4096 + chunk_id * 65536
                ),
            )),
            Err(e) => Err(decode_err("evtx", 0, e.to_string())),
        })
        .collect();
    Ok(Box::new(items.into_iter()))
}

/// Syslog / CEF lines into objects (see [`parse_syslog_line`]).
pub fn decode_syslog(
    bytes: Vec<u8>,
    source: Option<String>,
) -> impl Iterator<Item = Result<Record>> + Send {
    let text = String::from_utf8_lossy(&bytes).into_owned();
    let items: Vec<Result<Record>> = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            Ok(Record {
                source: source.clone(),
                record: Some(i as u64 + 1),
                event: parse_syslog_line(l),
            })
        })
        .collect();
    items.into_iter()
}

/// Raw audit lines into events, the records of one serial number grouped (see
/// [`AuditGrouper`]); a line that is not an audit record is an `Err` naming its line.
pub fn decode_auditd(bytes: Vec<u8>, source: Option<String>) -> Vec<Result<Record>> {
    let text = String::from_utf8_lossy(&bytes);
    let mut g = AuditGrouper::default();
    let mut out = Vec::new();
    // the line of the first record of the event under way: the event's record number
    let mut start: Option<u64> = None;
    let mk = |event: Value, line: u64| Record {
        source: source.clone(),
        record: Some(line),
        event,
    };
    for (i, l) in text.lines().enumerate() {
        if l.trim().is_empty() {
            continue;
        }
        let line = i as u64 + 1;
        match g.push(l) {
            Ok(Some(ev)) => {
                out.push(Ok(mk(ev, start.unwrap_or(line))));
                start = g.is_open().then_some(line);
            }
            Ok(None) => {
                start.get_or_insert(line);
            }
            Err(m) => out.push(Err(decode_err("auditd", line, m))),
        }
    }
    if let Some(ev) = g.finish() {
        out.push(Ok(mk(ev, start.unwrap_or(0))));
    }
    out
}
