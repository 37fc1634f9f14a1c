//! Reading `ctem.toml` section by section while collecting every error with its line.
//!
//! The document is parsed once into toml's spanned tree. [`Doc::section`] takes a section
//! out of the tree and deserializes it into its `*Config` type. When serde stops at an
//! error, the key the error points at (by its span) is recorded and removed, and the
//! section is read again, so one run finds every bad key of a section, not only the first.
//! What is left in the tree at the end is a section nobody asked for: an unknown section,
//! reported with the closest known name.

use std::ops::Range;

use serde::de::DeserializeOwned;
use toml::Spanned;
use toml::de::{DeTable, DeValue, ValueDeserializer};

use super::error::SettingError;

/// One step of a key path: a table key or an array index.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Seg {
    Key(String),
    Index(usize),
}

/// `risk.weights.kev`, `feeds[1].url`.
pub(crate) fn path_string(base: &str, segs: &[Seg]) -> String {
    let mut out = base.to_string();
    for s in segs {
        match s {
            Seg::Key(k) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(k);
            }
            Seg::Index(i) => out.push_str(&format!("[{i}]")),
        }
    }
    out
}

pub(crate) struct Doc<'i> {
    text: &'i str,
    file: String,
    root: DeTable<'i>,
    /// The paths of the sections read so far, for suggestions.
    sections: Vec<&'static str>,
    pub(crate) errors: Vec<SettingError>,
}

impl<'i> Doc<'i> {
    pub(crate) fn parse(text: &'i str, file: &str) -> Self {
        let (root, syntax) = DeTable::parse_recoverable(text);
        let mut doc = Doc {
            text,
            file: file.to_string(),
            root: root.into_inner(),
            sections: Vec::new(),
            errors: Vec::new(),
        };
        for e in syntax {
            let line = e.span().map(|s| doc.line(s.start));
            doc.push(line, String::new(), e.message().trim().to_string());
        }
        doc
    }

    fn line(&self, offset: usize) -> usize {
        self.text[..offset.min(self.text.len())]
            .bytes()
            .filter(|b| *b == b'\n')
            .count()
            + 1
    }

    fn push(&mut self, line: Option<usize>, key: String, message: String) {
        self.errors.push(SettingError {
            file: self.file.clone(),
            line,
            key,
            message,
        });
    }

    /// Records a validation error of a built value at `key`, with the line of that key.
    pub(crate) fn invalid(&mut self, key: &str, message: String, lines: &DeTable<'_>) {
        let line = span_of_path(lines, key).map(|s| self.line(s.start));
        self.push(line, key.to_string(), message);
    }

    /// Takes the section at the dotted `path` out of the document and reads it as `T`;
    /// `T::default()` when absent. Sub-sections read separately (`risk.sla`) must be read
    /// before their parent.
    pub(crate) fn section<T: DeserializeOwned + Default>(&mut self, path: &'static str) -> T {
        let taken = take(&mut self.root, path);
        self.sections.push(path);
        let Some(mut value) = taken else {
            return T::default();
        };
        let mut removed: Vec<String> = Vec::new();
        // array elements removed so far: (the array's path, the index), to name later
        // elements by their index in the file
        let mut shifts: Vec<(Vec<Seg>, usize)> = Vec::new();
        for _ in 0..256 {
            let err = match T::deserialize(ValueDeserializer::from(value.clone())) {
                Ok(t) => return t,
                Err(e) => e,
            };
            let at = err.span().unwrap_or_else(|| value.span());
            let segs = locate(&value, at.start);
            let key = path_string(path, &in_file(&segs, &shifts));
            let message = err.message().trim().to_string();
            let spurious = missing_field(&message)
                .is_some_and(|f| removed.contains(&path_string(&key, &[Seg::Key(f.into())])));
            if !spurious {
                let line = self.line(at.start);
                let message = self.explain(path, &segs, &message);
                self.push(Some(line), key.clone(), message);
            }
            if segs.is_empty() || !remove(&mut value, &segs) {
                break;
            }
            if let Some((Seg::Index(i), head)) = segs.split_last() {
                shifts.push((head.to_vec(), *i));
            }
            removed.push(key);
        }
        T::default()
    }

