//! Syslog (RFC 3164, RFC 5424, RFC 6587 octet counting) and CEF into JSON objects.
//!
//! Output fields: `format` (`rfc5424`, `rfc3164`, `cef`, `raw`), `facility`, `severity`,
//! `timestamp`, `hostname`, `app_name`, `procid`, `msgid`, `structured_data`
//! (`{sd-id: {param: value}}`), `message`, and for CEF a `cef` object with the header
//! (`vendor`, `product`, `version`, `signature_id`, `name`, `severity`) and every extension
//! key at its top level.

use serde_json::{Map, Value, json};

/// Parses one line; never fails (unparsed text lands in `message` with `format: raw`).
pub fn parse_syslog_line(line: &str) -> Value {
    let mut l = line.trim_end_matches(['\r', '\n']);
    // RFC 6587 octet counting: "LEN <PRI>..."
    if let Some((len, rest)) = l.split_once(' ')
        && !len.is_empty()
        && len.bytes().all(|b| b.is_ascii_digit())
        && rest.starts_with('<')
    {
        l = rest;
    }
    let mut obj = Map::new();
    let mut rest = l;
    if let Some(after) = l.strip_prefix('<')
        && let Some(end) = after.find('>')
        && let Ok(pri) = after[..end].parse::<u16>()
    {
        obj.insert("facility".into(), json!(pri / 8));
        obj.insert("severity".into(), json!(pri % 8));
        rest = &after[end + 1..];
    }
    if let Some(body) = rest.strip_prefix("1 ") {
        parse_5424(body, &mut obj);
    } else if !parse_3164(rest, &mut obj) {
        obj.insert("format".into(), json!("raw"));
        obj.insert("message".into(), json!(rest));
    }
    if let Some(i) = l.find("CEF:")
        && let Some(cef) = parse_cef(&l[i..])
    {
        obj.insert("format".into(), json!("cef"));
        obj.insert("cef".into(), cef);
    }
    Value::Object(obj)
}

fn next_token(s: &str) -> (&str, &str) {
    match s.split_once(' ') {
        Some((a, b)) => (a, b),
        None => (s, ""),
    }
}

fn nil(s: &str) -> Value {
    if s == "-" { Value::Null } else { json!(s) }
}

fn parse_5424(body: &str, obj: &mut Map<String, Value>) {
    obj.insert("format".into(), json!("rfc5424"));
    let (ts, r) = next_token(body);
    let (host, r) = next_token(r);
    let (app, r) = next_token(r);
    let (pid, r) = next_token(r);
    let (msgid, r) = next_token(r);
    obj.insert("timestamp".into(), nil(ts));
    obj.insert("hostname".into(), nil(host));
    obj.insert("app_name".into(), nil(app));
    obj.insert("procid".into(), nil(pid));
    obj.insert("msgid".into(), nil(msgid));
    let (sd, msg) = parse_sd(r);
    obj.insert("structured_data".into(), sd);
    obj.insert(
        "message".into(),
        json!(msg.strip_prefix('\u{feff}').unwrap_or(msg)),
    );
}

