//! Reports with no findings. Many tools write nothing at all when they find nothing
//! (line-oriented outputs: Nuclei, naabu, masscan, OSV-Scanner's DefectDojo samples), the
//! JSON literal `null` (a Go nil slice: Trivy's legacy list, gitleaks) or an empty JSON
//! array (tools whose report is a bare list: anchorectl, Prowler 3+, trufflehog3). Those
//! bodies carry no format of their own, so every format declares which of them its tool
//! writes ([`EmptyReport`]); [`crate::Format::read`] takes a declared one as a valid scan
//! with no findings, which is what lets a clean rescan with `--scope` close the findings
//! the scope no longer reports.

use crate::{Error, Format, REGISTRY, Result};

/// A body that says "nothing found" without saying which tool wrote it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EmptyShape {
    /// Zero bytes, or only blanks (a UTF-8 byte order mark included).
    Blank,
    /// The JSON literal `null`.
    Null,
    /// `[]`, blanks allowed inside.
    EmptyArray,
}

impl EmptyShape {
    /// The shape of `body` when it is one of the three (a whole body, not a head).
    pub fn of(body: &[u8]) -> Option<Self> {
        let t = crate::trim_ascii_bom(body).trim_ascii_end();
        if t.is_empty() {
            return Some(EmptyShape::Blank);
        }
        if t == b"null" {
            return Some(EmptyShape::Null);
        }
        let inner = t.strip_prefix(b"[")?.strip_suffix(b"]")?;
        inner
            .iter()
            .all(u8::is_ascii_whitespace)
            .then_some(EmptyShape::EmptyArray)
    }

    /// Whether `head` may be the start of one of the three bodies (all of it is blanks, a
    /// prefix of `null`, or `[` and blanks, with what may follow each).
    pub fn may_start(head: &[u8]) -> bool {
        let t = crate::trim_ascii_bom(head);
        let (word, rest) = t.split_at(t.len().min(4));
        if !word.is_empty() && b"null".starts_with(word) {
            return rest.iter().all(u8::is_ascii_whitespace);
        }
        match t.strip_prefix(b"[") {
            Some(inner) => {
                let inner = inner.trim_ascii_start();
                match inner.strip_prefix(b"]") {
                    Some(after) => after.iter().all(u8::is_ascii_whitespace),
                    None => inner.is_empty(),
                }
            }
            None => t.is_empty() || b"\xef\xbb\xbf".starts_with(head),
        }
    }

    /// How an error names it.
    pub fn describe(self) -> &'static str {
        match self {
            EmptyShape::Blank => "an empty file",
            EmptyShape::Null => "the JSON literal null",
            EmptyShape::EmptyArray => "an empty JSON array",
        }
    }
}

/// What one format's report looks like when its tool found nothing.
#[derive(Debug, Clone, Copy)]
pub struct EmptyReport {
    /// The tool writes an empty file (line-oriented output, one record a line).
    pub blank: bool,
    /// The tool writes the JSON literal `null`.
    pub null: bool,
    /// The tool writes `[]`.
    pub empty_array: bool,
    /// A report with no findings as the tool writes it (the format's own document with an
    /// empty list, or one of the shapes above): the registry test reads and detects it.
    pub example: &'static str,
}

impl EmptyReport {
    /// A format whose tool always writes its own document, even when it finds nothing.
    pub const fn document(example: &'static str) -> Self {
        EmptyReport {
            blank: false,
            null: false,
            empty_array: false,
            example,
        }
    }

    /// Whether the tool writes `shape` when it finds nothing.
    pub fn allows(&self, shape: EmptyShape) -> bool {
        match shape {
            EmptyShape::Blank => self.blank,
            EmptyShape::Null => self.null,
            EmptyShape::EmptyArray => self.empty_array,
        }
    }

    /// A declared shape is a report with no findings (nothing is emitted); another is refused.
    pub(crate) fn accept(&self, format: &str, shape: EmptyShape) -> Result<()> {
        if self.allows(shape) {
            return Ok(());
        }
        Err(Error::Refused(format!(
            "{} is not a {format} report ({format} writes a report of its own even when it \
             finds nothing)",
            shape.describe()
        )))
    }
}

