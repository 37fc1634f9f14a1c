//! The condition language: `and`, `or`, `not`, parentheses, `1 of x*`, `all of them`.
//!
//! Precedence, lowest first: `or`, `and`, `not`. `N of` / `all of` expand their pattern
//! against the rule's search names at parse time, so evaluation never sees a wildcard.

use crate::error::{Error, Result};

/// A parsed condition over named searches.
#[derive(serde::Serialize, serde::Deserialize, Debug, Clone, PartialEq)]
pub enum Cond {
    /// A search by name.
    Search(String),
    And(Vec<Cond>),
    Or(Vec<Cond>),
    Not(Box<Cond>),
    /// At least `n` of the searches match.
    AtLeast(usize, Vec<String>),
    /// Every one of the searches matches.
    All(Vec<String>),
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    And,
    Or,
    Not,
    LParen,
    RParen,
    Of,
    AllKw,
    Num(usize),
    Pipe,
}

fn tokenize(s: &str) -> Vec<Tok> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let flush = |cur: &mut String, out: &mut Vec<Tok>| {
        if cur.is_empty() {
            return;
        }
        let w = std::mem::take(cur);
        out.push(match w.to_ascii_lowercase().as_str() {
            "and" => Tok::And,
            "or" => Tok::Or,
            "not" => Tok::Not,
            "of" => Tok::Of,
            "all" => Tok::AllKw,
            _ => match w.parse::<usize>() {
                Ok(n) => Tok::Num(n),
                Err(_) => Tok::Ident(w),
            },
        });
    };
    for c in s.chars() {
        match c {
            '(' | ')' | '|' => {
                flush(&mut cur, &mut out);
                out.push(match c {
                    '(' => Tok::LParen,
                    ')' => Tok::RParen,
                    _ => Tok::Pipe,
                });
            }
            c if c.is_whitespace() => flush(&mut cur, &mut out),
            c => cur.push(c),
        }
    }
    flush(&mut cur, &mut out);
    out
}

/// Matches a search name against a pattern with `*` wildcards. Iterative with one backtrack
/// point (the last `*`), so time is at most pattern length times name length: a recursive
/// matcher was exponential in the number of stars (found by fuzz target detect_condition).
pub(crate) fn name_matches(pattern: &str, name: &str) -> bool {
    let (p, n) = (pattern.as_bytes(), name.as_bytes());
    let (mut pi, mut ni) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ni < n.len() {
        if pi < p.len() && p[pi] == b'*' {
            star = Some((pi, ni));
            pi += 1;
        } else if pi < p.len() && p[pi] == n[ni] {
            pi += 1;
            ni += 1;
        } else if let Some((sp, sn)) = star {
            // let the last star absorb one more byte and retry
            pi = sp + 1;
            ni = sn + 1;
            star = Some((sp, sn + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == b'*')
}

struct Parser<'a> {
    toks: Vec<Tok>,
    pos: usize,
    names: &'a [&'a str],
    text: &'a str,
}

impl Parser<'_> {
    fn err(&self, message: impl Into<String>) -> Error {
        Error::Condition {
            condition: self.text.to_string(),
            message: message.into(),
        }
    }
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos)
    }
    fn next(&mut self) -> Option<Tok> {
        let t = self.toks.get(self.pos).cloned();
        self.pos += 1;
        t
    }
    fn or(&mut self) -> Result<Cond> {
        let mut parts = vec![self.and()?];
        while self.peek() == Some(&Tok::Or) {
            self.pos += 1;
            parts.push(self.and()?);
        }
        Ok(if parts.len() == 1 {
            parts.remove(0)
        } else {
            Cond::Or(parts)
        })
    }
    fn and(&mut self) -> Result<Cond> {
        let mut parts = vec![self.unary()?];
        while self.peek() == Some(&Tok::And) {
            self.pos += 1;
            parts.push(self.unary()?);
        }
        Ok(if parts.len() == 1 {
            parts.remove(0)
        } else {
            Cond::And(parts)
        })
    }
    fn unary(&mut self) -> Result<Cond> {
        match self.next() {
            Some(Tok::Not) => Ok(Cond::Not(Box::new(self.unary()?))),
            Some(Tok::LParen) => {
                let c = self.or()?;
                match self.next() {
                    Some(Tok::RParen) => Ok(c),
                    _ => Err(self.err("missing closing parenthesis")),
                }
            }
            Some(Tok::Num(n)) => {
                let set = self.of_target()?;
                Ok(Cond::AtLeast(n, set))
            }
            Some(Tok::AllKw) => {
                let set = self.of_target()?;
                Ok(Cond::All(set))
            }
            Some(Tok::Ident(name)) => {
                if !self.names.contains(&name.as_str()) {
                    return Err(self.err(format!("unknown search {name:?}")));
                }
                Ok(Cond::Search(name))
            }
            Some(Tok::Pipe) => Err(self.err("aggregation expressions (`|`) are not supported")),
            Some(t) => Err(self.err(format!("unexpected {t:?}"))),
            None => Err(self.err("unexpected end of condition")),
        }
    }
    fn of_target(&mut self) -> Result<Vec<String>> {
        if self.next() != Some(Tok::Of) {
            return Err(self.err("expected `of`"));
        }
        let Some(Tok::Ident(pat)) = self.next() else {
            return Err(self.err("expected a search pattern after `of`"));
        };
        let set: Vec<String> = if pat == "them" {
            self.names
                .iter()
                .filter(|n| !n.starts_with('_'))
                .map(|n| n.to_string())
                .collect()
        } else {
            self.names
                .iter()
                .filter(|n| name_matches(&pat, n))
                .map(|n| n.to_string())
                .collect()
        };
        if set.is_empty() {
            return Err(self.err(format!("pattern {pat:?} matches no search")));
        }
        Ok(set)
    }
}

