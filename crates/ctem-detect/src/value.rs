//! Value matchers: a Sigma value plus its modifiers compiled into something that tests a
//! [`FieldValue`]. Wildcards, escaping, encodings and windash are resolved
//! here, once, into plain string tests or a regex. [`ValueSets`] groups the plain values of
//! one item (many `contains`, `startswith` or `endswith` values, the thousand emoji of a
//! `contains` list) into automata that answer exactly as the values tested one by one.

use std::cell::OnceCell;
use std::net::IpAddr;

use aho_corasick::{AhoCorasick, Anchored, Input, StartKind};
use memchr::memmem::Finder;
use regex::Regex;

use crate::event::FieldValue;

/// A piece of a Sigma string after escape processing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece {
    Lit(String),
    /// `*`: any run of characters.
    Star,
    /// `?`: exactly one character.
    One,
}

/// Splits a Sigma string into literals and wildcards. `\*`, `\?` and `\\` are escapes; any other
/// backslash is a literal backslash (Sigma spec, "Escaping").
pub fn parse_sigma_string(s: &str) -> Vec<Piece> {
    let mut out = Vec::new();
    let mut lit = String::new();
    let mut it = s.chars().peekable();
    while let Some(c) = it.next() {
        match c {
            '\\' => match it.peek() {
                Some(&n @ ('*' | '?' | '\\')) => {
                    lit.push(n);
                    it.next();
                }
                _ => lit.push('\\'),
            },
            '*' | '?' => {
                if !lit.is_empty() {
                    out.push(Piece::Lit(std::mem::take(&mut lit)));
                }
                out.push(if c == '*' { Piece::Star } else { Piece::One });
            }
            c => lit.push(c),
        }
    }
    if !lit.is_empty() {
        out.push(Piece::Lit(lit));
    }
    out
}

/// A compiled string test.
#[derive(Debug, Clone)]
pub enum StrPat {
    Exact(String),
    Prefix(String),
    Suffix(String),
    Contains(String),
    /// `*` alone: any string.
    Any,
    /// Literals joined by `*` (no `?`), at least two: each found after the one before, the
    /// first at the start unless the pattern starts with `*`, the last at the end unless it
    /// ends with one. Earliest placement decides, as for any glob of stars: a regex run
    /// cost about ten times more (`' -e* JAB'` and its kin in `CommandLine` lists).
    Wild {
        parts: Vec<String>,
        lead: bool,
        trail: bool,
    },
    Regex(Regex),
}

/// A string test with its case handling. Case-insensitive patterns are stored lower case and
/// compared with the lower-cased value.
#[derive(Debug, Clone)]
pub struct StrMatch {
    pub pat: StrPat,
    pub cased: bool,
    /// For a regex: literals one of which every match contains (the longest piece of a
    /// wildcard pattern, the prefixes or suffixes of a `|re` pattern); empty when unknown.
    /// Used by the rule prefilter.
    pub required: Vec<String>,
}

/// The text of a value, lower-cased lazily at most once per value (and, through
/// `Lowered`, at most once per rule evaluation).
pub struct Text<'t> {
    raw: &'t str,
    ascii: OnceCell<bool>,
    lower: OnceCell<String>,
    /// Only ASCII letters lower-cased; kept apart from `lower` only for non-ASCII text.
    folded: OnceCell<String>,
}

/// The lower-cased copy of a text, handed from one item of a rule to the next.
#[derive(Debug)]
pub(crate) struct Lowered {
    raw_len: usize,
    ascii: bool,
    text: String,
}

impl<'t> Text<'t> {
    pub fn new(raw: &'t str) -> Self {
        Text {
            raw,
            ascii: OnceCell::new(),
            lower: OnceCell::new(),
            folded: OnceCell::new(),
        }
    }
    /// A text whose lower-cased copy may already be known (from another item on the same
    /// value); a copy of a different length is ignored.
    pub(crate) fn reusing(raw: &'t str, kept: Option<Lowered>) -> Self {
        let t = Text::new(raw);
        if let Some(k) = kept.filter(|k| k.raw_len == raw.len()) {
            let _ = t.ascii.set(k.ascii);
            let _ = t.lower.set(k.text);
        }
        t
    }
    /// Gives the lower-cased copy back for the next item, when it was made.
    pub(crate) fn into_lowered(self) -> Option<Lowered> {
        let raw_len = self.raw.len();
        let ascii = self.ascii.into_inner()?;
        let text = self.lower.into_inner()?;
        Some(Lowered {
            raw_len,
            ascii,
            text,
        })
    }
    pub fn raw(&self) -> &'t str {
        self.raw
    }
    pub fn is_ascii(&self) -> bool {
        *self.ascii.get_or_init(|| self.raw.is_ascii())
    }
    /// Unicode lower case ([`lowercase`]).
    pub fn lower(&self) -> &str {
        self.lower.get_or_init(|| {
            if self.is_ascii() {
                self.raw.to_ascii_lowercase()
            } else {
                self.raw.to_lowercase()
            }
        })
    }
    /// ASCII letters lower-cased, other characters kept: searching it for a lower-case ASCII
    /// literal is an ASCII case-insensitive search of the raw text.
    pub fn folded(&self) -> &str {
        if self.is_ascii() {
            self.lower()
        } else {
            self.folded.get_or_init(|| self.raw.to_ascii_lowercase())
        }
    }
}

