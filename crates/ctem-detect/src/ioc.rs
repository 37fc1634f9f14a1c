//! IOC matching: every string value of an event against the active indicators.
//!
//! [`IocMatcher`] is built once from indicators (IPs, CIDR networks, domains, URLs, e-mail
//! addresses, file hashes, file names); expired (`valid_until` before `now`) and revoked ones
//! are dropped then and never match. Lookups are set lookups, not scans over indicators:
//! each string value is cut into tokens (on whitespace, quotes, brackets, `,;=|<>`), and each
//! token is tried as an IP (also `ip:port` and `[v6]:port`), an e-mail address, a hex hash, a
//! domain with every parent domain (`a.b.evil.com` hits `evil.com`), the host of a URL, and a
//! file name (the last path segment). CIDR networks are hashed per prefix length, so an IP
//! costs one lookup per distinct length. URLs are found anywhere in a value by one
//! Aho-Corasick automaton. A hit is an [`Alert`] with rule id `ioc:<type>:<value>`, a title
//! naming the indicator and its source, a level from its confidence and its labels as tags.

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;

use aho_corasick::AhoCorasick;
use chrono::{DateTime, Utc};
use ctem_model::intel::{Indicator, IndicatorType};
use serde_json::Value;

use crate::engine::{Alert, Detector, Record};

/// Indicator indexes per looked-up key.
type Index<K> = HashMap<K, Vec<usize>>;

/// Matches events against a set of indicators (see the module docs).
#[derive(Debug, Default)]
pub struct IocMatcher {
    indicators: Vec<Indicator>,
    ips: Index<IpAddr>,
    /// prefix length -> network (masked) -> indicators
    nets_v4: Vec<(u8, Index<u32>)>,
    nets_v6: Vec<(u8, Index<u128>)>,
    domains: Index<String>,
    emails: Index<String>,
    hashes: Index<String>,
    filenames: Index<String>,
    urls: Option<(AhoCorasick, Vec<usize>)>,
}

fn mask4(ip: u32, bits: u8) -> u32 {
    if bits == 0 {
        0
    } else {
        ip & (u32::MAX << (32 - u32::from(bits)))
    }
}

fn mask6(ip: u128, bits: u8) -> u128 {
    if bits == 0 {
        0
    } else {
        ip & (u128::MAX << (128 - u32::from(bits)))
    }
}

/// A URL without scheme case differences and without a trailing slash.
fn norm_url(u: &str) -> String {
    u.trim().trim_end_matches('/').to_ascii_lowercase()
}

impl IocMatcher {
    /// Indexes the indicators active at `now`. Patterns (STIX expressions) are skipped.
    pub fn new(indicators: &[Indicator], now: DateTime<Utc>) -> Self {
        let mut m = IocMatcher::default();
        let mut url_pats = Vec::new();
        let mut url_ids = Vec::new();
        for ind in indicators {
            if ind.revoked || ind.valid_until.is_some_and(|t| t < now) {
                continue;
            }
            let i = m.indicators.len();
            let v = ind.value.trim();
            let lower = v.to_ascii_lowercase();
            let ok = match ind.kind {
                IndicatorType::Ipv4 | IndicatorType::Ipv6 => match v.parse::<IpAddr>() {
                    Ok(ip) => {
                        m.ips.entry(ip).or_default().push(i);
                        true
                    }
                    Err(_) => false,
                },
                IndicatorType::Cidr => m.add_cidr(v, i),
                IndicatorType::Domain => {
                    m.domains
                        .entry(lower.trim_end_matches('.').to_string())
                        .or_default()
                        .push(i);
                    true
                }
                IndicatorType::Url => {
                    let u = norm_url(v);
                    let ok = !u.is_empty();
                    if ok {
                        url_pats.push(u);
                        url_ids.push(i);
                    }
                    ok
                }
                IndicatorType::Email => {
                    m.emails.entry(lower).or_default().push(i);
                    true
                }
                IndicatorType::Md5
                | IndicatorType::Sha1
                | IndicatorType::Sha256
                | IndicatorType::Sha512 => {
                    m.hashes.entry(lower).or_default().push(i);
                    true
                }
                IndicatorType::Filename => {
                    m.filenames.entry(lower).or_default().push(i);
                    true
                }
                IndicatorType::Pattern => false,
            };
            if ok {
                m.indicators.push(ind.clone());
            }
        }
        if !url_pats.is_empty() {
            m.urls = AhoCorasick::builder()
                .ascii_case_insensitive(true)
                .build(&url_pats)
                .ok()
                .map(|ac| (ac, url_ids));
        }
        m
    }

