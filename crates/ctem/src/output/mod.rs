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

/// An error with its context chain on one line. A cause whose text its parent already
/// printed (errors that show their source in their own message) is not repeated.
pub fn chain(e: &anyhow::Error) -> String {
    let mut parts: Vec<String> = Vec::new();
    for c in e.chain() {
        let text = c.to_string();
        if parts.last().is_some_and(|p| p.ends_with(&text)) {
            continue;
        }
        parts.push(text);
    }
    parts.join(": ")
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