/// Lower-cases with an ASCII fast path.
pub fn lowercase(s: &str) -> String {
    if s.is_ascii() {
        s.to_ascii_lowercase()
    } else {
        s.to_lowercase()
    }
}

impl StrMatch {
    /// Builds the test for pieces, wrapping `*` as the match type asks.
    pub fn from_pieces(
        mut pieces: Vec<Piece>,
        lead: bool,
        trail: bool,
        cased: bool,
    ) -> Result<Self, String> {
        if lead && pieces.first() != Some(&Piece::Star) {
            pieces.insert(0, Piece::Star);
        }
        if trail && pieces.last() != Some(&Piece::Star) {
            pieces.push(Piece::Star);
        }
        let norm = |s: &str| if cased { s.to_string() } else { lowercase(s) };
        let mut required = Vec::new();
        let pat = match pieces.as_slice() {
            [] => StrPat::Exact(String::new()),
            [Piece::Star] => StrPat::Any,
            [Piece::Lit(a)] => StrPat::Exact(norm(a)),
            [Piece::Lit(a), Piece::Star] => StrPat::Prefix(norm(a)),
            [Piece::Star, Piece::Lit(a)] => StrPat::Suffix(norm(a)),
            [Piece::Star, Piece::Lit(a), Piece::Star] => StrPat::Contains(norm(a)),
            _ if !pieces.contains(&Piece::One) => {
                let parts: Vec<String> = pieces
                    .iter()
                    .filter_map(|p| match p {
                        Piece::Lit(s) => Some(norm(s)),
                        _ => None,
                    })
                    .collect();
                required = parts
                    .iter()
                    .max_by_key(|p| p.len())
                    .cloned()
                    .into_iter()
                    .collect();
                StrPat::Wild {
                    lead: pieces.first() == Some(&Piece::Star),
                    trail: pieces.last() == Some(&Piece::Star),
                    parts,
                }
            }
            _ => {
                required = pieces
                    .iter()
                    .filter_map(|p| match p {
                        Piece::Lit(s) => Some(s),
                        _ => None,
                    })
                    .max_by_key(|s| s.len())
                    .map(|s| norm(s))
                    .into_iter()
                    .collect();
                let mut re = String::from(if cased { "(?s)^" } else { "(?si)^" });
                for p in &pieces {
                    match p {
                        Piece::Lit(s) => re.push_str(&regex::escape(s)),
                        Piece::Star => re.push_str(".*"),
                        Piece::One => re.push('.'),
                    }
                }
                re.push('$');
                StrPat::Regex(Regex::new(&re).map_err(|e| e.to_string())?)
            }
        };
        Ok(StrMatch {
            pat,
            cased,
            required,
        })
    }

    /// Tests one value's text. ASCII patterns compare case-insensitively in place; only
    /// non-ASCII patterns need the lower-cased value.
    pub fn is_match(&self, t: &Text<'_>) -> bool {
        if !self.cased
            && let Some(r) = self.ascii_match(t.raw().as_bytes())
        {
            return r;
        }
        let s = if self.cased { t.raw() } else { t.lower() };
        match &self.pat {
            StrPat::Any => true,
            StrPat::Exact(p) => s == p,
            StrPat::Prefix(p) => s.starts_with(p.as_str()),
            StrPat::Suffix(p) => s.ends_with(p.as_str()),
            StrPat::Contains(p) => memchr::memmem::find(s.as_bytes(), p.as_bytes()).is_some(),
            StrPat::Wild { parts, lead, trail } => wild_match(s, parts, *lead, *trail),
            StrPat::Regex(r) => r.is_match(t.raw()),
        }
    }

    fn ascii_match(&self, h: &[u8]) -> Option<bool> {
        let p = match &self.pat {
            StrPat::Exact(p) | StrPat::Prefix(p) | StrPat::Suffix(p) if p.is_ascii() => {
                p.as_bytes()
            }
            _ => return None,
        };
        if h.len() < p.len() {
            return Some(false);
        }
        Some(match &self.pat {
            StrPat::Exact(_) => h.len() == p.len() && h.eq_ignore_ascii_case(p),
            StrPat::Prefix(_) => h[..p.len()].eq_ignore_ascii_case(p),
            _ => h[h.len() - p.len()..].eq_ignore_ascii_case(p),
        })
    }
}

/// Whether `s` holds `parts` in order, the first at its start unless `lead`, the last at its
/// end unless `trail` (see [`StrPat::Wild`]).
fn wild_match(s: &str, parts: &[String], lead: bool, trail: bool) -> bool {
    let b = s.as_bytes();
    let mut at = 0;
    for (i, p) in parts.iter().enumerate() {
        let p = p.as_bytes();
        if i == 0 && !lead {
            if !b.starts_with(p) {
                return false;
            }
            at = p.len();
        } else if i + 1 == parts.len() && !trail {
            // the last part at the end, after the earliest placement of the others
            return b.len() >= at + p.len() && b.ends_with(p);
        } else {
            match memchr::memmem::find(&b[at..], p) {
                Some(k) => at += k + p.len(),
                None => return false,
            }
        }
    }
    true
}

