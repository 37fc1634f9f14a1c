//! A version ordering good enough to pick "the highest fixed version" across ecosystems.
//!
//! It is dpkg's algorithm (alternating non-digit and digit runs; digits compare as
//! numbers; `~` sorts before anything, even the end of the string; letters sort before
//! other characters) with an optional `epoch:` and two additions for semver and PEP 440
//! style: a leading `v` is ignored, and a pre-release marker (`-rc1`, `.beta2`, `-alpha`,
//! `-pre`, `-dev`, `-preview`, `-snapshot`) after a separator sorts like `~`, before the
//! release. No ecosystem is parsed exactly; none needs to be for choosing an upgrade.

use std::borrow::Cow;
use std::cmp::Ordering;

const PRE_RELEASE: [&str; 7] = ["alpha", "beta", "rc", "pre", "dev", "preview", "snapshot"];

/// Compares two version strings.
///
/// ```
/// use std::cmp::Ordering;
/// use ctem_risk::version::compare;
/// assert_eq!(compare("3.0.13", "3.0.2"), Ordering::Greater);
/// assert_eq!(compare("1.1.1w", "1.1.1k"), Ordering::Greater);
/// assert_eq!(compare("2.0.0-rc1", "2.0.0"), Ordering::Less);
/// assert_eq!(compare("1:1.0", "2.0"), Ordering::Greater);
/// ```
pub fn compare(a: &str, b: &str) -> Ordering {
    if a == b {
        return Ordering::Equal;
    }
    let (ea, ra) = split_epoch(a);
    let (eb, rb) = split_epoch(b);
    ea.cmp(&eb)
        .then_with(|| compare_rest(&normalise(ra), &normalise(rb)))
}

fn split_epoch(v: &str) -> (u64, &str) {
    let v = v.trim();
    match v.split_once(':') {
        Some((e, rest)) if !e.is_empty() && e.bytes().all(|b| b.is_ascii_digit()) => {
            (e.parse().unwrap_or(u64::MAX), rest)
        }
        _ => (0, v),
    }
}

/// Strips a leading `v` and turns pre-release separators into `~`; borrows when there is
/// no letter to look at (the common, all-numeric case).
fn normalise(v: &str) -> Cow<'_, [u8]> {
    let v = v
        .strip_prefix(['v', 'V'])
        .filter(|r| r.starts_with(|c: char| c.is_ascii_digit()))
        .unwrap_or(v);
    let bytes = v.as_bytes();
    if !bytes.iter().any(u8::is_ascii_alphabetic) {
        return Cow::Borrowed(bytes);
    }
    let mut out = Vec::with_capacity(bytes.len());
    for (i, &b) in bytes.iter().enumerate() {
        if matches!(b, b'-' | b'.' | b'_' | b'+') && i > 0 {
            let rest = &v[i + 1..];
            let word_len = rest.bytes().take_while(u8::is_ascii_alphabetic).count();
            let word = &rest[..word_len];
            let after_is_digit_or_end = rest[word_len..]
                .bytes()
                .next()
                .is_none_or(|c| c.is_ascii_digit() || matches!(c, b'.' | b'-'));
            if b != b'+'
                && word_len > 0
                && after_is_digit_or_end
                && PRE_RELEASE.iter().any(|p| p.eq_ignore_ascii_case(word))
            {
                out.push(b'~');
                continue;
            }
        }
        out.push(b);
    }
    Cow::Owned(out)
}

/// dpkg's character order: `~` lowest, then end of string, then letters, then the rest.
fn order(c: Option<u8>) -> i32 {
    match c {
        None => 0,
        Some(b'~') => -1,
        Some(c) if c.is_ascii_alphabetic() => i32::from(c),
        Some(c) => i32::from(c) + 256,
    }
}

fn compare_rest(a: &[u8], b: &[u8]) -> Ordering {
    let (mut i, mut j) = (0, 0);
    while i < a.len() || j < b.len() {
        // Non-digit run.
        while (i < a.len() && !a[i].is_ascii_digit()) || (j < b.len() && !b[j].is_ascii_digit()) {
            let ca = a.get(i).copied().filter(|c| !c.is_ascii_digit());
            let cb = b.get(j).copied().filter(|c| !c.is_ascii_digit());
            let o = order(ca).cmp(&order(cb));
            if o != Ordering::Equal {
                return o;
            }
            if ca.is_some() {
                i += 1;
            }
            if cb.is_some() {
                j += 1;
            }
        }
        // Digit run, compared as a number without overflow: skip zeros, then length.
        while i < a.len() && a[i] == b'0' {
            i += 1;
        }
        while j < b.len() && b[j] == b'0' {
            j += 1;
        }
        let sa = i;
        let sb = j;
        while i < a.len() && a[i].is_ascii_digit() {
            i += 1;
        }
        while j < b.len() && b[j].is_ascii_digit() {
            j += 1;
        }
        let o = (i - sa)
            .cmp(&(j - sb))
            .then_with(|| a[sa..i].cmp(&b[sb..j]));
        if o != Ordering::Equal {
            return o;
        }
    }
    Ordering::Equal
}

#[cfg(test)]
mod tests {
    use super::compare;
    use std::cmp::Ordering::{Equal, Greater, Less};

    #[test]
    fn orders_common_version_shapes() {
        let cases = [
            ("1.0", "1.0", Equal),
            ("1.0.0", "1.0", Greater),
            ("1.10", "1.9", Greater),
            ("3.0.13", "3.0.2", Greater),
            ("1.1.1w", "1.1.1k", Greater),
            ("1.1.1", "1.1.1a", Less),
            ("2.0.0-rc1", "2.0.0", Less),
            ("2.0.0-rc.2", "2.0.0-rc.10", Less),
            ("2.0.0.beta1", "2.0.0", Less),
            ("1.0~rc1", "1.0", Less),
            ("1.2-3", "1.2-10", Less),
            ("1:0.9", "2.0", Greater),
            ("v1.2.3", "1.2.3", Equal),
            ("2.31-13+deb11u5", "2.31-13+deb11u11", Less),
            ("0001.2", "1.2", Equal),
            (
                "99999999999999999999999.1",
                "99999999999999999999998.9",
                Greater,
            ),
            ("1.2.3+build5", "1.2.3", Greater),
            ("", "1", Less),
        ];
        for (a, b, want) in cases {
            assert_eq!(compare(a, b), want, "{a} vs {b}");
            assert_eq!(compare(b, a), want.reverse(), "{b} vs {a}");
        }
    }
}
