//! # ctem-ingest: scanner reports and inventories in, model records out
//!
//! Every report a team already produces (nmap, Nessus, Trivy, SARIF, ...) is read by a
//! *parser* into the records of [`ctem_model`]: assets with their identifiers, services, and
//! exposures. This crate holds only parsers: no database, no files, no network. The store
//! (`ctem-store`) decides identity, dedup and lifecycle; the binary opens files.
//!
//! ## The key type: [`Format`]
//! A format is a registered parser: its snake_case `name` (the `--format` value, the module
//! name and the fixture folder), its [`FormatKind`], a content `probe` used by `--format auto`,
//! and a `parse` function. [`REGISTRY`] is the one explicit list; [`detect`] asks every probe
//! and takes the most confident answer, [`by_name`] looks one up.
//!
//! ## Design choices
//! - **Streaming.** `parse` reads from a [`std::io::BufRead`] and *emits* [`Record`]s through a
//!   callback as it goes, so a multi-gigabyte report never has to fit in memory and the store
//!   can write while the parser reads. Small formats may read their whole input first.
//! - **Pure.** A parser sees only the bytes it is given; the same bytes always give the same
//!   records. That makes golden tests and fuzzing straightforward.
//! - **Per-record issues, not failure.** A record that cannot be used (no package name, a port
//!   that is not a number) becomes a [`RecordIssue`] naming where it is, and parsing goes on. A
//!   file that cannot be read at all is one [`Error`] naming the place (byte offset, line and
//!   column, or why it was refused).
//! - **Safe XML.** XML is read with quick-xml through [`xml`]: DTDs with entity declarations
//!   and external DTDs are refused, so XXE and entity-expansion bombs cannot work.
//! - **Content detection.** Probes look at the first 64 KiB only (root element, top-level JSON
//!   keys), never at the file name alone, so a renamed file still imports. The file's path is
//!   a tie-breaker only: for a body no format owns (an empty file, `null`, `[]`) or one that
//!   two formats read equally, the format the path names wins, else the caller must say.
//! - **Empty reports are reports.** Every format declares what its tool writes when it finds
//!   nothing ([`EmptyReport`]); [`Format::read`] takes that as a valid scan with no findings,
//!   so a clean rescan can close what it no longer reports, and refuses the empty bodies its
//!   tool never writes.
//! - **Bounded fields.** Every record passes through [`Limits`] on its way out: oversized text
//!   is cut with a marker, oversized or malformed identifiers are dropped, each with an issue,
//!   so a hostile report cannot make the store hold megabytes per field.

pub mod anchore;
pub mod aws_inspector2;
pub mod burp;
pub mod checkov;
pub mod csaf;
pub mod cyclonedx;
pub mod dependency_check;
pub mod error;
pub mod github_vulnerability;
pub mod gitleaks;
pub mod grype;
pub mod inventory;
pub mod kics;
pub mod masscan;
pub mod naabu;
pub mod nessus;
pub mod nexpose;
pub mod nmap;
pub mod nuclei;
pub mod openvas;
pub mod openvex;
pub mod osv_scanner;
pub mod prowler;
pub mod qualys;
pub mod sarif;
pub mod semgrep;
pub mod snyk;
pub mod spdx;
pub mod tenable_csv;
pub mod trivy;
pub mod trivy_operator;
pub mod trufflehog;
pub mod xml;
pub mod zap;

mod common;
mod empty;
mod jsonutil;
pub mod limits;

use std::io::{BufRead, Read};

pub use ctem_model::{Record, RecordIssue};
pub use empty::{EmptyReport, EmptyShape};
pub use error::{Error, Result};
pub use limits::Limits;

/// What a format carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FormatKind {
    /// Vulnerability and configuration scanner reports.
    Scanner,
    /// Network discovery and asset inventories.
    Inventory,
    /// Static analysis results.
    Code,
}

/// The callback a parser emits records through. Returning `Err` stops the parser, which then
/// returns that error.
pub type Emit<'a> = dyn FnMut(Record) -> Result<()> + 'a;