/// Fewest `startswith`, `endswith` or non-ASCII `contains` values of one item worth an
/// automaton; below it each value is tested alone.
const MIN_SET: usize = 4;

/// The plain case-insensitive values of one item tested together instead of one by one. Each
/// set answers exactly as the per-value tests it replaces: ASCII `contains` values are
/// searched in the ASCII-folded text (an ASCII case-insensitive search of the raw text),
/// non-ASCII ones in the lower-cased text, `startswith` and `endswith` values compare with
/// the raw text ignoring ASCII case.
#[derive(Debug, Clone, Default)]
pub struct ValueSets {
    /// Matcher index -> answered by the sets.
    covered: Vec<bool>,
    /// The indexes of the other matchers (an `endswith` list of 400 values may leave none).
    rest: Vec<usize>,
    /// `|all` items: matcher index -> the finder of its ASCII `contains` value (tested in
    /// order, the first miss stops: cheaper than marking every value in one pass).
    finders: Vec<Option<Finder<'static>>>,
    /// Other items: every ASCII `contains` value.
    contains: Option<Literals>,
    /// Non-ASCII `contains` values (emoji lists); only non-ASCII text can hold them.
    wide: Option<AhoCorasick>,
    /// ASCII `startswith` values, anchored at the start.
    prefix: Option<AhoCorasick>,
    /// ASCII `endswith` values reversed, anchored at the start of the reversed text; with the
    /// longest value's length (the part of the text read).
    suffix: Option<(AhoCorasick, usize)>,
}

#[derive(Debug, Clone)]
enum Literals {
    One(Box<Finder<'static>>),
    Many(AhoCorasick),
}

impl ValueSets {
    /// The sets of an item's matchers, `None` when no value is covered.
    pub fn build(matchers: &[ValueMatcher], all: bool) -> Option<Self> {
        let mut kinds: [Vec<(usize, &str)>; 4] = Default::default();
        for (i, m) in matchers.iter().enumerate() {
            let ValueMatcher::Str(StrMatch {
                pat, cased: false, ..
            }) = m
            else {
                continue;
            };
            let (k, p) = match pat {
                StrPat::Contains(p) if p.is_ascii() => (0, p),
                StrPat::Contains(p) => (1, p),
                StrPat::Prefix(p) if p.is_ascii() => (2, p),
                StrPat::Suffix(p) if p.is_ascii() => (3, p),
                _ => continue,
            };
            if !p.is_empty() {
                kinds[k].push((i, p.as_str()));
            }
        }
        let [ascii, wide, prefix, suffix] = kinds;
        let mut s = ValueSets {
            covered: vec![false; matchers.len()],
            ..ValueSets::default()
        };
        if all {
            s.finders = vec![None; matchers.len()];
            for &(i, p) in &ascii {
                s.finders[i] = Some(Finder::new(p).into_owned());
            }
            s.cover(&ascii);
        } else {
            s.contains = match ascii.as_slice() {
                [] => None,
                [(_, p)] => Some(Literals::One(Box::new(Finder::new(p).into_owned()))),
                many => {
                    automaton(many.iter().map(|(_, p)| p.as_bytes()), false).map(Literals::Many)
                }
            };
            if s.contains.is_some() {
                s.cover(&ascii);
            }
            if wide.len() >= MIN_SET {
                s.wide = automaton(wide.iter().map(|(_, p)| p.as_bytes()), false);
                if s.wide.is_some() {
                    s.cover(&wide);
                }
            }
            if prefix.len() >= MIN_SET {
                s.prefix = automaton(prefix.iter().map(|(_, p)| p.as_bytes()), true);
                if s.prefix.is_some() {
                    s.cover(&prefix);
                }
            }
            if suffix.len() >= MIN_SET {
                let rev: Vec<Vec<u8>> = suffix
                    .iter()
                    .map(|(_, p)| p.bytes().rev().collect())
                    .collect();
                let longest = rev.iter().map(Vec::len).max().unwrap_or(0);
                s.suffix = automaton(rev.iter().map(Vec::as_slice), true).map(|a| (a, longest));
                if s.suffix.is_some() {
                    s.cover(&suffix);
                }
            }
        }
        s.rest = (0..matchers.len()).filter(|&i| !s.covered[i]).collect();
        (s.rest.len() < matchers.len()).then_some(s)
    }

    fn cover(&mut self, values: &[(usize, &str)]) {
        for &(i, _) in values {
            self.covered[i] = true;
        }
    }

    /// Whether matcher `i` is answered by the sets.
    pub fn covers(&self, i: usize) -> bool {
        self.covered.get(i).copied().unwrap_or(false)
    }

    /// The indexes of the matchers the sets do not answer.
    pub fn rest(&self) -> &[usize] {
        &self.rest
    }