    fn add_cidr(&mut self, v: &str, i: usize) -> bool {
        let Some((ip, bits)) = crate::value::parse_cidr(v) else {
            return false;
        };
        match ip {
            IpAddr::V4(a) => {
                let pos = match self.nets_v4.iter().position(|(b, _)| *b == bits) {
                    Some(p) => p,
                    None => {
                        self.nets_v4.push((bits, HashMap::new()));
                        self.nets_v4.len() - 1
                    }
                };
                self.nets_v4[pos]
                    .1
                    .entry(mask4(u32::from(a), bits))
                    .or_default()
                    .push(i);
            }
            IpAddr::V6(a) => {
                let pos = match self.nets_v6.iter().position(|(b, _)| *b == bits) {
                    Some(p) => p,
                    None => {
                        self.nets_v6.push((bits, HashMap::new()));
                        self.nets_v6.len() - 1
                    }
                };
                self.nets_v6[pos]
                    .1
                    .entry(mask6(u128::from(a), bits))
                    .or_default()
                    .push(i);
            }
        }
        true
    }

    /// Number of active indicators indexed.
    pub fn len(&self) -> usize {
        self.indicators.len()
    }

    /// True when no indicator is active.
    pub fn is_empty(&self) -> bool {
        self.indicators.is_empty()
    }

    /// The indicators (indexes into [`IocMatcher::indicators`]) any string of `event` hits,
    /// sorted and without duplicates.
    pub fn matches(&self, event: &Value) -> Vec<usize> {
        let mut hits = HashSet::new();
        if !self.is_empty() {
            walk_strings(event, &mut |s| self.match_str(s, &mut hits));
        }
        let mut v: Vec<usize> = hits.into_iter().collect();
        v.sort_unstable();
        v
    }

    /// The active indicators.
    pub fn indicators(&self) -> &[Indicator] {
        &self.indicators
    }

    fn match_str(&self, s: &str, hits: &mut HashSet<usize>) {
        if let Some((ac, ids)) = &self.urls {
            for m in ac.find_overlapping_iter(s) {
                // the URL must end where the value's URL ends (or at its query / fragment)
                let end_ok = s[m.end()..]
                    .chars()
                    .next()
                    .is_none_or(|c| c.is_whitespace() || "/?#\"'<>,;".contains(c));
                if end_ok {
                    hits.insert(ids[m.pattern().as_usize()]);
                }
            }
        }
        let sep = |c: char| {
            matches!(
                c,
                '"' | '\'' | '(' | ')' | '[' | ']' | '{' | '}' | '<' | '>' | ',' | ';' | '=' | '|'
            ) || c.is_whitespace()
        };
        for tok in s.split(sep) {
            if !tok.is_empty() {
                self.match_token(tok, hits);
            }
        }
        // the whole value may be an IPv6 with brackets or a name with spaces
        if s.contains(['[', ' ']) {
            self.match_token(s.trim(), hits);
        }
    }

