//! Plain IOC lists: one value a line, or CSV whose cells are classified one by one.
//!
//! Every value goes through [`classify`], which refangs the usual defanged spellings
//! (`hxxp://`, `example[.]com`, `user[@]example.com`) and then decides the type: URL (has a
//! scheme), e-mail, IPv4, IPv6, CIDR, MD5/SHA-1/SHA-256/SHA-512 (hex of that length), domain
//! (letters, digits and hyphens, at least two labels, an alphabetic TLD). File names are only
//! taken from a CSV column whose header says so (`filename`, `file_name`, `fileName`): a bare
//! `setup.exe` would otherwise pass for a domain. Lines starting with `#` or `//` are comments.

use crate::error::Result;
use crate::util::{Issue, Parsed, maybe_gunzip, text};
use ctem_model::intel::{Indicator, IndicatorType};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

const FORMAT: &str = "iocs";

/// Undoes the common defanging conventions.
pub fn refang(s: &str) -> String {
    let mut out = s.trim().to_string();
    for (from, to) in [
        ("[.]", "."),
        ("(.)", "."),
        ("{.}", "."),
        ("[dot]", "."),
        ("(dot)", "."),
        ("[@]", "@"),
        ("(@)", "@"),
        ("[at]", "@"),
        ("[:]", ":"),
        ("[://]", "://"),
        ("[/]", "/"),
    ] {
        if out.contains(from) {
            out = out.replace(from, to);
        }
    }
    let lower = out.to_ascii_lowercase();
    for (from, to) in [
        ("hxxps", "https"),
        ("hxxp", "http"),
        ("fxp", "ftp"),
        ("meows", "https"),
    ] {
        if lower.starts_with(from) && lower[from.len()..].starts_with("://") {
            out = format!("{to}{}", &out[from.len()..]);
            break;
        }
    }
    out
}

/// The type of a single value and its normalised form, or `None` when it is none of the
/// recognised kinds.
pub fn classify(raw: &str) -> Option<(IndicatorType, String)> {
    let v = refang(raw);
    let v = v.trim_matches(|c: char| c == '"' || c == '\'' || c.is_whitespace());
    if v.is_empty() || v.len() > 8192 {
        return None;
    }
    if let Some((scheme, rest)) = v.split_once("://") {
        let ok_scheme = !scheme.is_empty()
            && scheme.len() <= 16
            && scheme
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'-');
        if ok_scheme && !rest.is_empty() && !v.contains(char::is_whitespace) {
            return Some((IndicatorType::Url, v.to_string()));
        }
        return None;
    }
    if let Some((local, domain)) = v.rsplit_once('@') {
        return (is_email_local(local) && is_domain(domain)).then(|| {
            (
                IndicatorType::Email,
                format!("{local}@{}", domain.to_ascii_lowercase()),
            )
        });
    }
    if let Ok(ip) = v.parse::<Ipv4Addr>() {
        return Some((IndicatorType::Ipv4, ip.to_string()));
    }
    if let Ok(ip) = v.parse::<Ipv6Addr>() {
        return Some((IndicatorType::Ipv6, ip.to_string()));
    }
    if let Some(c) = cidr(v) {
        return Some((IndicatorType::Cidr, c));
    }
    if let Some(t) = hash_type(v) {
        return Some((t, v.to_ascii_lowercase()));
    }
    let d = v.trim_end_matches('.');
    is_domain(d).then(|| (IndicatorType::Domain, d.to_ascii_lowercase()))
}

/// The hash type for a hex string of 32, 40, 64 or 128 digits.
pub fn hash_type(v: &str) -> Option<IndicatorType> {
    if !v.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    match v.len() {
        32 => Some(IndicatorType::Md5),
        40 => Some(IndicatorType::Sha1),
        64 => Some(IndicatorType::Sha256),
        128 => Some(IndicatorType::Sha512),
        _ => None,
    }
}