    /// `|all` items: whether the covered value `i` is in the text.
    pub fn contains_value(&self, i: usize, t: &Text<'_>) -> bool {
        self.finders
            .get(i)
            .and_then(Option::as_ref)
            .is_some_and(|f| f.find(t.folded().as_bytes()).is_some())
    }

    /// Other items: whether any covered value matches the text.
    pub fn any_match(&self, t: &Text<'_>) -> bool {
        let raw = t.raw().as_bytes();
        if let Some(ac) = &self.prefix
            && ac.is_match(Input::new(raw).anchored(Anchored::Yes))
        {
            return true;
        }
        if let Some((ac, longest)) = &self.suffix
            && suffix_match(ac, *longest, raw)
        {
            return true;
        }
        let hit = match &self.contains {
            Some(Literals::One(f)) => f.find(t.folded().as_bytes()).is_some(),
            Some(Literals::Many(ac)) => ac.is_match(t.folded()),
            None => false,
        };
        hit || self
            .wide
            .as_ref()
            .is_some_and(|ac| !t.is_ascii() && ac.is_match(t.lower()))
    }
}

/// One automaton over byte literals: case-sensitive and unanchored, or ASCII
/// case-insensitive and anchored at the start of the haystack.
fn automaton<'p>(pats: impl Iterator<Item = &'p [u8]>, anchored: bool) -> Option<AhoCorasick> {
    let mut b = AhoCorasick::builder();
    if anchored {
        b.ascii_case_insensitive(true)
            .start_kind(StartKind::Anchored);
    }
    b.build(pats).ok()
}

/// Whether one of the reversed literals starts the reversed text: the text ends with it.
fn suffix_match(ac: &AhoCorasick, longest: usize, raw: &[u8]) -> bool {
    let tail = &raw[raw.len().saturating_sub(longest)..];
    let mut stack = [0u8; 128];
    let mut heap = Vec::new();
    let rev = if tail.len() <= stack.len() {
        &mut stack[..tail.len()]
    } else {
        heap.resize(tail.len(), 0);
        &mut heap[..]
    };
    for (d, s) in rev.iter_mut().zip(tail.iter().rev()) {
        *d = *s;
    }
    ac.is_match(Input::new(&*rev).anchored(Anchored::Yes))
}

/// Literals one of which every match of a regex contains, as the prefilter sees text
/// (lower-cased, long s folded to `s`): the most selective of its prefix literals, its suffix
/// literals (regex-syntax's extractor) and a run of literal pieces inside it
/// (`inner_required`): `(?i)\.exe["']?\s+[^"]{0,64}werfaultsecure\.exe` needs
/// `werfaultsecure.exe`, where its prefix `.exe` lies in every command line. Empty when none
/// is known.
pub fn regex_required(
    pattern: &str,
    case_insensitive: bool,
    multi_line: bool,
    dot_all: bool,
) -> Vec<String> {
    use regex_syntax::hir::literal::{ExtractKind, Extractor};
    let Ok(hir) = regex_syntax::ParserBuilder::new()
        .case_insensitive(case_insensitive)
        .multi_line(multi_line)
        .dot_matches_new_line(dot_all)
        .build()
        .parse(pattern)
    else {
        return Vec::new();
    };
    let mut best: Option<Vec<String>> = inner_required(&hir);
    for kind in [ExtractKind::Prefix, ExtractKind::Suffix] {
        let mut ex = Extractor::new();
        ex.kind(kind).limit_total(256);
        let seq = ex.extract(&hir);
        let Some(lits) = seq.literals() else { continue };
        // every literal, or the set says nothing
        let Some(out) = lits
            .iter()
            .map(|l| std::str::from_utf8(l.as_bytes()).ok().map(fold))
            .collect::<Option<Vec<String>>>()
        else {
            continue;
        };
        best = better(best, bounded(out, usize::MAX).unwrap_or_default());
    }
    best.unwrap_or_default()
}

/// Most literal sets kept while combining the pieces of a regex.
const MAX_REQUIRED: usize = 16;

/// Text as the prefilter compares it: lower-cased, long s as `s` (regexes fold case simply:
/// long s is `s`, and the Kelvin sign lower-cases to `k` already).
pub(crate) fn fold(s: &str) -> String {
    lowercase(s).replace('\u{17f}', "s")
}

/// `set` sorted without repeats, when it holds at most `max` strings.
fn bounded(mut set: Vec<String>, max: usize) -> Option<Vec<String>> {
    set.sort_unstable();
    set.dedup();
    (set.len() <= max).then_some(set)
}

/// The more selective of two required sets: the longer shortest literal, then fewer.
fn better(a: Option<Vec<String>>, b: Vec<String>) -> Option<Vec<String>> {
    let score = |v: &[String]| {
        (
            v.iter().map(|l| l.chars().count()).min().unwrap_or(0),
            usize::MAX - v.len(),
        )
    };
    match a {
        Some(a) if score(&a) >= score(&b) => Some(a),
        _ if b.iter().all(|l| !l.is_empty()) && !b.is_empty() => Some(b),
        a => a,
    }
}