/// Structured data: `-` or `[id k="v" ...][...]`, with `\"`, `\\` and `\]` escapes.
fn parse_sd(s: &str) -> (Value, &str) {
    if let Some(r) = s.strip_prefix('-') {
        return (Value::Null, r.strip_prefix(' ').unwrap_or(r));
    }
    let mut out = Map::new();
    let b = s.as_bytes();
    let mut i = 0;
    while b.get(i) == Some(&b'[') {
        i += 1;
        let start = i;
        while i < b.len() && b[i] != b' ' && b[i] != b']' {
            i += 1;
        }
        let id = s[start..i].to_string();
        let mut params = Map::new();
        loop {
            while b.get(i) == Some(&b' ') {
                i += 1;
            }
            match b.get(i) {
                Some(b']') => {
                    i += 1;
                    break;
                }
                None => break,
                _ => {}
            }
            let ks = i;
            while i < b.len() && b[i] != b'=' && b[i] != b']' {
                i += 1;
            }
            let key = s[ks..i].to_string();
            if b.get(i) != Some(&b'=') || b.get(i + 1) != Some(&b'"') {
                break;
            }
            i += 2;
            let mut val = String::new();
            while i < b.len() && b[i] != b'"' {
                if b[i] == b'\\' && matches!(b.get(i + 1), Some(b'"' | b'\\' | b']')) {
                    i += 1;
                }
                let ch = s[i..].chars().next().unwrap_or(' ');
                val.push(ch);
                i += ch.len_utf8();
            }
            i += 1;
            params.insert(key, json!(val));
        }
        out.insert(id, Value::Object(params));
    }
    let rest = s.get(i..).unwrap_or_default();
    (Value::Object(out), rest.strip_prefix(' ').unwrap_or(rest))
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

fn parse_3164(s: &str, obj: &mut Map<String, Value>) -> bool {
    // "Mmm dd hh:mm:ss host tag[pid]: msg" (day may be space-padded)
    let Some(mon) = s.get(..3) else { return false };
    if !MONTHS.contains(&mon) {
        return false;
    }
    // `get` also refuses a cut inside a multi-byte character
    let Some(ts) = s.get(..15) else { return false };
    let ts_ok = ts.as_bytes().get(6) == Some(&b' ') && ts.as_bytes().get(9) == Some(&b':');
    if !ts_ok {
        return false;
    }
    obj.insert("format".into(), json!("rfc3164"));
    obj.insert("timestamp".into(), json!(ts));
    let rest = s[15..].trim_start();
    let (first, after) = next_token(rest);
    // with no hostname the first token is the tag (ends with ':')
    let (host, tagged) = if first.ends_with(':') {
        ("", rest)
    } else {
        (first, after)
    };
    if !host.is_empty() {
        obj.insert("hostname".into(), json!(host));
    }
    let (tag, msg) = match tagged.split_once(": ") {
        Some((t, m)) if !t.contains(' ') => (t, m),
        _ => ("", tagged),
    };
    if !tag.is_empty() {
        let (app, pid) = match tag.split_once('[') {
            Some((a, p)) => (a, Some(p.trim_end_matches(']'))),
            None => (tag, None),
        };
        obj.insert("app_name".into(), json!(app));
        if let Some(p) = pid {
            obj.insert("procid".into(), json!(p));
        }
    }
    obj.insert("message".into(), json!(msg));
    true
}

/// Parses `CEF:Version|Vendor|Product|Version|SignatureID|Name|Severity|Extension`.
pub fn parse_cef(s: &str) -> Option<Value> {
    let body = s.strip_prefix("CEF:")?;
    let mut fields = Vec::new();
    let mut cur = String::new();
    let mut chars = body.char_indices();
    let mut ext_start = None;
    while let Some((i, c)) = chars.next() {
        match c {
            '\\' => {
                if let Some((_, n)) = chars.next() {
                    cur.push(n);
                }
            }
            '|' => {
                fields.push(std::mem::take(&mut cur));
                if fields.len() == 7 {
                    ext_start = Some(i + 1);
                    break;
                }
            }
            c => cur.push(c),
        }
    }
    if fields.len() < 7 {
        return None;
    }
    let mut obj = Map::new();
    for (k, v) in [
        "cef_version",
        "vendor",
        "product",
        "version",
        "signature_id",
        "name",
        "severity",
    ]
    .iter()
    .zip(&fields)
    {
        obj.insert((*k).into(), json!(v));
    }
    if let Some(start) = ext_start {
        parse_cef_extension(&body[start..], &mut obj);
    }
    Some(Value::Object(obj))
}

/// `key=value key2=value with spaces` where a value ends where the next `key=` starts.
fn parse_cef_extension(s: &str, obj: &mut Map<String, Value>) {
    let b = s.as_bytes();
    // positions of "key=" starts: a word preceded by start or space, followed by unescaped '='
    let mut starts = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if (i == 0 || b[i - 1] == b' ') && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
            let mut j = i;
            while j < b.len()
                && (b[j].is_ascii_alphanumeric() || b[j] == b'_' || b[j] == b'.' || b[j] == b'-')
            {
                j += 1;
            }
            if b.get(j) == Some(&b'=') {
                starts.push((i, j));
                i = j + 1;
                continue;
            }
        }
        i += 1;
    }
    for (n, &(ks, ke)) in starts.iter().enumerate() {
        let vs = ke + 1;
        let ve = starts
            .get(n + 1)
            .map(|&(next, _)| next.saturating_sub(1))
            .unwrap_or(b.len());
        let raw = s.get(vs..ve.max(vs)).unwrap_or_default().trim_end();
        let v = raw
            .replace("\\=", "=")
            .replace("\\n", "\n")
            .replace("\\\\", "\\");
        obj.insert(s[ks..ke].to_string(), json!(v));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3164_multibyte_char_at_byte_15_is_not_a_panic() {
        // found by fuzz target detect_syslog: "Feb\r1" then U+FFFD across byte 15
        let line = "Feb\r1\u{fffd}\u{fffd}\u{fffd}\u{fffd}";
        let _ = parse_syslog_line(line);
        let _ = parse_syslog_line("Feb 1 10:00:0\u{e9}\u{e9} host x");
    }

    #[test]
    fn rfc5424_with_structured_data() {
        let v = parse_syslog_line(
            r#"<86>1 2015-08-05T21:58:59.693Z 192.168.2.132 SecureAuth0 23108 ID52020 [SecureAuth@27389 UserID="Tester2" PEN="27389"] Found the user"#,
        );
        assert_eq!(v["format"], "rfc5424");
        assert_eq!(v["facility"], 10);
        assert_eq!(v["severity"], 6);
        assert_eq!(v["app_name"], "SecureAuth0");
        assert_eq!(
            v["structured_data"]["SecureAuth@27389"]["UserID"],
            "Tester2"
        );
        assert_eq!(v["message"], "Found the user");
    }

    #[test]
    fn octet_counting_and_nil_values() {
        let v = parse_syslog_line(
            "77 <86>1 2015-08-05T21:58:59.693Z 192.168.2.132 inactive - - -  partition is p2",
        );
        assert_eq!(v["format"], "rfc5424");
        assert_eq!(v["procid"], Value::Null);
        assert_eq!(v["message"], " partition is p2");
    }

    #[test]
    fn rfc3164() {
        let v = parse_syslog_line("<34>Feb  4 11:14:27 1.2.3.4 apache_server: test message");
        assert_eq!(v["format"], "rfc3164");
        assert_eq!(v["hostname"], "1.2.3.4");
        assert_eq!(v["app_name"], "apache_server");
        assert_eq!(v["message"], "test message");
        let v = parse_syslog_line("May 11 12:29:16 localhost sshd[17582]: Invalid user paco");
        assert_eq!(v["procid"], "17582");
        assert_eq!(v["app_name"], "sshd");
    }

    #[test]
    fn cef_header_and_extension() {
        let v = parse_syslog_line(
            "CEF:0|Elastic|Vaporware|1.0.0-alpha|18|Web request|low|eventId=3457 requestMethod=POST src=1.128.3.4 msg=hello world",
        );
        assert_eq!(v["format"], "cef");
        assert_eq!(v["cef"]["vendor"], "Elastic");
        assert_eq!(v["cef"]["name"], "Web request");
        assert_eq!(v["cef"]["src"], "1.128.3.4");
        assert_eq!(v["cef"]["msg"], "hello world");
        assert!(parse_cef("CEF:0|only|three").is_none());
    }
}
