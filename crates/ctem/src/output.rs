//! Small printing helpers: tables for humans, JSON for machines.

use std::fmt::Write as _;

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

/// A plain text table: columns padded to the widest cell.
pub struct Table {
    headers: Vec<&'static str>,
    rows: Vec<Vec<String>>,
}

impl Table {
    pub fn new(headers: &[&'static str]) -> Self {
        Table {
            headers: headers.to_vec(),
            rows: Vec::new(),
        }
    }

    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
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
        let line = |cells: Vec<&str>, out: &mut String| {
            let mut l = String::new();
            for (i, c) in cells.iter().enumerate() {
                let pad = widths[i].saturating_sub(c.chars().count());
                if i + 1 == cells.len() {
                    l.push_str(c);
                } else {
                    let _ = write!(l, "{c}{}  ", " ".repeat(pad));
                }
            }
            out.push_str(l.trim_end());
            out.push('\n');
        };
        line(self.headers.clone(), &mut out);
        for r in &self.rows {
            line(r.iter().map(String::as_str).collect(), &mut out);
        }
        out
    }
}

#[cfg(test)]
mod tests {
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