/// The folded strings `h` matches, when they are few (a literal, a case-insensitive letter,
/// a short alternation or concatenation of those).
fn exact(h: &regex_syntax::hir::Hir) -> Option<Vec<String>> {
    use regex_syntax::hir::{Class, HirKind};
    match h.kind() {
        HirKind::Empty | HirKind::Look(_) => Some(vec![String::new()]),
        HirKind::Literal(l) => Some(vec![fold(std::str::from_utf8(&l.0).ok()?)]),
        // a case-insensitive letter is a class of its cases, which fold to one string
        HirKind::Class(Class::Unicode(c)) => {
            let mut out = Vec::new();
            for r in c.ranges() {
                if r.end() as u32 - r.start() as u32 >= 8 {
                    return None;
                }
                out.extend((r.start()..=r.end()).map(|ch| fold(ch.encode_utf8(&mut [0; 4]))));
            }
            bounded(out, 4)
        }
        HirKind::Class(Class::Bytes(c)) => {
            let mut out = Vec::new();
            for r in c.ranges() {
                if r.end() - r.start() >= 8 {
                    return None;
                }
                for b in r.start()..=r.end() {
                    out.push(fold(std::str::from_utf8(&[b]).ok()?));
                }
            }
            bounded(out, 4)
        }
        HirKind::Capture(c) => exact(&c.sub),
        HirKind::Repetition(r) if r.min == 1 && r.max == Some(1) => exact(&r.sub),
        HirKind::Concat(hs) => {
            let mut acc = vec![String::new()];
            for h in hs {
                acc = cross(&acc, &exact(h)?)?;
            }
            Some(acc)
        }
        HirKind::Alternation(hs) => {
            let mut out = Vec::new();
            for h in hs {
                out.extend(exact(h)?);
            }
            bounded(out, MAX_REQUIRED)
        }
        _ => None,
    }
}

/// Every concatenation of a string of `a` with one of `b`, when there are few.
fn cross(a: &[String], b: &[String]) -> Option<Vec<String>> {
    if a.len() * b.len() > MAX_REQUIRED {
        return None;
    }
    bounded(
        a.iter()
            .flat_map(|x| b.iter().map(move |y| format!("{x}{y}")))
            .collect(),
        MAX_REQUIRED,
    )
}

/// The most selective set of literals one of which every match of `h` contains, found
/// anywhere in it: runs of consecutive exact pieces of a concatenation, what a repetition of
/// at least one requires, what every branch of an alternation requires.
fn inner_required(h: &regex_syntax::hir::Hir) -> Option<Vec<String>> {
    use regex_syntax::hir::HirKind;
    if let Some(e) = exact(h)
        && e.iter().all(|l| !l.is_empty())
    {
        return Some(e);
    }
    match h.kind() {
        HirKind::Capture(c) => inner_required(&c.sub),
        HirKind::Repetition(r) if r.min >= 1 => inner_required(&r.sub),
        HirKind::Alternation(hs) => {
            let mut out = Vec::new();
            for h in hs {
                out.extend(inner_required(h)?);
            }
            bounded(out, MAX_REQUIRED)
        }
        HirKind::Concat(hs) => {
            let mut best: Option<Vec<String>> = None;
            let mut run = vec![String::new()];
            for h in hs {
                match exact(h).and_then(|e| cross(&run, &e)) {
                    Some(r) => run = r,
                    None => {
                        best = better(best, std::mem::replace(&mut run, vec![String::new()]));
                        if let Some(e) = exact(h) {
                            run = e;
                        } else if let Some(inner) = inner_required(h) {
                            best = better(best, inner);
                        }
                    }
                }
            }
            better(best, run)
        }
        _ => None,
    }
}

/// Numeric comparison of `lt`, `lte`, `gt`, `gte`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cmp {
    Lt,
    Lte,
    Gt,
    Gte,
}

/// A date part of the time modifiers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimePart {
    Minute,
    Hour,
    Day,
    Week,
    Month,
    Year,
}

/// How a field reference compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefKind {
    Equal,
    Contains,
    StartsWith,
    EndsWith,
}

/// One compiled value test.
#[derive(Debug, Clone)]
pub enum ValueMatcher {
    Str(StrMatch),
    /// `field: null`: absent or null.
    Null,
    Num(Cmp, f64),
    /// `field|exists: bool`.
    Exists(bool),
    Cidr(IpAddr, u8),
    FieldRef {
        other: String,
        kind: RefKind,
        cased: bool,
    },
    Time(TimePart, i64),
}

