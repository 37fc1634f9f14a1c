//! Compiles a typed [`Rule`] into matchers and evaluates them on events.
//!
//! An item's plain case-insensitive values are tested together where that is cheaper
//! ([`ValueSets`]: one automaton or finder pass instead of a `memmem` per value), and the
//! lower-cased copy of a field's text is made once per rule evaluation and handed from item
//! to item (`LowerCache`), so a rule whose filters all read one 5 KB `ContextInfo` folds it
//! once. Both give exactly the answers of testing each value alone.

use std::collections::HashMap;

use regex::RegexBuilder;

use crate::condition::Cond;
use crate::error::{Error, Result};
use crate::event::{Event, FieldValue};
use crate::rule::{FieldItem, Modifier, Rule, Scalar};
use crate::value::{
    Cmp, Lowered, Piece, RefKind, StrMatch, StrPat, Text, TimePart, ValueMatcher, ValueSets,
    base64, base64_offsets, parse_cidr, parse_sigma_string, utf16, windash_variants,
};

/// Options used while compiling: the values of `%placeholder%`s for `|expand`.
#[derive(Debug, Clone, Default)]
pub struct CompileOptions {
    /// Placeholder name (without `%`) -> its values.
    pub placeholders: HashMap<String, Vec<String>>,
}

/// One compiled `field|mods: values` item.
#[derive(Debug, Clone)]
pub struct FieldMatcher {
    /// `None` for keyword searches.
    pub field: Option<String>,
    pub matchers: Vec<ValueMatcher>,
    /// `|all`: every value must match.
    pub all: bool,
    /// `|neq`: the field must differ from every value.
    pub neq: bool,
    /// Plain case-insensitive values tested together (see [`ValueSets`]).
    pub sets: Option<ValueSets>,
}

/// Lower-cased field texts handed from one item of a rule evaluation to the next: the
/// 5 KB `ContextInfo` that seven items of a PowerShell rule read is lower-cased once, not
/// seven times. Kept by field name; an item takes the copy and puts it back.
#[derive(Debug, Default)]
struct LowerCache<'r> {
    kept: Vec<(&'r str, Lowered)>,
}

impl<'r> LowerCache<'r> {
    fn take(&mut self, field: &str) -> Option<Lowered> {
        let i = self.kept.iter().position(|(f, _)| *f == field)?;
        Some(self.kept.swap_remove(i).1)
    }
    fn put(&mut self, field: &'r str, l: Lowered) {
        self.kept.push((field, l));
    }
}

/// Calls `f` on the text of a scalar or of each list element until it returns true.
fn any_text(v: &FieldValue<'_>, f: &mut dyn FnMut(&str) -> bool) -> bool {
    match v {
        FieldValue::List(items) => items.iter().any(|i| any_text(i, f)),
        other => other.as_text().is_some_and(|t| f(&t)),
    }
}

/// A compiled search: OR of ANDed field matchers.
#[derive(Debug, Clone)]
pub struct CompiledSearch {
    pub alternatives: Vec<Vec<FieldMatcher>>,
}

/// A compiled condition over search indexes.
#[derive(Debug, Clone)]
pub enum CCond {
    Search(usize),
    And(Vec<CCond>),
    Or(Vec<CCond>),
    Not(Box<CCond>),
    AtLeast(usize, Vec<usize>),
    All(Vec<usize>),
}

/// The compiled detection of one rule.
#[derive(Debug, Clone)]
pub struct CompiledDetection {
    pub searches: Vec<CompiledSearch>,
    /// Any condition matching makes the rule match.
    pub conditions: Vec<CCond>,
}

fn unsupported(rule: &str, message: impl Into<String>) -> Error {
    Error::Unsupported {
        rule: rule.to_string(),
        message: message.into(),
    }
}