/// A registered input format.
pub struct Format {
    pub name: &'static str,
    pub kind: FormatKind,
    pub description: &'static str,
    /// How sure this parser is that it can read a file that starts with `head` (0 = not at
    /// all, 100 = certain). `file_name` is a tie-breaker only.
    pub probe: fn(head: &[u8], file_name: &str) -> u8,
    pub parse: fn(input: &mut dyn BufRead, emit: &mut Emit<'_>) -> Result<()>,
    /// The same parser over a whole file in memory (or memory-mapped), when it has a faster
    /// path for that; such parsers emit [`Record::Progress`] as they go so the caller can show
    /// progress and release what was read.
    pub parse_slice: Option<SliceParser>,
    /// What the tool writes when it finds nothing. [`Format::read`] takes the bodies declared
    /// here as a valid report with no findings, so a clean rescan can close what the scope
    /// no longer reports.
    pub empty: EmptyReport,
}

/// A parser over a whole input held in memory.
pub type SliceParser = fn(input: &[u8], emit: &mut Emit<'_>) -> Result<()>;

impl std::fmt::Debug for Format {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Format").field("name", &self.name).finish()
    }
}

/// Every parser, in one explicit list.
pub static REGISTRY: &[&Format] = &[
    &nmap::FORMAT,
    &nessus::FORMAT,
    &trivy::FORMAT,
    &sarif::FORMAT,
    &grype::FORMAT,
    &anchore::FORMAT,
    &osv_scanner::FORMAT,
    &snyk::FORMAT,
    &github_vulnerability::FORMAT,
    &aws_inspector2::FORMAT,
    &cyclonedx::FORMAT,
    &openvex::FORMAT,
    &csaf::FORMAT,
    &spdx::FORMAT,
    &openvas::FORMAT,
    &qualys::FORMAT,
    &nexpose::FORMAT,
    &tenable_csv::FORMAT,
    &nuclei::FORMAT,
    &masscan::FORMAT,
    &naabu::FORMAT,
    &zap::FORMAT,
    &burp::FORMAT,
    &semgrep::FORMAT,
    &checkov::FORMAT,
    &kics::FORMAT,
    &gitleaks::FORMAT,
    &trufflehog::FORMAT,
    &prowler::FORMAT,
    &trivy_operator::FORMAT,
    &dependency_check::FORMAT,
    &inventory::FORMAT,
];

/// How much of a file the probes look at.
pub const PROBE_BYTES: usize = 64 * 1024;

/// The registered format called `name`.
pub fn by_name(name: &str) -> Result<&'static Format> {
    REGISTRY
        .iter()
        .copied()
        .find(|f| f.name == name)
        .ok_or_else(|| Error::UnknownFormat(name.to_string()))
}

/// The format whose probe is most confident about `head`, if any is.
///
/// `file_name` (a file name or path) is a tie-breaker only: a body that carries no format of
/// its own (an empty file, `null`, `[]`: see [`EmptyShape`]) is given to the one format
/// that writes such a body and whose name the path mentions (`prowler/no_vuln.json`); with
/// none or several, the error asks for `--format`.
pub fn detect(head: &[u8], file_name: &str) -> Result<&'static Format> {
    let whole = head.len() < PROBE_BYTES;
    let head = &head[..head.len().min(PROBE_BYTES)];
    let scored: Vec<(u8, &'static Format)> = REGISTRY
        .iter()
        .map(|f| ((f.probe)(head, file_name), *f))
        .filter(|(s, _)| *s > 0)
        .collect();
    if let Some(top) = scored.iter().map(|(s, _)| *s).max() {
        let tied: Vec<&'static Format> = scored
            .iter()
            .filter(|(s, _)| *s == top)
            .map(|(_, f)| *f)
            .collect();
        // a tie (`{"findings": []}` is an empty AWS Inspector and Semgrep report) goes to
        // the format the path names; else the user says which
        return match tied.as_slice() {
            [one] => Ok(one),
            _ => empty::named(&tied, file_name).ok_or_else(|| Error::Ambiguous {
                formats: tied.iter().map(|f| f.name).collect::<Vec<_>>().join(", "),
            }),
        };
    }
    match EmptyShape::of(head).filter(|_| whole) {
        Some(shape) => empty::detect(shape, file_name),
        None => Err(Error::Undetected(describe_head(head))),
    }
}

impl Format {
    /// Reads a report from a stream: a body this format declares as its empty report
    /// ([`Format::empty`]) is a valid report with no findings, another [`EmptyShape`] is
    /// refused, anything else goes to the parser. Every record is bounded by the default
    /// [`Limits`].
    pub fn read(&self, input: &mut dyn BufRead, emit: &mut Emit<'_>) -> Result<()> {
        self.read_with(input, &Limits::default(), emit)
    }