impl ValueMatcher {
    /// Tests a present scalar (lists are handled by the caller).
    pub fn test_scalar(&self, v: &FieldValue<'_>, other: Option<&FieldValue<'_>>) -> bool {
        match self {
            ValueMatcher::Str(m) => v.as_text().is_some_and(|t| m.is_match(&Text::new(&t))),
            ValueMatcher::Null => matches!(v, FieldValue::Null),
            ValueMatcher::Exists(want) => *want,
            ValueMatcher::Num(cmp, n) => v.as_number().is_some_and(|x| match cmp {
                Cmp::Lt => x < *n,
                Cmp::Lte => x <= *n,
                Cmp::Gt => x > *n,
                Cmp::Gte => x >= *n,
            }),
            ValueMatcher::Cidr(net, bits) => v
                .as_text()
                .and_then(|t| t.trim().parse::<IpAddr>().ok())
                .is_some_and(|ip| in_cidr(ip, *net, *bits)),
            ValueMatcher::FieldRef { kind, cased, .. } => {
                let (Some(a), Some(b)) = (v.as_text(), other.and_then(|o| o.as_text())) else {
                    return false;
                };
                let (a, b) = if *cased {
                    (a.into_owned(), b.into_owned())
                } else {
                    (lowercase(&a), lowercase(&b))
                };
                match kind {
                    RefKind::Equal => a == b,
                    RefKind::Contains => a.contains(&b),
                    RefKind::StartsWith => a.starts_with(&b),
                    RefKind::EndsWith => a.ends_with(&b),
                }
            }
            ValueMatcher::Time(part, want) => {
                v.as_text().and_then(|t| time_part(&t, *part)) == Some(*want)
            }
        }
    }
}

/// Parses `a.b.c.d/n` or an IPv6 network.
pub fn parse_cidr(s: &str) -> Option<(IpAddr, u8)> {
    let (ip, bits) = match s.split_once('/') {
        Some((a, b)) => (
            a.trim().parse::<IpAddr>().ok()?,
            b.trim().parse::<u8>().ok()?,
        ),
        None => {
            let ip = s.trim().parse::<IpAddr>().ok()?;
            (ip, if ip.is_ipv4() { 32 } else { 128 })
        }
    };
    let max = if ip.is_ipv4() { 32 } else { 128 };
    (bits <= max).then_some((ip, bits))
}

fn in_cidr(ip: IpAddr, net: IpAddr, bits: u8) -> bool {
    match (ip, net) {
        (IpAddr::V4(a), IpAddr::V4(n)) => {
            let mask = if bits == 0 {
                0
            } else {
                u32::MAX << (32 - u32::from(bits))
            };
            (u32::from(a) & mask) == (u32::from(n) & mask)
        }
        (IpAddr::V6(a), IpAddr::V6(n)) => {
            let mask = if bits == 0 {
                0
            } else {
                u128::MAX << (128 - u32::from(bits))
            };
            (u128::from(a) & mask) == (u128::from(n) & mask)
        }
        _ => false,
    }
}

