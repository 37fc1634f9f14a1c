//! Zeek TSV logs (`#separator`, `#fields`, `#types` headers, then one record a line) into the
//! objects Zeek's JSON writer would produce: the same keys (`id.orig_h`), numbers for
//! `count` / `int` / `port` / `double` / `time` / `interval`, booleans for `bool`, arrays for
//! `set[..]` / `vector[..]`; unset fields (`-`) are left out, as the JSON writer does.

use std::io::BufRead;

use serde_json::{Map, Value};

use super::decode_err;
use crate::engine::Record;
use crate::error::Result;

/// True when the text starts (after comment lines) with Zeek's `#separator` header.
pub fn is_zeek_tsv(head: &[u8]) -> bool {
    let text = String::from_utf8_lossy(&head[..head.len().min(4096)]);
    text.lines()
        .find(|l| !l.starts_with("##"))
        .is_some_and(|l| l.starts_with("#separator"))
}

/// The header state and the reader of one TSV log.
pub struct ZeekTsv {
    reader: Box<dyn BufRead + Send>,
    source: Option<String>,
    sep: String,
    set_sep: String,
    empty: String,
    unset: String,
    fields: Vec<String>,
    types: Vec<String>,
    /// The log type of `#path` (`conn`), written as `_path` into each record as Zeek's JSON
    /// writer does, so the record's logsource is known.
    path: Option<String>,
    line: u64,
}

impl ZeekTsv {
    pub fn new(reader: Box<dyn BufRead + Send>, source: Option<String>) -> Self {
        ZeekTsv {
            reader,
            source,
            sep: "\t".into(),
            set_sep: ",".into(),
            empty: "(empty)".into(),
            unset: "-".into(),
            fields: Vec::new(),
            types: Vec::new(),
            path: None,
            line: 0,
        }
    }

    fn header(&mut self, l: &str) {
        let (key, rest) = match l.split_once(self.sep.as_str()) {
            Some((k, r)) => (k, r),
            None => match l.split_once(' ') {
                Some((k, r)) => (k, r),
                None => (l, ""),
            },
        };
        let list = |r: &str, sep: &str| r.split(sep).map(str::to_string).collect::<Vec<_>>();
        match key {
            "#separator" => self.sep = unescape_hex(rest.trim()),
            "#set_separator" => self.set_sep = rest.to_string(),
            "#empty_field" => self.empty = rest.to_string(),
            "#unset_field" => self.unset = rest.to_string(),
            "#fields" => self.fields = list(rest, &self.sep),
            "#types" => self.types = list(rest, &self.sep),
            "#path" => self.path = Some(rest.trim().to_string()).filter(|p| !p.is_empty()),
            _ => {}
        }
    }

    fn record(&self, l: &str) -> Result<Value> {
        if self.fields.is_empty() {
            return Err(decode_err("zeek", self.line, "record before #fields"));
        }
        let mut obj = Map::new();
        if let Some(p) = &self.path {
            obj.insert("_path".into(), Value::String(p.clone()));
        }
        for (i, raw) in l.split(self.sep.as_str()).enumerate() {
            let Some(name) = self.fields.get(i) else {
                return Err(decode_err("zeek", self.line, "more values than #fields"));
            };
            if raw == self.unset {
                continue;
            }
            let ty = self.types.get(i).map(String::as_str).unwrap_or("string");
            obj.insert(name.clone(), self.typed(raw, ty));
        }
        Ok(Value::Object(obj))
    }

    fn typed(&self, raw: &str, ty: &str) -> Value {
        if let Some(inner) = ty
            .strip_prefix("set[")
            .or_else(|| ty.strip_prefix("vector["))
            .and_then(|t| t.strip_suffix(']'))
        {
            if raw == self.empty {
                return Value::Array(Vec::new());
            }
            return Value::Array(
                raw.split(self.set_sep.as_str())
                    .map(|x| self.typed(x, inner))
                    .collect(),
            );
        }
        if raw == self.empty && ty == "string" {
            return Value::String(String::new());
        }
        let num = match ty {
            "count" | "int" | "port" => raw.parse::<i64>().ok().map(Value::from),
            "double" | "time" | "interval" => raw
                .parse::<f64>()
                .ok()
                .and_then(serde_json::Number::from_f64)
                .map(Value::Number),
            "bool" => match raw {
                "T" => Some(Value::Bool(true)),
                "F" => Some(Value::Bool(false)),
                _ => None,
            },
            _ => None,
        };
        num.unwrap_or_else(|| Value::String(raw.to_string()))
    }
}

/// `\x09` -> tab.
fn unescape_hex(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(p) = rest.find("\\x") {
        out.push_str(&rest[..p]);
        match rest
            .get(p + 2..p + 4)
            .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            Some(b) => {
                out.push(char::from(b));
                rest = &rest[p + 4..];
            }
            None => {
                out.push_str("\\x");
                rest = &rest[p + 2..];
            }
        }
    }
    out.push_str(rest);
    out
}

impl Iterator for ZeekTsv {
    type Item = Result<Record>;
    fn next(&mut self) -> Option<Result<Record>> {
        let mut buf = Vec::new();
        loop {
            buf.clear();
            match self.reader.read_until(b'\n', &mut buf) {
                Ok(0) => return None,
                Ok(_) => {}
                Err(e) => return Some(Err(decode_err("zeek", self.line + 1, e.to_string()))),
            }
            self.line += 1;
            let text = String::from_utf8_lossy(&buf);
            let l = text.trim_end_matches(['\n', '\r']);
            if l.is_empty() {
                continue;
            }
            if l.starts_with('#') {
                self.header(l);
                continue;
            }
            return Some(self.record(l).map(|event| Record {
                source: self.source.clone(),
                record: Some(self.line),
                event,
            }));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_values_like_the_json_writer() {
        let log = "#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n\
                   #fields\tts\tid.orig_h\tid.orig_p\tok\ttags\tnote\n\
                   #types\ttime\taddr\tport\tbool\tset[string]\tstring\n\
                   1588205199.824370\t10.0.1.6\t54243\tT\ta,b\t-\n";
        assert!(is_zeek_tsv(log.as_bytes()));
        let recs: Vec<_> = ZeekTsv::new(Box::new(log.as_bytes()), None).collect();
        assert_eq!(recs.len(), 1);
        let v = recs[0].as_ref().map(|r| r.event.clone()).expect("record");
        assert_eq!(
            v,
            serde_json::json!({"ts": 1588205199.82437, "id.orig_h": "10.0.1.6",
                "id.orig_p": 54243, "ok": true, "tags": ["a", "b"]})
        );
    }
}
