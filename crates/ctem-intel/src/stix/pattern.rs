//! The STIX 2.1 patterning language: a lexer and recursive-descent parser into a typed AST,
//! and [`simple_iocs`], which decides whether a pattern is nothing more than a list of values.
//!
//! Grammar (STIX 2.1 section 9, precedence from loosest to tightest):
//!
//! ```text
//! pattern      := obs_followed EOF
//! obs_followed := obs_or ("FOLLOWEDBY" obs_or)*
//! obs_or       := obs_and ("OR" obs_and)*
//! obs_and      := obs_qual ("AND" obs_qual)*
//! obs_qual     := obs_atom qualifier*
//! obs_atom     := "[" cmp_or "]" | "(" obs_followed ")"
//! qualifier    := "WITHIN" num "SECONDS" | "REPEATS" int "TIMES" | "START" t'..' "STOP" t'..'
//! cmp_or       := cmp_and ("OR" cmp_and)*
//! cmp_and      := cmp_atom ("AND" cmp_atom)*
//! cmp_atom     := "(" cmp_or ")" | "EXISTS" path | path "NOT"? op value
//! op           := = != < <= > >= IN LIKE MATCHES ISSUBSET ISSUPERSET
//! path         := type ":" step ("." step | "[" (int | "*") "]")*
//! value        := 'str' | int | float | true | false | t'ts' | h'hex' | b'b64' | "(" value ("," value)* ")"
//! ```
//!
//! Nesting is limited to [`MAX_DEPTH`] so hostile input cannot overflow the stack.

use crate::error::{Error, Result};
use ctem_model::intel::IndicatorType;
use std::fmt;

/// Deepest nesting of brackets and parentheses accepted.
pub const MAX_DEPTH: usize = 64;

/// An observation expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Pattern {
    /// `[ ... ]`
    Observation(Comparison),
    And(Vec<Pattern>),
    Or(Vec<Pattern>),
    FollowedBy(Vec<Pattern>),
    Qualified(Box<Pattern>, Qualifier),
}

/// A qualifier on an observation expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Qualifier {
    Within(f64),
    Repeats(u64),
    StartStop(String, String),
}

/// A comparison expression inside `[ ]`.
#[derive(Debug, Clone, PartialEq)]
pub enum Comparison {
    And(Vec<Comparison>),
    Or(Vec<Comparison>),
    Test {
        path: ObjectPath,
        negated: bool,
        op: Op,
        value: Value,
    },
    Exists(ObjectPath),
}

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    In,
    Like,
    Matches,
    IsSubset,
    IsSuperset,
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Op::Eq => "=",
            Op::Ne => "!=",
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Gt => ">",
            Op::Ge => ">=",
            Op::In => "IN",
            Op::Like => "LIKE",
            Op::Matches => "MATCHES",
            Op::IsSubset => "ISSUBSET",
            Op::IsSuperset => "ISSUPERSET",
        })
    }
}

/// One step of an object path after the type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    Key(String),
    Index(u64),
    Any,
}

/// `file:hashes.'SHA-256'` is `{ object_type: "file", steps: [Key("hashes"), Key("SHA-256")] }`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectPath {
    pub object_type: String,
    pub steps: Vec<Step>,
}

impl fmt::Display for ObjectPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:", self.object_type)?;
        for (i, s) in self.steps.iter().enumerate() {
            match s {
                Step::Key(k) if i == 0 => write!(f, "{k}")?,
                Step::Key(k) if k.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') => {
                    write!(f, ".{k}")?
                }
                Step::Key(k) => write!(f, ".'{k}'")?,
                Step::Index(n) => write!(f, "[{n}]")?,
                Step::Any => write!(f, "[*]")?,
            }
        }
        Ok(())
    }
}

/// A literal.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Str(String),
    Int(i64),
    Float(f64),
    Bool(bool),
    Timestamp(String),
    Hex(String),
    Binary(String),
    List(Vec<Value>),
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    LBracket,
    RBracket,
    LParen,
    RParen,
    Colon,
    Dot,
    Comma,
    Star,
    Op(Op),
    Word(String),
    Str(String),
    Int(i64),
    Float(f64),
    Prefixed(char, String),
}

struct Lexer<'a> {
    src: &'a str,
    pos: usize,
}