/// Extracts a date part from a timestamp string (RFC 3339 or `YYYY-MM-DD HH:MM:SS[.f]`).
pub fn time_part(s: &str, part: TimePart) -> Option<i64> {
    use chrono::{Datelike, NaiveDateTime, Timelike};
    let s = s.trim();
    let dt = chrono::DateTime::parse_from_rfc3339(s)
        .map(|d| d.naive_utc())
        .ok()
        .or_else(|| NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S%.f").ok())
        .or_else(|| NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f").ok())?;
    Some(match part {
        TimePart::Minute => i64::from(dt.minute()),
        TimePart::Hour => i64::from(dt.hour()),
        TimePart::Day => i64::from(dt.day()),
        TimePart::Week => i64::from(dt.iso_week().week()),
        TimePart::Month => i64::from(dt.month()),
        TimePart::Year => i64::from(dt.year()),
    })
}

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Standard base64 with padding.
pub fn base64(data: &[u8]) -> String {
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(B64[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// The three shifted base64 forms of `data` that appear inside any longer encoded string.
pub fn base64_offsets(data: &[u8]) -> Vec<String> {
    const START: [usize; 3] = [0, 2, 3];
    const END: [usize; 3] = [0, 3, 2];
    (0..3)
        .filter_map(|i| {
            let mut buf = vec![b' '; i];
            buf.extend_from_slice(data);
            let enc = base64(&buf);
            let end = enc.len().checked_sub(END[(data.len() + i) % 3])?;
            enc.get(START[i]..end).map(str::to_string)
        })
        .filter(|s| !s.is_empty())
        .collect()
}

/// UTF-16 encodings of the `utf16le` / `utf16be` / `utf16` modifiers.
pub fn utf16(s: &str, big_endian: bool, bom: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len() * 2 + 2);
    if bom {
        out.extend_from_slice(&[0xFF, 0xFE]);
    }
    for u in s.encode_utf16() {
        let b = if big_endian {
            u.to_be_bytes()
        } else {
            u.to_le_bytes()
        };
        out.extend_from_slice(&b);
    }
    out
}

/// The `windash` variants: every dash or slash that starts a word (`\B[-/]\b`) is replaced by
/// each of `-`, `/`, en dash, em dash and horizontal bar, in all combinations (capped at 625).
pub fn windash_variants(pieces: &[Piece]) -> Vec<Vec<Piece>> {
    const DASHES: [char; 5] = ['-', '/', '\u{2013}', '\u{2014}', '\u{2015}'];
    let is_word = |c: char| c.is_alphanumeric() || c == '_';
    // split literals into chars and remember which positions are eligible
    let mut chars: Vec<Vec<char>> = Vec::new();
    let mut spots: Vec<(usize, usize)> = Vec::new();
    let mut prev: Option<char> = None;
    for (pi, p) in pieces.iter().enumerate() {
        let cs: Vec<char> = match p {
            Piece::Lit(s) => s.chars().collect(),
            _ => Vec::new(),
        };
        for (ci, &c) in cs.iter().enumerate() {
            let before_ok = !prev.is_some_and(is_word);
            let after_ok = cs.get(ci + 1).is_some_and(|&n| is_word(n));
            if (c == '-' || c == '/') && before_ok && after_ok {
                spots.push((pi, ci));
            }
            prev = Some(c);
        }
        if !matches!(p, Piece::Lit(_)) {
            prev = Some('*');
        }
        chars.push(cs);
    }
    if spots.is_empty() {
        return vec![pieces.to_vec()];
    }
    let spots = &spots[..spots.len().min(4)];
    let total = DASHES.len().pow(spots.len() as u32);
    let mut out = Vec::with_capacity(total);
    for combo in 0..total {
        let mut cs = chars.clone();
        let mut k = combo;
        for &(pi, ci) in spots {
            cs[pi][ci] = DASHES[k % DASHES.len()];
            k /= DASHES.len();
        }
        out.push(
            pieces
                .iter()
                .zip(cs)
                .map(|(p, c)| match p {
                    Piece::Lit(_) => Piece::Lit(c.into_iter().collect()),
                    other => other.clone(),
                })
                .collect(),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Globs of stars match as the regex they stand for, on texts built from their own parts
    /// (overlapping parts, a part at both ends, repeated parts, non-ASCII).
    #[test]
    fn wild_globs_match_as_their_regex() {
        let globs = [
            "* -e* jab*",
            "ab*ba",
            "*ab*ab",
            "a*a*a",
            "cmd*/c*del *",
            "\u{e9}t\u{e9}*x*",
            "*x*\u{e9}",
        ];
        let alphabet = [
            "a", "b", "ab", "ba", " -e", " jab", "x", "\u{e9}", "t", "cmd", "/c", "del ",
        ];
        let mut state = 7u64;
        let mut next = || {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (state >> 33) as usize
        };
        let mut agreed = (0, 0);
        for g in globs {
            let m =
                StrMatch::from_pieces(parse_sigma_string(g), false, false, false).expect("glob");
            assert!(matches!(m.pat, StrPat::Wild { .. }), "{g}: {:?}", m.pat);
            let re = regex::Regex::new(&format!(
                "(?s)^{}$",
                g.split('*')
                    .map(regex::escape)
                    .collect::<Vec<_>>()
                    .join(".*")
            ))
            .expect("regex");
            for _ in 0..400 {
                let n = next() % 7;
                let text: String = (0..n).map(|_| alphabet[next() % alphabet.len()]).collect();
                let want = re.is_match(&text);
                assert_eq!(m.is_match(&Text::new(&text)), want, "{g} on {text:?}");
                if want { agreed.0 += 1 } else { agreed.1 += 1 }
            }
        }
        assert!(agreed.0 > 50 && agreed.1 > 50, "{agreed:?}");
    }

    /// A regex's required literals: the rare inner run, not the prefix every command line
    /// has; case-insensitive letters folded as the prefilter folds text; optional and
    /// repeated-zero pieces never required.
    #[test]
    fn regex_required_prefers_a_selective_inner_run() {
        let req = |p: &str, i: bool| regex_required(p, i, false, false);
        assert_eq!(
            req(
                r#"(?i)\.exe["']?\s+[^"]{0,64}werfaultsecure\.exe["']?\s+\d{2,10}"#,
                false
            ),
            ["werfaultsecure.exe"]
        );
        assert_eq!(req("(foo|bar)baz\\d+", false), ["barbaz", "foobaz"]);
        assert_eq!(req("a?bcd", false), ["bcd"]);
        assert_eq!(req("(abc)?defg", false), ["defg"]);
        // the prefix extractor sees through the repetition
        assert_eq!(req("x(?:ab)+y", false), ["xab"]);
        let r = req("[0-9]+(?:ab)+[0-9]", false);
        assert!(!r.is_empty() && r.iter().all(|l| l.contains("ab")), "{r:?}");
        assert_eq!(req("KelvinS", true), ["kelvins"]);
        assert!(req("x*", false).is_empty());
        assert!(req("[a-z]+", false).is_empty());
        assert!(req("(abc|)d", false).iter().all(|l| !l.is_empty()));
    }

    /// Whenever a regex matches a text, the folded text holds one of its required literals
    /// (the prefilter may only skip rules that cannot match).
    #[test]
    fn regex_required_literals_are_necessary() {
        let patterns = [
            r#"(?i)\.exe["']?\s+[^"]{0,64}werfaultsecure\.exe"#,
            "(?i)(invoke|iex)-?(expression|command)",
            "(?i)k[e3]rnel",
            "(?i)ſystem32",
            "(ab|cd)+ef(gh)?",
            "^c:\\\\windows\\\\(system32|syswow64)\\\\[a-z]+\\.exe$",
            "(?i)\\bmimi(katz|lib)\\b",
        ];
        let texts = [
            "C:\\x.EXE  werfaultsecure.exe 123",
            "powershell IEX-Command foo",
            "Invoke-Expression",
            "\u{212a}ERNEL32",
            "k3rnel",
            "\u{17f}YSTEM32",
            "SYSTEM32",
            "ababcdef",
            "cdefgh",
            "c:\\windows\\system32\\cmd.exe",
            "run MimiKatz now",
            "mimilib",
            "nothing here",
        ];
        let mut matched = 0;
        for p in patterns {
            let req = regex_required(p, false, false, false);
            assert!(!req.is_empty(), "{p}");
            let re = regex::Regex::new(p).expect("regex");
            for t in texts {
                if re.is_match(t) {
                    matched += 1;
                    let folded = fold(t);
                    assert!(
                        req.iter().any(|l| folded.contains(l.as_str())),
                        "{p} matches {t:?} but none of {req:?} lies in {folded:?}"
                    );
                }
            }
        }
        assert!(matched >= 10, "{matched}");
    }

    fn m(s: &str, lead: bool, trail: bool, cased: bool) -> StrMatch {
        StrMatch::from_pieces(parse_sigma_string(s), lead, trail, cased).expect("compiles")
    }
    fn t(m: &StrMatch, s: &str) -> bool {
        m.is_match(&Text::new(s))
    }

    #[test]
    fn escaping_follows_spec() {
        assert_eq!(parse_sigma_string(r"a\*b"), vec![Piece::Lit("a*b".into())]);
        assert_eq!(
            parse_sigma_string(r"C:\Windows\"),
            vec![Piece::Lit(r"C:\Windows\".into())]
        );
        assert_eq!(
            parse_sigma_string(r"a\\*"),
            vec![Piece::Lit(r"a\".into()), Piece::Star]
        );
        assert_eq!(
            parse_sigma_string("a?"),
            vec![Piece::Lit("a".into()), Piece::One]
        );
    }

    #[test]
    fn wildcards_and_case() {
        let e = m("cmd.exe", false, false, false);
        assert!(t(&e, "CMD.EXE") && !t(&e, "xcmd.exe"));
        let g = m("c*d?.exe", false, false, false);
        assert!(t(&g, "CxxdZ.EXE") && !t(&g, "cd.exe"));
        let c = m("Cmd", true, true, true);
        assert!(t(&c, "aCmdb") && !t(&c, "acmdb"));
        let lit = m(r"a\*b", false, false, false);
        assert!(t(&lit, "a*b") && !t(&lit, "axxb"));
        assert!(t(&m("*", false, false, false), "anything"));
        assert!(t(&m("", false, false, false), "") && !t(&m("", false, false, false), "x"));
    }

    #[test]
    fn base64_forms() {
        assert_eq!(base64(b"cmd"), "Y21k");
        assert_eq!(base64(b"ab"), "YWI=");
        let offs = base64_offsets(b"/c powershell");
        for pre in ["", "x", "xy"] {
            let enc = base64(format!("{pre}/c powershell and more").as_bytes());
            assert!(
                offs.iter().any(|o| enc.contains(o.as_str())),
                "{pre:?} {enc} {offs:?}"
            );
        }
    }

    #[test]
    fn utf16_forms() {
        assert_eq!(utf16("cmd", false, false), b"c\0m\0d\0");
        assert_eq!(utf16("cmd", true, false), b"\0c\0m\0d");
        assert_eq!(utf16("c", false, true), b"\xFF\xFEc\0");
    }

    #[test]
    fn windash_makes_variants() {
        let v = windash_variants(&parse_sigma_string(" -enc "));
        assert_eq!(v.len(), 5);
        assert_eq!(windash_variants(&parse_sigma_string(" -a -b")).len(), 25);
        assert_eq!(
            windash_variants(&parse_sigma_string("a-b")).len(),
            1,
            "mid-word dash stays"
        );
        assert!(v.contains(&vec![Piece::Lit(" /enc ".into())]));
        assert!(v.contains(&vec![Piece::Lit(" \u{2013}enc ".into())]));
    }

    #[test]
    fn cidr_and_time() {
        let (n, b) = parse_cidr("10.0.0.0/8").expect("cidr");
        let cm = ValueMatcher::Cidr(n, b);
        assert!(cm.test_scalar(&FieldValue::Str("10.1.2.3".into()), None));
        assert!(!cm.test_scalar(&FieldValue::Str("11.1.2.3".into()), None));
        let (n6, b6) = parse_cidr("fe80::/10").expect("cidr6");
        assert!(ValueMatcher::Cidr(n6, b6).test_scalar(&FieldValue::Str("fe80::1".into()), None));
        assert_eq!(time_part("2024-05-01T10:20:30Z", TimePart::Hour), Some(10));
        assert_eq!(
            time_part("2024-05-01 10:20:30.123", TimePart::Minute),
            Some(20)
        );
        assert_eq!(time_part("2024-05-01T10:20:30Z", TimePart::Week), Some(18));
    }
}