/// The format of a body of `shape`: the one format that writes it and that `hint` (a file
/// name or path) names (a name held in a longer one that the path also names does not count, so
/// `trivy_operator/x.json` is not `trivy`); several named formats are no better than none.
pub(crate) fn detect(shape: EmptyShape, hint: &str) -> Result<&'static Format> {
    let candidates: Vec<&'static Format> = REGISTRY
        .iter()
        .copied()
        .filter(|f| f.empty.allows(shape))
        .collect();
    if let Some(f) = named(&candidates, hint) {
        return Ok(f);
    }
    let names: Vec<&str> = candidates.iter().map(|f| f.name).collect();
    Err(Error::EmptyUndetected {
        shape: shape.describe(),
        formats: names.join(", "),
    })
}

/// The one of `candidates` that `hint` (a file name or path) names, `-` read as `_`.
pub(crate) fn named(candidates: &[&'static Format], hint: &str) -> Option<&'static Format> {
    let hint = hint.to_ascii_lowercase().replace('-', "_");
    let named: Vec<&'static Format> = candidates
        .iter()
        .copied()
        .filter(|f| hint.contains(f.name))
        .collect();
    // a name held in another named one does not count (`trivy` in `trivy_operator`)
    let best: Vec<&'static Format> = named
        .iter()
        .copied()
        .filter(|f| {
            !named
                .iter()
                .any(|g| g.name != f.name && g.name.contains(f.name))
        })
        .collect();
    match best.as_slice() {
        [one] => Some(one),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_three_shapes_and_nothing_else() {
        assert_eq!(EmptyShape::of(b""), Some(EmptyShape::Blank));
        assert_eq!(
            EmptyShape::of(b"\xef\xbb\xbf \n\r\n"),
            Some(EmptyShape::Blank)
        );
        assert_eq!(EmptyShape::of(b" null\n"), Some(EmptyShape::Null));
        assert_eq!(EmptyShape::of(b"[\n  \n]"), Some(EmptyShape::EmptyArray));
        assert_eq!(EmptyShape::of(b"[{}]"), None);
        assert_eq!(EmptyShape::of(b"{}"), None);
        assert_eq!(EmptyShape::of(b"nullx"), None);
        assert_eq!(EmptyShape::of(b"[]x"), None);
    }

    #[test]
    fn the_start_of_a_body_is_known_before_its_end() {
        for head in [
            &b""[..],
            b" \n",
            b"n",
            b"nul",
            b"null",
            b"null \n",
            b"[",
            b"[ \n",
            b"[ ]",
        ] {
            assert!(EmptyShape::may_start(head), "{head:?}");
        }
        for head in [&b"{"[..], b"nulx", b"null{", b"[{", b"[ ] x", b"<"] {
            assert!(!EmptyShape::may_start(head), "{head:?}");
        }
    }

    #[test]
    fn an_empty_body_handed_over_in_pieces_is_still_read_as_one() {
        use std::io::Read;
        // a reader that hands out one byte at a time, as a slow pipe may
        struct Trickle<'a>(&'a [u8]);
        impl Read for Trickle<'_> {
            fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
                let n = self.0.len().min(1).min(buf.len());
                buf[..n].copy_from_slice(&self.0[..n]);
                self.0 = &self.0[n..];
                Ok(n)
            }
        }
        let trivy = crate::by_name("trivy").expect("trivy");
        let mut r = std::io::BufReader::with_capacity(1, Trickle(b" null\n"));
        trivy
            .read(&mut r, &mut |_| Ok(()))
            .expect("null, one byte at a time");
        // and a real report after a piece that looked empty goes whole to the parser
        let doc = br#" {"SchemaVersion": 2, "ArtifactName": "a", "Results": []}"#;
        let mut r = std::io::BufReader::with_capacity(1, Trickle(doc));
        trivy.read(&mut r, &mut |_| Ok(())).expect("the report");
    }
}
