//! EVTX records as flat JSON lines, for the fast path ([`crate::Engine::run_evtx`]).
//!
//! The `evtx` crate renders a record as nested JSON (`{"Event":{"System":{..},
//! "EventData":{..}}}`); the lazy line scanner ([`crate::flat::FlatEvent`]) reads only
//! top-level members. [`flatten`] turns the rendered bytes into one flat line without parsing
//! them into a `serde_json::Value`: values are copied as they are, only their place changes.
//! The line answers every rule field as the nested shape (`windows_nested` in
//! `mappings/windows.yml`) does:
//!
//! * `System` members come first, so `EventData` and `UserData` members of the same name win,
//!   as the nested shape's prefixes `Event.EventData.`, `Event.UserData.*.`, `Event.System.`
//!   say; the members the nested shape maps explicitly (`EventID`, `Channel`, `Computer`,
//!   ...) come last again, so they win over event data of the same name, as there.
//! * An element with attributes and text (`EventID` with `Qualifiers`) becomes its text, as
//!   [`crate::event::json_field`] reads it; one with attributes only becomes one member per
//!   attribute, named `Element_Attribute` as the flat shape names them (`Provider_Name`,
//!   `Provider_Guid`, `TimeCreated_SystemTime`, `Execution_ProcessID`, `Security_UserID`).
//! * `UserData` is one element (`LogFileCleared`, ...) whose members are looked up as
//!   `Event.UserData.*.Name`: they are copied, the first element's last so it wins.
//! * `EventData` members are copied; a key with spaces (`Threat Name`, Defender) is also
//!   copied without them, which the nested shape finds through `loose`.
//!
//! Left out: `xmlns` attributes (of `Event` and of a `UserData` element), which only a
//! keyword search could have found.

/// The `System` members the nested shape maps explicitly (see `mappings/windows.yml`): they
/// are written last, so event data of the same name does not hide them.
const MAPPED: &[&[u8]] = &[
    b"EventID",
    b"Channel",
    b"Computer",
    b"EventRecordID",
    b"Level",
    b"Task",
    b"Keywords",
    b"Provider",
    b"Security",
];

/// Appends the flat line of the nested record `json` to `out` (no line break). False (and
/// `out` as it was) when `json` is not a rendered event object.
pub(crate) fn flatten(json: &[u8], out: &mut Vec<u8>) -> bool {
    let start = out.len();
    let ok = flatten_into(json, out).is_some();
    if !ok {
        out.truncate(start);
    }
    ok
}

fn flatten_into(b: &[u8], out: &mut Vec<u8>) -> Option<()> {
    // one walk: the root's `Event` member, then the members of `System` and `EventData`
    // collected as their ends are found (a value is not walked twice to find its end)
    let event = root_event(b)?;
    let (mut system, mut data, mut user) = (Vec::new(), Vec::new(), None);
    let mut j = skip_ws(b, event + 1);
    if b.get(j) != Some(&b'}') {
        loop {
            let (k, v) = member_head(b, j)?;
            let end = match (&b[k.0..k.1], b.get(v)) {
                (b"System", Some(b'{')) => object(b, v, &mut system)?,
                (b"EventData", Some(b'{')) => object(b, v, &mut data)?,
                (key, _) => {
                    let e = value_end(b, v)?;
                    if key == b"UserData" && b[v] == b'{' {
                        user = Some(v);
                    }
                    e
                }
            };
            j = skip_ws(b, end);
            match b.get(j) {
                Some(b',') => j = skip_ws(b, j + 1),
                Some(b'}') => break,
                _ => return None,
            }
        }
    }
    let mut w = Writer {
        b,
        out,
        first: true,
    };
    w.out.push(b'{');
    w.system(&system, false)?;
    if let Some(u) = user {
        let elements = members(b, u)?;
        for el in elements.iter().rev().filter(|m| b[m.value.0] == b'{') {
            for m in members(b, el.value.0)? {
                if key(b, &m) != b"#attributes" {
                    w.copy(&m);
                }
            }
        }
    }
    for m in &data {
        w.copy(m);
        let k = key(b, m);
        if k.contains(&b' ') {
            let tight: Vec<u8> = k.iter().copied().filter(|&c| c != b' ').collect();
            w.member(&[&tight], m.value);
        }
    }
    w.system(&system, true)?;
    w.out.push(b'}');
    Some(())
}

