//! Everything ctem prints on stdout: tables for humans, JSON for machines, through one
//! writer ([`stdout`]) that turns a closed pipe into a quiet exit.
//!
//! The listing contract (../shared/CLI.md "Listings"): with `--json` a listing prints ONE
//! compact JSON array, written element by element ([`json_array`]), `[]` when empty; a
//! single document (a report, one record) is one compact JSON object ([`json_doc`]). JSON
//! lines are only for streams that never end (`detect`, `--follow`). Human output of an
//! empty listing says so ([`Table::print`]).

#[macro_use]
pub mod stdout;
pub mod color;
pub mod progress;

use std::fmt::Write as _;

pub use stdout::Stdout;

/// An error with its context chain on one line, as every message of the binary prints it:
/// a cause whose text its parent's text already ends with is printed once (an error whose
/// `Display` includes its source), a locked store is one sentence that says how long ctem
/// waited, and secrets inside URLs are masked ([`ctem_model::redact::text`]).
pub fn chain(e: &anyhow::Error) -> String {
    chain_waited(e, None)
}

/// [`chain`], saying how long the command waited for a locked store when it is known.
pub fn chain_waited(e: &anyhow::Error, waited: Option<std::time::Duration>) -> String {
    let mut msg = String::new();
    for c in e.chain() {
        if c.downcast_ref::<ctem_store::Error>()
            .is_some_and(ctem_store::Error::is_busy)
        {
            if !msg.is_empty() {
                msg.push_str(": ");
            }
            msg.push_str(&busy_sentence(waited));
            break;
        }
        let s = c.to_string();
        if s.is_empty() || msg.ends_with(&s) {
            continue;
        }
        if !msg.is_empty() {
            msg.push_str(": ");
        }
        msg.push_str(&s);
    }
    ctem_model::redact::text(&msg)
}

fn busy_sentence(waited: Option<std::time::Duration>) -> String {
    match waited {
        Some(w) => format!(
            "another process holds the store (ctem waited {} for it; \
             set busy_timeout in [store] of ctem.toml to wait longer)",
            human_duration(w)
        ),
        None => "another process holds the store \
                 (set busy_timeout in [store] of ctem.toml to wait longer)"
            .to_string(),
    }
}

fn human_duration(d: std::time::Duration) -> String {
    if d.subsec_millis() == 0 {
        format!("{} s", d.as_secs())
    } else {
        format!("{:.1} s", d.as_secs_f64())
    }
}

/// Text from untrusted input made safe for a terminal: control characters (NUL, escape
/// sequences, ...) become `\u{..}` escapes, and the whole is cut to `max` characters.
pub fn printable(s: &str, max: usize) -> String {
    let mut out = String::new();
    for (n, c) in s.chars().enumerate() {
        if n >= max {
            out.push('…');
            break;
        }
        if c.is_control() && c != '\t' {
            let _ = write!(out, "\\u{{{:x}}}", c as u32);
        } else {
            out.push(c);
        }
    }
    out
}

