//! Rule prefilter: most rules are rejected by one Aho-Corasick pass per field.
//!
//! For each rule we derive a *necessary literal set*: (field, literal) pairs such that if the
//! rule matches, at least one literal occurs (ASCII case-insensitively) in its field's text.
//! It follows the condition tree: an `and` needs any one child's set (the most selective is
//! kept), an `or` needs the union of all children, `not` needs nothing we can name. A field
//! item contributes the literal of each exact / prefix / suffix / contains value (or its
//! longest ASCII run). Rules without such a set are always evaluated.
//!
//! Per bucket of rules (one logsource), all literals of one field form one automaton; an event
//! runs each automaton once over that field and only the rules whose literal was seen (plus
//! the always-evaluated ones) are evaluated in full. A literal found is necessary, not
//! sufficient, so the full matcher still decides: the prefilter can only skip rules that
//! cannot match, never add hits.

use std::collections::HashMap;

use aho_corasick::AhoCorasick;

use crate::compile::{CCond, CompiledDetection, FieldMatcher};
use crate::event::{Event, FieldValue};
use crate::ruleset::CompiledRule;
use crate::value::{StrPat, ValueMatcher, lowercase};

/// (field, literals) alternatives, any one of which must occur when the rule matches.
type Need = Vec<(String, Vec<String>)>;

/// Per field: literal -> pattern id, patterns, owners (rules) per pattern.
type Pats = (HashMap<String, usize>, Vec<String>, Vec<Vec<usize>>);

/// The prefilter of one bucket.
#[derive(Debug)]
pub(crate) struct BucketFilter {
    /// Rules (global indexes) evaluated on every event of the bucket.
    pub always: Vec<usize>,
    /// Per field: automaton and, per pattern, the rules it belongs to. The field
    /// [`KEYWORDS`] stands for every value of the event (keyword searches).
    pub fields: Vec<(String, AhoCorasick, Vec<Vec<usize>>)>,
    /// A SIMD (Teddy) searcher over the plain keyword literals, run on the lower-cased raw
    /// line: when it finds nothing, no value can hold a keyword.
    kw_gate: Option<Gate>,
}

/// Looks for the JSON-escaped keyword literals in a raw line.
#[derive(Debug)]
enum Gate {
    /// Case-sensitive SIMD search over the lower-cased line.
    Teddy(aho_corasick::packed::Searcher),
    /// Too many literals for Teddy.
    Ac(AhoCorasick),
}

/// The pseudo field of keyword searches: literals looked for in every value.
const KEYWORDS: &str = "\0keywords";

/// A literal as it appears inside a JSON string that uses only short escapes.
fn json_escaped(lit: &str) -> String {
    let quoted = serde_json::to_string(lit).unwrap_or_default();
    quoted
        .strip_prefix('"')
        .and_then(|q| q.strip_suffix('"'))
        .unwrap_or(lit)
        .to_string()
}

impl BucketFilter {
    pub fn new(rules: &[CompiledRule], idx: &[usize]) -> Self {
        let mut always = Vec::new();
        let mut per_field: Vec<(String, Pats)> = Vec::new();
        for &i in idx {
            match rule_need(&rules[i].detection) {
                None => always.push(i),
                Some(need) => {
                    for (field, lits) in need {
                        add(&mut per_field, field, lits, i);
                    }
                }
            }
        }
        fn add(per_field: &mut Vec<(String, Pats)>, field: String, lits: Vec<String>, i: usize) {
            if lits.is_empty() {
                return;
            }
            let pos = match per_field.iter().position(|(f, _)| *f == field) {
                Some(p) => p,
                None => {
                    per_field.push((field, Default::default()));
                    per_field.len() - 1
                }
            };
            let (ids, pats, owners) = &mut per_field[pos].1;
            for l in lits {
                let l = l.to_ascii_lowercase();
                let id = *ids.entry(l.clone()).or_insert_with(|| {
                    pats.push(l);
                    owners.push(Vec::new());
                    pats.len() - 1
                });
                if owners[id].last() != Some(&i) {
                    owners[id].push(i);
                }
            }
        }
        let mut fields = Vec::new();
        let mut kw_gate = None;
        for (field, (_, pats, owners)) in per_field {
            if field == KEYWORDS {
                let escaped: Vec<String> = pats.iter().map(|p| json_escaped(p)).collect();
                kw_gate = match aho_corasick::packed::Config::new()
                    .builder()
                    .extend(&escaped)
                    .build()
                {
                    Some(g) => Some(Gate::Teddy(g)),
                    None => AhoCorasick::builder()
                        .ascii_case_insensitive(true)
                        .build(&escaped)
                        .ok()
                        .map(Gate::Ac),
                };
            }
            match AhoCorasick::builder()
                .ascii_case_insensitive(true)
                .build(&pats)
            {
                Ok(ac) => fields.push((field, ac, owners)),
                // cannot happen for plain literals; evaluate those rules always instead
                Err(_) => always.extend(owners.into_iter().flatten()),
            }
        }
        always.sort_unstable();
        always.dedup();
        BucketFilter {
            always,
            fields,
            kw_gate,
        }
    }