/// Compiles a rule's detection.
pub fn compile_detection(rule: &Rule, opts: &CompileOptions) -> Result<CompiledDetection> {
    let label = rule.id.clone().unwrap_or_else(|| rule.title.clone());
    let names: Vec<&String> = rule.detection.searches.keys().collect();
    let mut searches = Vec::with_capacity(names.len());
    for s in rule.detection.searches.values() {
        let mut alternatives = Vec::with_capacity(s.alternatives.len());
        for alt in &s.alternatives {
            let items = alt
                .iter()
                .map(|i| compile_item(i, opts, &label))
                .collect::<Result<Vec<_>>>()?;
            alternatives.push(items);
        }
        searches.push(CompiledSearch { alternatives });
    }
    let idx = |n: &str| {
        names
            .iter()
            .position(|x| x.as_str() == n)
            .unwrap_or(usize::MAX)
    };
    fn conv(c: &Cond, idx: &dyn Fn(&str) -> usize) -> CCond {
        match c {
            Cond::Search(n) => CCond::Search(idx(n)),
            Cond::And(v) => CCond::And(v.iter().map(|c| conv(c, idx)).collect()),
            Cond::Or(v) => CCond::Or(v.iter().map(|c| conv(c, idx)).collect()),
            Cond::Not(c) => CCond::Not(Box::new(conv(c, idx))),
            Cond::AtLeast(n, v) => CCond::AtLeast(*n, v.iter().map(|s| idx(s)).collect()),
            Cond::All(v) => CCond::All(v.iter().map(|s| idx(s)).collect()),
        }
    }
    let conditions = rule
        .detection
        .conditions
        .iter()
        .map(|c| conv(c, &idx))
        .collect();
    Ok(CompiledDetection {
        searches,
        conditions,
    })
}

fn has(mods: &[Modifier], m: Modifier) -> bool {
    mods.contains(&m)
}

/// Compiles one detection item.
pub fn compile_item(item: &FieldItem, opts: &CompileOptions, rule: &str) -> Result<FieldMatcher> {
    use Modifier::*;
    // keywords (values without a field) are searched anywhere in the event's values, as a
    // full-text search does: a plain keyword is a `contains`
    let kw_mods: Vec<Modifier>;
    let mods = if item.field.is_none()
        && ![Contains, StartsWith, EndsWith, Re, Cidr, Exists, FieldRef]
            .iter()
            .any(|m| item.modifiers.contains(m))
    {
        kw_mods = item
            .modifiers
            .iter()
            .copied()
            .chain(std::iter::once(Contains))
            .collect();
        &kw_mods
    } else {
        &item.modifiers
    };
    let mut matchers = Vec::new();
    for v in &item.values {
        compile_value(v, mods, opts, rule, &mut matchers)?;
    }
    if has(mods, FieldRef) && item.field.is_none() {
        return Err(unsupported(rule, "fieldref needs a field"));
    }
    let all = has(mods, All);
    Ok(FieldMatcher {
        field: item.field.clone(),
        sets: ValueSets::build(&matchers, all),
        matchers,
        all,
        neq: has(mods, Neq),
    })
}

