//! Streaming decoders: records from a reader one line at a time (memory stays flat whatever the
//! input size), and [`follow`], which keeps reading a file as it grows (`ctem detect --follow`).

use std::fs::File;
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;

use super::{Format, Records, decode_bytes, decode_err, parse_syslog_line, sniff};
use crate::engine::Record;
use crate::error::{Error, Result};

/// Decodes a reader as a stream. Gzip is recognised by its magic bytes; `Auto` sniffs the first
/// 4 KiB. JSON lines, Suricata, Zeek JSON and syslog are decoded line by line; EVTX and a JSON
/// document that is one top-level array are read whole (they are not line-based).
pub fn stream<R: Read + Send + 'static>(
    reader: R,
    format: Format,
    source: Option<String>,
) -> Result<Records> {
    let mut r: Box<dyn BufRead + Send> = Box::new(BufReader::with_capacity(1 << 16, reader));
    let io = |source: std::io::Error| Error::Io {
        path: PathBuf::from("-"),
        source,
    };
    if r.fill_buf().map_err(io)?.starts_with(&[0x1f, 0x8b]) {
        r = Box::new(BufReader::with_capacity(
            1 << 16,
            flate2::read::MultiGzDecoder::new(r),
        ));
    }
    let head = r.fill_buf().map_err(io)?.to_vec();
    let format = if format == Format::Auto {
        sniff(&head)
    } else {
        format
    };
    if format == Format::Zeek && super::is_zeek_tsv(&head) {
        return Ok(Box::new(super::ZeekTsv::new(r, source)));
    }
    let head_text = String::from_utf8_lossy(&head);
    let head_text = head_text.trim_start_matches('\u{feff}').trim_start();
    // a JSON document spread over lines (pretty-printed, or one array) is not line-based
    let first_line_whole = match head_text.split_once('\n') {
        Some((first, _)) => first.trim_end().ends_with('}'),
        None => head_text.trim_end().ends_with('}') || head_text.is_empty(),
    };
    // audit records are grouped by serial across lines: read whole
    let whole = format == Format::Evtx
        || format == Format::Auditd
        || (format != Format::Syslog && (head_text.starts_with('[') || !first_line_whole));
    if whole {
        let mut bytes = Vec::new();
        r.read_to_end(&mut bytes).map_err(io)?;
        return decode_bytes(bytes, format, source);
    }
    Ok(Box::new(LineRecords {
        reader: r,
        format,
        source,
        line: 0,
        buf: Vec::new(),
        failed: false,
    }))
}

/// One record per non-blank line.
struct LineRecords {
    reader: Box<dyn BufRead + Send>,
    format: Format,
    source: Option<String>,
    line: u64,
    buf: Vec<u8>,
    /// A read failed (truncated gzip, I/O error): the stream has ended.
    failed: bool,
}

fn format_name(f: Format) -> &'static str {
    match f {
        Format::Suricata => "suricata",
        Format::Zeek => "zeek",
        Format::Syslog => "syslog",
        Format::Auditd => "auditd",
        _ => "jsonl",
    }
}

/// Decodes one line (already without its newline); `None` for a blank line.
fn decode_line(
    text: &str,
    format: Format,
    source: &Option<String>,
    line: u64,
) -> Option<Result<Record>> {
    let t = text.trim_start_matches('\u{feff}').trim();
    if t.is_empty() {
        return None;
    }
    let event = if format == Format::Syslog {
        Ok(parse_syslog_line(t))
    } else if format == Format::Auditd {
        // followed line by line: each record is its own event
        let mut g = super::AuditGrouper::default();
        g.push(t)
            .map(|done| done.or_else(|| g.finish()).unwrap_or_default())
            .map_err(|m| decode_err("auditd", line, m))
    } else {
        serde_json::from_str::<Value>(t)
            .map_err(|e| decode_err(format_name(format), line, e.to_string()))
    };
    Some(event.map(|event| Record {
        source: source.clone(),
        record: Some(line),
        event,
    }))
}

impl Iterator for LineRecords {
    type Item = Result<Record>;
    fn next(&mut self) -> Option<Result<Record>> {
        loop {
            if self.failed {
                return None;
            }
            self.buf.clear();
            match self.reader.read_until(b'\n', &mut self.buf) {
                Ok(0) => return None,
                Ok(_) => {}
                Err(e) => {
                    // the rest cannot be read: one error naming the line, then the end
                    self.failed = true;
                    return Some(Err(Error::Io {
                        path: PathBuf::from(self.source.as_deref().unwrap_or("-")),
                        source: std::io::Error::new(
                            e.kind(),
                            format!("after line {}: {e}", self.line),
                        ),
                    }));
                }
            }
            self.line += 1;
            let text = String::from_utf8_lossy(&self.buf);
            if let Some(r) = decode_line(&text, self.format, &self.source, self.line) {
                return Some(r);
            }
        }
    }
}