/// Cuts `s` to `max` characters, marking the cut.
pub fn cut(s: &str, max: usize) -> String {
    let s = s.trim().replace(['\n', '\r', '\t'], " ");
    if s.chars().count() <= max {
        return s;
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// Writes `items` to stdout as one compact JSON array, element by element (nothing is
/// collected first), `[]` when there are none.
pub fn json_array<T: serde::Serialize>(items: impl IntoIterator<Item = T>) {
    let mut out = Stdout::new();
    out.bytes(b"[");
    for (i, item) in items.into_iter().enumerate() {
        if i > 0 {
            out.bytes(b",");
        }
        out.json(&item);
    }
    out.bytes(b"]\n");
    out.finish();
}

/// Writes one JSON document (a report, one record) to stdout, compact, with a newline.
pub fn json_doc<T: serde::Serialize + ?Sized>(v: &T) {
    let mut out = Stdout::new();
    out.json(v);
    out.bytes(b"\n");
    out.finish();
}

/// A plain text table: columns padded to the widest cell; some columns coloured by their
/// value (severities, levels, priorities) when colour is on.
pub struct Table {
    headers: Vec<&'static str>,
    rows: Vec<Vec<String>>,
    painted: Vec<usize>,
}

impl Table {
    pub fn new(headers: &[&'static str]) -> Self {
        Table {
            headers: headers.to_vec(),
            rows: Vec::new(),
            painted: Vec::new(),
        }
    }

    /// Colours column `i` by its value (see [`color::paint`]).
    pub fn paint(mut self, i: usize) -> Self {
        self.painted.push(i);
        self
    }

    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    pub fn render(&self) -> String {
        let mut widths: Vec<usize> = self.headers.iter().map(|h| h.len()).collect();
        for r in &self.rows {
            for (i, c) in r.iter().enumerate() {
                if i < widths.len() {
                    widths[i] = widths[i].max(c.chars().count());
                }
            }
        }
        let mut out = String::new();
        let line = |cells: Vec<&str>, paint: bool, out: &mut String| {
            let mut l = String::new();
            for (i, c) in cells.iter().enumerate() {
                let last = i + 1 == cells.len();
                let pad = if last {
                    String::new()
                } else {
                    " ".repeat(widths[i].saturating_sub(c.chars().count()) + 2)
                };
                if paint && self.painted.contains(&i) {
                    l.push_str(&color::paint(c));
                } else {
                    l.push_str(c);
                }
                l.push_str(&pad);
            }
            out.push_str(l.trim_end());
            out.push('\n');
        };
        line(self.headers.clone(), false, &mut out);
        for r in &self.rows {
            line(r.iter().map(String::as_str).collect(), true, &mut out);
        }
        out
    }

    /// Prints the table, or `empty` (e.g. "no exposures match") when it has no rows.
    pub fn print(&self, empty: &str) {
        if self.rows.is_empty() {
            outln!("{empty}");
        } else {
            let mut out = Stdout::new();
            out.str(&self.render());
            out.finish();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cause_already_in_its_parent_is_not_repeated() {
        let e = anyhow::anyhow!("larger than 1 MiB")
            .context("read: larger than 1 MiB")
            .context("bomb.gz");
        assert_eq!(chain(&e), "bomb.gz: read: larger than 1 MiB");
    }

    #[test]
    fn printable_escapes_control_characters_and_cuts() {
        assert_eq!(printable("a\0b\x1b[31m", 100), "a\\u{0}b\\u{1b}[31m");
        assert_eq!(printable("abcdef", 3), "abc…");
    }

    #[test]
    fn table_pads_columns_to_the_widest_cell() {
        let mut t = Table::new(&["ID", "NAME"]);
        t.row(vec!["1".into(), "x".into()]);
        t.row(vec!["100".into(), "y".into()]);
        assert_eq!(t.render(), "ID   NAME\n1    x\n100  y\n");
    }
}

#[cfg(test)]
mod chain_tests {
    use super::*;

    #[derive(Debug)]
    struct Inner;
    impl std::fmt::Display for Inner {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("kev: field `x`: missing")
        }
    }
    impl std::error::Error for Inner {}

    /// Display includes its source, and reports it as its source too (thiserror's
    /// `#[error("{file}: {source}")]`).
    #[derive(Debug)]
    struct Outer(Inner);
    impl std::fmt::Display for Outer {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "kev.json: {}", self.0)
        }
    }
    impl std::error::Error for Outer {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            Some(&self.0)
        }
    }

    #[test]
    fn a_cause_already_in_its_parent_is_printed_once() {
        let e = anyhow::Error::new(Outer(Inner)).context("intel import");
        assert_eq!(chain(&e), "intel import: kev.json: kev: field `x`: missing");
        let plain = anyhow::anyhow!("inner").context("outer");
        assert_eq!(chain(&plain), "outer: inner");
    }

    #[test]
    fn urls_in_errors_are_redacted() {
        let e =
            anyhow::anyhow!("connection refused").context("store postgres://ctem:hunter2@db/ctem");
        let shown = chain(&e);
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("postgres://ctem:***@db/ctem"), "{shown}");
    }

    #[test]
    fn a_locked_store_is_one_sentence_with_the_wait() {
        let busy = rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_BUSY),
            Some("database is locked".into()),
        );
        let e = anyhow::Error::new(ctem_store::Error::from(busy)).context("importing r.json");
        let ten = std::time::Duration::from_secs(10);
        let shown = chain_waited(&e, Some(ten));
        assert_eq!(
            shown,
            format!("importing r.json: {}", busy_sentence(Some(ten)))
        );
        assert!(shown.contains("ctem waited 10 s"), "{shown}");
        assert!(!shown.contains("database is locked"), "{shown}");
        assert_eq!(human_duration(std::time::Duration::from_secs(10)), "10 s");
        assert_eq!(
            human_duration(std::time::Duration::from_millis(2500)),
            "2.5 s"
        );
    }
}