    /// Calls `mark` with every rule that may match `ev`, `always` ones included (a rule may
    /// be named more than once).
    pub fn candidates<E: Event + ?Sized>(&self, ev: &E, mark: &mut dyn FnMut(usize)) {
        for &i in &self.always {
            mark(i);
        }
        let mut lower = String::new();
        let mut gate_buf = String::new();
        for (field, ac, owners) in &self.fields {
            let mut look = |t: &str| {
                let t = if t.is_ascii() {
                    t
                } else {
                    // regexes fold case simply: long s (U+017F) is `s`, the Kelvin sign
                    // (lower-cased to `k` already) is `k`
                    lower = lowercase(t).replace('\u{17f}', "s");
                    lower.as_str()
                };
                if !ac.is_match(t) {
                    return;
                }
                for m in ac.find_overlapping_iter(t) {
                    owners[m.pattern().as_usize()].iter().for_each(|&i| mark(i));
                }
            };
            if field == KEYWORDS {
                if let Some(text) = ev.verbatim()
                    && let Some(gate) = &self.kw_gate
                {
                    let hit = match gate {
                        Gate::Teddy(g) => {
                            gate_buf.clear();
                            gate_buf.push_str(text);
                            gate_buf.make_ascii_lowercase();
                            g.find(gate_buf.as_bytes()).is_some()
                        }
                        Gate::Ac(ac) => ac.is_match(text),
                    };
                    if !hit {
                        continue;
                    }
                }
                ev.keywords(&mut |t| {
                    look(t);
                    false
                });
                continue;
            }
            let Some(v) = ev.field(field) else { continue };
            scan(&v, &mut look);
        }
    }
}

fn scan(v: &FieldValue<'_>, f: &mut dyn FnMut(&str)) {
    match v {
        FieldValue::List(items) => items.iter().for_each(|i| scan(i, f)),
        other => {
            if let Some(t) = other.as_text() {
                f(&t)
            }
        }
    }
}

/// The necessary literal set of a detection, if one can be named.
pub(crate) fn rule_need(d: &CompiledDetection) -> Option<Need> {
    let mut out = Vec::new();
    for c in &d.conditions {
        out.extend(cond_need(d, c)?);
    }
    (!out.is_empty()).then_some(out)
}

fn search_need(d: &CompiledDetection, i: usize) -> Option<Need> {
    let s = d.searches.get(i)?;
    let mut out = Vec::new();
    for alt in &s.alternatives {
        out.extend(best(alt.iter().map(item_need))?);
    }
    (!out.is_empty()).then_some(out)
}

fn cond_need(d: &CompiledDetection, c: &CCond) -> Option<Need> {
    match c {
        CCond::Search(i) => search_need(d, *i),
        CCond::And(v) => best(v.iter().map(|c| cond_need(d, c))),
        CCond::All(v) => best(v.iter().map(|i| search_need(d, *i))),
        CCond::Or(v) => union(v.iter().map(|c| cond_need(d, c))),
        CCond::AtLeast(n, v) if *n >= 1 => union(v.iter().map(|i| search_need(d, *i))),
        CCond::AtLeast(..) | CCond::Not(_) => None,
    }
}

fn union(it: impl Iterator<Item = Option<Need>>) -> Option<Need> {
    let mut out = Vec::new();
    for n in it {
        out.extend(n?);
    }
    (!out.is_empty()).then_some(out)
}