/// Where the value of the root object's `Event` member starts (an object).
fn root_event(b: &[u8]) -> Option<usize> {
    let i = skip_ws(b, 0);
    if b.get(i) != Some(&b'{') {
        return None;
    }
    let mut j = skip_ws(b, i + 1);
    loop {
        let (k, v) = member_head(b, j)?;
        if &b[k.0..k.1] == b"Event" {
            return (b.get(v) == Some(&b'{')).then_some(v);
        }
        j = skip_ws(b, value_end(b, v)?);
        if b.get(j) != Some(&b',') {
            return None;
        }
        j = skip_ws(b, j + 1);
    }
}

/// The key (between its quotes) of the member starting at `j`, and where its value starts.
fn member_head(b: &[u8], j: usize) -> Option<((usize, usize), usize)> {
    if b.get(j) != Some(&b'"') {
        return None;
    }
    let ke = string_end(b, j)?;
    let v = skip_ws(b, ke);
    if b.get(v) != Some(&b':') {
        return None;
    }
    Some(((j + 1, ke - 1), skip_ws(b, v + 1)))
}

/// Appends the members of the object starting at `i` to `out`; returns the index after it.
fn object(b: &[u8], i: usize, out: &mut Vec<Member>) -> Option<usize> {
    if b.get(i) != Some(&b'{') {
        return None;
    }
    let mut j = skip_ws(b, i + 1);
    if b.get(j) == Some(&b'}') {
        return Some(j + 1);
    }
    loop {
        let (k, v) = member_head(b, j)?;
        let ve = value_end(b, v)?;
        out.push(Member {
            key: k,
            value: (v, ve),
        });
        j = skip_ws(b, ve);
        match b.get(j) {
            Some(b',') => j = skip_ws(b, j + 1),
            Some(b'}') => return Some(j + 1),
            _ => return None,
        }
    }
}

/// The members of the object starting at `i`.
fn members(b: &[u8], i: usize) -> Option<Vec<Member>> {
    let mut out = Vec::new();
    object(b, i, &mut out)?;
    Some(out)
}

/// One member of an object: the key's bytes between its quotes and the value's range.
struct Member {
    key: (usize, usize),
    value: (usize, usize),
}

fn key<'b>(b: &'b [u8], m: &Member) -> &'b [u8] {
    &b[m.key.0..m.key.1]
}

struct Writer<'a> {
    b: &'a [u8],
    out: &'a mut Vec<u8>,
    first: bool,
}

impl Writer<'_> {
    /// Writes `"key":value` with the key made of `parts` joined by `_`.
    fn member(&mut self, parts: &[&[u8]], value: (usize, usize)) {
        if !self.first {
            self.out.push(b',');
        }
        self.first = false;
        self.out.push(b'"');
        for (i, p) in parts.iter().enumerate() {
            if i > 0 {
                self.out.push(b'_');
            }
            self.out.extend_from_slice(p);
        }
        self.out.extend_from_slice(b"\":");
        self.out.extend_from_slice(&self.b[value.0..value.1]);
    }

    fn copy(&mut self, m: &Member) {
        let b = self.b;
        self.member(&[key(b, m)], m.value);
    }

    /// The members of `System` that the nested shape maps explicitly (`mapped`) or the others.
    fn system(&mut self, system: &[Member], mapped: bool) -> Option<()> {
        let b = self.b;
        for m in system {
            let k = key(b, m);
            if MAPPED.contains(&k) != mapped {
                continue;
            }
            if b[m.value.0] != b'{' {
                self.copy(m);
                continue;
            }
            let inner = members(b, m.value.0)?;
            if let Some(t) = inner.iter().find(|i| key(b, i) == b"#text") {
                self.member(&[k], t.value);
            } else if let Some(a) = inner.iter().find(|i| key(b, i) == b"#attributes") {
                if b[a.value.0] == b'{' {
                    for at in members(b, a.value.0)? {
                        self.member(&[k, key(b, &at)], at.value);
                    }
                }
            } else {
                self.copy(m);
            }
        }
        Some(())
    }
}

fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while b.get(i).is_some_and(u8::is_ascii_whitespace) {
        i += 1;
    }
    i
}