    /// Serde's "unknown field `x`, expected one of ..." with the closest known name.
    fn explain(&self, path: &str, segs: &[Seg], message: &str) -> String {
        let Some((what, name, mut expected)) = unknown_name(message) else {
            return message.to_string();
        };
        if segs.len() == 1 {
            // sub-sections read on their own are keys of this section too
            let prefix = format!("{path}.");
            expected.extend(
                self.sections
                    .iter()
                    .filter_map(|s| s.strip_prefix(&prefix))
                    .filter(|s| !s.contains('.'))
                    .map(str::to_string),
            );
        }
        match closest(&name, &expected) {
            Some(s) => format!("unknown {what} `{name}`, did you mean `{s}`?"),
            None if expected.is_empty() => format!("unknown {what} `{name}`"),
            None => format!(
                "unknown {what} `{name}`, expected one of {}",
                expected.join(", ")
            ),
        }
    }

    /// Reports what no section took, and returns every error.
    pub(crate) fn finish(mut self) -> Vec<SettingError> {
        let top: Vec<String> = self
            .sections
            .iter()
            .map(|s| s.split('.').next().unwrap_or(s).to_string())
            .collect();
        let left: Vec<(String, Range<usize>, bool)> = self
            .root
            .iter()
            .map(|(k, v)| {
                let array = matches!(v.get_ref(), DeValue::Array(_));
                (k.get_ref().to_string(), k.span(), array)
            })
            .collect();
        for (name, span, array) in left {
            let line = self.line(span.start);
            let message = match closest(&name, &top) {
                Some(s) if array => format!("unknown section [[{name}]], did you mean [[{s}]]?"),
                Some(s) => format!("unknown section [{name}], did you mean [{s}]?"),
                None => format!(
                    "unknown section [{name}]; the sections are {}",
                    dedup(&top).join(", ")
                ),
            };
            self.push(Some(line), name, message);
        }
        self.errors
    }
}

fn dedup(v: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for s in v {
        if !out.contains(s) {
            out.push(s.clone());
        }
    }
    out
}

/// Removes and returns the value at a dotted path.
fn take<'i>(root: &mut DeTable<'i>, path: &str) -> Option<Spanned<DeValue<'i>>> {
    let mut table = root;
    let mut parts = path.split('.').peekable();
    while let Some(part) = parts.next() {
        if parts.peek().is_none() {
            return table.remove(part);
        }
        match table.get_mut(part).map(|v| v.get_mut()) {
            Some(DeValue::Table(t)) => table = t,
            _ => return None,
        }
    }
    None
}

/// A path in the current tree as it was in the file, before `shifts` removed elements.
fn in_file(segs: &[Seg], shifts: &[(Vec<Seg>, usize)]) -> Vec<Seg> {
    let mut segs = segs.to_vec();
    for (prefix, removed) in shifts.iter().rev() {
        if segs.len() > prefix.len()
            && segs[..prefix.len()] == prefix[..]
            && let Seg::Index(i) = &mut segs[prefix.len()]
            && *i >= *removed
        {
            *i += 1;
        }
    }
    segs
}

/// The deepest key or element whose key or value holds `offset`. Every branch is searched:
/// the span of a table opened by a `[header]` does not cover its keys.
fn locate(value: &Spanned<DeValue<'_>>, offset: usize) -> Vec<Seg> {
    let mut segs = Vec::new();
    find(value, offset, &mut segs);
    segs
}

fn find(value: &Spanned<DeValue<'_>>, offset: usize, segs: &mut Vec<Seg>) -> bool {
    let children: Vec<(Seg, bool, &Spanned<DeValue<'_>>)> = match value.get_ref() {
        DeValue::Table(t) => t
            .iter()
            .map(|(k, v)| {
                (
                    Seg::Key(k.get_ref().to_string()),
                    k.span().contains(&offset),
                    v,
                )
            })
            .collect(),
        DeValue::Array(a) => a
            .iter()
            .enumerate()
            .map(|(i, v)| (Seg::Index(i), false, v))
            .collect(),
        _ => return false,
    };
    for (seg, on_key, v) in children {
        segs.push(seg);
        if on_key || find(v, offset, segs) || v.span().contains(&offset) {
            return true;
        }
        segs.pop();
    }
    false
}