/// The most selective of several needs (any one is necessary): longest shortest literal
/// (capped), then fewest literals.
fn best(it: impl Iterator<Item = Option<Need>>) -> Option<Need> {
    let score = |n: &Need| {
        let min = n
            .iter()
            .flat_map(|(_, l)| l.iter().map(String::len))
            .min()
            .unwrap_or(0)
            .min(8);
        let count: usize = n.iter().map(|(_, l)| l.len()).sum();
        (min, usize::MAX - count)
    };
    it.flatten().max_by_key(score)
}

fn item_need(f: &FieldMatcher) -> Option<Need> {
    let field = f.field.clone().unwrap_or_else(|| KEYWORDS.to_string());
    if f.neq || f.matchers.is_empty() {
        return None;
    }
    let mut lits = Vec::new();
    for m in &f.matchers {
        let lit = match m {
            ValueMatcher::Str(s) => match &s.pat {
                StrPat::Exact(p) | StrPat::Prefix(p) | StrPat::Suffix(p) | StrPat::Contains(p) => {
                    longest_ascii_run(p)
                }
                StrPat::Regex(_) => {
                    // one of several literals: all go in (deduplicated), any found suffices
                    let runs: Option<Vec<String>> =
                        s.required.iter().map(|r| longest_ascii_run(r)).collect();
                    match runs {
                        Some(r) if !r.is_empty() => {
                            let (last, rest) = r.split_last()?;
                            if f.all {
                                // keep it simple: `all` takes single literals only
                                (rest.is_empty()).then(|| last.clone())
                            } else {
                                lits.extend(rest.iter().cloned());
                                Some(last.clone())
                            }
                        }
                        _ => None,
                    }
                }
                StrPat::Any => None,
            },
            _ => None,
        };
        match lit {
            Some(l) => lits.push(l),
            // `all`: the other values are still each necessary
            None if f.all => {}
            None => return None,
        }
    }
    if f.all {
        // every value must match: its longest literal alone is necessary
        lits = vec![lits.into_iter().max_by_key(String::len)?];
    }
    Some(vec![(field, lits)])
}

/// The longest run of ASCII characters of `p` (all of it when ASCII), if not empty.
fn longest_ascii_run(p: &str) -> Option<String> {
    if p.is_ascii() {
        return (!p.is_empty()).then(|| p.to_string());
    }
    p.split(|c: char| !c.is_ascii())
        .max_by_key(|s| s.len())
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compile::compile_detection;
    use crate::rule::{Document, parse_yaml};

    fn need(yaml: &str) -> Option<Need> {
        let docs = parse_yaml(yaml, "t.yml").expect("parses");
        let Some(Document::Rule(r)) = docs.into_iter().next() else {
            panic!("not a rule")
        };
        rule_need(&compile_detection(&r, &Default::default()).expect("compiles"))
    }

    #[test]
    fn and_keeps_the_most_selective_item_or_unions() {
        let n = need(
            "title: t\nlogsource: {product: windows}\ndetection:\n  a:\n    EventID: 1\n    \
             Image|endswith: ['\\cmd.exe', '\\pwsh.exe']\n  b:\n    CommandLine|contains: x\n  \
             condition: a or b\n",
        )
        .expect("need");
        assert_eq!(
            n,
            vec![
                (
                    "Image".into(),
                    vec!["\\cmd.exe".into(), "\\pwsh.exe".into()]
                ),
                ("CommandLine".into(), vec!["x".into()]),
            ]
        );
        assert!(
            need(
                "title: t\nlogsource: {product: windows}\ndetection:\n  a:\n    \
                 Image|re: '[a-z]+'\n  condition: a\n"
            )
            .is_none()
        );
        assert_eq!(
            need(
                "title: t\nlogsource: {product: windows}\ndetection:\n  a:\n    \
                 Image|re: '(?i)(foo|bar)\\d'\n  condition: a\n"
            )
            .map(|n| {
                let mut l: Vec<String> = n[0].1.iter().map(|x| x.to_ascii_lowercase()).collect();
                l.sort();
                l.dedup();
                l
            }),
            Some(vec!["bar".to_string(), "foo".to_string()])
        );
        assert!(
            need(
                "title: t\nlogsource: {product: windows}\ndetection:\n  a:\n    \
                 Image: x\n  condition: not a\n"
            )
            .is_none()
        );
    }
}