impl<'a> Lexer<'a> {
    fn err(&self, offset: usize, message: impl Into<String>) -> Error {
        Error::Pattern {
            offset,
            message: message.into(),
        }
    }

    fn quoted(&mut self, start: usize) -> Result<String> {
        // self.pos is just after the opening quote
        let mut out = String::new();
        let mut chars = self.src[self.pos..].char_indices();
        while let Some((i, c)) = chars.next() {
            match c {
                '\'' => {
                    self.pos += i + 1;
                    return Ok(out);
                }
                '\\' => match chars.next() {
                    Some((_, e @ ('\'' | '\\'))) => out.push(e),
                    // Only \' and \\ are defined; producers write regex escapes such as
                    // `\.` as they are, so an unknown escape is kept verbatim.
                    Some((_, other)) => {
                        out.push('\\');
                        out.push(other);
                    }
                    None => break,
                },
                c => out.push(c),
            }
        }
        Err(self.err(start, "unterminated string"))
    }

    fn tokens(mut self) -> Result<Vec<(usize, Tok)>> {
        let mut out = Vec::new();
        let bytes = self.src.as_bytes();
        while self.pos < bytes.len() {
            let start = self.pos;
            let c = bytes[self.pos];
            let two = |s: &Self| s.src.get(s.pos..s.pos + 2).unwrap_or("");
            let tok = match c {
                b' ' | b'\t' | b'\r' | b'\n' => {
                    self.pos += 1;
                    continue;
                }
                b'[' => self.single(Tok::LBracket),
                b']' => self.single(Tok::RBracket),
                b'(' => self.single(Tok::LParen),
                b')' => self.single(Tok::RParen),
                b':' => self.single(Tok::Colon),
                b'.' => self.single(Tok::Dot),
                b',' => self.single(Tok::Comma),
                b'*' => self.single(Tok::Star),
                b'=' if two(&self) == "==" => {
                    self.pos += 2;
                    Tok::Op(Op::Eq)
                }
                b'=' => self.single(Tok::Op(Op::Eq)),
                b'!' if two(&self) == "!=" => {
                    self.pos += 2;
                    Tok::Op(Op::Ne)
                }
                b'<' if two(&self) == "<=" => {
                    self.pos += 2;
                    Tok::Op(Op::Le)
                }
                b'<' if two(&self) == "<>" => {
                    self.pos += 2;
                    Tok::Op(Op::Ne)
                }
                b'<' => self.single(Tok::Op(Op::Lt)),
                b'>' if two(&self) == ">=" => {
                    self.pos += 2;
                    Tok::Op(Op::Ge)
                }
                b'>' => self.single(Tok::Op(Op::Gt)),
                b'\'' => {
                    self.pos += 1;
                    Tok::Str(self.quoted(start)?)
                }
                b't' | b'h' | b'b' if bytes.get(self.pos + 1) == Some(&b'\'') => {
                    self.pos += 2;
                    Tok::Prefixed(c as char, self.quoted(start)?)
                }
                b'-' | b'+' | b'0'..=b'9' => self.number(start)?,
                c if c.is_ascii_alphabetic() || c == b'_' => {
                    let len = self.src[self.pos..]
                        .bytes()
                        .take_while(|b| b.is_ascii_alphanumeric() || *b == b'_' || *b == b'-')
                        .count();
                    let word = &self.src[self.pos..self.pos + len];
                    self.pos += len;
                    match word {
                        "IN" => Tok::Op(Op::In),
                        "LIKE" => Tok::Op(Op::Like),
                        "MATCHES" => Tok::Op(Op::Matches),
                        "ISSUBSET" => Tok::Op(Op::IsSubset),
                        "ISSUPERSET" => Tok::Op(Op::IsSuperset),
                        w => Tok::Word(w.to_string()),
                    }
                }
                _ => {
                    let ch = self.src[self.pos..].chars().next().unwrap_or('?');
                    return Err(self.err(start, format!("unexpected character `{ch}`")));
                }
            };
            out.push((start, tok));
        }
        Ok(out)
    }

    fn single(&mut self, t: Tok) -> Tok {
        self.pos += 1;
        t
    }