    fn match_token(&self, tok: &str, hits: &mut HashSet<usize>) {
        let tok = tok.trim_matches(|c: char| c == '.' || c == ':' || c == '/' || c == '\\');
        if tok.is_empty() {
            return;
        }
        let mut add = |v: Option<&Vec<usize>>| {
            if let Some(v) = v {
                hits.extend(v.iter().copied());
            }
        };
        // an IP (with a port) holds nothing but these, and `parse_ip` reads a bracketed one
        // up to its bracket: skip the parser for any other token
        let ip_like = tok.starts_with('[')
            || tok
                .bytes()
                .all(|b| b.is_ascii_hexdigit() || matches!(b, b'.' | b':'));
        if ip_like && let Some(ip) = parse_ip(tok) {
            self.match_ip(ip, &mut add);
            return;
        }
        let lower: std::borrow::Cow<'_, str> = if tok.bytes().any(|b| b.is_ascii_uppercase()) {
            tok.to_ascii_lowercase().into()
        } else {
            tok.into()
        };
        let lower = lower.as_ref();
        if lower.contains('@') {
            let addr = lower.strip_prefix("mailto:").unwrap_or(lower);
            add(self.emails.get(addr));
            if let Some((_, dom)) = addr.rsplit_once('@') {
                self.match_domain(dom, &mut add);
            }
            return;
        }
        if matches!(lower.len(), 32 | 40 | 64 | 128) && lower.bytes().all(|b| b.is_ascii_hexdigit())
        {
            add(self.hashes.get(lower));
            return;
        }
        if let Some((_, rest)) = lower.split_once("://") {
            // URL: its host
            let host = rest.split(['/', '?', '#']).next().unwrap_or("");
            let host = host.rsplit_once('@').map_or(host, |(_, h)| h);
            if let Some(ip) = parse_ip(host) {
                self.match_ip(ip, &mut add);
            } else {
                let h = host.split(':').next().unwrap_or(host);
                self.match_domain(h, &mut add);
            }
            return;
        }
        if !self.filenames.is_empty() {
            let base = lower.rsplit(['/', '\\']).next().unwrap_or(lower);
            add(self.filenames.get(base));
        }
        if lower.contains('.') {
            let host = lower.split(['/', '\\']).next().unwrap_or(lower);
            let host = host.split(':').next().unwrap_or(host);
            self.match_domain(host, &mut add);
        }
    }

    fn match_ip(&self, ip: IpAddr, add: &mut dyn FnMut(Option<&Vec<usize>>)) {
        add(self.ips.get(&ip));
        match ip {
            IpAddr::V4(a) => {
                for (bits, nets) in &self.nets_v4 {
                    add(nets.get(&mask4(u32::from(a), *bits)));
                }
            }
            IpAddr::V6(a) => {
                for (bits, nets) in &self.nets_v6 {
                    add(nets.get(&mask6(u128::from(a), *bits)));
                }
            }
        }
    }

    /// A domain and each of its parents (labels dropped from the left).
    fn match_domain(&self, host: &str, add: &mut dyn FnMut(Option<&Vec<usize>>)) {
        if self.domains.is_empty() {
            return;
        }
        let mut d = host.trim_end_matches('.');
        loop {
            add(self.domains.get(d));
            match d.split_once('.') {
                Some((_, rest)) if !rest.is_empty() => d = rest,
                _ => break,
            }
        }
    }

    /// The alert for indicator `i` hit by `rec`.
    pub fn alert(&self, i: usize, rec: &Record) -> Alert {
        let ind = &self.indicators[i];
        let level = match ind.confidence {
            Some(c) if c >= 80 => "high",
            Some(c) if c >= 50 => "medium",
            Some(_) => "low",
            None => "medium",
        };
        Alert {
            rule_id: format!("ioc:{}:{}", ind.kind.as_str(), ind.value),
            title: format!(
                "IOC match: {} {} (source: {})",
                ind.kind.as_str(),
                ind.value,
                ind.source
            ),
            level: level.to_string(),
            kind: Default::default(),
            tags: ind.labels.clone(),
            timestamp: event_time(&rec.event),
            source: rec.source.clone(),
            record: rec.record,
            event: rec.event.clone(),
        }
    }
}

impl Detector for IocMatcher {
    fn name(&self) -> &str {
        "ioc"
    }
    fn detect(&self, record: &Record, out: &mut Vec<Alert>) {
        for i in self.matches(&record.event) {
            out.push(self.alert(i, record));
        }
    }
}

/// An IP, also written `ip:port`, `[v6]` or `[v6]:port`.
fn parse_ip(tok: &str) -> Option<IpAddr> {
    if let Ok(ip) = tok.parse::<IpAddr>() {
        return Some(ip);
    }
    if let Some(rest) = tok.strip_prefix('[') {
        return rest.split(']').next()?.parse().ok();
    }
    let (host, port) = tok.rsplit_once(':')?;
    if port.bytes().all(|b| b.is_ascii_digit()) && host.contains('.') {
        return host.parse::<std::net::Ipv4Addr>().ok().map(IpAddr::V4);
    }
    None
}