/// Reads the records of a file, then keeps waiting for new lines appended to it, checking
/// every `poll`. A line is decoded once its newline has been written. A file that shrinks
/// (rotated or truncated) is read again from its start. The iterator never ends on its own;
/// drop it to stop. Line-based formats only (`Auto` sniffs the first lines; EVTX is refused).
pub fn follow(path: impl AsRef<Path>, format: Format, poll: Duration) -> Result<Follow> {
    let path = path.as_ref().to_path_buf();
    let file = File::open(&path).map_err(|source| Error::Io {
        path: path.clone(),
        source,
    })?;
    if format == Format::Evtx {
        return Err(decode_err("evtx", 0, "--follow needs a line-based format"));
    }
    Ok(Follow {
        source: path.file_name().map(|n| n.to_string_lossy().into_owned()),
        path,
        reader: BufReader::new(file),
        format,
        poll,
        pos: 0,
        line: 0,
        pending: Vec::new(),
    })
}

/// The iterator of [`follow`].
pub struct Follow {
    path: PathBuf,
    source: Option<String>,
    reader: BufReader<File>,
    format: Format,
    poll: Duration,
    pos: u64,
    line: u64,
    /// Bytes of a line whose newline has not been written yet.
    pending: Vec<u8>,
}

impl Follow {
    fn reopen_if_truncated(&mut self) -> std::io::Result<()> {
        let len = std::fs::metadata(&self.path)?.len();
        if len < self.pos {
            let file = File::open(&self.path)?;
            self.reader = BufReader::new(file);
            self.reader.seek(SeekFrom::Start(0))?;
            self.pos = 0;
            self.line = 0;
            self.pending.clear();
        }
        Ok(())
    }
}

impl Iterator for Follow {
    type Item = Result<Record>;
    fn next(&mut self) -> Option<Result<Record>> {
        loop {
            let n = match self.reader.read_until(b'\n', &mut self.pending) {
                Ok(n) => n,
                Err(e) => {
                    return Some(Err(Error::Io {
                        path: self.path.clone(),
                        source: e,
                    }));
                }
            };
            self.pos += n as u64;
            if self.pending.last() == Some(&b'\n') {
                self.line += 1;
                if self.format == Format::Auto {
                    self.format = sniff(&self.pending);
                }
                let text = String::from_utf8_lossy(&self.pending).into_owned();
                self.pending.clear();
                if let Some(r) = decode_line(&text, self.format, &self.source, self.line) {
                    return Some(r);
                }
                continue;
            }
            // at the end for now: wait for more
            std::thread::sleep(self.poll);
            if let Err(e) = self.reopen_if_truncated() {
                return Some(Err(Error::Io {
                    path: self.path.clone(),
                    source: e,
                }));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn stream_decodes_lines_gzip_and_arrays() {
        let text = b"{\"a\":1}\n\n{\"a\":2}\nnot json\n".to_vec();
        let recs: Vec<_> = stream(std::io::Cursor::new(text.clone()), Format::Jsonl, None)
            .expect("stream")
            .collect();
        assert_eq!(recs.len(), 3);
        assert_eq!(recs[1].as_ref().map(|r| r.record).ok(), Some(Some(3)));
        assert!(recs[2].is_err());
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&text).expect("gzip");
        let gz = gz.finish().expect("gzip");
        let n = stream(std::io::Cursor::new(gz), Format::Auto, None)
            .expect("stream")
            .filter(Result::is_ok)
            .count();
        assert_eq!(n, 2);
        let arr = b"[{\"a\":1},{\"a\":2}]".to_vec();
        let n = stream(std::io::Cursor::new(arr), Format::Auto, None)
            .expect("stream")
            .count();
        assert_eq!(n, 2);
    }

    #[test]
    fn follow_sees_lines_appended_by_another_thread() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("growing.jsonl");
        std::fs::write(&path, "{\"n\":0}\n").expect("write");
        let writer_path = path.clone();
        let writer = std::thread::spawn(move || {
            for n in 1..=5 {
                std::thread::sleep(Duration::from_millis(20));
                let mut f = std::fs::OpenOptions::new()
                    .append(true)
                    .open(&writer_path)
                    .expect("open");
                // a line written in two pieces is decoded once complete
                write!(f, "{{\"n\":").expect("append");
                f.flush().expect("flush");
                std::thread::sleep(Duration::from_millis(5));
                writeln!(f, "{n}}}").expect("append");
            }
        });
        let got: Vec<i64> = follow(&path, Format::Jsonl, Duration::from_millis(5))
            .expect("follow")
            .take(6)
            .map(|r| r.expect("record").event["n"].as_i64().unwrap_or(-1))
            .collect();
        writer.join().expect("writer");
        assert_eq!(got, vec![0, 1, 2, 3, 4, 5]);
    }
}