    fn number(&mut self, start: usize) -> Result<Tok> {
        let len = self.src[self.pos..]
            .bytes()
            .enumerate()
            .take_while(|(i, b)| {
                b.is_ascii_digit() || *b == b'.' || ((*b == b'-' || *b == b'+') && *i == 0)
            })
            .count();
        let text = &self.src[self.pos..self.pos + len];
        self.pos += len;
        if text.contains('.') {
            text.parse()
                .map(Tok::Float)
                .map_err(|_| self.err(start, format!("invalid number `{text}`")))
        } else {
            text.parse()
                .map(Tok::Int)
                .map_err(|_| self.err(start, format!("invalid number `{text}`")))
        }
    }
}

struct Parser {
    toks: Vec<(usize, Tok)>,
    at: usize,
    end: usize,
    depth: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.at).map(|(_, t)| t)
    }
    fn offset(&self) -> usize {
        self.toks.get(self.at).map_or(self.end, |(o, _)| *o)
    }
    fn err(&self, message: impl Into<String>) -> Error {
        Error::Pattern {
            offset: self.offset(),
            message: message.into(),
        }
    }
    fn next(&mut self) -> Option<Tok> {
        let t = self.toks.get(self.at).map(|(_, t)| t.clone());
        self.at += 1;
        t
    }
    fn is_word(&self, w: &str) -> bool {
        matches!(self.peek(), Some(Tok::Word(x)) if x == w)
    }
    fn expect(&mut self, want: &Tok, what: &str) -> Result<()> {
        if self.peek() == Some(want) {
            self.at += 1;
            Ok(())
        } else {
            Err(self.err(format!("expected {what}")))
        }
    }
    fn enter(&mut self) -> Result<()> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.err(format!("nesting deeper than {MAX_DEPTH}")));
        }
        Ok(())
    }

    fn obs_followed(&mut self) -> Result<Pattern> {
        let mut parts = vec![self.obs_or()?];
        while self.is_word("FOLLOWEDBY") {
            self.at += 1;
            parts.push(self.obs_or()?);
        }
        Ok(fold(parts, Pattern::FollowedBy))
    }
    fn obs_or(&mut self) -> Result<Pattern> {
        let mut parts = vec![self.obs_and()?];
        while self.is_word("OR") {
            self.at += 1;
            parts.push(self.obs_and()?);
        }
        Ok(fold(parts, Pattern::Or))
    }
    fn obs_and(&mut self) -> Result<Pattern> {
        let mut parts = vec![self.obs_qual()?];
        while self.is_word("AND") {
            self.at += 1;
            parts.push(self.obs_qual()?);
        }
        Ok(fold(parts, Pattern::And))
    }
    fn obs_qual(&mut self) -> Result<Pattern> {
        let mut p = self.obs_atom()?;
        loop {
            let q = if self.is_word("WITHIN") {
                self.at += 1;
                let n = match self.next() {
                    Some(Tok::Int(n)) if n > 0 => n as f64,
                    Some(Tok::Float(f)) if f > 0.0 => f,
                    _ => return Err(self.err("expected a positive number after WITHIN")),
                };
                self.expect(&Tok::Word("SECONDS".into()), "SECONDS")?;
                Qualifier::Within(n)
            } else if self.is_word("REPEATS") {
                self.at += 1;
                let n = match self.next() {
                    Some(Tok::Int(n)) if n > 0 => n as u64,
                    _ => return Err(self.err("expected a positive integer after REPEATS")),
                };
                self.expect(&Tok::Word("TIMES".into()), "TIMES")?;
                Qualifier::Repeats(n)
            } else if self.is_word("START") {
                self.at += 1;
                let a = self.timestamp()?;
                self.expect(&Tok::Word("STOP".into()), "STOP")?;
                Qualifier::StartStop(a, self.timestamp()?)
            } else {
                return Ok(p);
            };
            p = Pattern::Qualified(Box::new(p), q);
        }
    }
    fn timestamp(&mut self) -> Result<String> {
        match self.next() {
            Some(Tok::Prefixed('t', s)) if crate::util::parse_time(&s).is_some() => Ok(s),
            _ => Err(self.err("expected a timestamp literal t'...'")),
        }
    }
    fn obs_atom(&mut self) -> Result<Pattern> {
        self.enter()?;
        let p = match self.next() {
            Some(Tok::LBracket) => {
                let c = self.cmp_or()?;
                self.expect(&Tok::RBracket, "`]`")?;
                Pattern::Observation(c)
            }
            Some(Tok::LParen) => {
                let p = self.obs_followed()?;
                self.expect(&Tok::RParen, "`)`")?;
                p
            }
            _ => {
                self.at = self.at.saturating_sub(1);
                return Err(self.err("expected `[` or `(` to start an observation expression"));
            }
        };
        self.depth -= 1;
        Ok(p)
    }
    fn cmp_or(&mut self) -> Result<Comparison> {
        let mut parts = vec![self.cmp_and()?];
        while self.is_word("OR") {
            self.at += 1;
            parts.push(self.cmp_and()?);
        }
        Ok(fold(parts, Comparison::Or))
    }
    fn cmp_and(&mut self) -> Result<Comparison> {
        let mut parts = vec![self.cmp_atom()?];
        while self.is_word("AND") {
            self.at += 1;
            parts.push(self.cmp_atom()?);
        }
        Ok(fold(parts, Comparison::And))
    }
    fn cmp_atom(&mut self) -> Result<Comparison> {
        if self.peek() == Some(&Tok::LParen) {
            self.enter()?;
            self.at += 1;
            let c = self.cmp_or()?;
            self.expect(&Tok::RParen, "`)`")?;
            self.depth -= 1;
            return Ok(c);
        }
        if self.is_word("EXISTS") {
            self.at += 1;
            return Ok(Comparison::Exists(self.path()?));
        }
        let path = self.path()?;
        let negated = self.is_word("NOT");
        if negated {
            self.at += 1;
        }
        let op = match self.next() {
            Some(Tok::Op(op)) => op,
            _ => {
                self.at = self.at.saturating_sub(1);
                return Err(self.err(format!("expected a comparison operator after `{path}`")));
            }
        };
        let value = self.value(op == Op::In)?;
        Ok(Comparison::Test {
            path,
            negated,
            op,
            value,
        })
    }
    fn path(&mut self) -> Result<ObjectPath> {
        let object_type = match self.next() {
            Some(Tok::Word(w)) => w,
            _ => {
                self.at = self.at.saturating_sub(1);
                return Err(self.err("expected an object type (e.g. `ipv4-addr`)"));
            }
        };
        self.expect(&Tok::Colon, "`:` after the object type")?;
        let mut steps = vec![self.key()?];
        loop {
            match self.peek() {
                Some(Tok::Dot) => {
                    self.at += 1;
                    steps.push(self.key()?);
                }
                Some(Tok::LBracket) => {
                    self.at += 1;
                    steps.push(match self.next() {
                        Some(Tok::Int(n)) if n >= 0 => Step::Index(n as u64),
                        Some(Tok::Star) => Step::Any,
                        _ => return Err(self.err("expected a list index or `*`")),
                    });
                    self.expect(&Tok::RBracket, "`]` after the list index")?;
                }
                _ => return Ok(ObjectPath { object_type, steps }),
            }
        }
    }
    fn key(&mut self) -> Result<Step> {
        match self.next() {
            Some(Tok::Word(w)) => Ok(Step::Key(w)),
            Some(Tok::Str(s)) => Ok(Step::Key(s)),
            _ => {
                self.at = self.at.saturating_sub(1);
                Err(self.err("expected a property name"))
            }
        }
    }
    fn value(&mut self, list: bool) -> Result<Value> {
        if list {
            self.expect(&Tok::LParen, "`(` after IN")?;
            let mut items = vec![self.value(false)?];
            while self.peek() == Some(&Tok::Comma) {
                self.at += 1;
                items.push(self.value(false)?);
            }
            self.expect(&Tok::RParen, "`)` to close the IN list")?;
            return Ok(Value::List(items));
        }
        Ok(match self.next() {
            Some(Tok::Str(s)) => Value::Str(s),
            Some(Tok::Int(n)) => Value::Int(n),
            Some(Tok::Float(f)) => Value::Float(f),
            Some(Tok::Word(w)) if w == "true" => Value::Bool(true),
            Some(Tok::Word(w)) if w == "false" => Value::Bool(false),
            Some(Tok::Prefixed('t', s)) => Value::Timestamp(s),
            Some(Tok::Prefixed('h', s)) => Value::Hex(s),
            Some(Tok::Prefixed(_, s)) => Value::Binary(s),
            _ => {
                self.at = self.at.saturating_sub(1);
                return Err(self.err("expected a literal value"));
            }
        })
    }
}