    /// [`Format::read`] with other field size limits.
    pub fn read_with(
        &self,
        input: &mut dyn BufRead,
        limits: &Limits,
        emit: &mut Emit<'_>,
    ) -> Result<()> {
        let emit = &mut bounded(limits, emit);
        // read on while what came so far may still be an empty body (a pipe may hand it
        // over in pieces); the first byte that rules it out goes back in front of the rest
        let mut head = Vec::new();
        loop {
            let chunk = input.fill_buf()?;
            if chunk.is_empty() {
                break;
            }
            let may = if head.is_empty() {
                EmptyShape::may_start(chunk)
            } else {
                EmptyShape::may_start(&[&head[..], chunk].concat())
            };
            if !may || head.len() + chunk.len() > PROBE_BYTES {
                let mut whole = std::io::Cursor::new(head).chain(input);
                return (self.parse)(&mut whole, emit);
            }
            head.extend_from_slice(chunk);
            let n = chunk.len();
            input.consume(n);
        }
        match EmptyShape::of(&head) {
            Some(shape) => self.empty.accept(self.name, shape),
            // a cut `null` or `[`: the parser says what is wrong with it
            None => (self.parse)(&mut &head[..], emit),
        }
    }

    /// [`Format::read`] over a whole report in memory (the slice parser when there is one).
    pub fn read_slice(&self, input: &[u8], emit: &mut Emit<'_>) -> Result<()> {
        self.read_slice_with(input, &Limits::default(), emit)
    }

    /// [`Format::read_slice`] with other field size limits.
    pub fn read_slice_with(
        &self,
        input: &[u8],
        limits: &Limits,
        emit: &mut Emit<'_>,
    ) -> Result<()> {
        let emit = &mut bounded(limits, emit);
        if let Some(shape) = EmptyShape::of(input) {
            return self.empty.accept(self.name, shape);
        }
        match self.parse_slice {
            Some(f) => f(input, emit),
            None => {
                let mut r = input;
                (self.parse)(&mut r, emit)
            }
        }
    }
}

/// A short description of what a file looks like, for the "not recognised" error.
fn describe_head(head: &[u8]) -> String {
    let t = trim_ascii_bom(head);
    if t.is_empty() {
        "the file is empty".into()
    } else if t.starts_with(b"<") {
        match xml::root_element(t) {
            Some(r) if r.eq_ignore_ascii_case("html") => "an HTML page".into(),
            Some(r) => format!("XML with root element <{r}>"),
            None => "XML-like text".into(),
        }
    } else if t.starts_with(b"{") || t.starts_with(b"[") {
        "JSON of an unknown shape".into()
    } else {
        "text of an unknown shape".into()
    }
}

pub(crate) fn trim_ascii_bom(b: &[u8]) -> &[u8] {
    let b = b.strip_prefix(b"\xef\xbb\xbf").unwrap_or(b);
    b.trim_ascii_start()
}

/// `emit` behind [`Limits::bound`]: an oversized field is cut or dropped, with an issue.
fn bounded<'a>(
    limits: &'a Limits,
    emit: &'a mut Emit<'_>,
) -> impl FnMut(Record) -> Result<()> + 'a {
    move |r| {
        let (r, issue) = limits.bound(r);
        if let Some(i) = issue {
            emit(Record::Issue(i))?;
        }
        emit(r)
    }
}

/// Parses a whole report held in memory and collects its records (tests, small files);
/// progress records are left out.
pub fn parse_bytes(format: &Format, bytes: &[u8]) -> Result<Vec<Record>> {
    let mut out = Vec::new();
    let mut push = |r: Record| {
        if !matches!(r, Record::Progress { .. }) {
            out.push(r);
        }
        Ok(())
    };
    format.read_slice(bytes, &mut push)?;
    Ok(out)
}

/// Parses with the streaming reader even when a slice parser exists (tests compare both).
pub fn parse_bytes_streaming(format: &Format, bytes: &[u8]) -> Result<Vec<Record>> {
    let mut out = Vec::new();
    let mut input = bytes;
    format.read(&mut input, &mut |r| {
        if !matches!(r, Record::Progress { .. }) {
            out.push(r);
        }
        Ok(())
    })?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_names_are_unique_snake_case() {
        let mut names: Vec<_> = REGISTRY.iter().map(|f| f.name).collect();
        for n in &names {
            assert!(
                n.bytes()
                    .all(|b| b.is_ascii_lowercase() || b == b'_' || b.is_ascii_digit())
            );
        }
        names.sort();
        names.dedup();
        assert_eq!(names.len(), REGISTRY.len());
    }

    #[test]
    fn undetected_input_says_what_it_looks_like() {
        let e = detect(b"<html><body>hi</body></html>", "x.html").unwrap_err();
        assert!(e.to_string().contains("HTML page"), "{e}");
        let e = detect(b"", "x.json").unwrap_err();
        assert!(e.to_string().contains("empty"), "{e}");
        assert!(matches!(by_name("nope"), Err(Error::UnknownFormat(_))));
    }
}