fn compile_value(
    v: &Scalar,
    mods: &[Modifier],
    opts: &CompileOptions,
    rule: &str,
    out: &mut Vec<ValueMatcher>,
) -> Result<()> {
    use Modifier::*;
    if has(mods, Exists) {
        let want = match v {
            Scalar::Bool(b) => *b,
            Scalar::Str(s) if s.eq_ignore_ascii_case("true") || s.eq_ignore_ascii_case("false") => {
                s.eq_ignore_ascii_case("true")
            }
            _ => return Err(unsupported(rule, "exists needs a boolean")),
        };
        out.push(ValueMatcher::Exists(want));
        return Ok(());
    }
    if matches!(v, Scalar::Null) {
        out.push(ValueMatcher::Null);
        return Ok(());
    }
    let text = v.as_sigma_str().unwrap_or_default();
    let cmp = [
        (Lt, Cmp::Lt),
        (Lte, Cmp::Lte),
        (Gt, Cmp::Gt),
        (Gte, Cmp::Gte),
    ]
    .into_iter()
    .find(|(m, _)| has(mods, *m));
    if let Some((_, c)) = cmp {
        let n = crate::event::parse_number(&text)
            .ok_or_else(|| unsupported(rule, format!("{text:?} is not a number")))?;
        out.push(ValueMatcher::Num(c, n));
        return Ok(());
    }
    let time = [
        (Minute, TimePart::Minute),
        (Hour, TimePart::Hour),
        (Day, TimePart::Day),
        (Week, TimePart::Week),
        (Month, TimePart::Month),
        (Year, TimePart::Year),
    ]
    .into_iter()
    .find(|(m, _)| has(mods, *m));
    if let Some((_, p)) = time {
        let n = text
            .trim()
            .parse::<i64>()
            .map_err(|_| unsupported(rule, format!("{text:?} is not a date part")))?;
        out.push(ValueMatcher::Time(p, n));
        return Ok(());
    }
    if has(mods, Cidr) {
        let (ip, bits) =
            parse_cidr(&text).ok_or_else(|| unsupported(rule, format!("bad cidr {text:?}")))?;
        out.push(ValueMatcher::Cidr(ip, bits));
        return Ok(());
    }
    let cased = has(mods, Cased);
    if has(mods, FieldRef) {
        let kind = if has(mods, Contains) {
            RefKind::Contains
        } else if has(mods, StartsWith) {
            RefKind::StartsWith
        } else if has(mods, EndsWith) {
            RefKind::EndsWith
        } else {
            RefKind::Equal
        };
        out.push(ValueMatcher::FieldRef {
            other: text,
            kind,
            cased,
        });
        return Ok(());
    }
    if has(mods, Re) {
        let re = RegexBuilder::new(&text)
            .case_insensitive(has(mods, ReI))
            .multi_line(has(mods, ReM))
            .dot_matches_new_line(has(mods, ReS))
            .size_limit(1 << 22)
            .build()
            .map_err(|e| {
                unsupported(
                    rule,
                    format!("regex {text:?}: {}", first_line(&e.to_string())),
                )
            })?;
        out.push(ValueMatcher::Str(StrMatch {
            pat: StrPat::Regex(re),
            cased: true,
            required: crate::value::regex_required(
                &text,
                has(mods, ReI),
                has(mods, ReM),
                has(mods, ReS),
            ),
        }));
        return Ok(());
    }
    // plain strings: placeholders, encodings, windash, then the match type
    let texts = if has(mods, Expand) {
        expand(&text, opts, rule)?
    } else {
        vec![text]
    };
    let encoded = [Base64, Base64Offset, Utf16Le, Utf16Be, Utf16]
        .iter()
        .any(|m| has(mods, *m));
    let mut variants: Vec<Vec<Piece>> = Vec::new();
    for t in texts {
        if encoded {
            let raw = unescape(&t);
            let bytes = if has(mods, Utf16Le) {
                utf16(&raw, false, false)
            } else if has(mods, Utf16Be) {
                utf16(&raw, true, false)
            } else if has(mods, Utf16) {
                utf16(&raw, false, true)
            } else {
                raw.into_bytes()
            };
            let strs = if has(mods, Base64Offset) {
                base64_offsets(&bytes)
            } else if has(mods, Base64) {
                vec![base64(&bytes)]
            } else {
                vec![String::from_utf8_lossy(&bytes).into_owned()]
            };
            variants.extend(strs.into_iter().map(|s| vec![Piece::Lit(s)]));
        } else {
            let pieces = parse_sigma_string(&t);
            if has(mods, Windash) {
                variants.extend(windash_variants(&pieces));
            } else {
                variants.push(pieces);
            }
        }
    }
    let lead = has(mods, Contains) || has(mods, EndsWith);
    let trail = has(mods, Contains) || has(mods, StartsWith);
    for p in variants {
        let m = StrMatch::from_pieces(p, lead, trail, cased).map_err(|e| unsupported(rule, e))?;
        out.push(ValueMatcher::Str(m));
    }
    Ok(())
}