/// Parses one condition string against the rule's search names.
pub fn parse(text: &str, names: &[&str]) -> Result<Cond> {
    let mut p = Parser {
        toks: tokenize(text),
        pos: 0,
        names,
        text,
    };
    let c = p.or()?;
    if p.peek() == Some(&Tok::Pipe) {
        return Err(p.err("aggregation expressions (`|`) are not supported"));
    }
    if p.pos < p.toks.len() {
        return Err(p.err(format!("trailing input at token {}", p.pos)));
    }
    Ok(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    const N: &[&str] = &["sel", "sel_a", "sel_b", "filter", "_hidden"];

    #[test]
    fn many_stars_in_a_pattern_are_not_exponential() {
        let pattern = format!("{}o", "*".repeat(120));
        let t = std::time::Instant::now();
        assert!(!name_matches(&pattern, "selection_with_a_long_name_x"));
        assert!(name_matches(&pattern, "foo"));
        assert!(name_matches("sel_*_b*", "sel_a_bc") && !name_matches("sel_*_b", "sel_a_bc"));
        assert!(name_matches("*", "") && name_matches("a*", "a") && !name_matches("a", "ab"));
        assert!(t.elapsed() < std::time::Duration::from_secs(1));
    }

    #[test]
    fn precedence_not_and_or() {
        let c = parse("sel or sel_a and not filter", N).expect("ok");
        assert_eq!(
            c,
            Cond::Or(vec![
                Cond::Search("sel".into()),
                Cond::And(vec![
                    Cond::Search("sel_a".into()),
                    Cond::Not(Box::new(Cond::Search("filter".into())))
                ])
            ])
        );
    }

    #[test]
    fn parentheses_group() {
        let c = parse("(sel or sel_a) and filter", N).expect("ok");
        assert!(matches!(c, Cond::And(ref v) if matches!(v[0], Cond::Or(_))));
    }

    #[test]
    fn of_patterns_and_them() {
        assert_eq!(
            parse("1 of sel_*", N).expect("ok"),
            Cond::AtLeast(1, vec!["sel_a".into(), "sel_b".into()])
        );
        let Cond::All(v) = parse("all of them", N).expect("ok") else {
            panic!("all")
        };
        assert_eq!(
            v.len(),
            4,
            "underscore-prefixed searches are not part of them"
        );
        assert!(parse("1 of nothing*", N).is_err());
    }

    #[test]
    fn errors() {
        assert!(parse("sel and", N).is_err());
        assert!(parse("(sel", N).is_err());
        assert!(parse("unknown", N).is_err());
        assert!(parse("sel | count() > 5", N).is_err());
    }
}