/// `10.0.0.0/8` or `2001:db8::/32`, normalised; host bits may be set (kept as given).
pub fn cidr(v: &str) -> Option<String> {
    let (addr, len) = v.split_once('/')?;
    let len: u8 = len.parse().ok()?;
    match addr.parse::<IpAddr>().ok()? {
        IpAddr::V4(a) if len <= 32 => Some(format!("{a}/{len}")),
        IpAddr::V6(a) if len <= 128 => Some(format!("{a}/{len}")),
        _ => None,
    }
}

/// A DNS name of at least two labels with an alphabetic (or `xn--`) top-level label.
pub fn is_domain(v: &str) -> bool {
    if v.is_empty() || v.len() > 253 {
        return false;
    }
    let labels: Vec<&str> = v.split('.').collect();
    if labels.len() < 2 {
        return false;
    }
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.len() <= 63
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    };
    let tld = labels[labels.len() - 1];
    labels.iter().all(|l| label_ok(l))
        && tld.len() >= 2
        && (tld.bytes().all(|b| b.is_ascii_alphabetic())
            || tld.to_ascii_lowercase().starts_with("xn--"))
}

fn is_email_local(l: &str) -> bool {
    !l.is_empty()
        && l.len() <= 64
        && l.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+/=?^_`{|}~.-".contains(&b))
}

/// Whether a value is acceptable for an explicitly given type (used by MISP and STIX, whose
/// sources say the type). Returns the normalised value.
pub fn validate(kind: IndicatorType, raw: &str) -> Option<String> {
    let v = refang(raw);
    let v = v.trim();
    match kind {
        IndicatorType::Filename => {
            (!v.is_empty() && !v.contains(['\n', '\r'])).then(|| v.to_string())
        }
        IndicatorType::Pattern => Some(v.to_string()),
        IndicatorType::Ipv4 => match classify(v)? {
            (IndicatorType::Ipv4, n) => Some(n),
            (IndicatorType::Cidr, n) if n.contains('.') => Some(n),
            _ => None,
        },
        IndicatorType::Ipv6 => match classify(v)? {
            (IndicatorType::Ipv6, n) => Some(n),
            (IndicatorType::Cidr, n) if n.contains(':') => Some(n),
            _ => None,
        },
        want => classify(v).and_then(|(t, n)| (t == want).then_some(n)),
    }
}

/// Indicator type for an IP value, which is a CIDR when it has a prefix length.
pub fn ip_kind(value: &str) -> IndicatorType {
    if value.contains('/') {
        IndicatorType::Cidr
    } else if value.contains(':') {
        IndicatorType::Ipv6
    } else {
        IndicatorType::Ipv4
    }
}

/// Parses a plain or CSV IOC list. `source` is recorded on every indicator.
pub fn parse_iocs(bytes: &[u8], source: &str) -> Result<Parsed<Indicator>> {
    let bytes = maybe_gunzip(bytes)?;
    let body = text(FORMAT, &bytes)?;
    let mut out = Parsed::default();
    let mut seen = std::collections::HashSet::new();
    let mut columns: Option<Vec<Column>> = None;
    let mut first = true;
    for (idx, raw) in body.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with("//") {
            continue;
        }
        let cells = split_csv(line);
        if first {
            first = false;
            if cells.len() > 1 || looks_like_header(&cells) {
                let cols: Vec<Column> = cells.iter().map(|c| Column::from_header(c)).collect();
                if cols.iter().any(|c| *c != Column::Auto)
                    || cells.iter().all(|c| classify(c).is_none())
                {
                    columns = Some(cols);
                    continue;
                }
            }
        }
        let mut found = false;
        for (i, cell) in cells.iter().enumerate() {
            let col = columns
                .as_ref()
                .and_then(|c| c.get(i))
                .copied()
                .unwrap_or(Column::Auto);
            let hit = match col {
                Column::Skip => None,
                Column::Filename => {
                    validate(IndicatorType::Filename, cell).map(|v| (IndicatorType::Filename, v))
                }
                Column::Auto => classify(cell),
            };
            if let Some((kind, value)) = hit {
                found = true;
                if seen.insert((kind, value.clone())) {
                    out.records.push(Indicator::new(kind, value, source));
                }
            }
        }
        if !found {
            let shown: String = line.chars().take(80).collect();
            out.issues.push(Issue::new(
                format!("line {}", idx + 1),
                format!("no indicator recognised in `{shown}`"),
            ));
        }
    }
    Ok(out)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Column {
    Auto,
    Filename,
    Skip,
}

impl Column {
    fn from_header(h: &str) -> Column {
        let h: String = h
            .chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .collect::<String>()
            .to_ascii_lowercase();
        match h.as_str() {
            "filename" | "file" | "name" => Column::Filename,
            "size" | "date" | "firstseen" | "lastseen" | "comment" | "description" | "tags"
            | "confidence" | "count" | "id" | "timestamp" => Column::Skip,
            _ => Column::Auto,
        }
    }
}

fn looks_like_header(cells: &[String]) -> bool {
    cells.iter().all(|c| classify(c).is_none())
        && cells.iter().any(|c| {
            c.chars()
                .all(|ch| ch.is_ascii_alphanumeric() || "_- ".contains(ch))
        })
}

/// Splits one CSV line (comma, semicolon or tab separated; double quotes with `""` escapes).
pub fn split_csv(line: &str) -> Vec<String> {
    let sep = if line.contains('\t') {
        '\t'
    } else if !line.contains(',') && line.contains(';') {
        ';'
    } else {
        ','
    };
    let mut cells = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted && chars.peek() == Some(&'"') => {
                cur.push('"');
                chars.next();
            }
            '"' => quoted = !quoted,
            c if c == sep && !quoted => cells.push(std::mem::take(&mut cur).trim().to_string()),
            c => cur.push(c),
        }
    }
    cells.push(cur.trim().to_string());
    cells
}

#[cfg(test)]
mod tests {
    use super::*;
    use IndicatorType as T;

    #[test]
    fn classifies_and_refangs() {
        assert_eq!(
            classify("hxxp://evil[.]com/a"),
            Some((T::Url, "http://evil.com/a".into()))
        );
        assert_eq!(
            classify("EVIL[.]Example[.]com"),
            Some((T::Domain, "evil.example.com".into()))
        );
        assert_eq!(
            classify("a.b[@]evil.com"),
            Some((T::Email, "a.b@evil.com".into()))
        );
        assert_eq!(classify("10.0.0.1"), Some((T::Ipv4, "10.0.0.1".into())));
        assert_eq!(
            classify("10[.]0[.]0[.]0/8"),
            Some((T::Cidr, "10.0.0.0/8".into()))
        );
        assert_eq!(
            classify("2001:DB8::1"),
            Some((T::Ipv6, "2001:db8::1".into()))
        );
        assert_eq!(
            classify("D41D8CD98F00B204E9800998ECF8427E").map(|x| x.0),
            Some(T::Md5)
        );
        assert_eq!(classify("not a thing"), None);
        assert_eq!(classify("1.2.3"), None);
        assert_eq!(classify("localhost"), None);
        assert_eq!(classify("10.0.0.0/33"), None);
    }

    #[test]
    fn csv_with_filename_column() {
        let p = parse_iocs(
            b"SHA1,fileName,size\n2a030cc6d84d5785f5e84d0f5888a411d4b06d01,soft.exe,45568\n",
            "t",
        )
        .expect("parses");
        let kinds: Vec<_> = p.records.iter().map(|i| i.kind).collect();
        assert_eq!(kinds, vec![T::Sha1, T::Filename]);
        assert!(p.issues.is_empty(), "{:?}", p.issues);
    }

    #[test]
    fn plain_list_reports_unknown_lines_and_dedups() {
        let p = parse_iocs(b"# c\nevil.com\nevil.com\n???\n", "t").expect("parses");
        assert_eq!(p.records.len(), 1);
        assert_eq!(p.issues.len(), 1);
        assert_eq!(p.issues[0].record, "line 4");
    }

    #[test]
    fn csv_quotes() {
        assert_eq!(split_csv(r#"a,"b,""c""",d"#), vec!["a", "b,\"c\"", "d"]);
    }
}