fn first_line(s: &str) -> String {
    s.lines().last().unwrap_or_default().trim().to_string()
}

/// The literal text of a Sigma string (escapes removed, wildcards kept as characters).
fn unescape(s: &str) -> String {
    parse_sigma_string(s)
        .into_iter()
        .map(|p| match p {
            Piece::Lit(l) => l,
            Piece::Star => "*".into(),
            Piece::One => "?".into(),
        })
        .collect()
}

/// Replaces `%name%` placeholders with each configured value (cartesian over several).
fn expand(text: &str, opts: &CompileOptions, rule: &str) -> Result<Vec<String>> {
    let mut out = vec![String::new()];
    let mut rest = text;
    while let Some(start) = rest.find('%') {
        let Some(len) = rest[start + 1..].find('%') else {
            break;
        };
        let name = &rest[start + 1..start + 1 + len];
        let values = opts
            .placeholders
            .get(name)
            .ok_or_else(|| unsupported(rule, format!("placeholder %{name}% has no value")))?;
        let prefix = &rest[..start];
        out = out
            .iter()
            .flat_map(|o| values.iter().map(move |v| format!("{o}{prefix}{v}")))
            .collect();
        rest = &rest[start + len + 2..];
    }
    for o in &mut out {
        o.push_str(rest);
    }
    Ok(out)
}

impl FieldMatcher {
    /// Tests the matcher on an event.
    pub fn matches<E: Event + ?Sized>(&self, ev: &E) -> bool {
        self.matches_in(ev, &mut LowerCache::default())
    }

    /// Tests the matcher on an event, reusing lower-cased texts of earlier items.
    fn matches_in<'r, E: Event + ?Sized>(&'r self, ev: &E, cache: &mut LowerCache<'r>) -> bool {
        let Some(name) = &self.field else {
            return self.keywords(ev);
        };
        let value = ev.field(name);
        let Some(value) = value else {
            return !self.neq
                && if self.all {
                    self.matchers.iter().all(absent_ok)
                } else {
                    self.matchers.iter().any(absent_ok)
                };
        };
        // a scalar's text, lower-cased at most once for all the items of the evaluation
        let scalar = match &value {
            FieldValue::List(_) => None,
            v => v.as_text(),
        };
        let text = scalar
            .as_deref()
            .map(|raw| Text::reusing(raw, cache.take(name)));
        let hit = self.test(ev, &value, text.as_ref());
        if let Some(l) = text.and_then(Text::into_lowered) {
            cache.put(name, l);
        }
        hit != self.neq
    }

    /// The item's values on a present field (`text` is the text of a scalar).
    fn test<E: Event + ?Sized>(
        &self,
        ev: &E,
        value: &FieldValue<'_>,
        text: Option<&Text<'_>>,
    ) -> bool {
        let one = |m: &ValueMatcher| {
            if let (ValueMatcher::Str(s), Some(t)) = (m, text) {
                return s.is_match(t);
            }
            let other = match m {
                ValueMatcher::FieldRef { other, .. } => ev.field(other),
                _ => None,
            };
            if let ValueMatcher::FieldRef { .. } = m
                && other.is_none()
            {
                return false;
            }
            test_value(m, value, other.as_ref())
        };
        let Some(sets) = &self.sets else {
            return if self.all {
                self.matchers.iter().all(one)
            } else {
                self.matchers.iter().any(one)
            };
        };
        // a list matches a value when one of its elements does
        let on_text = |f: &dyn Fn(&Text<'_>) -> bool| match text {
            Some(t) => f(t),
            None => any_text(value, &mut |s| f(&Text::new(s))),
        };
        if self.all {
            self.matchers.iter().enumerate().all(|(i, m)| {
                if sets.covers(i) {
                    on_text(&|t| sets.contains_value(i, t))
                } else {
                    one(m)
                }
            })
        } else {
            on_text(&|t| sets.any_match(t))
                || sets
                    .rest()
                    .iter()
                    .filter_map(|&i| self.matchers.get(i))
                    .any(one)
        }
    }

    fn keywords<E: Event + ?Sized>(&self, ev: &E) -> bool {
        let test = |m: &ValueMatcher| {
            ev.keywords(&mut |s| match m {
                ValueMatcher::Str(sm) => sm.is_match(&Text::new(s)),
                other => other.test_scalar(&FieldValue::Str(s.into()), None),
            })
        };
        let hit = if self.all {
            self.matchers.iter().all(test)
        } else {
            self.matchers.iter().any(test)
        };
        hit != self.neq
    }
}