fn fold<T>(mut parts: Vec<T>, wrap: fn(Vec<T>) -> T) -> T {
    if parts.len() == 1 {
        parts.remove(0)
    } else {
        wrap(parts)
    }
}

/// Parses a STIX 2.1 pattern.
pub fn parse_pattern(src: &str) -> Result<Pattern> {
    let toks = Lexer { src, pos: 0 }.tokens()?;
    let mut p = Parser {
        toks,
        at: 0,
        end: src.len(),
        depth: 0,
    };
    let pattern = p.obs_followed()?;
    if p.at < p.toks.len() {
        return Err(p.err("unexpected input after the pattern"));
    }
    Ok(pattern)
}

/// The indicator type a STIX object path denotes as a simple IOC, if any.
pub fn ioc_type_of_path(path: &ObjectPath) -> Option<IndicatorType> {
    let key = |i: usize| match path.steps.get(i) {
        Some(Step::Key(k)) => Some(k.as_str()),
        _ => None,
    };
    match (path.object_type.as_str(), path.steps.len()) {
        ("ipv4-addr", 1) if key(0) == Some("value") => Some(IndicatorType::Ipv4),
        ("ipv6-addr", 1) if key(0) == Some("value") => Some(IndicatorType::Ipv6),
        ("domain-name", 1) if key(0) == Some("value") => Some(IndicatorType::Domain),
        ("url", 1) if key(0) == Some("value") => Some(IndicatorType::Url),
        ("email-addr", 1) if key(0) == Some("value") => Some(IndicatorType::Email),
        ("file", 1) if key(0) == Some("name") => Some(IndicatorType::Filename),
        ("file", 2) if key(0) == Some("hashes") => {
            match key(1)?
                .to_ascii_uppercase()
                .replace(['-', '_'], "")
                .as_str()
            {
                "MD5" => Some(IndicatorType::Md5),
                "SHA1" => Some(IndicatorType::Sha1),
                "SHA256" => Some(IndicatorType::Sha256),
                "SHA512" => Some(IndicatorType::Sha512),
                _ => None,
            }
        }
        _ => None,
    }
}