fn remove(value: &mut Spanned<DeValue<'_>>, segs: &[Seg]) -> bool {
    let Some((last, head)) = segs.split_last() else {
        return false;
    };
    let mut cur = value.get_mut();
    for s in head {
        let next = match (cur, s) {
            (DeValue::Table(t), Seg::Key(k)) => t.get_mut(k.as_str()),
            (DeValue::Array(a), Seg::Index(i)) => a.get_mut(*i),
            _ => None,
        };
        match next {
            Some(v) => cur = v.get_mut(),
            None => return false,
        }
    }
    match (cur, last) {
        (DeValue::Table(t), Seg::Key(k)) => t.remove(k.as_str()).is_some(),
        (DeValue::Array(a), Seg::Index(i)) if *i < a.len() => {
            let mut kept = toml::de::DeArray::new();
            for (n, v) in a.iter().enumerate() {
                if n != *i {
                    kept.push(v.clone());
                }
            }
            *a = kept;
            true
        }
        _ => false,
    }
}

/// The span of a key path (`feeds[1].interval`) in a parsed document.
pub(crate) fn span_of_path(root: &DeTable<'_>, path: &str) -> Option<Range<usize>> {
    let mut span = None;
    let mut table = Some(root);
    for part in path.split('.') {
        let (name, index) = match part.split_once('[') {
            Some((n, rest)) => (n, rest.trim_end_matches(']').parse::<usize>().ok()),
            None => (part, None),
        };
        let v = table?.get(name)?;
        span = Some(v.span());
        let mut v = v;
        if let Some(i) = index {
            v = match v.get_ref() {
                DeValue::Array(a) => a.get(i)?,
                _ => return None,
            };
            span = Some(v.span());
        }
        table = match v.get_ref() {
            DeValue::Table(t) => Some(t),
            _ => None,
        };
    }
    span
}

fn missing_field(message: &str) -> Option<&str> {
    let rest = message.strip_prefix("missing field `")?;
    rest.split('`').next()
}

/// `("key" | "value", name, expected names)` of serde's unknown field / variant message.
fn unknown_name(message: &str) -> Option<(&'static str, String, Vec<String>)> {
    let (what, rest) = if let Some(r) = message.strip_prefix("unknown field `") {
        ("key", r)
    } else if let Some(r) = message.strip_prefix("unknown variant `") {
        ("value", r)
    } else {
        return None;
    };
    let (name, tail) = rest.split_once('`')?;
    let expected = tail
        .split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_string)
        .collect();
    Some((what, name.to_string(), expected))
}

/// The known name closest to `name` when it is close enough to be a typo.
pub(crate) fn closest(name: &str, known: &[String]) -> Option<String> {
    let lower = name.to_ascii_lowercase();
    known
        .iter()
        .map(|k| (distance(&lower, &k.to_ascii_lowercase()), k))
        .filter(|(d, k)| *d <= (k.len() / 3).max(2))
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k.clone())
}

/// Levenshtein distance.
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur[j + 1] = sub.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn closest_names_a_typo_and_nothing_for_unrelated_words() {
        let known = vec!["feeds".to_string(), "risk".to_string(), "store".to_string()];
        assert_eq!(closest("feed", &known).as_deref(), Some("feeds"));
        assert_eq!(closest("Risk", &known).as_deref(), Some("risk"));
        assert_eq!(closest("logging", &known), None);
    }

    #[test]
    fn unknown_names_are_read_from_serde_messages() {
        let (what, name, exp) =
            unknown_name("unknown field `intervl`, expected one of `name`, `interval`").unwrap();
        assert_eq!((what, name.as_str()), ("key", "intervl"));
        assert_eq!(exp, vec!["name", "interval"]);
        assert!(unknown_name("invalid type: string").is_none());
    }
}