/// The index after the string whose opening quote is at `i`.
fn string_end(b: &[u8], i: usize) -> Option<usize> {
    let mut j = i + 1;
    loop {
        j += memchr::memchr2(b'"', b'\\', b.get(j..)?)?;
        if b[j] == b'\\' {
            j += 2;
        } else {
            return Some(j + 1);
        }
    }
}

/// The index after the value starting at `i`.
fn value_end(b: &[u8], i: usize) -> Option<usize> {
    match b.get(i)? {
        b'"' => string_end(b, i),
        b'{' | b'[' => {
            let mut depth = 0usize;
            let mut j = i;
            while let Some(&c) = b.get(j) {
                match c {
                    b'"' => {
                        j = string_end(b, j)?;
                        continue;
                    }
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth -= 1;
                        if depth == 0 {
                            return Some(j + 1);
                        }
                    }
                    _ => {}
                }
                j += 1;
            }
            None
        }
        _ => {
            let rest = b.get(i..)?;
            let n = rest
                .iter()
                .position(|c| matches!(c, b',' | b'}' | b']') || c.is_ascii_whitespace())
                .unwrap_or(rest.len());
            Some(i + n)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn flat(v: &Value) -> Value {
        let mut out = Vec::new();
        assert!(flatten(v.to_string().as_bytes(), &mut out));
        serde_json::from_slice(&out).expect("valid JSON")
    }

    #[test]
    fn system_attributes_and_event_data_become_top_level_members() {
        let v = json!({"Event": {"#attributes": {"xmlns": "x"}, "System": {
            "Provider": {"#attributes": {"Name": "Microsoft-Windows-Sysmon", "Guid": "{5770}"}},
            "EventID": {"#attributes": {"Qualifiers": 16384}, "#text": 7036},
            "TimeCreated": {"#attributes": {"SystemTime": "2019-05-14T12:00:00Z"}},
            "Channel": "Microsoft-Windows-Sysmon/Operational", "Computer": "WS1",
            "Security": null, "Opcode": 0},
            "EventData": {"Image": "C:\\a \"b\".exe", "Threat Name": "E", "Data": ["1", {"x": [1, "]"]}],
                "Computer": "from data"}}});
        let f = flat(&v);
        assert_eq!(f["Provider_Name"], "Microsoft-Windows-Sysmon");
        assert_eq!(f["Provider_Guid"], "{5770}");
        assert_eq!(f["EventID"], 7036);
        assert_eq!(f["TimeCreated_SystemTime"], "2019-05-14T12:00:00Z");
        assert_eq!(f["Image"], "C:\\a \"b\".exe");
        assert_eq!(f["ThreatName"], "E");
        assert_eq!(f["Threat Name"], "E");
        assert_eq!(f["Data"], json!(["1", {"x": [1, "]"]}]));
        assert_eq!(f["Opcode"], 0);
        assert_eq!(f["Security"], Value::Null);
        assert!(f.get("xmlns").is_none());
        // the mapped System member is written last: it wins over event data (serde keeps the
        // last of two equal keys, as the line scanner does)
        assert_eq!(f["Computer"], "WS1");
    }

    #[test]
    fn user_data_members_and_precedence() {
        let v = json!({"Event": {"System": {"Channel": "Security", "Opcode": 1, "Version": 2},
            "UserData": {"LogFileCleared": {"#attributes": {"xmlns": "y"},
                "SubjectUserName": "bob", "Version": 9}}}});
        let f = flat(&v);
        assert_eq!(f["SubjectUserName"], "bob");
        // UserData before System, as the nested shape's prefixes say
        assert_eq!(f["Version"], 9);
        assert_eq!(f["Opcode"], 1);
        assert!(f.get("#attributes").is_none());
    }

    #[test]
    fn not_an_event_is_refused_and_leaves_the_buffer() {
        let mut out = b"keep".to_vec();
        for bad in [
            &b"[1]"[..],
            b"{\"x\":1}",
            b"{\"Event\":",
            b"{\"Event\":{\"System\":{\"a\":\"b",
        ] {
            assert!(!flatten(bad, &mut out), "{}", String::from_utf8_lossy(bad));
            assert_eq!(out, b"keep");
        }
    }
}