/// The values of a pattern that is only simple IOCs: one observation (or an OR of
/// observations) whose comparisons are `=` / `IN` tests on an IOC path, joined by OR, with no
/// qualifier. Otherwise the reason it is not.
pub fn simple_iocs(p: &Pattern) -> Result<Vec<(IndicatorType, String)>, String> {
    let mut out = Vec::new();
    collect_obs(p, &mut out)?;
    Ok(out)
}

fn collect_obs(p: &Pattern, out: &mut Vec<(IndicatorType, String)>) -> Result<(), String> {
    match p {
        Pattern::Observation(c) => collect_cmp(c, out),
        Pattern::Or(ps) => ps.iter().try_for_each(|p| collect_obs(p, out)),
        Pattern::And(_) => Err("observations joined by AND must all be seen together".into()),
        Pattern::FollowedBy(_) => Err("FOLLOWEDBY describes a sequence of observations".into()),
        Pattern::Qualified(_, q) => Err(format!(
            "qualifier {} restricts when it matches",
            match q {
                Qualifier::Within(_) => "WITHIN",
                Qualifier::Repeats(_) => "REPEATS",
                Qualifier::StartStop(..) => "START/STOP",
            }
        )),
    }
}

fn collect_cmp(c: &Comparison, out: &mut Vec<(IndicatorType, String)>) -> Result<(), String> {
    match c {
        Comparison::Or(cs) => cs.iter().try_for_each(|c| collect_cmp(c, out)),
        Comparison::And(_) => Err("comparisons joined by AND must hold on the same object".into()),
        Comparison::Exists(p) => Err(format!("EXISTS {p} tests presence, not a value")),
        Comparison::Test {
            path,
            negated,
            op,
            value,
        } => {
            let kind =
                ioc_type_of_path(path).ok_or_else(|| format!("`{path}` is not an IOC field"))?;
            if *negated {
                return Err(format!("NOT {op} on `{path}` matches everything else"));
            }
            let values: Vec<&Value> = match (op, value) {
                (Op::Eq, v) => vec![v],
                (Op::In, Value::List(vs)) => vs.iter().collect(),
                (op, _) => return Err(format!("operator {op} on `{path}` is not an exact match")),
            };
            for v in values {
                match v {
                    Value::Str(s) => out.push((kind, s.clone())),
                    _ => return Err(format!("`{path}` compared with a non-string value")),
                }
            }
            Ok(())
        }
    }
}