fn absent_ok(m: &ValueMatcher) -> bool {
    matches!(m, ValueMatcher::Null | ValueMatcher::Exists(false))
}

fn test_value(m: &ValueMatcher, v: &FieldValue<'_>, other: Option<&FieldValue<'_>>) -> bool {
    match (m, v) {
        (ValueMatcher::Exists(want), _) => *want,
        (_, FieldValue::List(items)) => items.iter().any(|i| test_value(m, i, other)),
        _ => m.test_scalar(v, other),
    }
}

/// The state of one evaluation: search results and lower-cased texts.
struct Eval<'m, 'r> {
    memo: &'m mut [Option<bool>],
    cache: LowerCache<'r>,
}

impl CompiledDetection {
    /// True when any condition holds on the event.
    pub fn matches<E: Event + ?Sized>(&self, ev: &E) -> bool {
        // most rules have few searches: keep the memo on the stack
        let mut small = [None; 16];
        let mut big = Vec::new();
        let memo: &mut [Option<bool>] = if self.searches.len() <= small.len() {
            &mut small[..self.searches.len()]
        } else {
            big.resize(self.searches.len(), None);
            &mut big
        };
        let mut st = Eval {
            memo,
            cache: LowerCache::default(),
        };
        self.conditions.iter().any(|c| self.eval(c, ev, &mut st))
    }

    fn search<'r, E: Event + ?Sized>(&'r self, i: usize, ev: &E, st: &mut Eval<'_, 'r>) -> bool {
        let Some(slot) = st.memo.get(i) else {
            return false;
        };
        if let Some(b) = slot {
            return *b;
        }
        let s = &self.searches[i];
        let r = s
            .alternatives
            .iter()
            .any(|alt| alt.iter().all(|fm| fm.matches_in(ev, &mut st.cache)));
        st.memo[i] = Some(r);
        r
    }

    fn eval<'r, E: Event + ?Sized>(&'r self, c: &CCond, ev: &E, st: &mut Eval<'_, 'r>) -> bool {
        match c {
            CCond::Search(i) => self.search(*i, ev, st),
            CCond::And(v) => v.iter().all(|c| self.eval(c, ev, st)),
            CCond::Or(v) => v.iter().any(|c| self.eval(c, ev, st)),
            CCond::Not(c) => !self.eval(c, ev, st),
            CCond::AtLeast(n, v) => {
                let mut k = 0;
                for i in v {
                    if self.search(*i, ev, st) {
                        k += 1;
                        if k >= *n {
                            return true;
                        }
                    }
                }
                false
            }
            CCond::All(v) => v.iter().all(|i| self.search(*i, ev, st)),
        }
    }

    /// Every field name the detection reads, `fieldref` targets included.
    pub fn field_names(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for f in self
            .searches
            .iter()
            .flat_map(|s| s.alternatives.iter().flatten())
        {
            out.extend(f.field.clone());
            for m in &f.matchers {
                if let ValueMatcher::FieldRef { other, .. } = m {
                    out.push(other.clone());
                }
            }
        }
        out.sort_unstable();
        out.dedup();
        out
    }

    /// Every field name the detection reads (for prefiltering and field extraction).
    pub fn fields(&self) -> Vec<&str> {
        let mut out: Vec<&str> = self
            .searches
            .iter()
            .flat_map(|s| s.alternatives.iter().flatten())
            .filter_map(|f| f.field.as_deref())
            .collect();
        out.sort_unstable();
        out.dedup();
        out
    }
}