/// The event time of common log shapes (Suricata, Zeek, Sysmon, ECS).
fn event_time(ev: &Value) -> Option<String> {
    for k in [
        "timestamp",
        "@timestamp",
        "ts",
        "UtcTime",
        "TimeCreated_SystemTime",
    ] {
        match ev.get(k) {
            Some(Value::String(s)) => return Some(s.clone()),
            Some(Value::Number(n)) => {
                let secs = n.as_f64()?;
                return DateTime::from_timestamp(secs.trunc() as i64, 0).map(|d| d.to_rfc3339());
            }
            _ => {}
        }
    }
    None
}

fn walk_strings(v: &Value, f: &mut dyn FnMut(&str)) {
    match v {
        Value::String(s) => f(s),
        Value::Array(a) => a.iter().for_each(|x| walk_strings(x, f)),
        Value::Object(o) => o.values().for_each(|x| walk_strings(x, f)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ind(kind: IndicatorType, v: &str) -> Indicator {
        Indicator::new(kind, v, "unit")
    }

    #[test]
    fn each_type_matches_and_expired_or_revoked_never_do() {
        let now = Utc::now();
        let mut expired = ind(IndicatorType::Domain, "old.example");
        expired.valid_until = Some(now - chrono::Duration::days(1));
        let mut revoked = ind(IndicatorType::Ipv4, "10.9.9.9");
        revoked.revoked = true;
        let m = IocMatcher::new(
            &[
                ind(IndicatorType::Ipv4, "192.0.2.1"),
                ind(IndicatorType::Cidr, "198.51.100.0/24"),
                ind(IndicatorType::Ipv6, "2001:db8::1"),
                ind(IndicatorType::Domain, "evil.example"),
                ind(IndicatorType::Url, "http://bad.example/x.php"),
                ind(IndicatorType::Email, "bob@phish.example"),
                ind(IndicatorType::Sha256, &"ab".repeat(32)),
                ind(IndicatorType::Filename, "mimikatz.exe"),
                expired,
                revoked,
            ],
            now,
        );
        assert_eq!(m.len(), 8);
        let hit = |v: Value| m.matches(&v);
        assert_eq!(hit(json!({"dest_ip": "192.0.2.1"})), vec![0]);
        assert_eq!(hit(json!({"a": "conn to 198.51.100.77:443"})), vec![1]);
        assert_eq!(hit(json!({"a": "[2001:db8::1]:53"})), vec![2]);
        assert_eq!(hit(json!({"query": "a.b.EVIL.example."})), vec![3]);
        assert_eq!(
            hit(json!({"u": "GET http://bad.example/x.php?id=1"})),
            vec![4]
        );
        assert_eq!(
            hit(json!({"u": "http://bad.example/x.php2"})),
            Vec::<usize>::new()
        );
        assert_eq!(hit(json!({"from": "Bob <BOB@phish.example>"})), vec![5]);
        let hashes = format!("MD5=00,SHA256={}", "AB".repeat(32));
        assert_eq!(hit(json!({"Hashes": hashes})), vec![6]);
        assert_eq!(hit(json!({"Image": "C:\\Temp\\Mimikatz.exe"})), vec![7]);
        assert_eq!(
            hit(json!({"q": "old.example", "ip": "10.9.9.9"})),
            Vec::<usize>::new()
        );
        assert_eq!(hit(json!({"x": "notevil.example"})), Vec::<usize>::new());
    }

    #[test]
    fn alert_names_indicator_and_source() {
        let mut i = ind(IndicatorType::Domain, "evil.example");
        i.confidence = Some(90);
        i.labels = vec!["malicious-activity".into()];
        let m = IocMatcher::new(&[i], Utc::now());
        let rec = Record {
            source: Some("dns.log".into()),
            record: Some(3),
            event: json!({"ts": 1_600_000_000.5, "query": "www.evil.example"}),
        };
        let mut out = Vec::new();
        m.detect(&rec, &mut out);
        assert_eq!(out.len(), 1);
        let a = &out[0];
        assert_eq!(a.rule_id, "ioc:domain:evil.example");
        assert!(a.title.contains("evil.example") && a.title.contains("unit"));
        assert_eq!(a.level, "high");
        assert_eq!(a.tags, vec!["malicious-activity".to_string()]);
        assert_eq!(a.timestamp.as_deref(), Some("2020-09-13T12:26:40+00:00"));
        assert_eq!(a.record, Some(3));
    }
}