/// Quotes a value as a STIX string literal.
pub fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use IndicatorType as T;

    fn iocs(src: &str) -> Result<Vec<(IndicatorType, String)>, String> {
        let p = parse_pattern(src).map_err(|e| e.to_string())?;
        simple_iocs(&p)
    }

    #[test]
    fn or_of_values_is_simple() {
        let got = iocs("[domain-name:value = 'a.example' OR ipv4-addr:value = '10.0.0.1']")
            .expect("simple");
        assert_eq!(
            got,
            vec![
                (T::Domain, "a.example".into()),
                (T::Ipv4, "10.0.0.1".into())
            ]
        );
        let got =
            iocs("[file:hashes.'SHA-256' = 'ab'] OR [url:value IN ('http://x/', 'http://y/')]")
                .expect("simple");
        assert_eq!(got.len(), 3);
        assert_eq!(got[0].0, T::Sha256);
    }

    #[test]
    fn non_simple_patterns_say_why() {
        let why = iocs("[email-message:subject MATCHES '^[IMPORTANT]']").expect_err("not simple");
        assert!(why.contains("not an IOC field"), "{why}");
        let why = iocs("[file:name = 'a' AND file:size > 10]").expect_err("not simple");
        assert!(why.contains("AND"), "{why}");
        let why = iocs("[ipv4-addr:value = '1.2.3.4'] REPEATS 5 TIMES WITHIN 180 SECONDS")
            .expect_err("not simple");
        assert!(why.contains("WITHIN"), "{why}");
        let why = iocs("[url:value LIKE '%evil%']").expect_err("not simple");
        assert!(why.contains("LIKE"), "{why}");
        let why = iocs("[ipv4-addr:value NOT = '1.2.3.4']").expect_err("not simple");
        assert!(why.contains("NOT"), "{why}");
    }

    #[test]
    fn full_grammar_parses() {
        for src in [
            "[network-traffic:dst_ref.type = 'ipv4-addr' AND network-traffic:dst_port = 443]",
            "([a:b = 1] AND [c:d = 2.5]) FOLLOWEDBY [e:f[*].g = true] WITHIN 10 SECONDS",
            "[file:hashes.MD5 = h'00ff'] START t'2016-06-01T00:00:00Z' STOP t'2016-07-01T00:00:00Z'",
            "[email-message:body_multipart[0].body_raw_ref.name MATCHES '^Final Report.+\\\\.exe$']",
            "[x:y ISSUBSET '10.0.0.0/8' OR EXISTS x:z]",
            "[a:b = 'it\\'s']",
        ] {
            parse_pattern(src).unwrap_or_else(|e| panic!("{src}: {e}"));
        }
        assert_eq!(
            parse_pattern("[a:b = 'it\\'s']").ok(),
            Some(Pattern::Observation(Comparison::Test {
                path: ObjectPath {
                    object_type: "a".into(),
                    steps: vec![Step::Key("b".into())]
                },
                negated: false,
                op: Op::Eq,
                value: Value::Str("it's".into()),
            }))
        );
    }

    #[test]
    fn malformed_patterns_are_errors_with_offsets() {
        for src in [
            "",
            "[",
            "[a:b = ]",
            "[a:b = 'x'",
            "[a:b = 'x'] AND",
            "a:b = 'x'",
            "[a:b 'x']",
            "[a:b = 'x'] WITHIN -1 SECONDS",
            "[a:b = 'x'] extra",
            "[a:b[x] = 1]",
        ] {
            assert!(parse_pattern(src).is_err(), "{src} parsed");
        }
        let deep = format!("{}[a:b = 1]{}", "(".repeat(500), ")".repeat(500));
        assert!(parse_pattern(&deep).is_err());
    }

    #[test]
    fn quote_round_trips() {
        let q = quote("it's a \\ test");
        let p = parse_pattern(&format!("[file:name = {q}]")).expect("parses");
        assert_eq!(
            simple_iocs(&p),
            Ok(vec![(T::Filename, "it's a \\ test".to_string())])
        );
    }
}
